"""The pure rules behind customer support: masking, the audit diff, tenant days, carrying out a
broadband request, and who can recover a password online."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from domain.audit_view import Difference, day_bounds, differences
from domain.broadband_queue import apply_request
from domain.customer_support import mask_recipient, query_too_short, recovery_channel
from domain.models import BroadbandRequest, BroadbandService, Customer
from tenants.loader import load_presets

PRESETS = {config.slug: config for config in load_presets()}


def test_recipients_are_masked_but_recognisable() -> None:
    assert mask_recipient("email", "ivanov@example.com") == "iv****@example.com"
    assert mask_recipient("email", "a@example.com") == "a*@example.com"
    assert mask_recipient("sms", "+79101234567") == "+79*****4567"
    assert mask_recipient("sms", "12345") == "*****"


def test_the_diff_lays_every_key_side_by_side() -> None:
    found = differences(
        {"status": "active", "password": "set", "gone": 1},
        {"status": "locked", "password": "set", "notified": None, "ids": [1, 2]},
    )
    assert found == [
        Difference("status", "active", "locked"),
        Difference("password", "set", "set"),
        Difference("gone", "1", None),
        Difference("notified", None, "null"),
        Difference("ids", None, "[1, 2]"),
    ]
    assert [d.changed for d in found] == [True, False, True, True, True]
    assert differences(None, None) == []


def test_days_are_the_tenants_days() -> None:
    start, end = day_bounds(date(2026, 11, 21), date(2026, 11, 21), "Europe/Moscow")
    assert start == datetime(2026, 11, 20, 21, 0, tzinfo=UTC)
    assert end == datetime(2026, 11, 21, 21, 0, tzinfo=UTC)
    assert day_bounds(None, None, "Asia/Shanghai") == (None, None)


@pytest.mark.parametrize(
    ("kind", "new_plan", "expected"),
    [
        ("plan_change", "year", ("year", "active", None, None)),
        ("suspend", None, ("unlimited_monthly", "suspended", "voluntary", date(2026, 12, 1))),
        ("resume", None, ("unlimited_monthly", "active", None, date(2026, 12, 1))),
        ("close", None, ("unlimited_monthly", "closed", "requested", date(2026, 12, 1))),
    ],
)
def test_a_request_changes_the_line_as_it_asks(
    kind: str, new_plan: str | None, expected: tuple[object, ...]
) -> None:
    line = BroadbandService(
        tenant_id=1,
        account_id=1,
        plan_key="unlimited_monthly",
        payment_mode="prepaid_cash",
        status="suspended" if kind == "resume" else "active",
        status_reason="voluntary" if kind == "resume" else None,
    )
    request = BroadbandRequest(
        tenant_id=1,
        account_id=1,
        customer_id=1,
        kind=kind,
        new_plan=new_plan,
        effective_on=date(2026, 12, 1),
    )
    apply_request(line, request)
    assert (line.plan_key, line.status, line.status_reason, line.status_since) == expected


def test_online_recovery_needs_the_channel_of_the_tenants_method() -> None:
    with_phone = Customer(tenant_id=1, phone="+79101234567")
    with_email = Customer(tenant_id=1, email="a@example.com")
    assert recovery_channel(PRESETS["ivanovo-water"], with_phone) == "sms"
    assert recovery_channel(PRESETS["ivanovo-water"], with_email) is None
    assert recovery_channel(PRESETS["melitopol-water"], with_email) == "email"
    assert recovery_channel(PRESETS["beijing-unicom"], with_phone) is None


def test_a_search_needs_two_characters_besides_punctuation() -> None:
    assert query_too_short("")
    assert query_too_short(" a ")
    assert query_too_short("--")
    assert not query_too_short("王伟")
    assert not query_too_short("42")
