"""Readings a customer sends from the cabinet: what each meter's rules need, and the write.

A reading is keyed by (meter, period): the database's unique constraint, used through
an INSERT … ON CONFLICT DO UPDATE, makes a double click, two tabs or a retried request
update the one row of the period instead of creating a second.

`assess_submission` decides about a whole form at once (all or nothing): which values
are refused and why, which need the customer's confirmation, whether only some of the
meters were filled in. Only a form with nothing left to refuse or confirm is written.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from typing import Any, Literal

from sqlalchemy import and_, bindparam, not_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.models import READING_SCALE, Account, AccountLink, Meter, Reading
from domain.ownership import is_row_id, meter_order
from domain.readings import (
    Confirmation,
    MeterFacts,
    Refusal,
    Verdict,
    Window,
    average_consumption,
    check_value,
    is_partial,
    meter_refusal,
    window,
)
from domain.rows import columns_of, detached
from tenants.schema import ReadingsPolicy

# Why a meter's row takes no value, beyond the rules of domain.readings.
Problem = Refusal | Literal["heat_meter", "already_accepted"]
CONFIRMATIONS: tuple[Confirmation, ...] = ("replacement_or_rollover", "unusual_consumption")
PARTIAL = "partial"
# Readings of these sources, once accepted, are the utility's word: the customer cannot edit.
AUTHORITATIVE_SOURCES = ("billing", "staff")


# --- reading what the rules need ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredReading:
    """What the page and the rules read of a stored reading. Plain values, not Reading
    objects: every readings page and check reads an account's whole history, and the ORM
    spent more on making those objects than the database on finding the rows."""

    period: date
    value: Decimal
    taken_on: date
    source: str
    status: str
    rejection_reason: str | None = None


@dataclass(frozen=True)
class MeterReadings:
    """One meter with its history as the readings page and the rules see it."""

    meter: Meter
    # The latest reading of an earlier period that was not rejected.
    previous: StoredReading | None
    # This period's reading, if any (whatever its status).
    current: StoredReading | None
    average: Decimal | None

    @property
    def id(self) -> int:
        return self.meter.id or 0

    @property
    def decimals(self) -> int:
        return max(0, min(self.meter.decimals, READING_SCALE))

    @property
    def facts(self) -> MeterFacts:
        return MeterFacts(
            factory_number=self.meter.factory_number,
            state=self.meter.state,
            verification_due=self.meter.verification_due,
            decimals=self.decimals,
            previous_value=self.previous.value if self.previous else None,
            average_consumption=self.average,
        )

    @property
    def locked(self) -> bool:
        """This period's value came from the utility and was accepted: shown, not editable."""
        current = self.current
        return (
            current is not None
            and current.source in AUTHORITATIVE_SOURCES
            and current.status == "accepted"
        )

    def problem(self, policy: ReadingsPolicy, today: date) -> Problem | None:
        """Why this meter takes no value in the form at all, or None when it takes one."""
        if self.meter.is_heat_meter:
            return "heat_meter"
        refusal = meter_refusal(policy, self.facts, today)
        if refusal is not None:
            return refusal
        return "already_accepted" if self.locked else None

    def verification_overdue(self, today: date) -> bool:
        due = self.meter.verification_due
        return due is not None and due < today


_METER_COLUMNS = columns_of(Meter)
_READING_COLUMNS = (
    col(Reading.period),
    col(Reading.value),
    col(Reading.taken_on),
    col(Reading.source),
    col(Reading.status),
    col(Reading.rejection_reason),
)
_READINGS_OF_METER = and_(
    col(Reading.meter_id) == col(Meter.id), col(Reading.tenant_id) == col(Meter.tenant_id)
)


