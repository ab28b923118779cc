"""Visit requests (meter acceptance, meter check): checking what a customer asked for, the queue.

A request names one of the customer's accounts (reached only through `domain.ownership`),
optionally one of that account's meters, a working day in the tenant's calendar and one of
its time slots. Staff move it on (scheduled, done, cancelled) with a compare-and-set on the
status they saw, and the customer is told by SMS in their language in the same transaction.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.audit_view import Actor
from domain.identifiers import InvalidIdentifier
from domain.models import Account, AccountLink, Customer, Meter, VisitRequest, utcnow
from domain.outbox import MessageRenderer, enqueue
from domain.ownership import is_row_id, linked_account, linked_accounts, meters_of
from domain.profile import normalize_phone
from tenants.schema import TenantConfig, VisitRequests

SUBMITTED = "submitted"
SCHEDULED = "scheduled"
DONE = "done"
CANCELLED = "cancelled"
STATUSES = (SUBMITTED, SCHEDULED, DONE, CANCELLED)
# Where staff may move a request from each status; done and cancelled are final.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    SUBMITTED: (SCHEDULED, DONE, CANCELLED),
    SCHEDULED: (DONE, CANCELLED),
}

NOTES_MAX = 1000
STATUS_NOTE_MAX = 300
# How far ahead a visit may be booked, in days.
DAYS_AHEAD = 60
QUEUE_SIZE = 200

Problem = Literal[
    "empty",
    "not_yours",
    "meter_of_other_account",
    "meter_removed",
    "bad_phone",
    "not_a_date",
    "past",
    "today",
    "too_far",
    "not_working_day",
    "bad_slot",
    "too_long",
]

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_DOTTED_DATE = re.compile(r"^([0-9]{1,2})\.([0-9]{1,2})\.([0-9]{4})$")
_ISO_DATE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$")


# --- pure rules -------------------------------------------------------------------------


def visit_settings(config: TenantConfig) -> VisitRequests:
    """The tenant's visit kinds, days and slots (none at all without the module)."""
    return config.visit_requests or VisitRequests()


def clean_notes(raw: str) -> str:
    """NFKC, no control characters, spaces collapsed within lines, at most one blank line."""
    text = _CONTROL.sub("", unicodedata.normalize("NFKC", raw).replace("\r\n", "\n"))
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def parse_date(raw: str) -> date | None:
    """A date as a date input sends it (2026-12-01), or as people type it (01.12.2026)."""
    text = unicodedata.normalize("NFKC", raw).strip()
    iso = _ISO_DATE.match(text)
    dotted = _DOTTED_DATE.match(text)
    try:
        if iso:
            return date(int(iso[1]), int(iso[2]), int(iso[3]))
        if dotted:
            return date(int(dotted[3]), int(dotted[2]), int(dotted[1]))
    except ValueError:
        return None
    return None


@dataclass(frozen=True)
class DateRange:
    """The days a visit may be booked for: tomorrow up to DAYS_AHEAD days ahead, working days."""

    first: date
    last: date
    working_days: tuple[int, ...]


def bookable_range(config: TenantConfig, today: date) -> DateRange:
    working = tuple(sorted(set(visit_settings(config).working_days)))
    first = today + timedelta(days=1)
    while working and first.isoweekday() not in working:
        first += timedelta(days=1)
    return DateRange(first, today + timedelta(days=DAYS_AHEAD), working)


def date_problem(raw: str, config: TenantConfig, today: date) -> tuple[date | None, Problem | None]:
    if not raw.strip():
        return None, "empty"
    chosen = parse_date(raw)
    if chosen is None:
        return None, "not_a_date"
    if chosen < today:
        return chosen, "past"
    if chosen == today:
        return chosen, "today"
    if chosen > today + timedelta(days=DAYS_AHEAD):
        return chosen, "too_far"
    if chosen.isoweekday() not in visit_settings(config).working_days:
        return chosen, "not_working_day"
    return chosen, None


def slot_problem(raw: str, config: TenantConfig) -> Problem | None:
    if not raw.strip():
        return "empty"
    return None if raw.strip() in visit_settings(config).slots else "bad_slot"


# --- checking a request ---------------------------------------------------------------


@dataclass
class VisitCheck:
    """What a request form's values amount to: clean values, or a problem per field."""

    problems: dict[str, Problem] = field(default_factory=dict)
    account: Account | None = None
    meter: Meter | None = None
    # The account a meter from another of the customer's accounts belongs to.
    meter_account: Account | None = None
    phone: str = ""
    visit_date: date | None = None
    slot: str = ""
    notes: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


def _as_id(raw: str) -> int | None:
    text = raw.strip()
    return int(text) if text.isdigit() and len(text) < 12 else None


