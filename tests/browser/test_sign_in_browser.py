"""Signing in with a real browser: every tenant's sign-in page passes axe; the cabinet after it."""

from __future__ import annotations

from typing import Any

import pytest

from domain.demo import DEMO_PASSWORD
from tests.browser.conftest import axe_violations

pytestmark = pytest.mark.browser

SLUGS = [
    "wujiang-water",
    "melitopol-water",
    "melitopol-gas",
    "beijing-unicom",
    "ivanovo-water",
    "kz-vodokanal",
]


@pytest.fixture
def page(browser: Any) -> Any:
    # bypass_csp only lets the test inject axe-core; the portal's own pages never need it.
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    yield page
    context.close()


def test_every_sign_in_page_passes_axe(page: Any, live_server: str) -> None:
    for slug in SLUGS:
        page.goto(f"http://{slug}.{live_server}/sign-in")
        assert axe_violations(page) == [], slug


def test_sign_in_opens_the_cabinet_and_sign_out_closes_it(page: Any, live_server: str) -> None:
    page.goto(f"http://kz-vodokanal.{live_server}/sign-in?lang=kk")
    page.fill("#password", "wrong-password-1")
    page.fill("#identifier", "21875357")
    page.click("button[type=submit]")
    assert page.locator(".alert.error").is_visible()
    assert page.input_value("#identifier") == "21875357"
    assert axe_violations(page) == []
    page.fill("#password", DEMO_PASSWORD)
    page.check("#remember")
    page.click("button[type=submit]")
    page.wait_for_url("**/cabinet")
    assert "21875357" in page.inner_text("main")
    assert axe_violations(page) == []
    page.click(".account-nav button[type=submit]")
    page.wait_for_url(f"http://kz-vodokanal.{live_server}/")
    page.goto(f"http://kz-vodokanal.{live_server}/cabinet")
    assert "/sign-in" in page.url
