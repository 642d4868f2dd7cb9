"""The dashboard in a real browser (Debian's chromium, headless), against `package-broker serve` and against
the Worker in the offline harness, through the real admin API:

first-run setup -> two-factor on -> sign in with a TOTP code -> add a source -> sync now -> its versions ->
a token scoped to one package -> the real `composer` installs with it -> revoke it -> composer fails; then a
viewer, signed in with the keyboard alone, sees every page with no control that changes anything, and a
write forced past the UI is refused (403). Every page is screenshotted, desktop and phone, into
test-artifacts/screenshots/; no request leaves 127.0.0.1 and the page reports no CSP violation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.browser import browser, screenshot
from tests.browser.targets import TARGETS, Target
from tests.conftest import require_tool
from tests.e2e.composer import CLIENTS, Client, Project, lib_files
from tests.secret_scan import remember

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
# A wait, not a speed check: on the Worker harness every request runs in Pyodide on a shared machine.
expect.set_options(timeout=30_000)

ADMIN, ADMIN_PASSWORD = "ada", "correct horse battery staple"
VIEWER, VIEWER_PASSWORD = "vic", "viewer password 1234"
#: What only an admin sees: forms and buttons that change something.
WRITE_CONTROLS = (
    "#source-add, #source-edit, #token-create, #token-edit, #user-create, #sync-all, button[data-sync], "
    "button[data-revoke], button[data-edit], button[data-reset-2fa], "
    "button.danger, button.primary"
)


#: A README is upstream content: shown as text, its markup must never run or load anything.
HOSTILE_README = (
    '# Acme lib\n\nSays hi. <img src=/x.png onerror="window.pwned = 1">\n\n'
    "<script>window.pwned = 2</script>\n\n```php\necho Hello::hi();\n```\n"
)


def totp(secret: str, step: int) -> str:
    """RFC 6238 (SHA-1, 6 digits, 30 s): what an authenticator app shows; written here, not imported from the
    broker, so a mistake there cannot agree with itself."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return str((struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000).zfill(6)


def newest_client() -> Client:
    """The newest Composer available (the flow is about the dashboard; tests/e2e runs every client)."""
    usable = [c for c in CLIENTS if not c.problem]
    return usable[-1] if usable else CLIENTS[-1]


@pytest.fixture(params=sorted(TARGETS))
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    for tool in ("php", "unzip"):
        require_tool(tool)
    started: Target = TARGETS[request.param](tmp_path / request.param)
    try:
        yield started
    finally:
        started.stop()


def go(page: Page, target: Target, hash_path: str, heading: str | re.Pattern[str]) -> None:
    page.goto(f"{target.url}/{hash_path}")
    expect(page.locator("main h1")).to_have_text(heading)


def flash(page: Page) -> Any:
    return expect(page.locator("#flash"))


