"""The pure rules of payments: what an amount and a purpose may be, and what the sandbox's
signature check lets through (signature, timestamp tolerance, the notice's shape)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain.db import Database
from domain.payments import (
    ANONYMOUS_PAYMENTS_PER_ADDRESS,
    PaymentInputProblem,
    check_purpose,
    is_reference,
    new_reference,
    parse_amount,
    purpose_label,
)
from domain.sandbox_provider import TOLERANCE, SandboxProvider, sandbox_key
from tenants.loader import load_presets

PRESETS = {config.slug: config for config in load_presets()}
NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("typed", "amount"),
    [
        ("1234.56", "1234.56"),
        ("1234,56", "1234.56"),
        ("1 234,5", "1234.50"),
        ("1\u00a0000", "1000.00"),
        (" 7 ", "7.00"),
        (".5", "0.50"),
        ("1000000", "1000000.00"),
        ("０．０１", "0.01"),
    ],
)
def test_amounts_accepted(typed: str, amount: str) -> None:
    assert parse_amount(typed) == Decimal(amount)


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("0", "not_positive"),
        ("0.00", "not_positive"),
        ("-5", "not_positive"),
        ("−5", "not_positive"),
        ("1.234", "too_many_decimals"),
        # An English thousands separator is not read as a decimal mark: refused, not 1.50.
        ("1,500", "too_many_decimals"),
        ("1.230", "too_many_decimals"),
        ("abc", "not_a_number"),
        ("1e3", "not_a_number"),
        ("+5", "not_a_number"),
        ("1,000.50", "not_a_number"),
        ("NaN", "not_a_number"),
        ("Infinity", "not_a_number"),
        ("5 руб", "not_a_number"),
        ("1000000.01", "too_large"),
        ("9" * 400, "too_large"),
    ],
)
def test_amounts_refused(typed: str, reason: str) -> None:
    with pytest.raises(PaymentInputProblem) as refused:
        parse_amount(typed)
    assert refused.value.reason == reason


def test_purposes_come_from_the_configuration() -> None:
    ivanovo, melitopol = PRESETS["ivanovo-water"], PRESETS["melitopol-water"]
    assert check_purpose(ivanovo, "court_fees") == "court_fees"
    for typed, reason in (("", "empty"), ("gas", "unknown_purpose"), ("Water", "unknown_purpose")):
        with pytest.raises(PaymentInputProblem) as refused:
            check_purpose(ivanovo, typed)
        assert refused.value.reason == reason
    # A tenant without purposes records none, whatever is posted.
    assert check_purpose(melitopol, "water") == ""
    assert purpose_label(ivanovo, "temporary_water", "ru") == "Временный водопровод"
    assert purpose_label(ivanovo, "gone", "ru") == ""


def test_references_are_128_bit_and_checked() -> None:
    references = {new_reference() for _ in range(100)}
    assert len(references) == 100 and all(is_reference(r) for r in references)
    assert all(len(r) == 32 for r in references)
    assert not is_reference("../" + "0" * 29) and not is_reference("A" * 32)


def test_the_anonymous_limit_is_per_hour() -> None:
    assert ANONYMOUS_PAYMENTS_PER_ADDRESS.max_hits == 20
    assert ANONYMOUS_PAYMENTS_PER_ADDRESS.window == timedelta(hours=1)


# --- the sandbox's checks -------------------------------------------------------------------


@pytest.fixture
def provider(database: Database) -> SandboxProvider:
    return SandboxProvider.for_tenant(
        secret="s3cret",
        slug="ivanovo-water",
        currency="RUB",
        tenant_id=1,
        database=database,
        clock=lambda: NOW,
    )


def _body(**changes: object) -> bytes:
    data: dict[str, object] = {
        "reference": "ab" * 16,
        "amount": "10.50",
        "currency": "RUB",
        "status": "paid",
        "paid_at": NOW.isoformat(),
    }
    data.update(changes)
    return json.dumps(data).encode()


def _headers(provider: SandboxProvider, body: bytes, at: datetime = NOW) -> dict[str, str]:
    stamp = int(at.timestamp())
    return {"X-Sandbox-Timestamp": str(stamp), "X-Sandbox-Signature": provider.sign(body, stamp)}


def test_keys_differ_per_tenant_and_per_secret() -> None:
    keys = {
        sandbox_key("s3cret", "ivanovo-water"),
        sandbox_key("s3cret", "kz-vodokanal"),
        sandbox_key("other", "ivanovo-water"),
    }
    assert len(keys) == 3 and all(len(key) == 32 for key in keys)


def test_a_signed_notice_verifies(provider: SandboxProvider) -> None:
    body = _body()
    notice = provider.verify_callback(body, _headers(provider, body))
    assert notice is not None
    assert (notice.reference, notice.amount, notice.currency, notice.outcome) == (
        "ab" * 16,
        Decimal("10.50"),
        "RUB",
        "paid",
    )
    assert notice.paid_at == NOW


def test_the_timestamp_has_a_tolerance(provider: SandboxProvider) -> None:
    body = _body()
    inside = TOLERANCE - timedelta(seconds=1)
    outside = TOLERANCE + timedelta(seconds=1)
    assert provider.verify_callback(body, _headers(provider, body, NOW - inside)) is not None
    assert provider.verify_callback(body, _headers(provider, body, NOW + inside)) is not None
    assert provider.verify_callback(body, _headers(provider, body, NOW - outside)) is None
    assert provider.verify_callback(body, _headers(provider, body, NOW + outside)) is None


def test_a_changed_body_or_signature_is_refused(provider: SandboxProvider) -> None:
    body = _body()
    headers = _headers(provider, body)
    assert provider.verify_callback(_body(amount="1050.00"), headers) is None
    assert provider.verify_callback(body + b" ", headers) is None
    signature = headers["X-Sandbox-Signature"]
    flipped = signature[:-1] + ("1" if signature.endswith("0") else "0")
    assert provider.verify_callback(body, {**headers, "X-Sandbox-Signature": flipped}) is None
    # The signature covers the timestamp: moving it breaks the signature.
    moved = {**headers, "X-Sandbox-Timestamp": str(int(NOW.timestamp()) + 1)}
    assert provider.verify_callback(body, moved) is None
    assert provider.verify_callback(body, {}) is None


@pytest.mark.parametrize(
    "changes",
    [
        {"amount": "10.505"},
        {"amount": "-1.00"},
        {"amount": "0"},
        {"amount": "NaN"},
        {"amount": 10.5},
        {"status": "refunded"},
        {"reference": "short"},
        {"paid_at": "2026-11-21T09:30:00"},
        {"paid_at": "yesterday"},
        {"currency": None},
    ],
)
def test_a_signed_but_malformed_notice_is_refused(
    provider: SandboxProvider, changes: dict[str, object]
) -> None:
    body = _body(**changes)
    assert provider.verify_callback(body, _headers(provider, body)) is None
