"""Billing data a utility's billing system pushes: row schemas, checks per row, set-based upserts.

The billing API and the CSV upload share it. Both hand over rows of column → value (the
text of a CSV cell, or a JSON value) and get back each row's problems as a column and a
reason code, which the web layer words in the reader's language. Rows are written a chunk
at a time: one query resolves the chunk's account numbers and one INSERT ... ON CONFLICT
DO UPDATE of the whole chunk writes the new and changed ones (on SQLite, and for payments,
after one query finds the rows already there), so a batch costs a few statements per
thousand rows, never one per row. The SQL itself is in domain/billing_write.py.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import cached_property, lru_cache, partial
from operator import itemgetter
from typing import Any, Literal, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.billing_write import (
    is_postgres,
    one_of,
    stored_rows,
    write_rows,
    write_rows_counted,
)
from domain.fields import clean_text
from domain.models import (
    MONEY_SCALE,
    TARIFF_SCALE,
    VOLUME_SCALE,
    Account,
    Charge,
    Meter,
    Payment,
    UsageSession,
)

ColumnType = Literal["text", "choice", "decimal", "integer", "flag", "period", "date", "moment"]
Sign = Literal["any", "not_negative", "positive"]

# Rows per chunk: one statement each for lookups and writes. 1,000 rows of the widest kind
# (accounts, 14 columns) stay well under SQLite's and PostgreSQL's limits on parameters.
CHUNK_ROWS = 1000
# The largest magnitude a number may have: far beyond any bill, far inside a BIGINT.
NUMBER_DIGITS = 12
EARLIEST_YEAR = 1900
LATEST_YEAR = 2100

# A number as billing systems write it: digits, an optional sign, one decimal point or comma.
# No thousands separators and no exponent, so "1,234" can never be misread as 1234.
DECIMAL_TEXT = r"^[+-]?\d+(?:[.,]\d+)?$"
PERIOD_TEXT = r"^\d{4}-(?:0[1-9]|1[0-2])$"
DATE_TEXT = r"^\d{4}-\d{2}-\d{2}$"
MOMENT_TEXT = (
    r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?(?:Z|[+-]\d{2}:?\d{2})?$"
)
_DECIMAL = re.compile(DECIMAL_TEXT, re.ASCII)
_PERIOD = re.compile(PERIOD_TEXT, re.ASCII)
_DATE = re.compile(DATE_TEXT, re.ASCII)
_MOMENT = re.compile(MOMENT_TEXT, re.ASCII)
_INTEGER = re.compile(r"^[+-]?\d{1,9}$", re.ASCII)
_FLAGS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


@dataclass(frozen=True)
class Column:
    """One column of a kind of row: its name in the API and the CSV header, and its rules."""

    name: str
    type: ColumnType
    description: str
    required: bool = False
    # The model attribute it fills, when that is named differently.
    attribute: str = ""
    max_length: int = 0
    choices: tuple[str, ...] = ()
    # Numbers: how many decimal places the column keeps, which signs it takes, its maximum.
    scale: int = 0
    sign: Sign = "any"
    maximum: Decimal | None = None
    default: Any = None

    @property
    def target(self) -> str:
        return self.attribute or self.name


@dataclass(frozen=True)
class RowKind:
    """A kind of billing row, the table it goes to, and its natural key."""

    name: str
    model: type[SQLModel]
    columns: tuple[Column, ...]
    # The model attributes that identify a row within the tenant (the unique constraint).
    key: tuple[str, ...]
    # Whether rows name their account by number (resolved to `account_id`).
    by_account: bool = True
    # Model attributes a stored row never changes (a payment's amount and account): a row
    # giving other values is refused, so these kinds compare with the stored rows first.
    fixed: tuple[str, ...] = ()

    @property
    def table(self) -> Table:
        table: Table = self.model.__table__  # type: ignore[attr-defined]
        return table

    @cached_property
    def defaults(self) -> dict[str, Any]:
        """Each column's value when a new row does not give it."""
        stored = self.table.c
        return {c.target: c.default for c in self.columns if c.target in stored}

    @cached_property
    def key_of(self) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
        """A checked row's natural key, as a tuple."""
        if len(self.key) == 1:
            name = self.key[0]
            return lambda row: (row[name],)
        return itemgetter(*self.key)

    @cached_property
    def names(self) -> frozenset[str]:
        return frozenset(column.name for column in self.columns)

    @cached_property
    def checks(self) -> tuple[CellCheck, ...]:
        """Each column's check, worked out once rather than for every cell."""
        return tuple(
            CellCheck(c.name, c.target, c.required, c.default, _parser_for(c)) for c in self.columns
        )

    def column(self, name: str) -> Column | None:
        return next((column for column in self.columns if column.name == name), None)

    @property
    def required(self) -> list[str]:
        return [column.name for column in self.columns if column.required]


