"""A customer's accounts: balances, allowances, linking and nicknames.

Money is Decimal from the column to the page. A balance is everything charged minus
everything paid: above zero the customer owes, below zero they have paid ahead.
Benefits and subsidies are Charge lines with negative amounts, so they lower the
balance like any payment would, and show on a statement as lines of their own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any, Literal

from sqlalchemy import bindparam, delete, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.fields import FieldProblem, clean_text, compare_key
from domain.limits import LINK_ATTEMPTS_PER_CUSTOMER, Limiter
from domain.models import Account, AccountLink, Charge, Meter, Payment
from domain.rows import columns_of, detached

ZERO = Decimal("0.00")
ALLOWANCE_SERVICES = ("benefit", "subsidy")
NICKNAME_MAX = 100
SURNAME_MAX = 100

BalanceState = Literal["debt", "overpayment", "settled"]
ProofKind = Literal["meter_last4", "holder_surname", "none"]
LinkOutcome = Literal["linked", "already_linked", "refused", "limited"]


# --- balances ------------------------------------------------------------------------


@dataclass(frozen=True)
class Balance:
    """Charges minus payments: positive is a debt, negative an overpayment."""

    amount: Decimal

    @property
    def state(self) -> BalanceState:
        if self.amount > 0:
            return "debt"
        if self.amount < 0:
            return "overpayment"
        return "settled"

    @property
    def magnitude(self) -> Decimal:
        """The amount as a customer reads it: a debt or an overpayment, never negative."""
        return abs(self.amount)


@dataclass(frozen=True)
class Allowances:
    """The benefit and subsidy of an account's last billed period, as positive amounts."""

    period: date
    benefit: Decimal | None = None
    subsidy: Decimal | None = None


@dataclass(frozen=True)
class AccountOverview:
    """One card of the cabinet home."""

    account: Account
    nickname: str | None
    balance: Balance
    allowances: Allowances | None


async def balances(
    session: AsyncSession, *, tenant_id: int, account_ids: Iterable[int]
) -> dict[int, Balance]:
    """Each account's balance over its whole history (two sums in SQL, exact integers)."""
    ids = list(account_ids)
    if not ids:
        return {}
    charged = await session.exec(
        select(Charge.account_id, func.sum(col(Charge.amount)))
        .where(Charge.tenant_id == tenant_id, col(Charge.account_id).in_(ids))
        .group_by(col(Charge.account_id))
    )
    paid = await session.exec(
        select(Payment.account_id, func.sum(col(Payment.amount)))
        .where(Payment.tenant_id == tenant_id, col(Payment.account_id).in_(ids))
        .group_by(col(Payment.account_id))
    )
    totals = dict.fromkeys(ids, ZERO)
    for account_id, amount in charged.all():
        totals[account_id] += Decimal(amount or 0)
    for account_id, amount in paid.all():
        totals[account_id] -= Decimal(amount or 0)
    return {account_id: Balance(amount) for account_id, amount in totals.items()}


# Core rows and Account objects made once: the ORM's work per row cost more than the query.
_ACCOUNT_COLUMNS = columns_of(Account)


@cache
def _overviews_statement(wanted: tuple[str, ...]) -> Any:
    """The accounts of `:customer_id` with their sums, built once per set of allowance
    kinds: building it costs more CPU than running it."""
    tenant_id: Any = bindparam("tenant_id")

    def of_account(statement: Any) -> Any:
        return statement.where(
            col(Charge.tenant_id) == tenant_id, col(Charge.account_id) == col(Account.id)
        )

    charged = of_account(select(func.sum(col(Charge.amount))))
    paid = select(func.sum(col(Payment.amount))).where(
        col(Payment.tenant_id) == tenant_id, col(Payment.account_id) == col(Account.id)
    )
    latest = of_account(select(func.max(col(Charge.period))))
    allowances = [
        of_account(select(func.sum(col(Charge.amount)))).where(
            col(Charge.service) == kind,
            col(Charge.period) == latest.correlate(Account).scalar_subquery(),
        )
        for kind in wanted
    ]
    subqueries = [
        query.correlate(Account).scalar_subquery() for query in (charged, paid, latest, *allowances)
    ]
    return (
        sa_select(*_ACCOUNT_COLUMNS, col(AccountLink.nickname), *subqueries)
        .select_from(Account)
        .join(AccountLink, col(AccountLink.account_id) == col(Account.id))
        .where(
            col(AccountLink.customer_id) == bindparam("customer_id"),
            col(AccountLink.tenant_id) == tenant_id,
            col(Account.tenant_id) == tenant_id,
        )
    )


async def account_overviews(
    session: AsyncSession, *, tenant_id: int, customer_id: int, allowance_kinds: Iterable[str]
) -> list[AccountOverview]:
    """The customer's accounts with nickname, balance and (where shown) last allowances.

    One statement: every cabinet page load pays for each round trip to the database, so the
    sums and the last period's allowances come as correlated subqueries of the accounts."""
    wanted = tuple(kind for kind in allowance_kinds if kind in ALLOWANCE_SERVICES)
    connection = await session.connection()
    rows = await connection.execute(
        _overviews_statement(wanted), {"tenant_id": tenant_id, "customer_id": customer_id}
    )
    overviews = []
    width = len(_ACCOUNT_COLUMNS)
    for row in rows:
        account = detached(Account, _ACCOUNT_COLUMNS, row[:width])
        nickname, charged_sum, paid_sum, period, *amounts = row[width:]
        found = {
            kind: -Decimal(amount)
            for kind, amount in zip(wanted, amounts, strict=True)
            if amount is not None
        }
        overviews.append(
            AccountOverview(
                account=account,
                nickname=nickname,
                balance=Balance(ZERO + Decimal(charged_sum or 0) - Decimal(paid_sum or 0)),
                allowances=Allowances(
                    period=period, benefit=found.get("benefit"), subsidy=found.get("subsidy")
                )
                if found
                else None,
            )
        )
    return sorted(overviews, key=lambda overview: overview.account.number)


