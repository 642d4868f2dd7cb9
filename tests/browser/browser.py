"""A real browser for the dashboard tests: Debian's chromium driven by playwright-core (never `playwright
install`), headless, with a fresh profile per test, nothing reaching past 127.0.0.1, and every Content
Security Policy violation collected so a test can assert there were none."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from tests.conftest import ROOT, unavailable

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page, Route

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"

# Runs before the page's own scripts (through the DevTools protocol, so the page's CSP does not block it):
# records every CSP violation the page reports.
_WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`);
});
"""


@dataclass
class Watch:
    """What the browser did that it must not: requests beyond 127.0.0.1, CSP violations, uncaught errors."""

    outside: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def csp_problems(self, page: Page) -> list[str]:
        seen = [line for line in self.console if "Content Security Policy" in line]
        return seen + list(page.evaluate("window.__cspViolations || []"))


@contextmanager
def browser() -> Iterator[tuple[BrowserContext, Watch]]:
    """A fresh Chromium context (playwright's BrowserContext) and what it watched."""
    if not Path(CHROMIUM).exists():
        unavailable(f"{CHROMIUM} is not installed (scripts/setup --test installs Debian's chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is missing: pip install -e '.[test]'")
    watch = Watch()
    with sync_playwright() as playwright, tempfile.TemporaryDirectory(prefix="pb-chromium-") as profile:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=ARGS, headless=True, viewport=DESKTOP
        )
        try:
            context.add_init_script(_WATCH_CSP)

            def guard(route: Route) -> None:
                url = route.request.url
                host = urlsplit(url).hostname
                if url.startswith(("http://", "https://", "ws://", "wss://")) and host != "127.0.0.1":
                    watch.outside.append(url)
                    route.abort()
                else:
                    route.continue_()

            context.route("**/*", guard)
            context.on("page", lambda page: _listen(page, watch))
            for page in context.pages:
                _listen(page, watch)
            yield context, watch
        finally:
            context.close()


def _listen(page: Page, watch: Watch) -> None:
    page.on("console", lambda message: watch.console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: watch.errors.append(str(error)))
    page.on("dialog", lambda dialog: dialog.accept())


def screenshot(page: Page, runtime: str, name: str) -> None:
    """Desktop and phone screenshots of the current view (test-artifacts/screenshots/, kept by CI), and on the
    phone: nothing wider than the screen (readable without scrolling sideways)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{runtime}-{name}-desktop.png"), full_page=True)
    page.set_viewport_size(PHONE)
    try:
        page.screenshot(path=str(SCREENSHOTS / f"{runtime}-{name}-phone.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{name}: the page is {overflow}px wider than a phone's screen"
    finally:
        page.set_viewport_size(DESKTOP)
