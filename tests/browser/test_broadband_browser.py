"""beijing-unicom's broadband pages in a real browser, in Chinese: axe-core finds nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from domain.demo import DEMO_PASSWORD
from tests.browser.conftest import axe_violations

pytestmark = pytest.mark.browser

SLUG = "beijing-unicom"
DEMO_LOGIN = "lty03410"


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    # bypass_csp only lets the test inject axe-core; the portal's own pages never need it.
    context = browser.new_context(bypass_csp=True, locale="zh-CN")
    yield context.new_page()
    context.close()


def test_broadband_pages_pass_axe(page: Any, live_server: str) -> None:
    base = f"http://{SLUG}.{live_server}"
    page.goto(f"{base}/sign-in")
    page.fill("#identifier", DEMO_LOGIN)
    page.fill("#password", DEMO_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/cabinet")
    page.locator("a[href$='/broadband']").first.click()
    page.wait_for_url("**/broadband")
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    assert axe_violations(page) == []
    page.locator("a[href$='/broadband/usage']").first.click()
    page.wait_for_load_state()
    assert axe_violations(page) == []
    page.go_back()
    # The demo line is active: requests are offered, each previewed before it is confirmed.
    preview = page.locator("a[href*='/broadband/request?kind=']")
    assert preview.count() >= 1
    preview.first.click()
    page.wait_for_load_state()
    assert axe_violations(page) == []
