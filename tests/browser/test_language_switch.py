"""Two tenants in a real browser: switch language, the choice sticks, axe finds nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import axe_violations

pytestmark = pytest.mark.browser


def _open(browser: Any, **options: Any) -> Any:
    # bypass_csp only lets the test inject axe-core; the portal's own pages never need it.
    context = browser.new_context(bypass_csp=True, locale="en-US", **options)
    return context, context.new_page()


def test_switch_language_on_two_tenants_with_no_accessibility_violations(
    browser: Any, live_server: str
) -> None:
    context, page = _open(browser)
    try:
        page.goto(f"http://wujiang-water.{live_server}/")
        # A browser asking for English gets English, the tenant's second language.
        assert page.get_attribute("html", "lang") == "en"
        page.get_by_role("navigation", name="Language").get_by_role(
            "link", name="中文 (简体)"
        ).click()
        page.wait_for_load_state()
        assert page.get_attribute("html", "lang") == "zh-Hans"
        assert page.get_by_role("heading", level=1).inner_text() == "吴江华衍水务"
        assert page.get_by_text("网上营业厅").first.is_visible()
        assert axe_violations(page) == []

        # The choice is remembered on this host only.
        page.goto(f"http://wujiang-water.{live_server}/contact")
        assert page.get_attribute("html", "lang") == "zh-Hans"
        page.goto(f"http://kz-vodokanal.{live_server}/")
        assert page.get_attribute("html", "lang") == "en"

        page.get_by_role("link", name="Қазақ тілі").click()
        page.wait_for_load_state()
        assert page.get_attribute("html", "lang") == "kk"
        assert page.get_by_role("link", name="Негізгі мазмұнға өту").count() == 1
        assert axe_violations(page) == []

        page.get_by_role("link", name="Русский").click()
        page.wait_for_load_state()
        assert page.get_attribute("html", "lang") == "ru"
        assert axe_violations(page) == []
    finally:
        context.close()


def test_pages_work_with_javascript_off_and_on_a_small_screen(
    browser: Any, live_server: str
) -> None:
    context, page = _open(
        browser, java_script_enabled=False, viewport={"width": 360, "height": 640}
    )
    try:
        page.goto(f"http://ivanovo-water.{live_server}/")
        assert page.get_attribute("html", "lang") == "en"
        page.get_by_role("link", name="Русский").click()
        assert page.get_attribute("html", "lang") == "ru"
        page.get_by_role("link", name="Адрес и режим работы").click()
        assert page.get_by_text("Строителей проспект, 4а").is_visible()
        # Nothing wider than the screen: no sideways scrolling on a cheap phone.
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
    finally:
        context.close()


def test_skip_link_moves_focus_to_the_main_content(browser: Any, live_server: str) -> None:
    context, page = _open(browser)
    try:
        page.goto(f"http://melitopol-gas.{live_server}/")
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.className")
        assert focused == "skip-link"
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main"
    finally:
        context.close()


def test_platform_page_and_unknown_host_pass_axe(browser: Any, live_server: str) -> None:
    context, page = _open(browser)
    try:
        page.goto(f"http://{live_server}/")
        assert page.get_by_role("link", name="吴江华衍水务").count() == 1
        assert axe_violations(page) == []
        response = page.goto(f"http://no-such-utility.{live_server}/")
        assert response is not None and response.status == 404
        assert axe_violations(page) == []
    finally:
        context.close()
