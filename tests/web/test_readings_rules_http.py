"""Each readings rule over HTTP, for each tenant that has it, with the portal's clock set."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.helpers import text_of
from tests.web.test_readings_support import (
    PRESETS,
    READINGS_TENANTS,
    MeterSpec,
    current_readings,
    make_household,
    post_readings,
    set_clock,
    with_session,
)

TODAY = date(2026, 11, 21)
NOON = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
GAS = "melitopol-gas"


def local(slug: str, year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    """A moment given in the tenant's own time zone."""
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(PRESETS[slug].timezone))


# --- the window (melitopol-gas: days 1 to 5 in its time zone) ----------------------


async def test_inside_the_window_the_form_takes_readings(
    client: httpx.AsyncClient, database_url: str
) -> None:
    household = await make_household(
        database_url, GAS, [MeterSpec(service="gas", history=["500", "540"])], date(2026, 12, 3)
    )
    set_clock(client, local(GAS, 2026, 12, 3, 10, 0))
    await with_session(client, household)
    page = await client.get(household.url() + "?lang=en")
    assert "Readings are taken until December 5, 2026." in text_of(page.text)
    assert f'name="value-{household.meters[0]}"' in page.text
    response = await post_readings(client, household, {f"value-{household.meters[0]}": "575"})
    assert response.status_code == 303
    (reading,) = await current_readings(database_url, household.meters[0], date(2026, 12, 3))
    assert reading.value == Decimal("575") and reading.taken_on == date(2026, 12, 3)


async def test_outside_the_window_the_page_says_when_it_opens_and_takes_nothing(
    client: httpx.AsyncClient, database_url: str
) -> None:
    household = await make_household(
        database_url, GAS, [MeterSpec(service="gas", history=["500", "540"])], TODAY
    )
    set_clock(client, local(GAS, 2026, 11, 21, 10, 0))
    await with_session(client, household)
    page = await client.get(household.url() + "?lang=en")
    assert "Readings are taken from December 1, 2026." in text_of(page.text)
    assert '<form method="post" action="/accounts' not in page.text
    assert 'inputmode="decimal"' not in page.text
    response = await post_readings(client, household, {f"value-{household.meters[0]}": "575"})
    assert response.status_code == 400
    assert "The next window opens on December 1, 2026." in text_of(response.text)
    assert await current_readings(database_url, household.meters[0], TODAY) == []


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        # The last window day ends at midnight in the tenant's zone, not in UTC.
        (local(GAS, 2026, 12, 5, 23, 30), True),
        (local(GAS, 2026, 12, 6, 0, 10), False),
    ],
)
async def test_the_window_ends_in_the_tenants_time_zone(
    client: httpx.AsyncClient, database_url: str, moment: datetime, is_open: bool
) -> None:
    assert moment.astimezone(UTC).day == 5
    household = await make_household(
        database_url, GAS, [MeterSpec(service="gas", history=["500"])], date(2026, 12, 5)
    )
    set_clock(client, moment)
    await with_session(client, household)
    response = await post_readings(client, household, {f"value-{household.meters[0]}": "510"})
    assert response.status_code == (303 if is_open else 400)
    recorded = await current_readings(database_url, household.meters[0], date(2026, 12, 5))
    assert len(recorded) == (1 if is_open else 0)
    if not is_open:
        page = await client.get(household.url() + "?lang=en")
        assert "Readings are taken from January 1, 2027." in text_of(page.text)


# --- meters that take no reading ---------------------------------------------------


