"""Balances, linking proofs and the period statement, as rules (no web)."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import col, select

from domain.account_statement import (
    MAX_STATEMENT_MONTHS,
    ChargeLine,
    PaymentLine,
    PeriodProblem,
    account_statement,
    add_months,
    build_statement,
    default_statement_period,
    local_date,
    months_between,
    parse_month,
    statement_period,
)
from domain.accounts import (
    Balance,
    balances,
    clean_nickname,
    clean_proof,
    link_account,
    meter_last4,
)
from domain.db import Database
from domain.fields import FieldProblem
from domain.limits import DatabaseLimiter
from domain.models import Account, AccountLink, Customer, Tenant

TODAY = date(2026, 11, 21)


def test_balance_signs() -> None:
    assert Balance(Decimal("12.30")).state == "debt"
    assert Balance(Decimal("-50.00")).state == "overpayment"
    assert Balance(Decimal("-50.00")).magnitude == Decimal("50.00")
    assert Balance(Decimal("0.00")).state == "settled"


def test_months() -> None:
    assert add_months(date(2026, 1, 1), -1) == date(2025, 12, 1)
    assert add_months(date(2026, 11, 1), 14) == date(2028, 1, 1)
    assert months_between(date(2025, 12, 1), date(2026, 2, 1)) == 3
    assert parse_month("2026-05") == date(2026, 5, 1)
    for bad in ("2026-13", "2026-00", "abc", "2026-5", "26-05", "2026-05-01", "", "０２０２-05"):
        assert parse_month(bad) is None, bad


def test_default_period_is_the_last_six_whole_months() -> None:
    assert default_statement_period(TODAY) == (date(2026, 5, 1), date(2026, 10, 1))
    assert statement_period("", "", TODAY) == (date(2026, 5, 1), date(2026, 10, 1))
    assert statement_period("2026-09", "", TODAY) == (date(2026, 9, 1), date(2026, 10, 1))
    assert statement_period("", "2026-03", TODAY) == (date(2025, 10, 1), date(2026, 3, 1))
    # The current month may be asked for (payments made this month show in it).
    assert statement_period("2026-11", "", TODAY) == (date(2026, 11, 1), date(2026, 11, 1))


@pytest.mark.parametrize(
    ("raw_from", "raw_to", "problems"),
    [
        ("2026-13", "", {"from": "bad_month"}),
        ("abc", "xyz", {"from": "bad_month", "to": "bad_month"}),
        ("2026-08", "2026-03", {"": "reversed"}),
        ("2023-01", "2026-10", {"": "too_long"}),
        ("2026-12", "2027-01", {"from": "future", "to": "future"}),
        ("2026-10", "2026-12", {"to": "future"}),
    ],
)
def test_bad_periods(raw_from: str, raw_to: str, problems: dict[str, str]) -> None:
    with pytest.raises(PeriodProblem) as caught:
        statement_period(raw_from, raw_to, TODAY)
    assert caught.value.problems == problems


def test_the_longest_period_is_allowed() -> None:
    first, last = statement_period("2023-11", "2026-10", TODAY)
    assert months_between(first, last) == MAX_STATEMENT_MONTHS


def test_proofs_and_nicknames() -> None:
    assert clean_proof("meter_last4", " 01-03 ") == "0103"
    for raw, reason in (("", "empty"), ("12a4", "not_digits"), ("123", "wrong_length")):
        with pytest.raises(FieldProblem) as caught:
            clean_proof("meter_last4", raw)
        assert caught.value.reason == reason
    assert clean_proof("none", "anything") == ""
    assert meter_last4("4567-0103") == "0103"
    assert meter_last4("AB12") is None
    assert clean_nickname("  My   flat ") == "My flat"
    assert clean_nickname("   ") is None
    with pytest.raises(FieldProblem):
        clean_nickname("x" * 101)


def test_payments_count_in_the_tenant_local_month() -> None:
    # 21:30 UTC on 31 May is already 1 June in Moscow.
    assert local_date(datetime(2026, 5, 31, 21, 30), "Europe/Moscow") == date(2026, 6, 1)
    assert local_date(datetime(2026, 5, 31, 21, 30, tzinfo=UTC), "UTC") == date(2026, 5, 31)


money = st.decimals(min_value=-5000, max_value=20000, places=2, allow_nan=False)
months = st.integers(min_value=0, max_value=40).map(lambda n: add_months(date(2024, 1, 1), n))


@settings(max_examples=150, deadline=None)
@given(
    charges=st.lists(st.tuples(months, st.sampled_from(["gas", "benefit", "subsidy"]), money)),
    payments=st.lists(st.tuples(months, st.integers(1, 28), money)),
    first=months,
    length=st.integers(1, 14),
)
def test_statement_identity_holds_for_any_lines(
    charges: list[tuple[date, str, Decimal]],
    payments: list[tuple[date, int, Decimal]],
    first: date,
    length: int,
) -> None:
    last = add_months(first, length - 1)
    charge_lines = [ChargeLine(m, s, Decimal(0), Decimal(0), a) for m, s, a in charges]
    payment_lines = [PaymentLine(m.replace(day=d), a, "", "billing") for m, d, a in payments]
    result = build_statement(charge_lines, payment_lines, first, last)
    assert len(result.months) == length
    assert result.opening + result.charged - result.paid == result.closing
    previous_closing = result.opening
    for month in result.months:
        assert month.opening == previous_closing
        assert month.opening + month.charged - month.paid == month.closing
        assert month.charged == sum((c.amount for c in month.charges), Decimal(0))
        assert month.paid == sum((p.amount for p in month.payments), Decimal(0))
        previous_closing = month.closing
    # Opening = everything before the range; closing = everything up to its end.
    before = sum((a for m, _, a in charges if m < first), Decimal(0)) - sum(
        (a for m, _, a in payments if m < first), Decimal(0)
    )
    through = sum((a for m, _, a in charges if m <= last), Decimal(0)) - sum(
        (a for m, _, a in payments if m <= last), Decimal(0)
    )
    assert result.opening == before
    assert result.closing == through


async def test_statement_identity_over_the_demo_data(database_url: str) -> None:
    """Every demo account, over its whole history: each month's figures add up, and the
    closing balance of a range ending this month is the account's balance."""
    database = Database(database_url)
    checked = 0
    try:
        async with database.session() as session:
            accounts = (await session.exec(select(Account))).all()
            owed = {}
            for tenant_id in {a.tenant_id for a in accounts}:
                ids = [a.id or 0 for a in accounts if a.tenant_id == tenant_id]
                owed.update(await balances(session, tenant_id=tenant_id, account_ids=ids))
            first, last = add_months(TODAY.replace(day=1), -12), TODAY.replace(day=1)
            for account in accounts:
                result = await account_statement(
                    session,
                    tenant_id=account.tenant_id,
                    account_id=account.id or 0,
                    first=first,
                    last=last,
                    timezone="Europe/Moscow",
                )
                balance = result.opening
                for month in result.months:
                    assert month.opening == balance
                    assert month.opening + month.charged - month.paid == month.closing
                    balance = month.closing
                assert result.closing == owed[account.id or 0].amount
                assert isinstance(result.closing, Decimal)
                checked += 1
    finally:
        await database.dispose()
    # Six tenants with six demo accounts each (other tests may have added their own).
    assert checked >= 36
    # The demo has debts, overpayments and settled accounts: every sign is exercised.
    assert {"debt", "overpayment", "settled"} <= {b.state for b in owed.values()}


