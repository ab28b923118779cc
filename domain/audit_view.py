"""The audit log from the staff side: who is acting (`Actor`), and the log read back filtered,
a page at a time, with each entry's before and after laid side by side.

Writing stays in `domain.audit.record_action`; an `Actor` only carries the who (staff id,
login, address) from the web layer into the domain functions that change something, so
each of them records its entry in its own transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.audit import AuditEntry, record_action
from domain.identifiers import login_key
from domain.staff import StaffUser

PAGE_SIZE = 50
# The actions of the queues and customer support; others (configuration, keys, imports,
# platform) are found in the log itself and offered beside these.
KNOWN_ACTIONS: tuple[str, ...] = (
    "staff.sign_in",
    "activation.approve",
    "activation.reject",
    "visit.status",
    "anonymous_reading.record",
    "anonymous_reading.reject",
    "customer.lock",
    "customer.unlock",
    "customer.force_reset",
    "broadband_request.done",
    "broadband_request.cancel",
    "outbox.retry",
)


@dataclass(frozen=True)
class Actor:
    """The staff member behind a change, as the audit entry names them."""

    staff_id: int | None
    login: str
    address: str = ""

    @classmethod
    def of(cls, staff: StaffUser, address: str) -> Actor:
        return cls(staff_id=staff.id, login=staff.login, address=address)

    def record(
        self,
        session: AsyncSession,
        *,
        tenant_id: int | None,
        action: str,
        target_type: str = "",
        target_id: object = "",
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> AuditEntry:
        """Add the entry to the caller's transaction; the caller commits it with the change."""
        return record_action(
            session,
            tenant_id=tenant_id,
            staff_id=self.staff_id,
            actor=self.login,
            action=action,
            target_type=target_type,
            target_id=target_id,
            before=before,
            after=after,
            address=self.address,
        )


# --- reading the log ----------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilter:
    """What staff asked to see; empty strings and None mean "any"."""

    actor: str = ""
    action: str = ""
    target_type: str = ""
    target_id: str = ""
    start: datetime | None = None  # UTC, inclusive
    end: datetime | None = None  # UTC, exclusive
    # Platform-wide entries (tenant_id None) as well: for platform operators only.
    platform: bool = False


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    total: int
    page: int
    pages: int


def day_bounds(first: date | None, last: date | None, timezone: str) -> tuple[datetime | None, ...]:
    """The UTC moments a range of days in the tenant's time zone starts and ends (exclusive)."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(first, time(), zone).astimezone(UTC) if first else None
    end = datetime.combine(last + timedelta(days=1), time(), zone).astimezone(UTC) if last else None
    return start, end


def _scope(tenant_id: int, platform: bool) -> ColumnElement[bool]:
    own = col(AuditEntry.tenant_id) == tenant_id
    return or_(own, col(AuditEntry.tenant_id).is_(None)) if platform else own


def _conditions(tenant_id: int, wanted: AuditFilter) -> list[ColumnElement[bool]]:
    conditions = [_scope(tenant_id, wanted.platform)]
    if wanted.actor:
        # Staff logins are stored folded (see domain.staff.find_staff), as entries name them.
        conditions.append(col(AuditEntry.actor) == login_key(wanted.actor)[:64])
    if wanted.action:
        conditions.append(col(AuditEntry.action) == wanted.action)
    if wanted.target_type:
        conditions.append(col(AuditEntry.target_type) == wanted.target_type)
    if wanted.target_id:
        conditions.append(col(AuditEntry.target_id) == wanted.target_id[:80])
    if wanted.start is not None:
        conditions.append(col(AuditEntry.at) >= wanted.start)
    if wanted.end is not None:
        conditions.append(col(AuditEntry.at) < wanted.end)
    return conditions


async def audit_page(
    session: AsyncSession, *, tenant_id: int, wanted: AuditFilter, page: int = 1
) -> AuditPage:
    """One page of the tenant's entries that match, newest first."""
    conditions = _conditions(tenant_id, wanted)
    total = int(
        (await session.exec(select(func.count()).select_from(AuditEntry).where(*conditions))).one()
    )
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    page = min(max(page, 1), pages)
    rows = await session.exec(
        select(AuditEntry)
        .where(*conditions)
        .order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    return AuditPage(list(rows.all()), total, page, pages)


async def action_choices(session: AsyncSession, *, tenant_id: int, platform: bool) -> list[str]:
    """Every action the filter offers: the known ones and any others found in the log."""
    found = await session.exec(
        select(AuditEntry.action).where(_scope(tenant_id, platform)).distinct()
    )
    return sorted(set(KNOWN_ACTIONS) | set(found.all()))


async def entries_about(
    session: AsyncSession, *, tenant_id: int, target_type: str, target_id: object, limit: int = 10
) -> list[AuditEntry]:
    """The newest entries about one thing (a customer's page shows what staff did to them)."""
    rows = await session.exec(
        select(AuditEntry)
        .where(
            AuditEntry.tenant_id == tenant_id,
            AuditEntry.target_type == target_type,
            AuditEntry.target_id == str(target_id),
        )
        .order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc())
        .limit(limit)
    )
    return list(rows.all())


# --- before and after ---------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    """One key of an entry: its value before and after (None where the side lacks it)."""

    key: str
    before: str | None
    after: str | None

    @property
    def changed(self) -> bool:
        return self.before != self.after


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def differences(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[Difference]:
    """Every key of either side, in the order first seen, with both values as text."""
    before, after = before or {}, after or {}
    keys = list(dict.fromkeys([*before, *after]))
    return [
        Difference(
            key,
            _shown(before[key]) if key in before else None,
            _shown(after[key]) if key in after else None,
        )
        for key in keys
    ]