async def _check_account_and_meter(
    session: AsyncSession,
    check: VisitCheck,
    *,
    tenant_id: int,
    customer_id: int,
    typed: Mapping[str, str],
) -> None:
    raw_account = typed.get("account", "")
    account_id = _as_id(raw_account)
    if not raw_account.strip():
        check.problems["account"] = "empty"
    else:
        found = None
        if account_id is not None:
            found = await linked_account(
                session, tenant_id=tenant_id, customer_id=customer_id, account_id=account_id
            )
        if found is None:
            check.problems["account"] = "not_yours"
        else:
            check.account = found[0]
    raw_meter = typed.get("meter", "")
    if not raw_meter.strip():
        return
    meter_id = _as_id(raw_meter)
    meter = await session.get(Meter, meter_id) if meter_id is not None else None
    owner = None
    if meter is not None and meter.tenant_id == tenant_id:
        owner = await linked_account(
            session, tenant_id=tenant_id, customer_id=customer_id, account_id=meter.account_id
        )
    if meter is None or owner is None:
        check.problems["meter"] = "not_yours"
    elif check.account is not None and meter.account_id != check.account.id:
        check.problems["meter"] = "meter_of_other_account"
        check.meter_account = owner[0]
    elif meter.state != "installed":
        check.problems["meter"] = "meter_removed"
    else:
        check.meter = meter


async def check_visit_request(
    session: AsyncSession,
    *,
    config: TenantConfig,
    tenant_id: int,
    customer_id: int,
    typed: Mapping[str, str],
    today: date,
) -> VisitCheck:
    """Every field of a visit request form; foreign accounts and meters count as not found."""
    check = VisitCheck()
    await _check_account_and_meter(
        session, check, tenant_id=tenant_id, customer_id=customer_id, typed=typed
    )
    phone = typed.get("phone", "")
    if not phone.strip():
        check.problems["phone"] = "empty"
    else:
        try:
            check.phone = normalize_phone(config, phone)
        except InvalidIdentifier:
            check.problems["phone"] = "bad_phone"
    check.visit_date, problem = date_problem(typed.get("visit_date", ""), config, today)
    if problem:
        check.problems["visit_date"] = problem
    slot = typed.get("slot", "")
    if problem := slot_problem(slot, config):
        check.problems["slot"] = problem
    else:
        check.slot = slot.strip()
    check.notes = clean_notes(typed.get("notes", ""))
    if len(check.notes) > NOTES_MAX:
        check.problems["notes"] = "too_long"
    return check


async def create_visit_request(
    session: AsyncSession, *, tenant_id: int, customer_id: int, kind: str, check: VisitCheck
) -> VisitRequest:
    """Record a checked request; commits."""
    if not check.ok or check.account is None or check.visit_date is None:
        raise ValueError("only a request without problems can be recorded")
    assert check.account.id is not None
    request = VisitRequest(
        tenant_id=tenant_id,
        customer_id=customer_id,
        account_id=check.account.id,
        meter_id=check.meter.id if check.meter else None,
        kind=kind,
        phone=check.phone,
        visit_date=check.visit_date,
        slot=check.slot,
        notes=check.notes,
    )
    session.add(request)
    await session.commit()
    await session.refresh(request)
    return request


# --- what the customer sees --------------------------------------------------------------


@dataclass(frozen=True)
class AccountMeters:
    account: Account
    link: AccountLink
    meters: list[Meter]


async def customer_meters(
    session: AsyncSession, *, tenant_id: int, customer_id: int
) -> list[AccountMeters]:
    """The customer's accounts, each with its installed meters, for the request form."""
    result = []
    for account, link in await linked_accounts(
        session, tenant_id=tenant_id, customer_id=customer_id
    ):
        assert account.id is not None
        meters = await meters_of(session, tenant_id=tenant_id, account_id=account.id)
        result.append(AccountMeters(account, link, [m for m in meters if m.state == "installed"]))
    return result


@dataclass(frozen=True)
class VisitRow:
    request: VisitRequest
    account: Account
    meter: Meter | None
    customer: Customer | None = None


async def customer_visits(
    session: AsyncSession, *, tenant_id: int, customer_id: int
) -> list[VisitRow]:
    """The requests the customer made, newest visit first."""
    rows = await session.exec(
        select(VisitRequest, Account, Meter)
        .join(Account, col(Account.id) == VisitRequest.account_id)
        .outerjoin(Meter, col(Meter.id) == VisitRequest.meter_id)
        .where(
            VisitRequest.tenant_id == tenant_id,
            VisitRequest.customer_id == customer_id,
            Account.tenant_id == tenant_id,
        )
        .order_by(col(VisitRequest.visit_date).desc(), col(VisitRequest.id).desc())
    )
    return [VisitRow(visit, account, meter) for visit, account, meter in rows.all()]