@cache
def _meters_with_readings(only: bool, owned: bool) -> Any:
    """An account's meters, each with its readings oldest first (a meter with none comes once,
    with None): one round trip to the database instead of one for the meters and one for
    their readings. `only` narrows it to one meter; `owned` to an account linked to
    `:customer_id`. Built once per shape; the values are bound on each use."""
    statement = (
        select(*_METER_COLUMNS, *_READING_COLUMNS)
        .outerjoin(Reading, _READINGS_OF_METER)
        .where(
            col(Meter.tenant_id) == bindparam("tenant_id"),
            col(Meter.account_id) == bindparam("account_id"),
        )
        .order_by(col(Meter.id), col(Reading.period))
    )
    if only:
        statement = statement.where(col(Meter.id) == bindparam("meter_id"))
    if owned:
        statement = statement.join(
            AccountLink,
            and_(
                col(AccountLink.account_id) == col(Meter.account_id),
                col(AccountLink.tenant_id) == col(Meter.tenant_id),
                col(AccountLink.customer_id) == bindparam("customer_id"),
            ),
        )
    return statement


# The readings page's one statement: the customer's account (its number, the link's
# nickname), its meters and their readings. The account comes first and the rest is outer
# joined, so an account with no meters is one row and an account not linked to the
# customer none.
_ACCOUNT_WITH_METER_READINGS: Any = (
    select(col(Account.number), col(AccountLink.nickname), *_METER_COLUMNS, *_READING_COLUMNS)
    .select_from(AccountLink)
    .join(Account, col(Account.id) == col(AccountLink.account_id))
    .outerjoin(
        Meter,
        and_(
            col(Meter.account_id) == col(Account.id), col(Meter.tenant_id) == col(Account.tenant_id)
        ),
    )
    .outerjoin(Reading, _READINGS_OF_METER)
    .where(
        col(Account.id) == bindparam("account_id"),
        col(Account.tenant_id) == bindparam("tenant_id"),
        col(AccountLink.customer_id) == bindparam("customer_id"),
    )
    .order_by(col(Meter.id), col(Reading.period))
)


@dataclass(frozen=True)
class AccountReadings:
    """The readings page's account: its number, the customer's name for it, its meters."""

    id: int
    number: str
    nickname: str | None
    rows: list[MeterReadings]


async def load_account_readings(
    session: AsyncSession, *, tenant_id: int, customer_id: int, account_id: int, period: date
) -> AccountReadings | None:
    """The customer's account with its meters and readings (as `load_meter_readings`), in
    one round trip; None when the account is not theirs or does not exist."""
    if not is_row_id(account_id):
        return None
    params = {"tenant_id": tenant_id, "customer_id": customer_id, "account_id": account_id}
    connection = await session.connection()
    rows = (await connection.execute(_ACCOUNT_WITH_METER_READINGS, params)).all()
    if not rows:
        return None
    number, nickname = rows[0][0], rows[0][1]
    with_meters = [row[2:] for row in rows if row[2] is not None]
    return AccountReadings(account_id, number, nickname, _meter_readings(with_meters, period))


async def load_meter_readings(
    session: AsyncSession,
    *,
    tenant_id: int,
    account_id: int,
    period: date,
    only: int | None = None,
    customer_id: int | None = None,
) -> list[MeterReadings]:
    """The account's meters with what the rules need: previous reading, average, this period's.

    With `only`, just that meter of the account (none if it is not the account's): the htmx
    check of one value needs no other meter's history. With `customer_id`, nothing unless
    the account is linked to that customer; otherwise the caller has already checked that
    the account is the customer's (domain.ownership).
    """
    params: dict[str, Any] = {"tenant_id": tenant_id, "account_id": account_id}
    if only is not None:
        if not is_row_id(only):
            return []
        params["meter_id"] = only
    if customer_id is not None:
        params["customer_id"] = customer_id
    statement = _meters_with_readings(only is not None, customer_id is not None)
    connection = await session.connection()
    return _meter_readings((await connection.execute(statement, params)).all(), period)


def _meter_readings(rows: Sequence[Sequence[Any]], period: date) -> list[MeterReadings]:
    """MeterReadings from rows of a meter's columns then a reading's, ordered by meter.

    Core rows, not the ORM: it processed the meter once per reading (dozens of rows per
    page); each meter is made once here instead."""
    meters: dict[int, Meter] = {}
    readings: dict[int, list[StoredReading]] = {}
    width = len(_METER_COLUMNS)
    for row in rows:
        meter_id = row[0]
        if meter_id not in meters:
            meters[meter_id] = detached(Meter, _METER_COLUMNS, row[:width])
        own = readings.setdefault(meter_id, [])
        if row[width] is not None:  # a meter with no reading comes once, with NULLs
            own.append(StoredReading(*row[width:]))
    result = []
    for meter in sorted(meters.values(), key=meter_order):
        own = readings[meter.id or 0]
        earlier = [r for r in own if r.period < period and r.status != "rejected"]
        current = next((r for r in own if r.period == period), None)
        result.append(
            MeterReadings(
                meter=meter,
                previous=earlier[-1] if earlier else None,
                current=current,
                average=average_consumption([r.value for r in earlier]),
            )
        )
    return result


