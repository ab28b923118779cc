"""Staff queue of visit requests through HTTP: status changes, the SMS, staleness, scoping."""

from __future__ import annotations

from datetime import date

import httpx
from sqlmodel import select

from domain.db import Database
from domain.models import Account, Customer, VisitRequest
from tests.helpers import csrf_token, text_of
from tests.web.test_visits_support import (
    IVANOVO,
    KZ,
    MakeClient,
    Owner,
    make_client_fixture,  # noqa: F401  (the `make_client` fixture)
    own_customer,
    signed_in,
    sms_to,
    staff_client,
    tenant_id,
    url,
)


async def send_request(client: httpx.AsyncClient, owner: Owner, **changes: str) -> int:
    """The customer asks for a meter check on Tuesday 24 November at 10:00."""
    page = await client.get(url("/visits/new?kind=meter_check"))
    account = owner.accounts[0]
    data = {
        "_csrf_token": csrf_token(page.text),
        "kind": "meter_check",
        "account": str(account),
        "meter": str(owner.meters[account][0]),
        "phone": owner.phone,
        "visit_date": "2026-11-24",
        "slot": "10:00",
        "notes": "",
        **changes,
    }
    response = await client.post(url("/visits/new"), data=data)
    assert response.status_code == 303, response.text
    return int(response.headers["location"].rsplit("=", 1)[1])


async def change_status(staff: httpx.AsyncClient, request_id: int, **data: str) -> httpx.Response:
    page = await staff.get(url(f"/admin/visits/{request_id}"))
    assert page.status_code == 200
    return await staff.post(
        url(f"/admin/visits/{request_id}/status"),
        data={"_csrf_token": csrf_token(page.text), **data},
    )


async def status_of(database: Database, request_id: int) -> str:
    async with database.session() as session:
        found = await session.get(VisitRequest, request_id)
    assert found is not None
    return found.status


async def test_staff_schedule_a_request_and_the_customer_is_told_in_their_language(
    client: httpx.AsyncClient, database: Database, database_url: str, make_client: MakeClient
) -> None:
    owner = await own_customer(database, database_url, locale="ru")
    await signed_in(client, IVANOVO, owner)
    request_id = await send_request(client, owner)
    staff = await staff_client(make_client)

    queue = await staff.get(url("/admin/visits"))
    assert queue.status_code == 200
    assert f'href="/admin/visits/{request_id}"' in queue.text
    assert "Ivan Testov" in text_of(queue.text)

    response = await change_status(
        staff, request_id, expected="submitted", status="scheduled", note="Master Petrov will come."
    )
    assert response.status_code == 303
    assert await status_of(database, request_id) == "scheduled"
    after = await staff.get(url(response.headers["location"]))
    assert f"Request {request_id} is now “Scheduled”." in text_of(after.text)

    [sms] = await sms_to(database, owner.phone)
    assert sms.locale == "ru" and sms.template == "visit_status_changed"
    assert "10:00" in sms.body_text and "Master Petrov will come." in sms.body_text
    assert "АО «Водоканал» Иваново" in sms.body_text

    # The customer's page (in English here) shows the new status and the note.
    listing = text_of((await client.get(url("/visits?lang=en"))).text)
    assert "Scheduled" in listing and "Master Petrov will come." in listing

    done = await change_status(staff, request_id, expected="scheduled", status="done")
    assert done.status_code == 303
    assert len(await sms_to(database, owner.phone)) == 2
    # A closed request offers no further change.
    closed = await staff.get(url(f"/admin/visits/{request_id}"))
    assert "its status can no longer change" in text_of(closed.text)


async def test_an_english_customer_gets_the_sms_in_english(
    client: httpx.AsyncClient, database: Database, database_url: str, make_client: MakeClient
) -> None:
    owner = await own_customer(database, database_url, locale="en")
    await signed_in(client, IVANOVO, owner)
    request_id = await send_request(client, owner)
    staff = await staff_client(make_client)
    response = await change_status(
        staff, request_id, expected="submitted", status="cancelled", note="The meter was replaced."
    )
    assert response.status_code == 303
    [sms] = await sms_to(database, owner.phone)
    assert sms.locale == "en"
    assert f"the meter check visit you requested (no. {request_id})" in sms.body_text
    assert "is cancelled" in sms.body_text and "The meter was replaced." in sms.body_text


async def test_a_stale_form_changes_nothing(
    client: httpx.AsyncClient, database: Database, database_url: str, make_client: MakeClient
) -> None:
    owner = await own_customer(database, database_url)
    await signed_in(client, IVANOVO, owner)
    request_id = await send_request(client, owner)
    first, second = await staff_client(make_client), await staff_client(make_client)
    page = await second.get(url(f"/admin/visits/{request_id}"))  # drawn before the change

    assert (
        await change_status(first, request_id, expected="submitted", status="scheduled")
    ).status_code == 303
    stale = await second.post(
        url(f"/admin/visits/{request_id}/status"),
        data={
            "_csrf_token": csrf_token(page.text),
            "expected": "submitted",
            "status": "cancelled",
            "note": "No access.",
        },
    )
    assert stale.status_code == 409
    assert "changed by someone else" in text_of(stale.text)
    assert await status_of(database, request_id) == "scheduled"
    assert len(await sms_to(database, owner.phone)) == 1


