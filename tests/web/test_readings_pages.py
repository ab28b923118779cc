"""The readings pages over HTTP: who reaches which account, what each row shows, the htmx parts."""

from __future__ import annotations

import re
from datetime import date, datetime

import httpx
import pytest

from tests.conftest import tenant_url
from tests.helpers import csrf_token, text_of
from tests.web.test_readings_support import (
    READINGS_TENANTS,
    MeterSpec,
    add_account,
    make_household,
    post_readings,
    set_clock,
    signed_in,
    with_session,
)

TODAY = date(2026, 11, 21)
NOON = datetime(2026, 11, 21, 9, 0)
PARTIAL_BUDGET_BYTES = 5 * 1024


async def test_anonymous_visitors_are_sent_to_sign_in(client: httpx.AsyncClient) -> None:
    for path in ("/readings", "/accounts/1/readings"):
        response = await client.get(tenant_url("ivanovo-water", path))
        assert response.status_code in (302, 303)
        assert "/sign-in" in response.headers["location"]


async def test_a_tenant_without_readings_has_no_readings_pages(client: httpx.AsyncClient) -> None:
    for path in ("/readings", "/accounts/1/readings"):
        response = await client.get(tenant_url("beijing-unicom", path))
        assert response.status_code == 404


async def test_one_account_goes_straight_to_it_several_are_listed(
    client: httpx.AsyncClient, database_url: str
) -> None:
    household = await make_household(
        database_url, "melitopol-water", [MeterSpec()], TODAY, own_customer=True
    )
    await signed_in(client, household)
    response = await client.get(tenant_url("melitopol-water", "/readings"))
    assert response.status_code == 303
    assert response.headers["location"] == f"/accounts/{household.account_id}/readings"
    other_id, other_number, _, _ = await add_account(
        database_url, "melitopol-water", household.customer_id, [MeterSpec()], TODAY
    )
    listing = await client.get(tenant_url("melitopol-water", "/readings"))
    assert listing.status_code == 200
    assert f'href="/accounts/{household.account_id}/readings"' in listing.text
    assert f'href="/accounts/{other_id}/readings"' in listing.text
    assert other_number in text_of(listing.text)


async def test_each_row_shows_the_meter_and_its_readings(
    client: httpx.AsyncClient, database_url: str
) -> None:
    household = await make_household(
        database_url,
        "kz-vodokanal",
        [
            MeterSpec(service="cold_water", history=["140.5", "145.554"], decimals=3),
            MeterSpec(service="hot_water", factory_number=None, history=["10", "12"]),
            MeterSpec(service="hot_water", state="removed"),
            MeterSpec(service="heat", is_heat_meter=True),
        ],
        TODAY,
        kind="legal",
    )
    set_clock(client, NOON)
    await with_session(client, household)
    response = await client.get(household.url() + "?lang=en")
    assert response.status_code == 200
    page = text_of(response.text)
    cold, no_number, removed, heat = household.factory_numbers
    assert cold and removed and heat and no_number is None
    # Service, factory number, state, previous value with its date and source.
    assert "Cold water" in page and "Hot water" in page and cold in page
    assert "145.554" in page and "Oct 3, 2026" in page and "Billing" in page
    assert "Installed" in page and "Removed" in page
    # Rows that take no reading say why, in the tenant's words.
    assert "Readings for a meter without a factory number are not accepted" in page
    assert "This meter is not working or has been removed" in page
    assert "A printout of the daily heat supply parameters must be provided." in page
    # The tenant's advice, and one input per meter that takes a reading.
    assert "You can correct this month's readings until the end of the month." in page
    inputs = re.findall(r'<input type="text" inputmode="decimal"[^>]*>', response.text)
    assert len(inputs) == 1 and f'name="value-{household.meters[0]}"' in inputs[0]
    assert f'aria-describedby="check-{household.meters[0]}"' in inputs[0]
    assert f"Current reading, Cold water, meter {cold}" in page
    assert "<caption id=" in response.text and 'scope="col"' in response.text
    assert 'scope="row"' in response.text
    assert response.headers["vary"].lower().count("hx-request") == 1


