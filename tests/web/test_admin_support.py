"""Customer support through HTTP: search by any identifier, lock, unlock, password resets,
and the broadband and failed-message queues, each scoped to the staff member's tenant."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from typing import Any

import httpx

from domain.db import Database
from domain.models import Account, AccountLink, BroadbandRequest, BroadbandService, Customer
from domain.outbox import OutboxMessage
from tests.conftest import MakeClient, tenant_url
from tests.helpers import csrf_token, sign_in, text_of, unique_digits
from tests.staff_support import (
    audit_entries,
    post_on_page,
    staff_on,
)
from tests.web.test_recovery import (
    NEW_PASSWORD,
    OLD_PASSWORD,
    hidden,
    last_code,
    make_customer,
    messages_to,
    post_form,
    ru_mobile,
    start_code,
    typed_phone,
    unique_email,
)
from tests.web.test_visits_support import tenant_id

IVANOVO = "ivanovo-water"
KZ = "kz-vodokanal"
BEIJING = "beijing-unicom"


async def customer_row(database: Database, customer_id: int) -> Customer:
    async with database.session() as session:
        found = await session.get(Customer, customer_id)
    assert found is not None
    return found


# --- search -------------------------------------------------------------------------------


async def test_search_finds_the_customer_by_any_identifier(
    make_client: MakeClient, database: Database, database_url: str
) -> None:
    phone, email = ru_mobile(), unique_email("Support")
    number, national_id = unique_digits(12), unique_digits(12)
    surname = "Поддержкин" + secrets.choice("абвгдежз") + secrets.choice("абвгдежз")
    customer_id = await make_customer(
        database_url,
        IVANOVO,
        identifiers={"phone": phone, "email": email.lower()},
        phone=phone,
        email=email,
        full_name=f"Пётр {surname}",
        account={"number": number, "holder_national_id": national_id},
    )
    staff = await staff_on(make_client, IVANOVO)
    link = f'href="/admin/customers/{customer_id}"'
    for typed in (
        typed_phone(phone),  # "8 (910) 123-45-67": as the tenant's phone identifier reads it
        email.upper(),
        number,
        national_id,
        surname.lower(),  # part of the name, in lower case
        f"Пётр {surname}",
    ):
        found = await staff.get(tenant_url(IVANOVO, "/admin/customers"), params={"q": typed})
        assert found.status_code == 200, typed
        assert link in found.text, typed
        assert phone in found.text and number in found.text
    nothing = await staff.get(tenant_url(IVANOVO, "/admin/customers?q=nobody-at-all-here"))
    assert nothing.status_code == 200 and link not in nothing.text
    assert "No customer matches" in text_of(nothing.text)
    short = await staff.get(tenant_url(IVANOVO, "/admin/customers?q=%20a%20"))
    assert short.status_code == 400
    assert 'id="q-error"' in short.text and 'aria-describedby="q-hint q-error"' in short.text
    blank = await staff.get(tenant_url(IVANOVO, "/admin/customers"))
    assert blank.status_code == 200 and 'id="q-error"' not in blank.text
    # Another tenant's admin finds nobody by the same phone on their own host.
    other = await staff_on(make_client, KZ)
    elsewhere = await other.get(tenant_url(KZ, "/admin/customers"), params={"q": email})
    assert elsewhere.status_code == 200 and link not in elsewhere.text


async def test_a_broad_search_shows_fifty_and_asks_to_refine(
    make_client: MakeClient, database: Database
) -> None:
    token = "Многоимённый" + secrets.token_hex(3)
    tid = await tenant_id(database, IVANOVO)
    async with database.session() as session:
        session.add_all(
            Customer(tenant_id=tid, full_name=f"{token} {number}") for number in range(51)
        )
        await session.commit()
    staff = await staff_on(make_client, IVANOVO)
    found = await staff.get(tenant_url(IVANOVO, "/admin/customers"), params={"q": token})
    assert found.status_code == 200
    assert found.text.count('href="/admin/customers/') == 50
    assert "the first 50 are shown. Refine your search." in text_of(found.text)
    exact = await staff.get(tenant_url(IVANOVO, "/admin/customers"), params={"q": f"{token} 7"})
    assert exact.text.count('href="/admin/customers/') == 1


# --- lock, unlock, reset --------------------------------------------------------------------


async def test_lock_signs_the_customer_out_and_unlock_lets_them_back(
    client: httpx.AsyncClient, make_client: MakeClient, database: Database, database_url: str
) -> None:
    client.headers["Accept-Language"] = "en"
    phone = ru_mobile()
    customer_id = await make_customer(
        database_url, IVANOVO, identifiers={"phone": phone}, phone=phone, full_name="Lock Me"
    )
    assert (await sign_in(client, IVANOVO, phone, OLD_PASSWORD)).status_code == 303
    assert (await client.get(tenant_url(IVANOVO, "/cabinet"))).status_code == 200
    staff = await staff_on(make_client, IVANOVO)
    path = f"/admin/customers/{customer_id}"
    page = await staff.get(tenant_url(IVANOVO, path))
    assert page.status_code == 200
    assert "Lock Me" in page.text and "Sessions signed in now 1" in text_of(page.text)

    locked = await post_on_page(staff, IVANOVO, path, f"{path}/lock", {"expected": "active"})
    assert locked.status_code == 303 and locked.headers["location"] == f"{path}?done=lock"
    assert (await customer_row(database, customer_id)).status == "locked"
    cabinet = await client.get(tenant_url(IVANOVO, "/cabinet"))
    assert cabinet.status_code == 303 and "/sign-in" in cabinet.headers["location"]
    client.cookies.clear()
    refused = await sign_in(client, IVANOVO, phone, OLD_PASSWORD)
    assert refused.status_code != 303

    # A second staff member's form, drawn while the customer was active, is stale now.
    stale = await post_on_page(staff, IVANOVO, path, f"{path}/lock", {"expected": "active"})
    assert stale.status_code == 409
    assert "changed by someone else" in text_of(stale.text)

    unlocked = await post_on_page(staff, IVANOVO, path, f"{path}/unlock", {"expected": "locked"})
    assert unlocked.status_code == 303
    assert (await sign_in(client, IVANOVO, phone, OLD_PASSWORD)).status_code == 303

    entries = await audit_entries(database, "customer", customer_id)
    assert [(e.action, e.before, e.after) for e in entries] == [
        ("customer.lock", {"status": "active"}, {"status": "locked"}),
        ("customer.unlock", {"status": "locked"}, {"status": "active"}),
    ]
    assert entries[0].actor == "admin" and entries[0].tenant_id == await tenant_id(
        database, IVANOVO
    )
    history = text_of((await staff.get(tenant_url(IVANOVO, path))).text)
    assert "Customer locked" in history and "status: active → locked" in history


async def test_a_forced_reset_leaves_only_recovery_where_the_tenant_has_it(
    client: httpx.AsyncClient, make_client: MakeClient, database: Database, database_url: str
) -> None:
    client.headers["Accept-Language"] = "en"
    phone = ru_mobile()
    customer_id = await make_customer(
        database_url, IVANOVO, identifiers={"phone": phone}, phone=phone, locale="en"
    )
    assert (await sign_in(client, IVANOVO, phone, OLD_PASSWORD)).status_code == 303
    staff = await staff_on(make_client, IVANOVO)
    path = f"/admin/customers/{customer_id}"
    page = await staff.get(tenant_url(IVANOVO, path))
    assert "Forgot your password?" in text_of(page.text)
    reset = await post_on_page(
        staff, IVANOVO, path, f"{path}/reset-password", {"expected": "active"}
    )
    assert reset.status_code == 303 and reset.headers["location"] == f"{path}?done=reset"
    assert (await client.get(tenant_url(IVANOVO, "/cabinet"))).status_code == 303
    client.cookies.clear()
    assert (await sign_in(client, IVANOVO, phone, OLD_PASSWORD)).status_code == 400
    notice = [m for m in await messages_to(database_url, phone) if m.template != "phone_code"]
    assert [m.template for m in notice] == ["password_reset_by_staff"]
    assert "Forgot your password?" in notice[0].body_text
    [entry] = await audit_entries(database, "customer", customer_id)
    assert entry.action == "customer.force_reset"
    assert entry.before == {"status": "active", "password": "set"}
    assert entry.after == {"status": "active", "password": "none", "notified": "sms"}

    # The customer chooses a new password by SMS code, and it signs them in.
    code_page = await start_code(client, IVANOVO, typed_phone(phone))
    done = await post_form(
        client,
        IVANOVO,
        code_page,
        "/recover/code",
        {
            "ticket": hidden(code_page.text, "ticket"),
            "code": await last_code(database_url, phone),
            "password": NEW_PASSWORD,
            "password_repeat": NEW_PASSWORD,
        },
    )
    assert done.status_code == 303, text_of(done.text)[:300]
    client.cookies.clear()
    assert (await sign_in(client, IVANOVO, phone, NEW_PASSWORD)).status_code == 303


async def test_without_online_recovery_staff_get_a_temporary_password(
    client: httpx.AsyncClient, make_client: MakeClient, database: Database, database_url: str
) -> None:
    client.headers["Accept-Language"] = "en"
    contract = "97" + unique_digits(8)
    customer_id = await make_customer(
        database_url, BEIJING, identifiers={"contract_number": contract}, full_name="王测试"
    )
    staff = await staff_on(make_client, BEIJING)
    path = f"/admin/customers/{customer_id}"
    reset = await post_on_page(
        staff, BEIJING, path, f"{path}/reset-password", {"expected": "active"}
    )
    assert reset.status_code == 200
    assert reset.headers["cache-control"] == "no-store"
    temporary = reset.text.split("<strong>", 1)[1].split("</strong>", 1)[0]
    assert len(temporary) == 8 and temporary.isdigit()
    assert (await sign_in(client, BEIJING, contract, OLD_PASSWORD)).status_code == 400
    first = await sign_in(client, BEIJING, contract, temporary)
    assert first.status_code == 303 and first.headers["location"] == "/profile/password"
    again = await staff.get(tenant_url(BEIJING, path))
    assert temporary not in again.text
    [entry] = await audit_entries(database, "customer", customer_id)
    assert entry.after == {"status": "active", "password": "temporary", "notified": None}


async def test_customers_of_another_tenant_are_not_found(
    make_client: MakeClient, database: Database, database_url: str
) -> None:
    email = unique_email("kz")
    kz_customer = await make_customer(database_url, KZ, identifiers={"email": email}, email=email)
    staff = await staff_on(make_client, IVANOVO)
    path = f"/admin/customers/{kz_customer}"
    assert (await staff.get(tenant_url(IVANOVO, path))).status_code == 404
    page = await staff.get(tenant_url(IVANOVO, "/admin/customers"))
    token = csrf_token(page.text)
    for action in ("lock", "unlock", "reset-password"):
        response = await staff.post(
            tenant_url(IVANOVO, f"{path}/{action}"),
            data={"_csrf_token": token, "expected": "active"},
        )
        assert response.status_code == 404, action
    assert (await customer_row(database, kz_customer)).status == "active"
    assert await audit_entries(database, "customer", kz_customer) == []
    # The ivanovo admin's session means nothing on the kz host.
    elsewhere = await staff.get(tenant_url(KZ, path))
    assert elsewhere.status_code == 303 and "/admin/sign-in" in elsewhere.headers["location"]
    too_big = await staff.get(tenant_url(IVANOVO, f"/admin/customers/{2**63}"))
    assert too_big.status_code == 404


# --- broadband requests -------------------------------------------------------------------


async def broadband_line(
    database: Database, *, requests: list[dict[str, Any]], status: str = "active"
) -> tuple[int, int, list[int]]:
    """A beijing account of this test with a line, a customer and submitted requests."""
    tid = await tenant_id(database, BEIJING)
    async with database.session() as session:
        customer = Customer(tenant_id=tid, full_name="宽带测试")
        account = Account(tenant_id=tid, number="97" + unique_digits(8), holder_name="宽带测试")
        session.add_all([customer, account])
        await session.flush()
        assert customer.id is not None and account.id is not None
        session.add(AccountLink(tenant_id=tid, customer_id=customer.id, account_id=account.id))
        service = BroadbandService(
            tenant_id=tid,
            account_id=account.id,
            plan_key="unlimited_monthly",
            payment_mode="prepaid_cash",
            status=status,
        )
        rows = [
            BroadbandRequest(
                tenant_id=tid,
                account_id=account.id,
                customer_id=customer.id,
                created_at=datetime(2026, 11, 20, 3, 0, tzinfo=UTC),
                **values,
            )
            for values in requests
        ]
        session.add_all([service, *rows])
        await session.commit()
        assert service.id is not None
        return account.id, service.id, [r.id for r in rows if r.id is not None]


async def line_of(database: Database, service_id: int) -> BroadbandService:
    async with database.session() as session:
        found = await session.get(BroadbandService, service_id)
    assert found is not None
    return found


async def test_broadband_requests_are_carried_out_on_the_line_or_cancelled(
    make_client: MakeClient, database: Database
) -> None:
    _, service_id, (change, close) = await broadband_line(
        database,
        requests=[
            {
                "kind": "plan_change",
                "new_plan": "limited_monthly",
                "effective_on": date(2026, 12, 1),
            },
            {"kind": "close", "effective_on": date(2026, 11, 30)},
        ],
    )
    _, suspended_id, (suspend,) = await broadband_line(
        database, requests=[{"kind": "suspend", "effective_on": date(2026, 12, 1)}]
    )
    staff = await staff_on(make_client, BEIJING)
    dashboard = text_of((await staff.get(tenant_url(BEIJING, "/admin"))).text)
    assert "requests are waiting to be carried out." in dashboard
    queue = await staff.get(tenant_url(BEIJING, "/admin/broadband-requests"))
    assert queue.status_code == 200
    for request_id in (change, close, suspend):
        assert f'action="/admin/broadband-requests/{request_id}/done"' in queue.text
    page = "/admin/broadband-requests"

    done = await post_on_page(
        staff, BEIJING, page, f"{page}/{change}/done", {"expected": "submitted"}
    )
    assert done.status_code == 303 and done.headers["location"] == f"{page}?done=done"
    assert (await line_of(database, service_id)).plan_key == "limited_monthly"
    again = await post_on_page(
        staff, BEIJING, page, f"{page}/{change}/done", {"expected": "submitted"}
    )
    assert again.status_code == 409 and "already been handled" in text_of(again.text)

    suspended = await post_on_page(
        staff, BEIJING, page, f"{page}/{suspend}/done", {"expected": "submitted"}
    )
    assert suspended.status_code == 303
    line = await line_of(database, suspended_id)
    assert (line.status, line.status_reason, line.status_since) == (
        "suspended",
        "voluntary",
        date(2026, 12, 1),
    )

    empty = await post_on_page(
        staff, BEIJING, page, f"{page}/{close}/cancel", {"expected": "submitted", "reason": " "}
    )
    assert empty.status_code == 400
    assert f'id="reason-{close}-error"' in empty.text
    cancelled = await post_on_page(
        staff,
        BEIJING,
        page,
        f"{page}/{close}/cancel",
        {"expected": "submitted", "reason": "Customer called to keep the line."},
    )
    assert cancelled.status_code == 303
    assert (await line_of(database, service_id)).status == "active"
    async with database.session() as session:
        closing = await session.get(BroadbandRequest, close)
    assert closing is not None and closing.status_note == "Customer called to keep the line."

    [entry] = await audit_entries(database, "broadband_request", change)
    assert entry.action == "broadband_request.done"
    assert entry.before is not None and entry.after is not None
    assert (entry.before["line_plan_key"], entry.after["line_plan_key"]) == (
        "unlimited_monthly",
        "limited_monthly",
    )
    [entry] = await audit_entries(database, "broadband_request", close)
    assert entry.after == {"status": "cancelled", "reason": "Customer called to keep the line."}


async def test_broadband_requests_are_not_reached_from_another_tenant(
    make_client: MakeClient, database: Database
) -> None:
    _, service_id, (request_id,) = await broadband_line(
        database, requests=[{"kind": "close", "effective_on": date(2026, 11, 30)}]
    )
    staff = await staff_on(make_client, IVANOVO)
    assert (await staff.get(tenant_url(IVANOVO, "/admin/broadband-requests"))).status_code == 404
    page = await staff.get(tenant_url(IVANOVO, "/admin"))
    for action in ("done", "cancel"):
        response = await staff.post(
            tenant_url(IVANOVO, f"/admin/broadband-requests/{request_id}/{action}"),
            data={"_csrf_token": csrf_token(page.text), "expected": "submitted", "reason": "x"},
        )
        assert response.status_code == 404
    beijing = await staff_on(make_client, BEIJING)
    missing = await post_on_page(
        beijing,
        BEIJING,
        "/admin/broadband-requests",
        f"/admin/broadband-requests/{2**40}/done",
        {"expected": "submitted"},
    )
    assert missing.status_code == 404
    assert (await line_of(database, service_id)).status == "active"
    assert await audit_entries(database, "broadband_request", request_id) == []


# --- failed messages ------------------------------------------------------------------------


async def failed_message(database: Database, slug: str, recipient: str, status: str) -> int:
    async with database.session() as session:
        message = OutboxMessage(
            tenant_id=await tenant_id(database, slug),
            channel="email",
            recipient=recipient,
            locale="en",
            template="test_message",
            subject="Test",
            body_text="Test",
            status=status,
            attempts=8,
            last_error="SMTPServerDisconnected: gone",
            idempotency_key=f"support-test:{secrets.token_hex(8)}",
        )
        session.add(message)
        await session.commit()
        assert message.id is not None
        return message.id


async def message_row(database: Database, message_id: int) -> OutboxMessage:
    async with database.session() as session:
        found = await session.get(OutboxMessage, message_id)
    assert found is not None
    return found


async def test_failed_messages_are_listed_masked_and_sent_again(
    make_client: MakeClient, database: Database
) -> None:
    first = await failed_message(database, IVANOVO, "firstperson@example.com", "failed")
    second = await failed_message(database, IVANOVO, "secondperson@example.com", "held")
    foreign = await failed_message(database, KZ, "foreigner@example.com", "failed")
    staff = await staff_on(make_client, IVANOVO)
    dashboard = text_of((await staff.get(tenant_url(IVANOVO, "/admin"))).text)
    assert "SMS could not be delivered." in dashboard
    page = await staff.get(tenant_url(IVANOVO, "/admin/outbox"))
    assert page.status_code == 200
    assert "delivered in the last 24 hours." in text_of(page.text)
    assert "fi*********@example.com" in page.text and "firstperson@" not in page.text
    assert f"/admin/outbox/{second}/retry" in page.text
    assert f"/admin/outbox/{foreign}/retry" not in page.text

    one = await post_on_page(staff, IVANOVO, "/admin/outbox", f"/admin/outbox/{first}/retry", {})
    assert one.status_code == 303
    retried = await message_row(database, first)
    assert (retried.status, retried.attempts) == ("pending", 0)
    twice = await post_on_page(staff, IVANOVO, "/admin/outbox", f"/admin/outbox/{first}/retry", {})
    assert twice.status_code == 409
    not_ours = await post_on_page(
        staff, IVANOVO, "/admin/outbox", f"/admin/outbox/{foreign}/retry", {}
    )
    assert not_ours.status_code == 404

    # "Send all shown" with another tenant's id slipped in: only ours go back.
    every = await post_on_page(
        staff, IVANOVO, "/admin/outbox", "/admin/outbox/retry", {"ids": f"{second},{foreign}"}
    )
    assert every.status_code == 303 and every.headers["location"] == "/admin/outbox?retried=1"
    assert (await message_row(database, second)).status == "pending"
    assert (await message_row(database, foreign)).status == "failed"
    entries = await audit_entries(database, "outbox_message", second)
    assert [(e.action, e.before, e.after) for e in entries] == [
        ("outbox.retry", {"status": "held", "attempts": 8}, {"status": "pending", "attempts": 0})
    ]
    assert await audit_entries(database, "outbox_message", foreign) == []