ZERO = Decimal(0)


def _text(
    name: str, limit: int, description: str, *, required: bool = False, attribute: str = ""
) -> Column:
    default = None if required or name not in _BLANK_TEXT else ""
    return Column(name, "text", description, required, attribute, limit, default=default)


def _choice(
    name: str, choices: tuple[str, ...], description: str, required: bool = False
) -> Column:
    """Optional choices default to the first."""
    default = None if required else choices[0]
    return Column(name, "choice", description, required, choices=choices, default=default)


def _number(
    name: str,
    scale: int,
    description: str,
    *,
    required: bool = False,
    sign: Sign = "not_negative",
    maximum: Decimal | None = None,
) -> Column:
    default = None if required else ZERO
    return Column(
        name,
        "decimal",
        description,
        required,
        scale=scale,
        sign=sign,
        maximum=maximum,
        default=default,
    )


# Text columns stored as "" rather than NULL when not given.
_BLANK_TEXT = {"recipient", "tariff_group", "purpose"}
_ACCOUNT = _text(
    "account_number", 40, "The number of the account the row belongs to.", required=True
)

ACCOUNTS = RowKind(
    name="accounts",
    model=Account,
    key=("number",),
    by_account=False,
    columns=(
        _text(
            "account_number",
            40,
            "The account's number, as on the bill; identifies it.",
            required=True,
            attribute="number",
        ),
        _text("holder_name", 300, "The account holder's full name.", required=True),
        _choice("kind", ("individual", "legal"), "A person or a company."),
        _text("holder_national_id", 20, "The holder's national ID."),
        _text("holder_phone", 20, "The holder's phone number."),
        _text("street", 200, "The street of the address supplied."),
        _text("house", 20, "The house number, e.g. 12/1."),
        _text("building", 20, "The building (корпус)."),
        _text("apartment", 20, "The apartment."),
        _text("contract_number", 40, "The contract number (legal entities)."),
        _choice("status", ("active", "closed"), "Whether the account is open."),
    ),
)

METERS = RowKind(
    name="meters",
    model=Meter,
    key=("account_id", "factory_number"),
    columns=(
        _ACCOUNT,
        _text(
            "factory_number",
            40,
            "The meter's factory number; with the account, identifies it.",
            required=True,
        ),
        _choice("service", ("cold_water", "hot_water", "gas", "heat"), "What it measures.", True),
        _choice("state", ("installed", "removed"), "Whether it is installed."),
        Column("verification_due", "date", "When it is next due for verification."),
        Column(
            "decimals",
            "integer",
            "How many decimal places it shows.",
            sign="not_negative",
            maximum=Decimal(4),
            default=3,
        ),
        Column("is_heat_meter", "flag", "A heat meter, read from its printout.", default=False),
    ),
)

