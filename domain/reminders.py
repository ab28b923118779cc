"""Reading reminders: one email to each customer who asked, when a readings window opens.

A window is the run of the tenant's window days that contains today (melitopol-gas: the
1st to the 5th); a tenant that takes readings on any day has one window per month. The
reminder goes once per window and customer: a `reading_reminder` row, unique on
(customer, window's first day), is written in the same transaction as the outbox message,
so two workers running side by side, or a worker restarted mid-round, never send twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, exists, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.db import Database
from domain.models import AccountLink, Customer, Meter, ReadingReminder
from domain.outbox import MessageRenderer, enqueue
from domain.readings import window
from domain.tenancy import published_configs
from tenants.schema import ReadingsPolicy, TenantConfig

log = logging.getLogger(__name__)


def window_opened(policy: ReadingsPolicy, today: date) -> date | None:
    """The first day of the window open on `today`, or None when readings are not taken today."""
    current = window(policy, today)
    if not current.open:
        return None
    if not policy.window_days:
        return today.replace(day=1)
    days = set(policy.window_days)
    first = today
    while first.day > 1 and (first - timedelta(days=1)).day in days:
        first -= timedelta(days=1)
    return first


@dataclass(frozen=True)
class ReminderRound:
    tenant_id: int
    window_opens: date | None
    sent: int


async def _due_customers(
    session: AsyncSession, tenant_id: int, window_opens: date
) -> list[Customer]:
    """Active customers who opted in, have an email, a meter to read, and no reminder yet."""
    has_meter = exists().where(
        col(AccountLink.customer_id) == col(Customer.id),
        col(Meter.account_id) == col(AccountLink.account_id),
        col(Meter.state) == "installed",
    )
    reminded = exists().where(
        col(ReadingReminder.customer_id) == col(Customer.id),
        col(ReadingReminder.window_opens) == window_opens,
    )
    rows = await session.exec(
        select(Customer)
        .where(
            Customer.tenant_id == tenant_id,
            col(Customer.reading_reminders).is_(True),
            Customer.status == "active",
            col(Customer.email).is_not(None),
            has_meter,
            ~reminded,
        )
        .order_by(col(Customer.id))
    )
    return list(rows.all())


async def send_reading_reminders(
    session: AsyncSession,
    *,
    config: TenantConfig,
    tenant_id: int,
    today: date,
    renderer: MessageRenderer,
) -> ReminderRound:
    """Queue the reminders due on `today` (in the tenant's zone) for one tenant; commits each."""
    opens = window_opened(config.readings, today) if config.has("readings") else None
    if opens is None:
        return ReminderRound(tenant_id, None, 0)
    last_day = window(config.readings, today).last_day
    # Plain values: a rollback below expires the loaded rows.
    due = [
        (customer.id, customer.email, customer.locale)
        for customer in await _due_customers(session, tenant_id, opens)
        if customer.id is not None and customer.email is not None
    ]
    sent = 0
    for customer_id, email, saved_locale in due:
        locale = saved_locale if saved_locale in config.locales.enabled else config.locales.default
        try:
            session.add(
                ReadingReminder(tenant_id=tenant_id, customer_id=customer_id, window_opens=opens)
            )
            await session.flush()
            await enqueue(
                session,
                tenant_id=tenant_id,
                channel="email",
                recipient=email,
                locale=locale,
                template="reading_window_open",
                context={
                    "last_day": last_day,
                    "advice": config.text(config.readings.advice, locale),
                },
                idempotency_key=f"reading_reminder:{customer_id}:{opens.isoformat()}",
                renderer=renderer,
                config=config,
            )
            await session.commit()
        except IntegrityError:
            # Another worker reminded this customer first: theirs stands, ours is dropped.
            await session.rollback()
            continue
        sent += 1
    return ReminderRound(tenant_id, opens, sent)


async def remind_every_tenant(
    database: Database, now: datetime, renderer: MessageRenderer
) -> list[ReminderRound]:
    """One round over every tenant, each judged by the date in its own time zone."""
    rounds = []
    async with database.session() as session:
        configs = await published_configs(session)
    for tenant_id, config in configs:
        today = now.astimezone(ZoneInfo(config.timezone)).date()
        async with database.session() as session:
            rounds.append(
                await send_reading_reminders(
                    session, config=config, tenant_id=tenant_id, today=today, renderer=renderer
                )
            )
    return rounds


async def run_reminders(
    database: Database,
    renderer: MessageRenderer,
    stop_event: asyncio.Event,
    clock: Callable[[], datetime],
    every_seconds: float = 600.0,
) -> None:
    """Send due reminders every few minutes until `stop_event` is set."""
    while not stop_event.is_set():
        try:
            await remind_every_tenant(database, clock(), renderer)
        except Exception:  # a database hiccup must not end the loop; the next round retries
            log.exception("reading reminder round failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop_event.wait(), timeout=every_seconds)
