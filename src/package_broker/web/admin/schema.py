"""Typed models for the admin API: frozen dataclasses that validate JSON and describe themselves in JSON Schema.

One model definition serves the server and the Worker, for validation and for the OpenAPI document, so the
two cannot drift. Pydantic would do both on the server, but it does not load in the offline Pyodide harness
(its core is a compiled extension with no wasm wheel there), and the Worker must run the same code path; this
module is pure Python and small because the API's bodies are small.

A model is a frozen dataclass whose fields use: `str`, `int`, `float`, `bool`, `None`, `Literal[...]`,
`list[T]`, `dict[str, T]`, another model, unions with `None`, and `Unset` (a field the client may leave out:
PATCH bodies tell "absent" from `null`). Limits and documentation go in `Annotated` metadata:

    @dataclass(frozen=True, slots=True)
    class TokenCreate:
        description: Annotated[str, MaxLen(200), MinLen(1), Doc("who or what uses the token")]
        rate_limit: Annotated[int, Range(0, 1_000_000_000)] | None = None

Every string has a length limit (DEFAULT_MAX_LENGTH unless a field says otherwise), every list at most
DEFAULT_MAX_ITEMS items, and unknown keys are refused: hostile input is bounded before a handler sees it.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from ...errors import InvalidInput

#: Strings without an explicit MaxLen are cut off here (bytes of a body are capped before parsing anyway).
DEFAULT_MAX_LENGTH = 2000
#: Lists without an explicit MaxItems hold at most this many items.
DEFAULT_MAX_ITEMS = 200


class Unset(enum.Enum):
    """The type of a field the client left out (for PATCH bodies: absent means "leave as it is")."""

    UNSET = "unset"


UNSET = Unset.UNSET


@dataclass(frozen=True, slots=True)
class MaxLen:
    """At most this many characters (strings) or items (lists)."""

    value: int


@dataclass(frozen=True, slots=True)
class MinLen:
    """At least this many characters (strings) or items (lists)."""

    value: int


@dataclass(frozen=True, slots=True)
class Range:
    """An inclusive range for a number; None: unbounded on that side."""

    minimum: int | float | None = None
    maximum: int | float | None = None


@dataclass(frozen=True, slots=True)
class Pattern:
    """A regular expression the whole string must match (written so JSON Schema and Python agree)."""

    regex: str


@dataclass(frozen=True, slots=True)
class Doc:
    """The field's description in the OpenAPI document."""

    text: str


@dataclass(frozen=True, slots=True)
class Example:
    """An example value for the OpenAPI document."""

    value: Any


class ValidationFailed(InvalidInput):
    """A body, path or query parameter does not match its model; `problems` names each field and what is wrong."""

    status = 422

    def __init__(self, problems: list[dict[str, str]]) -> None:
        shown = "; ".join(f"{p['field']}: {p['message']}" for p in problems[:5])
        super().__init__(f"invalid request: {shown}")
        self.problems = problems


@dataclass(frozen=True, slots=True)
class _Limits:
    max_length: int | None = None
    min_length: int | None = None
    minimum: int | float | None = None
    maximum: int | float | None = None
    pattern: str | None = None
    doc: str | None = None
    example: Any = UNSET


def _split(tp: Any) -> tuple[Any, _Limits]:
    """The bare type of an `Annotated[...]` and the limits its metadata names."""
    if get_origin(tp) is not Annotated:
        return tp, _Limits()
    base, *meta = get_args(tp)
    values: dict[str, Any] = {}
    for item in meta:
        if isinstance(item, MaxLen):
            values["max_length"] = item.value
        elif isinstance(item, MinLen):
            values["min_length"] = item.value
        elif isinstance(item, Range):
            values["minimum"], values["maximum"] = item.minimum, item.maximum
        elif isinstance(item, Pattern):
            values["pattern"] = item.regex
        elif isinstance(item, Doc):
            values["doc"] = item.text
        elif isinstance(item, Example):
            values["example"] = item.value
    return base, _Limits(**values)


def _union_members(tp: Any) -> tuple[Any, ...] | None:
    origin = get_origin(tp)
    if origin is Union or origin is types.UnionType:
        return get_args(tp)
    return None


