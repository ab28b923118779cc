"""Ivanovo's password recovery by SMS code in Chromium: the countdown, the code, axe-core."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

from tests.browser.conftest import axe_violations
from tests.web.test_recovery import (
    OLD_PASSWORD,
    last_code,
    make_customer,
    messages_to,
    ru_mobile,
)

pytestmark = pytest.mark.browser

NEW_PASSWORD = "Browser2026pass"
T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    # In a thread of its own: Playwright's sync API keeps an event loop running in this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _open(browser: Any, **options: Any) -> Any:
    # bypass_csp only lets the test inject axe-core; the portal's own pages never need it.
    context = browser.new_context(bypass_csp=True, locale="ru-RU", **options)
    return context, context.new_page()


def _ask_for_code(page: Any, base: str, phone: str) -> None:
    page.goto(f"{base}/recover")
    page.fill("#identifier", f"8 {phone[2:5]} {phone[5:8]} {phone[8:10]} {phone[10:]}")
    page.locator("form[action='/recover'] button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/recover/code\?ticket=.*"))


def test_recovery_by_sms_code_with_a_countdown(
    browser: Any, live_server: str, database_url: str
) -> None:
    phone = ru_mobile()
    run(make_customer(database_url, "ivanovo-water", identifiers={"phone": phone}, phone=phone))
    base = f"http://ivanovo-water.{live_server}"
    context, page = _open(browser)
    try:
        _ask_for_code(page, base, phone)
        assert page.get_attribute("html", "lang") == "ru"
        countdown = page.locator("[data-countdown-until]")
        assert re.search(r"\b0[23]:\d\d\b", countdown.inner_text())
        resend = page.locator("#resend-button")
        assert resend.is_disabled()
        assert axe_violations(page) == []

        page.fill("#code", run(last_code(database_url, phone)))
        page.fill("#password", NEW_PASSWORD)
        page.fill("#password_repeat", NEW_PASSWORD)
        page.locator("form[action='/recover/code'] button[type=submit]").click()
        page.wait_for_url(f"{base}/recover/done")
        assert axe_violations(page) == []

        page.goto(f"{base}/sign-in")
        page.fill("#identifier", phone)
        page.fill("#password", NEW_PASSWORD)
        page.locator("form[action='/sign-in'] button[type=submit]").click()
        page.wait_for_url(f"{base}/cabinet")
    finally:
        context.close()


def test_without_javascript_the_page_states_the_time(
    browser: Any, live_server: str, database_url: str
) -> None:
    phone = ru_mobile()
    run(make_customer(database_url, "ivanovo-water", identifiers={"phone": phone}, phone=phone))
    base = f"http://ivanovo-water.{live_server}"
    context, page = _open(browser, java_script_enabled=False)
    try:
        _ask_for_code(page, base, phone)
        note = page.locator("[data-countdown-until]").inner_text()
        assert re.search(r"\d\d:\d\d", note)
        resend = page.locator("#resend-button")
        assert resend.is_enabled()
        # Too early: the server says so, and no second SMS goes out.
        resend.click()
        assert page.locator(".alert.error").is_visible()
        assert len(run(messages_to(database_url, phone))) == 1
    finally:
        context.close()


def test_profile_pages_pass_axe(browser: Any, live_server: str, database_url: str) -> None:
    phone = ru_mobile()
    run(
        make_customer(
            database_url, "ivanovo-water", identifiers={"phone": phone}, phone=phone, email=None
        )
    )
    base = f"http://ivanovo-water.{live_server}"
    context, page = _open(browser)
    try:
        page.goto(f"{base}/sign-in")
        page.fill("#identifier", phone)
        page.fill("#password", OLD_PASSWORD)
        page.locator("form[action='/sign-in'] button[type=submit]").click()
        page.wait_for_url(f"{base}/cabinet")
        for path in ("/profile", "/profile/password", "/profile/email", "/profile/contact"):
            page.goto(f"{base}{path}")
            assert axe_violations(page) == [], path
        # A form sent back with its messages passes too.
        page.goto(f"{base}/profile/password")
        page.locator("form[action='/profile/password'] button[type=submit]").click()
        page.wait_for_load_state()
        assert page.locator("#current_password-error").is_visible()
        assert axe_violations(page) == []
        page.goto(f"{base}/recover")
        page.fill("#identifier", "12")
        page.locator("form[action='/recover'] button[type=submit]").click()
        page.wait_for_load_state()
        assert page.locator("#identifier-error").is_visible()
        assert axe_violations(page) == []
    finally:
        context.close()
