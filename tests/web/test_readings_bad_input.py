"""Bad input on the readings form: a clear message, nothing recorded, never a 500, no one
else's data."""

from __future__ import annotations

from datetime import UTC, date, datetime

import httpx
import pytest

from tests.helpers import text_of
from tests.web.test_readings_support import (
    Household,
    MeterSpec,
    add_account,
    current_readings,
    make_household,
    post_readings,
    set_clock,
    with_session,
)

TODAY = date(2026, 11, 21)
NOON = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


async def household_signed_in(
    client: httpx.AsyncClient, database_url: str, slug: str = "ivanovo-water"
) -> Household:
    household = await make_household(
        database_url, slug, [MeterSpec(history=["100", "110"]), MeterSpec(history=["5"])], TODAY
    )
    set_clock(client, NOON)
    await with_session(client, household)
    return household


async def nothing_recorded(database_url: str, household: Household) -> bool:
    for meter_id in household.meters:
        if await current_readings(database_url, meter_id, TODAY):
            return False
    return True


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("abc", "Enter the reading as a number, for example 145.555."),
        ("-5", "A meter reading cannot be negative."),
        ("1.23456", "This meter's reading has at most 3 decimal places."),
        ("1e9", "Enter the reading as a number"),
        ("99999999999", "This number is too large for a meter reading."),
        ("\u0661\u0662\u0663", "Enter the reading as a number"),
        ("12;DROP TABLE reading", "Enter the reading as a number"),
        ("1" * 3000, "This number is too large for a meter reading."),
    ],
)
async def test_a_bad_value_is_refused_next_to_its_input(
    client: httpx.AsyncClient, database_url: str, typed: str, message: str
) -> None:
    household = await household_signed_in(client, database_url)
    first, second = household.meters
    response = await post_readings(
        client, household, {f"value-{first}": typed, f"value-{second}": "6"}, path="?lang=en"
    )
    assert response.status_code == 400
    page = text_of(response.text)
    assert message in page
    assert "Some readings could not be accepted, so nothing has been recorded." in page
    assert 'role="alert"' in response.text
    # The message is tied to its input, and both typed values come back.
    assert f'aria-describedby="check-{first}" aria-invalid="true"' in response.text
    assert f'name="value-{second}" value="6"' in response.text
    assert await nothing_recorded(database_url, household)


@pytest.mark.parametrize("typed", ["", "   ", "\t\n"])
async def test_an_empty_form_asks_for_a_reading(
    client: httpx.AsyncClient, database_url: str, typed: str
) -> None:
    household = await household_signed_in(client, database_url)
    form = {f"value-{meter_id}": typed for meter_id in household.meters}
    response = await post_readings(client, household, form, path="?lang=en")
    assert response.status_code == 400
    assert "Enter at least one reading." in text_of(response.text)
    assert await nothing_recorded(database_url, household)


async def test_a_form_with_no_fields_at_all(client: httpx.AsyncClient, database_url: str) -> None:
    household = await household_signed_in(client, database_url)
    response = await post_readings(client, household, {}, path="?lang=en")
    assert response.status_code == 400
    assert "Enter at least one reading." in text_of(response.text)


async def test_another_customers_meter_in_the_form(
    client: httpx.AsyncClient, database_url: str
) -> None:
    other = await make_household(
        database_url, "ivanovo-water", [MeterSpec(history=["777.5"])], TODAY, own_customer=True
    )
    household = await household_signed_in(client, database_url)
    foreign = other.meters[0]
    response = await post_readings(
        client,
        household,
        {f"value-{household.meters[0]}": "111", f"value-{foreign}": "800"},
        path="?lang=en",
    )
    assert response.status_code == 400
    assert "The form names a meter that is not on this account." in text_of(response.text)
    assert str(other.factory_numbers[0]) not in response.text
    assert "777.5" not in response.text and f"value-{foreign}" not in response.text
    assert await nothing_recorded(database_url, household)
    assert await current_readings(database_url, foreign, TODAY) == []


async def test_a_meter_of_the_customers_other_account(
    client: httpx.AsyncClient, database_url: str
) -> None:
    household = await household_signed_in(client, database_url)
    _, _, (other_meter,), _ = await add_account(
        database_url, "ivanovo-water", household.customer_id, [MeterSpec()], TODAY
    )
    response = await post_readings(
        client, household, {f"value-{other_meter}": "5"}, path="?lang=en"
    )
    assert response.status_code == 400
    assert "The form names a meter that is not on this account." in text_of(response.text)
    assert await current_readings(database_url, other_meter, TODAY) == []


@pytest.mark.parametrize(
    "field", ["value-abc", "value-", "value--1", "value-1.5", "value-٣", "value-" + "9" * 30]
)
async def test_a_meter_id_that_is_no_id(
    client: httpx.AsyncClient, database_url: str, field: str
) -> None:
    household = await household_signed_in(client, database_url)
    response = await post_readings(
        client, household, {f"value-{household.meters[0]}": "111", field: "5"}, path="?lang=en"
    )
    assert response.status_code == 400
    assert "The form names a meter that is not on this account." in text_of(response.text)
    assert await nothing_recorded(database_url, household)


async def test_odd_confirmations_are_ignored(client: httpx.AsyncClient, database_url: str) -> None:
    household = await household_signed_in(client, database_url)
    first, second = household.meters
    response = await post_readings(
        client,
        household,
        {
            f"value-{first}": "111",
            f"value-{second}": "6",
            f"confirm-{first}": ["anything", "unusual_consumption<script>"],
            "confirm-xyz": "replacement_or_rollover",
            "confirm_partial": "maybe",
        },
    )
    assert response.status_code == 303
    (reading,) = await current_readings(database_url, first, TODAY)
    assert reading.confirmations == ""


async def test_a_missing_or_wrong_csrf_token_is_refused(
    client: httpx.AsyncClient, database_url: str
) -> None:
    household = await household_signed_in(client, database_url)
    response = await client.post(
        household.url(), data={"_csrf_token": "forged", f"value-{household.meters[0]}": "111"}
    )
    assert response.status_code == 403
    assert await nothing_recorded(database_url, household)


async def test_a_path_id_that_is_not_a_number(client: httpx.AsyncClient, database_url: str) -> None:
    household = await household_signed_in(client, database_url)
    for path in ("/accounts/abc/readings", "/accounts/99999999999999999999999/readings"):
        response = await client.get(
            household.url().replace(f"/accounts/{household.account_id}/readings", path)
        )
        assert response.status_code in (400, 404)
