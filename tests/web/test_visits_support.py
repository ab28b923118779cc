"""What the visit and no-registration reading tests share: own customers and accounts, staff.

No tests here: fixtures and helpers imported by test_visits*.py, test_anonymous_readings*.py
and test_admin_queues*.py. Every test makes its own customer, accounts and meters, so it
never changes the demo rows other tests rely on.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from sqlmodel import col, select

from domain.db import Database
from domain.demo import DEMO_PASSWORD
from domain.models import Account, AccountLink, Meter, Tenant
from domain.outbox import OutboxMessage
from tests.conftest import MakeClient, tenant_url
from tests.helpers import create_customer, sign_in, submit, unique_digits

IVANOVO = "ivanovo-water"
KZ = "kz-vodokanal"
# Friday 20 November 2026, 10:00 in Ivanovo (Europe/Moscow): Saturday is a working day there,
# Sunday is not.
FRIDAY_MORNING = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)


@pytest.fixture(name="make_client")
def make_client_fixture(make_client: MakeClient) -> MakeClient:
    """The shared clients, each from an address of its own, on a Friday morning in Ivanovo."""

    async def make(address: str | None = None) -> httpx.AsyncClient:
        address = address or f"203.0.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"
        return await make_client(address, clock=lambda: FRIDAY_MORNING)

    return make


async def tenant_id(database: Database, slug: str) -> int:
    async with database.session() as session:
        tenant = (await session.exec(select(Tenant).where(Tenant.slug == slug))).one()
    assert tenant.id is not None
    return tenant.id


@dataclass
class Owner:
    """A customer of one test, with accounts and their meters (ids)."""

    customer_id: int
    email: str
    phone: str
    accounts: list[int]
    meters: dict[int, list[int]]
    removed_meter: int


async def add_account(
    database: Database, slug: str, customer_id: int | None, *, services: tuple[str, ...]
) -> tuple[int, list[int], str]:
    """An account (linked to the customer, if given) with one installed meter per service."""
    tid = await tenant_id(database, slug)
    async with database.session() as session:
        account = Account(
            tenant_id=tid,
            number=unique_digits(12),
            holder_name="Test Holder " + secrets.token_hex(2),
        )
        session.add(account)
        await session.flush()
        assert account.id is not None
        if customer_id is not None:
            session.add(AccountLink(tenant_id=tid, customer_id=customer_id, account_id=account.id))
        meters = [
            Meter(
                tenant_id=tid,
                account_id=account.id,
                service=service,
                factory_number=unique_digits(10),
            )
            for service in services
        ]
        session.add_all(meters)
        await session.commit()
        return account.id, [m.id for m in meters if m.id is not None], account.number


async def own_customer(
    database: Database, database_url: str, slug: str = IVANOVO, *, locale: str | None = "en"
) -> Owner:
    email = f"visit-{secrets.token_hex(5)}@example.com"
    phone = f"+7910{secrets.randbelow(10**7):07d}"
    customer_id = await create_customer(
        database_url,
        slug,
        {"email": email},
        email=email,
        phone=phone,
        full_name="Ivan Testov",
        locale=locale,
    )
    first, first_meters, _ = await add_account(
        database, slug, customer_id, services=("cold_water", "hot_water")
    )
    second, second_meters, _ = await add_account(
        database, slug, customer_id, services=("cold_water", "hot_water")
    )
    async with database.session() as session:
        removed = await session.get(Meter, second_meters[1])
        assert removed is not None
        removed.state = "removed"
        session.add(removed)
        await session.commit()
    return Owner(
        customer_id,
        email,
        phone,
        [first, second],
        {first: first_meters, second: second_meters},
        second_meters[1],
    )


async def signed_in(client: httpx.AsyncClient, slug: str, owner: Owner) -> None:
    client.headers["Accept-Language"] = "en"
    client._transport.app.portal.clock = lambda: FRIDAY_MORNING  # type: ignore[attr-defined]
    response = await sign_in(client, slug, owner.email)
    assert response.status_code == 303, response.text


async def staff_client(make_client: MakeClient, slug: str = IVANOVO) -> httpx.AsyncClient:
    staff = await make_client()
    response = await submit(
        staff, slug, "/admin/sign-in", {"login": "admin", "password": DEMO_PASSWORD}
    )
    assert response.status_code == 303, response.text
    return staff


async def sms_to(database: Database, phone: str) -> list[OutboxMessage]:
    async with database.session() as session:
        rows = await session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.recipient == phone, OutboxMessage.channel == "sms")
            .order_by(col(OutboxMessage.id))
        )
        return list(rows.all())


def url(path: str, slug: str = IVANOVO) -> str:
    return tenant_url(slug, path)
