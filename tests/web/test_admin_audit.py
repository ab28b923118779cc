"""The audit log: every queue action writes its entry, and /admin/audit filters, pages and
scopes them (a tenant admin never sees another tenant's or the platform's entries). Last,
every page of customer support and the audit log in a real browser, checked by axe-core."""

from __future__ import annotations

import asyncio
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import col, select

from domain.audit import AuditEntry, record_action
from domain.db import Database
from domain.demo import DEMO_PASSWORD
from domain.models import AnonymousReading, Meter, VisitRequest
from tests.browser import conftest as browser_conftest
from tests.browser.conftest import axe_violations
from tests.conftest import MakeClient, tenant_url
from tests.helpers import text_of
from tests.staff_support import (
    an_address,
    audit_entries,
    operator_sign_in,
    post_on_page,
    staff_on,
)
from tests.web.test_admin import new_request
from tests.web.test_visits_support import own_customer, tenant_id

IVANOVO = "ivanovo-water"
KZ = "kz-vodokanal"
WUJIANG = "wujiang-water"
BEIJING = "beijing-unicom"

# The shared browser fixtures: a real `portal serve` process and headless Chromium.
live_server = browser_conftest.live_server
browser = browser_conftest.browser


async def test_every_queue_action_writes_an_audit_entry(
    make_client: MakeClient, database: Database, database_url: str
) -> None:
    address = an_address()
    wujiang = await staff_on(make_client, WUJIANG, address)
    async with database.session() as session:
        signed = (
            await session.exec(
                select(AuditEntry)
                .where(AuditEntry.action == "staff.sign_in", AuditEntry.address == address)
                .order_by(col(AuditEntry.id).desc())
            )
        ).first()
    assert signed is not None and signed.actor == "admin"
    assert signed.tenant_id == await tenant_id(database, WUJIANG)

    approved, rejected = await new_request(database), await new_request(database)
    page = f"/admin/activations/{approved.id}"
    assert (await post_on_page(wujiang, WUJIANG, page, f"{page}/approve", {})).status_code == 303
    page = f"/admin/activations/{rejected.id}"
    response = await post_on_page(wujiang, WUJIANG, page, f"{page}/reject", {"reason": "No ID."})
    assert response.status_code == 303
    [approval] = await audit_entries(database, "activation_request", approved.id)
    assert approval.action == "activation.approve" and approval.address == address
    assert approval.before == {"status": "pending"}
    assert approval.after is not None and approval.after["status"] == "approved"
    [rejection] = await audit_entries(database, "activation_request", rejected.id)
    assert rejection.after == {"status": "rejected", "reason": "No ID."}

    owner = await own_customer(database, database_url)
    account = owner.accounts[0]
    ivanovo_id = await tenant_id(database, IVANOVO)
    async with database.session() as session:
        meter = await session.get(Meter, owner.meters[account][0])
        assert meter is not None and meter.factory_number
        visit = VisitRequest(
            tenant_id=ivanovo_id,
            customer_id=owner.customer_id,
            account_id=account,
            kind="meter_check",
            phone=owner.phone,
            visit_date=date(2026, 11, 24),
            slot="10:00",
        )
        recorded, refused = (
            AnonymousReading(
                tenant_id=ivanovo_id,
                full_name="Иван Тестов",
                phone=owner.phone,
                meter_number=meter.factory_number,
                value=value,
            )
            for value in (Decimal("123.5"), Decimal("124"))
        )
        session.add_all([visit, recorded, refused])
        await session.commit()
    ivanovo = await staff_on(make_client, IVANOVO, address)
    page = f"/admin/visits/{visit.id}"
    response = await post_on_page(
        ivanovo, IVANOVO, page, f"{page}/status", {"expected": "submitted", "status": "scheduled"}
    )
    assert response.status_code == 303
    page = "/admin/anonymous-readings"
    response = await post_on_page(
        ivanovo, IVANOVO, page, f"{page}/{recorded.id}/record", {"meter": str(meter.id)}
    )
    assert response.status_code == 303
    response = await post_on_page(
        ivanovo, IVANOVO, page, f"{page}/{refused.id}/reject", {"note": "Not our meter."}
    )
    assert response.status_code == 303

    [status] = await audit_entries(database, "visit_request", visit.id)
    assert (status.action, status.before, status.after) == (
        "visit.status",
        {"status": "submitted"},
        {"status": "scheduled", "note": ""},
    )
    [record] = await audit_entries(database, "anonymous_reading", recorded.id)
    assert record.action == "anonymous_reading.record"
    assert record.after is not None and record.after["meter_id"] == meter.id
    [reject] = await audit_entries(database, "anonymous_reading", refused.id)
    assert reject.after == {"status": "rejected", "note": "Not our meter."}
    assert {e.tenant_id for e in (status, record, reject)} == {ivanovo_id}