# --- linking, nicknames, unlinking ------------------------------------------------------


def clean_nickname(raw: str) -> str | None:
    """A nickname as stored: cleaned text, None when empty; too long is a problem."""
    text = clean_text(raw)
    if len(text) > NICKNAME_MAX:
        raise FieldProblem("too_long")
    return text or None


def clean_proof(kind: ProofKind, raw: str) -> str:
    """The typed proof in the form it is compared in; its shape is checked, not its truth."""
    text = clean_text(raw)
    if kind == "none":
        return ""
    if not text:
        raise FieldProblem("empty")
    if kind == "meter_last4":
        digits = re.sub(r"[\s\-]", "", text)
        if not digits.isascii() or not digits.isdigit():
            raise FieldProblem("not_digits")
        if len(digits) != 4:
            raise FieldProblem("wrong_length")
        return digits
    if len(text) > SURNAME_MAX:
        raise FieldProblem("too_long")
    return text


def meter_last4(factory_number: str | None) -> str | None:
    """The last four digits of a factory number, as printed on the meter (None if too few)."""
    digits = re.sub(r"\D", "", factory_number or "")
    return digits[-4:] if len(digits) >= 4 else None


async def _proof_holds(
    session: AsyncSession, account: Account, kind: ProofKind, proof: str
) -> bool:
    if kind == "meter_last4":
        meters = await session.exec(
            select(Meter).where(
                Meter.tenant_id == account.tenant_id,
                Meter.account_id == account.id,
                Meter.state == "installed",
            )
        )
        return any(meter_last4(m.factory_number) == proof for m in meters.all())
    if kind == "holder_surname":
        words = clean_text(account.holder_name).split()
        return bool(words) and compare_key(proof) == compare_key(words[0])
    # No proof is asked: an account that someone already holds is not given away for free.
    holder = await session.exec(select(AccountLink.id).where(AccountLink.account_id == account.id))
    return holder.first() is None


async def link_account(
    session: AsyncSession,
    *,
    limiter: Limiter,
    tenant_id: int,
    customer_id: int,
    number: str,
    proof_kind: ProofKind,
    proof: str,
    nickname: str | None,
) -> LinkOutcome:
    """Link the account `number` to the customer if the proof holds.

    A wrong number and a wrong proof are the same outcome ("refused"), and each counts
    against the customer's attempts; a success forgives the earlier failures.
    """
    subject = f"{tenant_id}:{customer_id}"
    if await limiter.exceeded(LINK_ATTEMPTS_PER_CUSTOMER, subject):
        return "limited"
    account = (
        await session.exec(
            select(Account).where(Account.tenant_id == tenant_id, Account.number == number)
        )
    ).first()
    if account is not None and await _is_linked(session, customer_id, account.id or 0):
        return "already_linked"
    # An unknown number runs the same checks on a stand-in, so it takes as long as a known one.
    checked = account or Account(id=-1, tenant_id=tenant_id, number=number, holder_name="")
    holds = await _proof_holds(session, checked, proof_kind, proof)
    if account is None or not holds:
        await limiter.hit(LINK_ATTEMPTS_PER_CUSTOMER, subject)
        return "refused"
    session.add(
        AccountLink(
            tenant_id=tenant_id,
            customer_id=customer_id,
            account_id=account.id or 0,
            nickname=nickname,
        )
    )
    try:
        await session.commit()
    except IntegrityError:
        # The same form sent twice at once: the other request made the link.
        await session.rollback()
        return "already_linked"
    await limiter.reset(LINK_ATTEMPTS_PER_CUSTOMER, subject)
    return "linked"


async def _is_linked(session: AsyncSession, customer_id: int, account_id: int) -> bool:
    found = await session.exec(
        select(AccountLink.id).where(
            AccountLink.customer_id == customer_id, AccountLink.account_id == account_id
        )
    )
    return found.first() is not None


async def rename_account(
    session: AsyncSession,
    *,
    tenant_id: int,
    customer_id: int,
    account_id: int,
    nickname: str | None,
) -> bool:
    """Set (or clear, with None) the nickname of the customer's own link; False if none."""
    result = await session.exec(
        update(AccountLink)
        .where(
            col(AccountLink.tenant_id) == tenant_id,
            col(AccountLink.customer_id) == customer_id,
            col(AccountLink.account_id) == account_id,
        )
        .values(nickname=nickname)
    )
    await session.commit()
    return bool(result.rowcount)


async def unlink_account(
    session: AsyncSession, *, tenant_id: int, customer_id: int, account_id: int
) -> bool:
    """Remove the account from the customer's cabinet; the account and its data stay."""
    result = await session.exec(
        delete(AccountLink).where(
            col(AccountLink.tenant_id) == tenant_id,
            col(AccountLink.customer_id) == customer_id,
            col(AccountLink.account_id) == account_id,
        )
    )
    await session.commit()
    return bool(result.rowcount)