# --- deciding about a form ---------------------------------------------------------


def meter_id_of(text: str) -> int | None:
    """A meter id as a form names it ("123"), or None for anything else ("-1", "٣", "1.0")."""
    # ASCII digits only, and short enough for a 64-bit id.
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None


@dataclass
class MeterOutcome:
    """The decision on one typed value."""

    meter_id: int
    raw: str
    problem: Problem | None = None
    verdict: Verdict | None = None
    # Confirmations the value needs and the customer has not given yet.
    missing: list[Confirmation] = field(default_factory=list)
    # Confirmations the value needs and the customer gave: recorded with the reading.
    given: list[Confirmation] = field(default_factory=list)

    @property
    def refusal(self) -> Problem | None:
        if self.problem is not None:
            return self.problem
        return self.verdict.refusal if self.verdict else None


@dataclass
class Assessment:
    window: Window
    # A posted meter id that is not one of this account's meters (or not an id at all).
    foreign_meter: bool = False
    nothing_entered: bool = False
    outcomes: dict[int, MeterOutcome] = field(default_factory=dict)
    # (meters filled or already read this period, meters that take readings) when only
    # some were filled and the customer has not confirmed sending only those.
    partial: tuple[int, int] | None = None
    partial_confirmed: bool = False
    # Only some meters were filled (where the tenant asks about that), confirmed or not.
    only_some: bool = False

    @property
    def refused(self) -> bool:
        return (
            not self.window.open
            or self.foreign_meter
            or self.nothing_entered
            or any(o.refusal is not None for o in self.outcomes.values())
        )

    @property
    def needs_confirmation(self) -> bool:
        return any(o.missing for o in self.outcomes.values())

    @property
    def ready(self) -> bool:
        return not self.refused and not self.needs_confirmation and self.partial is None


def check_one(
    policy: ReadingsPolicy,
    row: MeterReadings,
    raw: str,
    today: date,
    confirmed: Collection[str] = (),
) -> MeterOutcome:
    """The decision on one value typed for one meter (also used as the customer types)."""
    outcome = MeterOutcome(meter_id=row.id, raw=raw)
    if not window(policy, today).open:
        outcome.problem = "window_closed"
        return outcome
    problem = row.problem(policy, today)
    if problem is not None:
        outcome.problem = problem
        return outcome
    # Asked without confirmations first, so only what the value really needs is recorded.
    verdict = check_value(policy, row.facts, raw, today)
    outcome.verdict = verdict
    outcome.given = [need for need in verdict.needs if need in confirmed]
    outcome.missing = [need for need in verdict.needs if need not in confirmed]
    return outcome


def assess_submission(
    policy: ReadingsPolicy,
    rows: list[MeterReadings],
    values: Mapping[str, str],
    today: date,
    *,
    confirmed: Mapping[int, Collection[str]] | None = None,
    partial_confirmed: bool = False,
) -> Assessment:
    """The decision on a whole form: `values` maps each posted meter id (as typed) to its value."""
    assessment = Assessment(window=window(policy, today), partial_confirmed=partial_confirmed)
    if not assessment.window.open:
        return assessment
    by_id = {row.id: row for row in rows}
    typed: dict[int, str] = {}
    for key, raw in values.items():
        meter_id = meter_id_of(key)
        if meter_id is None or meter_id not in by_id:
            assessment.foreign_meter = True
            return assessment
        if raw.strip():
            typed[meter_id] = raw
    if not typed:
        assessment.nothing_entered = True
        return assessment
    for meter_id, raw in typed.items():
        assessment.outcomes[meter_id] = check_one(
            policy, by_id[meter_id], raw, today, (confirmed or {}).get(meter_id, ())
        )
    # A meter already read this period counts as filled: its value stands unless changed.
    taking = {row.id for row in rows if row.problem(policy, today) is None}
    already = {
        row.id for row in rows if row.current is not None and row.current.status != "rejected"
    }
    covered = (set(typed) | already) & taking
    assessment.only_some = policy.confirm_partial and is_partial(covered, taking)
    if assessment.only_some and not partial_confirmed:
        assessment.partial = (len(covered), len(taking))
    return assessment