async def test_the_log_filters_pages_and_stays_in_its_tenant(
    make_client: MakeClient, database: Database
) -> None:
    ivanovo_id, kz_id = await tenant_id(database, IVANOVO), await tenant_id(database, KZ)
    target = f"audit-test-{secrets.token_hex(4)}"
    # Midnight in Ivanovo (Europe/Moscow, UTC+3) is 21:00 UTC: the newest entry is on
    # 21 November there, the 54 older ones (a minute apart) on the 20th.
    late_evening = datetime(2026, 11, 20, 21, 0, 30, tzinfo=UTC)
    async with database.session() as session:
        for minute in range(55):
            entry = record_action(
                session,
                tenant_id=ivanovo_id,
                staff_id=None,
                actor="somebody",
                action="customer.lock",
                target_type="customer",
                target_id=target,
                before={"status": "active", "note": f"n{minute}"},
                after={"status": "locked", "note": f"n{minute}"},
            )
            entry.at = late_evening - timedelta(minutes=minute)
        record_action(
            session,
            tenant_id=kz_id,
            staff_id=None,
            actor="somebody",
            action="customer.lock",
            target_type="customer",
            target_id=target,
        )
        record_action(
            session,
            tenant_id=None,
            staff_id=None,
            actor="operator",
            action="tenant.create",
            target_type="tenant",
            target_id=target,
            after={"slug": target},
        )
        await session.commit()
    staff = await staff_on(make_client, IVANOVO, an_address())
    staff.headers["Accept-Language"] = "en"
    wanted = {"target_type": "customer", "target_id": target}

    first = await staff.get(tenant_url(IVANOVO, "/admin/audit"), params=wanted)
    assert first.status_code == 200
    text = text_of(first.text)
    assert "55 entries match." in text and "Page 1 of 2" in text
    assert text.count("Customer locked") >= 50
    # Newest first, and each entry's before and after side by side, key by key.
    assert text.index("note: n0 (unchanged)") < text.index("note: n1 (unchanged)")
    assert "status: active → locked" in text
    second = await staff.get(tenant_url(IVANOVO, "/admin/audit"), params={**wanted, "page": "2"})
    assert "note: n54 (unchanged)" in text_of(second.text)
    assert "note: n0 (unchanged)" not in text_of(second.text)

    by_actor = await staff.get(
        tenant_url(IVANOVO, "/admin/audit"), params={**wanted, "actor": "SOMEBODY"}
    )
    assert "55 entries match." in text_of(by_actor.text)
    by_day = await staff.get(
        tenant_url(IVANOVO, "/admin/audit"), params={**wanted, "from": "21.11.2026"}
    )
    assert "1 entry matches." in text_of(by_day.text)
    before_day = await staff.get(
        tenant_url(IVANOVO, "/admin/audit"),
        params={**wanted, "from": "2026-11-20", "to": "2026-11-20"},
    )
    assert "54 entries match." in text_of(before_day.text)
    other_action = await staff.get(
        tenant_url(IVANOVO, "/admin/audit"), params={**wanted, "action": "customer.unlock"}
    )
    assert "0 entries match." in text_of(other_action.text)

    bad = await staff.get(
        tenant_url(IVANOVO, "/admin/audit"), params={"from": "yesterday", "to": "2026-13-01"}
    )
    assert bad.status_code == 400
    assert 'id="filter-from-error"' in bad.text and 'id="filter-to-error"' in bad.text
    assert 'value="yesterday"' in bad.text
    reversed_range = await staff.get(
        tenant_url(IVANOVO, "/admin/audit"), params={"from": "2026-11-21", "to": "2026-11-20"}
    )
    assert reversed_range.status_code == 400 and "before the “from” date" in reversed_range.text
    unknown = await staff.get(tenant_url(IVANOVO, "/admin/audit"), params={"action": "drop.all"})
    assert unknown.status_code == 400 and 'id="filter-action-error"' in unknown.text

    # Platform-wide entries: not for a tenant admin, even when asked; an operator may ask.
    asked = await staff.get(
        tenant_url(IVANOVO, "/admin/audit"),
        params={"target_type": "tenant", "target_id": target, "platform": "on"},
    )
    assert "0 entries match." in text_of(asked.text) and 'name="platform"' not in asked.text
    operator = await make_client(an_address())
    assert (await operator_sign_in(operator, IVANOVO)).status_code == 303
    own = {"target_type": "tenant", "target_id": target}
    hidden = await operator.get(tenant_url(IVANOVO, "/admin/audit"), params=own)
    assert "0 entries match." in text_of(hidden.text)
    shown = await operator.get(
        tenant_url(IVANOVO, "/admin/audit"), params={**own, "platform": "on"}
    )
    assert "1 entry matches." in text_of(shown.text) and "Platform-wide" in text_of(shown.text)

    # The kz admin sees kz's entry only; the ivanovo session is worthless on the kz host.
    kz = await staff_on(make_client, KZ, an_address())
    kz.headers["Accept-Language"] = "en"
    theirs = await kz.get(tenant_url(KZ, "/admin/audit"), params=wanted)
    assert "1 entry matches." in text_of(theirs.text)
    elsewhere = await staff.get(tenant_url(KZ, "/admin/audit"))
    assert elsewhere.status_code == 303 and "/admin/sign-in" in elsewhere.headers["location"]


