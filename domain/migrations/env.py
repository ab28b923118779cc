"""Alembic environment: runs migrations on the connection `domain.migrate` hands it."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlmodel import SQLModel

# Every module that declares tables, so autogenerate compares against all of them.
from domain import (  # noqa: F401
    activation,
    api_keys,
    audit,
    import_jobs,
    limits,
    models,
    one_time,
    outbox,
    sessions,
    staff,
)
from domain.types import ScaledDecimal


def render_item(kind: str, item: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    # A scaled decimal is an integer in the database; migrations should say so plainly.
    if kind == "type" and isinstance(item, ScaledDecimal):
        return "sa.BigInteger()"
    return False


config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through domain.migrate, which supplies the connection")

context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    render_item=render_item,
)
with context.begin_transaction():
    context.run_migrations()
