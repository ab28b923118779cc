"""Broadband self-service (seed 002): billing periods, a line's status and why, usage, bills,
and the customer's requests with the dates they take effect.

A billing period is a calendar month, the 1st to the month's end, in the tenant's time
zone. A session is billed in the period in which it ends (seed: 2005.9.30 23:10:10 →
2005.10.1 00:15:20 counts in October). Everything here is pure; the database side is in
`domain.broadband_store`.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from tenants.schema import Broadband, BroadbandPlan

RequestKind = Literal["plan_change", "suspend", "resume", "close"]
REQUEST_KINDS: tuple[RequestKind, ...] = ("plan_change", "suspend", "resume", "close")
LineState = Literal["active", "suspended", "closed"]
# balance_short: the 1st's balance did not cover the fee; voluntary: the customer asked;
# unpaid: closed after months unpaid; requested: closed at the customer's request.
StatusReason = Literal["balance_short", "voluntary", "unpaid", "requested"]
PaymentMode = Literal["prepaid_cash", "postpaid_bank"]
SUBMITTED = "submitted"
# The tariff group of a month charged at the suspension fee (the plan's key otherwise).
SUSPENSION_GROUP = "suspension"
TERM_MONTHS = {"half_year": 6, "year": 12}
CENT = Decimal("0.01")
ZERO = Decimal("0.00")


# --- billing periods ---------------------------------------------------------------------


def period_of(day: date) -> date:
    """The billing period a day falls in, named by its first day."""
    return day.replace(day=1)


def period_end(day: date) -> date:
    """The last day of the billing period (the calendar month) of `day`."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def add_periods(period: date, count: int) -> date:
    """The first day of the period `count` periods after (or before) `period`'s."""
    year, index = divmod(period.year * 12 + period.month - 1 + count, 12)
    return date(year, index + 1, 1)


def next_period_start(day: date) -> date:
    """The 1st of the month after `day`'s: 31 Dec 2026 → 1 Jan 2027."""
    return period_end(day) + timedelta(days=1)


def closure_date(day: date) -> date:
    """A line asked to be closed on `day` closes on the last day of that month (seed 7)."""
    return period_end(day)


def effective_date(kind: RequestKind, today: date) -> date:
    """When a request made today takes effect.

    A plan change and a voluntary suspension start with the next billing period (seed 6
    and 5); a resume works from the day it is asked for, and that month is charged in
    full; a closure takes effect at the end of the month it is asked in.
    """
    if kind in ("plan_change", "suspend"):
        return next_period_start(today)
    if kind == "resume":
        return today
    return closure_date(today)


