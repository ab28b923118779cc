"""Visit requests, readings without registration and the staff queues in a real browser:
axe-core finds nothing, with and without errors on the page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest

from domain.demo import DEMO_PASSWORD, DEMO_STAFF_LOGIN
from tests.browser.conftest import axe_violations

pytestmark = pytest.mark.browser

SLUG = "ivanovo-water"
DEMO_PHONE = "+79123451234"


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    # bypass_csp only lets the test inject axe-core; the portal's own pages never need it.
    context = browser.new_context(bypass_csp=True, locale="ru-RU")
    yield context.new_page()
    context.close()


def _checked(page: Any, url: str) -> None:
    page.goto(url)
    assert axe_violations(page) == [], url


def test_customer_visit_pages_pass_axe(page: Any, live_server: str) -> None:
    base = f"http://{SLUG}.{live_server}"
    page.goto(f"{base}/sign-in")
    page.fill("#identifier", DEMO_PHONE)
    page.fill("#password", DEMO_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/cabinet")
    _checked(page, f"{base}/visits")
    _checked(page, f"{base}/visits/new?kind=meter_check")
    # Sent empty: every required field says what is missing, and nothing is recorded.
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("[aria-invalid=true]").count() >= 1
    assert axe_violations(page) == []
    # A real request, for the staff queue below: the next working day (Mon–Sat) after tomorrow.
    day = date.today() + timedelta(days=2)
    while day.isoweekday() == 7:
        day += timedelta(days=1)
    page.select_option("#account", index=1)
    page.fill("#phone", "+7 910 000-00-01")
    page.fill("#visit_date", day.isoformat())
    page.select_option("#slot", "10:00")
    page.click("main form button[type=submit]")
    page.wait_for_url("**/visits*")
    assert axe_violations(page) == []


def test_reading_without_registration_passes_axe(page: Any, live_server: str) -> None:
    base = f"http://{SLUG}.{live_server}"
    _checked(page, f"{base}/readings/anonymous")
    page.fill("input[name=value]", "-5")
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("[aria-invalid=true]").count() >= 1
    assert axe_violations(page) == []
    page.fill("input[name=full_name]", "Иванов Иван Иванович")
    page.fill("input[name=phone]", "+7 910 000-00-02")
    page.fill("input[name=meter_number]", "12345678")
    page.fill("input[name=value]", "123,5")
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("[aria-invalid=true]").count() == 0
    assert axe_violations(page) == []


def test_staff_queues_pass_axe(page: Any, live_server: str) -> None:
    base = f"http://{SLUG}.{live_server}"
    page.goto(f"{base}/admin/sign-in")
    page.fill("input[name=login]", DEMO_STAFF_LOGIN)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/admin")
    assert axe_violations(page) == []
    _checked(page, f"{base}/admin/visits?status=all")
    assert page.locator("main table").count() == 1  # the request sent above is listed
    page.locator("main table a").first.click()
    page.wait_for_load_state()
    assert axe_violations(page) == []
    _checked(page, f"{base}/admin/anonymous-readings")
    assert page.get_by_text("Иванов Иван Иванович").count() >= 1