@pytest.mark.parametrize("slug", READINGS_TENANTS)
async def test_meters_without_factory_number_or_removed_are_refused(
    client: httpx.AsyncClient, database_url: str, slug: str
) -> None:
    config = PRESETS[slug].readings
    assert config.refuse_without_factory_number and config.refuse_removed
    service = "gas" if PRESETS[slug].utility == "gas" else "cold_water"
    day = date(2026, 12, 2)
    household = await make_household(
        database_url,
        slug,
        [
            MeterSpec(service=service, factory_number=None),
            MeterSpec(service=service, state="removed"),
            MeterSpec(service=service),
        ],
        day,
    )
    set_clock(client, local(slug, 2026, 12, 2, 12, 0))
    await with_session(client, household)
    unnumbered, removed, working = household.meters
    page = await client.get(household.url() + "?lang=en")
    words = text_of(page.text)
    assert "Readings for a meter without a factory number are not accepted" in words
    assert "This meter is not working or has been removed" in words
    assert f'name="value-{unnumbered}"' not in page.text
    assert f'name="value-{removed}"' not in page.text
    assert f'name="value-{working}"' in page.text
    # Values posted for them anyway (a crafted form) are refused, and so is the whole form.
    for refused, message in (
        (unnumbered, "Readings for a meter without a factory number are not accepted"),
        (removed, "This meter is not working or has been removed"),
    ):
        response = await post_readings(
            client, household, {f"value-{refused}": "5", f"value-{working}": "5"}, path="?lang=en"
        )
        assert response.status_code == 400 and message in text_of(response.text)
    for meter_id in household.meters:
        assert await current_readings(database_url, meter_id, day) == []


@pytest.mark.parametrize("slug", READINGS_TENANTS)
async def test_past_verification_as_each_preset_sets_it(
    client: httpx.AsyncClient, database_url: str, slug: str
) -> None:
    policy = PRESETS[slug].readings.past_verification
    household = await make_household(
        database_url, slug, [MeterSpec(verification_in_days=-5, history=["10"])], date(2026, 11, 3)
    )
    set_clock(client, local(slug, 2026, 11, 3, 12, 0))
    await with_session(client, household)
    meter_id = household.meters[0]
    page = await client.get(household.url() + "?lang=en")
    link = (
        f"/visits/new?kind=meter_check&amp;account={household.account_id}&amp;meter={meter_id}"
        if PRESETS[slug].has("visit_requests")
        else "/contact"
    )
    response = await post_readings(client, household, {f"value-{meter_id}": "12"})
    recorded = await current_readings(database_url, meter_id, TODAY)
    if policy == "warn":
        # The input stays, with a warning and the way to have the meter checked.
        assert f'name="value-{meter_id}"' in page.text and f'href="{link}"' in page.text
        assert "This meter's verification date has passed." in text_of(page.text)
        assert response.status_code == 303 and len(recorded) == 1
    elif policy == "refuse":
        assert f'name="value-{meter_id}"' not in page.text and f'href="{link}"' in page.text
        assert response.status_code == 400 and recorded == []
    else:
        assert response.status_code == 303


# --- values that need the customer's word -----------------------------------------


@pytest.mark.parametrize("slug", READINGS_TENANTS)
async def test_lower_or_unusual_values_ask_and_the_answers_are_recorded(
    client: httpx.AsyncClient, database_url: str, slug: str
) -> None:
    assert PRESETS[slug].readings.lower_than_previous == "confirm_replacement"
    # About 10 a month; the outlier factor is 3, so 100 more than last month asks.
    household = await make_household(
        database_url,
        slug,
        [MeterSpec(history=["100", "110", "120.5"]), MeterSpec(history=["100", "110", "120"])],
        TODAY,
    )
    set_clock(client, local(slug, 2026, 11, 2, 12, 0))
    await with_session(client, household)
    lower, unusual = household.meters
    form: dict[str, str | list[str]] = {f"value-{lower}": "3", f"value-{unusual}": "220"}
    asked = await post_readings(client, household, form, path="?lang=en")
    assert asked.status_code == 409
    assert 'value="3"' in asked.text and 'value="220"' in asked.text
    assert f'name="confirm-{lower}" value="replacement_or_rollover"' in asked.text
    assert f'name="confirm-{unusual}" value="unusual_consumption"' in asked.text
    assert "far more than the usual 10.000 a month" in text_of(asked.text)
    assert await current_readings(database_url, lower, TODAY) == []
    # Only one of the two confirmed: still nothing recorded.
    half = {**form, f"confirm-{lower}": "replacement_or_rollover"}
    assert (await post_readings(client, household, half)).status_code == 409
    assert await current_readings(database_url, lower, TODAY) == []
    sent = await post_readings(
        client, household, {**half, f"confirm-{unusual}": "unusual_consumption"}
    )
    assert sent.status_code == 303
    (first,) = await current_readings(database_url, lower, TODAY)
    (second,) = await current_readings(database_url, unusual, TODAY)
    assert first.value == Decimal("3") and first.confirmations == "replacement_or_rollover"
    assert second.value == Decimal("220") and second.confirmations == "unusual_consumption"
    assert first.status == "processing" and first.customer_id == household.customer_id


