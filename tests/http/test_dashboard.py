"""The dashboard in headless Chromium (Debian's, driven by Playwright) against a real server:
it loads, follows changes made through gRPC without a reload, and acknowledges."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from rescp._proto import admin_pb2 as a
from rescp._proto import enums_pb2 as enums
from rescp._proto import guard_pb2 as g
from rescp.testing import ServerThread
from tests.server.conftest import Stubs

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (.ci/run installs it)")
WAIT_MS = 5000


@pytest.fixture
def page(web_server: ServerThread) -> Iterator[playwright.Page]:
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(web_server.http_url + "/")
            page.wait_for_selector("#live[data-live=live]", timeout=WAIT_MS)
            yield page
            assert errors == []
        finally:
            browser.close()


def state_of(page: playwright.Page, breaker: str) -> str | None:
    return page.get_attribute(f"tr[data-breaker='{breaker}'] .state", "data-state")


def test_the_page_follows_a_breaker_changed_through_grpc(page: playwright.Page, stubs: Stubs,
                                                         tmp_path: Path) -> None:
    assert page.locator("#breakers tr").count() == 3
    assert state_of(page, "dydx_api") == "closed"
    assert page.get_attribute("#health", "data-health") == "healthy"
    page.evaluate("window.notReloaded = true")

    stubs.TransitionBreaker(a.TransitionBreakerRequest(name="dydx_api",
                                                       state=enums.BREAKER_STATE_FORCED_OPEN))
    page.wait_for_selector("tr[data-breaker='dydx_api'] .state[data-state=forced_open]",
                           timeout=WAIT_MS)
    page.wait_for_selector("#features li[data-feature=trading] [data-status=unavailable]",
                           timeout=WAIT_MS)
    page.wait_for_selector("#health[data-health=warning]", timeout=WAIT_MS)
    feed = page.locator("#events li[data-kind=breakerTransition]").first
    assert "dydx_api: closed → forced_open" in feed.inner_text()
    assert page.evaluate("window.notReloaded") is True
    assert page.locator("#breakers tr").nth(0).get_attribute("data-breaker") == "dydx_api"
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

    stubs.DeleteBreaker(a.DeleteBreakerRequest(name="orders_db"))
    page.wait_for_selector("tr[data-breaker='orders_db']", state="detached", timeout=WAIT_MS)
    assert "orders_db deleted" in page.locator("#events li").first.inner_text()


def test_a_notification_is_acknowledged_from_the_page(page: playwright.Page,
                                                      stubs: Stubs) -> None:
    record = stubs.Report(g.ReportRequest(error_type="TimeoutError",
                                          message="Connection timeout")).record
    item = f"#notifications li[data-notification='{record.error_id}']"
    page.wait_for_selector(item, timeout=WAIT_MS)
    assert "NETWORK Error" in page.inner_text(item)
    page.click(f"{item} button")
    page.wait_for_selector(item, state="detached", timeout=WAIT_MS)
    assert stubs.ListNotifications(a.ListNotificationsRequest()).notifications == []
    assert page.locator("#events li[data-kind=notification]").count() == 1
