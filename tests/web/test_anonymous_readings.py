"""Readings sent without signing in, through HTTP: the form, bad input, limits, the staff queue."""

from __future__ import annotations

import secrets
from datetime import date
from decimal import Decimal

import httpx
import pytest
from sqlmodel import col, select

from domain.db import Database
from domain.limits import ANONYMOUS_READINGS_PER_ADDRESS, ANONYMOUS_READINGS_PER_PHONE
from domain.models import AnonymousReading, Meter, Reading
from domain.reading_submission import upsert_reading
from tests.helpers import csrf_token, text_of
from tests.web.test_visits_support import (
    FRIDAY_MORNING,
    IVANOVO,
    KZ,
    MakeClient,
    add_account,
    make_client_fixture,  # noqa: F401  (the `make_client` fixture)
    staff_client,
    tenant_id,
    url,
)

FORM = "/readings/anonymous"
NOVEMBER = date(2026, 11, 1)


@pytest.fixture(autouse=True)
def fixed_day(client: httpx.AsyncClient) -> None:
    client.headers["Accept-Language"] = "en"
    client._transport.app.portal.clock = lambda: FRIDAY_MORNING  # type: ignore[attr-defined]


def a_phone() -> str:
    return f"+7915{secrets.randbelow(10**7):07d}"


def reading(**changes: str) -> dict[str, str]:
    values = {
        "full_name": "  Иванов   Иван Иванович ",
        "phone": a_phone(),
        "meter_number": "00 1234-56",
        "value": "123,456",
    }
    values.update(changes)
    return values


async def send(client: httpx.AsyncClient, data: dict[str, str]) -> httpx.Response:
    page = await client.get(url(FORM))
    assert page.status_code == 200
    return await client.post(url(FORM), data={"_csrf_token": csrf_token(page.text), **data})


async def items_from(database: Database, phone: str) -> list[AnonymousReading]:
    async with database.session() as session:
        rows = await session.exec(select(AnonymousReading).where(AnonymousReading.phone == phone))
        return list(rows.all())


async def test_a_reading_goes_to_the_queue_and_the_sender_is_thanked(
    client: httpx.AsyncClient, database: Database
) -> None:
    page = await client.get(url(FORM))
    assert "Fields marked * are required." in text_of(page.text)
    assert page.text.count('<span class="required" aria-hidden="true">*</span>') == 4
    data = reading()
    response = await send(client, data)
    assert response.status_code == 303
    assert response.headers["location"] == "/readings/anonymous/thanks"
    [item] = await items_from(database, data["phone"])
    assert item.full_name == "Иванов Иван Иванович"
    assert item.meter_number == "00123456"
    assert item.value == Decimal("123.456") and item.status == "new"
    thanks = text_of((await client.get(url(response.headers["location"]))).text)
    assert "Our staff will find the meter by its number" in thanks


async def test_an_unknown_meter_number_gets_the_same_answer(
    client: httpx.AsyncClient, database: Database
) -> None:
    """The page never tells whether a meter number exists."""
    _, _, _ = await add_account(database, IVANOVO, None, services=("cold_water",))
    unknown = await send(client, reading(meter_number="ZZ" + secrets.token_hex(6).upper()))
    assert unknown.status_code == 303
    assert unknown.headers["location"] == "/readings/anonymous/thanks"


BAD_INPUTS = [
    ("full_name", "", "Please fill in “Full name”."),
    ("full_name", "<script>alert(1)</script>", "Write the full name in letters"),
    ("full_name", "Я" * 201, "write at most 200 characters"),
    ("phone", "", "Please fill in “Phone number”."),
    ("phone", "12345", "is not a valid phone number"),
    ("meter_number", "", "Please fill in “Meter number”."),
    ("meter_number", "AB#12", "letters and digits only"),
    ("meter_number", "1" * 41, "write at most 40 characters"),
    ("value", "", "Please fill in “Meter reading”."),
    ("value", "abc", "Enter the reading as a number, for example 145.554."),
    ("value", "-5", "A meter reading cannot be negative."),
    ("value", "1.2345", "A meter reading has at most 3 decimal places."),
    ("value", "123456789", "This number is too large for a meter reading."),
]


@pytest.mark.parametrize(("name", "value", "message"), BAD_INPUTS)
async def test_each_bad_input_is_refused_next_to_its_field(
    client: httpx.AsyncClient, database: Database, name: str, value: str, message: str
) -> None:
    data = reading(**{name: value})
    response = await send(client, data)
    assert response.status_code == 400
    assert message in text_of(response.text)
    assert f'id="{name}-error"' in response.text and 'role="alert"' in response.text
    if name != "phone":
        assert await items_from(database, data["phone"]) == []


async def test_the_limit_per_address_answers_429(
    client: httpx.AsyncClient, database: Database
) -> None:
    for _ in range(ANONYMOUS_READINGS_PER_ADDRESS.max_hits):
        assert (await send(client, reading())).status_code == 303
    data = reading()
    refused = await send(client, data)
    assert refused.status_code == 429
    assert "Too many readings have been sent from here." in text_of(refused.text)
    assert await items_from(database, data["phone"]) == []


async def test_the_limit_per_phone_answers_429(
    client: httpx.AsyncClient, make_client: MakeClient, database: Database
) -> None:
    phone = a_phone()
    for _ in range(ANONYMOUS_READINGS_PER_PHONE.max_hits):
        assert (await send(client, reading(phone=phone))).status_code == 303
    # From another address, the same phone number is still refused.
    elsewhere = await make_client()
    refused = await send(elsewhere, reading(phone=phone))
    assert refused.status_code == 429
    assert len(await items_from(database, phone)) == ANONYMOUS_READINGS_PER_PHONE.max_hits