async def test_lower_than_previous_names_the_previous_value(
    client: httpx.AsyncClient, database_url: str
) -> None:
    household = await make_household(
        database_url, "melitopol-water", [MeterSpec(history=["100", "1120.5"])], TODAY
    )
    set_clock(client, NOON)
    await with_session(client, household)
    asked = await post_readings(
        client, household, {f"value-{household.meters[0]}": "3"}, path="?lang=en"
    )
    assert "lower than the previous one, 1,120.500." in text_of(asked.text)
    assert "The meter was replaced or its register rolled over" in text_of(asked.text)


@pytest.mark.parametrize("slug", READINGS_TENANTS)
async def test_unusual_consumption_asks_and_the_answer_is_recorded(
    client: httpx.AsyncClient, database_url: str, slug: str
) -> None:
    # About 10 a month; the outlier factor is 3, so 100 more than last month asks.
    household = await make_household(
        database_url, slug, [MeterSpec(history=["100", "110", "120"])], TODAY
    )
    set_clock(client, local(slug, 2026, 11, 4, 12, 0))
    await with_session(client, household)
    meter_id = household.meters[0]
    asked = await post_readings(client, household, {f"value-{meter_id}": "220"}, path="?lang=en")
    assert asked.status_code == 409
    assert "far more than the usual 10.000 a month" in text_of(asked.text)
    assert await current_readings(database_url, meter_id, TODAY) == []
    sent = await post_readings(
        client,
        household,
        {f"value-{meter_id}": "220", f"confirm-{meter_id}": "unusual_consumption"},
    )
    assert sent.status_code == 303
    (reading,) = await current_readings(database_url, meter_id, TODAY)
    assert reading.confirmations == "unusual_consumption"


@pytest.mark.parametrize("slug", READINGS_TENANTS)
async def test_partial_submission_asks_and_cancel_records_nothing(
    client: httpx.AsyncClient, database_url: str, slug: str
) -> None:
    assert PRESETS[slug].readings.confirm_partial
    household = await make_household(
        database_url, slug, [MeterSpec(history=["10"]), MeterSpec(history=["20"])], TODAY
    )
    set_clock(client, local(slug, 2026, 11, 3, 12, 0))
    await with_session(client, household)
    first, second = household.meters
    asked = await post_readings(
        client, household, {f"value-{first}": "11", f"value-{second}": ""}, path="?lang=en"
    )
    assert asked.status_code == 409
    assert "You entered readings for 1 of 2 meters. Send only these?" in text_of(asked.text)
    assert '<input type="hidden" name="confirm_partial" value="yes">' in asked.text
    assert f'<input type="hidden" name="value-{first}" value="11">' in asked.text
    # Cancel is a link back to the page: following it records nothing.
    assert f'href="/accounts/{household.account_id}/readings">' in asked.text
    cancelled = await client.get(household.url())
    assert cancelled.status_code == 200
    assert await current_readings(database_url, first, TODAY) == []
    sent = await post_readings(
        client, household, {f"value-{first}": "11", f"value-{second}": "", "confirm_partial": "yes"}
    )
    assert sent.status_code == 303
    (reading,) = await current_readings(database_url, first, TODAY)
    assert reading.confirmations == "partial"
    assert await current_readings(database_url, second, TODAY) == []