# --- the staff queue ---------------------------------------------------------------------


async def visit_queue(
    session: AsyncSession, *, tenant_id: int, status: str | None
) -> list[VisitRow]:
    """The tenant's requests (of one status, or all), oldest first."""
    query = (
        select(VisitRequest, Account, Meter, Customer)
        .join(Account, col(Account.id) == VisitRequest.account_id)
        .join(Customer, col(Customer.id) == VisitRequest.customer_id)
        .outerjoin(Meter, col(Meter.id) == VisitRequest.meter_id)
        .where(VisitRequest.tenant_id == tenant_id, Account.tenant_id == tenant_id)
        .order_by(col(VisitRequest.created_at), col(VisitRequest.id))
        .limit(QUEUE_SIZE)
    )
    if status is not None:
        query = query.where(VisitRequest.status == status)
    rows = await session.exec(query)
    return [VisitRow(v, account, meter, customer) for v, account, meter, customer in rows.all()]


async def find_visit(session: AsyncSession, *, tenant_id: int, request_id: int) -> VisitRow | None:
    if not is_row_id(request_id):
        return None
    row = (
        await session.exec(
            select(VisitRequest, Account, Meter, Customer)
            .join(Account, col(Account.id) == VisitRequest.account_id)
            .join(Customer, col(Customer.id) == VisitRequest.customer_id)
            .outerjoin(Meter, col(Meter.id) == VisitRequest.meter_id)
            .where(
                VisitRequest.id == request_id,
                VisitRequest.tenant_id == tenant_id,
                Account.tenant_id == tenant_id,
            )
        )
    ).first()
    return VisitRow(row[0], row[1], row[2], row[3]) if row else None


async def count_visits(session: AsyncSession, *, tenant_id: int, status: str) -> int:
    rows = await session.exec(
        select(VisitRequest.id).where(
            VisitRequest.tenant_id == tenant_id, VisitRequest.status == status
        )
    )
    return len(rows.all())


def status_note_problem(new_status: str, note: str) -> Problem | None:
    """Cancelling needs a reason the customer is told; any note fits in one SMS or so."""
    if new_status == CANCELLED and not note:
        return "empty"
    if len(note) > STATUS_NOTE_MAX:
        return "too_long"
    return None


ChangeOutcome = Literal["changed", "stale", "not_allowed", "not_found"]


def customer_locale(config: TenantConfig, customer: Customer | None) -> str:
    saved = customer.locale if customer is not None else None
    return saved if saved in config.locales.enabled else config.locales.default


async def change_visit_status(
    session: AsyncSession,
    *,
    config: TenantConfig,
    tenant_id: int,
    request_id: int,
    expected: str,
    new_status: str,
    note: str,
    renderer: MessageRenderer,
    when: datetime | None = None,
    actor: Actor | None = None,
) -> ChangeOutcome:
    """Move a request on from the status staff saw, and text the customer; commits (with
    the `actor`'s audit entry).

    The update is a compare-and-set on `expected`: if someone else changed the request
    since the form was drawn, nothing happens and the answer is "stale".
    """
    if new_status not in TRANSITIONS.get(expected, ()):
        found = await find_visit(session, tenant_id=tenant_id, request_id=request_id)
        if found is None:
            return "not_found"
        return "stale" if found.request.status != expected else "not_allowed"
    result = await session.exec(
        update(VisitRequest)
        .where(
            col(VisitRequest.id) == request_id,
            col(VisitRequest.tenant_id) == tenant_id,
            col(VisitRequest.status) == expected,
        )
        .values(status=new_status, status_note=note or None, updated_at=when or utcnow())
        .execution_options(synchronize_session=False)
    )
    if int(result.rowcount or 0) != 1:
        await session.rollback()
        found = await find_visit(session, tenant_id=tenant_id, request_id=request_id)
        return "not_found" if found is None else "stale"
    row = await find_visit(session, tenant_id=tenant_id, request_id=request_id)
    assert row is not None
    await session.refresh(row.request)
    await enqueue(
        session,
        tenant_id=tenant_id,
        channel="sms",
        recipient=row.request.phone,
        locale=customer_locale(config, row.customer),
        template="visit_status_changed",
        context={
            "kind": row.request.kind,
            "status": new_status,
            "visit_date": row.request.visit_date,
            "slot": row.request.slot,
            "number": row.request.id,
            "note": note,
        },
        idempotency_key=f"visit:{request_id}:{new_status}",
        renderer=renderer,
        config=config,
    )
    if actor is not None:
        actor.record(
            session,
            tenant_id=tenant_id,
            action="visit.status",
            target_type="visit_request",
            target_id=request_id,
            before={"status": expected},
            after={"status": new_status, "note": note},
        )
    await session.commit()
    return "changed"
