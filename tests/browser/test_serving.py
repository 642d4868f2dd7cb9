"""The dashboard's files as the core serves them (in-process, no browser): content negotiation on `/`, the
security headers, revalidation, and what the files may not contain (inline script, markup built from data,
anything from another origin). The same App serves them on the Worker (tests/worker/dashboard.test.mjs)."""

from __future__ import annotations

import json
import re

import pytest

from package_broker.web import dashboard
from tests.conftest import Client

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


def _headers(response: object) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers}  # type: ignore[attr-defined]


async def test_a_browser_gets_the_page_with_a_strict_policy(client: Client) -> None:
    response, body = await client.request("GET", "/", headers={"accept": BROWSER_ACCEPT})
    headers = _headers(response)
    assert response.status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["content-security-policy"] == CSP
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["vary"] == "Accept"
    assert body == (dashboard.ASSETS / "index.html").read_bytes()
    assert b'<script type="module" src="ui/app.js"></script>' in body


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "application/json, text/html;q=0.5"])
async def test_everything_else_keeps_the_json_index(client: Client, accept: str | None) -> None:
    response, body = await client.request("GET", "/", headers={"accept": accept} if accept else {})
    assert response.status == 200
    assert response.header("content-type") == "application/json"
    assert response.header("vary") == "Accept"
    data = json.loads(body)
    assert data["composer"]["repository"] == "http://broker.test"
    assert data["health"] == "http://broker.test/health"


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        ("text/html", True),
        ("text/html;q=0.9, application/json;q=0.8", True),
        ("application/json;q=1, text/html;q=0.9", False),
        ("text/html;q=0", False),
        ("text/html;q=nonsense", False),
        ("text/*, */*", False),
        ("", False),
    ],
)
def test_negotiation(accept: str, html: bool) -> None:
    assert dashboard.wants_html(accept) is html


async def test_every_file_is_served_with_its_type_and_revalidated_by_etag(client: Client) -> None:
    names = sorted(p.name for p in dashboard.ASSETS.iterdir())
    assert sorted(dashboard.FILES) == names, "a file in assets/ has a type the dashboard does not serve"
    for name in names:
        if name == "index.html":
            continue
        response, body = await client.request("GET", f"/ui/{name}")
        headers = _headers(response)
        assert response.status == 200, name
        assert body == (dashboard.ASSETS / name).read_bytes()
        assert headers["content-security-policy"] == CSP
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["cache-control"] == "no-cache"
        expected = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}[name[name.rindex(".") :]]
        assert headers["content-type"].startswith(expected)
        again, empty = await client.request("GET", f"/ui/{name}", headers={"if-none-match": headers["etag"]})
        assert again.status == 304 and empty == b""
        stale, fresh = await client.request("GET", f"/ui/{name}", headers={"if-none-match": '"other"'})
        assert stale.status == 200 and fresh == body


async def test_unknown_files_and_other_methods_are_refused(client: Client) -> None:
    missing, _ = await client.request("GET", "/ui/nothing.js")
    assert missing.status == 404
    traversal, _ = await client.request("GET", "/ui/../__init__.py")
    assert traversal.status == 404
    for path in ("/ui/", "/ui/index.html", "/ui/app.js/", "/ui/%2e%2e/__init__.py"):
        response, _ = await client.request("GET", path)
        assert response.status == 404, path
    posted, _ = await client.request("POST", "/ui/app.js")
    assert posted.status == 405
    head, body = await client.request("HEAD", "/ui/app.js")
    assert head.status == 200 and body == b""


def test_the_files_build_no_markup_from_data_and_load_nothing_from_elsewhere() -> None:
    html = (dashboard.ASSETS / "index.html").read_text()
    # No inline script or style: the policy would block them, and they are how injected markup runs.
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert "<style" not in html and " style=" not in html
    assert not re.search(r"\son[a-z]+=", html)
    for ref in re.findall(r'(?:src|href)="([^"]*)"', html):
        assert ref.startswith(("ui/", "#")), ref  # relative: also right behind a proxy's path prefix
    for path in dashboard.ASSETS.glob("*.js"):
        if path.name == "api.js":  # the client itself: its calls take their path from the views
            continue
        text = path.read_text()
        for forbidden in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert forbidden not in text, f"{path.name} uses {forbidden}"
        for imported in re.findall(r'from\s+"([^"]+)"', text):
            assert re.fullmatch(r"\./[a-z]+\.js", imported), f"{path.name} imports {imported}"
        assert not re.search(r"fetch\(\s*[\"'`]https?:", text), path.name
    css = (dashboard.ASSETS / "app.css").read_text()
    assert "@import" not in css and "url(" not in css


def test_every_api_call_of_the_dashboard_is_a_route_of_the_admin_api() -> None:
    """The views call the API by method and path: each must be in the route table the OpenAPI document is built
    from (a renamed endpoint would otherwise only show as a broken page)."""
    from package_broker.web.admin.dispatch import all_routes

    def shape(path: str) -> str:
        return re.sub(r"\{[^}]+\}", "{}", path)

    routes = {(r.method, shape(r.path)) for r in all_routes()} | {("GET", "/")}
    calls = set()
    for path in dashboard.ASSETS.glob("*.js"):
        if path.name == "api.js":  # the client itself: its calls take their path from the views
            continue
        text = path.read_text()
        found = re.findall(r'api\("([A-Z]+)",\s*(["`])(.*?)\2', text)
        found += [("GET", quote, url) for quote, url in re.findall(r'everything\((["`])(.*?)\1', text)]
        for method, _, url in found:
            url = url.split("?", 1)[0]
            url = re.sub(r"\$\{pkgPath\([^}]*\)\}", "{}/{}", url)
            url = re.sub(r"\$\{[^}]*\}", "{}", url)
            calls.add((method, url))
    assert len(calls) >= 25
    assert not calls - routes, f"the dashboard calls endpoints the API does not have: {sorted(calls - routes)}"


def test_the_wheel_ships_every_file() -> None:
    """pyproject's package-data covers each asset, so an installed server serves them (src/ is not there)."""
    import fnmatch
    import tomllib

    from tests.conftest import ROOT

    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    package = ROOT / "src" / "package_broker"
    for path in dashboard.ASSETS.iterdir():
        relative = str(path.relative_to(package))
        assert any(fnmatch.fnmatch(relative, p) for p in patterns["package_broker"]), relative
