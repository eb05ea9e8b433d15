"""The agent's screen in a real browser: Debian's chromium driven by Playwright, with axe-core
(tests/vendor, scripts/vendor-frontend.sh) checking every screen against WCAG 2.1 AA and a
screenshot of each screen kept as a test artifact (WEBCARE_ARTIFACTS_DIR, default
test-artifacts/screenshots).

Fixtures: `browser` (one chromium per test), `page` (Dutch, 1280×720), `log_in`.
Helpers: `assert_no_axe_violations(page)`, `save_screenshot(page, name)`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PASSWORD, browser_required

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AXE_SCRIPT = Path(__file__).resolve().parent.parent / "vendor" / "axe.min.js"
ARTIFACTS = Path(os.environ.get("WEBCARE_ARTIFACTS_DIR", "test-artifacts")) / "screenshots"
DESKTOP = {"width": 1280, "height": 720}
TABLET = {"width": 820, "height": 1180}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        if browser_required():
            pytest.fail(
                f"Chromium is required (WEBCARE_REQUIRE_BROWSER=1) but {CHROMIUM} is missing"
            )
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    # Playwright's sync API runs an event loop in this thread; our ORM calls here are
    # synchronous test set-up, not async code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def new_page(browser: Any, *, locale: str = "nl-NL", viewport: dict[str, int] | None = None) -> Any:
    context = browser.new_context(
        locale=locale, viewport=viewport or DESKTOP, timezone_id="Europe/Amsterdam"
    )
    # An init script runs outside the page's CSP; axe is a test tool, never served by us.
    context.add_init_script(path=str(AXE_SCRIPT))
    page = context.new_page()
    # A CSP violation or a script error is a bug: collect them, tests assert none happened.
    page.webcare_errors = []
    page.on("pageerror", lambda error: page.webcare_errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            page.webcare_errors.append(message.text) if message.type == "error" else None
        ),
    )
    return page


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    page = new_page(browser)
    yield page
    page.context.close()


@pytest.fixture
def log_in(live_server: Any) -> Callable[..., None]:
    def log_in_as(page: Any, username: str, password: str = PASSWORD) -> None:
        page.goto(f"{live_server.url}/login/")
        page.locator("#id_username").fill(username)
        page.locator("#id_password").fill(password)
        page.locator("form button[type=submit]").last.click()
        page.wait_for_url(lambda url: "/login/" not in url)

    return log_in_as


AXE_TIMEOUT_MS = 60_000


def axe_violations(page: Any, *, exclude: list[str] | None = None) -> list[dict[str, Any]]:
    """Runs axe-core on the page as it is now: WCAG 2.0/2.1 A and AA rules."""
    # page.evaluate has no timeout of its own: a run that never settles (seen once in CI)
    # must fail the test, not hang the suite.
    return page.evaluate(
        """async ([exclude, timeoutMs]) => {
            const context = exclude.length ? { exclude: exclude.map((s) => [s]) } : document;
            const tooLong = new Promise((_, reject) => setTimeout(
                () => reject(new Error(`axe.run did not finish within ${timeoutMs} ms`)), timeoutMs
            ));
            const result = await Promise.race([tooLong, window.axe.run(context, {
                runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
            })]);
            return result.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map((n) => n.target.join(" ") + " — " + n.failureSummary),
            }));
        }""",
        [exclude or [], AXE_TIMEOUT_MS],
    )


def assert_no_axe_violations(page: Any, *, exclude: list[str] | None = None) -> None:
    violations = axe_violations(page, exclude=exclude)
    assert violations == [], (
        "axe found WCAG 2.1 AA violations on "
        + page.url
        + ":\n"
        + "\n".join(
            f"- {v['id']} ({v['impact']}): {v['help']}\n    " + "\n    ".join(v["nodes"][:5])
            for v in violations
        )
    )


def save_screenshot(page: Any, name: str) -> Path:
    """Keeps a screenshot of the screen as a test artifact (CI uploads the folder)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


def assert_no_page_errors(page: Any) -> None:
    assert page.webcare_errors == [], "script errors or CSP violations: " + "; ".join(
        page.webcare_errors
    )
