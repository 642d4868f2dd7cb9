"""A provider source added in the dashboard (server): the first page says how to create the first admin when
no SETUP_SECRET is set; GitHub's fields (repository, access token, API URL) add a source whose webhook URL and
secret are shown once, and a push signed with that secret makes a new tag appear on the package's page."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import Route, expect

from tests.browser.browser import browser, screenshot
from tests.conftest import BrokerServer, require_tool
from tests.e2e.composer import lib_files
from tests.e2e.providers import TOKEN, signed_push, start_fixture
from tests.helpers import Repo
from tests.secret_scan import remember

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
expect.set_options(timeout=30_000)

PASSWORD = "provider admin password"


def test_a_github_source_shows_its_webhook_once_and_a_signed_push_adds_a_tag(tmp_path: Path) -> None:
    require_tool("git")
    fixture, api_url = start_fixture("github")
    # PRIVATE_UPSTREAMS=allow: the fixture plays api.github.com on 127.0.0.1. No SETUP_SECRET: setup is by CLI.
    server = BrokerServer(
        tmp_path / "server",
        extra_env={"PRIVATE_UPSTREAMS": "allow", "SYNC_INTERVAL": "86400", "ADMIN_PASSWORD": PASSWORD},
    )
    server.start()
    try:
        repo = Repo(tmp_path / "repos" / "acme-lib")
        fixture.add_repo("acme/lib", repo.path)
        repo.commit(lib_files("lib 1.0"), "release v1.0.0")
        repo.tag("v1.0.0")
        remember(PASSWORD)
        with browser() as (context, watch):
            page = context.new_page()
            page.set_default_timeout(30_000)
            page.goto(server.url + "/")
            expect(page.locator("main")).to_contain_text("package-broker user create admin --role admin")
            screenshot(page, "server", "setup-cli")
            server.cli("user", "create", "root", "--role", "admin", "--password-env", "ADMIN_PASSWORD")
            page.reload()
            # The overview's numbers are held back, as a slow server would: moving on to Sources meanwhile,
            # the overview finishing late must not replace the Sources page.
            held: list[Route] = []
            page.route("**/api/stats", lambda route: held.append(route))
            page.fill("#login-name", "root")
            page.fill("#login-password", PASSWORD)
            page.click("#login-form button[type=submit]")
            expect(page.locator("#who")).to_contain_text("root")
            for _ in range(300):
                if held:
                    break
                page.wait_for_timeout(100)
            assert held, "the overview did not ask for its numbers"
            page.goto(server.url + "/#/sources")
            expect(page.locator("#source-kind")).to_be_visible()
            with page.expect_event("requestfinished", lambda r: r.url.endswith("/api/stats")):
                for route in held:
                    route.continue_()
            page.evaluate("() => new Promise((done) => setTimeout(done, 200))")
            expect(page.locator("main h1")).to_have_text("Sources")
            page.unroute("**/api/stats")
            page.select_option("#source-kind", "github")
            form = page.locator("#source-add")
            # The fields GitHub needs, and none of a URL source's.
            expect(form.locator("input[name=token]")).to_have_attribute("type", "password")
            assert form.locator("input[name=url], input[name=username]").count() == 0
            page.fill("#source-target", "acme/lib")
            form.locator("input[name=token]").fill(TOKEN)
            form.locator("input[name=api_url]").fill(api_url)
            page.check("#source-sync")
            form.locator("button[type=submit]").click()
            once = page.locator("#webhook-once")
            expect(once).to_be_visible()
            hook_url = once.locator("input.copy-text").nth(0).input_value()
            secret = once.locator("input.copy-text").nth(1).input_value()
            remember(secret)
            assert hook_url.startswith(server.url + "/webhooks/github/src_")
            expect(page.locator("#flash")).to_contain_text("First sync: ok")
            expect(page.locator("#source-packages")).to_contain_text("acme/lib")
            screenshot(page, "server", "source-webhook-once")
            page.reload()
            expect(page.locator("main h1")).to_contain_text("acme/lib")
            assert page.locator("#webhook-once").count() == 0, "the webhook secret was shown twice"
            assert secret not in page.content()

            repo.commit(lib_files("lib 1.1"), "release v1.1.0")
            repo.tag("v1.1.0")
            payload = {
                "ref": "refs/tags/v1.1.0",
                "before": "0" * 40,
                "after": repo.head(),
                "created": True,
                "deleted": False,
                "repository": {"full_name": "acme/lib", "pushed_at": time.time()},
            }
            assert signed_push(hook_url, secret, payload).status_code == 202
            # The webhook answers first and syncs after: look again until the sync has run.
            page.goto(server.url + "/#/packages/acme/lib")
            versions = page.locator("main table")
            for _ in range(30):
                expect(page.locator("main h1")).to_have_text("acme/lib")
                if "v1.1.0" in versions.inner_text():
                    break
                time.sleep(0.5)
                page.reload()
            expect(versions).to_contain_text("v1.1.0")
            screenshot(page, "server", "package-after-push")
            assert not watch.outside and not watch.errors and not watch.csp_problems(page)
    finally:
        server.stop()
        fixture.stop()
