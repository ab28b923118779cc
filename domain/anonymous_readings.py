"""Readings sent without signing in: checking the form, the staff queue, recording or rejecting.

Nothing typed here is ever matched to an account for the sender: the item goes to a
staff queue as typed, and only staff see which meter has that factory number. Staff
"record" an item into the meter's Reading of the period it was sent in, through the same
exactly-once upsert as the cabinet, after a compare-and-set on the item's status.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.audit_view import Actor
from domain.fields import clean_text
from domain.identifiers import InvalidIdentifier
from domain.models import Account, AnonymousReading, Meter, Reading, utcnow
from domain.ownership import is_row_id
from domain.profile import normalize_phone
from domain.reading_submission import upsert_reading
from domain.readings import parse_value, period_of
from tenants.schema import TenantConfig

NEW = "new"
RECORDED = "recorded"
REJECTED = "rejected"

NAME_MAX = 200
METER_NUMBER_MAX = 40
NOTE_MAX = 300
VALUE_DECIMALS = 3
QUEUE_SIZE = 200

Problem = Literal[
    "empty",
    "too_long",
    "bad_characters",
    "bad_phone",
    # parse_value's reasons
    "not_a_number",
    "negative",
    "too_many_decimals",
    "too_large",
]

# A full name: letters of any script with the spaces, hyphens, apostrophes and dots names use.
_NAME = re.compile(r"^[^\W\d_]+(?:[ .'’\-][^\W\d_]*)*\.?$")
_METER_SEPARATORS = re.compile(r"[\s\-‐‑–—/.]+")
_METER_NUMBER = re.compile(r"^[0-9A-Za-zА-Яа-яЁё]+$")


def clean_meter_number(raw: str) -> str:
    """A meter number as compared with billing data: no spaces or dashes, upper case."""
    return _METER_SEPARATORS.sub("", clean_text(raw)).upper()


@dataclass
class AnonymousCheck:
    values: dict[str, str] = field(default_factory=dict)
    value: Decimal | None = None
    problems: dict[str, Problem] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_anonymous_reading(config: TenantConfig, typed: Mapping[str, str]) -> AnonymousCheck:
    """Every field of the form, cleaned, or a problem per field."""
    check = AnonymousCheck()
    name = clean_text(typed.get("full_name", ""))
    if not name:
        check.problems["full_name"] = "empty"
    elif len(name) > NAME_MAX:
        check.problems["full_name"] = "too_long"
    elif not _NAME.match(name):
        check.problems["full_name"] = "bad_characters"
    check.values["full_name"] = name
    phone = typed.get("phone", "")
    if not phone.strip():
        check.problems["phone"] = "empty"
    else:
        try:
            check.values["phone"] = normalize_phone(config, phone)
        except InvalidIdentifier:
            check.problems["phone"] = "bad_phone"
    number = clean_meter_number(typed.get("meter_number", ""))
    if not number:
        check.problems["meter_number"] = "empty"
    elif len(number) > METER_NUMBER_MAX:
        check.problems["meter_number"] = "too_long"
    elif not _METER_NUMBER.match(number):
        check.problems["meter_number"] = "bad_characters"
    check.values["meter_number"] = number
    raw_value = typed.get("value", "")
    if not raw_value.strip():
        check.problems["value"] = "empty"
    else:
        try:
            check.value = parse_value(raw_value, VALUE_DECIMALS)
        except ValueError as problem:
            check.problems["value"] = str(problem)  # type: ignore[assignment]
    return check


async def submit_anonymous_reading(
    session: AsyncSession, *, tenant_id: int, check: AnonymousCheck, when: datetime
) -> AnonymousReading:
    """Put a checked reading, sent at `when`, into the staff queue; commits."""
    if not check.ok or check.value is None:
        raise ValueError("only a reading without problems can be queued")
    item = AnonymousReading(
        tenant_id=tenant_id,
        full_name=check.values["full_name"],
        phone=check.values["phone"],
        meter_number=check.values["meter_number"],
        value=check.value,
        created_at=when,
    )
    session.add(item)
    await session.commit()
    await session.refresh(item)
    return item


# --- the staff queue ---------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A meter of the tenant with the typed factory number, and its latest reading."""

    meter: Meter
    account: Account
    latest: Reading | None

    @property
    def recordable(self) -> bool:
        return self.meter.state == "installed" and not self.meter.is_heat_meter


@dataclass(frozen=True)
class QueueItem:
    item: AnonymousReading
    candidates: list[Candidate]


async def candidates_for(session: AsyncSession, tenant_id: int, number: str) -> list[Candidate]:
    compact = func.upper(
        func.replace(func.replace(func.coalesce(col(Meter.factory_number), ""), " ", ""), "-", "")
    )
    rows = await session.exec(
        select(Meter, Account)
        .join(Account, col(Account.id) == Meter.account_id)
        .where(Meter.tenant_id == tenant_id, Account.tenant_id == tenant_id, compact == number)
        .order_by(col(Meter.id))
    )
    result = []
    for meter, account in rows.all():
        latest = (
            await session.exec(
                select(Reading)
                .where(Reading.meter_id == meter.id, Reading.tenant_id == tenant_id)
                .order_by(col(Reading.period).desc())
                .limit(1)
            )
        ).first()
        result.append(Candidate(meter, account, latest))
    return result