_HINTS: dict[type, dict[str, Any]] = {}


def hints(model: type) -> dict[str, Any]:
    """The resolved type hints of a model's fields (cached: resolving string annotations costs)."""
    found = _HINTS.get(model)
    if found is None:
        found = typing.get_type_hints(model, include_extras=True)
        found = {f.name: found[f.name] for f in dataclasses.fields(model)}
        _HINTS[model] = found
    return found


def is_model(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


# -- validation ---------------------------------------------------------------------------------------------


def validate(model: Any, data: Any, where: str = "body") -> Any:
    """Return `data` (parsed JSON) as an instance of `model` (a model class or a type such as `list[Model]`).

    Raises:
        ValidationFailed: with every problem found (up to a few dozen), each naming its field.
    """
    problems: list[dict[str, str]] = []
    value = _check(model, data, where, problems)
    if problems:
        raise ValidationFailed(problems[:50])
    return value


def _problem(problems: list[dict[str, str]], where: str, message: str) -> None:
    problems.append({"field": where, "message": message})


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}.get(
        type(value), type(value).__name__
    )


def _check(tp: Any, value: Any, where: str, problems: list[dict[str, str]]) -> Any:
    tp, limits = _split(tp)
    return _check_bare(tp, limits, value, where, problems)


def _check_bare(tp: Any, limits: _Limits, value: Any, where: str, problems: list[dict[str, str]]) -> Any:
    members = _union_members(tp)
    if members is not None:
        members = tuple(m for m in members if m is not Unset)
        if value is None and type(None) in members:
            return None
        options = [m for m in members if m is not type(None)]
        if len(options) == 1:
            return _check_bare(*_merged(options[0], limits), value, where, problems)
        for option in options:
            attempt: list[dict[str, str]] = []
            result = _check_bare(*_merged(option, limits), value, where, attempt)
            if not attempt:
                return result
        _problem(problems, where, f"{_type_name(value)} matches none of the allowed types")
        return None
    if tp is Any:
        return value
    if tp is type(None):
        if value is not None:
            _problem(problems, where, f"must be null, not {_type_name(value)}")
        return None
    if get_origin(tp) is Literal:
        allowed = get_args(tp)
        if not any(value == a and type(value) is type(a) for a in allowed):
            _problem(problems, where, "must be one of " + ", ".join(repr(a) for a in allowed))
        return value
    if tp is bool:
        if not isinstance(value, bool):
            _problem(problems, where, f"must be a boolean, not {_type_name(value)}")
        return value
    if tp is int:
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            _problem(problems, where, f"must be an integer, not {_type_name(value)}")
            return value
        _check_range(value, limits, where, problems)
        return value
    if tp is float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            _problem(problems, where, f"must be a number, not {_type_name(value)}")
            return value
        _check_range(value, limits, where, problems)
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            _problem(problems, where, f"must be a string, not {_type_name(value)}")
            return value
        longest = limits.max_length if limits.max_length is not None else DEFAULT_MAX_LENGTH
        if len(value) > longest:
            _problem(problems, where, f"must be at most {longest} characters long")
        elif limits.min_length is not None and len(value) < limits.min_length:
            _problem(problems, where, f"must be at least {limits.min_length} characters long")
        elif limits.pattern is not None and re.fullmatch(limits.pattern, value) is None:
            _problem(problems, where, f"must match {limits.pattern}")
        return value
    origin = get_origin(tp)
    if origin is list:
        (item,) = get_args(tp)
        if not isinstance(value, list):
            _problem(problems, where, f"must be an array, not {_type_name(value)}")
            return value
        most = limits.max_length if limits.max_length is not None else DEFAULT_MAX_ITEMS
        if len(value) > most:
            _problem(problems, where, f"must have at most {most} items")
            return value
        if limits.min_length is not None and len(value) < limits.min_length:
            _problem(problems, where, f"must have at least {limits.min_length} items")
        return [_check(item, v, f"{where}[{i}]", problems) for i, v in enumerate(value)]
    if origin is dict:
        _, item = get_args(tp)
        if not isinstance(value, dict):
            _problem(problems, where, f"must be an object, not {_type_name(value)}")
            return value
        if len(value) > DEFAULT_MAX_ITEMS:
            _problem(problems, where, f"must have at most {DEFAULT_MAX_ITEMS} keys")
            return value
        return {k: _check(item, v, f"{where}.{k}", problems) for k, v in value.items()}
    if is_model(tp):
        return _check_model(tp, value, where, problems)
    raise TypeError(f"schema: unsupported type {tp!r} at {where}")


