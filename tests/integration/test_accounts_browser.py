"""What a real browser (Chromium) does with the session cookie: kept on http://127.0.0.1 and localhost (they
count as secure contexts), invisible to scripts; on plain http from another host the broker refuses the
sign-in with a message, because the browser would drop the Secure cookie and every next call would be 401."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import BrokerServer, unavailable
from tests.integration.test_accounts import FAST, PASSWORD, create_user
from tests.secret_scan import remember

SIGN_IN = """async (password) => {
  const signIn = await fetch('/api/session', {method: 'POST', headers: {'content-type': 'application/json'},
    body: JSON.stringify({name: 'alice', password})});
  const body = await signIn.json();
  const me = await fetch('/api/session');
  return {status: signIn.status, reason: body.reason || null, me: me.status, script_sees: document.cookie};
}"""


@pytest.fixture
def chromium(server_factory: Any) -> Iterator[tuple[Any, BrokerServer]]:
    path = shutil.which("chromium")
    if path is None:
        unavailable("chromium is not installed (scripts/setup --test installs it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (scripts/setup --test installs it)")
    server: BrokerServer = server_factory("browser", **FAST)
    remember(PASSWORD)
    create_user(server, "alice")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=path, args=["--no-sandbox", "--host-resolver-rules=MAP broker.lan 127.0.0.1"]
        )
        try:
            yield browser, server
        finally:
            browser.close()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_chromium_keeps_the_secure_cookie_on_loopback_over_http(chromium: tuple[Any, BrokerServer], host: str) -> None:
    browser, server = chromium
    page = browser.new_page()
    page.goto(server.url.replace("127.0.0.1", host) + "/health")
    result = page.evaluate(SIGN_IN, PASSWORD)
    assert result == {"status": 200, "reason": None, "me": 200, "script_sees": ""}
    [cookie] = page.context.cookies()
    assert (cookie["name"], cookie["secure"], cookie["httpOnly"], cookie["sameSite"]) == (
        "pkb_session",
        True,
        True,
        "Strict",
    )
    remember(cookie["value"])


def test_plain_http_from_another_host_is_refused_with_a_reason(chromium: tuple[Any, BrokerServer]) -> None:
    browser, server = chromium
    page = browser.new_page()
    page.goto(server.url.replace("127.0.0.1", "broker.lan") + "/health")
    result = page.evaluate(SIGN_IN, PASSWORD)
    assert result == {"status": 403, "reason": "insecure-origin", "me": 401, "script_sees": ""}
    assert page.context.cookies() == []