async def anonymous_queue(session: AsyncSession, *, tenant_id: int) -> list[QueueItem]:
    """The tenant's new items, oldest first, each with the meters its number matches."""
    items = (
        await session.exec(
            select(AnonymousReading)
            .where(AnonymousReading.tenant_id == tenant_id, AnonymousReading.status == NEW)
            .order_by(col(AnonymousReading.created_at), col(AnonymousReading.id))
            .limit(QUEUE_SIZE)
        )
    ).all()
    return [
        QueueItem(item, await candidates_for(session, tenant_id, item.meter_number))
        for item in items
    ]


async def count_new(session: AsyncSession, *, tenant_id: int) -> int:
    rows = await session.exec(
        select(AnonymousReading.id).where(
            AnonymousReading.tenant_id == tenant_id, AnonymousReading.status == NEW
        )
    )
    return len(rows.all())


async def find_item(session: AsyncSession, *, tenant_id: int, item_id: int) -> QueueItem | None:
    if not is_row_id(item_id):
        return None
    item = (
        await session.exec(
            select(AnonymousReading).where(
                AnonymousReading.id == item_id, AnonymousReading.tenant_id == tenant_id
            )
        )
    ).first()
    if item is None:
        return None
    return QueueItem(item, await candidates_for(session, tenant_id, item.meter_number))


Outcome = Literal["recorded", "rejected", "already_handled", "not_found", "no_such_meter"]


async def _claim(
    session: AsyncSession,
    *,
    tenant_id: int,
    item_id: int,
    status: str,
    staff_id: int,
    note: str | None,
) -> bool:
    """Compare-and-set on "new": of two clicks, only the first finds the item still new."""
    result = await session.exec(
        update(AnonymousReading)
        .where(
            col(AnonymousReading.id) == item_id,
            col(AnonymousReading.tenant_id) == tenant_id,
            col(AnonymousReading.status) == NEW,
        )
        .values(status=status, staff_note=note, handled_by=staff_id, handled_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0) == 1


async def _unclaimed(session: AsyncSession, tenant_id: int, item_id: int) -> Outcome:
    await session.rollback()
    found = await find_item(session, tenant_id=tenant_id, item_id=item_id)
    return "not_found" if found is None else "already_handled"


def sent_on(config: TenantConfig, item: AnonymousReading) -> date:
    """The day (in the tenant's time zone) the reading was sent: its period and date taken."""
    created: datetime = item.created_at
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return created.astimezone(ZoneInfo(config.timezone)).date()


async def record_anonymous_reading(
    session: AsyncSession,
    *,
    config: TenantConfig,
    tenant_id: int,
    item_id: int,
    meter_id: int,
    staff_id: int,
    note: str = "",
    actor: Actor | None = None,
) -> Outcome:
    """Make the item the meter's reading of the period it was sent in; commits (with the
    `actor`'s audit entry).

    The meter must be one its number matches, in this tenant, and take readings.
    """
    found = await find_item(session, tenant_id=tenant_id, item_id=item_id)
    if found is None:
        return "not_found"
    if found.item.status != NEW:
        return "already_handled"
    candidate = next((c for c in found.candidates if c.meter.id == meter_id), None)
    if candidate is None or not candidate.recordable:
        return "no_such_meter"
    day = sent_on(config, found.item)
    value = found.item.value
    await session.rollback()  # the claim must be the transaction's first write
    if not await _claim(
        session,
        tenant_id=tenant_id,
        item_id=item_id,
        status=RECORDED,
        staff_id=staff_id,
        note=note or None,
    ):
        return await _unclaimed(session, tenant_id, item_id)
    await upsert_reading(
        session,
        tenant_id=tenant_id,
        meter_id=meter_id,
        period=period_of(day),
        value=value,
        taken_on=day,
        source="anonymous",
        status="accepted",
    )
    if actor is not None:
        actor.record(
            session,
            tenant_id=tenant_id,
            action="anonymous_reading.record",
            target_type="anonymous_reading",
            target_id=item_id,
            before={"status": NEW},
            after={
                "status": RECORDED,
                "meter_id": meter_id,
                "period": period_of(day).isoformat(),
                "value": str(value),
            },
        )
    await session.commit()
    return "recorded"


async def reject_anonymous_reading(
    session: AsyncSession,
    *,
    tenant_id: int,
    item_id: int,
    staff_id: int,
    note: str,
    actor: Actor | None = None,
) -> Outcome:
    """Refuse the item with a note for the record; commits (with the `actor`'s audit entry)."""
    if not note or len(note) > NOTE_MAX:
        raise ValueError("a rejection needs a note of at most 300 characters")
    if not await _claim(
        session, tenant_id=tenant_id, item_id=item_id, status=REJECTED, staff_id=staff_id, note=note
    ):
        return await _unclaimed(session, tenant_id, item_id)
    if actor is not None:
        actor.record(
            session,
            tenant_id=tenant_id,
            action="anonymous_reading.reject",
            target_type="anonymous_reading",
            target_id=item_id,
            before={"status": NEW},
            after={"status": REJECTED, "note": note},
        )
    await session.commit()
    return "rejected"
