"""Paying from the cabinet in a real browser: the pay form (errors included), the sandbox
bank's hosted page, a second tab on the return page whose htmx polling turns "Processing"
into "Paid" once the first tab pays, and the receipt; axe-core finds nothing on each."""

from __future__ import annotations

import asyncio
import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

import pytest

from domain.demo import DEMO_PASSWORD
from tests.browser.conftest import axe_violations
from tests.helpers import create_customer
from tests.web.test_cabinet_home import Made, link, make_account

pytestmark = pytest.mark.browser

SLUG = "ivanovo-water"


async def _payer(database_url: str) -> tuple[str, Made]:
    account = await make_account(
        database_url, SLUG, charges=[(date(2026, 10, 1), "cold_water", "420.00")]
    )
    email = f"pay-{secrets.token_hex(5)}@example.com"
    customer_id = await create_customer(database_url, SLUG, {"email": email}, email=email)
    await link(database_url, SLUG, customer_id, account.id, "My flat")
    return email, account


def test_pay_through_the_sandbox_with_polling(
    browser: Any, live_server: str, database_url: str
) -> None:
    with ThreadPoolExecutor(max_workers=1) as pool:
        email, account = pool.submit(asyncio.run, _payer(database_url)).result()
    # bypass_csp only lets the test inject axe-core; the portal's own pages never need it.
    context = browser.new_context(bypass_csp=True, locale="en-US")
    page = context.new_page()
    base = f"http://{SLUG}.{live_server}"
    try:
        page.goto(f"{base}/sign-in?lang=en")
        page.locator("#identifier").fill(email)
        page.locator("#password").fill(DEMO_PASSWORD)
        page.locator("form button[type=submit]").last.click()
        page.wait_for_url(f"{base}/cabinet")
        page.locator(f"#account-{account.id}").get_by_role("link", name="Pay", exact=True).click()
        page.wait_for_url(f"{base}/accounts/{account.id}/pay")
        assert page.locator("#amount").input_value() == "420.00"
        assert axe_violations(page) == []

        page.locator("#amount").fill("1,234")
        page.get_by_role("button", name="Go to payment").click()
        assert page.locator("#amount").get_attribute("aria-invalid") == "true"
        assert page.locator("#purpose").get_attribute("aria-invalid") == "true"
        assert page.get_by_role("alert").is_visible()
        assert axe_violations(page) == []

        page.locator("#amount").fill("120.50")
        page.locator("#purpose").select_option("water")
        page.get_by_role("button", name="Go to payment").click()
        page.wait_for_url(re.compile(r".*/payments/sandbox/[0-9a-f]{32}$"))
        reference = page.url.rsplit("/", 1)[1]
        assert page.locator("#main").get_by_text("Vodokanal JSC, Ivanovo").is_visible()
        assert axe_violations(page) == []

        # A second tab on the return page: processing, and polling every two seconds.
        watcher = context.new_page()
        watcher.goto(f"{base}/payments/{reference}")
        assert watcher.get_by_text("Processing.", exact=False).is_visible()
        assert axe_violations(watcher) == []

        page.get_by_role("button", name=re.compile(r"^Pay ")).click()
        page.wait_for_url(f"{base}/payments/{reference}")
        assert page.get_by_text("Paid.", exact=False).is_visible()
        # The other tab learns it without a reload, and stops asking.
        watcher.get_by_text("Paid.", exact=False).wait_for(timeout=10_000)
        assert watcher.locator("[hx-trigger]").count() == 0
        assert axe_violations(watcher) == []

        page.get_by_role("link", name="Printable receipt").click()
        page.wait_for_url(re.compile(rf".*/accounts/{account.id}/payments/\d+$"))
        assert page.get_by_text(reference).is_visible()
        assert axe_violations(page) == []
        page.get_by_role("link", name="Payment history").click()
        assert page.get_by_role("table").is_visible()
        assert axe_violations(page) == []
    finally:
        context.close()
