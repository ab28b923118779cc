"""Visit requests in the cabinet through HTTP: the form, every bad input, the list, the gate."""

from __future__ import annotations

import httpx
import pytest
from sqlmodel import select

from domain.db import Database
from domain.limits import VISIT_REQUESTS_PER_CUSTOMER
from domain.models import Account, VisitRequest
from tests.helpers import csrf_token, text_of
from tests.web.test_visits_support import (
    IVANOVO,
    KZ,
    Owner,
    add_account,
    own_customer,
    signed_in,
    url,
)

FORM = "/visits/new?kind=meter_check"


async def requests_of(database: Database, customer_id: int) -> list[VisitRequest]:
    async with database.session() as session:
        rows = await session.exec(
            select(VisitRequest).where(VisitRequest.customer_id == customer_id)
        )
        return list(rows.all())


def good(owner: Owner, **changes: str) -> dict[str, str]:
    account = owner.accounts[0]
    values = {
        "kind": "meter_check",
        "account": str(account),
        "meter": str(owner.meters[account][0]),
        "phone": "8 (910) 555-12-34",
        "visit_date": "2026-11-24",
        "slot": "10:00",
        "notes": "  Entrance 2,\r\n\r\n\r\n code 15  ",
    }
    values.update(changes)
    return values


async def post_form(client: httpx.AsyncClient, data: dict[str, str]) -> httpx.Response:
    page = await client.get(url(FORM))
    assert page.status_code == 200
    return await client.post(
        url("/visits/new"), data={"_csrf_token": csrf_token(page.text), **data}
    )


async def test_a_request_is_recorded_and_listed(
    client: httpx.AsyncClient, database: Database, database_url: str
) -> None:
    owner = await own_customer(database, database_url)
    await signed_in(client, IVANOVO, owner)

    page = await client.get(url(FORM))
    assert page.status_code == 200
    html = page.text
    assert "Fields marked * are required." in text_of(html)
    # The phone is prefilled, the date input has the bookable range, the slots are the tenant's.
    assert f'value="{owner.phone}"' in html
    assert 'type="date"' in html and 'min="2026-11-21"' in html and 'max="2027-01-19"' in html
    assert '<option value="17:00"' in html
    # Without JavaScript every installed meter is listed, grouped by account; removed ones not.
    assert html.count("<optgroup") == 2
    assert f'value="{owner.removed_meter}"' not in html

    response = await post_form(client, good(owner))
    assert response.status_code == 303
    assert response.headers["location"].startswith("/visits?created=")
    [saved] = await requests_of(database, owner.customer_id)
    assert saved.phone == "+79105551234"
    assert saved.visit_date.isoformat() == "2026-11-24" and saved.slot == "10:00"
    assert saved.notes == "Entrance 2,\n\ncode 15"
    assert saved.status == "submitted" and saved.kind == "meter_check"

    listing = await client.get(url(response.headers["location"]))
    words = text_of(listing.text)
    assert "Your request has been sent." in words
    assert "Meter check" in words and "Submitted" in words and "10:00" in words


async def test_the_readings_page_link_preselects_only_the_customers_own_meter(
    client: httpx.AsyncClient, database: Database, database_url: str
) -> None:
    owner = await own_customer(database, database_url)
    stranger, stranger_meters, _ = await add_account(
        database, IVANOVO, None, services=("cold_water",)
    )
    await signed_in(client, IVANOVO, owner)
    account, meter = owner.accounts[1], owner.meters[owner.accounts[1]][0]
    page = await client.get(url(f"{FORM}&account={account}&meter={meter}"))
    assert f'<option value="{account}" selected>' in page.text
    assert f'<option value="{meter}" selected>' in page.text
    foreign = await client.get(url(f"{FORM}&account={stranger}&meter={stranger_meters[0]}"))
    assert foreign.status_code == 200
    assert " selected>" not in foreign.text.replace('value="" selected>', "")


async def test_htmx_narrows_the_meters_to_the_chosen_account(
    client: httpx.AsyncClient, database: Database, database_url: str
) -> None:
    owner = await own_customer(database, database_url)
    await signed_in(client, IVANOVO, owner)
    first, second = owner.accounts
    partial = await client.get(
        url(f"{FORM}&account={second}"),
        headers={"HX-Request": "true", "HX-Target": "field-meter"},
    )
    assert partial.status_code == 200
    assert "<html" not in partial.text and 'id="field-meter"' in partial.text
    assert f'value="{owner.meters[second][0]}"' in partial.text
    assert f'value="{owner.meters[first][0]}"' not in partial.text
    assert partial.headers["vary"] == "HX-Request"


BAD_INPUTS = [
    ("visit_date", "2026-11-22", "is not a working day"),  # a Sunday
    ("visit_date", "2026-11-19", "This date has passed."),
    ("visit_date", "2026-11-20", "cannot be booked for today"),
    ("visit_date", "2027-01-20", "too far ahead"),
    ("visit_date", "abc", "This is not a date."),
    ("visit_date", "2026-02-30", "This is not a date."),
    ("visit_date", "", "Please choose the date of the visit."),
    ("slot", "25:00", "Choose one of the offered times"),
    ("slot", "09:30", "Choose one of the offered times"),
    ("slot", "", "Please choose the time of the visit."),
    ("phone", "12345", "is not a valid phone number"),
    ("phone", "", "Please enter the phone number"),
    ("account", "", "Please choose the account"),
    ("account", "abc", "This account is not among your accounts."),
    ("meter", "99999999999999999999", "This meter is not among your meters."),
    ("notes", "x" * 1001, "The notes are too long: write at most 1000 characters."),
]


