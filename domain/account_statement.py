"""The period statement of an account: opening + charges − payments = closing, per month.

Charges count in their billing period and payments in the month they were received
(in the tenant's time zone); benefits and subsidies are charges below zero.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.accounts import ALLOWANCE_SERVICES, ZERO
from domain.models import Charge, Payment

MAX_STATEMENT_MONTHS = 36
DEFAULT_STATEMENT_MONTHS = 6
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")

PeriodReason = Literal["bad_month", "reversed", "too_long", "future"]


class PeriodProblem(ValueError):
    """What is wrong with a requested statement period, by form field ("from", "to", "")."""

    def __init__(self, problems: Mapping[str, PeriodReason]) -> None:
        super().__init__(dict(problems))
        self.problems: dict[str, PeriodReason] = dict(problems)


def add_months(month: date, count: int) -> date:
    """The first day of the month `count` months after (or before) `month`'s."""
    year, index = divmod(month.year * 12 + month.month - 1 + count, 12)
    return date(year, index + 1, 1)


def months_between(first: date, last: date) -> int:
    """How many months a range covers, both ends included."""
    return (last.year - first.year) * 12 + last.month - first.month + 1


def parse_month(text: str) -> date | None:
    """The month a "YYYY-MM" text names ("2026-05" → 1 May 2026), or None for anything else."""
    found = _MONTH.match(text.strip())
    if not found:
        return None
    year, month = int(found.group(1)), int(found.group(2))
    if not (year >= 1900 and 1 <= month <= 12):
        return None
    return date(year, month, 1)


def default_statement_period(today: date) -> tuple[date, date]:
    """The last whole months, up to the previous one."""
    last = add_months(today.replace(day=1), -1)
    return add_months(last, 1 - DEFAULT_STATEMENT_MONTHS), last


def statement_period(raw_from: str, raw_to: str, today: date) -> tuple[date, date]:
    """The months asked for; an empty end takes its default. Raises PeriodProblem."""
    _, default_last = default_statement_period(today)
    problems: dict[str, PeriodReason] = {}
    first = parse_month(raw_from) if raw_from.strip() else None
    last = parse_month(raw_to) if raw_to.strip() else None
    if raw_from.strip() and first is None:
        problems["from"] = "bad_month"
    if raw_to.strip() and last is None:
        problems["to"] = "bad_month"
    if problems:
        raise PeriodProblem(problems)
    if last is None:
        last = max(default_last, first) if first else default_last
    if first is None:
        first = add_months(last, 1 - DEFAULT_STATEMENT_MONTHS)
    current = today.replace(day=1)
    if first > current:
        problems["from"] = "future"
    if last > current:
        problems["to"] = "future"
    if not problems and first > last:
        problems[""] = "reversed"
    if not problems and months_between(first, last) > MAX_STATEMENT_MONTHS:
        problems[""] = "too_long"
    if problems:
        raise PeriodProblem(problems)
    return first, last


@dataclass(frozen=True)
class ChargeLine:
    period: date
    service: str
    volume: Decimal
    tariff: Decimal
    amount: Decimal

    @property
    def is_allowance(self) -> bool:
        return self.service in ALLOWANCE_SERVICES


@dataclass(frozen=True)
class PaymentLine:
    paid_on: date  # in the tenant's time zone
    amount: Decimal
    purpose: str
    provider: str


@dataclass(frozen=True)
class MonthStatement:
    month: date
    opening: Decimal
    charged: Decimal
    paid: Decimal
    closing: Decimal
    charges: tuple[ChargeLine, ...]
    payments: tuple[PaymentLine, ...]


@dataclass(frozen=True)
class Statement:
    """Opening + charged − paid = closing, for the range and for each month in it."""

    first: date
    last: date
    opening: Decimal
    charged: Decimal
    paid: Decimal
    closing: Decimal
    months: tuple[MonthStatement, ...]


def build_statement(
    charges: Iterable[ChargeLine], payments: Iterable[PaymentLine], first: date, last: date
) -> Statement:
    """The statement of `first`..`last` (first days of months) from every line of an account.

    Charges count in their billing period, payments in the month they were received.
    """
    by_month_charges: dict[date, list[ChargeLine]] = {}
    by_month_payments: dict[date, list[PaymentLine]] = {}
    opening = ZERO
    for charge in charges:
        month = charge.period.replace(day=1)
        if month < first:
            opening += charge.amount
        elif month <= last:
            by_month_charges.setdefault(month, []).append(charge)
    for payment in payments:
        month = payment.paid_on.replace(day=1)
        if month < first:
            opening -= payment.amount
        elif month <= last:
            by_month_payments.setdefault(month, []).append(payment)
    months = []
    balance = opening
    month = first
    while month <= last:
        month_charges = sorted(
            by_month_charges.get(month, []), key=lambda c: (c.is_allowance, c.service)
        )
        month_payments = sorted(by_month_payments.get(month, []), key=lambda p: p.paid_on)
        charged = sum((c.amount for c in month_charges), ZERO)
        paid = sum((p.amount for p in month_payments), ZERO)
        closing = balance + charged - paid
        months.append(
            MonthStatement(
                month, balance, charged, paid, closing, tuple(month_charges), tuple(month_payments)
            )
        )
        balance = closing
        month = add_months(month, 1)
    return Statement(
        first=first,
        last=last,
        opening=opening,
        charged=sum((m.charged for m in months), ZERO),
        paid=sum((m.paid for m in months), ZERO),
        closing=balance,
        months=tuple(months),
    )


def local_date(moment: datetime, timezone: str) -> date:
    """The day a moment falls on in the tenant's time zone (a stored naive time is UTC)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(ZoneInfo(timezone)).date()


async def account_statement(
    session: AsyncSession,
    *,
    tenant_id: int,
    account_id: int,
    first: date,
    last: date,
    timezone: str,
) -> Statement:
    """The statement of one account (the caller has checked it is the customer's)."""
    charges = await session.exec(
        select(Charge).where(
            Charge.tenant_id == tenant_id,
            Charge.account_id == account_id,
            col(Charge.period) <= last,
        )
    )
    payments = await session.exec(
        select(Payment).where(Payment.tenant_id == tenant_id, Payment.account_id == account_id)
    )
    return build_statement(
        (ChargeLine(c.period, c.service, c.volume, c.tariff, c.amount) for c in charges.all()),
        (
            PaymentLine(local_date(p.paid_at, timezone), p.amount, p.purpose, p.provider)
            for p in payments.all()
        ),
        first,
        last,
    )