def as_utc(moment: datetime) -> datetime:
    """A stored moment as an aware UTC time (a naive one is taken to be UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def session_period(ended_at: datetime, timezone: str) -> date:
    """The billing period a session is billed in: the month (tenant time) in which it ended."""
    return period_of(as_utc(ended_at).astimezone(ZoneInfo(timezone)).date())


def period_bounds(period: date, timezone: str) -> tuple[datetime, datetime]:
    """A billing period as UTC moments [start, end): local midnight of its 1st to the next 1st."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(period_of(period), time(), tzinfo=zone)
    end = datetime.combine(add_periods(period, 1), time(), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


# --- plans ---------------------------------------------------------------------------------


def plan_named(settings: Broadband, key: str) -> BroadbandPlan | None:
    return next((plan for plan in settings.plans if plan.key == key), None)


def monthly_fee(plan: BroadbandPlan) -> Decimal:
    """The basic monthly fee: a half-year or year plan's fee spread over its months."""
    months = TERM_MONTHS.get(plan.kind, 1)
    return (plan.fee / months).quantize(CENT, ROUND_HALF_UP)


# --- usage ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    started_at: datetime
    ended_at: datetime
    megabytes: Decimal

    @property
    def duration(self) -> timedelta:
        return max(self.ended_at - self.started_at, timedelta(0))


@dataclass(frozen=True)
class PeriodUsage:
    """One billing period's sessions and what they add up to."""

    period: date
    sessions: tuple[Session, ...]
    duration: timedelta
    megabytes: Decimal
    # Only for a time-limited plan: the hours it includes, and the time used beyond them.
    included: timedelta | None = None
    excess: timedelta | None = None

    def started_before(self, session: Session, timezone: str) -> bool:
        """Whether a session began in an earlier period (and is billed here, where it ended)."""
        started = as_utc(session.started_at).astimezone(ZoneInfo(timezone)).date()
        return started < self.period


def group_by_period(sessions: Iterable[Session], timezone: str) -> dict[date, list[Session]]:
    """Sessions by the billing period in which each ended, each list in start order."""
    groups: dict[date, list[Session]] = {}
    for session in sorted(sessions, key=lambda s: as_utc(s.started_at)):
        groups.setdefault(session_period(session.ended_at, timezone), []).append(session)
    return groups


def period_usage(
    period: date, sessions: Iterable[Session], timezone: str, included_hours: int | None = None
) -> PeriodUsage:
    """The usage billed in `period`: only the sessions that ended in it count."""
    mine = group_by_period(sessions, timezone).get(period_of(period), [])
    duration = sum((s.duration for s in mine), timedelta(0))
    included = timedelta(hours=included_hours) if included_hours is not None else None
    return PeriodUsage(
        period=period_of(period),
        sessions=tuple(mine),
        duration=duration,
        megabytes=sum((s.megabytes for s in mine), Decimal(0)),
        included=included,
        excess=max(duration - included, timedelta(0)) if included is not None else None,
    )


# --- the ledger, bills and status ---------------------------------------------------------


@dataclass(frozen=True)
class ChargeEntry:
    period: date
    amount: Decimal
    group: str = ""  # the plan's key, or SUSPENSION_GROUP


@dataclass(frozen=True)
class Ledger:
    """An account's charges by billing period and payments by the day (tenant time) received."""

    charges: tuple[ChargeEntry, ...] = ()
    payments: tuple[tuple[date, Decimal], ...] = ()

    def charged_before(self, period: date) -> Decimal:
        return sum((c.amount for c in self.charges if c.period < period), ZERO)

    def paid_through(self, day: date) -> Decimal:
        return sum((amount for paid_on, amount in self.payments if paid_on <= day), ZERO)

    @property
    def balance(self) -> Decimal:
        """Charged minus paid: above zero the customer owes, below zero they paid ahead."""
        charged = sum((c.amount for c in self.charges), ZERO)
        return charged - sum((amount for _, amount in self.payments), ZERO)


@dataclass(frozen=True)
class Bill:
    """A billing period's charges, and how much of them payments have not covered yet."""

    period: date
    amount: Decimal
    group: str
    outstanding: Decimal

    @property
    def state(self) -> Literal["paid", "partly_paid", "unpaid"]:
        if self.outstanding <= 0:
            return "paid"
        return "unpaid" if self.outstanding >= self.amount else "partly_paid"


def bills_of(ledger: Ledger) -> list[Bill]:
    """The bills, newest first; payments settle the oldest bills first."""
    by_period: dict[date, list[ChargeEntry]] = {}
    for charge in ledger.charges:
        by_period.setdefault(charge.period, []).append(charge)
    available = sum((amount for _, amount in ledger.payments), ZERO)
    bills = []
    for period in sorted(by_period):
        entries = by_period[period]
        amount = sum((c.amount for c in entries), ZERO)
        covered = min(max(available, ZERO), max(amount, ZERO))
        available -= covered
        group = next((c.group for c in entries if c.group), "")
        bills.append(Bill(period, amount, group, amount - covered))
    return bills[::-1]


@dataclass(frozen=True)
class LineFacts:
    """What the service row says: the state the utility recorded, why, since when."""

    status: str
    status_reason: str | None
    status_since: date | None
    payment_mode: str


@dataclass(frozen=True)
class LineStatus:
    state: LineState
    reason: StatusReason | None = None
    # Since when: a suspension or closure date, or the day an active line was resumed.
    since: date | None = None


def balance_covers(ledger: Ledger, period: date, through: date, mode: str, fee: Decimal) -> bool:
    """Whether the account's balance covers `period` with the payments received by `through`.

    Paid in advance (cash), the balance must hold the monthly fee on top of every earlier
    bill. Paid afterwards (bank transfer), the last bill is being collected, but every bill
    before it must be paid.
    """
    if mode == "postpaid_bank":
        return ledger.paid_through(through) - ledger.charged_before(add_periods(period, -1)) >= 0
    return ledger.paid_through(through) - ledger.charged_before(period) >= fee


def _balance_status(
    ledger: Ledger, today: date, *, mode: str, fee: Decimal, close_after: int
) -> LineStatus:
    """Month by month from the first bill: suspended on a 1st the balance does not cover,
    resumed the day a payment covers it, closed when it is still short `close_after` months on."""
    period = min(c.period for c in ledger.charges)
    current = period_of(today)
    suspended: date | None = None
    resumed: date | None = None
    while period <= current:
        first_checked = period - timedelta(days=1)  # what was paid before the 1st
        covered = balance_covers(ledger, period, first_checked, mode, fee)
        if suspended is None and not covered:
            suspended = period
        elif (
            suspended is not None and not covered and period >= add_periods(suspended, close_after)
        ):
            return LineStatus("closed", "unpaid", period)
        if suspended is not None:
            days = sorted(
                {d for d, _ in ledger.payments if period <= d <= min(today, period_end(period))}
            )
            for day in days:
                if balance_covers(ledger, period, day, mode, fee):
                    suspended, resumed = None, day
                    break
        period = add_periods(period, 1)
    if suspended is not None:
        return LineStatus("suspended", "balance_short", suspended)
    return LineStatus("active", None, resumed)


def line_status(
    facts: LineFacts,
    ledger: Ledger,
    today: date,
    *,
    fee: Decimal,
    suspension_fee: Decimal,
    close_after: int,
) -> LineStatus:
    """The line's state and its reason, from the service row and, where it can, the ledger.

    A closure and a voluntary suspension are what the row records (the utility made
    them); a voluntarily suspended line whose suspension fee is `close_after` months
    unpaid is closed (seed 5). Whether the balance covered the fee is the ledger's to say
    whenever there is one; without a ledger the row's word stands.
    """
    if facts.status == "closed":
        reason: StatusReason = "unpaid" if facts.status_reason == "unpaid" else "requested"
        return LineStatus("closed", reason, facts.status_since)
    if facts.status == "suspended" and facts.status_reason == "voluntary":
        since = facts.status_since
        if since is not None and suspension_fee > 0:
            period = add_periods(period_of(since), 1)
            while period <= period_of(today):
                owed = ledger.charged_before(period) - ledger.paid_through(
                    period - timedelta(days=1)
                )
                if owed >= suspension_fee * close_after:
                    return LineStatus("closed", "unpaid", period)
                period = add_periods(period, 1)
        return LineStatus("suspended", "voluntary", since)
    if ledger.charges:
        return _balance_status(
            ledger, today, mode=facts.payment_mode, fee=fee, close_after=close_after
        )
    if facts.status == "suspended":
        return LineStatus("suspended", "balance_short", facts.status_since)
    return LineStatus("active", None, facts.status_since)


def amount_to_resume(ledger: Ledger, today: date, mode: str, fee: Decimal) -> Decimal:
    """How much must still be paid today for the balance to cover this month again."""
    period = period_of(today)
    if mode == "postpaid_bank":
        short = ledger.charged_before(add_periods(period, -1)) - ledger.paid_through(today)
    else:
        short = ledger.charged_before(period) + fee - ledger.paid_through(today)
    return max(short, ZERO)


# --- requests -----------------------------------------------------------------------------

OFFERED: dict[LineState, tuple[RequestKind, ...]] = {
    "active": ("plan_change", "suspend", "close"),
    "suspended": ("resume", "close"),
    "closed": (),
}

RequestReason = Literal[
    "unknown_kind", "not_offered", "pending", "no_plan", "unknown_plan", "same_plan", "moved"
]


class RequestProblem(ValueError):
    """Why a request cannot be made (or confirmed) as asked; nothing is recorded."""

    def __init__(self, reason: RequestReason, preview: RequestPreview | None = None) -> None:
        super().__init__(reason)
        self.reason: RequestReason = reason
        self.preview = preview


@dataclass(frozen=True)
class RequestPreview:
    """What a request would do, shown to the customer before they confirm it."""

    kind: RequestKind
    effective_on: date
    new_plan: BroadbandPlan | None = None


def offered_requests(status: LineStatus) -> tuple[RequestKind, ...]:
    """Which requests a line in this state may take: nothing once it is closed."""
    return OFFERED[status.state]


def preview_request(
    raw_kind: str,
    raw_plan: str,
    *,
    settings: Broadband,
    current_plan: str,
    status: LineStatus,
    pending: Iterable[str],
    today: date,
) -> RequestPreview:
    """Check a request and compute when it takes effect. Raises RequestProblem."""
    kind = next((k for k in REQUEST_KINDS if k == raw_kind.strip()), None)
    if kind is None:
        raise RequestProblem("unknown_kind")
    if kind not in offered_requests(status):
        raise RequestProblem("not_offered")
    if kind in set(pending):
        raise RequestProblem("pending")
    plan = None
    if kind == "plan_change":
        key = raw_plan.strip()
        if not key:
            raise RequestProblem("no_plan")
        plan = plan_named(settings, key)
        if plan is None:
            raise RequestProblem("unknown_plan")
        if plan.key == current_plan:
            raise RequestProblem("same_plan")
    return RequestPreview(kind, effective_date(kind, today), plan)


def confirm_preview(preview: RequestPreview, raw_effective: str) -> None:
    """The date the customer saw must still be the date: a month may turn in between."""
    if raw_effective.strip() != preview.effective_on.isoformat():
        raise RequestProblem("moved", preview)


def pending_kinds(requests: Sequence[tuple[str, str]]) -> set[str]:
    """The kinds among (kind, status) pairs that still wait to be handled."""
    return {kind for kind, status in requests if status == SUBMITTED}
