"""Broadband rules (seed 002): billing periods and effective dates around month ends, year ends
and leap years; the period a session is billed in; usage totals; a line's status and its
reason from the service row and the ledger; bills; which requests a line may take."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.broadband import (
    REQUEST_KINDS,
    SUSPENSION_GROUP,
    ChargeEntry,
    Ledger,
    LineFacts,
    LineStatus,
    RequestPreview,
    RequestProblem,
    Session,
    amount_to_resume,
    bills_of,
    closure_date,
    confirm_preview,
    effective_date,
    line_status,
    monthly_fee,
    next_period_start,
    offered_requests,
    period_bounds,
    period_end,
    period_usage,
    preview_request,
    session_period,
)
from tenants.loader import load_presets
from tenants.schema import Broadband

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _settings() -> Broadband:
    settings = next(c for c in load_presets() if c.slug == "beijing-unicom").broadband
    assert settings is not None
    return settings


SETTINGS = _settings()
dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2199, 12, 31))


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)  # type: ignore[arg-type,misc]


# --- periods and effective dates --------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "next_start", "last_day"),
    [
        (date(2026, 1, 31), date(2026, 2, 1), date(2026, 1, 31)),
        (date(2026, 12, 31), date(2027, 1, 1), date(2026, 12, 31)),
        (date(2026, 12, 1), date(2027, 1, 1), date(2026, 12, 31)),
        (date(2028, 2, 28), date(2028, 3, 1), date(2028, 2, 29)),  # leap year
        (date(2028, 2, 29), date(2028, 3, 1), date(2028, 2, 29)),
        (date(2100, 2, 28), date(2100, 3, 1), date(2100, 2, 28)),  # 2100 is not a leap year
        (date(2000, 2, 1), date(2000, 3, 1), date(2000, 2, 29)),  # 2000 is
        (date(2027, 2, 28), date(2027, 3, 1), date(2027, 2, 28)),
    ],
)
def test_next_period_and_closure_dates(day: date, next_start: date, last_day: date) -> None:
    assert next_period_start(day) == next_start
    assert closure_date(day) == period_end(day) == last_day
    assert effective_date("plan_change", day) == next_start
    assert effective_date("suspend", day) == next_start
    assert effective_date("resume", day) == day
    assert effective_date("close", day) == last_day


@given(dates)
def test_next_period_starts_on_the_first_of_the_following_month(day: date) -> None:
    start = next_period_start(day)
    assert start.day == 1 and start > day
    # The day before it is the last day of `day`'s month: nothing in between is skipped.
    assert start - timedelta(days=1) == closure_date(day)
    assert (start.year * 12 + start.month) - (day.year * 12 + day.month) == 1


@given(dates)
def test_closure_is_the_last_day_of_the_month_of_the_request(day: date) -> None:
    last = closure_date(day)
    assert (last.year, last.month) == (day.year, day.month) and last >= day
    assert (last + timedelta(days=1)).day == 1
    assert last.day == (29 if day.month == 2 and _leap(day.year) else last.day)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


@given(dates)
def test_effective_dates_never_precede_the_request(day: date) -> None:
    for kind in REQUEST_KINDS:
        assert effective_date(kind, day) >= day


# --- the period a session is billed in --------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "period"),
    [
        # The seed's own example: 2005.9.30 23:10:10 → 2005.10.1 00:15:20 counts in October.
        (local(2005, 9, 30, 23, 10, 10), local(2005, 10, 1, 0, 15, 20), date(2005, 10, 1)),
        (local(2026, 12, 31, 23, 50), local(2027, 1, 1, 0, 40), date(2027, 1, 1)),
        (local(2028, 2, 28, 23, 30), local(2028, 2, 29, 0, 10), date(2028, 2, 1)),
        (local(2028, 2, 29, 23, 30), local(2028, 3, 1, 0, 10), date(2028, 3, 1)),
        (local(2100, 2, 28, 23, 30), local(2100, 3, 1, 0, 10), date(2100, 3, 1)),
        (local(2026, 10, 31, 22, 0), local(2026, 10, 31, 23, 59, 59), date(2026, 10, 1)),
    ],
)
def test_a_session_is_billed_where_it_ends(start: datetime, end: datetime, period: date) -> None:
    assert session_period(end, "Asia/Shanghai") == period
    usage = period_usage(period, [Session(start, end, Decimal("1.5"))], "Asia/Shanghai")
    assert len(usage.sessions) == 1 and usage.duration == end - start
    earlier = (
        date(period.year - 1, 12, 1)
        if period.month == 1
        else period.replace(month=period.month - 1)
    )
    assert period_usage(earlier, [Session(start, end, Decimal(1))], "Asia/Shanghai").sessions == ()


def test_periods_follow_the_tenants_time_zone() -> None:
    # 16:30 UTC on 31 October is half past midnight on 1 November in Beijing.
    ended = datetime(2026, 10, 31, 16, 30, tzinfo=UTC)
    assert session_period(ended, "Asia/Shanghai") == date(2026, 11, 1)
    assert session_period(ended, "UTC") == date(2026, 10, 1)
    # A naive stored time is UTC.
    assert session_period(ended.replace(tzinfo=None), "Asia/Shanghai") == date(2026, 11, 1)


@given(
    st.datetimes(
        min_value=datetime(1950, 1, 1), max_value=datetime(2150, 12, 31), timezones=st.just(UTC)
    ),
    st.integers(min_value=0, max_value=3 * 24 * 3600),
)
def test_every_session_falls_in_exactly_its_ending_period(ended: datetime, length: int) -> None:
    period = session_period(ended, "Asia/Shanghai")
    start, end = period_bounds(period, "Asia/Shanghai")
    assert start <= ended < end
    assert period.day == 1
    session = Session(ended - timedelta(seconds=length), ended, Decimal("0.001"))
    assert period_usage(period, [session], "Asia/Shanghai").sessions == (session,)


def test_usage_totals_and_the_excess_of_a_time_limited_plan() -> None:
    sessions = [
        Session(local(2026, 9, 30, 23, 10, 10), local(2026, 10, 1, 0, 15, 20), Decimal("100.5")),
        Session(local(2026, 10, 5, 8, 0), local(2026, 10, 7, 8, 0), Decimal("2000")),  # 48 h
        Session(local(2026, 10, 20, 19, 0), local(2026, 10, 20, 21, 30), Decimal("300.25")),
        Session(local(2026, 10, 31, 23, 0), local(2026, 11, 1, 1, 0), Decimal("50")),  # November
    ]
    usage = period_usage(date(2026, 10, 1), sessions, "Asia/Shanghai", included_hours=50)
    assert usage.duration == timedelta(hours=51, minutes=35, seconds=10)
    assert usage.megabytes == Decimal("2400.75")
    assert usage.included == timedelta(hours=50)
    assert usage.excess == timedelta(hours=1, minutes=35, seconds=10)
    assert usage.started_before(usage.sessions[0], "Asia/Shanghai")
    assert not usage.started_before(usage.sessions[1], "Asia/Shanghai")
    unlimited = period_usage(date(2026, 10, 1), sessions, "Asia/Shanghai")
    assert unlimited.included is None and unlimited.excess is None
    under = period_usage(date(2026, 11, 1), sessions, "Asia/Shanghai", included_hours=60)
    assert under.excess == timedelta(0)


# --- status, bills ------------------------------------------------------------------------

FEE = Decimal("120.00")


def status_of(
    facts: LineFacts, ledger: Ledger, today: date, fee: Decimal = FEE, close_after: int = 2
) -> LineStatus:
    return line_status(
        facts, ledger, today, fee=fee, suspension_fee=Decimal("10.00"), close_after=close_after
    )


def monthly(*periods: tuple[int, int], amount: str = "120.00") -> tuple[ChargeEntry, ...]:
    return tuple(
        ChargeEntry(date(y, m, 1), Decimal(amount), "unlimited_monthly") for y, m in periods
    )


ACTIVE_CASH = LineFacts("active", None, None, "prepaid_cash")
ACTIVE_BANK = LineFacts("active", None, None, "postpaid_bank")


def test_prepaid_line_suspended_when_the_first_of_the_month_balance_is_short() -> None:
    ledger = Ledger(
        monthly((2026, 9), (2026, 10)),
        (
            (date(2026, 8, 25), Decimal("120")),
            (date(2026, 9, 25), Decimal("120")),
            (date(2026, 10, 26), Decimal("40")),
        ),
    )
    status = status_of(ACTIVE_CASH, ledger, date(2026, 11, 21))
    assert status == LineStatus("suspended", "balance_short", date(2026, 11, 1))
    assert offered_requests(status) == ("resume", "close")
    assert amount_to_resume(ledger, date(2026, 11, 21), "prepaid_cash", FEE) == Decimal("80.00")
    # Paid on the 28th: resumed that day (and the month is then charged in full).
    paid = Ledger(ledger.charges, (*ledger.payments, (date(2026, 11, 28), Decimal("80"))))
    assert status_of(ACTIVE_CASH, paid, date(2026, 11, 30)) == LineStatus(
        "active", None, date(2026, 11, 28)
    )
    # Not topped up two months on: closed on the 1st.
    assert status_of(ACTIVE_CASH, ledger, date(2027, 1, 1)) == LineStatus(
        "closed", "unpaid", date(2027, 1, 1)
    )
    assert offered_requests(status_of(ACTIVE_CASH, ledger, date(2027, 1, 1))) == ()


def test_the_rule_also_holds_on_the_first_of_january() -> None:
    ledger = Ledger(monthly((2026, 12)), ((date(2026, 11, 20), Decimal("120")),))
    assert status_of(ACTIVE_CASH, ledger, date(2026, 12, 31)).state == "active"
    assert status_of(ACTIVE_CASH, ledger, date(2027, 1, 1)) == LineStatus(
        "suspended", "balance_short", date(2027, 1, 1)
    )


def test_postpaid_line_may_owe_the_last_bill_but_no_earlier_one() -> None:
    charges = monthly((2026, 5), (2026, 6), (2026, 7))
    paid_may = ((date(2026, 6, 10), Decimal("120")),)
    ledger = Ledger(charges, paid_may)
    assert status_of(ACTIVE_BANK, ledger, date(2026, 7, 31)).state == "active"
    assert status_of(ACTIVE_BANK, ledger, date(2026, 8, 1)) == LineStatus(
        "suspended", "balance_short", date(2026, 8, 1)
    )
    assert amount_to_resume(ledger, date(2026, 8, 5), "postpaid_bank", FEE) == Decimal("120.00")
    assert status_of(ACTIVE_BANK, ledger, date(2026, 10, 1)) == LineStatus(
        "closed", "unpaid", date(2026, 10, 1)
    )


def test_the_row_decides_voluntary_suspension_and_closure() -> None:
    voluntary = LineFacts("suspended", "voluntary", date(2026, 10, 1), "prepaid_cash")
    fees = (
        ChargeEntry(date(2026, 10, 1), Decimal("10.00"), SUSPENSION_GROUP),
        ChargeEntry(date(2026, 11, 1), Decimal("10.00"), SUSPENSION_GROUP),
    )
    paid = Ledger(fees, ((date(2026, 9, 20), Decimal("20")),))
    assert status_of(voluntary, paid, date(2026, 12, 5)) == LineStatus(
        "suspended", "voluntary", date(2026, 10, 1)
    )
    # Two suspension fees unpaid: closed (seed 5).
    unpaid = Ledger(fees, ())
    assert status_of(voluntary, unpaid, date(2026, 11, 30)).state == "suspended"
    assert status_of(voluntary, unpaid, date(2026, 12, 1)) == LineStatus(
        "closed", "unpaid", date(2026, 12, 1)
    )
    closed = LineFacts("closed", "requested", date(2026, 9, 30), "prepaid_cash")
    assert status_of(closed, paid, date(2026, 12, 5)) == LineStatus(
        "closed", "requested", date(2026, 9, 30)
    )
    # Without a ledger the row's word stands.
    short = LineFacts("suspended", "balance_short", date(2026, 11, 1), "prepaid_cash")
    assert status_of(short, Ledger(), date(2026, 11, 5)) == LineStatus(
        "suspended", "balance_short", date(2026, 11, 1)
    )
    assert status_of(ACTIVE_CASH, Ledger(), date(2026, 11, 5)).state == "active"


def test_term_plans_have_a_monthly_share() -> None:
    plans = {p.kind: p for p in SETTINGS.plans}
    assert monthly_fee(plans["half_year"]) == Decimal("100.00")
    assert monthly_fee(plans["year"]) == Decimal("90.00")
    assert monthly_fee(plans["unlimited_monthly"]) == Decimal("120.00")


def test_bills_are_settled_oldest_first() -> None:
    ledger = Ledger(
        monthly((2026, 8), (2026, 9), (2026, 10)),
        ((date(2026, 9, 1), Decimal("150")), (date(2026, 10, 1), Decimal("50"))),
    )
    bills = bills_of(ledger)
    assert [(b.period.month, b.state, b.outstanding) for b in bills] == [
        (10, "unpaid", Decimal("120.00")),
        (9, "partly_paid", Decimal("40.00")),
        (8, "paid", Decimal("0.00")),
    ]
    assert ledger.balance == Decimal("160.00")


# --- requests ---------------------------------------------------------------------------

ACTIVE = LineStatus("active")


def preview(
    kind: str,
    plan: str = "",
    status: LineStatus = ACTIVE,
    pending: tuple[str, ...] = (),
    today: date = date(2026, 12, 31),
) -> RequestPreview:
    return preview_request(
        kind,
        plan,
        settings=SETTINGS,
        current_plan="unlimited_monthly",
        status=status,
        pending=pending,
        today=today,
    )


def test_request_previews_carry_their_effective_dates() -> None:
    change = preview("plan_change", "year")
    assert change.effective_on == date(2027, 1, 1) and change.new_plan is not None
    assert change.new_plan.key == "year"
    assert preview("suspend", today=date(2028, 2, 28)).effective_on == date(2028, 3, 1)
    assert preview("close", today=date(2028, 2, 1)).effective_on == date(2028, 2, 29)
    suspended = LineStatus("suspended", "voluntary", date(2026, 10, 1))
    assert preview("resume", status=suspended, today=date(2026, 11, 30)).effective_on == date(
        2026, 11, 30
    )
    confirm_preview(change, "2027-01-01")
    with pytest.raises(RequestProblem) as moved:
        confirm_preview(change, "2026-12-01")
    assert moved.value.reason == "moved" and moved.value.preview == change


@pytest.mark.parametrize(
    ("kind", "plan", "status", "pending", "reason"),
    [
        ("explode", "", ACTIVE, (), "unknown_kind"),
        ("", "", ACTIVE, (), "unknown_kind"),
        ("resume", "", ACTIVE, (), "not_offered"),
        ("suspend", "", LineStatus("suspended", "balance_short"), (), "not_offered"),
        ("plan_change", "year", LineStatus("suspended", "voluntary"), (), "not_offered"),
        ("close", "", LineStatus("closed", "unpaid"), (), "not_offered"),
        ("suspend", "", ACTIVE, ("suspend",), "pending"),
        ("plan_change", "", ACTIVE, (), "no_plan"),
        ("plan_change", "gold", ACTIVE, (), "unknown_plan"),
        ("plan_change", "unlimited_monthly", ACTIVE, (), "same_plan"),
    ],
)
def test_requests_refused(
    kind: str, plan: str, status: LineStatus, pending: tuple[str, ...], reason: str
) -> None:
    with pytest.raises(RequestProblem) as problem:
        preview(kind, plan, status, pending)
    assert problem.value.reason == reason