CHARGES = RowKind(
    name="charges",
    model=Charge,
    key=("account_id", "period", "service"),
    columns=(
        _ACCOUNT,
        Column("period", "period", "The billing month.", required=True),
        _text(
            "service",
            30,
            "The service; with the account and period, identifies the line.",
            required=True,
        ),
        _text("recipient", 200, "Who the money is for."),
        _text("tariff_group", 20, "The tariff group."),
        _number("volume", VOLUME_SCALE, "The volume billed."),
        _number("tariff", TARIFF_SCALE, "The price per unit."),
        _number("vat_percent", MONEY_SCALE, "VAT, in percent.", maximum=Decimal(100)),
        _number(
            "amount",
            MONEY_SCALE,
            "The amount; negative for a benefit or subsidy.",
            required=True,
            sign="any",
        ),
    ),
)

PAYMENTS = RowKind(
    name="payments",
    model=Payment,
    key=("provider", "reference"),
    fixed=("amount", "account_id"),
    columns=(
        _ACCOUNT,
        _text("provider", 40, "Who took the payment (a bank, a cashier).", required=True),
        _text(
            "reference",
            100,
            "The provider's reference; with the provider, identifies the payment.",
            required=True,
        ),
        Column("paid_at", "moment", "When it was paid.", required=True),
        _number("amount", MONEY_SCALE, "The amount paid.", required=True, sign="positive"),
        _text("purpose", 40, "What it is for."),
    ),
)

USAGE = RowKind(
    name="usage",
    model=UsageSession,
    key=("account_id", "started_at"),
    columns=(
        _ACCOUNT,
        Column(
            "started_at",
            "moment",
            "When the session started; with the account, identifies it.",
            required=True,
        ),
        Column("ended_at", "moment", "When it ended.", required=True),
        _number("megabytes", VOLUME_SCALE, "The data used, in megabytes."),
    ),
)

KINDS: dict[str, RowKind] = {
    kind.name: kind for kind in (ACCOUNTS, METERS, CHARGES, PAYMENTS, USAGE)
}


