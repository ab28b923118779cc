"""The period statement over HTTP: opening + charges − payments = closing per month and in
total, the lines behind each figure, month names in the reader's language, bad periods."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import httpx
import pytest

from tests.conftest import tenant_url
from tests.helpers import text_of
from tests.web.test_cabinet_home import (
    Made,
    english,  # noqa: F401  (the autouse fixture: pages in English)
    make_account,
    money,
    signed_in_customer,
)

SLUG = "melitopol-water"


@pytest.fixture(autouse=True)
def late_november(client: httpx.AsyncClient) -> None:
    """Today is 21 November 2026 in every test here (the default period depends on it)."""
    client._transport.app.portal.clock = lambda: datetime(2026, 11, 21, 10, 0, tzinfo=UTC)  # type: ignore[attr-defined]


async def statement_account(database_url: str) -> Made:
    return await make_account(
        database_url,
        SLUG,
        charges=[
            (date(2026, 3, 1), "cold_water", "200.00"),  # before the range: opening
            (date(2026, 8, 1), "cold_water", "300.00"),
            (date(2026, 8, 1), "sewerage", "120.50"),
            (date(2026, 8, 1), "benefit", "-60.00"),
            (date(2026, 9, 1), "cold_water", "310.00"),
            (date(2026, 10, 1), "cold_water", "280.00"),
            (date(2026, 10, 1), "subsidy", "-28.00"),
            (date(2026, 12, 1), "cold_water", "999.00"),  # after the range: not shown
        ],
        payments=[
            (datetime(2026, 4, 5, 8, 0, tzinfo=UTC), "150.00"),  # before the range
            (datetime(2026, 9, 10, 8, 0, tzinfo=UTC), "360.50"),
            (datetime(2026, 10, 3, 8, 0, tzinfo=UTC), "200.00"),
            (datetime(2026, 10, 20, 8, 0, tzinfo=UTC), "110.00"),
        ],
    )


def row(page: str, label: str) -> list[str]:
    """The cells of a table row headed by `label` (in the page's text)."""
    html = re.search(
        rf"<tr[^>]*>\s*<th scope=\"row\">(?:<a [^>]*>)?{re.escape(label)}(?:</a>)?</th>(.*?)</tr>",
        page,
        re.S,
    )
    assert html, label
    return [text_of(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", html.group(1), re.S)]


async def test_statement_figures_and_lines(client: httpx.AsyncClient, database_url: str) -> None:
    account = await statement_account(database_url)
    await signed_in_customer(client, database_url, SLUG, [(account, "Дача")])
    response = await client.get(
        tenant_url(SLUG, f"/accounts/{account.id}/statement?from=2026-08&to=2026-10")
    )
    assert response.status_code == 200
    page = response.text

    def m(amount: str) -> str:
        return money(amount, SLUG)

    # Opening 200 − 150 = 50; August +360.50; September +310 − 360.50; October +252 − 310.
    assert row(page, "August 2026") == [m("50.00"), m("360.50"), m("0.00"), m("410.50")]
    assert row(page, "September 2026") == [m("410.50"), m("310.00"), m("360.50"), m("360.00")]
    assert row(page, "October 2026") == [m("360.00"), m("252.00"), m("310.00"), m("302.00")]
    assert row(page, "Whole period") == [m("50.00"), m("922.50"), m("670.50"), m("302.00")]
    text = text_of(page)
    assert "Summary from August 2026 to October 2026" in text
    # The lines behind the figures: services with volume and tariff, allowances below zero.
    assert f"Cold water 5.5 10 {m('300.00')}" in text
    assert f"Sewerage 5.5 10 {m('120.50')}" in text
    assert f"Benefit — — {m('-60.00')}" in text
    assert f"Subsidy — — {m('-28.00')}" in text
    assert f"Charges in total {m('360.50')}" in text
    assert f"Oct 3, 2026 {m('200.00')}" in text and f"Oct 20, 2026 {m('110.00')}" in text
    assert "Recorded by the utility" in text
    assert "No payments in August 2026." in text
    assert m("999.00") not in text
    # Accessible tables.
    assert '<caption id="charges-2026-10">Charges in October 2026</caption>' in page
    assert '<th scope="col">Opening balance</th>' in page
    assert "?from=2026-05&amp;to=2026-07" in page  # "Earlier months"


async def test_the_default_period_is_the_last_six_whole_months(
    client: httpx.AsyncClient, database_url: str
) -> None:
    account = await statement_account(database_url)
    await signed_in_customer(client, database_url, SLUG, [(account, None)])
    response = await client.get(tenant_url(SLUG, f"/accounts/{account.id}/statement"))
    assert response.status_code == 200
    text = text_of(response.text)
    assert "Summary from May 2026 to October 2026" in text
    assert 'value="2026-05"' in response.text and 'value="2026-10"' in response.text
    assert "November 2026" not in text
    # Opening of May: 200 charged in March − 150 paid in April.
    assert row(response.text, "May 2026")[0] == money("50.00", SLUG)


async def test_month_names_in_the_readers_language(
    client: httpx.AsyncClient, database_url: str
) -> None:
    account = await statement_account(database_url)
    await signed_in_customer(client, database_url, SLUG, [(account, None)])
    client.headers["accept-language"] = "ru"
    response = await client.get(
        tenant_url(SLUG, f"/accounts/{account.id}/statement?from=2026-09&to=2026-10")
    )
    text = text_of(response.text)
    assert "Сентябрь 2026" in text and "Октябрь 2026" in text
    assert money("302.00", SLUG, "ru") in text


BAD_PERIODS = [
    ("from=2026-13", "Please give a month as year and month, for example 2026-10."),
    ("from=abc&to=xyz", "Please give a month as year and month, for example 2026-10."),
    ("from=2026-08&to=2026-03", "The first month is after the last one."),
    ("from=2020-01&to=2026-10", "A statement can cover at most 36 months."),
    ("from=2026-10&to=2027-02", "That month has not started yet."),
    ("from=2026-05&to=" + "9" * 5000, "Please give a month as year and month"),
]


async def test_bad_periods_are_explained_with_the_form(
    client: httpx.AsyncClient, database_url: str
) -> None:
    account = await statement_account(database_url)
    await signed_in_customer(client, database_url, SLUG, [(account, None)])
    for query, message in BAD_PERIODS:
        response = await client.get(tenant_url(SLUG, f"/accounts/{account.id}/statement?{query}"))
        assert response.status_code == 400, query
        text = text_of(response.text)
        assert message in text, query
        assert "Show the statement" in text  # the period form, to try again
        assert "Opening balance" not in text


async def test_bad_periods_in_the_readers_language(
    client: httpx.AsyncClient, database_url: str
) -> None:
    """The latest month a reader may choose is named in their language."""
    account = await statement_account(database_url)
    await signed_in_customer(client, database_url, SLUG, [(account, None)])
    response = await client.get(tenant_url(SLUG, f"/accounts/{account.id}/statement?from=2027-01"))
    assert response.status_code == 400
    assert "The latest month you can choose is November 2026." in text_of(response.text)
    assert 'aria-invalid="true"' in response.text


async def test_statements_on_a_tenant_with_accounts_but_no_statements_module(
    client: httpx.AsyncClient, database_url: str
) -> None:
    """ivanovo-water has `accounts` without `statements`: the statement comes with accounts."""
    slug = "ivanovo-water"
    account = await make_account(
        database_url, slug, charges=[(date(2026, 10, 1), "cold_water", "46.19")]
    )
    await signed_in_customer(client, database_url, slug, [(account, None)])
    response = await client.get(tenant_url(slug, f"/accounts/{account.id}/statement"))
    assert response.status_code == 200
    assert row(response.text, "October 2026")[-1] == money("46.19", slug)
