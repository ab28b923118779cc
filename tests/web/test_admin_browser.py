"""The staff pages in a real browser: axe-core finds nothing on any of them, in every state."""

from __future__ import annotations

import asyncio
import secrets
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlmodel import select

from domain.activation import ActivationRequest
from domain.db import Database
from domain.demo import DEMO_PASSWORD
from domain.models import Account, Tenant
from tests.browser import conftest as browser_conftest
from tests.browser.conftest import axe_violations

pytestmark = pytest.mark.browser

# The shared browser fixtures: a real `portal serve` process and headless Chromium.
live_server = browser_conftest.live_server
browser = browser_conftest.browser

SLUG = "wujiang-water"


async def _pending_request(database_url: str) -> int:
    database = Database(database_url)
    async with database.session() as session:
        tenant = (await session.exec(select(Tenant).where(Tenant.slug == SLUG))).one()
        assert tenant.id is not None
        account = Account(
            tenant_id=tenant.id,
            number=f"7{secrets.randbelow(10**10):010d}",
            holder_name="周无障碍",
        )
        session.add(account)
        await session.flush()
        phone = f"+86137{secrets.randbelow(10**8):08d}"
        request = ActivationRequest(
            tenant_id=tenant.id,
            variant="individual",
            values={
                "account_number": account.number,
                "holder_name": "周无障",
                "resident_id": "320584199303151237",
                "mobile": phone,
                "email": "zhou@example.test",
            },
            checks={
                "account": True,
                "account_number": True,
                "holder_name": False,
                "resident_id": True,
            },
            account_id=account.id,
            phone=phone,
            email="zhou@example.test",
            locale="zh_Hans",
        )
        session.add(request)
        await session.commit()
        assert request.id is not None
        request_id = request.id
    await database.dispose()
    return request_id


def pending_request(database_url: str) -> int:
    # In a thread of its own: Playwright's sync API runs an event loop in this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _pending_request(database_url)).result()


def test_every_staff_page_passes_axe(browser: Any, live_server: str, database_url: str) -> None:
    first, second = pending_request(database_url), pending_request(database_url)
    context = browser.new_context(bypass_csp=True, locale="en-US")
    page = context.new_page()
    base = f"http://{SLUG}.{live_server}"
    try:
        page.goto(f"{base}/admin")
        assert page.url.startswith(f"{base}/admin/sign-in")
        assert axe_violations(page) == []

        page.get_by_label("Login").fill("admin")
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Sign in").click()
        assert page.get_by_role("alert").is_visible()
        assert axe_violations(page) == []

        page.get_by_label("Password").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{base}/admin")
        assert page.get_by_role("heading", level=1).inner_text() == "Staff area"
        assert axe_violations(page) == []

        page.get_by_role("link", name="Open the approval queue").click()
        page.wait_for_url(f"{base}/admin/activations")
        assert page.get_by_text("Does not match the record").first.is_visible()
        assert axe_violations(page) == []

        page.get_by_role("link", name=f"Review request {first}").click()
        page.wait_for_url(f"{base}/admin/activations/{first}")
        assert axe_violations(page) == []

        # Rejecting without a reason: the message sits by the field, the page still passes.
        page.get_by_role("button", name="Reject").click()
        assert page.get_by_text("Give the reason").is_visible()
        assert page.get_by_label("Reason for rejecting").get_attribute("aria-invalid") == "true"
        assert axe_violations(page) == []

        page.get_by_label("Reason for rejecting").fill("The name does not match the holder.")
        page.get_by_role("button", name="Reject").click()
        page.wait_for_url(f"{base}/admin/activations/{first}")
        assert page.get_by_role("status").inner_text().startswith("Rejected on")
        assert axe_violations(page) == []

        page.goto(f"{base}/admin/activations/{second}")
        page.get_by_role("button", name="Approve and send the password").click()
        page.wait_for_url(f"{base}/admin/activations/{second}")
        assert page.get_by_role("status").inner_text().startswith("Approved on")
        assert axe_violations(page) == []
    finally:
        context.close()