# --- checking one row ----------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """What is wrong with a row: the column ("" for the whole row), a reason code and its values.

    `row` is the caller's label for the row: its index in an API batch, its line in a file.
    """

    row: int
    field: str
    code: str
    params: Mapping[str, str | int]


class _Bad(Exception):
    def __init__(self, code: str, **params: str | int) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


def _parse_text(column: Column, value: Any, zone: ZoneInfo) -> str | None:
    if not isinstance(value, str):
        raise _Bad("not_text")
    # Plain ASCII needs none of clean_text's work (and most billing data is plain ASCII).
    if value.isascii() and value.isprintable() and "  " not in value:
        cleaned = value.strip()
    else:
        cleaned = clean_text(value)
    if len(cleaned) > column.max_length:
        raise _Bad("too_long", limit=column.max_length)
    return cleaned or None


def _parse_choice(column: Column, value: Any, zone: ZoneInfo) -> str | None:
    if not isinstance(value, str):
        raise _Bad("not_text")
    cleaned = value.strip().lower()
    if cleaned and cleaned not in column.choices:
        raise _Bad("bad_choice", choices=", ".join(column.choices))
    return cleaned or None


def _bounded(column: Column, number: Decimal) -> None:
    if column.sign == "positive" and number <= 0:
        raise _Bad("not_positive")
    if column.sign == "not_negative" and number < 0:
        raise _Bad("negative")
    if column.maximum is not None and number > column.maximum:
        raise _Bad("too_big", maximum=str(column.maximum))


def _parse_decimal(column: Column, value: Any, zone: ZoneInfo) -> Decimal | None:
    # Never a float: JSON numbers arrive as Decimal or int, CSV cells as text.
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise _Bad("not_a_number")
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if not _DECIMAL.match(text):
            raise _Bad("not_a_number")
        point = max(text.find("."), text.find(","))
        places = len(text) - point - 1 if point >= 0 else 0
        number = Decimal(text.replace(",", ".") if point >= 0 else text)
    else:
        number = Decimal(value)
        if not number.is_finite():
            raise _Bad("not_a_number")
        exponent = number.as_tuple().exponent
        places = -exponent if isinstance(exponent, int) else 0
    if number and number.adjusted() >= NUMBER_DIGITS:
        raise _Bad("too_large")
    if places > column.scale:
        # "1.50" in a column of one decimal place is still exact.
        try:
            exact = number.quantize(Decimal(1).scaleb(-column.scale))
        except InvalidOperation:
            raise _Bad("too_large") from None
        if exact != number:
            raise _Bad("too_many_decimals", places=column.scale)
    _bounded(column, number)
    return number


def _parse_integer(column: Column, value: Any, zone: ZoneInfo) -> int | None:
    if isinstance(value, bool):
        raise _Bad("not_an_integer")
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if not _INTEGER.match(text):
            raise _Bad("not_an_integer")
        number = int(text)
    elif isinstance(value, int):
        number = value
    elif (
        isinstance(value, Decimal)
        and value.is_finite()
        and value.adjusted() < NUMBER_DIGITS
        and value == value.to_integral_value()
    ):
        number = int(value)
    else:
        raise _Bad("not_an_integer")
    _bounded(column, Decimal(number))
    return number


def _parse_flag(column: Column, value: Any, zone: ZoneInfo) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if not text:
            return None
        if text in _FLAGS:
            return _FLAGS[text]
    raise _Bad("bad_flag")


def _in_range(year: int) -> None:
    if not EARLIEST_YEAR <= year <= LATEST_YEAR:
        raise _Bad("date_out_of_range", earliest=EARLIEST_YEAR, latest=LATEST_YEAR)


def _parse_period(column: Column, value: Any, zone: ZoneInfo) -> date | None:
    if not isinstance(value, str):
        raise _Bad("bad_period")
    text = value.strip()
    if not text:
        return None
    return _month(text)


# Periods repeat from row to row (a batch is mostly one month's bills), and there are only
# a few thousand valid ones; refused texts raise, so they are never kept.
@lru_cache(maxsize=4096)
def _month(text: str) -> date:
    if not _PERIOD.match(text):
        raise _Bad("bad_period")
    year, month = int(text[:4]), int(text[5:7])
    _in_range(year)
    return date(year, month, 1)


def _parse_date(column: Column, value: Any, zone: ZoneInfo) -> date | None:
    if not isinstance(value, str):
        raise _Bad("bad_date")
    text = value.strip()
    if not text:
        return None
    if not _DATE.match(text):
        raise _Bad("bad_date")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise _Bad("bad_date") from None
    _in_range(day.year)
    return day


def _parse_moment(column: Column, value: Any, zone: ZoneInfo) -> datetime | None:
    """A date and time; one written without an offset is in the tenant's time zone."""
    if not isinstance(value, str):
        raise _Bad("bad_moment")
    text = value.strip()
    if not text:
        return None
    if not _MOMENT.match(text):
        raise _Bad("bad_moment")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _Bad("bad_moment") from None
    _in_range(moment.year)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


_ABSENT = object()

_PARSERS: dict[ColumnType, Callable[[Column, Any, ZoneInfo], Any]] = {
    "text": _parse_text,
    "choice": _parse_choice,
    "decimal": _parse_decimal,
    "integer": _parse_integer,
    "flag": _parse_flag,
    "period": _parse_period,
    "date": _parse_date,
    "moment": _parse_moment,
}


Parser = Callable[[Any, ZoneInfo], Any]


class CellCheck(NamedTuple):
    """A column's check, as `check_row` runs it for every cell."""

    name: str
    target: str
    required: bool
    default: Any
    parse: Parser