# --- every page of customer support and the audit log in a real browser --------------------


async def _browser_data(database_url: str) -> dict[str, object]:
    from tests.web.test_admin_support import broadband_line, failed_message
    from tests.web.test_recovery import make_customer, ru_mobile, unique_email

    database = Database(database_url)
    try:
        email = unique_email("axe")
        customer = await make_customer(
            database_url,
            IVANOVO,
            identifiers={"email": email},
            email=email,
            phone=ru_mobile(),
            full_name="Анна Доступная",
        )
        await failed_message(database, IVANOVO, email, "failed")
        _, _, (request_id,) = await broadband_line(
            database, requests=[{"kind": "close", "effective_on": date(2026, 11, 30)}]
        )
    finally:
        await database.dispose()
    return {"email": email, "customer": customer, "request": request_id}


def _sign_in(page: Any, base: str) -> None:
    page.goto(f"{base}/admin/sign-in")
    page.get_by_label("Login").fill("admin")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/admin")


@pytest.mark.browser
def test_every_support_page_passes_axe(browser: Any, live_server: str, database_url: str) -> None:
    with ThreadPoolExecutor(max_workers=1) as pool:
        data = pool.submit(asyncio.run, _browser_data(database_url)).result()
    context = browser.new_context(bypass_csp=True, locale="en-US")
    page = context.new_page()
    base = f"http://{IVANOVO}.{live_server}"
    try:
        _sign_in(page, base)
        assert axe_violations(page) == []
        for path in (
            "/admin/customers",
            "/admin/customers?q=a",
            f"/admin/customers?q={data['email']}",
            f"/admin/customers/{data['customer']}",
            "/admin/outbox",
            "/admin/audit",
            "/admin/audit?from=yesterday&action=customer.lock",
        ):
            page.goto(f"{base}{path}")
            assert axe_violations(page) == [], path
        page.goto(f"{base}/admin/customers/{data['customer']}")
        page.get_by_role("button", name="Lock the customer").click()
        page.wait_for_url(f"{base}/admin/customers/{data['customer']}?done=lock")
        assert page.get_by_role("status").is_visible()
        page.get_by_role("link", name="All of this customer's entries in the audit log").click()
        assert page.get_by_text("status: active → locked").is_visible()
        assert axe_violations(page) == []

        base = f"http://{BEIJING}.{live_server}"
        _sign_in(page, base)
        page.goto(f"{base}/admin/broadband-requests")
        assert axe_violations(page) == []
        section = page.locator(f"#request-{data['request']}")
        section.get_by_role("button", name="Cancel the request").click()
        reason = page.locator(f"#reason-{data['request']}")
        assert reason.get_attribute("aria-invalid") == "true"
        assert axe_violations(page) == []
    finally:
        context.close()
