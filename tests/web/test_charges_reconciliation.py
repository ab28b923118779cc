"""The reconciliation statement of a legal entity (kz-vodokanal): opening balance, charges,
payments and closing balance per month, totals, the balance in words; 404 wherever it is
not offered; the statement's rules for the range."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import httpx
import pytest

from tests.helpers import text_of
from tests.web.test_charges_support import Doc, Line, document_account, money

SLUG = "kz-vodokanal"


@pytest.fixture(autouse=True)
def english(client: httpx.AsyncClient) -> None:
    client.headers["accept-language"] = "en"


async def legal_account(client: httpx.AsyncClient, database_url: str) -> Doc:
    return await document_account(
        client,
        database_url,
        SLUG,
        kind="legal",
        holder_name="ТОО «Арман»",
        contract_number="2666",
        lines=[
            Line(date(2026, 6, 1), "cold_water", "500.00", "2", "197.02", "12"),  # opening
            Line(date(2026, 8, 1), "cold_water", "1000.00", "4", "197.02", "12"),
            Line(date(2026, 8, 1), "sewerage", "200.50", "4", "44.7", "12"),
            Line(date(2026, 9, 1), "cold_water", "800.00", "3", "197.02", "12"),
            Line(date(2026, 10, 1), "cold_water", "900.00", "3.5", "197.02", "12"),
        ],
        payments=[
            (datetime(2026, 7, 10, 5, 0, tzinfo=UTC), "300.00"),  # opening
            (datetime(2026, 9, 5, 5, 0, tzinfo=UTC), "1400.50"),
            # 31 Oct 20:00 UTC is 1 November in Almaty: a November payment.
            (datetime(2026, 10, 31, 20, 0, tzinfo=UTC), "100.00"),
        ],
    )


def row(page: str, label: str) -> list[str]:
    found = re.search(rf'<tr[^>]*>\s*<th scope="row">{re.escape(label)}</th>(.*?)</tr>', page, re.S)
    assert found, label
    return [text_of(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", found.group(1), re.S)]


async def test_months_and_totals_of_a_range(client: httpx.AsyncClient, database_url: str) -> None:
    doc = await legal_account(client, database_url)
    response = await client.get(doc.url("/reconciliation?from=2026-08&to=2026-10"))
    assert response.status_code == 200
    page = response.text

    def m(amount: str) -> str:
        return money(amount, SLUG, "en")

    # Opening 500 − 300 = 200; August +1200.50; September +800 − 1400.50; October +900.
    assert row(page, "August 2026") == [m("200.00"), m("1200.50"), m("0.00"), m("1400.50")]
    assert row(page, "September 2026") == [m("1400.50"), m("800.00"), m("1400.50"), m("800.00")]
    assert row(page, "October 2026") == [m("800.00"), m("900.00"), m("0.00"), m("1700.00")]
    assert row(page, "Whole period") == [m("200.00"), m("2900.50"), m("1400.50"), m("1700.00")]
    text = text_of(page)
    assert "Settlements from August 2026 to October 2026" in text
    assert f"On October 31, 2026 the debt of ТОО «Арман» is {m('1700.00')}." in text
    assert "Contract 2666" in text and f"Account {doc.number}" in text
    assert f'href="/accounts/{doc.id}/reconciliation.pdf?from=2026-08&amp;to=2026-10"' in page


async def test_the_default_range_and_an_overpayment(
    client: httpx.AsyncClient, database_url: str
) -> None:
    doc = await legal_account(client, database_url)
    response = await client.get(doc.url("/reconciliation?from=2026-11&to=2026-11"))
    assert response.status_code == 200
    # November: the payment made on 1 November local time leaves 1600 owed.
    assert row(response.text, "November 2026")[2] == money("100.00", SLUG, "en")
    default = await client.get(doc.url("/reconciliation"))
    assert default.status_code == 200
    assert "Settlements from May 2026 to October 2026" in text_of(default.text)
    ahead = await document_account(
        client,
        database_url,
        SLUG,
        kind="legal",
        holder_name="ТОО «Береке»",
        lines=[Line(date(2026, 9, 1), "cold_water", "100.00", "1", "100", "12")],
        payments=[(datetime(2026, 9, 2, 5, 0, tzinfo=UTC), "150.00")],
    )
    text = text_of((await client.get(ahead.url("/reconciliation"))).text)
    assert (
        f"On October 31, 2026 ТОО «Береке» has paid {money('50.00', SLUG, 'en')} in advance."
        in text
    )


async def test_the_readers_language(client: httpx.AsyncClient, database_url: str) -> None:
    doc = await legal_account(client, database_url)
    client.headers["accept-language"] = "kk"
    response = await client.get(doc.url("/reconciliation?from=2026-08&to=2026-10"))
    assert response.status_code == 200
    assert money("1700.00", SLUG, "kk") in text_of(response.text)


BAD_RANGES = [
    ("from=2026-13&to=2026-10", "Please give a month as year and month"),
    ("from=abc", "Please give a month as year and month"),
    ("from=2026-10&to=2027-01", "That month has not started yet."),
    ("from=2026-10&to=2026-08", "The first month is after the last one."),
    ("from=2020-01&to=2026-10", "A statement can cover at most 36 months."),
]


async def test_bad_ranges(client: httpx.AsyncClient, database_url: str) -> None:
    doc = await legal_account(client, database_url)
    for query, message in BAD_RANGES:
        for path in ("/reconciliation", "/reconciliation.pdf"):
            response = await client.get(doc.url(f"{path}?{query}"))
            assert response.status_code == 400, (path, query)
            assert response.headers["content-type"].startswith("text/html")
            assert message in text_of(response.text)
            assert "<table" not in response.text


async def test_only_a_legal_entitys_account_where_the_tenant_offers_it(
    client: httpx.AsyncClient, database_url: str
) -> None:
    individual = await document_account(
        client,
        database_url,
        SLUG,
        lines=[Line(date(2026, 9, 1), "cold_water", "100.00", "1", "100", "12")],
    )
    for path in ("/reconciliation", "/reconciliation.pdf"):
        assert (await client.get(individual.url(path))).status_code == 404
    assert (await client.get(individual.url("/statement"))).status_code == 200
    # Tenants without the module: a legal entity's account there has no reconciliation.
    for slug in ("melitopol-water", "beijing-unicom", "wujiang-water"):
        legal = await document_account(client, database_url, slug, kind="legal")
        for path in ("/reconciliation", "/reconciliation.pdf?from=2026-08&to=2026-10"):
            response = await client.get(legal.url(path))
            assert response.status_code == 404, (slug, path)


async def test_another_customers_account_is_not_found(
    client: httpx.AsyncClient, database_url: str, make_client: object
) -> None:
    theirs = await legal_account(client, database_url)
    other: httpx.AsyncClient = await make_client()  # type: ignore[operator]
    await document_account(other, database_url, SLUG, kind="legal", own_customer=True)
    for path in ("/reconciliation", "/reconciliation.pdf", "/statement.pdf"):
        response = await other.get(theirs.url(path))
        assert response.status_code == 404, path
        assert "ТОО «Арман»" not in response.text