def _decimal_parser(column: Column) -> Parser:
    """`_parse_decimal` with a shortcut for the usual cell: a plain number text with at most
    NUMBER_DIGITS digits before the point and the column's places after it, of an allowed
    sign and size. Anything else (an error, an exponent, "1.50" in a column of one place)
    takes the full check, so both ways give the same value or the same problem."""
    places = rf"(?:[.,]\d{{1,{column.scale}}})?" if column.scale else ""
    plain = re.compile(rf"^[+-]?\d{{1,{NUMBER_DIGITS}}}{places}$", re.ASCII).match
    sign, maximum = column.sign, column.maximum

    def parse(value: Any, zone: ZoneInfo) -> Decimal | None:
        if type(value) is str and plain(value):
            number = Decimal(value.replace(",", "."))
            signed = sign == "any" or (number > 0 if sign == "positive" else number >= 0)
            if signed and (maximum is None or number <= maximum):
                return number
        return _parse_decimal(column, value, zone)

    return parse


def _parser_for(column: Column) -> Parser:
    if column.type == "decimal":
        return _decimal_parser(column)
    return partial(_PARSERS[column.type], column)


def check_row(
    kind: RowKind, values: Mapping[str, Any] | Any, zone: ZoneInfo
) -> tuple[dict[str, Any], list[tuple[str, str, dict[str, str | int]]]]:
    """The row's values by model attribute, for the columns it has, and its problems.

    A column the row does not have is left out (an update keeps what is there); one it has
    empty (or null) gets the column's default.
    """
    parsed: dict[str, Any] = {}
    problems: list[tuple[str, str, dict[str, str | int]]] = []
    if not isinstance(values, Mapping):
        return parsed, [("", "not_an_object", {})]
    if len(values) > len(kind.columns) or not kind.names.issuperset(values):
        for name in values:
            if name not in kind.names:
                problems.append((str(name)[:60], "unknown_field", {}))
    for name, target, required, default, parse in kind.checks:
        raw = values.get(name, _ABSENT)
        if raw is _ABSENT:
            if required:
                problems.append((name, "required", {}))
            continue
        try:
            value = None if raw is None else parse(raw, zone)
        except _Bad as bad:
            problems.append((name, bad.code, dict(bad.params)))
            continue
        if value is None:
            if required:
                problems.append((name, "required", {}))
                continue
            value = default
        parsed[target] = value
    if kind is USAGE:
        started, ended = parsed.get("started_at"), parsed.get("ended_at")
        if started and ended and ended < started:
            problems.append(("ended_at", "ends_before_start", {}))
    return parsed, problems


# --- planning and writing a chunk -------------------------------------------------------------


@dataclass
class Counts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0

    def add(self, other: Counts) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.failed += other.failed

    @property
    def written(self) -> int:
        return self.inserted + self.updated

    @property
    def accepted(self) -> int:
        """Rows that are now as given: written, or already so."""
        return self.inserted + self.updated + self.unchanged


@dataclass
class ChunkPlan:
    """What a chunk would change: the rows to write, grouped by the columns they set.

    When `compared`, the rows were compared with the stored ones while planning: `writes`
    holds just the new and changed rows and the counts are final. Otherwise (PostgreSQL,
    except for kinds with fixed columns) `writes` holds every valid row, and writing them
    adds the inserted, updated and unchanged counts: the database compares as it writes.
    """

    kind: RowKind
    tenant_id: int
    compared: bool = True
    # What a new row has wherever it gives no value (see `_constant`).
    constant: dict[str, Any] = field(default_factory=dict)
    writes: dict[frozenset[str], list[dict[str, Any]]] = field(default_factory=dict)
    counts: Counts = field(default_factory=Counts)
    problems: list[Problem] = field(default_factory=list)


