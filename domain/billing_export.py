"""What the billing system pulls: readings and requests changed since a cursor, page by page.

A cursor is the position (time of the last change, source, id) of the last item a page
returned, so paging is stable while rows are added, and a row changed again later sorts
after the cursor and is exported again. Rows changed in the last few seconds are held
back: a transaction still open may yet commit a row stamped a moment earlier, and a page
must never step past it.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.models import (
    Account,
    AnonymousReading,
    BroadbandRequest,
    Meter,
    Reading,
    VisitRequest,
)

SETTLE = timedelta(seconds=5)
PAGE_MAX = 1000
CURSOR_MAX = 200

# Requests of the three sources interleave by time; at the same instant, in this order.
VISIT, BROADBAND, ANONYMOUS_READING = "visit", "broadband", "anonymous_reading"
_SOURCE_ORDER = {VISIT: 1, BROADBAND: 2, ANONYMOUS_READING: 3}


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class BadCursor(ValueError):
    """The cursor was not one this API gave out."""


@dataclass(frozen=True, order=True)
class Cursor:
    moment: datetime
    source: int
    id: int

    def encode(self) -> str:
        micros = (self.moment - _EPOCH) // _MICROSECOND
        text = f"1:{micros}:{self.source}:{self.id}"
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        if len(text) > CURSOR_MAX:
            raise BadCursor(text)
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
            version, micros, source, row_id = raw.split(":")
            if version != "1":
                raise BadCursor(text)
            moment = _EPOCH + int(micros) * _MICROSECOND
            return cls(moment, int(source), int(row_id))
        except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError, OSError):
            raise BadCursor(text) from None


def _after(
    cursor: Cursor | None, moment: Any, row_id: Any, source: int = 0
) -> ColumnElement[bool] | None:
    """Rows of `source` that sort after the cursor: by moment, then source, then id."""
    if cursor is None:
        return None
    if source > cursor.source:
        return moment >= cursor.moment
    if source < cursor.source:
        return moment > cursor.moment
    return or_(moment > cursor.moment, and_(moment == cursor.moment, row_id > cursor.id))


# --- readings ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportedReading:
    id: int
    account_number: str
    meter_factory_number: str | None
    meter_service: str
    period: date
    value: Decimal
    taken_on: date
    source: str
    status: str
    submitted_at: datetime


async def readings_since(
    session: AsyncSession, *, tenant_id: int, cursor: Cursor | None, limit: int, now: datetime
) -> tuple[list[ExportedReading], Cursor | None]:
    """The tenant's readings submitted (or submitted again) after the cursor, oldest first,
    with the cursor to ask from next time."""
    moment = col(Reading.submitted_at)
    statement = (
        select(Reading, Meter.factory_number, Meter.service, Account.number)
        .join(Meter, col(Meter.id) == col(Reading.meter_id))
        .join(Account, col(Account.id) == col(Meter.account_id))
        .where(Reading.tenant_id == tenant_id, moment <= now - SETTLE)
        .order_by(moment, col(Reading.id))
        .limit(min(limit, PAGE_MAX))
    )
    after = _after(cursor, moment, col(Reading.id))
    if after is not None:
        statement = statement.where(after)
    items = [
        ExportedReading(
            id=reading.id or 0,
            account_number=number,
            meter_factory_number=factory_number,
            meter_service=service,
            period=reading.period,
            value=reading.value,
            taken_on=reading.taken_on,
            source=reading.source,
            status=reading.status,
            submitted_at=reading.submitted_at,
        )
        for reading, factory_number, service, number in await session.exec(statement)
    ]
    if not items:
        return items, cursor
    return items, Cursor(items[-1].submitted_at, 0, items[-1].id)


# --- requests ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportedRequest:
    """A visit request, a broadband request or a reading sent without signing in."""

    type: str
    id: int
    kind: str
    status: str
    created_at: datetime
    changed_at: datetime
    account_number: str | None = None
    phone: str | None = None
    full_name: str | None = None
    meter_number: str | None = None
    value: Decimal | None = None
    visit_date: date | None = None
    slot: str | None = None
    notes: str | None = None
    status_note: str | None = None
    new_plan: str | None = None
    effective_on: date | None = None

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.changed_at, _SOURCE_ORDER[self.type], self.id)


async def _visits(
    session: AsyncSession, tenant_id: int, cursor: Cursor | None, limit: int, until: datetime
) -> list[ExportedRequest]:
    moment = col(VisitRequest.updated_at)
    statement = (
        select(VisitRequest, Account.number, Meter.factory_number)
        .join(Account, col(Account.id) == col(VisitRequest.account_id))
        .outerjoin(Meter, col(Meter.id) == col(VisitRequest.meter_id))
        .where(VisitRequest.tenant_id == tenant_id, moment <= until)
        .order_by(moment, col(VisitRequest.id))
        .limit(limit)
    )
    after = _after(cursor, moment, col(VisitRequest.id), _SOURCE_ORDER[VISIT])
    if after is not None:
        statement = statement.where(after)
    return [
        ExportedRequest(
            type=VISIT,
            id=visit.id or 0,
            kind=visit.kind,
            status=visit.status,
            created_at=visit.created_at,
            changed_at=visit.updated_at,
            account_number=number,
            phone=visit.phone,
            meter_number=factory_number,
            visit_date=visit.visit_date,
            slot=visit.slot,
            notes=visit.notes,
            status_note=visit.status_note,
        )
        for visit, number, factory_number in await session.exec(statement)
    ]


async def _broadband(
    session: AsyncSession, tenant_id: int, cursor: Cursor | None, limit: int, until: datetime
) -> list[ExportedRequest]:
    moment = col(BroadbandRequest.created_at)
    statement = (
        select(BroadbandRequest, Account.number)
        .join(Account, col(Account.id) == col(BroadbandRequest.account_id))
        .where(BroadbandRequest.tenant_id == tenant_id, moment <= until)
        .order_by(moment, col(BroadbandRequest.id))
        .limit(limit)
    )
    after = _after(cursor, moment, col(BroadbandRequest.id), _SOURCE_ORDER[BROADBAND])
    if after is not None:
        statement = statement.where(after)
    return [
        ExportedRequest(
            type=BROADBAND,
            id=request.id or 0,
            kind=request.kind,
            status=request.status,
            created_at=request.created_at,
            changed_at=request.created_at,
            account_number=number,
            new_plan=request.new_plan,
            effective_on=request.effective_on,
        )
        for request, number in await session.exec(statement)
    ]


async def _anonymous_readings(
    session: AsyncSession, tenant_id: int, cursor: Cursor | None, limit: int, until: datetime
) -> list[ExportedRequest]:
    # Handling one (recording or rejecting it) is a change the billing system hears of.
    moment = func.coalesce(col(AnonymousReading.handled_at), col(AnonymousReading.created_at))
    statement = (
        select(AnonymousReading, moment)
        .where(AnonymousReading.tenant_id == tenant_id, moment <= until)
        .order_by(moment, col(AnonymousReading.id))
        .limit(limit)
    )
    after = _after(cursor, moment, col(AnonymousReading.id), _SOURCE_ORDER[ANONYMOUS_READING])
    if after is not None:
        statement = statement.where(after)
    return [
        ExportedRequest(
            type=ANONYMOUS_READING,
            id=reading.id or 0,
            kind="reading",
            status=reading.status,
            created_at=reading.created_at,
            changed_at=reading.handled_at or reading.created_at,
            phone=reading.phone,
            full_name=reading.full_name,
            meter_number=reading.meter_number,
            value=reading.value,
            status_note=reading.staff_note,
        )
        for reading, _ in await session.exec(statement)
    ]


async def requests_since(
    session: AsyncSession, *, tenant_id: int, cursor: Cursor | None, limit: int, now: datetime
) -> tuple[list[ExportedRequest], Cursor | None]:
    """The tenant's requests of every source changed after the cursor, oldest first, with the
    cursor to ask from next time."""
    limit = min(limit, PAGE_MAX)
    until = now - SETTLE
    merged = [
        *await _visits(session, tenant_id, cursor, limit, until),
        *await _broadband(session, tenant_id, cursor, limit, until),
        *await _anonymous_readings(session, tenant_id, cursor, limit, until),
    ]
    page = sorted(merged, key=lambda item: item.cursor)[:limit]
    if not page:
        return page, cursor
    return page, page[-1].cursor
