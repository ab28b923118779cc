"""The documents as PDF files: the text of each, extracted with pypdf, in every language of
a tenant that has it (Chinese included, with a CJK font embedded), the file's headers, bad
input answered with the page and its message, and two documents rendered at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from urllib.parse import unquote

import httpx
import pytest

from tests.web.test_charges_support import (
    PRESETS,
    Doc,
    Line,
    document_account,
    money,
    month,
    pdf_fonts,
    pdf_text,
    say,
)

OCTOBER = date(2026, 10, 1)


def assert_pdf(response: httpx.Response) -> bytes:
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert response.headers["cache-control"] == "private, no-store"
    return response.content


def without_forms(text: str, slug: str, locale: str) -> None:
    """Buttons, pickers and links are the screen's: never printed."""
    for message in ("Download PDF", "Send to my email", "Back to your cabinet", "Earlier months"):
        assert say(slug, locale, message) not in text


async def charges_account(client: httpx.AsyncClient, database_url: str, slug: str) -> Doc:
    return await document_account(
        client,
        database_url,
        slug,
        kind="legal" if slug == "kz-vodokanal" else "individual",
        contract_number="2666",
        lines=[
            Line(OCTOBER, "cold_water", "1234.50", "5.5", "197.02", "12", "Recipient One", "3"),
            Line(OCTOBER, "sewerage", "100.00", "5.5", "204.5", "12", "Recipient One", "3"),
            Line(OCTOBER, "benefit", "-50.00"),
        ],
    )


@pytest.mark.parametrize(
    ("slug", "locale"),
    [
        ("wujiang-water", "zh_Hans"),
        ("wujiang-water", "en"),
        ("kz-vodokanal", "ru"),
        ("kz-vodokanal", "kk"),
        ("kz-vodokanal", "en"),
    ],
)
async def test_charges_breakdown_pdf_in_every_language(
    client: httpx.AsyncClient, database_url: str, slug: str, locale: str
) -> None:
    assert locale in PRESETS[slug].locales.enabled
    client.headers["accept-language"] = locale.replace("_", "-")
    doc = await charges_account(client, database_url, slug)
    pdf = assert_pdf(await client.get(doc.url("/charges.pdf?period=2026-10")))
    text = pdf_text(pdf)
    assert PRESETS[slug].name(locale) in text
    assert say(slug, locale, "Charges breakdown of account %(number)s", number=doc.number) in text
    for service in ("Cold water", "Sewerage", "Benefit"):
        assert say(slug, locale, service) in text, service
    for amount in ("1234.50", "100.00", "-50.00", "1284.50"):
        assert money(amount, slug, locale) in text, amount
    assert month(slug, locale, OCTOBER) in text
    assert "Recipient One" in text and "2666" in text
    without_forms(text, slug, locale)
    if locale == "zh_Hans":
        # Babel's Chinese currency format, and Chinese glyphs from a CJK font.
        assert "¥1,284.50" in text and "冷水" in text
        assert any("NotoSansCJK" in name.replace("-", "") for name in pdf_fonts(pdf))
    # The file's name: ASCII, and in the reader's language (RFC 5987).
    disposition = client_disposition = (
        await client.get(doc.url("/charges.pdf?period=2026-10"))
    ).headers["content-disposition"]
    assert disposition.startswith(f'attachment; filename="charges-{doc.number}-2026-10.pdf"')
    name = say(
        slug, locale, "Charges breakdown %(number)s %(period)s", number=doc.number, period="2026-10"
    )
    if not name.isascii():
        encoded = client_disposition.split("filename*=UTF-8''", 1)[1]
        assert unquote(encoded) == f"{name}.pdf"


async def reconciliation_account(client: httpx.AsyncClient, database_url: str) -> Doc:
    return await document_account(
        client,
        database_url,
        "kz-vodokanal",
        kind="legal",
        holder_name="ТОО «Арман»",
        contract_number="2666",
        lines=[
            Line(date(2026, 8, 1), "cold_water", "1000.00", "4", "197.02", "12"),
            Line(date(2026, 9, 1), "cold_water", "800.00", "3", "197.02", "12"),
        ],
        payments=[(datetime(2026, 9, 5, 5, 0, tzinfo=UTC), "1000.00")],
    )


