"""The cabinet home over HTTP: account cards with balances in words and money, allowances
where the tenant shows them, the links each tenant offers.

The helpers here make accounts and customers of a test's own (the database is shared by the
whole run); the other account tests import them.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import httpx
import pytest
from babel.numbers import format_currency
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.db import Database
from domain.models import Account, AccountLink, Charge, Meter, Payment, Tenant
from tenants.loader import load_presets
from tests.conftest import tenant_url
from tests.helpers import create_customer, sign_in, text_of

PRESETS = {config.slug: config for config in load_presets()}


@pytest.fixture(autouse=True)
def english(client: httpx.AsyncClient) -> None:
    """Pages in English unless a test asks otherwise: assertions read the source wording."""
    client.headers["accept-language"] = "en"


@dataclass(frozen=True)
class Made:
    id: int
    number: str


def money(amount: str, slug: str, locale: str = "en") -> str:
    """An amount as a page shows it, spaces made plain as `text_of` makes them."""
    return " ".join(format_currency(Decimal(amount), PRESETS[slug].currency, locale=locale).split())


async def _tenant_id(session: AsyncSession, slug: str) -> int:
    tenant = (await session.exec(select(Tenant).where(Tenant.slug == slug))).one()
    assert tenant.id is not None
    return int(tenant.id)


async def make_account(
    database_url: str,
    slug: str,
    *,
    holder_name: str = "Петров Пётр Ильич",
    meters: Iterable[tuple[str, str | None, str]] = (("cold_water", "45670103", "installed"),),
    charges: Iterable[tuple[date, str, str]] = (),
    payments: Iterable[tuple[datetime, str]] = (),
    street: str | None = "улица Садовая",
    house: str | None = "7",
    building: str | None = None,
    apartment: str | None = "12",
) -> Made:
    """An account nobody else uses: meters (service, factory number, state), charges
    (period, service, amount) and payments (when, amount)."""
    spec = PRESETS[slug].identifier(PRESETS[slug].account_identifier).spec
    length = getattr(spec, "length", None) or 10
    database = Database(database_url)
    try:
        async with database.session() as session:
            tenant_id = await _tenant_id(session, slug)
            while True:
                number = "9" + "".join(secrets.choice("0123456789") for _ in range(length - 1))
                taken = await session.exec(
                    select(Account.id).where(
                        Account.tenant_id == tenant_id, Account.number == number
                    )
                )
                if taken.first() is None:
                    break
            account = Account(
                tenant_id=tenant_id,
                number=number,
                holder_name=holder_name,
                street=street,
                house=house,
                building=building,
                apartment=apartment,
            )
            session.add(account)
            await session.flush()
            assert account.id is not None
            for service, factory_number, state in meters:
                session.add(
                    Meter(
                        tenant_id=tenant_id,
                        account_id=account.id,
                        service=service,
                        factory_number=factory_number,
                        state=state,
                    )
                )
            for period, service, amount in charges:
                session.add(
                    Charge(
                        tenant_id=tenant_id,
                        account_id=account.id,
                        period=period,
                        service=service,
                        volume=Decimal("0")
                        if service in ("benefit", "subsidy")
                        else Decimal("5.5"),
                        tariff=Decimal("0") if service in ("benefit", "subsidy") else Decimal("10"),
                        vat_percent=Decimal("0"),
                        amount=Decimal(amount),
                    )
                )
            for paid_at, amount in payments:
                session.add(
                    Payment(
                        tenant_id=tenant_id,
                        account_id=account.id,
                        paid_at=paid_at,
                        amount=Decimal(amount),
                        purpose="water" if slug == "ivanovo-water" else "",
                        provider="billing",
                        reference=secrets.token_hex(8),
                    )
                )
            await session.commit()
            return Made(account.id, number)
    finally:
        await database.dispose()


async def link(
    database_url: str, slug: str, customer_id: int, account_id: int, nickname: str | None = None
) -> None:
    database = Database(database_url)
    try:
        async with database.session() as session:
            tenant_id = await _tenant_id(session, slug)
            session.add(
                AccountLink(
                    tenant_id=tenant_id,
                    customer_id=customer_id,
                    account_id=account_id,
                    nickname=nickname,
                )
            )
            await session.commit()
    finally:
        await database.dispose()


async def links_of(database_url: str, account_id: int) -> dict[int, str | None]:
    """Who holds an account, and the nickname each gave it."""
    database = Database(database_url)
    try:
        async with database.session() as session:
            rows = await session.exec(
                select(AccountLink.customer_id, AccountLink.nickname).where(
                    AccountLink.account_id == account_id
                )
            )
            return {customer_id: nickname for customer_id, nickname in rows.all()}
    finally:
        await database.dispose()


async def signed_in_customer(
    client: httpx.AsyncClient,
    database_url: str,
    slug: str,
    accounts: Iterable[tuple[Made, str | None]] = (),
) -> int:
    """A new customer of `slug` (signing in by email), holding `accounts` (with nicknames)."""
    email = f"acc-{secrets.token_hex(5)}@example.com"
    customer_id = await create_customer(
        database_url, slug, {"email": email}, email=email, full_name="Петров Пётр"
    )
    for account, nickname in accounts:
        await link(database_url, slug, customer_id, account.id, nickname)
    response = await sign_in(client, slug, email)
    assert response.status_code == 303, response.text
    return customer_id


async def cabinet_text(client: httpx.AsyncClient, slug: str) -> str:
    response = await client.get(tenant_url(slug, "/cabinet"))
    assert response.status_code == 200
    return text_of(response.text)


# --- tests -------------------------------------------------------------------------------


async def test_debt_overpayment_and_nothing_owed(
    client: httpx.AsyncClient, database_url: str
) -> None:
    slug = "ivanovo-water"
    may = date(2026, 5, 1)
    paid = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)
    debt = await make_account(
        database_url,
        slug,
        charges=[(may, "cold_water", "1000.00"), (may, "sewerage", "634.56")],
        payments=[(paid, "400.00")],
        building="2",
    )
    ahead = await make_account(
        database_url, slug, charges=[(may, "cold_water", "100.00")], payments=[(paid, "150.00")]
    )
    settled = await make_account(
        database_url, slug, charges=[(may, "cold_water", "99.99")], payments=[(paid, "99.99")]
    )
    await signed_in_customer(
        client, database_url, slug, [(debt, "My flat"), (ahead, None), (settled, "Dacha")]
    )
    page = await cabinet_text(client, slug)
    assert "Hello, Петров Пётр!" in page
    assert f"My flat Account number {debt.number}" in page
    assert "улица Садовая, house 7, building 2, apartment 12" in page
    assert f"Debt: {money('1234.56', slug)}" in page
    # An account without a nickname is headed by its number.
    assert f"{ahead.number} Account number {ahead.number}" in page
    assert f"Overpayment: {money('50.00', slug)}" in page
    assert "Dacha" in page and "Nothing owed" in page
    # Each card's links: statement, rename, remove; readings where the tenant takes them.
    response = await client.get(tenant_url(slug, "/cabinet"))
    for path in ("readings", "statement", "nickname", "unlink"):
        assert f'href="/accounts/{debt.id}/{path}"' in response.text
    assert 'href="/accounts/link"' in response.text
    assert 'href="/visits"' in response.text and 'href="/contact"' in response.text


async def test_money_in_the_readers_language(client: httpx.AsyncClient, database_url: str) -> None:
    slug = "ivanovo-water"
    debt = await make_account(
        database_url, slug, charges=[(date(2026, 9, 1), "cold_water", "1234.56")]
    )
    await signed_in_customer(client, database_url, slug, [(debt, None)])
    client.headers["accept-language"] = "ru"
    page = await cabinet_text(client, slug)
    assert money("1234.56", slug, "ru") in page  # 1 234,56 ₽


async def test_benefits_and_subsidies_only_where_the_tenant_shows_them(
    client: httpx.AsyncClient, database_url: str
) -> None:
    lines = [
        (date(2026, 9, 1), "cold_water", "300.00"),
        (date(2026, 9, 1), "benefit", "-75.00"),
        (date(2026, 10, 1), "cold_water", "400.00"),
        (date(2026, 10, 1), "benefit", "-100.00"),
        (date(2026, 10, 1), "subsidy", "-40.00"),
    ]
    slug = "melitopol-water"
    account = await make_account(database_url, slug, charges=lines)
    await signed_in_customer(client, database_url, slug, [(account, None)])
    page = await cabinet_text(client, slug)
    assert "Allowances for October 2026" in page
    assert f"Benefit: {money('100.00', slug)}" in page
    assert f"Subsidy: {money('40.00', slug)}" in page
    # The allowances lower the debt: 700 charged, 215 allowed.
    assert f"Debt: {money('485.00', slug)}" in page
    # No linking on melitopol: no "add", "rename" or "remove"; the statement is there.
    response = await client.get(tenant_url(slug, "/cabinet"))
    assert 'href="/accounts/link"' not in response.text
    assert f'href="/accounts/{account.id}/unlink"' not in response.text
    assert f'href="/accounts/{account.id}/statement"' in response.text
    assert 'href="/visits"' not in response.text


async def test_no_allowances_shown_where_the_tenant_has_no_such_module(
    client: httpx.AsyncClient, database_url: str
) -> None:
    slug = "ivanovo-water"
    account = await make_account(
        database_url,
        slug,
        charges=[
            (date(2026, 10, 1), "cold_water", "400.00"),
            (date(2026, 10, 1), "benefit", "-100.00"),
        ],
    )
    await signed_in_customer(client, database_url, slug, [(account, None)])
    page = await cabinet_text(client, slug)
    assert "Benefit" not in page and "Allowances" not in page
    assert f"Debt: {money('300.00', slug)}" in page


async def test_no_accounts_explains_and_offers_linking_or_the_contact_centre(
    client: httpx.AsyncClient, database_url: str
) -> None:
    await signed_in_customer(client, database_url, "ivanovo-water")
    page = await cabinet_text(client, "ivanovo-water")
    assert "No account is linked to your sign-in yet." in page
    assert "Add an account" in page
    await signed_in_customer(client, database_url, "melitopol-gas")
    response = await client.get(tenant_url("melitopol-gas", "/cabinet"))
    page = text_of(response.text)
    assert "No account is linked to your sign-in yet." in page
    assert "Please contact the contact centre" in page
    assert 'href="/accounts/link"' not in response.text
    assert 'href="/contact"' in response.text


async def test_the_demo_customer_sees_their_account_and_no_one_elses(
    client: httpx.AsyncClient, database_url: str
) -> None:
    slug = "ivanovo-water"
    stranger = await make_account(database_url, slug, charges=[(date(2026, 9, 1), "gas", "5.00")])
    await signed_in_customer(client, database_url, slug)
    page = await cabinet_text(client, slug)
    assert stranger.number not in page


async def test_the_cabinet_needs_a_signed_in_customer(client: httpx.AsyncClient) -> None:
    response = await client.get(tenant_url("ivanovo-water", "/cabinet"))
    assert response.status_code == 303
    assert response.headers["location"].startswith("/sign-in?next=")


@pytest.mark.parametrize("slug", sorted(PRESETS))
async def test_every_tenants_demo_customer_sees_a_balance_and_a_statement(
    client: httpx.AsyncClient, database_url: str, slug: str
) -> None:
    from tests.web.test_sign_in import demo_identifiers

    config = PRESETS[slug]
    name, value = next(
        (n, v)
        for n, v in await demo_identifiers(database_url, slug)
        if n in config.sign_in.identifiers
    )
    assert (await sign_in(client, slug, value)).status_code == 303
    response = await client.get(tenant_url(slug, "/cabinet"))
    assert response.status_code == 200
    page = text_of(response.text)
    assert re.search(r"Debt: |Overpayment: |Nothing owed", page), (slug, name)
    found = re.search(r'href="/accounts/(\d+)/statement"', response.text)
    if config.has("accounts") or config.has("statements"):
        assert found, slug
        statement = await client.get(tenant_url(slug, f"/accounts/{found.group(1)}/statement"))
        assert statement.status_code == 200
        assert "Whole period" in text_of(statement.text)
    else:
        assert found is None
