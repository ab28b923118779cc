"""The reading rules on their own: window, meter state, value parsing, confirmations."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.readings import (
    MeterFacts,
    average_consumption,
    check_value,
    is_partial,
    parse_value,
    period_of,
    window,
)
from tenants.schema import ReadingsPolicy

ANY_DAY = ReadingsPolicy()
FIRST_FIVE = ReadingsPolicy(window_days=[1, 2, 3, 4, 5])
TODAY = date(2026, 11, 21)


def meter(**changes: object) -> MeterFacts:
    facts = {
        "factory_number": "12345678",
        "state": "installed",
        "verification_due": date(2028, 1, 1),
        "decimals": 3,
        "previous_value": Decimal("100.000"),
        "average_consumption": Decimal("10"),
    }
    facts.update(changes)
    return MeterFacts(**facts)  # type: ignore[arg-type]


def test_any_day_policy_is_always_open() -> None:
    assert window(ANY_DAY, TODAY).open


@pytest.mark.parametrize(
    ("today", "is_open", "next_opens", "last_day"),
    [
        (date(2026, 11, 1), True, None, date(2026, 11, 5)),
        (date(2026, 11, 5), True, None, date(2026, 11, 5)),
        (date(2026, 11, 6), False, date(2026, 12, 1), None),
        (date(2026, 12, 31), False, date(2027, 1, 1), None),
        (date(2028, 2, 29), False, date(2028, 3, 1), None),
    ],
)
def test_window_days_one_to_five(
    today: date, is_open: bool, next_opens: date | None, last_day: date | None
) -> None:
    result = window(FIRST_FIVE, today)
    assert (result.open, result.next_opens, result.last_day) == (is_open, next_opens, last_day)


def test_a_window_on_the_31st_skips_short_months() -> None:
    assert window(ReadingsPolicy(window_days=[31]), date(2027, 2, 10)).next_opens == date(
        2027, 3, 31
    )


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("123", "123"),
        ("123,5", "123.5"),
        (" 1 234.125 ", "1234.125"),
        ("0007.100", "7.100"),
        # Grouped as a locale writes it: no-break space, narrow no-break space.
        ("1\u00a0234,5", "1234.5"),
        ("1\u202f234,5", "1234.5"),
    ],
)
def test_values_people_type(raw: str, value: str) -> None:
    assert parse_value(raw, 3) == Decimal(value)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("abc", "not_a_number"),
        ("", "not_a_number"),
        ("1e5", "not_a_number"),
        ("NaN", "not_a_number"),
        ("-5", "negative"),
        ("1.2345", "too_many_decimals"),
        ("123456789", "too_large"),
        ("1.2.3", "not_a_number"),
        # Digits of other scripts: Python's \d and Decimal would take them as 123.
        ("\u0661\u0662\u0663", "not_a_number"),
        ("\uff11\uff12\uff13", "not_a_number"),
        ("   ", "not_a_number"),
    ],
)
def test_values_refused(raw: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_value(raw, 3)


def test_outside_the_window_nothing_is_accepted() -> None:
    assert check_value(FIRST_FIVE, meter(), "110", date(2026, 11, 6)).refusal == "window_closed"
    assert check_value(FIRST_FIVE, meter(), "110", date(2026, 11, 3)).accepted


def test_a_meter_without_factory_number_or_removed_is_refused() -> None:
    assert (
        check_value(ANY_DAY, meter(factory_number=None), "110", TODAY).refusal
        == "no_factory_number"
    )
    assert (
        check_value(ANY_DAY, meter(factory_number="  "), "110", TODAY).refusal
        == "no_factory_number"
    )
    assert check_value(ANY_DAY, meter(state="removed"), "110", TODAY).refusal == "meter_removed"


def test_past_verification_refuses_or_warns_as_configured() -> None:
    overdue = meter(verification_due=date(2026, 1, 1))
    refuse = ReadingsPolicy(past_verification="refuse")
    assert check_value(refuse, overdue, "110", TODAY).refusal == "verification_overdue"
    warned = check_value(ReadingsPolicy(past_verification="warn"), overdue, "110", TODAY)
    assert warned.accepted and warned.warnings == ["verification_overdue"]
    assert (
        check_value(ReadingsPolicy(past_verification="allow"), overdue, "110", TODAY).warnings == []
    )


def test_lower_than_previous_needs_a_confirmed_replacement_or_is_refused() -> None:
    asked = check_value(ANY_DAY, meter(), "5", TODAY)
    assert not asked.accepted and asked.needs == ["replacement_or_rollover"]
    assert check_value(
        ANY_DAY, meter(), "5", TODAY, frozenset({"replacement_or_rollover"})
    ).accepted
    strict = ReadingsPolicy(lower_than_previous="refuse")
    assert check_value(strict, meter(), "5", TODAY).refusal == "lower_than_previous"


def test_far_outside_the_history_asks_for_confirmation() -> None:
    # Average 10 per month, factor 3: a rise of 31 asks, 30 does not.
    assert check_value(ANY_DAY, meter(), "130", TODAY).accepted
    asked = check_value(ANY_DAY, meter(), "131", TODAY)
    assert asked.needs == ["unusual_consumption"]
    assert check_value(ANY_DAY, meter(), "131", TODAY, frozenset({"unusual_consumption"})).accepted


def test_decimals_per_meter() -> None:
    assert check_value(ANY_DAY, meter(decimals=0), "110.5", TODAY).refusal == "too_many_decimals"
    assert check_value(ANY_DAY, meter(decimals=0), "110", TODAY).accepted


def test_partial_submission() -> None:
    assert is_partial({1}, {1, 2})
    assert not is_partial({1, 2}, {1, 2})
    assert not is_partial(set(), {1, 2})


def test_average_consumption_ignores_resets() -> None:
    assert average_consumption([Decimal(1), Decimal(11), Decimal(2), Decimal(12)]) == Decimal(10)
    assert average_consumption([Decimal(5)]) is None


def test_period_is_the_first_of_the_month() -> None:
    assert period_of(date(2026, 2, 28)) == date(2026, 2, 1)


@given(st.decimals(min_value=0, max_value=Decimal("99999999.999"), places=3))
def test_parse_round_trips_every_value_a_meter_can_show(value: Decimal) -> None:
    assert parse_value(f"{value:f}", 3) == value
    assert parse_value(f"{value:f}".replace(".", ","), 3) == value
