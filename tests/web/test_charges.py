"""The charges breakdown over HTTP (seed 004 "Расшифровка начислений"): a month picker
defaulting to the previous month, the lines with recipient, tariff group, volume, tariff,
VAT and amount, totals, allowances below zero, and every kind of bad input."""

from __future__ import annotations

import re
from datetime import date

import httpx
import pytest

from tests.conftest import tenant_url
from tests.helpers import text_of
from tests.web.test_charges_support import (
    PRESETS,
    Doc,
    Line,
    document_account,
    money,
)

SLUG = "melitopol-water"
OCTOBER = date(2026, 10, 1)


@pytest.fixture(autouse=True)
def english(client: httpx.AsyncClient) -> None:
    client.headers["accept-language"] = "en"


async def october_account(client: httpx.AsyncClient, database_url: str, slug: str = SLUG) -> Doc:
    return await document_account(
        client,
        database_url,
        slug,
        lines=[
            Line(OCTOBER, "cold_water", "1234.50", "5.5", "187.0455", "20", "КП Водоканал", "3"),
            Line(OCTOBER, "sewerage", "100.00", "5.5", "15.1515", "20", "КП Водоканал", "3"),
            Line(OCTOBER, "hot_water", "10.00", "0.25", "40", "0", "ТОВ Тепло", "1"),
            Line(OCTOBER, "benefit", "-50.00"),
            Line(OCTOBER, "subsidy", "-20.00"),
            Line(date(2026, 9, 1), "cold_water", "999.00", "9", "111", "20", "КП Водоканал", "3"),
        ],
    )


