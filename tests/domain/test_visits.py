"""The visit request rules on their own: dates, slots, notes, status notes; and form checks."""

from __future__ import annotations

from datetime import date

import pytest

from domain.anonymous_readings import check_anonymous_reading, clean_meter_number
from domain.visits import (
    bookable_range,
    clean_notes,
    date_problem,
    parse_date,
    slot_problem,
    status_note_problem,
)
from tenants.loader import load_presets
from tenants.schema import TenantConfig

FRIDAY = date(2026, 11, 20)


@pytest.fixture(scope="module")
def ivanovo() -> TenantConfig:
    return next(c for c in load_presets() if c.slug == "ivanovo-water")


def test_dates_are_read_as_a_date_input_sends_them_or_as_people_type_them() -> None:
    assert parse_date("2026-12-01") == date(2026, 12, 1)
    assert parse_date(" 01.12.2026 ") == date(2026, 12, 1)
    assert parse_date("1.2.2027") == date(2027, 2, 1)
    assert parse_date("１２.０１.２０２６") == date(2026, 1, 12)  # full-width, from a CJK keyboard
    for nonsense in (
        "abc",
        "2026-02-30",
        "31.04.2026",
        "2026-1-1",
        "",
        "20261201",
        "١٢.٠١.٢٠٢٦",  # Arabic-Indic digits: not what a date input or a person here sends
    ):
        assert parse_date(nonsense) is None


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("", "empty"),
        ("tomorrow", "not_a_date"),
        ("2026-11-19", "past"),
        ("2026-11-20", "today"),
        ("2026-11-21", None),  # Saturday: a working day in Ivanovo
        ("2026-11-22", "not_working_day"),  # Sunday
        ("2027-01-19", None),  # the 60th day
        ("2027-01-20", "too_far"),
    ],
)
def test_the_visit_date(ivanovo: TenantConfig, typed: str, problem: str | None) -> None:
    assert date_problem(typed, ivanovo, FRIDAY)[1] == problem


def test_the_bookable_range_starts_on_the_next_working_day(ivanovo: TenantConfig) -> None:
    on_saturday = bookable_range(ivanovo, date(2026, 11, 21))
    assert on_saturday.first == date(2026, 11, 23)  # Sunday is skipped
    assert on_saturday.working_days == (1, 2, 3, 4, 5, 6)
    assert bookable_range(ivanovo, FRIDAY).last == date(2027, 1, 19)


def test_only_the_tenants_slots_are_taken(ivanovo: TenantConfig) -> None:
    assert slot_problem("09:00", ivanovo) is None
    assert slot_problem(" 17:00 ", ivanovo) is None
    for wrong in ("25:00", "09:30", "9:00", "18:00", "<b>"):
        assert slot_problem(wrong, ivanovo) == "bad_slot"
    assert slot_problem("", ivanovo) == "empty"


def test_notes_keep_their_lines_but_lose_control_characters() -> None:
    assert clean_notes("  a\tb \r\n\r\n\r\n\r\nc\x00d  ") == "a b\n\ncd"
    assert clean_notes("ＡＢＣ") == "ABC"


def test_cancelling_needs_a_note_that_fits() -> None:
    assert status_note_problem("cancelled", "") == "empty"
    assert status_note_problem("cancelled", "No access to the flat.") is None
    assert status_note_problem("scheduled", "") is None
    assert status_note_problem("done", "x" * 301) == "too_long"


def test_meter_numbers_are_compared_without_separators() -> None:
    assert clean_meter_number(" 12 345-678 ") == "12345678"
    assert clean_meter_number("ab/12.3") == "AB123"


def test_an_anonymous_reading_is_checked_field_by_field(ivanovo: TenantConfig) -> None:
    good = check_anonymous_reading(
        ivanovo,
        {
            "full_name": "Анна-Мария O’Нил",
            "phone": "89101234567",
            "meter_number": "x1",
            "value": "5",
        },
    )
    assert good.ok and good.values["phone"] == "+79101234567"
    bad = check_anonymous_reading(
        ivanovo, {"full_name": "R2D2", "phone": "+1", "meter_number": "1*2", "value": "1,23456"}
    )
    assert bad.problems == {
        "full_name": "bad_characters",
        "phone": "bad_phone",
        "meter_number": "bad_characters",
        "value": "too_many_decimals",
    }
