"""The cabinet and account pages in a real browser: axe-core finds nothing, errors included."""

from __future__ import annotations

import asyncio
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from typing import Any

import pytest

from domain.demo import DEMO_PASSWORD
from tests.browser.conftest import axe_violations
from tests.helpers import create_customer
from tests.web.test_cabinet_home import Made, link, make_account

pytestmark = pytest.mark.browser

SLUG = "ivanovo-water"


async def _customer_with_account(database_url: str) -> tuple[str, Made]:
    account = await make_account(
        database_url,
        SLUG,
        charges=[(date(2026, 9, 1), "cold_water", "300.00"), (date(2026, 10, 1), "gas", "20.00")],
        payments=[(datetime(2026, 10, 5, 9, 0, tzinfo=UTC), "100.00")],
    )
    email = f"axe-{secrets.token_hex(5)}@example.com"
    customer_id = await create_customer(database_url, SLUG, {"email": email}, email=email)
    await link(database_url, SLUG, customer_id, account.id, "My flat")
    return email, account


def test_account_pages_pass_axe(browser: Any, live_server: str, database_url: str) -> None:
    with ThreadPoolExecutor(max_workers=1) as pool:
        email, account = pool.submit(asyncio.run, _customer_with_account(database_url)).result()
    context = browser.new_context(bypass_csp=True, locale="en-US")
    page = context.new_page()
    base = f"http://{SLUG}.{live_server}"
    try:
        page.goto(f"{base}/sign-in")
        page.locator("#identifier").fill(email)
        page.locator("#password").fill(DEMO_PASSWORD)
        page.locator("form button[type=submit]").last.click()
        page.wait_for_url(f"{base}/cabinet")
        assert page.get_by_role("heading", name="My flat").is_visible()
        assert axe_violations(page) == []

        page.locator(f"#account-{account.id}").get_by_role("link", name="Statement").click()
        page.wait_for_url(f"{base}/accounts/{account.id}/statement")
        assert axe_violations(page) == []
        page.goto(f"{base}/accounts/{account.id}/statement?from=2026-13&to=abc")
        assert page.get_by_role("alert").count() == 0
        assert page.locator("#period-from").get_attribute("aria-invalid") == "true"
        assert axe_violations(page) == []

        page.goto(f"{base}/accounts/link")
        page.get_by_role("button", name="Add the account").click()
        assert page.locator("#account_number").get_attribute("aria-invalid") == "true"
        assert axe_violations(page) == []
        page.locator("#account_number").fill("00000")
        page.locator("#proof").fill("1234")
        page.get_by_role("button", name="Add the account").click()
        assert page.get_by_role("alert").is_visible()
        assert axe_violations(page) == []

        page.goto(f"{base}/accounts/{account.id}/nickname")
        assert axe_violations(page) == []
        page.goto(f"{base}/accounts/{account.id}/unlink")
        assert axe_violations(page) == []
    finally:
        context.close()