def cells(page: str, label: str) -> list[list[str]]:
    """The cells of every body row whose row header is `label`."""
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", page, re.S)
    found = []
    for row in rows:
        header = re.search(r'<th scope="row"[^>]*>(.*?)</th>', row, re.S)
        if header and text_of(header.group(1)) == label:
            found.append(
                [text_of(cell) for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
            )
    return found


async def test_the_lines_of_a_month_with_totals(
    client: httpx.AsyncClient, database_url: str
) -> None:
    doc = await october_account(client, database_url)
    response = await client.get(doc.url("/charges?period=2026-10"))
    assert response.status_code == 200
    page = response.text

    def m(amount: str) -> str:
        return money(amount, SLUG, "en")

    # Recipient, tariff group, service, volume, tariff, VAT, amount.
    assert cells(page, "Cold water") == [
        ["КП Водоканал", "3", "Cold water", "5.5", "187.0455", "20%", m("1234.50")]
    ]
    assert cells(page, "Hot water") == [
        ["ТОВ Тепло", "1", "Hot water", "0.25", "40", "0%", m("10.00")]
    ]
    assert cells(page, "Sewerage") == [
        ["КП Водоканал", "3", "Sewerage", "5.5", "15.1515", "20%", m("100.00")]
    ]
    # Allowances are lines below zero, with no volume, tariff or VAT.
    assert cells(page, "Benefit") == [["—", "—", "Benefit", "—", "—", "—", m("-50.00")]]
    assert cells(page, "Subsidy") == [["—", "—", "Subsidy", "—", "—", "—", m("-20.00")]]
    text = text_of(page)
    assert "Volume of Cold water in total 5.5" in text
    assert "Volume of Hot water in total 0.25" in text
    assert "Volume of Sewerage in total 5.5" in text
    assert "Volume of Benefit" not in text
    assert f"Total for October 2026 {m('1274.50')}" in text
    assert "shown as amounts below zero" in text
    assert f"Account {doc.number}" in text and "Payer Петров Пётр Ильич" in text
    assert m("999.00") not in text  # September's line
    # Accessible table; the document buttons carry the period.
    assert '<th scope="col">Tariff group</th>' in page
    assert f'href="/accounts/{doc.id}/charges.pdf?period=2026-10"' in page
    assert f'action="/accounts/{doc.id}/charges/email?period=2026-10"' in page


async def test_the_previous_month_by_default_and_the_picker(
    client: httpx.AsyncClient, database_url: str
) -> None:
    doc = await october_account(client, database_url)
    default = await client.get(doc.url("/charges"))
    assert default.status_code == 200
    assert "Charges by recipient in October 2026" in text_of(default.text)
    assert '<option value="10" selected>October</option>' in default.text
    assert '<option value="2026" selected>2026</option>' in default.text
    # The picker's lists give the same page as a period link.
    picked = await client.get(doc.url("/charges?month=9&year=2026"))
    assert picked.status_code == 200
    assert "Charges by recipient in September 2026" in text_of(picked.text)
    assert money("999.00", SLUG, "en") in text_of(picked.text)
    assert '<option value="09" selected>September</option>' in picked.text
    # Years from this one back to 2000; no year after today's.
    assert '<option value="2000"' in default.text and '<option value="2027"' not in default.text


async def test_month_names_and_money_in_the_readers_language(
    client: httpx.AsyncClient, database_url: str
) -> None:
    doc = await october_account(client, database_url)
    client.headers["accept-language"] = "ru"
    response = await client.get(doc.url("/charges?period=2026-10"))
    assert response.status_code == 200
    assert '<option value="10" selected>Октябрь</option>' in response.text
    assert '<option value="01">Январь</option>' in response.text
    text = text_of(response.text)
    assert money("1274.50", SLUG, "ru") in text
    assert "Октябрь 2026" in text


async def test_a_month_without_charges_says_so(
    client: httpx.AsyncClient, database_url: str
) -> None:
    doc = await october_account(client, database_url)
    response = await client.get(doc.url("/charges?period=2026-11"))
    assert response.status_code == 200
    text = text_of(response.text)
    assert f"There are no charges on account {doc.number} for November 2026." in text
    assert "<table" not in response.text and "Download PDF" not in text


BAD_MONTHS = [
    ("period=2026-13", "Please choose a month and a year from the lists."),
    ("period=October", "Please choose a month and a year from the lists."),
    ("month=13&year=2026", "Please choose a month and a year from the lists."),
    ("month=10&year=abcd", "Please choose a month and a year from the lists."),
    ("month=10", "Please choose a month and a year from the lists."),
    ("period=99999999999999999999-01", "Please choose a month and a year from the lists."),
    (
        "period=2026-12",
        "That month has not started yet. The latest month you can choose is November 2026.",
    ),
    (
        "month=01&year=2027",
        "That month has not started yet. The latest month you can choose is November 2026.",
    ),
    ("period=1999-12", "Charges are shown from January 2000 onwards. Please choose a later month."),
]


async def test_bad_months_are_refused_next_to_the_picker(
    client: httpx.AsyncClient, database_url: str
) -> None:
    doc = await october_account(client, database_url)
    for query, message in BAD_MONTHS:
        response = await client.get(doc.url(f"/charges?{query}"))
        assert response.status_code == 400, query
        assert f'<p class="error" id="period-error" role="alert">{message}</p>' in response.text
        assert 'aria-describedby="period-error"' in response.text
        assert "<table" not in response.text
        # The document routes refuse the same way: the page with its message, never a PDF.
        pdf = await client.get(doc.url(f"/charges.pdf?{query}"))
        assert pdf.status_code == 400, query
        assert pdf.headers["content-type"].startswith("text/html")
        assert message in pdf.text


async def test_another_customers_account_is_not_found(
    client: httpx.AsyncClient, database_url: str, make_client: object
) -> None:
    theirs = await october_account(client, database_url)
    # A different customer of the same tenant, signed in on another client.
    other_client: httpx.AsyncClient = await make_client()  # type: ignore[operator]
    mine = await document_account(other_client, database_url, SLUG, own_customer=True)
    for path in ("/charges?period=2026-10", "/charges.pdf?period=2026-10", "/charges"):
        response = await other_client.get(theirs.url(path))
        assert response.status_code == 404, path
        assert money("1274.50", SLUG, "en") not in text_of(response.text)
    assert (await other_client.get(mine.url("/charges"))).status_code == 200
    for missing in ("999999999", "99999999999999999999999"):
        response = await other_client.get(tenant_url(SLUG, f"/accounts/{missing}/charges"))
        assert response.status_code == 404


async def test_signing_in_comes_first(client: httpx.AsyncClient) -> None:
    response = await client.get(tenant_url(SLUG, "/accounts/1/charges"))
    assert response.status_code in (302, 303)
    assert "/sign-in" in response.headers["location"]


@pytest.mark.parametrize("slug", sorted(PRESETS))
async def test_every_tenant_offers_the_breakdown(
    client: httpx.AsyncClient, database_url: str, slug: str
) -> None:
    doc = await document_account(
        client,
        database_url,
        slug,
        lines=[Line(OCTOBER, "cold_water", "12.34", "1", "12.34", "0", "Recipient", "1")],
    )
    response = await client.get(doc.url("/charges"))
    assert response.status_code == 200, slug
    assert money("12.34", slug, "en") in text_of(response.text)
