"""Reading reminders: sent when a window opens, once per window and customer, to those who asked."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime

import pytest
from sqlmodel import col, select

from domain.db import Database
from domain.models import Account, AccountLink, Customer, Meter, Tenant
from domain.outbox import OutboxMessage
from domain.reminders import remind_every_tenant, send_reading_reminders, window_opened
from tenants.loader import load_presets
from tenants.schema import ReadingsPolicy, TenantConfig
from web.messages import render_message

PRESETS = {config.slug: config for config in load_presets()}


@pytest.mark.parametrize(
    ("days", "today", "opened"),
    [
        ([1, 2, 3, 4, 5], date(2026, 12, 1), date(2026, 12, 1)),
        ([1, 2, 3, 4, 5], date(2026, 12, 5), date(2026, 12, 1)),
        ([1, 2, 3, 4, 5], date(2026, 12, 6), None),
        ([1, 2, 3, 4, 5], date(2026, 11, 30), None),
        ([], date(2026, 11, 21), date(2026, 11, 1)),
        ([20, 21, 22], date(2026, 11, 22), date(2026, 11, 20)),
    ],
)
def test_the_window_that_opened(days: list[int], today: date, opened: date | None) -> None:
    assert window_opened(ReadingsPolicy(window_days=days), today) == opened


async def _customer(
    database: Database,
    slug: str,
    *,
    opted_in: bool = True,
    email: bool = True,
    meter_state: str = "installed",
    locale: str | None = None,
) -> tuple[int, str]:
    """A customer of the test's own with an account and one meter; returns (tenant id, email)."""
    address = f"reminder-{uuid.uuid4().hex[:12]}@example.com"
    async with database.session() as session:
        tenant = (await session.exec(select(Tenant).where(Tenant.slug == slug))).one()
        assert tenant.id is not None
        account = Account(
            tenant_id=tenant.id, number=f"R{uuid.uuid4().int % 10**9}", holder_name="Test"
        )
        customer = Customer(
            tenant_id=tenant.id,
            email=address if email else None,
            reading_reminders=opted_in,
            locale=locale,
        )
        session.add_all([account, customer])
        await session.flush()
        assert account.id is not None and customer.id is not None
        session.add(
            AccountLink(tenant_id=tenant.id, customer_id=customer.id, account_id=account.id)
        )
        session.add(
            Meter(
                tenant_id=tenant.id,
                account_id=account.id,
                service="gas",
                factory_number="12345678",
                state=meter_state,
            )
        )
        await session.commit()
        return tenant.id, address


async def _mail_to(database: Database, address: str) -> list[OutboxMessage]:
    async with database.session() as session:
        rows = await session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.recipient == address)
            .order_by(col(OutboxMessage.id))
        )
        return list(rows.all())


async def _round(database: Database, config: TenantConfig, tenant_id: int, today: date) -> int:
    async with database.session() as session:
        result = await send_reading_reminders(
            session, config=config, tenant_id=tenant_id, today=today, renderer=render_message
        )
    return result.sent


async def test_one_reminder_per_window_and_only_while_it_is_open(database_url: str) -> None:
    database = Database(database_url)
    config = PRESETS["melitopol-gas"]
    try:
        tenant_id, address = await _customer(database, "melitopol-gas", locale="ru")
        assert await _round(database, config, tenant_id, date(2026, 11, 21)) == 0
        assert await _mail_to(database, address) == []  # the 21st is outside the window
        assert await _round(database, config, tenant_id, date(2026, 12, 1)) >= 1
        await _round(database, config, tenant_id, date(2026, 12, 2))
        await _round(database, config, tenant_id, date(2026, 12, 5))
        mail = await _mail_to(database, address)
        assert len(mail) == 1
        assert mail[0].channel == "email" and mail[0].locale == "ru"
        assert "5 декабря 2026" in (mail[0].body_text or "")
        # The next month's window is another window: one more reminder.
        await _round(database, config, tenant_id, date(2027, 1, 3))
        assert len(await _mail_to(database, address)) == 2
    finally:
        await database.dispose()


async def test_only_customers_who_asked_with_an_email_and_a_working_meter(
    database_url: str,
) -> None:
    database = Database(database_url)
    config = PRESETS["melitopol-gas"]
    try:
        tenant_id, not_asked = await _customer(database, "melitopol-gas", opted_in=False)
        _, removed_meter = await _customer(database, "melitopol-gas", meter_state="removed")
        _, asked = await _customer(database, "melitopol-gas")
        await _round(database, config, tenant_id, date(2026, 12, 3))
        assert await _mail_to(database, not_asked) == []
        assert await _mail_to(database, removed_meter) == []
        assert len(await _mail_to(database, asked)) == 1
    finally:
        await database.dispose()


async def test_workers_side_by_side_send_once(database_url: str) -> None:
    database = Database(database_url)
    config = PRESETS["melitopol-water"]
    try:
        tenant_id, address = await _customer(database, "melitopol-water")
        await asyncio.gather(
            *(_round(database, config, tenant_id, date(2026, 11, 21)) for _ in range(4))
        )
        assert len(await _mail_to(database, address)) == 1
    finally:
        await database.dispose()


async def test_a_round_over_every_tenant_uses_each_tenants_own_date(database_url: str) -> None:
    database = Database(database_url)
    try:
        tenant_id, address = await _customer(database, "melitopol-gas")
        # 22:30 UTC on 30 November is already 1 December in Kyiv: the window has opened there.
        rounds = await remind_every_tenant(
            database, datetime(2026, 11, 30, 22, 30, tzinfo=UTC), render_message
        )
        gas = next(r for r in rounds if r.tenant_id == tenant_id)
        assert gas.window_opens == date(2026, 12, 1)
        assert len(await _mail_to(database, address)) == 1
        # beijing-unicom takes no readings: no window, nothing sent.
        async with database.session() as session:
            beijing = (
                await session.exec(select(Tenant.id).where(Tenant.slug == "beijing-unicom"))
            ).one()
        unicom = next(r for r in rounds if r.tenant_id == beijing)
        assert unicom.window_opens is None and unicom.sent == 0
    finally:
        await database.dispose()