async def test_status_of_this_months_reading(client: httpx.AsyncClient, database_url: str) -> None:
    household = await make_household(
        database_url,
        "wujiang-water",
        [
            MeterSpec(history=["10"], current=("12.5", "billing", "accepted")),
            MeterSpec(history=["10"], current=("11", "customer", "processing")),
            MeterSpec(
                history=["10"],
                current=("9", "customer", "rejected"),
                rejection_reason="The photo shows 19.",
            ),
        ],
        TODAY,
    )
    set_clock(client, NOON)
    await with_session(client, household)
    response = await client.get(household.url() + "?lang=en")
    page = text_of(response.text)
    assert "Accepted" in page and "Being processed" in page
    assert "Rejected: The photo shows 19." in page
    # The utility's accepted value is shown, not offered for editing; the customer's is.
    assert "12.500" in page
    assert f'name="value-{household.meters[0]}"' not in response.text
    assert re.search(rf'name="value-{household.meters[1]}" value="11.000"', response.text)


async def test_verification_link_goes_to_a_visit_request_where_the_tenant_has_them(
    client: httpx.AsyncClient, database_url: str
) -> None:
    for slug, link in (
        ("ivanovo-water", "/visits/new?kind=meter_check&amp;account={a}&amp;meter={m}"),
        ("melitopol-water", "/contact"),
    ):
        household = await make_household(
            database_url, slug, [MeterSpec(verification_in_days=-3, history=["1"])], TODAY
        )
        set_clock(client, NOON)
        await with_session(client, household)
        response = await client.get(household.url() + "?lang=en")
        expected = link.format(a=household.account_id, m=household.meters[0])
        assert f'href="{expected}"' in response.text
        assert "This meter's verification date has passed." in text_of(response.text)
        client.cookies.clear()


async def test_someone_elses_account_is_not_found_and_shows_nothing_of_it(
    client: httpx.AsyncClient, database_url: str
) -> None:
    owner = await make_household(database_url, "ivanovo-water", [MeterSpec()], TODAY)
    stranger = await make_household(
        database_url, "ivanovo-water", [MeterSpec()], TODAY, own_customer=True
    )
    await with_session(client, stranger)
    for response in (
        await client.get(owner.url()),
        await post_readings(
            client, stranger, {f"value-{owner.meters[0]}": "5"}, account_id=owner.account_id
        ),
        await client.get(tenant_url("ivanovo-water", "/accounts/999999999/readings")),
    ):
        assert response.status_code == 404
        assert owner.account_number not in response.text
        assert str(owner.factory_numbers[0]) not in response.text


async def test_an_account_of_another_tenant_is_not_found(
    client: httpx.AsyncClient, database_url: str
) -> None:
    elsewhere = await make_household(database_url, "kz-vodokanal", [MeterSpec()], TODAY)
    here = await make_household(database_url, "ivanovo-water", [MeterSpec()], TODAY)
    await with_session(client, here)
    response = await client.get(
        tenant_url("ivanovo-water", f"/accounts/{elsewhere.account_id}/readings")
    )
    assert response.status_code == 404 and elsewhere.account_number not in response.text


async def test_htmx_gets_the_section_alone(client: httpx.AsyncClient, database_url: str) -> None:
    household = await make_household(database_url, "ivanovo-water", [MeterSpec()], TODAY)
    await with_session(client, household)
    response = await client.get(household.url(), headers={"hx-request": "true"})
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="readings">')
    assert "<html" not in response.text and "hx-request" in response.headers["vary"].lower()


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("abc", "Enter the reading as a number"),
        ("150.12345", "at most 3 decimal places"),
        ("90", "Was the meter replaced"),
        ("500", "Is it right?"),
        ("125", ""),
    ],
)
async def test_the_check_of_one_value_as_it_is_typed(
    client: httpx.AsyncClient, database_url: str, typed: str, expected: str
) -> None:
    household = await make_household(
        database_url, "ivanovo-water", [MeterSpec(history=["100", "110", "120"])], TODAY
    )
    set_clock(client, NOON)
    await with_session(client, household)
    page = await client.get(household.url() + "?lang=en")
    meter_id = household.meters[0]
    assert f'hx-post="/accounts/{household.account_id}/readings/check"' in page.text
    response = await client.post(
        household.url("/check"),
        data={f"value-{meter_id}": typed},
        headers={
            "hx-request": "true",
            "x-csrftoken": csrf_token(page.text),
            "accept-encoding": "gzip",
        },
    )
    assert response.status_code == 200
    assert response.num_bytes_downloaded <= PARTIAL_BUDGET_BYTES
    assert "<html" not in response.text and "<input" not in response.text
    if expected:
        assert expected in text_of(response.text)
    else:
        assert text_of(response.text) == ""
    if expected in ("Was the meter replaced", "Is it right?"):
        assert "You will be asked to confirm this value" in text_of(response.text)


