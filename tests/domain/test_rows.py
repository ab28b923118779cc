"""Objects made from Core rows behave as the ORM's own: same values, detached, writable."""

from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy import select as sa_select
from sqlmodel import col, select

from domain.db import Database
from domain.models import Account
from domain.rows import columns_of, detached

COLUMNS = columns_of(Account)


async def test_a_row_made_object_equals_the_loaded_one_and_updates_as_an_existing_row(
    database_url: str,
) -> None:
    database = Database(database_url)
    try:
        async with database.session() as session:
            loaded = (await session.exec(select(Account).order_by(col(Account.id)))).first()
            assert loaded is not None
            connection = await session.connection()
            row = (
                await connection.execute(sa_select(*COLUMNS).where(col(Account.id) == loaded.id))
            ).one()
            expected = loaded.model_dump()
        made = detached(Account, COLUMNS, row)
        assert made.model_dump() == expected
        state = inspect(made)
        assert state.detached and not state.modified

        async with database.session() as session:
            session.add(made)  # an existing row: an UPDATE of what changed, not an INSERT
            made.contract_number = "RENAMED-1"
            await session.commit()
        async with database.reads() as session:
            stored = await session.get(Account, made.id)
            assert stored is not None and stored.contract_number == "RENAMED-1"
            assert stored.holder_name == expected["holder_name"]
    finally:
        async with database.session() as session:
            again = await session.get(Account, expected["id"])
            assert again is not None
            again.contract_number = expected["contract_number"]
            await session.commit()
        await database.dispose()