async def test_bad_status_changes_are_refused(
    client: httpx.AsyncClient, database: Database, database_url: str, make_client: MakeClient
) -> None:
    owner = await own_customer(database, database_url)
    await signed_in(client, IVANOVO, owner)
    request_id = await send_request(client, owner)
    staff = await staff_client(make_client)

    no_reason = await change_status(
        staff, request_id, expected="submitted", status="cancelled", note="  "
    )
    assert no_reason.status_code == 400
    assert "Give the reason for cancelling" in text_of(no_reason.text)
    assert 'id="note-error"' in no_reason.text
    too_long = await change_status(
        staff, request_id, expected="submitted", status="scheduled", note="x" * 301
    )
    assert too_long.status_code == 400
    for bogus in ("submitted", "archived", ""):
        refused = await change_status(staff, request_id, expected="submitted", status=bogus)
        assert refused.status_code == 400
    assert await status_of(database, request_id) == "submitted"
    assert await sms_to(database, owner.phone) == []


async def test_the_queue_filters_by_status_oldest_first(
    client: httpx.AsyncClient, database: Database, database_url: str, make_client: MakeClient
) -> None:
    owner = await own_customer(database, database_url)
    await signed_in(client, IVANOVO, owner)
    older = await send_request(client, owner)
    newer = await send_request(client, owner, slot="11:00")
    staff = await staff_client(make_client)
    submitted = (await staff.get(url("/admin/visits?status=submitted"))).text
    assert submitted.index(f"/admin/visits/{older}") < submitted.index(f"/admin/visits/{newer}")
    await change_status(staff, older, expected="submitted", status="scheduled")
    scheduled = (await staff.get(url("/admin/visits?status=scheduled"))).text
    assert f"/admin/visits/{older}" in scheduled and f"/admin/visits/{newer}" not in scheduled
    everything = (await staff.get(url("/admin/visits?status=all"))).text
    assert f"/admin/visits/{older}" in everything and f"/admin/visits/{newer}" in everything
    dashboard = await staff.get(url("/admin"))
    assert 'href="/admin/visits"' in dashboard.text
    assert 'href="/admin/anonymous-readings"' in dashboard.text


async def test_the_queue_is_scoped_to_the_staff_members_tenant(
    database: Database, make_client: MakeClient
) -> None:
    # A request of another tenant (made directly: only ivanovo-water takes them on its site).
    kz = await tenant_id(database, KZ)
    async with database.session() as session:
        customer = (await session.exec(select(Customer).where(Customer.tenant_id == kz))).first()
        account = (await session.exec(select(Account).where(Account.tenant_id == kz))).first()
        assert customer is not None and account is not None
        foreign = VisitRequest(
            tenant_id=kz,
            customer_id=customer.id or 0,
            account_id=account.id or 0,
            kind="meter_check",
            phone="+77011234567",
            visit_date=date(2026, 11, 24),
            slot="10:00",
        )
        session.add(foreign)
        await session.commit()
        await session.refresh(foreign)
    staff = await staff_client(make_client)
    assert (await staff.get(url(f"/admin/visits/{foreign.id}"))).status_code == 404
    page = await staff.get(url("/admin/visits"))
    forged = await staff.post(
        url(f"/admin/visits/{foreign.id}/status"),
        data={"_csrf_token": csrf_token(page.text), "expected": "submitted", "status": "done"},
    )
    assert forged.status_code == 404
    assert await status_of(database, foreign.id or 0) == "submitted"
    assert (
        f'/admin/visits/{foreign.id}"'
        not in (await staff.get(url("/admin/visits?status=all"))).text
    )

    # kz-vodokanal has no visit requests; its staff session is worth nothing on ivanovo-water.
    kz_staff = await staff_client(make_client, KZ)
    assert (await kz_staff.get(url("/admin/visits", KZ))).status_code == 404
    token = kz_staff.cookies.get("session", domain="kz-vodokanal.localhost")
    assert token
    kz_staff.cookies.set("session", token, domain="ivanovo-water.localhost")
    crossed = await kz_staff.get(url("/admin/visits"))
    assert crossed.status_code == 303 and "/admin/sign-in" in crossed.headers["location"]


async def test_customers_are_sent_to_the_staff_sign_in(client: httpx.AsyncClient) -> None:
    response = await client.get(url("/admin/visits"))
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/sign-in?next=%2Fadmin%2Fvisits"