def chunked(rows: Sequence[Any], size: int = CHUNK_ROWS) -> Iterator[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


@dataclass
class BatchState:
    """What the chunks of one batch share: the natural keys seen so far (a key given twice is
    refused: one statement may not change a row twice, and the second would hide the first),
    and the account numbers already resolved."""

    seen: dict[tuple[Any, ...], int] = field(default_factory=dict)
    account_ids: dict[str, int | None] = field(default_factory=dict)


Checked = list[tuple[int, dict[str, Any]]]


def _check_rows(
    kind: RowKind, rows: Sequence[tuple[int, Mapping[str, Any] | Any]], zone: ZoneInfo
) -> tuple[Checked, list[Problem]]:
    """Each row checked on its own: the parsed ones, and the problems of the rest."""
    checked: Checked = []
    bad: list[Problem] = []
    for label, values in rows:
        parsed, problems = check_row(kind, values, zone)
        if problems:
            bad.extend(Problem(label, name, code, params) for name, code, params in problems)
        else:
            checked.append((label, parsed))
    return checked, bad


async def _resolve_accounts(
    connection: AsyncConnection, tenant_id: int, numbers: Iterable[str], state: BatchState
) -> None:
    """Look up the numbers not resolved by an earlier chunk; None for those that do not exist."""
    table: Table = Account.__table__  # type: ignore[attr-defined]
    wanted = sorted({number for number in numbers if number not in state.account_ids})
    if not wanted:
        return
    found = await connection.execute(
        select(table.c.number, table.c.id).where(
            table.c.tenant_id == tenant_id, one_of(connection, table.c.number, wanted)
        )
    )
    state.account_ids.update(dict.fromkeys(wanted))
    state.account_ids.update({number: account_id for number, account_id in found})


async def _with_accounts(
    connection: AsyncConnection, plan: ChunkPlan, checked: Checked, state: BatchState
) -> Checked:
    """The rows whose account number exists, with its `account_id` in place of the number."""
    numbers = (parsed["account_number"] for _, parsed in checked)
    await _resolve_accounts(connection, plan.tenant_id, numbers, state)
    resolved = []
    for label, parsed in checked:
        number = parsed.pop("account_number")
        account_id = state.account_ids[number]
        if account_id is None:
            plan.problems.append(
                Problem(label, "account_number", "unknown_account", {"number": number})
            )
            continue
        parsed["account_id"] = account_id
        resolved.append((label, parsed))
    return resolved


def _first_of_each_key(
    plan: ChunkPlan, checked: Checked, state: BatchState
) -> list[tuple[int, tuple[Any, ...], dict[str, Any]]]:
    """The rows with their natural keys, but for a key the batch already gave (refused)."""
    keyed = []
    key_of = plan.kind.key_of
    for label, parsed in checked:
        key = key_of(parsed)
        if key in state.seen:
            plan.problems.append(Problem(label, "", "duplicate_key", {"first": state.seen[key]}))
            continue
        state.seen[key] = label
        keyed.append((label, key, parsed))
    return keyed


def _constant(kind: RowKind, tenant_id: int, now: datetime) -> dict[str, Any]:
    """What a new row has wherever it gives no value: the columns' defaults, the tenant,
    and for an account the time it was created. The same for every row, so it is sent
    once a statement rather than once a row."""
    constant = {**kind.defaults, "tenant_id": tenant_id}
    if kind is ACCOUNTS:
        constant["created_at"] = now
    return constant


def _compare(
    plan: ChunkPlan,
    keyed: list[tuple[int, tuple[Any, ...], dict[str, Any]]],
    stored: Mapping[tuple[Any, ...], Mapping[Any, Any]],
) -> None:
    """Count each row as new, changed or already so, and plan writing the first two; a row
    that would change a fixed column is refused."""
    kind = plan.kind
    for label, key, parsed in keyed:
        before = stored.get(key)
        if before is not None:
            if any(before[name] != parsed[name] for name in kind.fixed):
                plan.problems.append(Problem(label, kind.fixed[0], "payment_differs", {}))
                continue
            if all(before[name] == value for name, value in parsed.items()):
                plan.counts.unchanged += 1
                continue
            plan.counts.updated += 1
        else:
            plan.counts.inserted += 1
        plan.writes.setdefault(frozenset(parsed), []).append(parsed)


async def plan_chunk(
    session: AsyncSession,
    *,
    tenant_id: int,
    kind: RowKind,
    rows: Sequence[tuple[int, Mapping[str, Any] | Any]],
    zone: ZoneInfo,
    state: BatchState,
    now: datetime,
) -> ChunkPlan:
    """Check a chunk of (label, values) rows against each other, the batch's earlier chunks
    and the database; write nothing."""
    # Core statements run on the session's connection, in its transaction: rows of columns
    # need none of the ORM's work.
    connection = await session.connection()
    # PostgreSQL counts inserts and updates as it writes (see `write_rows_counted`); rows
    # with fixed columns are compared first anywhere, so a refused one is known before
    # anything is written.
    plan = ChunkPlan(
        kind,
        tenant_id,
        compared=not is_postgres(connection) or bool(kind.fixed),
        constant=_constant(kind, tenant_id, now),
    )
    # A chunk's checks take a few milliseconds of CPU (6 for 1,000 charges), run in the
    # event loop: a worker thread measured no faster, and would hardly free the loop (it
    # needs the GIL too). Other requests get their turn before the next chunk.
    checked, bad = _check_rows(kind, rows, zone)
    await asyncio.sleep(0)
    plan.problems.extend(bad)
    if kind.by_account:
        checked = await _with_accounts(connection, plan, checked, state)
    keyed = _first_of_each_key(plan, checked, state)
    if plan.compared:
        keys = [key for _, key, _ in keyed]
        stored = await stored_rows(connection, kind.table, tenant_id, kind.key, keys)
        _compare(plan, keyed, stored)
    else:
        for _, _, parsed in keyed:
            plan.writes.setdefault(frozenset(parsed), []).append(parsed)
    plan.counts.failed = len({problem.row for problem in plan.problems})
    plan.problems.sort(key=lambda problem: problem.row)
    return plan


async def write_plan(session: AsyncSession, plan: ChunkPlan) -> None:
    """Write a planned chunk: one INSERT ... ON CONFLICT DO UPDATE per set of columns given.

    For a plan not `compared`, adds what the database counted to the plan's counts.
    """
    kind = plan.kind
    connection = await session.connection()
    for present, rows in plan.writes.items():
        changed = [name for name in present if name not in kind.key]
        constant = {name: value for name, value in plan.constant.items() if name not in present}
        if plan.compared:
            await write_rows(
                connection, kind.table, kind.key, rows, constant, changed=changed, fixed=kind.fixed
            )
            continue
        inserted, updated = await write_rows_counted(
            connection, kind.table, kind.key, rows, constant, changed=changed
        )
        plan.counts.inserted += inserted
        plan.counts.updated += updated
        plan.counts.unchanged += len(rows) - inserted - updated


@dataclass
class BatchOutcome:
    counts: Counts
    problems: list[Problem]
    # False when nothing was written because a row had a problem (mode "all").
    written: bool


async def upsert_batch(
    session: AsyncSession,
    *,
    tenant_id: int,
    kind: RowKind,
    rows: Sequence[tuple[int, Mapping[str, Any] | Any]],
    timezone: str,
    valid_only: bool,
    now: datetime,
) -> BatchOutcome:
    """Check and write a whole batch in the session's transaction; the caller commits.

    Unless `valid_only`, every row is checked first and nothing is written if any has a
    problem; with it, the valid rows are written and the others reported.
    """
    zone = ZoneInfo(timezone)
    state = BatchState()
    counts = Counts()
    problems: list[Problem] = []
    plans: list[ChunkPlan] = []
    for chunk in chunked(rows):
        plan = await plan_chunk(
            session, tenant_id=tenant_id, kind=kind, rows=chunk, zone=zone, state=state, now=now
        )
        problems.extend(plan.problems)
        plans.append(plan)
        if valid_only:
            await write_plan(session, plan)
    failed = sum(plan.counts.failed for plan in plans)
    if failed and not valid_only:
        return BatchOutcome(Counts(failed=failed), problems, written=False)
    for plan in plans:
        if not valid_only:
            await write_plan(session, plan)
        counts.add(plan.counts)
    return BatchOutcome(counts, problems, written=True)
