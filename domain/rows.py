"""Model objects made from Core rows.

Where one statement brings several tables' columns (a page's account with its lines, a
meter with each of its readings), the ORM's work on every row costs more than the query;
these pages read Core rows and make each object once.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import Column
from sqlalchemy.orm import configure_mappers, make_transient_to_detached
from sqlalchemy.orm.instrumentation import ClassManager, manager_of_class
from sqlmodel import SQLModel

Model = TypeVar("Model", bound=SQLModel)


def columns_of(model: type[SQLModel]) -> tuple[Column[Any], ...]:
    """The model's table columns, in table order: select them, then hand the values back."""
    return tuple(model.__table__.columns)  # type: ignore[attr-defined]


@cache
def _manager(model: type[SQLModel]) -> ClassManager[Any]:
    configure_mappers()  # as the first query would: attributes get their loaders here
    return manager_of_class(model)


def detached(model: type[Model], columns: Sequence[Column[Any]], values: Sequence[Any]) -> Model:
    """An object of `model` from its columns' values, detached, as if a closed session had
    loaded it: it can go on to a write session as an existing row.

    Made the way the ORM makes the objects it loads (a bare instance whose attributes are
    filled in directly), not through the model's constructor, which runs every field's
    setter and cost three times as much."""
    made: Model = _manager(model).new_instance()
    made.__dict__.update(zip([column.key for column in columns], values, strict=True))
    make_transient_to_detached(made)
    return made