def _metadata(limits: _Limits) -> list[Any]:
    meta: list[Any] = []
    if limits.max_length is not None:
        meta.append(MaxLen(limits.max_length))
    if limits.min_length is not None:
        meta.append(MinLen(limits.min_length))
    if limits.minimum is not None or limits.maximum is not None:
        meta.append(Range(limits.minimum, limits.maximum))
    if limits.pattern is not None:
        meta.append(Pattern(limits.pattern))
    return meta


def _check_range(value: int | float, limits: _Limits, where: str, problems: list[dict[str, str]]) -> None:
    if limits.minimum is not None and value < limits.minimum:
        _problem(problems, where, f"must be at least {limits.minimum}")
    elif limits.maximum is not None and value > limits.maximum:
        _problem(problems, where, f"must be at most {limits.maximum}")


def _check_model(model: type, value: Any, where: str, problems: list[dict[str, str]]) -> Any:
    if not isinstance(value, dict):
        _problem(problems, where, f"must be an object, not {_type_name(value)}")
        return None
    fields = {f.name: f for f in dataclasses.fields(model)}
    for key in value:
        if key not in fields:
            _problem(problems, f"{where}.{str(key)[:60]}", "is not a field of this request")
            if len(problems) > 50:
                return None
    kwargs: dict[str, Any] = {}
    for name, tp in hints(model).items():
        spec = fields[name]
        if name in value:
            kwargs[name] = _check(tp, value[name], f"{where}.{name}", problems)
        elif spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
            _problem(problems, f"{where}.{name}", "is required")
    if problems:
        return None
    return model(**kwargs)


# -- output -------------------------------------------------------------------------------------------------


