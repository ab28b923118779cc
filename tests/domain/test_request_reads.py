"""One read session per request: shared within the request's task, never beyond it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy.exc import DBAPIError
from sqlmodel import col, select, text

from domain.db import Database
from domain.models import Tenant


def _run(database_url: str, scenario: Callable[[Database], Awaitable[None]]) -> None:
    async def run() -> None:
        database = Database(database_url)
        try:
            await scenario(database)
        finally:
            await database.dispose()

    asyncio.run(run())


async def _slugs(database: Database) -> list[str]:
    async with database.reads() as session:
        rows = await session.exec(select(Tenant.slug).order_by(col(Tenant.slug)))
        return list(rows.all())


def test_reads_within_a_request_share_one_session_and_hand_back_detached_objects(
    database_url: str,
) -> None:
    async def scenario(database: Database) -> None:
        async with database.request_reads():
            async with database.reads() as first:
                tenant = (await first.exec(select(Tenant).limit(1))).one()
            async with database.reads() as second:
                assert second is first
                assert tenant not in second  # detached, free to go to a write session
            async with database.session() as writer:
                writer.add(tenant)  # refused if it were still attached to the reader
                await writer.rollback()

            # A task the request starts (a delivery kick, say) gets its own session.
            outside: list[object] = []

            async def elsewhere() -> None:
                async with database.reads() as session:
                    outside.append(session)

            await asyncio.create_task(elsewhere())
            assert outside[0] is not first

        async with database.reads() as after:  # the request is over: a session of its own
            assert after is not first

    _run(database_url, scenario)


def test_a_failed_statement_leaves_the_shared_session_usable(database_url: str) -> None:
    async def scenario(database: Database) -> None:
        async with database.request_reads():
            with pytest.raises(DBAPIError):
                async with database.reads() as session:
                    connection = await session.connection()
                    await connection.execute(text("SELECT no_such_column FROM tenant"))
            assert "ivanovo-water" in await _slugs(database)

    _run(database_url, scenario)


def test_a_request_that_writes_gives_its_read_connection_back_first(database_url: str) -> None:
    async def scenario(database: Database) -> None:
        pool: Any = database.engine.pool
        async with database.request_reads():
            assert "ivanovo-water" in await _slugs(database)
            assert pool.checkedout() == 1  # the request's read session keeps its connection
            async with database.session() as writer:
                await writer.exec(select(Tenant.id).limit(1))
                assert pool.checkedout() == 1  # the writer's only
            assert "ivanovo-water" in await _slugs(database)  # and reads go on
        assert pool.checkedout() == 0

    _run(database_url, scenario)
