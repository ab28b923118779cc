"""What the charges, reconciliation and PDF tests share (no tests in this module).

Every test gets accounts of its own with charge lines as a bill has them (recipient,
tariff group, volume, tariff, VAT), linked to a customer of the test's own tenant.
"""

from __future__ import annotations

import io
import secrets
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
from pypdf import PdfReader
from sqlmodel import select

from domain.db import Database
from domain.models import Account, AccountLink, Charge, Payment, Tenant
from tests.conftest import tenant_url
from tests.helpers import create_customer, sign_in
from tests.web.test_readings_support import PRESETS, sign_in_identifier
from web.i18n import translator_for
from web.routes.account_statement import month_name

# Today in every test of these modules: 21 November 2026 (the demo data's day).
TODAY = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Line:
    period: date
    service: str
    amount: str
    volume: str = "0"
    tariff: str = "0"
    vat: str = "0"
    recipient: str = ""
    tariff_group: str = ""


@dataclass(frozen=True)
class Doc:
    """An account made for one test, and the customer holding it."""

    slug: str
    id: int
    number: str
    customer_id: int
    identifier: str
    email: str | None

    def url(self, path: str) -> str:
        return tenant_url(self.slug, f"/accounts/{self.id}{path}")


async def _tenant_id(database: Database, slug: str) -> int:
    async with database.session() as session:
        tenant = (await session.exec(select(Tenant).where(Tenant.slug == slug))).one()
    assert tenant.id is not None
    return tenant.id


async def add_account(
    database_url: str,
    slug: str,
    customer_id: int,
    *,
    lines: Iterable[Line] = (),
    payments: Iterable[tuple[datetime, str]] = (),
    kind: str = "individual",
    holder_name: str = "Петров Пётр Ильич",
    contract_number: str | None = None,
) -> tuple[int, str]:
    """A new account of `slug` linked to the customer, with its charge lines and payments."""
    database = Database(database_url)
    try:
        tenant_id = await _tenant_id(database, slug)
        async with database.session() as session:
            while True:
                number = "9" + "".join(secrets.choice("0123456789") for _ in range(7))
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
                kind=kind,
                holder_name=holder_name,
                contract_number=contract_number,
            )
            session.add(account)
            await session.flush()
            assert account.id is not None
            session.add(
                AccountLink(tenant_id=tenant_id, customer_id=customer_id, account_id=account.id)
            )
            for line in lines:
                session.add(
                    Charge(
                        tenant_id=tenant_id,
                        account_id=account.id,
                        period=line.period,
                        service=line.service,
                        recipient=line.recipient,
                        tariff_group=line.tariff_group,
                        volume=Decimal(line.volume),
                        tariff=Decimal(line.tariff),
                        vat_percent=Decimal(line.vat),
                        amount=Decimal(line.amount),
                    )
                )
            for paid_at, amount in payments:
                session.add(
                    Payment(
                        tenant_id=tenant_id,
                        account_id=account.id,
                        paid_at=paid_at,
                        amount=Decimal(amount),
                        provider="billing",
                        reference=secrets.token_hex(8),
                    )
                )
            await session.commit()
            return account.id, number
    finally:
        await database.dispose()


# One customer per (database, tenant, kind, with email) serves the tests that only read:
# hashing a password for each test would be slow. Each test still gets fresh accounts.
_CUSTOMERS: dict[tuple[str, str, str, bool], tuple[int, str, str | None]] = {}


async def customer(
    database_url: str, slug: str, *, kind: str = "individual", email: bool = True, own: bool = False
) -> tuple[int, str, str | None]:
    """A customer of `slug` (id, sign-in identifier, email address); a new one when `own`."""
    key = (database_url, slug, kind, email)
    if own or key not in _CUSTOMERS:
        name, value = sign_in_identifier(slug)
        address = f"docs-{secrets.token_hex(6)}@example.com" if email else None
        if name == "email":
            assert email, f"{slug} signs in by email: every customer there has one"
            address = value
        identifiers = {name: value}
        made = await create_customer(
            database_url,
            slug,
            identifiers,
            kind=kind,
            email=address,
            full_name="Test Customer",
            company_name="Test LLP" if kind == "legal" else None,
        )
        if own:
            return made, value, address
        _CUSTOMERS[key] = (made, value, address)
    return _CUSTOMERS[key]


# Who each test client is signed in as, so a second account of a test needs no new sign-in.
_SIGNED_IN: weakref.WeakKeyDictionary[httpx.AsyncClient, tuple[str, int]] = (
    weakref.WeakKeyDictionary()
)


async def document_account(
    client: httpx.AsyncClient,
    database_url: str,
    slug: str,
    *,
    kind: str = "individual",
    email: bool = True,
    own_customer: bool = False,
    **account: object,
) -> Doc:
    """A fresh account (see `add_account`) of a test customer, who is then signed in."""
    customer_id, identifier, address = await customer(
        database_url, slug, kind=kind, email=email, own=own_customer
    )
    account_id, number = await add_account(
        database_url,
        slug,
        customer_id,
        kind=kind,
        **account,  # type: ignore[arg-type]
    )
    client._transport.app.portal.clock = lambda: TODAY  # type: ignore[attr-defined]
    if _SIGNED_IN.get(client) != (slug, customer_id):
        client.cookies.clear()  # whoever was signed in on this client before
        response = await sign_in(client, slug, identifier)
        assert response.status_code == 303, response.text
        _SIGNED_IN[client] = (slug, customer_id)
    return Doc(slug, account_id, number, customer_id, identifier, address)


def pdf_text(content: bytes) -> str:
    """The text of every page of a PDF, whitespace made single spaces."""
    reader = PdfReader(io.BytesIO(content))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def pdf_fonts(content: bytes) -> set[str]:
    """The names of the fonts a PDF embeds."""
    reader = PdfReader(io.BytesIO(content))
    names = set()
    for page in reader.pages:
        resources: Any = page["/Resources"]
        fonts: Any = resources.get_object().get("/Font", {})
        for font in fonts.values():
            names.add(str(font.get_object()["/BaseFont"]))
    return names


def money(amount: str, slug: str, locale: str) -> str:
    """An amount as the tenant's pages and PDFs show it in `locale`, spaces made plain."""
    config = PRESETS[slug]
    text = translator_for(locale, currency=config.currency).money(Decimal(amount))
    return " ".join(text.split())


def say(slug: str, locale: str, message: str, **values: str) -> str:
    """A message as the portal says it in `locale` (whatever the catalog has today)."""
    config = PRESETS[slug]
    text = translator_for(locale, terminology=config.terminology).gettext(message)
    return " ".join((text % values if values else text).split())


def month(slug: str, locale: str, first_day: date) -> str:
    """A month and year as a heading shows it ("October 2026", "Октябрь 2026 г.", "2026年10月")."""
    return " ".join(month_name(translator_for(locale), first_day).split())
