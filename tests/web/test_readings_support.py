"""What the readings tests share: a customer of their own with an account, meters and history.

Every test that writes builds its own household here, so the shared demo rows stay as
other tests expect them. (No tests in this module: it holds the builders.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
from sqlmodel import col, select

from domain.db import Database
from domain.demo import month_start
from domain.models import Account, AccountLink, Meter, Reading, Tenant
from tenants.loader import load_presets
from tenants.schema import DigitsKind, EmailKind
from tests.conftest import tenant_url
from tests.helpers import create_customer, csrf_token, sign_in, unique_digits
from web.auth import SESSION_COOKIE

PRESETS = {config.slug: config for config in load_presets()}
READINGS_TENANTS = sorted(slug for slug, config in PRESETS.items() if config.has("readings"))


@dataclass
class MeterSpec:
    service: str = "cold_water"
    factory_number: str | None = "auto"
    state: str = "installed"
    # Days from the test's today; None for no date.
    verification_in_days: int | None = 700
    decimals: int = 3
    is_heat_meter: bool = False
    # Values of earlier months, oldest first, ending the month before today's.
    history: list[str] = field(default_factory=list)
    # This month's reading already there: (value, source, status).
    current: tuple[str, str, str] | None = None
    rejection_reason: str | None = None


@dataclass
class Household:
    slug: str
    customer_id: int
    identifier: str
    account_id: int
    account_number: str
    meters: list[int]
    factory_numbers: list[str | None]

    def url(self, path: str = "") -> str:
        return tenant_url(self.slug, f"/accounts/{self.account_id}/readings{path}")


def sign_in_identifier(slug: str) -> tuple[str, str]:
    """A fresh sign-in identifier of the tenant: an email where it has one, else digits."""
    identifiers = PRESETS[slug].sign_in_identifiers()
    for identifier in identifiers:
        if isinstance(identifier.spec, EmailKind):
            return identifier.name, f"h1-{unique_digits(12)}@example.com"
    for identifier in identifiers:
        spec = identifier.spec
        if isinstance(spec, DigitsKind):
            length = spec.length or spec.bounds[1]
            return identifier.name, spec.prefix + unique_digits(length - len(spec.prefix))
    raise AssertionError(f"no simple sign-in identifier for {slug}")


async def add_account(
    database_url: str, slug: str, customer_id: int, meters: list[MeterSpec], today: date
) -> tuple[int, str, list[int], list[str | None]]:
    """A new account linked to the customer, with its meters and their readings."""
    database = Database(database_url)
    try:
        async with database.session() as session:
            tenant = (await session.exec(select(Tenant).where(Tenant.slug == slug))).one()
            assert tenant.id is not None
            number = unique_digits(10)
            account = Account(tenant_id=tenant.id, number=number, holder_name="Test Holder")
            session.add(account)
            await session.flush()
            assert account.id is not None
            session.add(
                AccountLink(tenant_id=tenant.id, customer_id=customer_id, account_id=account.id)
            )
            ids, numbers = [], []
            for spec in meters:
                factory = unique_digits(8) if spec.factory_number == "auto" else spec.factory_number
                due = (
                    None
                    if spec.verification_in_days is None
                    else today + timedelta(days=spec.verification_in_days)
                )
                meter = Meter(
                    tenant_id=tenant.id,
                    account_id=account.id,
                    service=spec.service,
                    factory_number=factory,
                    state=spec.state,
                    verification_due=due,
                    decimals=spec.decimals,
                    is_heat_meter=spec.is_heat_meter,
                )
                session.add(meter)
                await session.flush()
                assert meter.id is not None
                ids.append(meter.id)
                numbers.append(factory)
                for back, value in enumerate(reversed(spec.history), start=1):
                    period = month_start(today, back)
                    session.add(
                        Reading(
                            tenant_id=tenant.id,
                            meter_id=meter.id,
                            period=period,
                            value=Decimal(value),
                            taken_on=period + timedelta(days=2),
                            source="billing" if back % 2 else "customer",
                            status="accepted",
                        )
                    )
                if spec.current is not None:
                    value, source, status = spec.current
                    session.add(
                        Reading(
                            tenant_id=tenant.id,
                            meter_id=meter.id,
                            period=month_start(today),
                            value=Decimal(value),
                            taken_on=today,
                            source=source,
                            status=status,
                            rejection_reason=spec.rejection_reason,
                        )
                    )
            await session.commit()
            return account.id, number, ids, numbers
    finally:
        await database.dispose()


# One customer per (database, tenant, kind) serves every test that does not need its own:
# each test still gets a fresh account, and hashing a password for each would be slow.
_CUSTOMERS: dict[tuple[str, str, str], tuple[int, str]] = {}


async def make_household(
    database_url: str,
    slug: str,
    meters: list[MeterSpec],
    today: date,
    *,
    kind: str = "individual",
    own_customer: bool = False,
) -> Household:
    """A fresh account with `meters`, linked to a test customer (a new one if `own_customer`)."""
    key = (database_url, slug, kind)
    if own_customer or key not in _CUSTOMERS:
        name, value = sign_in_identifier(slug)
        customer_id = await create_customer(
            database_url,
            slug,
            {name: value},
            kind=kind,
            full_name="Test Customer",
            company_name="Test LLP" if kind == "legal" else None,
        )
        if own_customer:
            return await _household(database_url, slug, customer_id, value, meters, today)
        _CUSTOMERS[key] = (customer_id, value)
    customer_id, identifier = _CUSTOMERS[key]
    return await _household(database_url, slug, customer_id, identifier, meters, today)


async def _household(
    database_url: str,
    slug: str,
    customer_id: int,
    identifier: str,
    meters: list[MeterSpec],
    today: date,
) -> Household:
    account_id, number, ids, numbers = await add_account(
        database_url, slug, customer_id, meters, today
    )
    return Household(slug, customer_id, identifier, account_id, number, ids, numbers)


def set_clock(client: httpx.AsyncClient, moment: datetime) -> None:
    """The portal's clock for this test (an aware datetime; UTC if naive)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    client._transport.app.portal.clock = lambda: moment  # type: ignore[attr-defined]