@pytest.mark.parametrize(("name", "value", "message"), BAD_INPUTS)
async def test_each_bad_input_is_refused_next_to_its_field(
    client: httpx.AsyncClient,
    database: Database,
    database_url: str,
    name: str,
    value: str,
    message: str,
) -> None:
    owner = await own_customer(database, database_url)
    await signed_in(client, IVANOVO, owner)
    response = await post_form(client, good(owner, **{name: value}))
    assert response.status_code == 400
    words = text_of(response.text)
    assert message in words
    assert f'id="{name}-error"' in response.text and 'aria-invalid="true"' in response.text
    assert 'role="alert"' in response.text
    # What was typed is kept (the notes are long, so only the phone is checked here).
    if name == "phone" and value:
        assert f'value="{value}"' in response.text
    assert await requests_of(database, owner.customer_id) == []


async def test_the_limits_are_named_in_the_date_messages(
    client: httpx.AsyncClient, database: Database, database_url: str
) -> None:
    owner = await own_customer(database, database_url)
    await signed_in(client, IVANOVO, owner)
    response = await post_form(client, good(owner, visit_date="2026-11-22"))
    words = text_of(response.text)
    assert "Nov 22, 2026 is not a working day." in words
    assert "Monday, Tuesday, Wednesday, Thursday, Friday, and Saturday" in words
    too_far = text_of((await post_form(client, good(owner, visit_date="2027-01-20"))).text)
    assert "Choose a date from Nov 21, 2026 to Jan 19, 2027." in too_far


async def test_another_customers_account_or_meter_is_refused_without_revealing_it(
    client: httpx.AsyncClient, database: Database, database_url: str
) -> None:
    owner = await own_customer(database, database_url)
    other = await own_customer(database, database_url)
    await signed_in(client, IVANOVO, owner)
    foreign_account = other.accounts[0]
    foreign_meter = other.meters[foreign_account][0]

    by_account = await post_form(client, good(owner, account=str(foreign_account), meter=""))
    assert by_account.status_code == 400
    assert "This account is not among your accounts." in text_of(by_account.text)
    by_meter = await post_form(client, good(owner, meter=str(foreign_meter)))
    assert by_meter.status_code == 400
    assert "This meter is not among your meters." in text_of(by_meter.text)
    # Nothing of the other customer's data is shown back.
    async with database.session() as session:
        account = await session.get(Account, foreign_account)
    assert account is not None
    assert account.number not in by_account.text and account.number not in by_meter.text
    assert await requests_of(database, owner.customer_id) == []


async def test_a_meter_of_another_of_the_customers_accounts_is_refused(
    client: httpx.AsyncClient, database: Database, database_url: str
) -> None:
    owner = await own_customer(database, database_url)
    await signed_in(client, IVANOVO, owner)
    first, second = owner.accounts
    mixed = await post_form(client, good(owner, meter=str(owner.meters[second][0])))
    assert mixed.status_code == 400
    assert "This meter belongs to your account" in text_of(mixed.text)
    removed = await post_form(
        client, good(owner, account=str(second), meter=str(owner.removed_meter))
    )
    assert removed.status_code == 400
    assert "This meter has been removed." in text_of(removed.text)
    assert await requests_of(database, owner.customer_id) == []
    assert first != second


async def test_no_meter_is_fine_and_an_unknown_kind_is_not_found(
    client: httpx.AsyncClient, database: Database, database_url: str
) -> None:
    owner = await own_customer(database, database_url)
    await signed_in(client, IVANOVO, owner)
    assert (await client.get(url("/visits/new?kind=repair"))).status_code == 404
    assert (await client.get(url("/visits/new"))).status_code == 404
    bad_kind = await post_form(client, good(owner, kind="repair"))
    assert bad_kind.status_code == 404
    response = await post_form(client, good(owner, kind="meter_acceptance", meter=""))
    assert response.status_code == 303
    [saved] = await requests_of(database, owner.customer_id)
    assert saved.meter_id is None and saved.kind == "meter_acceptance"


async def test_visits_need_a_signed_in_customer_and_the_module(
    client: httpx.AsyncClient, database: Database, database_url: str
) -> None:
    anonymous = await client.get(url("/visits"))
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/sign-in?next=")
    assert (await client.get(url("/visits", KZ))).status_code == 404
    assert (await client.get(url("/visits/new?kind=meter_check", KZ))).status_code == 404


async def test_the_daily_limit_answers_429(
    client: httpx.AsyncClient, database: Database, database_url: str
) -> None:
    owner = await own_customer(database, database_url)
    await signed_in(client, IVANOVO, owner)
    for _ in range(VISIT_REQUESTS_PER_CUSTOMER.max_hits):
        assert (await post_form(client, good(owner))).status_code == 303
    response = await post_form(client, good(owner))
    assert response.status_code == 429
    assert "You have sent many visit requests today." in text_of(response.text)
    saved = await requests_of(database, owner.customer_id)
    assert len(saved) == VISIT_REQUESTS_PER_CUSTOMER.max_hits
