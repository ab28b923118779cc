"""Broadband lines in the database: a line with its status, bills and requests; usage by
period; recording a request. The rules themselves are in `domain.broadband`.

The caller has already checked that the account is the customer's (`domain.ownership`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import exists, insert, literal
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.account_statement import local_date
from domain.broadband import (
    SUBMITTED,
    Bill,
    ChargeEntry,
    Ledger,
    LineFacts,
    LineStatus,
    RequestPreview,
    RequestProblem,
    Session,
    as_utc,
    bills_of,
    confirm_preview,
    line_status,
    monthly_fee,
    pending_kinds,
    period_bounds,
    plan_named,
    preview_request,
)
from domain.models import BroadbandRequest, BroadbandService, Charge, Payment, UsageSession
from tenants.schema import Broadband, BroadbandPlan


@dataclass(frozen=True)
class Line:
    """One account's broadband line as the customer's page shows it."""

    service: BroadbandService
    plan: BroadbandPlan | None  # None when the row names a plan no longer configured
    fee: Decimal  # the basic monthly fee
    status: LineStatus
    ledger: Ledger
    bills: tuple[Bill, ...]
    requests: tuple[BroadbandRequest, ...]  # newest first

    @property
    def pending(self) -> set[str]:
        return pending_kinds([(r.kind, r.status) for r in self.requests])

    def group_of(self, period: date) -> str:
        """What a period was billed at: its bill's plan key or the suspension fee; without a
        bill (the current period of a line paid afterwards), today's plan."""
        bill = next((b for b in self.bills if b.period == period), None)
        return bill.group if bill and bill.group else self.service.plan_key


async def _ledger(
    session: AsyncSession, *, tenant_id: int, account_id: int, timezone: str
) -> Ledger:
    charges = await session.exec(
        select(Charge).where(Charge.tenant_id == tenant_id, Charge.account_id == account_id)
    )
    payments = await session.exec(
        select(Payment).where(Payment.tenant_id == tenant_id, Payment.account_id == account_id)
    )
    return Ledger(
        charges=tuple(
            ChargeEntry(c.period, c.amount, c.tariff_group if c.service == "broadband" else "")
            for c in charges.all()
        ),
        payments=tuple((local_date(p.paid_at, timezone), p.amount) for p in payments.all()),
    )


async def _service(
    session: AsyncSession, *, tenant_id: int, account_id: int, lock: bool = False
) -> BroadbandService | None:
    query = select(BroadbandService).where(
        BroadbandService.tenant_id == tenant_id, BroadbandService.account_id == account_id
    )
    if lock:
        # One request at a time per line (PostgreSQL; SQLite serialises writers anyway).
        query = query.with_for_update()
    return (await session.exec(query)).first()


async def load_line(
    session: AsyncSession,
    *,
    tenant_id: int,
    account_id: int,
    settings: Broadband,
    timezone: str,
    today: date,
    lock: bool = False,
) -> Line | None:
    """The account's line with its status computed for `today`, or None if it has none."""
    service = await _service(session, tenant_id=tenant_id, account_id=account_id, lock=lock)
    if service is None:
        return None
    ledger = await _ledger(session, tenant_id=tenant_id, account_id=account_id, timezone=timezone)
    plan = plan_named(settings, service.plan_key)
    fee = monthly_fee(plan) if plan else Decimal(0)
    facts = LineFacts(
        service.status, service.status_reason, service.status_since, service.payment_mode
    )
    status = line_status(
        facts,
        ledger,
        today,
        fee=fee,
        suspension_fee=settings.suspension_fee,
        close_after=settings.close_after_unpaid_months,
    )
    requests = await session.exec(
        select(BroadbandRequest)
        .where(BroadbandRequest.tenant_id == tenant_id, BroadbandRequest.account_id == account_id)
        .order_by(col(BroadbandRequest.created_at).desc(), col(BroadbandRequest.id).desc())
    )
    return Line(service, plan, fee, status, ledger, tuple(bills_of(ledger)), tuple(requests.all()))


async def sessions_in_period(
    session: AsyncSession, *, tenant_id: int, account_id: int, period: date, timezone: str
) -> list[Session]:
    """The sessions that ended in the billing period (those are the ones billed in it)."""
    start, end = period_bounds(period, timezone)
    rows = await session.exec(
        select(UsageSession)
        .where(
            UsageSession.tenant_id == tenant_id,
            UsageSession.account_id == account_id,
            col(UsageSession.ended_at) >= start,
            col(UsageSession.ended_at) < end,
        )
        .order_by(col(UsageSession.started_at))
    )
    return [Session(r.started_at, r.ended_at, r.megabytes) for r in rows.all()]


def check_request(
    line: Line, raw_kind: str, raw_plan: str, *, settings: Broadband, today: date
) -> RequestPreview:
    """What the request would do on this line today. Raises RequestProblem."""
    return preview_request(
        raw_kind,
        raw_plan,
        settings=settings,
        current_plan=line.service.plan_key,
        status=line.status,
        pending=line.pending,
        today=today,
    )


async def submit_request(
    session: AsyncSession,
    *,
    tenant_id: int,
    account_id: int,
    customer_id: int,
    settings: Broadband,
    timezone: str,
    now: datetime,
    raw_kind: str,
    raw_plan: str,
    raw_effective: str,
) -> BroadbandRequest | None:
    """Record a confirmed request, checked again as it is written (the line locked meanwhile).

    Returns None when the account has no line; raises RequestProblem when the request may
    not be made, or when its effective date is no longer the one the customer confirmed.
    """
    today = as_utc(now).astimezone(ZoneInfo(timezone)).date()
    line = await load_line(
        session,
        tenant_id=tenant_id,
        account_id=account_id,
        settings=settings,
        timezone=timezone,
        today=today,
        lock=True,
    )
    if line is None:
        return None
    try:
        preview = check_request(line, raw_kind, raw_plan, settings=settings, today=today)
        confirm_preview(preview, raw_effective)
    except RequestProblem:
        await session.rollback()
        raise
    created = await _insert_unless_pending(
        session,
        {
            "tenant_id": tenant_id,
            "account_id": account_id,
            "customer_id": customer_id,
            "kind": preview.kind,
            "new_plan": preview.new_plan.key if preview.new_plan else None,
            "effective_on": preview.effective_on,
            "status": SUBMITTED,
            "created_at": as_utc(now),
        },
    )
    if created is None:
        # The same request confirmed twice at once (a double click, two tabs): one stands.
        await session.rollback()
        raise RequestProblem("pending", preview)
    await session.commit()
    return created


async def _insert_unless_pending(
    session: AsyncSession, values: dict[str, Any]
) -> BroadbandRequest | None:
    """Insert the request in one statement that finds no pending one of its kind first.

    The line's row lock serialises this on PostgreSQL; on SQLite the statement itself is
    atomic. Returns None when a pending request of the kind is already there.
    """
    table = BroadbandRequest.__table__  # type: ignore[attr-defined]
    pending = exists().where(
        table.c.tenant_id == values["tenant_id"],
        table.c.account_id == values["account_id"],
        table.c.kind == values["kind"],
        table.c.status == SUBMITTED,
    )
    source = sa_select(
        *(literal(value, type_=table.c[name].type).label(name) for name, value in values.items())
    ).where(~pending)
    statement = insert(table).from_select(list(values), source).returning(table.c.id)
    new_id = (await session.exec(statement)).scalar_one_or_none()
    if new_id is None:
        return None
    return await session.get(BroadbandRequest, new_id)