async def test_linking_by_surname_or_without_proof(database_url: str) -> None:
    """holder_surname: the first word of the holder's name, any case, ё as е. none: only an
    account nobody holds yet may be taken without proof."""
    database = Database(database_url)
    limiter = DatabaseLimiter(database, "test-pepper")
    try:
        async with database.session() as session:
            tenant = (
                await session.exec(select(Tenant).where(Tenant.slug == "ivanovo-water"))
            ).one()
            tenant_id = tenant.id or 0
            held, free = (
                Account(tenant_id=tenant_id, number=f"T{secrets.token_hex(8)}", holder_name=name)
                for name in ("Ёлкина Мария Петровна", "Сорокин Илья")
            )
            first, second = (Customer(tenant_id=tenant_id) for _ in range(2))
            session.add_all([held, free, first, second])
            await session.commit()

            async def attempt(customer: Customer, account: Account, kind: str, proof: str) -> str:
                return await link_account(
                    session,
                    limiter=limiter,
                    tenant_id=tenant_id,
                    customer_id=customer.id or 0,
                    number=account.number,
                    proof_kind=kind,  # type: ignore[arg-type]
                    proof=proof,
                    nickname=None,
                )

            assert await attempt(first, held, "holder_surname", "Мария") == "refused"
            assert await attempt(first, held, "holder_surname", " ЕЛКИНА ") == "linked"
            assert await attempt(first, held, "holder_surname", "Елкина") == "already_linked"
            assert await attempt(second, held, "none", "") == "refused"
            assert await attempt(second, free, "none", "") == "linked"
            links = await session.exec(
                select(AccountLink.customer_id, AccountLink.account_id).where(
                    col(AccountLink.account_id).in_([held.id, free.id])
                )
            )
            assert sorted(links.all()) == sorted([(first.id, held.id), (second.id, free.id)])
    finally:
        await database.dispose()
