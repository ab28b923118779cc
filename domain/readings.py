"""Meter readings under each utility's rules: the window, the meter's state, the value itself.

`check_value` decides about one typed value for one meter: accepted, refused with a
reason, or accepted only once the customer confirms something (a replaced meter, an
unusual consumption). `window` says whether readings are taken today and, if not,
when the next window opens. Reasons are codes; the web layer words them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from typing import Literal

from tenants.schema import ReadingsPolicy

# A meter's register rarely has more than eight integer digits (99,999,999 m³ or kWh).
MAX_INTEGER_DIGITS = 8

Refusal = Literal[
    "not_a_number",
    "negative",
    "too_many_decimals",
    "too_large",
    "window_closed",
    "no_factory_number",
    "meter_removed",
    "verification_overdue",
    "lower_than_previous",
]
Confirmation = Literal["replacement_or_rollover", "unusual_consumption"]
Warning_ = Literal["verification_overdue"]

# ASCII digits only: Python's \d (and Decimal) would also take "١٢٣" or "１２３".
_NUMBER = re.compile(r"^[0-9]+(?:[.,][0-9]+)?$")


@dataclass(frozen=True)
class Window:
    open: bool
    # The first day of the next window when closed today; None when readings are taken every day.
    next_opens: date | None = None
    last_day: date | None = None


def period_of(day: date) -> date:
    """The billing period a reading taken on `day` belongs to: the first of its month."""
    return day.replace(day=1)


def window(policy: ReadingsPolicy, today: date) -> Window:
    """Whether readings are accepted on `today` (in the tenant's time zone)."""
    if not policy.window_days:
        return Window(open=True)
    days = sorted(set(policy.window_days))
    if today.day in days:
        last = today
        while (last + timedelta(days=1)).day in days and (
            last + timedelta(days=1)
        ).month == today.month:
            last += timedelta(days=1)
        return Window(open=True, last_day=last)
    return Window(open=False, next_opens=_next_window_day(days, today))


def _next_window_day(days: list[int], today: date) -> date:
    probe = today + timedelta(days=1)
    # A window day such as the 31st does not exist in every month; two months always find one.
    for _ in range(62):
        if probe.day in days:
            return probe
        probe += timedelta(days=1)
    raise ValueError(f"no window day in {days}")


def parse_value(raw: str, decimals: int) -> Decimal:
    """A typed reading as a Decimal, or ValueError whose message is a Refusal code."""
    # Spaces a locale may group digits with: space, no-break space, narrow no-break space.
    text = raw.strip().replace(" ", "").replace("\u00a0", "").replace("\u202f", "")
    if not _NUMBER.match(text):
        raise ValueError(
            "negative" if text.startswith("-") and _NUMBER.match(text[1:]) else "not_a_number"
        )
    integer, _, fraction = text.replace(",", ".").partition(".")
    if len(fraction.rstrip("0")) > decimals:
        raise ValueError("too_many_decimals")
    if len(integer.lstrip("0")) > MAX_INTEGER_DIGITS:
        raise ValueError("too_large")
    try:
        return Decimal(text.replace(",", "."))
    except InvalidOperation:
        raise ValueError("not_a_number") from None


@dataclass(frozen=True)
class MeterFacts:
    """What the rules need to know about one meter."""

    factory_number: str | None
    state: str
    verification_due: date | None
    decimals: int
    previous_value: Decimal | None
    # Average consumption per period over the meter's history, if there is any.
    average_consumption: Decimal | None


@dataclass
class Verdict:
    value: Decimal | None = None
    refusal: Refusal | None = None
    needs: list[Confirmation] = field(default_factory=list)
    warnings: list[Warning_] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return self.refusal is None and not self.needs


def meter_refusal(policy: ReadingsPolicy, meter: MeterFacts, today: date) -> Refusal | None:
    """Why this meter takes no reading at all, whatever the value."""
    if policy.refuse_removed and meter.state != "installed":
        return "meter_removed"
    if policy.refuse_without_factory_number and not (meter.factory_number or "").strip():
        return "no_factory_number"
    if (
        policy.past_verification == "refuse"
        and meter.verification_due is not None
        and meter.verification_due < today
    ):
        return "verification_overdue"
    return None


def check_value(
    policy: ReadingsPolicy,
    meter: MeterFacts,
    raw: str,
    today: date,
    confirmed: frozenset[Confirmation] = frozenset(),
) -> Verdict:
    """The verdict on one typed value; `confirmed` lists what the customer has confirmed."""
    if not window(policy, today).open:
        return Verdict(refusal="window_closed")
    refusal = meter_refusal(policy, meter, today)
    if refusal is not None:
        return Verdict(refusal=refusal)
    try:
        value = parse_value(raw, meter.decimals)
    except ValueError as problem:
        return Verdict(refusal=str(problem))  # type: ignore[arg-type]
    verdict = Verdict(value=value)
    if (
        policy.past_verification == "warn"
        and meter.verification_due is not None
        and meter.verification_due < today
    ):
        verdict.warnings.append("verification_overdue")
    previous = meter.previous_value
    if previous is not None and value < previous:
        if policy.lower_than_previous == "refuse":
            return Verdict(refusal="lower_than_previous")
        if "replacement_or_rollover" not in confirmed:
            verdict.needs.append("replacement_or_rollover")
        return verdict
    average = meter.average_consumption
    unusual = (
        previous is not None
        and average is not None
        and average > 0
        and value - previous > average * policy.outlier_factor
    )
    if unusual and "unusual_consumption" not in confirmed:
        verdict.needs.append("unusual_consumption")
    return verdict


def is_partial(filled: set[int], open_meters: set[int]) -> bool:
    """Some, but not all, of the account's meters that take readings were filled in."""
    return bool(filled) and bool(open_meters - filled)


def average_consumption(history: list[Decimal]) -> Decimal | None:
    """Mean rise between consecutive readings (oldest first); None with fewer than two."""
    rises = [later - earlier for earlier, later in pairwise(history) if later >= earlier]
    if not rises:
        return None
    return sum(rises, Decimal(0)) / len(rises)