async def test_the_check_refuses_a_meter_of_another_account(
    client: httpx.AsyncClient, database_url: str
) -> None:
    household = await make_household(database_url, "ivanovo-water", [MeterSpec()], TODAY)
    other = await make_household(database_url, "ivanovo-water", [MeterSpec()], TODAY)
    await with_session(client, household)
    response = await post_readings(
        client, household, {f"value-{other.meters[0]}": "5"}, path="/check"
    )
    assert response.status_code == 404 and str(other.factory_numbers[0]) not in response.text


async def test_the_check_weighs_a_value_against_its_own_meter_only(
    client: httpx.AsyncClient, database_url: str
) -> None:
    """The check loads just the posted meter's history; the other meter's must not leak in."""
    household = await make_household(
        database_url,
        "ivanovo-water",
        [MeterSpec(history=["100", "110", "120"]), MeterSpec(history=["1000", "1100", "1200"])],
        TODAY,
    )
    set_clock(client, NOON)
    await with_session(client, household)
    low, high = household.meters

    async def check(data: dict[str, str], account_id: int | None = None) -> httpx.Response:
        return await post_readings(
            client,
            household,
            data,
            path="/check?lang=en",
            account_id=account_id,
            headers={"hx-request": "true"},
        )

    assert text_of((await check({f"value-{low}": "125"})).text) == ""
    assert "Was the meter replaced" in text_of((await check({f"value-{high}": "125"})).text)
    assert text_of((await check({f"value-{high}": "1290"})).text) == ""
    # One value at a time, on the customer's own account: anything else finds nothing.
    assert (await check({f"value-{low}": "125", f"value-{high}": "1290"})).status_code == 404
    assert (await check({"value-x": "125"})).status_code == 404
    other = await make_household(
        database_url, "ivanovo-water", [MeterSpec()], TODAY, own_customer=True
    )
    foreign = await check({f"value-{other.meters[0]}": "5"}, account_id=other.account_id)
    assert foreign.status_code == 404


@pytest.mark.parametrize("slug", READINGS_TENANTS)
async def test_every_readings_tenant_serves_the_page_in_its_default_language(
    client: httpx.AsyncClient, database_url: str, slug: str
) -> None:
    household = await make_household(database_url, slug, [MeterSpec(history=["5"])], TODAY)
    await with_session(client, household)
    response = await client.get(household.url())
    assert response.status_code == 200 and household.account_number in response.text


async def test_the_readings_page_stays_within_the_first_load_budget(
    client: httpx.AsyncClient, database_url: str
) -> None:
    household = await make_household(
        database_url,
        "kz-vodokanal",
        [MeterSpec(history=["1", "2", "3"]) for _ in range(8)]
        + [MeterSpec(service="heat", is_heat_meter=True)],
        TODAY,
        kind="legal",
    )
    await with_session(client, household)
    gzip = {"accept-encoding": "gzip"}
    response = await client.get(household.url(), headers=gzip)
    total = response.num_bytes_downloaded
    for asset in set(re.findall(r'(?:src|href)="(/static/[^"]+)"', response.text)):
        total += (
            await client.get(tenant_url("kz-vodokanal", asset), headers=gzip)
        ).num_bytes_downloaded
    assert total <= 30 * 1024, total
