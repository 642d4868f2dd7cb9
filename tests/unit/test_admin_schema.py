"""The admin API's validation and JSON Schema (web/admin/schema.py): one dataclass model validates input and
describes itself; the description is checked with a real JSON Schema 2020-12 validator against what
validation accepts and refuses."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import jsonschema_rs
import pytest

from package_broker.web.admin.schema import (
    DEFAULT_MAX_ITEMS,
    DEFAULT_MAX_LENGTH,
    UNSET,
    Doc,
    MaxLen,
    MinLen,
    Pattern,
    Range,
    Unset,
    ValidationFailed,
    component,
    dump,
    json_schema,
    parse_query_value,
    validate,
)


@dataclass(frozen=True, slots=True)
class Grant:
    """A grant."""

    prefix: Annotated[str, MaxLen(20), Pattern(r"[a-z]+/")]


@dataclass(frozen=True, slots=True)
class Create:
    """Make something."""

    name: Annotated[str, MinLen(1), MaxLen(10), Doc("its name")]
    count: Annotated[int, Range(0, 100)] = 1
    ratio: float | None = None
    mode: Literal["a", "b"] = "a"
    grants: list[Grant] | None = None
    labels: dict[str, int] | None = None
    free: str = ""


@dataclass(frozen=True, slots=True)
class Edit:
    expires_at: int | None | Unset = UNSET
    enabled: bool | Unset = UNSET


def problems(model: Any, data: Any) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        validate(model, data)
    assert caught.value.status == 422
    return {p["field"]: p["message"] for p in caught.value.problems}


def test_valid_input_becomes_a_frozen_model_with_defaults() -> None:
    made = validate(Create, {"name": "x", "grants": [{"prefix": "acme/"}], "labels": {"a": 1}, "ratio": 2})
    assert made == Create(name="x", grants=[Grant("acme/")], labels={"a": 1}, ratio=2.0)
    assert isinstance(made.ratio, float)
    with pytest.raises(AttributeError):
        made.name = "y"  # type: ignore[misc]


def test_every_problem_is_named_by_its_field() -> None:
    found = problems(
        Create,
        {
            "name": "",
            "count": 101,
            "mode": "c",
            "grants": [{"prefix": "ACME"}, {"prefix": 5}],
            "labels": {"a": "one"},
            "unknown": 1,
        },
    )
    assert set(found) == {
        "body.name",
        "body.count",
        "body.mode",
        "body.grants[0].prefix",
        "body.grants[1].prefix",
        "body.labels.a",
        "body.unknown",
    }
    assert "at least 1" in found["body.name"] and "at most 100" in found["body.count"]
    assert problems(Create, {}) == {"body.name": "is required"}
    assert set(problems(Create, [])) == {"body"}


def test_types_are_not_coerced() -> None:
    assert "integer" in problems(Create, {"name": "x", "count": True})["body.count"]
    assert "integer" in problems(Create, {"name": "x", "count": "3"})["body.count"]
    assert "integer" in problems(Create, {"name": "x", "count": 1.5})["body.count"]
    assert validate(Create, {"name": "x", "count": 3.0}).count == 3  # JSON has one number type
    assert "string" in problems(Create, {"name": 3})["body.name"]
    assert "boolean" in problems(Edit, {"enabled": 1})["body.enabled"]


def test_strings_and_lists_are_bounded_even_without_a_declared_limit() -> None:
    assert "at most" in problems(Create, {"name": "x", "free": "y" * (DEFAULT_MAX_LENGTH + 1)})["body.free"]
    too_many = [{"prefix": "a/"}] * (DEFAULT_MAX_ITEMS + 1)
    assert "at most" in problems(Create, {"name": "x", "grants": too_many})["body.grants"]


def test_absent_null_and_value_are_three_things_in_a_patch() -> None:
    assert validate(Edit, {}) == Edit()
    assert validate(Edit, {}).expires_at is UNSET
    assert validate(Edit, {"expires_at": None}).expires_at is None
    assert validate(Edit, {"expires_at": 5}).expires_at == 5
    assert problems(Edit, {"enabled": None}) == {"body.enabled": "must be a boolean, not null"}
    assert dump(Edit(expires_at=None)) == {"expires_at": None}  # UNSET fields are left out


def test_query_values_parse_to_their_types() -> None:
    assert parse_query_value(Annotated[int, Range(1, 200)], "50", "query.limit") == 50
    assert parse_query_value(bool, "1", "query.purge") is True
    assert parse_query_value(bool, "false", "query.purge") is False
    for tp, raw in ((Annotated[int, Range(1, 200)], "0"), (int, "many"), (int, "9" * 40), (bool, "maybe")):
        with pytest.raises(ValidationFailed):
            parse_query_value(tp, raw, "query.x")
    with pytest.raises(ValidationFailed):
        parse_query_value(Literal["active", "revoked"], "other", "query.state")


def schema_of(model: type) -> dict[str, Any]:
    components: dict[str, Any] = {}
    root = json_schema(model, components)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **root, "$defs": components}


def rewrite_refs(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: (v.replace("#/components/schemas/", "#/$defs/") if k == "$ref" else rewrite_refs(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [rewrite_refs(v) for v in value]
    return value


@pytest.mark.parametrize(
    "data",
    [
        {"name": "x"},
        {"name": "x", "count": 0, "mode": "b", "grants": [{"prefix": "acme/"}], "ratio": None},
        {"name": ""},
        {"name": "x" * 11},
        {"name": "x", "count": -1},
        {"name": "x", "mode": "z"},
        {"name": "x", "grants": [{"prefix": "Acme"}]},
        {"name": "x", "other": 1},
        {"name": "x", "labels": {"k": "v"}},
        {"count": 1},
        {"name": "x", "ratio": "1"},
    ],
)
def test_the_json_schema_accepts_exactly_what_validation_accepts(data: dict[str, Any]) -> None:
    validator = jsonschema_rs.Draft202012Validator(rewrite_refs(schema_of(Create)))
    try:
        validate(Create, data)
        accepted = True
    except ValidationFailed:
        accepted = False
    assert validator.is_valid(data) is accepted


def test_components_carry_documentation_and_requirements() -> None:
    components: dict[str, Any] = {}
    assert component(Create, components) == "Create"
    create = components["Create"]
    assert create["required"] == ["name"] and create["additionalProperties"] is False
    assert create["description"] == "Make something."
    assert create["properties"]["name"] == {
        "type": "string",
        "maxLength": 10,
        "minLength": 1,
        "description": "its name",
    }
    assert create["properties"]["ratio"] == {"type": ["number", "null"]}
    assert create["properties"]["grants"]["type"] == ["array", "null"]
    assert create["properties"]["grants"]["items"] == {"$ref": "#/components/schemas/Grant"}
    assert "Grant" in components
    edit: dict[str, Any] = {}
    component(Edit, edit)
    assert "required" not in edit["Edit"]
    assert edit["Edit"]["properties"]["expires_at"] == {"type": ["integer", "null"]}


def test_the_openapi_document_states_each_routes_role_and_errors() -> None:
    from package_broker.web.admin.dispatch import all_routes
    from package_broker.web.admin.openapi import build

    routes = all_routes()
    document = build(routes)
    assert document["openapi"] == "3.1.0"
    ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids)) == len(routes)
    for route in routes:
        operation = document["paths"][route.path][route.method.lower()]
        responses = operation["responses"]
        if route.role == "public":
            assert operation["security"] == []
        else:
            assert {"401", "403"} <= set(responses), route.path
            needs = {"session"} if route.method == "GET" else {"session", "csrf"}
            assert set(operation["security"][0]) == needs, route.path
        if "{" in route.path:
            assert {"404", "422"} <= set(responses), route.path
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
        if route.body is not None:
            assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
                route.body.__name__
            )
    # Every $ref resolves.
    text = json.dumps(document)
    for name in set(re.findall(r"#/components/schemas/(\w+)", text)):
        assert name in document["components"]["schemas"], name


@dataclass(frozen=True, slots=True)
class Documented:
    interval: Annotated[int | None, Doc("seconds"), Range(60, None)] = None
    note: Annotated[str | None, Doc("free text")] = None


def test_limits_and_documentation_around_a_union_apply_to_its_members() -> None:
    assert validate(Documented, {"interval": None, "note": "x"}) == Documented(None, "x")
    assert validate(Documented, {"interval": 60}).interval == 60
    assert problems(Documented, {"interval": 59}) == {"body.interval": "must be at least 60"}
    assert problems(Documented, {"note": 5}) == {"body.note": "must be a string, not integer"}
    components: dict[str, Any] = {}
    component(Documented, components)
    assert components["Documented"]["properties"]["interval"] == {
        "type": ["integer", "null"],
        "minimum": 60,
        "description": "seconds",
    }