def test_the_dashboard_end_to_end(target: Target, tmp_path: Path) -> None:
    client = newest_client()
    client.executable()
    target.upstream.release("acme/lib", "v1.0.0", {**lib_files("lib 1.0"), "README.md": HOSTILE_README})
    target.upstream.release("other/tool", "v2.0.0", {"composer.json": {"name": "other/tool", "license": "MIT"}})
    remember(ADMIN_PASSWORD)
    remember(VIEWER_PASSWORD)
    shots = target.runtime
    with browser() as (context, watch):
        page = context.new_page()
        page.set_default_timeout(30_000)

        # -- first run: the first admin is claimed with SETUP_SECRET -----------------------------------------
        page.goto(target.url + "/")
        expect(page.locator("main h1")).to_have_text("Welcome to PACKAGE.broker")
        screenshot(page, shots, "setup")
        page.fill("#setup-form input[name=secret]", target.setup_secret)
        page.fill("#setup-form input[name=name]", ADMIN)
        page.fill("#setup-form input[name=password]", ADMIN_PASSWORD)
        page.click("#setup-form button[type=submit]")
        expect(page.locator("main h1")).to_have_text("Overview")
        expect(page.locator("#who")).to_contain_text(ADMIN)

        # -- two-factor on, then sign in with a code -------------------------------------------------------
        go(page, target, "#/account", "Account")
        page.click("#totp-start")
        key = page.locator("#totp-confirm input.copy-text").input_value()
        remember(key)
        assert page.locator("#totp-uri").get_attribute("href", timeout=5000).startswith("otpauth://totp/")
        step = int(time.time()) // 30
        page.fill("#totp-code", totp(key, step))
        page.click("#totp-confirm button[type=submit]")
        expect(page.locator("#totp h2")).to_have_text("Two-factor authentication is on")
        recovery = page.locator("#totp pre.code").inner_text().split()
        assert len(recovery) >= 8
        screenshot(page, shots, "account-recovery-codes")
        page.click("text=I have saved them")
        screenshot(page, shots, "account")

        page.click("#who button:has-text('Sign out')")
        expect(page.locator("main h1")).to_have_text("Sign in")
        screenshot(page, shots, "login")
        page.fill("#login-name", ADMIN)
        page.fill("#login-password", ADMIN_PASSWORD)
        page.click("#login-form button[type=submit]")
        expect(page.locator("#login-code")).to_be_visible()
        page.fill("#login-code", "000000" if totp(key, step + 1) != "000000" else "111111")
        page.click("#login-form button[type=submit]")
        flash(page).to_contain_text("code")  # a wrong code is refused, the form stays
        expect(page.locator("main h1")).to_have_text("Sign in")
        # The next step's code: the one used to turn two-factor on cannot be replayed.
        page.fill("#login-code", totp(key, step + 1))
        page.click("#login-form button[type=submit]")
        expect(page.locator("main h1")).to_have_text("Account")  # back where the session ended
        expect(page.locator("#who")).to_contain_text(ADMIN)
        go(page, target, "#/", "Overview")
        screenshot(page, shots, "overview-empty")

        # -- a source, synced now, and its versions --------------------------------------------------------
        go(page, target, "#/sources", "Sources")
        expect(page.locator("main .empty")).to_contain_text("No sources yet")
        screenshot(page, shots, "sources-empty")
        page.select_option("#source-kind", "composer")
        page.fill("#source-target", target.upstream.url)
        page.click("#source-add button[type=submit]")
        # Adding runs in Pyodide on the harness: on a loaded machine it can outlast the default wait. If it
        # fails, the flash says why.
        try:
            expect(page.locator("main h1")).to_have_text(target.upstream.url, timeout=90_000)
        except AssertionError as exc:
            said = page.locator("#flash").all_inner_texts()
            raise AssertionError(f"the source was not added; the page says: {said}") from exc
        page.click("button[data-sync]")
        flash(page).to_contain_text("Synced", timeout=60_000)
        expect(page.locator("#source-packages")).to_contain_text("acme/lib")
        screenshot(page, shots, "source")
        go(page, target, "#/sources", "Sources")
        expect(page.locator("main table")).to_contain_text("ok")
        screenshot(page, shots, "sources")

        go(page, target, "#/packages", "Packages")
        expect(page.locator("#package-results")).to_contain_text("acme/lib")
        expect(page.locator("#package-results")).to_contain_text("other/tool")
        page.fill("#package-search", "acme")
        page.press("#package-search", "Enter")
        expect(page.locator("#package-results")).not_to_contain_text("other/tool")
        screenshot(page, shots, "packages")
        page.click("#package-results a:has-text('acme/lib')")
        expect(page.locator("main h1")).to_have_text("acme/lib")
        expect(page.locator("main table")).to_contain_text("v1.0.0")
        expect(page.locator("main")).to_contain_text("composer require acme/lib")
        readme = page.locator("main .readme")
        expect(readme.locator("h3")).to_have_text("Acme lib")
        expect(readme.locator("pre")).to_have_text("echo Hello::hi();")
        expect(readme).to_contain_text('<img src=/x.png onerror="window.pwned = 1">')
        expect(readme).to_contain_text("<script>window.pwned = 2</script>")
        assert readme.locator("img, script").count() == 0
        assert page.evaluate("window.pwned") is None
        screenshot(page, shots, "package")

        # -- a token for acme/lib only: composer installs with it, then not once it is revoked -------------
        go(page, target, "#/tokens", "Tokens")
        page.fill("#token-description", "CI for the shop")
        page.fill("#token-packages", "acme/lib")
        page.click("#token-create button[type=submit]")
        secret = page.locator("#token-secret input.copy-text").input_value()
        remember(secret)
        assert secret.startswith("pkb_")
        host = target.url.split("://", 1)[1]
        expect(page.locator("#token-secret pre")).to_contain_text(f"composer config http-basic.{host} token {secret}")
        expect(page.locator("main table")).to_contain_text("CI for the shop")
        expect(page.locator("main table")).to_contain_text("acme/lib")
        screenshot(page, shots, "tokens-created")

        project = Project(tmp_path / "project", target, secret, client)  # type: ignore[arg-type]
        project.write({"acme/lib": "^1.0"})
        project.composer("install")
        assert project.php("echo \\Acme\\Lib\\Hello::hi();") == "lib 1.0"
        outside_grant = project.composer("require", "other/tool:^2.0", check=False)
        assert outside_grant.returncode != 0

        page.reload()
        expect(page.locator("main h1")).to_have_text("Tokens")
        row = page.locator("main tr", has_text="CI for the shop")
        # The troubleshooting page's answer to a 429: raise the token's rate limit here.
        row.locator("button[data-edit]").click()
        page.fill("#edit-rate", "5000")
        page.click("#token-edit button[type=submit]")
        flash(page).to_contain_text('Saved "CI for the shop"')
        expect(page.locator("main tr", has_text="CI for the shop")).to_contain_text("5000/h")
        row.locator("button[data-revoke]").click()
        flash(page).to_contain_text('Revoked "CI for the shop"')
        expect(page.locator("main tr", has_text="CI for the shop")).to_contain_text("revoked")
        screenshot(page, shots, "tokens")
        project.reset(lock=True, cache=True)
        refused = project.composer("install", check=False)
        assert refused.returncode != 0
        assert re.search(r"401|Invalid credentials|revoked", refused.stdout + refused.stderr), refused.stderr[-2000:]

        # -- a viewer ---------------------------------------------------------------------------------------
        go(page, target, "#/users", "Users")
        page.fill("#user-name", VIEWER)
        page.fill("#user-password", VIEWER_PASSWORD)
        page.select_option("#user-role", "viewer")
        page.click("#user-create button[type=submit]")
        flash(page).to_contain_text(f"Added {VIEWER}")
        screenshot(page, shots, "users")
        go(page, target, "#/audit", "Audit log")
        expect(page.locator("main table")).to_contain_text("token")
        screenshot(page, shots, "audit")
        go(page, target, "#/", "Overview")
        expect(page.locator("main .stats")).to_be_visible()
        screenshot(page, shots, "overview")
        page.click("#who button:has-text('Sign out')")
        expect(page.locator("main h1")).to_have_text("Sign in")
        page.goto(target.url + "/")

        sign_in_with_the_keyboard(page, VIEWER, VIEWER_PASSWORD)
        expect(page.locator("#who")).to_contain_text("viewer")
        viewer_sees_everything_and_changes_nothing(page, target)

        assert not watch.outside, f"requests beyond 127.0.0.1: {watch.outside}"
        assert not watch.csp_problems(page), watch.csp_problems(page)
        assert not watch.errors, f"uncaught errors in the page: {watch.errors}"


