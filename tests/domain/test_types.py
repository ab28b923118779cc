"""Exact decimals on every database: scaled integers, no silent rounding."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.types import ScaledDecimal

MONEY = ScaledDecimal(2)


@given(
    st.decimals(
        min_value=-(10**12), max_value=10**12, places=2, allow_nan=False, allow_infinity=False
    )
)
def test_round_trip_is_exact(value: Decimal) -> None:
    stored = MONEY.process_bind_param(value, None)  # type: ignore[arg-type]
    assert isinstance(stored, int)
    assert MONEY.process_result_value(stored, None) == value  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [Decimal("0.001"), "1.005", Decimal("1e-3")])
def test_too_many_decimals_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="more than 2 decimal places"):
        MONEY.process_bind_param(value, None)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["abc", object()])
def test_non_numbers_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="not a decimal number"):
        MONEY.process_bind_param(value, None)  # type: ignore[arg-type]


def test_none_passes_through() -> None:
    assert MONEY.process_bind_param(None, None) is None  # type: ignore[arg-type]
    assert MONEY.process_result_value(None, None) is None  # type: ignore[arg-type]
