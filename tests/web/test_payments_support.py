"""What the payment tests share: a signed-in payer with an account of their own, the
sandbox's signer for callbacks, and looks at orders, the ledger and the outbox.

(No tests in this module: it holds the builders.)
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping
from datetime import date, datetime

import httpx
from sqlmodel import col, select

from domain.db import Database
from domain.models import Payment, PaymentOrder, Tenant, utcnow
from domain.outbox import OutboxMessage
from domain.sandbox_provider import SandboxProvider
from tests.conftest import tenant_url
from tests.helpers import create_customer
from tests.web.test_cabinet_home import PRESETS, Made, link, make_account
from web.auth import SESSION_COOKIE

# The secret of `portal_settings` in tests/conftest.py: the sandbox's keys derive from it.
TEST_SECRET = "test-secret-key-0123456789"
REFERENCE = re.compile(r"/payments/(?:sandbox/)?([0-9a-f]{32})$")


async def tenant_id(database_url: str, slug: str) -> int:
    database = Database(database_url)
    try:
        async with database.session() as session:
            tenant = (await session.exec(select(Tenant).where(Tenant.slug == slug))).one()
            assert tenant.id is not None
            return tenant.id
    finally:
        await database.dispose()


async def payer(
    client: httpx.AsyncClient,
    database_url: str,
    slug: str,
    *,
    charges: Iterable[tuple[date, str, str]] = ((date(2026, 10, 1), "cold_water", "1234.56"),),
    email: str | None = "auto",
) -> tuple[int, Made, str | None]:
    """A new customer of `slug` with a new account holding `charges`, signed in on `client`."""
    account = await make_account(database_url, slug, charges=charges)
    address = f"pay-{secrets.token_hex(5)}@example.com" if email == "auto" else email
    customer_id = await create_customer(
        database_url, slug, {"email": address or secrets.token_hex(6)}, email=address
    )
    await link(database_url, slug, customer_id, account.id)
    await sign_in_as(client, slug, customer_id)
    return customer_id, account, address


async def sign_in_as(client: httpx.AsyncClient, slug: str, customer_id: int) -> None:
    """A session made by the portal's own store: what signing in leaves, without its slow
    password check (tests/web/test_sign_in.py covers that)."""
    portal = client._transport.app.portal  # type: ignore[attr-defined]
    token = await portal.sessions.create(tenant_id=portal.tenant_ids[slug], customer_id=customer_id)
    client.cookies.set(SESSION_COOKIE, token, domain=f"{slug}.localhost", path="/")


def reference_in(location: str) -> str:
    found = REFERENCE.search(location)
    assert found, location
    return found.group(1)


async def sandbox(database: Database, slug: str) -> SandboxProvider:
    """The tenant's real sandbox provider, keyed as the app keys it: it signs test callbacks."""
    return SandboxProvider.for_tenant(
        secret=TEST_SECRET,
        slug=slug,
        currency=PRESETS[slug].currency,
        tenant_id=await tenant_id(database.url, slug),
        database=database,
        clock=utcnow,
    )


def signed(
    provider: SandboxProvider,
    body: bytes,
    *,
    at: datetime | None = None,
) -> dict[str, str]:
    stamp = int((at or utcnow()).timestamp())
    return {
        "content-type": "application/json",
        "x-sandbox-timestamp": str(stamp),
        "x-sandbox-signature": provider.sign(body, stamp),
    }


async def post_callback(
    client: httpx.AsyncClient, slug: str, body: bytes, headers: Mapping[str, str | bytes]
) -> httpx.Response:
    return await client.post(
        tenant_url(slug, "/payments/callback/sandbox"), content=body, headers=headers
    )


async def orders_of(database_url: str, account_id: int) -> list[PaymentOrder]:
    database = Database(database_url)
    try:
        async with database.session() as session:
            rows = await session.exec(
                select(PaymentOrder)
                .where(PaymentOrder.account_id == account_id)
                .order_by(col(PaymentOrder.id))
            )
            return list(rows.all())
    finally:
        await database.dispose()


async def online_payments_of(database_url: str, account_id: int) -> list[Payment]:
    """The account's ledger rows made by a provider (not the billing import)."""
    database = Database(database_url)
    try:
        async with database.session() as session:
            rows = await session.exec(
                select(Payment)
                .where(Payment.account_id == account_id, Payment.provider != "billing")
                .order_by(col(Payment.id))
            )
            return list(rows.all())
    finally:
        await database.dispose()


async def receipts_to(database_url: str, email: str) -> list[OutboxMessage]:
    database = Database(database_url)
    try:
        async with database.session() as session:
            rows = await session.exec(
                select(OutboxMessage).where(
                    OutboxMessage.recipient == email, OutboxMessage.template == "payment_received"
                )
            )
            return list(rows.all())
    finally:
        await database.dispose()


async def receipts_about(database_url: str, reference: str) -> list[OutboxMessage]:
    """Every receipt email that names the payment reference, whoever it went to."""
    database = Database(database_url)
    try:
        async with database.session() as session:
            rows = await session.exec(
                select(OutboxMessage).where(
                    OutboxMessage.template == "payment_received",
                    col(OutboxMessage.body_text).contains(reference),
                )
            )
            return list(rows.all())
    finally:
        await database.dispose()
