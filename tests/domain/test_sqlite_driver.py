"""The app's SQLite adapter: one trip to aiosqlite's thread per statement, the same results."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import CursorResult, text
from sqlalchemy.exc import IntegrityError

from domain.db import Database

# These tests speak plain SQL through the ORM session, which SQLModel's session frowns on.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def database(tmp_path: Path) -> Any:
    db = Database(f"sqlite:///{tmp_path / 'driver.sqlite3'}")

    async def create() -> None:
        async with db.session() as session:
            await session.execute(
                text("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL)")
            )
            await session.commit()

    asyncio.run(create())
    yield db
    asyncio.run(db.dispose())


class TripCounter:
    """Counts the calls aiosqlite runs on its thread (a spy: each call still runs)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.trips = 0
        original = aiosqlite.Connection._execute

        async def counted(connection: aiosqlite.Connection, fn: Any, *a: Any, **kw: Any) -> Any:
            self.trips += 1
            return await original(connection, fn, *a, **kw)

        monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)


def test_a_read_is_one_trip_and_needs_no_rollback(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def read() -> list[Any]:
        async with database.reads() as session:  # warm the pool: connecting is trips too
            await session.execute(text("SELECT 1"))
        counter = TripCounter(monkeypatch)
        async with database.reads() as session:
            rows = (await session.execute(text("SELECT 1 AS one, 'two' AS two"))).all()
        assert counter.trips == 1
        return [tuple(row) for row in rows]

    assert asyncio.run(read()) == [(1, "two")]


def test_writes_report_rows_and_ids_and_commit_or_roll_back(database: Database) -> None:
    async def scenario() -> None:
        async with database.session() as session:
            inserted = await session.execute(
                text("INSERT INTO item (name) VALUES (:name)"), {"name": "first"}
            )
            assert isinstance(inserted, CursorResult) and inserted.lastrowid == 1
            await session.execute(
                text("INSERT INTO item (name) VALUES (:name)"),
                [{"name": "second"}, {"name": "third"}],
            )
            await session.commit()

        async with database.session() as session:
            updated = await session.execute(text("UPDATE item SET name = name || '!'"))
            assert isinstance(updated, CursorResult) and updated.rowcount == 3
            await session.rollback()

        async with database.session() as session:
            with pytest.raises(IntegrityError):
                await session.execute(text("INSERT INTO item (name) VALUES ('first')"))
            await session.rollback()

        async with database.reads() as session:
            names = (await session.execute(text("SELECT name FROM item ORDER BY id"))).scalars()
            assert list(names) == ["first", "second", "third"]

    asyncio.run(scenario())


def test_concurrent_sessions_each_get_their_own_rows(database: Database) -> None:
    async def scenario() -> None:
        async with database.session() as session:
            await session.execute(
                text("INSERT INTO item (name) VALUES (:name)"),
                [{"name": f"item {n}"} for n in range(50)],
            )
            await session.commit()

        async def count_below(limit: int) -> int:
            async with database.reads() as session:
                result = await session.execute(
                    text("SELECT count(*) FROM item WHERE id <= :limit"), {"limit": limit}
                )
                return int(result.scalar_one())

        assert await asyncio.gather(*(count_below(n) for n in range(1, 41))) == list(range(1, 41))

    asyncio.run(scenario())
