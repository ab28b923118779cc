"""Schema migrations: upgrade to the newest revision, and tell whether a database is current."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from domain.db import create_sync_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@cache
def head_revision() -> str | None:
    """The newest revision; the scripts do not change while the process runs."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def upgrade(database_url: str) -> None:
    engine = create_sync_engine(database_url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "head")
    finally:
        engine.dispose()


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def revision(database_url: str, message: str) -> None:
    """Autogenerate a new revision from the models (a developer command)."""
    engine = create_sync_engine(database_url)
    try:
        with engine.begin() as connection:
            command.revision(alembic_config(connection), message=message, autogenerate=True)
    finally:
        engine.dispose()