async def test_tenants_without_the_module_have_no_such_page(client: httpx.AsyncClient) -> None:
    assert (await client.get(url(FORM, KZ))).status_code == 404
    assert (await client.get(url(FORM + "/thanks", KZ))).status_code == 404
    page = await client.get(url(FORM))
    posted = await client.post(
        url(FORM, KZ), data={"_csrf_token": csrf_token(page.text), **reading()}
    )
    assert posted.status_code in (403, 404)


# --- the staff queue ---------------------------------------------------------------------


async def readings_of(database: Database, meter_id: int) -> list[Reading]:
    async with database.session() as session:
        rows = await session.exec(
            select(Reading).where(Reading.meter_id == meter_id).order_by(col(Reading.id))
        )
        return list(rows.all())


async def staff_action(
    staff: httpx.AsyncClient, item_id: int, action: str, **data: str
) -> httpx.Response:
    page = await staff.get(url("/admin/anonymous-readings"))
    assert page.status_code == 200
    return await staff.post(
        url(f"/admin/anonymous-readings/{item_id}/{action}"),
        data={"_csrf_token": csrf_token(page.text), **data},
    )


async def test_staff_record_a_reading_exactly_once(
    client: httpx.AsyncClient, database: Database, make_client: MakeClient
) -> None:
    account_id, [meter_id], number = await add_account(
        database, IVANOVO, None, services=("cold_water",)
    )
    async with database.session() as session:
        meter = await session.get(Meter, meter_id)
        assert meter is not None and meter.factory_number
        factory = meter.factory_number
        # The customer already sent November's reading: recording replaces it.
        await upsert_reading(
            session,
            tenant_id=meter.tenant_id,
            meter_id=meter_id,
            period=NOVEMBER,
            value=Decimal("100"),
            taken_on=date(2026, 11, 2),
            source="customer",
            status="processing",
        )
        await session.commit()
    spaced = f"{factory[:3]} {factory[3:6]}-{factory[6:]}"
    data = reading(meter_number=spaced, value="120.5")
    assert (await send(client, data)).status_code == 303
    [item] = await items_from(database, data["phone"])

    staff = await staff_client(make_client)
    queue = await staff.get(url("/admin/anonymous-readings"))
    words = text_of(queue.text)
    # Staff see which account's meter has the number; the sender never does.
    assert number in words and "Иванов Иван Иванович" in words

    first = await staff_action(staff, item.id or 0, "record", meter=str(meter_id))
    assert first.status_code == 303
    again = await staff.post(
        url(f"/admin/anonymous-readings/{item.id}/record"),
        data={"_csrf_token": csrf_token(queue.text), "meter": str(meter_id)},
    )
    assert again.status_code == 409
    assert "already been handled" in text_of(again.text)
    [recorded] = await readings_of(database, meter_id)
    assert recorded.period == NOVEMBER and recorded.taken_on == date(2026, 11, 20)
    assert recorded.value == Decimal("120.5")
    assert recorded.source == "anonymous" and recorded.status == "accepted"
    [handled] = await items_from(database, data["phone"])
    assert handled.status == "recorded" and handled.handled_by is not None
    assert account_id


async def test_staff_cannot_record_on_a_meter_the_number_does_not_match(
    client: httpx.AsyncClient, database: Database, make_client: MakeClient
) -> None:
    _, [other_meter], _ = await add_account(database, IVANOVO, None, services=("cold_water",))
    data = reading(meter_number="QQ" + secrets.token_hex(5).upper())
    await send(client, data)
    [item] = await items_from(database, data["phone"])
    staff = await staff_client(make_client)
    queue = text_of((await staff.get(url("/admin/anonymous-readings"))).text)
    assert "No meter of ours has this number." in queue
    refused = await staff_action(staff, item.id or 0, "record", meter=str(other_meter))
    assert refused.status_code == 400
    assert await readings_of(database, other_meter) == []
    [still] = await items_from(database, data["phone"])
    assert still.status == "new"


async def test_staff_reject_a_reading_with_a_note(
    client: httpx.AsyncClient, database: Database, make_client: MakeClient
) -> None:
    data = reading()
    await send(client, data)
    [item] = await items_from(database, data["phone"])
    staff = await staff_client(make_client)
    no_note = await staff_action(staff, item.id or 0, "reject", note=" ")
    assert no_note.status_code == 400
    assert "Give the reason for rejecting this reading." in text_of(no_note.text)
    rejected = await staff_action(staff, item.id or 0, "reject", note="Not our meter.")
    assert rejected.status_code == 303
    [handled] = await items_from(database, data["phone"])
    assert handled.status == "rejected" and handled.staff_note == "Not our meter."
    queue = await staff.get(url("/admin/anonymous-readings"))
    assert f"/admin/anonymous-readings/{item.id}/" not in queue.text


async def test_another_tenants_item_is_not_found(
    database: Database, make_client: MakeClient
) -> None:
    kz = await tenant_id(database, KZ)
    async with database.session() as session:
        foreign = AnonymousReading(
            tenant_id=kz,
            full_name="Foreign Sender",
            phone="+77011234567",
            meter_number="12345678",
            value=Decimal(1),
        )
        session.add(foreign)
        await session.commit()
        await session.refresh(foreign)
    staff = await staff_client(make_client)
    queue = await staff.get(url("/admin/anonymous-readings"))
    assert "Foreign Sender" not in queue.text
    for action, data in (("record", {"meter": "1"}), ("reject", {"note": "No."})):
        response = await staff.post(
            url(f"/admin/anonymous-readings/{foreign.id}/{action}"),
            data={"_csrf_token": csrf_token(queue.text), **data},
        )
        assert response.status_code == 404
    async with database.session() as session:
        unchanged = await session.get(AnonymousReading, foreign.id)
    assert unchanged is not None and unchanged.status == "new"