@pytest.mark.parametrize("locale", ["ru", "kk", "en"])
async def test_reconciliation_pdf_in_every_language(
    client: httpx.AsyncClient, database_url: str, locale: str
) -> None:
    slug = "kz-vodokanal"
    client.headers["accept-language"] = locale
    doc = await reconciliation_account(client, database_url)
    response = await client.get(doc.url("/reconciliation.pdf?from=2026-08&to=2026-09"))
    text = pdf_text(assert_pdf(response))
    assert PRESETS[slug].name(locale) in text
    assert (
        say(slug, locale, "Reconciliation statement of account %(number)s", number=doc.number)
        in text
    )
    for heading in ("Opening balance", "Charges", "Payments", "Closing balance", "Whole period"):
        assert say(slug, locale, heading) in text, heading
    august, september = month(slug, locale, date(2026, 8, 1)), month(slug, locale, date(2026, 9, 1))

    def m(amount: str) -> str:
        return money(amount, slug, locale)

    assert f"{august} {m('0.00')} {m('1000.00')} {m('0.00')} {m('1000.00')}" in text
    assert f"{september} {m('1000.00')} {m('800.00')} {m('1000.00')} {m('800.00')}" in text
    assert "ТОО «Арман»" in text and "2666" in text
    without_forms(text, slug, locale)
    assert 'filename="reconciliation-' in response.headers["content-disposition"]


@pytest.mark.parametrize(("slug", "locale"), [("melitopol-water", "ru"), ("melitopol-water", "en")])
async def test_statement_pdf_in_every_language(
    client: httpx.AsyncClient, database_url: str, slug: str, locale: str
) -> None:
    client.headers["accept-language"] = locale
    doc = await document_account(
        client,
        database_url,
        slug,
        lines=[
            Line(date(2026, 9, 1), "cold_water", "300.00", "5.5", "10"),
            Line(date(2026, 9, 1), "subsidy", "-28.00"),
        ],
        payments=[(datetime(2026, 10, 3, 8, 0, tzinfo=UTC), "200.00")],
    )
    response = await client.get(doc.url("/statement.pdf?from=2026-09&to=2026-10"))
    text = pdf_text(assert_pdf(response))
    assert PRESETS[slug].name(locale) in text
    assert say(slug, locale, "Statement of account %(number)s", number=doc.number) in text
    september, october = (
        month(slug, locale, date(2026, 9, 1)),
        month(slug, locale, date(2026, 10, 1)),
    )
    assert say(slug, locale, "Charges in %(month)s", month=september) in text
    assert say(slug, locale, "Cold water") in text and say(slug, locale, "Subsidy") in text
    for amount in ("300.00", "-28.00", "272.00", "200.00", "72.00"):
        assert money(amount, slug, locale) in text, amount
    assert say(slug, locale, "No charges in %(month)s.", month=october) in text
    without_forms(text, slug, locale)
    assert response.headers["content-disposition"].startswith(
        f'attachment; filename="statement-{doc.number}-2026-09_2026-10.pdf"'
    )


async def test_the_statement_page_offers_its_documents(
    client: httpx.AsyncClient, database_url: str
) -> None:
    client.headers["accept-language"] = "en"
    doc = await document_account(
        client, database_url, "melitopol-water", lines=[Line(OCTOBER, "cold_water", "1.00")]
    )
    page = (await client.get(doc.url("/statement?from=2026-09&to=2026-10"))).text
    assert f'href="/accounts/{doc.id}/statement.pdf?from=2026-09&amp;to=2026-10"' in page
    assert f'action="/accounts/{doc.id}/statement/email?from=2026-09&amp;to=2026-10"' in page
    # A bad period: the statement page with its message (400), never a PDF.
    bad = await client.get(doc.url("/statement.pdf?from=2026-13"))
    assert bad.status_code == 400 and bad.headers["content-type"].startswith("text/html")
    assert "Please give a month as year and month" in bad.text
    future = await client.get(doc.url("/statement.pdf?to=2027-02"))
    assert future.status_code == 400


async def test_tenants_without_statements_have_no_statement_pdf(
    client: httpx.AsyncClient, database_url: str
) -> None:
    doc = await document_account(client, database_url, "beijing-unicom")
    assert (await client.get(doc.url("/statement.pdf"))).status_code == 404
    # The charges breakdown is every tenant's.
    assert_pdf(await client.get(doc.url("/charges.pdf")))


async def test_two_documents_at_once(client: httpx.AsyncClient, database_url: str) -> None:
    """Rendering runs in worker threads: two requests at the same time both finish, whole."""
    client.headers["accept-language"] = "zh-Hans"
    doc = await charges_account(client, database_url, "wujiang-water")
    first, second = await asyncio.gather(
        client.get(doc.url("/charges.pdf?period=2026-10")),
        client.get(doc.url("/statement.pdf?from=2026-09&to=2026-10")),
    )
    assert "冷水" in pdf_text(assert_pdf(first))
    assert money("1284.50", "wujiang-water", "zh_Hans") in pdf_text(assert_pdf(second))
