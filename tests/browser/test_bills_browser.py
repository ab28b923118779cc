"""Charges breakdown and reconciliation statement in a real browser: axe-core finds nothing,
with and without an error on the page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from domain.demo import DEMO_PASSWORD
from tests.browser.conftest import axe_violations

pytestmark = pytest.mark.browser

SLUG = "kz-vodokanal"
LEGAL_LOGIN = "vk32208226"  # the demo legal entity (README)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    # bypass_csp only lets the test inject axe-core; the portal's own pages never need it.
    context = browser.new_context(bypass_csp=True, locale="kk-KZ")
    yield context.new_page()
    context.close()


def test_bills_pages_pass_axe(page: Any, live_server: str) -> None:
    base = f"http://{SLUG}.{live_server}"
    page.goto(f"{base}/sign-in")
    page.fill("#identifier", LEGAL_LOGIN)
    page.fill("#password", DEMO_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/cabinet")
    for link in ("/charges", "/reconciliation"):
        page.goto(f"{base}/cabinet")
        page.locator(f"a[href$='{link}']").first.click()
        page.wait_for_load_state()
        assert page.locator("main table").count() >= 1, link
        assert axe_violations(page) == [], link
    page.goto(page.url.split("?")[0].replace("/reconciliation", "/charges") + "?period=2026-13")
    assert page.locator("[aria-invalid=true]").count() >= 1
    assert axe_violations(page) == []
