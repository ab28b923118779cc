"""The SQL of billing imports: a chunk upserted in one statement, and the rows already stored.

Kept apart from the row schemas and checks (domain/billing_import.py) because this is where
the two databases differ. PostgreSQL takes a chunk as one array per column and says, in
the same statement, which rows it inserted and which it changed, so nothing need be read
first. SQLite takes multi-row VALUES and has no such marker of an insert; there the rows
already stored are read first and compared in Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Boolean, Table, and_, any_, bindparam, func, literal_column, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

Row = dict[str, Any]
Key = tuple[Any, ...]


def is_postgres(connection: AsyncConnection) -> bool:
    return connection.dialect.name == "postgresql"


def one_of(connection: AsyncConnection, column: Any, values: Iterable[Any]) -> Any:
    """`column IN (values)`; on PostgreSQL `= ANY(array)`, one parameter instead of a thousand,
    which is two to three times quicker to send and plan."""
    if is_postgres(connection):
        array = bindparam(None, list(values), type_=postgresql.ARRAY(column.type))
        return column == any_(array)
    return column.in_(list(values))


async def stored_rows(
    connection: AsyncConnection,
    table: Table,
    tenant_id: int,
    key: Sequence[str],
    keys: list[Key],
) -> dict[Key, Mapping[Any, Any]]:
    """The tenant's rows already there with these natural keys, by key."""
    if not keys:
        return {}
    if is_postgres(connection):
        query = _with_keys_joined(table, tenant_id, key, keys)
    else:
        query = _with_keys_listed(connection, table, tenant_id, key, keys)
    wanted = set(keys)
    found: dict[Key, Mapping[Any, Any]] = {}
    for row in await connection.execute(query):
        mapping = row._mapping
        natural = tuple(mapping[name] for name in key)
        if natural in wanted:
            found[natural] = mapping
    return found


def _with_keys_joined(table: Table, tenant_id: int, key: Sequence[str], keys: list[Key]) -> Any:
    """The keys as arrays unnested and joined to the table: one index probe per key, whatever
    plan PostgreSQL settles on for the prepared statement. (With `= ANY` lists, the generic
    plan it switched to after five calls scanned a whole index: 15 times slower.)"""
    arrays = [
        bindparam(None, [found[position] for found in keys], postgresql.ARRAY(table.c[name].type))
        for position, name in enumerate(key)
    ]
    given = func.unnest(*arrays).table_valued(*key).render_derived(name="given")
    joined = and_(*(table.c[name] == given.c[name] for name in key))
    return select(table).join(given, joined).where(table.c.tenant_id == tenant_id)


def _with_keys_listed(
    connection: AsyncConnection, table: Table, tenant_id: int, key: Sequence[str], keys: list[Key]
) -> Any:
    """One IN list per key column, then exact keys kept in Python: a third of the cost of a
    tuple IN list on SQLite; the few extra rows it may fetch are dropped."""
    conditions = [
        one_of(connection, table.c[name], {found[position] for found in keys})
        for position, name in enumerate(key)
    ]
    return select(table).where(table.c.tenant_id == tenant_id, *conditions)


def _insert(table: Table, rows: list[Row], constant: Row, postgres: bool) -> tuple[Any, Any]:
    """One INSERT for a chunk's rows (all giving the same columns), each completed with the
    `constant` columns, with its parameters.

    On PostgreSQL the rows go as one array per column, unnested by the server, and each
    constant as one value: one small statement, compiled and planned once whatever the
    chunk's size (several times faster than a VALUES list of thousands of parameters). On
    SQLite, RETURNING makes SQLAlchemy send multi-row VALUES statements
    ("insertmanyvalues") rather than a statement per row.
    """
    if not postgres:
        return sqlite.insert(table), [{**constant, **row} for row in rows]
    given = list(rows[0])
    arrays = [bindparam(name, type_=postgresql.ARRAY(table.c[name].type)) for name in given]
    source = select(
        *(bindparam(name, type_=table.c[name].type) for name in constant),
        *(func.unnest(array) for array in arrays),
    )
    values = {**constant, **{name: [row[name] for row in rows] for name in given}}
    return postgresql.insert(table).from_select([*constant, *given], source), values


def _updating(statement: Any, key: Sequence[str], changed: Sequence[str], where: Any) -> Any:
    """The INSERT, turned into an update of the `changed` columns where the tenant's natural
    key is already stored and `where` holds."""
    return statement.on_conflict_do_update(
        index_elements=["tenant_id", *key],
        set_={name: statement.excluded[name] for name in changed},
        where=where,
    )


async def write_rows(
    connection: AsyncConnection,
    table: Table,
    key: Sequence[str],
    rows: list[Row],
    constant: Row,
    *,
    changed: Sequence[str],
    fixed: Sequence[str] = (),
) -> None:
    """Insert the rows, or update the `changed` columns of those already there.

    A stored row whose `fixed` columns differ is left as it is: even if it arrived after
    the rows were compared, a payment's amount and account never change.
    """
    postgres = is_postgres(connection)
    statement, values = _insert(table, rows, constant, postgres)
    guard = and_(*(table.c[name] == statement.excluded[name] for name in fixed)) if fixed else None
    statement = _updating(statement, key, changed, where=guard)
    if not postgres:
        statement = statement.returning(table.c.id)
    await connection.execute(statement, values)


async def write_rows_counted(
    connection: AsyncConnection,
    table: Table,
    key: Sequence[str],
    rows: list[Row],
    constant: Row,
    *,
    changed: Sequence[str],
) -> tuple[int, int]:
    """`write_rows` on PostgreSQL, returning how many rows it inserted and how many it updated;
    the rest were already as given, and are not touched at all.

    A row version made by this INSERT has no xmax; one made by its DO UPDATE carries the
    updating transaction's, and a row the WHERE finds unchanged is not returned. So one
    statement writes the chunk and counts it, with no read of the stored rows first, and
    the counts come back as one row rather than a row per row written.
    """
    statement, values = _insert(table, rows, constant, postgres=True)
    differs = or_(*(table.c[name].is_distinct_from(statement.excluded[name]) for name in changed))
    statement = _updating(statement, key, changed, where=differs)
    inserted = literal_column("xmax = 0", Boolean).label("inserted")
    written = statement.returning(inserted).cte("written")
    counts = select(func.count().filter(written.c.inserted), func.count()).select_from(written)
    new, touched = (await connection.execute(counts, values)).one()
    return new, touched - new
