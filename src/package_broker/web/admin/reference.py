"""`GET /api/docs`: the admin API reference as one HTML page, rendered on the server from the OpenAPI document.

No script, no external stylesheet or font, no CDN: the page works offline and behind any firewall, and its
Content-Security-Policy allows nothing but its own inline stylesheet (by hash). Every text from the document
is HTML-escaped.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape
from typing import Any

from ..http import Response
from .openapi import document_bytes
from .routing import ApiCall, Route

_STYLE = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2330;background:#fafbfc}
main{max-width:980px;margin:0 auto;padding:24px}
h1{font-size:26px;margin:0 0 8px}h2{margin-top:40px;border-bottom:1px solid #d8dde6;padding-bottom:4px}
code,.path{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
.op{background:#fff;border:1px solid #d8dde6;border-radius:6px;margin:14px 0;padding:12px 16px}
.method{display:inline-block;min-width:62px;font-weight:700;font-family:ui-monospace,monospace;font-size:13px}
.GET{color:#0a6b3d}.POST{color:#0b57b7}.PATCH{color:#8a5a00}.DELETE{color:#b3261e}.PUT{color:#6b3fa0}
.role{float:right;font-size:12px;color:#5b6475}
table{border-collapse:collapse;width:100%;margin:6px 0}td,th{text-align:left;padding:3px 8px;
border-top:1px solid #eef0f4;vertical-align:top;font-size:14px}th{font-weight:600;color:#5b6475}
.muted{color:#5b6475}nav a{margin-right:12px}abbr{text-decoration:none;border-bottom:1px dotted #5b6475}
"""
_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'sha256-{_HASH}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def _type(schema: dict[str, Any]) -> str:
    """A schema as a short type text with links to models: `array of <a>Token</a>`, `string | null`."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f'<a href="#model-{escape(name)}">{escape(name)}</a>'
    if "anyOf" in schema:
        return " | ".join(_type(s) for s in schema["anyOf"])
    if "enum" in schema:
        return " | ".join(f"<code>{escape(repr(v) if v is not None else 'null')}</code>" for v in schema["enum"])
    kind = schema.get("type", "any")
    kinds = kind if isinstance(kind, list) else [kind]
    texts = []
    for k in kinds:
        if k == "array":
            texts.append(f"array of {_type(schema.get('items', {}))}")
        elif k == "object" and isinstance(schema.get("additionalProperties"), dict):
            texts.append(f"object of {_type(schema['additionalProperties'])}")
        else:
            texts.append(escape(str(k)))
    return " | ".join(texts)


def _limits(schema: dict[str, Any]) -> str:
    parts = []
    for key, label in (("minLength", "min length"), ("maxLength", "max length"), ("minimum", "≥"), ("maximum", "≤")):
        if key in schema:
            parts.append(f"{label} {schema[key]}")
    if "pattern" in schema:
        parts.append(f"pattern <code>{escape(schema['pattern'])}</code>")
    return ", ".join(parts)


def _model(name: str, schema: dict[str, Any]) -> str:
    rows = []
    required = set(schema.get("required", []))
    for field, sub in schema.get("properties", {}).items():
        notes = " ".join(x for x in (escape(sub.get("description", "")), _limits(sub)) if x)
        rows.append(
            f"<tr><td><code>{escape(field)}</code>{'' if field in required else ' <span class=muted>optional</span>'}"
            f"</td><td>{_type(sub)}</td><td>{notes}</td></tr>"
        )
    description = f"<p>{escape(schema['description'])}</p>" if schema.get("description") else ""
    table = f"<table><tr><th>Field</th><th>Type</th><th>Notes</th></tr>{''.join(rows)}</table>" if rows else ""
    return f'<div class=op id="model-{escape(name)}"><h3><code>{escape(name)}</code></h3>{description}{table}</div>'


def _operation(method: str, path: str, op: dict[str, Any]) -> str:
    role = {"public": "anyone", "viewer": "viewer or admin", "admin": "admin"}.get(op.get("x-role", ""), "")
    out = [
        f'<div class=op id="{escape(op["operationId"])}"><span class=role>{escape(role)}</span>'
        f'<span class="method {escape(method.upper())}">{escape(method.upper())}</span> '
        f"<span class=path>{escape(path)}</span><div>{escape(op.get('summary', ''))}</div>"
    ]
    if op.get("description"):
        out.append(f"<p class=muted>{escape(op['description'])}</p>")
    params = op.get("parameters", [])
    if params:
        rows = "".join(
            f"<tr><td><code>{escape(p['name'])}</code></td><td>{escape(p['in'])}</td><td>{_type(p['schema'])}</td>"
            f"<td>{escape(p.get('description', ''))}</td></tr>"
            for p in params
        )
        out.append(f"<table><tr><th>Parameter</th><th>In</th><th>Type</th><th>Notes</th></tr>{rows}</table>")
    body = op.get("requestBody")
    if body:
        for media, content in body["content"].items():
            out.append(f"<div>Body (<code>{escape(media)}</code>): {_type(content['schema'])}</div>")
    statuses, errors = [], []
    for status, response in op["responses"].items():
        if status.startswith(("4", "5")):
            errors.append(f'<abbr title="{escape(response["description"])}">{escape(status)}</abbr>')
            continue
        content = response.get("content", {})
        shape = next((_type(c["schema"]) for c in content.values()), "")
        statuses.append(f"<tr><td>{escape(status)}</td><td>{shape}</td><td>{escape(response['description'])}</td></tr>")
    out.append(f"<table><tr><th>Status</th><th>Body</th><th>When</th></tr>{''.join(statuses)}</table>")
    out.append(f'<div class=muted>Errors: {", ".join(errors)} (<a href="#model-ErrorBody">ErrorBody</a>)</div></div>')
    return "".join(out)


def render(document: dict[str, Any]) -> str:
    info = document["info"]
    sections: dict[str, list[str]] = {t["name"]: [] for t in document.get("tags", [])}
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            sections.setdefault(op["tags"][0], []).append(_operation(method, path, op))
    nav = "".join(f'<a href="#tag-{escape(tag)}">{escape(tag)}</a>' for tag in sections)
    body = "".join(
        f'<h2 id="tag-{escape(tag)}">{escape(tag)}</h2>{"".join(ops)}' for tag, ops in sections.items() if ops
    )
    models = "".join(_model(name, schema) for name, schema in document["components"]["schemas"].items())
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{escape(info['title'])}</title><style>{_STYLE}</style></head><body><main>"
        f"<h1>{escape(info['title'])} <span class=muted>{escape(info['version'])}</span></h1>"
        f"<p>{escape(info.get('description', ''))}</p>"
        '<p>Machine-readable: <a href="/api/openapi.json">/api/openapi.json</a> (OpenAPI 3.1).</p>'
        f"<nav>{nav}<a href=#models>models</a></nav>{body}<h2 id=models>Models</h2>{models}</main></body></html>"
    )


_PAGE: bytes | None = None


async def docs(call: ApiCall) -> Response:
    global _PAGE
    if _PAGE is None:
        import json

        _PAGE = render(json.loads(document_bytes())).encode()
    return Response(
        200,
        [
            ("content-type", "text/html; charset=utf-8"),
            ("content-security-policy", CONTENT_SECURITY_POLICY),
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "no-referrer"),
            ("cache-control", "no-cache"),
        ],
        _PAGE,
    )


ROUTES = [Route("GET", "/api/docs", docs, "This reference as a web page", "meta", role="public")]
