"""Model objects made from Core rows.

Where one statement brings several tables' columns (a page's account with its lines, a
meter with each of its readings), the ORM's work on every row costs more than the query;
these pages read Core rows and make each object once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Column
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import SQLModel

Model = TypeVar("Model", bound=SQLModel)


def columns_of(model: type[SQLModel]) -> tuple[Column[Any], ...]:
    """The model's table columns, in table order: select them, then hand the values back."""
    return tuple(model.__table__.columns)  # type: ignore[attr-defined]


def detached(model: type[Model], columns: Sequence[Column[Any]], values: Sequence[Any]) -> Model:
    """An object of `model` from its columns' values, detached, as if a closed session had
    loaded it: it can go on to a write session as an existing row."""
    made = model(**{column.key: value for column, value in zip(columns, values, strict=True)})
    make_transient_to_detached(made)
    return made
