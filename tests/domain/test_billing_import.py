"""Billing rows: the check of every kind of cell, CSV decoding and headers, chunked upserts."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, func, select

from domain.billing_export import BadCursor, Cursor
from domain.billing_import import (
    ACCOUNTS,
    CHARGES,
    CHUNK_ROWS,
    METERS,
    PAYMENTS,
    USAGE,
    _Bad,
    _parse_decimal,
    check_row,
    upsert_batch,
)
from domain.csv_import import CsvProblem, decode, read_csv, records
from domain.db import Database
from domain.models import Account, Charge, Payment, Tenant, utcnow
from web.settings import Settings

MOSCOW = ZoneInfo("Europe/Moscow")
CHARGE = {"account_number": "1", "period": "2026-11", "service": "water", "amount": "1"}


def problems(kind: Any, **changes: Any) -> list[tuple[str, str]]:
    base = CHARGE if kind is CHARGES else {}
    _, found = check_row(kind, {**base, **changes}, MOSCOW)
    return [(name, code) for name, code, _ in found]


def value(kind: Any, name: str, raw: Any, target: str | None = None) -> Any:
    base = CHARGE if kind is CHARGES else {}
    parsed, found = check_row(kind, {**base, name: raw}, MOSCOW)
    assert found == [], found
    return parsed[target or name]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1,5", Decimal("1.5")),
        ("1.50", Decimal("1.50")),
        (" -12.34 ", Decimal("-12.34")),
        (7, Decimal(7)),
        (Decimal("0.1"), Decimal("0.1")),
    ],
)
def test_decimals_are_read_exactly(raw: Any, expected: Decimal) -> None:
    assert value(CHARGES, "amount", raw) == expected


@pytest.mark.parametrize(
    ("name", "raw", "code"),
    [
        ("amount", "abc", "not_a_number"),
        ("amount", "1e5", "not_a_number"),
        ("amount", "1 234,56", "not_a_number"),
        ("amount", "1,234.56", "not_a_number"),
        ("amount", 1.5, "not_a_number"),  # a float is never taken, not even from Python
        ("amount", True, "not_a_number"),
        ("amount", "", "required"),
        ("amount", None, "required"),
        ("amount", "0.001", "too_many_decimals"),
        ("amount", "1" * 13, "too_large"),
        ("volume", "-0.5", "negative"),
        ("vat_percent", "100.01", "too_big"),
        ("period", "2026-13", "bad_period"),
        ("period", "11.2026", "bad_period"),
        ("period", "1899-12", "date_out_of_range"),
        ("service", "x" * 31, "too_long"),
        ("service", 5, "not_text"),
        ("colour", "red", "unknown_field"),
    ],
)
def test_every_bad_cell_has_its_reason(name: str, raw: Any, code: str) -> None:
    assert problems(CHARGES, **{name: raw}) == [(name, code)]


def test_other_kinds_of_cells() -> None:
    meter = {"account_number": "1", "factory_number": "F", "service": "gas"}
    assert check_row(METERS, {**meter, "decimals": "5"}, MOSCOW)[1] == [
        ("decimals", "too_big", {"maximum": "4"})
    ]
    assert check_row(METERS, {**meter, "is_heat_meter": "maybe"}, MOSCOW)[1][0][1] == "bad_flag"
    assert check_row(METERS, {**meter, "service": "Gas", "is_heat_meter": "Yes"}, MOSCOW)[0][
        "is_heat_meter"
    ]
    assert check_row(METERS, {**meter, "verification_due": "2026-02-30"}, MOSCOW)[1][0][1] == (
        "bad_date"
    )
    payment = {"account_number": "1", "provider": "bank", "reference": "r", "amount": "0"}
    codes = [code for _, code, _ in check_row(PAYMENTS, {**payment, "paid_at": "soon"}, MOSCOW)[1]]
    assert codes == ["bad_moment", "not_positive"]
    # A time without an offset is the utility's; one with an offset is kept.
    parsed, _ = check_row(
        PAYMENTS, {**payment, "amount": "1", "paid_at": "2026-11-01 12:00"}, MOSCOW
    )
    assert parsed["paid_at"] == datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    session = {"account_number": "1", "started_at": "2026-11-01T10:00+05:00"}
    _, found = check_row(USAGE, {**session, "ended_at": "2026-11-01T09:00+05:00"}, MOSCOW)
    assert [code for _, code, _ in found] == ["ends_before_start"]
    # Text is cleaned as everywhere else: spaces collapsed, control characters dropped.
    parsed, _ = check_row(
        ACCOUNTS, {"account_number": " 12 ", "holder_name": "Ann\x00  Lee"}, MOSCOW
    )
    assert (parsed["number"], parsed["holder_name"]) == ("12", "Ann Lee")
    assert check_row(ACCOUNTS, ["not", "a", "row"], MOSCOW)[1] == [("", "not_an_object", {})]


# --- CSV files ---------------------------------------------------------------------------------


def test_encodings_are_detected() -> None:
    russian = "account_number,holder_name\n1,Пётр Иванович Сидоров\n"
    chinese = "account_number,holder_name\n1,王小明\n2,李华\n"
    assert decode(("\ufeff" + russian).encode("utf-8")) == (russian, "utf-8")
    assert decode(russian.encode("utf-8")) == (russian, "utf-8")
    assert decode(russian.encode("cp1251")) == (russian, "windows-1251")
    assert decode(chinese.encode("gbk")) == (chinese, "gbk")
    assert decode(chinese.encode("gbk"), "gbk") == (chinese, "gbk")
    with pytest.raises(CsvProblem) as refused:
        decode(chinese.encode("gbk"), "utf-8")
    assert refused.value.code == "not_in_encoding"


def test_headers_are_checked_and_rows_keep_their_line_numbers() -> None:
    content = b'Account_Number ; holder_name\n1;"Ann\nLee"\n\n2;Bob;extra\n3;Cy\n'
    parsed = read_csv(content, ACCOUNTS)
    assert (parsed.delimiter, parsed.columns, parsed.rows) == (
        ";",
        ["account_number", "holder_name"],
        3,
    )
    found = list(records(parsed))
    assert found[0] == (2, {"account_number": "1", "holder_name": "Ann\nLee"})
    assert found[1][0] == 5 and found[1][1].code == "wrong_value_count"  # type: ignore[union-attr]
    assert found[2] == (6, {"account_number": "3", "holder_name": "Cy"})
    with pytest.raises(CsvProblem) as refused:
        read_csv(b"account_number,name,name\n1,a,b\n", ACCOUNTS)
    assert refused.value.code == "wrong_columns"
    assert refused.value.params["missing"] == "holder_name"
    assert refused.value.params["unknown"] == "name, name"
    for content, code in [(b"", "empty"), (b"account_number,holder_name\n", "no_rows")]:
        with pytest.raises(CsvProblem) as refused:
            read_csv(content, ACCOUNTS)
        assert refused.value.code == code


def test_cursors_round_trip_and_strangers_are_refused() -> None:
    cursor = Cursor(datetime(2026, 11, 21, 10, 0, 0, 123456, tzinfo=UTC), 2, 99)
    assert Cursor.decode(cursor.encode()) == cursor
    for bad in ("", "abc", "MTp4Ojk6OQ", "x" * 300, "MjoxOjE6MQ"):
        with pytest.raises(BadCursor):
            Cursor.decode(bad)


# --- writing -------------------------------------------------------------------------------------


async def test_batches_larger_than_a_chunk_are_written_once_each(
    private_settings: Settings,
) -> None:
    database = Database(private_settings.database_url)
    try:
        async with database.session() as session:
            tenant = (
                await session.exec(select(Tenant).where(Tenant.slug == "melitopol-gas"))
            ).one()
            assert tenant.id is not None
            numbers = [f"77{index:06d}" for index in range(CHUNK_ROWS + 300)]
            rows = [
                (i, {"account_number": n, "holder_name": f"H {n}"}) for i, n in enumerate(numbers)
            ]
            first = await upsert_batch(
                session,
                tenant_id=tenant.id,
                kind=ACCOUNTS,
                rows=rows,
                timezone="Europe/Zaporozhye",
                valid_only=False,
                now=utcnow(),
            )
            assert (first.written, first.counts.inserted) == (True, len(numbers))
            await session.commit()

            charges = [
                (i, {**CHARGE, "account_number": n, "amount": f"{i}.25"})
                for i, n in enumerate(numbers)
            ]
            # The first row's key again, in the second chunk: refused, never written twice.
            charges.append((len(charges), {**CHARGE, "account_number": numbers[0], "amount": "9"}))
            outcome = await upsert_batch(
                session,
                tenant_id=tenant.id,
                kind=CHARGES,
                rows=charges,
                timezone="Europe/Zaporozhye",
                valid_only=True,
                now=utcnow(),
            )
            await session.commit()
            assert outcome.counts.inserted == len(numbers)
            assert [(p.row, p.code, dict(p.params)) for p in outcome.problems] == [
                (len(numbers), "duplicate_key", {"first": 0})
            ]
            ours = (
                select(func.count())
                .select_from(Charge)
                .join(Account)
                .where(col(Account.number).like("77%"), Charge.tenant_id == tenant.id)
            )
            assert (await session.exec(ours)).one() == len(numbers)
            first_charge = (
                await session.exec(
                    select(Charge)
                    .join(Account)
                    .where(Account.number == numbers[0], Charge.period == date(2026, 11, 1))
                )
            ).one()
            assert first_charge.amount == Decimal("0.25")

            again = await upsert_batch(
                session,
                tenant_id=tenant.id,
                kind=CHARGES,
                rows=charges[:-1],
                timezone="Europe/Zaporozhye",
                valid_only=False,
                now=utcnow(),
            )
            assert (again.counts.unchanged, again.counts.written) == (len(numbers), 0)
    finally:
        await database.dispose()


# Texts at the edges of the shortcut for plain numbers: signs, places, digits, odd forms.
NUMBER_TEXTS = [
    "0",
    "-0",
    "+0",
    "7",
    "+1.5",
    "-1,25",
    "1.50",
    "1.500",
    "1.5000",
    "0.001",
    "0.00001",
    "100",
    "100.00",
    "100.01",
    "-100",
    "999999999999",
    "999999999999.99",
    "1000000000000",
    "0000000000001",
    "1.",
    ".5",
    "1e3",
    " 1.5 ",
    "1_000",
    "NaN",
    "\u0661\u0662",
]


@pytest.mark.parametrize("text", NUMBER_TEXTS)
def test_the_shortcut_for_plain_numbers_agrees_with_the_full_check(text: str) -> None:
    for kind in (CHARGES, PAYMENTS, USAGE):
        for column, check in zip(kind.columns, kind.checks, strict=True):
            if column.type != "decimal":
                continue
            try:
                expected: Any = _parse_decimal(column, text, MOSCOW)
            except _Bad as bad:
                expected = (bad.code, bad.params)
            try:
                found: Any = check.parse(text, MOSCOW)
            except _Bad as bad:
                found = (bad.code, bad.params)
            # The same value written the same way ("1.50" stays 1.50), or the same problem.
            assert str(found) == str(expected), (kind.name, column.name)


async def _tenant_id(session: Any, slug: str) -> int:
    tenant = (await session.exec(select(Tenant).where(Tenant.slug == slug))).one()
    assert tenant.id is not None
    return int(tenant.id)


async def _upsert(
    session: Any, tenant_id: int, kind: Any, items: list[Any], *, valid_only: bool = False
) -> Any:
    return await upsert_batch(
        session,
        tenant_id=tenant_id,
        kind=kind,
        rows=list(enumerate(items)),
        timezone="Europe/Zaporozhye",
        valid_only=valid_only,
        now=utcnow(),
    )


def _counts(outcome: Any) -> tuple[int, int, int, int]:
    counts = outcome.counts
    return (counts.inserted, counts.updated, counts.unchanged, counts.failed)


async def test_a_mixed_batch_is_counted_row_by_row(private_settings: Settings) -> None:
    """New, changed and unchanged rows counted alike on both databases (PostgreSQL counts in
    the upsert itself, SQLite compares with the stored rows first)."""
    database = Database(private_settings.database_url)
    try:
        async with database.session() as session:
            tenant_id = await _tenant_id(session, "melitopol-gas")
            numbers = ["88000001", "88000002", "88000003"]
            holders = [{"account_number": n, "holder_name": f"H {n}"} for n in numbers]
            assert _counts(await _upsert(session, tenant_id, ACCOUNTS, holders)) == (3, 0, 0, 0)
            base = [
                {**CHARGE, "account_number": n, "volume": "2.5", "amount": "10.50"} for n in numbers
            ]
            assert _counts(await _upsert(session, tenant_id, CHARGES, base)) == (3, 0, 0, 0)
            await session.commit()

            mixed = [
                # The same numbers written another way: unchanged.
                {**base[0], "volume": "2.500", "amount": "10.5"},
                {**base[1], "amount": "11.00"},
                # A column left out keeps its value: unchanged.
                {name: value for name, value in base[2].items() if name != "volume"},
                {**base[0], "service": "gas"},
                {**base[0], "service": "heat", "account_number": "88009999"},
                {**base[2], "service": "heat", "vat_percent": "101"},
            ]
            outcome = await _upsert(session, tenant_id, CHARGES, mixed, valid_only=True)
            assert _counts(outcome) == (1, 1, 2, 2)
            assert [(p.row, p.code) for p in outcome.problems] == [
                (4, "unknown_account"),
                (5, "too_big"),
            ]
            # A null resets a column to its default: a change.
            reset = await _upsert(session, tenant_id, CHARGES, [{**base[2], "volume": None}])
            assert _counts(reset) == (0, 1, 0, 0)
            # Accounts count alike, and an update keeps the account's creation time.
            first_account = select(Account.holder_name, Account.created_at).where(
                Account.number == numbers[0]
            )
            _, created_at = (await session.exec(first_account)).one()
            renamed = [{**holders[0], "holder_name": "New Name"}, *holders[1:]]
            extra = {"account_number": "88000004", "holder_name": "H 4"}
            accounts = await _upsert(session, tenant_id, ACCOUNTS, [*renamed, extra])
            assert _counts(accounts) == (1, 1, 2, 0)
            await session.commit()

            stored = await session.exec(
                select(Account.number, Charge.service, Charge.volume, Charge.amount)
                .join(Account)
                .where(col(Account.number).in_(numbers))
                .order_by(Account.number, Charge.service)
            )
            assert list(stored) == [
                (numbers[0], "gas", Decimal("2.5"), Decimal("10.5")),
                (numbers[0], "water", Decimal("2.5"), Decimal("10.5")),
                (numbers[1], "water", Decimal("2.5"), Decimal("11")),
                (numbers[2], "water", Decimal(0), Decimal("10.5")),
            ]
            assert (await session.exec(first_account)).one() == ("New Name", created_at)
    finally:
        await database.dispose()


async def test_mode_all_writes_nothing_if_a_later_chunk_has_a_bad_row(
    private_settings: Settings,
) -> None:
    database = Database(private_settings.database_url)
    try:
        async with database.session() as session:
            tenant_id = await _tenant_id(session, "melitopol-gas")
            holder = {"account_number": "88100001", "holder_name": "H"}
            await _upsert(session, tenant_id, ACCOUNTS, [holder])
            await session.commit()
            items = [
                {**CHARGE, "account_number": "88100001", "service": f"s{index}"}
                for index in range(CHUNK_ROWS + 1)
            ]
            items[-1]["amount"] = "abc"
            outcome = await _upsert(session, tenant_id, CHARGES, items)
            assert (outcome.written, _counts(outcome)) == (False, (0, 0, 0, 1))
            await session.commit()
            ours = select(func.count()).select_from(Charge).join(Account)
            assert (await session.exec(ours.where(Account.number == "88100001"))).one() == 0

            del items[-1]
            outcome = await _upsert(session, tenant_id, CHARGES, items)
            assert (outcome.written, _counts(outcome)) == (True, (CHUNK_ROWS, 0, 0, 0))
    finally:
        await database.dispose()


async def test_payments_are_compared_with_the_stored_ones_first(private_settings: Settings) -> None:
    """A payment giving another amount is refused before anything is written, on both
    databases; the others are counted like any row."""
    database = Database(private_settings.database_url)
    try:
        async with database.session() as session:
            tenant_id = await _tenant_id(session, "melitopol-gas")
            await _upsert(
                session, tenant_id, ACCOUNTS, [{"account_number": "88200001", "holder_name": "H"}]
            )
            paid = {"account_number": "88200001", "provider": "bank", "paid_at": "2026-11-02 10:00"}
            first = [{**paid, "reference": f"IMP-{n}", "amount": "100.00"} for n in range(3)]
            assert _counts(await _upsert(session, tenant_id, PAYMENTS, first)) == (3, 0, 0, 0)
            await session.commit()

            again = [
                {**first[0], "amount": "100"},
                {**first[1], "purpose": "Gas"},
                {**first[2], "amount": "99.99"},
                {**paid, "reference": "IMP-3", "amount": "5"},
            ]
            refused = await _upsert(session, tenant_id, PAYMENTS, again)
            assert (refused.written, [(p.row, p.field, p.code) for p in refused.problems]) == (
                False,
                [(2, "amount", "payment_differs")],
            )
            outcome = await _upsert(session, tenant_id, PAYMENTS, again, valid_only=True)
            assert _counts(outcome) == (1, 1, 1, 1)
            await session.commit()
            amounts = await session.exec(
                select(Payment.reference, Payment.amount, Payment.purpose)
                .where(col(Payment.reference).like("IMP-%"), Payment.tenant_id == tenant_id)
                .order_by(Payment.reference)
            )
            assert list(amounts) == [
                ("IMP-0", Decimal(100), ""),
                ("IMP-1", Decimal(100), "Gas"),
                ("IMP-2", Decimal(100), ""),
                ("IMP-3", Decimal(5), ""),
            ]
    finally:
        await database.dispose()