def dump(value: Any) -> Any:
    """A model instance (or lists and dicts of them) as plain JSON data; fields left UNSET are omitted."""
    if is_model(type(value)):
        return {
            f.name: dump(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if getattr(value, f.name) is not UNSET
        }
    if isinstance(value, list | tuple):
        return [dump(v) for v in value]
    if isinstance(value, dict):
        return {k: dump(v) for k, v in value.items()}
    return value


# -- JSON Schema 2020-12 ------------------------------------------------------------------------------------


def json_schema(tp: Any, components: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema (2020-12, as OpenAPI 3.1 uses it) of a type; models go into `components` by name and
    are referred to with `$ref`."""
    tp, limits = _split(tp)
    schema = _schema_of(tp, limits, components)
    if limits.doc and "$ref" not in schema:
        schema["description"] = limits.doc
    elif limits.doc:
        schema = {"$ref": schema["$ref"], "description": limits.doc}
    if limits.example is not UNSET:
        schema["examples"] = [limits.example]
    return schema


def _merged(tp: Any, outer: _Limits) -> tuple[Any, _Limits]:
    """A union member's own type and limits, with the union's limits where the member sets none."""
    base, inner = _split(tp)
    values = {
        f.name: getattr(inner, f.name) if getattr(inner, f.name) not in (None, UNSET) else getattr(outer, f.name)
        for f in dataclasses.fields(_Limits)
    }
    return base, _Limits(**values)


def _schema_of(tp: Any, limits: _Limits, components: dict[str, Any]) -> dict[str, Any]:
    members = _union_members(tp)
    if members is not None:
        options = [m for m in members if m is not Unset]
        if len(options) == 1:
            return _schema_of(*_merged(options[0], limits), components)
        nullable = type(None) in options
        rest = [m for m in options if m is not type(None)]
        inner = [_schema_of(*_merged(m, limits), components) for m in rest]
        if nullable and len(inner) == 1 and set(inner[0]) - {"description"} and "type" in inner[0]:
            single = dict(inner[0])
            kinds = single["type"] if isinstance(single["type"], list) else [single["type"]]
            single["type"] = [*kinds, "null"]
            if "enum" in single:
                single["enum"] = [*single["enum"], None]
            return single
        return {"anyOf": inner + ([{"type": "null"}] if nullable else [])}
    if tp is Any:
        return {}
    if tp is type(None):
        return {"type": "null"}
    if get_origin(tp) is Literal:
        allowed = list(get_args(tp))
        kinds = sorted({_type_name(a) for a in allowed})
        return {"type": kinds[0] if len(kinds) == 1 else kinds, "enum": allowed}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int or tp is float:
        schema: dict[str, Any] = {"type": "integer" if tp is int else "number"}
        if limits.minimum is not None:
            schema["minimum"] = limits.minimum
        if limits.maximum is not None:
            schema["maximum"] = limits.maximum
        return schema
    if tp is str:
        schema = {"type": "string", "maxLength": limits.max_length or DEFAULT_MAX_LENGTH}
        if limits.min_length is not None:
            schema["minLength"] = limits.min_length
        if limits.pattern is not None:
            schema["pattern"] = f"^(?:{limits.pattern})$"
        return schema
    origin = get_origin(tp)
    if origin is list:
        (item,) = get_args(tp)
        schema = {"type": "array", "items": json_schema(item, components)}
        schema["maxItems"] = limits.max_length if limits.max_length is not None else DEFAULT_MAX_ITEMS
        if limits.min_length is not None:
            schema["minItems"] = limits.min_length
        return schema
    if origin is dict:
        _, item = get_args(tp)
        return {"type": "object", "additionalProperties": json_schema(item, components)}
    if is_model(tp):
        return {"$ref": f"#/components/schemas/{component(tp, components)}"}
    raise TypeError(f"schema: unsupported type {tp!r}")


def component(model: type, components: dict[str, Any]) -> str:
    """Add a model (and the models it uses) to `components`; return its name there."""
    name = model.__name__
    if name in components:
        return name
    components[name] = {}  # placeholder: a model may refer to itself
    fields = {f.name: f for f in dataclasses.fields(model)}
    properties: dict[str, Any] = {}
    required: list[str] = []
    for field_name, tp in hints(model).items():
        properties[field_name] = json_schema(tp, components)
        spec = fields[field_name]
        if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
            required.append(field_name)
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    doc = (model.__doc__ or "").strip()
    if doc and not doc.startswith(f"{name}("):  # not the signature dataclasses write when there is no docstring
        schema["description"] = " ".join(doc.split())
    components[name] = schema
    return name


# -- query parameters ---------------------------------------------------------------------------------------


def parse_query_value(tp: Any, raw: str, where: str) -> Any:
    """A query parameter's text as `tp` (str, int, bool, a Literal of strings, or one of those | None)."""
    base, limits = _split(tp)
    members = _union_members(base)
    if members is not None:
        base = next(m for m in members if m is not type(None) and m is not Unset)
    value: Any = raw
    if base is int:
        if not re.fullmatch(r"-?[0-9]{1,18}", raw.strip()):
            raise ValidationFailed([{"field": where, "message": "must be an integer"}])
        value = int(raw)
    elif base is bool:
        lowered = raw.strip().lower()
        if lowered not in ("1", "0", "true", "false", "yes", "no", ""):
            raise ValidationFailed([{"field": where, "message": "must be true or false"}])
        value = lowered in ("1", "true", "yes")
    return validate(Annotated[base, *_metadata(limits)] if _metadata(limits) else base, value, where)


def query_schema(tp: Any, components: dict[str, Any]) -> dict[str, Any]:
    """The schema of a query parameter as OpenAPI states it (no null: a parameter is absent or has a value)."""
    base, limits = _split(tp)
    members = _union_members(base)
    if members is not None:
        base = next(m for m in members if m is not type(None) and m is not Unset)
    if base is bool:
        return {"type": "boolean"}
    return json_schema(Annotated[base, *_metadata(limits)] if _metadata(limits) else base, components)