async def test_partial_with_a_confirmed_replacement_records_both(
    client: httpx.AsyncClient, database_url: str
) -> None:
    household = await make_household(
        database_url, "kz-vodokanal", [MeterSpec(history=["10"]), MeterSpec(history=["20"])], TODAY
    )
    set_clock(client, NOON)
    await with_session(client, household)
    first, _ = household.meters
    form = {f"value-{first}": "2", f"confirm-{first}": "replacement_or_rollover"}
    asked = await post_readings(client, household, form)
    assert asked.status_code == 409
    assert (
        f'<input type="hidden" name="confirm-{first}" value="replacement_or_rollover">'
        in asked.text
    )
    sent = await post_readings(client, household, {**form, "confirm_partial": "yes"})
    assert sent.status_code == 303
    (reading,) = await current_readings(database_url, first, TODAY)
    assert reading.confirmations == "replacement_or_rollover,partial"


# --- decimals, and the second submission of a period -------------------------------


async def test_decimals_per_meter(client: httpx.AsyncClient, database_url: str) -> None:
    household = await make_household(
        database_url,
        "melitopol-water",
        [MeterSpec(decimals=1, history=["10.5"]), MeterSpec(decimals=0, history=["7"])],
        TODAY,
    )
    set_clock(client, NOON)
    await with_session(client, household)
    one, none = household.meters
    page = await client.get(household.url() + "?lang=en")
    assert "10.5" in text_of(page.text) and "10.50" not in text_of(page.text)
    refused = await post_readings(
        client, household, {f"value-{one}": "11.25", f"value-{none}": "7.5"}, path="?lang=en"
    )
    assert refused.status_code == 400
    assert "This meter's reading has at most 1 decimal place." in text_of(refused.text)
    assert "This meter's reading is a whole number, without decimals." in text_of(refused.text)
    assert await current_readings(database_url, one, TODAY) == []
    sent = await post_readings(client, household, {f"value-{one}": "11,2", f"value-{none}": "8"})
    assert sent.status_code == 303
    (reading,) = await current_readings(database_url, one, TODAY)
    assert reading.value == Decimal("11.2")


async def test_a_second_submission_in_the_period_updates_the_one_reading(
    client: httpx.AsyncClient, database_url: str
) -> None:
    household = await make_household(
        database_url, "ivanovo-water", [MeterSpec(history=["100", "110"])], TODAY
    )
    set_clock(client, NOON)
    await with_session(client, household)
    meter_id = household.meters[0]
    assert (await post_readings(client, household, {f"value-{meter_id}": "115"})).status_code == 303
    page = await client.get(household.url() + "?sent=1&lang=en")
    assert "Your readings have been received and are being processed." in text_of(page.text)
    assert f'name="value-{meter_id}" value="115.000"' in page.text
    assert (await post_readings(client, household, {f"value-{meter_id}": "117"})).status_code == 303
    (reading,) = await current_readings(database_url, meter_id, TODAY)
    assert reading.value == Decimal("117") and reading.status == "processing"


async def test_a_reading_accepted_from_billing_cannot_be_changed(
    client: httpx.AsyncClient, database_url: str
) -> None:
    household = await make_household(
        database_url,
        "wujiang-water",
        [MeterSpec(history=["10"], current=("12", "billing", "accepted")), MeterSpec()],
        TODAY,
    )
    set_clock(client, NOON)
    await with_session(client, household)
    locked, _ = household.meters
    response = await post_readings(client, household, {f"value-{locked}": "15"}, path="?lang=en")
    assert response.status_code == 400
    assert "already been accepted" in text_of(response.text)
    (reading,) = await current_readings(database_url, locked, TODAY)
    assert reading.value == Decimal("12") and reading.source == "billing"
