"""Registration in a real browser: the live "vk" + contract login, field checks, axe-core."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import axe_violations

pytestmark = pytest.mark.browser


def _open(browser: Any, **options: Any) -> Any:
    # bypass_csp only lets the test inject axe-core; the portal's own pages never need it.
    context = browser.new_context(bypass_csp=True, locale="ru-RU", **options)
    return context, context.new_page()


def test_legal_entity_form_shows_the_login_as_the_contract_is_typed(
    browser: Any, live_server: str
) -> None:
    context, page = _open(browser)
    try:
        page.goto(f"http://kz-vodokanal.{live_server}/register?lang=ru")
        assert axe_violations(page) == []
        page.get_by_role("link", name="Юридическое лицо").click()
        page.wait_for_load_state()
        assert "variant=legal" in page.url
        assert axe_violations(page) == []

        preview = page.locator("#login-preview")
        page.locator("#contract_number").press_sequentially("123", delay=50)
        preview.filter(has_text="vk123").wait_for(timeout=5000)
        page.locator("#contract_number").press_sequentially("4", delay=50)
        preview.filter(has_text="vk1234").wait_for(timeout=5000)

        # Leaving a field checks it: a wrong IIN/BIN gets its message next to it.
        page.locator("#iin_bin").fill("123456789012")
        page.locator("#company_name").focus()
        page.locator("#iin_bin-error").wait_for(timeout=5000)
        assert page.locator("#iin_bin").get_attribute("aria-invalid") == "true"
        # The preview still follows the contract field after that field was checked.
        page.locator("#contract_number").fill("77")
        with page.expect_response("**/forms/check"):
            page.locator("#company_name").focus()
        preview.filter(has_text="vk77").wait_for(timeout=5000)
        page.locator("#contract_number").click()
        page.keyboard.press("End")
        page.locator("#contract_number").press_sequentially("8", delay=50)
        preview.filter(has_text="vk778").wait_for(timeout=5000)
        assert axe_violations(page) == []
    finally:
        context.close()


@pytest.mark.parametrize(
    "address",
    [
        "kz-vodokanal.{live}/register?variant=individual&lang=kk",
        "melitopol-gas.{live}/register?lang=ru",
        "ivanovo-water.{live}/register?lang=ru",
        "wujiang-water.{live}/register?lang=zh_Hans",
        "wujiang-water.{live}/register/account-number?lang=zh_Hans",
        "beijing-unicom.{live}/register?lang=zh_Hans",
    ],
)
def test_registration_pages_pass_axe(browser: Any, live_server: str, address: str) -> None:
    context, page = _open(browser)
    try:
        page.goto("http://" + address.format(live=live_server))
        assert axe_violations(page) == []
        submit = page.locator("main form button[type=submit]")
        if submit.count():
            # The same page with every message shown.
            submit.first.click()
            page.wait_for_load_state()
            assert page.locator(".error").count() > 0
            assert axe_violations(page) == []
    finally:
        context.close()