# --- writing -----------------------------------------------------------------------


@dataclass(frozen=True)
class NewReading:
    meter_id: int
    value: Decimal
    confirmations: tuple[str, ...] = ()


def readings_to_record(assessment: Assessment, rows: list[MeterReadings]) -> list[NewReading]:
    """The values of a ready assessment that change something (an unchanged value is skipped)."""
    by_id = {row.id: row for row in rows}
    result = []
    for meter_id, outcome in sorted(assessment.outcomes.items()):
        assert outcome.verdict is not None and outcome.verdict.value is not None
        value = outcome.verdict.value
        current = by_id[meter_id].current
        confirmed_partial = assessment.only_some and assessment.partial_confirmed
        codes = [*outcome.given, *([PARTIAL] if confirmed_partial else [])]
        unchanged = (
            current is not None
            and current.source == "customer"
            and current.status != "rejected"
            and current.value == value
        )
        if not unchanged:
            result.append(NewReading(meter_id, value, tuple(codes)))
    return result


async def submit_readings(
    session: AsyncSession,
    *,
    tenant_id: int,
    customer_id: int,
    period: date,
    taken_on: date,
    readings: list[NewReading],
    submitted_at: datetime | None = None,
) -> None:
    """Record a customer's readings of `period`, all in one transaction, and commit.

    Give it a fresh session: on SQLite a transaction that starts with this write waits
    its turn, where one that read first could be refused the upgrade to a writer.
    """
    # Always the same order, so two concurrent submissions never wait on each other in a circle.
    for reading in sorted(readings, key=lambda r: r.meter_id):
        await upsert_reading(
            session,
            tenant_id=tenant_id,
            meter_id=reading.meter_id,
            period=period,
            value=reading.value,
            taken_on=taken_on,
            source="customer",
            status="processing",
            confirmations=",".join(reading.confirmations),
            customer_id=customer_id,
            submitted_at=submitted_at,
            unless_accepted_from=AUTHORITATIVE_SOURCES,
        )
    await session.commit()


def _insert_for(session: AsyncSession) -> Any:
    bind = session.bind
    name = bind.dialect.name if bind is not None else "sqlite"
    if name == "postgresql":
        return postgresql.insert
    if name == "sqlite":
        return sqlite.insert
    raise ValueError(f"unsupported database: {name}")


async def upsert_reading(
    session: AsyncSession,
    *,
    tenant_id: int,
    meter_id: int,
    period: date,
    value: Decimal,
    taken_on: date,
    source: str,
    status: str,
    confirmations: str = "",
    customer_id: int | None = None,
    submitted_at: datetime | None = None,
    unless_accepted_from: Collection[str] = (),
) -> None:
    """Record the meter's reading of `period`, replacing the one already there; no commit.

    With `unless_accepted_from`, an accepted reading of one of those sources is left as it is.
    """
    insert = _insert_for(session)
    values = {
        "tenant_id": tenant_id,
        "meter_id": meter_id,
        "period": period,
        "value": value,
        "taken_on": taken_on,
        "source": source,
        "status": status,
        "rejection_reason": None,
        "confirmations": confirmations[:120],
        "customer_id": customer_id,
        "submitted_at": submitted_at or datetime.now(UTC),
    }
    statement = insert(Reading).values(**values)
    changed = {key: statement.excluded[key] for key in values if key not in ("meter_id", "period")}
    guard = None
    if unless_accepted_from:
        guard = not_(
            and_(
                col(Reading.source).in_(list(unless_accepted_from)),
                col(Reading.status) == "accepted",
            )
        )
    await session.exec(
        statement.on_conflict_do_update(
            index_elements=["meter_id", "period"], set_=changed, where=guard
        )
    )
