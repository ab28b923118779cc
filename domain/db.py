"""Database engines for the app (async) and for migrations (sync), from one URL."""

from __future__ import annotations

from asyncio import Task, current_task
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.sqlite_driver import one_trip_dbapi


def sync_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database: {parsed.get_backend_name()}")


def async_url(url: str) -> str:
    # asyncpg for the app: a statement costs it about a third of the CPU psycopg's async
    # mode takes (bench/results), and every page pays for a few. Migrations stay on psycopg.
    parsed = make_url(sync_url(url))
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def _ensure_sqlite_directory(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def _tune_sqlite(engine: Engine) -> None:
    # WAL lets readers work during a write; the busy timeout makes concurrent writers wait
    # instead of failing; SQLite leaves foreign keys off unless asked on every connection.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def create_sync_engine(url: str) -> Engine:
    _ensure_sqlite_directory(url)
    engine = create_engine(sync_url(url))
    if engine.dialect.name == "sqlite":
        _tune_sqlite(engine)
    return engine


def create_app_engine(url: str) -> AsyncEngine:
    _ensure_sqlite_directory(url)
    # Pools big enough for a worker's concurrent requests, so that connections are not
    # opened and closed under load (an overflow connection is closed when it comes back;
    # for SQLite that is a thread and a file each time). No pre-ping: it costs a round trip
    # on every checkout; after a database restart the first statement on a stale
    # connection fails once and SQLAlchemy then discards the pool's older connections.
    options: dict[str, Any] = {"pool_size": 10, "max_overflow": 10, "pool_recycle": 3600}
    if make_url(url).database in (None, "", ":memory:"):
        options = {}  # an in-memory SQLite database lives in one connection
    if make_url(url).get_backend_name() == "sqlite":
        options["module"] = one_trip_dbapi()
    engine = create_async_engine(async_url(url), **options)
    if engine.dialect.name == "sqlite":
        _tune_sqlite(engine.sync_engine)
    return engine


@dataclass
class _SharedReads:
    database: Database
    task: Task[Any] | None
    session: AsyncSession | None = None  # made when the request first reads
    reading: int = 0  # reads() blocks open on it


_REQUEST_READS: ContextVar[_SharedReads | None] = ContextVar("request_reads", default=None)


class Database:
    """The app's engine and a session factory; one per process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_app_engine(url)
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )
        # On SQLite, switching a connection to autocommit and back costs two trips to
        # aiosqlite's thread, more than the rollback it saves; reads use plain sessions.
        readers = self.engine
        if self.engine.dialect.name == "postgresql":
            readers = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._reads = async_sessionmaker(readers, class_=AsyncSession, expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        shared = self._shared()
        if shared is not None and shared.session is not None and not shared.reading:
            # A request that goes on to write gives its read connection back first, so that
            # it holds one connection at a time: eight requests writing at once would hold
            # sixteen, past the pool, and each one past it is opened and closed again.
            await shared.session.close()
        async with self._sessions() as session:
            yield session

    def _shared(self) -> _SharedReads | None:
        """This request's shared read session, when this task is the request's."""
        shared = _REQUEST_READS.get()
        if shared is None or shared.database is not self or shared.task is not current_task():
            return None
        return shared

    @asynccontextmanager
    async def reads(self) -> AsyncIterator[AsyncSession]:
        """A session for what every page load does: reading, or one statement that stands
        alone (renewing a session). On PostgreSQL it runs outside any transaction, which
        spares each page a BEGIN and a ROLLBACK; each statement sees what is committed when
        it runs, as READ COMMITTED gives inside a transaction too. Anything that must
        change several rows together uses `session()`."""
        shared = self._shared()
        if shared is None:
            async with self._reads() as session:
                yield session
            return
        if shared.session is None:
            shared.session = self._reads()
        session = shared.session
        shared.reading += 1
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        finally:
            shared.reading -= 1
            # What was read leaves the session, as closing it would do: an object may go on
            # to a write session, which refuses one still attached to another.
            session.expunge_all()

    @asynccontextmanager
    async def request_reads(self) -> AsyncIterator[None]:
        """Within this block, `reads()` in this task gives one session for the request: the
        visitor's lookup and the page's reads share its connection, which spares a session
        and a pool checkout on every signed-in page. Other tasks get sessions of their own."""
        shared = _SharedReads(self, current_task())
        token = _REQUEST_READS.set(shared)
        try:
            yield
        finally:
            _REQUEST_READS.reset(token)
            if shared.session is not None:
                await shared.session.close()

    async def dispose(self) -> None:
        await self.engine.dispose()