async def signed_in(client: httpx.AsyncClient, household: Household) -> None:
    """Sign in through the sign-in form, as a customer does."""
    response = await sign_in(client, household.slug, household.identifier)
    assert response.status_code == 303, response.text[:500]


async def with_session(client: httpx.AsyncClient, household: Household) -> None:
    """A signed-in session made by the portal's own session store: what sign-in would leave,
    without its deliberately slow password check (tests/web/test_sign_in.py covers that)."""
    portal = client._transport.app.portal  # type: ignore[attr-defined]
    token = await portal.sessions.create(
        tenant_id=portal.tenant_ids[household.slug], customer_id=household.customer_id
    )
    client.cookies.set(SESSION_COOKIE, token, domain=f"{household.slug}.localhost", path="/")


async def post_readings(
    client: httpx.AsyncClient,
    household: Household,
    data: Mapping[str, str | list[str]],
    *,
    path: str = "",
    account_id: int | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST the readings form as a browser would: the page's CSRF token, then the fields."""
    page = await client.get(tenant_url(household.slug, "/cabinet"))
    assert page.status_code == 200, page.status_code
    token = csrf_token(page.text)
    target = household.account_id if account_id is None else account_id
    return await client.post(
        tenant_url(household.slug, f"/accounts/{target}/readings{path}"),
        data={"_csrf_token": token, **data},
        headers=headers or {},
    )


async def readings_of(database_url: str, meter_id: int) -> list[Reading]:
    database = Database(database_url)
    try:
        async with database.session() as session:
            rows = await session.exec(
                select(Reading).where(Reading.meter_id == meter_id).order_by(col(Reading.period))
            )
            return list(rows.all())
    finally:
        await database.dispose()


async def current_readings(database_url: str, meter_id: int, today: date) -> list[Reading]:
    return [r for r in await readings_of(database_url, meter_id) if r.period == month_start(today)]