def sign_in_with_the_keyboard(page: Page, name: str, password: str) -> None:
    """Tab from the top of the page to the sign-in form, type, submit with Enter: no mouse."""
    expect(page.locator("#login-name")).to_be_visible()
    page.locator("body").focus()
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "login-name":
            break
    else:
        raise AssertionError("Tab never reached the user name field")
    page.keyboard.type(name)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "login-password"
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    expect(page.locator("main h1")).to_have_text("Overview")


def viewer_sees_everything_and_changes_nothing(page: Page, target: Target) -> None:
    pages = [
        ("#/", "Overview", "main table"),
        ("#/sources", "Sources", "main table"),
        ("#/tokens", "Tokens", "main table"),
        ("#/packages", "Packages", "#package-results table"),
        ("#/packages/acme/lib", "acme/lib", "main table"),
        ("#/users", "Users", "main table"),
        ("#/audit", "Audit log", "main table"),
    ]
    for hash_path, heading, content in pages:
        go(page, target, hash_path, heading)
        expect(page.locator(content).first).to_be_visible()
        assert page.locator(WRITE_CONTROLS).count() == 0, f"{hash_path} shows a write control to a viewer"
    go(page, target, "#/sources", "Sources")
    page.click("main table a")
    expect(page.locator("#source-packages")).to_contain_text("acme/lib")
    assert page.locator(WRITE_CONTROLS).count() == 0, "a source's page shows a write control to a viewer"
    screenshot(page, target.runtime, "viewer-source")

    # Past the UI: the API itself refuses a viewer's writes, with a valid session and CSRF token.
    statuses = page.evaluate(
        """async () => {
          const { csrf_token } = await (await fetch("/api/session")).json();
          const headers = { "content-type": "application/json", "x-csrf-token": csrf_token };
          const post = (path, body) => fetch(path, { method: "POST", headers, body: JSON.stringify(body) });
          const sources = (await (await fetch("/api/sources")).json()).items;
          return [
            (await post("/api/tokens", { description: "sneaky" })).status,
            (await post(`/api/sources/${sources[0].id}/sync`, {})).status,
            (await post("/api/users", { name: "mallory", password: "long enough password", role: "admin" })).status,
          ];
        }"""
    )
    assert statuses == [403, 403, 403], json.dumps(statuses)
