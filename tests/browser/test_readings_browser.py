"""Readings in a real browser: a kz-vodokanal legal entity's partial submission (Cancel
records nothing, "Send only these" records), melitopol-gas outside and inside its window,
axe-core on each page. The portal's clock is set per server, never the wall clock's."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

import pytest

from domain.demo import DEMO_PASSWORD
from tests.browser.conftest import axe_violations, running_portal
from tests.web.test_readings_support import (
    Household,
    MeterSpec,
    current_readings,
    make_household,
)

pytestmark = pytest.mark.browser
T = TypeVar("T")

NOVEMBER_21 = "2026-11-21T09:00:00+00:00"
DECEMBER_3 = "2026-12-03T08:00:00+00:00"


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    # In a thread of its own: Playwright's sync API keeps a loop running in this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="module")
def november_server(database_url: str) -> Iterator[str]:
    with running_portal(database_url, PORTAL_DEMO_NOW=NOVEMBER_21) as host:
        yield host


@pytest.fixture(scope="module")
def december_server(database_url: str) -> Iterator[str]:
    with running_portal(database_url, PORTAL_DEMO_NOW=DECEMBER_3) as host:
        yield host


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    # bypass_csp only lets the test inject axe-core; the portal's own pages never need it.
    context = browser.new_context(bypass_csp=True, locale="en-GB")
    yield context.new_page()
    context.close()


def sign_in(page: Any, base: str, household: Household) -> None:
    page.goto(f"{base}/sign-in?lang=en")
    page.fill("#identifier", household.identifier)
    page.fill("#password", DEMO_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/cabinet")


def test_legal_entity_partial_submission_cancel_then_send_only_these(
    page: Any, november_server: str, database_url: str
) -> None:
    today = date(2026, 11, 21)
    household = run(
        make_household(
            database_url,
            "kz-vodokanal",
            [
                MeterSpec(service="cold_water", history=["140", "145.554"]),
                MeterSpec(service="hot_water", history=["60", "63.2"]),
            ],
            today,
            kind="legal",
        )
    )
    cold, hot = household.meters
    base = f"http://kz-vodokanal.{november_server}"
    sign_in(page, base, household)
    page.goto(f"{base}/accounts/{household.account_id}/readings?lang=en")
    assert axe_violations(page) == []
    # The page stays loaded all along: htmx swaps the readings section, no reload.
    page.evaluate("window.stillTheSamePage = true")

    # A value checked as it is typed: too many decimals says so next to the input.
    page.locator(f"#value-{cold}").press_sequentially("150.12345", delay=20)
    page.locator(f"#check-{cold}").filter(has_text="at most 3 decimal places").wait_for()
    page.locator(f"#value-{cold}").fill("150.5")
    page.locator(f"#check-{cold} p").wait_for(state="detached")

    page.get_by_role("button", name="Send readings").click()
    panel = page.locator("#partial")
    panel.filter(has_text="You entered readings for 1 of 2 meters. Send only these?").wait_for()
    assert page.evaluate("window.stillTheSamePage") is True
    assert page.input_value(f"#value-{cold}") == "150.5"
    assert axe_violations(page) == []

    panel.get_by_role("link", name="Cancel").click()
    page.wait_for_load_state()
    assert page.locator("#partial").count() == 0
    assert run(current_readings(database_url, cold, today)) == []
    assert run(current_readings(database_url, hot, today)) == []

    page.evaluate("window.stillTheSamePage = true")
    page.locator(f"#value-{cold}").fill("150.5")
    page.get_by_role("button", name="Send readings").click()
    page.locator("#partial").get_by_role("button", name="Send only these").click()
    page.get_by_role("status").filter(has_text="are being processed").wait_for()
    assert page.evaluate("window.stillTheSamePage") is True
    row = page.locator("tr", has=page.locator(f"#value-{cold}"))
    assert "Being processed" in row.inner_text()
    assert page.input_value(f"#value-{cold}") == "150.500"
    assert axe_violations(page) == []

    (reading,) = run(current_readings(database_url, cold, today))
    assert reading.value == Decimal("150.5") and reading.confirmations == "partial"
    assert reading.customer_id == household.customer_id and reading.status == "processing"
    assert run(current_readings(database_url, hot, today)) == []


def test_melitopol_gas_outside_its_window_has_no_form(
    page: Any, november_server: str, database_url: str
) -> None:
    household = run(
        make_household(
            database_url,
            "melitopol-gas",
            [MeterSpec(service="gas", history=["500", "540"])],
            date(2026, 11, 21),
            own_customer=True,
        )
    )
    base = f"http://melitopol-gas.{november_server}"
    sign_in(page, base, household)
    page.goto(f"{base}/readings?lang=en")
    page.wait_for_url(f"**/accounts/{household.account_id}/readings*")
    main = page.inner_text("main")
    assert "Readings are taken from December 1, 2026." in main
    assert page.locator("main form[action$='/readings']").count() == 0
    assert page.locator("input[inputmode=decimal]").count() == 0
    assert axe_violations(page) == []


def test_melitopol_gas_inside_its_window_takes_a_reading(
    page: Any, december_server: str, database_url: str
) -> None:
    today = date(2026, 12, 3)
    household = run(
        make_household(
            database_url, "melitopol-gas", [MeterSpec(service="gas", history=["500", "540"])], today
        )
    )
    (meter,) = household.meters
    base = f"http://melitopol-gas.{december_server}"
    sign_in(page, base, household)
    page.goto(f"{base}/accounts/{household.account_id}/readings?lang=en")
    assert "Readings are taken until December 5, 2026." in page.inner_text("main")
    assert axe_violations(page) == []
    page.locator(f"#value-{meter}").fill("575,25")
    page.get_by_role("button", name="Send readings").click()
    page.get_by_role("status").filter(has_text="are being processed").wait_for()
    row = page.locator("tr", has=page.locator(f"#value-{meter}"))
    assert "Being processed" in row.inner_text()
    assert axe_violations(page) == []
    (reading,) = run(current_readings(database_url, meter, today))
    assert reading.value == Decimal("575.25") and reading.taken_on == today
