"""Shared fixtures: a migrated database per backend, the real app, an HTTP client on it.

Every test that takes `portal_settings` runs on SQLite, and again on PostgreSQL when
PORTAL_TEST_DATABASE_URL is set. Tests go through HTTP and the real app: nothing of
ours is mocked.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from domain.db import Database, create_sync_engine
from domain.demo import load_demo_data
from domain.migrate import upgrade
from domain.tenancy import install_presets, published_configs
from tenants.loader import load_presets
from web.settings import Settings

# The real SMTP server and SMS gateway fixtures, for every test that wants them.
pytest_plugins = ["tests.servers"]

POSTGRES_URL = os.environ.get("PORTAL_TEST_DATABASE_URL")
BACKENDS = ["sqlite", *(["postgresql"] if POSTGRES_URL else [])]
# A fixed "today" so demo data and every date on a page are the same on every run.
DEMO_TODAY = date(2026, 11, 21)


def _reset_postgres(url: str) -> None:
    engine = create_sync_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


async def seed(url: str) -> None:
    """Install the presets and load the demo data with the fixed DEMO_TODAY."""
    from domain.db import Database

    database = Database(url)
    async with database.session() as session:
        await install_presets(session, load_presets())
        await load_demo_data(session, await published_configs(session), today=DEMO_TODAY)
    await database.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database holding the six presets and their demo data."""
    if request.param == "postgresql":
        assert POSTGRES_URL
        _reset_postgres(POSTGRES_URL)
        url = POSTGRES_URL
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'portal.sqlite3'}"
    upgrade(url)
    # In a thread of its own: Playwright's sync API may already run a loop in this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, seed(url)).result()
    _keep_pristine_copy(url)
    return url


def _pristine_name(url: str) -> str:
    return url if url.startswith("sqlite") else url.rsplit("/", 1)[1] + "_pristine"


def _keep_pristine_copy(url: str) -> None:
    """A copy of the freshly seeded database, for tests that need one of their own."""
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as source, sqlite3.connect(path + ".pristine") as copy:
            source.backup(copy)
        return
    _admin_sql(url, f'DROP DATABASE IF EXISTS "{_pristine_name(url)}" WITH (FORCE)')
    _admin_sql(url, f'CREATE DATABASE "{_pristine_name(url)}" TEMPLATE "{url.rsplit("/", 1)[1]}"')


def _admin_sql(url: str, statement: str) -> None:
    engine = create_sync_engine(url.rsplit("/", 1)[0] + "/postgres")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(statement))
    engine.dispose()


@pytest.fixture
def private_settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings on a database of this test's own, seeded like the shared one.

    For tests that change what every other test relies on: publishing a tenant's
    configuration, creating tenants. On PostgreSQL it is a database copied from a
    template, dropped and made again for each such test.
    """
    if database_url.startswith("sqlite"):
        path = tmp_path / "private.sqlite3"
        source_path = database_url.removeprefix("sqlite:///") + ".pristine"
        with sqlite3.connect(source_path) as source, sqlite3.connect(path) as copy:
            source.backup(copy)
        url = f"sqlite:///{path}"
    else:
        name = database_url.rsplit("/", 1)[1] + "_private"
        _admin_sql(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _admin_sql(
            database_url, f'CREATE DATABASE "{name}" TEMPLATE "{_pristine_name(database_url)}"'
        )
        url = database_url.rsplit("/", 1)[0] + "/" + name
    return Settings(
        database_url=url,
        base_domain="localhost",
        secret_key="test-secret-key-0123456789",
        demo=True,
    )


@pytest.fixture(scope="session")
def portal_settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        base_domain="localhost",
        secret_key="test-secret-key-0123456789",
        demo=True,
    )


# Apps finished with by earlier tests, by settings. Building a Litestar app registers every
# route handler again (about 0.1-0.2 s); a test gets a used one back in the state a new one
# has: its clock reset, its database pool emptied, its tenants reloaded.
_IDLE_APPS: dict[Settings, list[Any]] = {}


async def _checkout_app(settings: Settings) -> Any:
    from web.app import create_app

    idle = _IDLE_APPS.setdefault(settings, [])
    app = idle.pop() if idle else create_app(settings)
    await app.portal.reload_tenants()
    return app


async def _return_app(settings: Settings, app: Any) -> None:
    from domain.models import utcnow

    app.portal.clock = utcnow
    await app.portal.database.dispose()
    _IDLE_APPS.setdefault(settings, []).append(app)


@pytest.fixture
async def client(portal_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the real app in this process."""
    app = await _checkout_app(portal_settings)
    # Each test comes from an address of its own, so per-address limits hit in one test
    # never spill into another.
    address = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
        yield http
    await _return_app(portal_settings, app)


MakeClient = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """The test database, for tests that read or write rows directly."""
    db = Database(database_url)
    yield db
    await db.dispose()


@pytest.fixture
async def make_client(portal_settings: Settings) -> AsyncIterator[MakeClient]:
    """Clients on apps of their own, as separate processes would be (a staff member beside a
    customer), each from a chosen address and optionally with its clock set."""
    opened: list[tuple[Any, httpx.AsyncClient]] = []

    async def make(
        address: str = "127.0.0.1", clock: Callable[[], datetime] | None = None
    ) -> httpx.AsyncClient:
        app = await _checkout_app(portal_settings)
        if clock is not None:
            app.portal.clock = clock
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        http = httpx.AsyncClient(
            transport=transport, base_url="http://localhost", headers={"Accept-Language": "en"}
        )
        opened.append((app, http))
        return http

    yield make
    for app, http in opened:
        await http.aclose()
        await _return_app(portal_settings, app)


def tenant_url(slug: str, path: str = "/") -> str:
    return f"http://{slug}.localhost{path}"


@pytest.fixture
def preset_slugs() -> Iterator[list[str]]:
    yield sorted(path.stem for path in Path("tenants/presets").glob("*.toml"))
