"""Signed form tickets: what one step hands the next survives intact, and nothing else passes."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.tickets import BadTicket, sign, unsign

SECRET = "ticket-test-secret"
NOW = 1_800_000_000.0

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
payloads = st.dictionaries(st.text(max_size=12), json_values, max_size=6)


def read(ticket: str, **overrides: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "purpose": "register",
        "tenant_id": 1,
        "secret": SECRET,
        "max_age": 600,
        "now": NOW + 10,
    }
    options.update(overrides)
    return unsign(ticket, **options)


def make(payload: dict[str, Any], **overrides: Any) -> str:
    options: dict[str, Any] = {"purpose": "register", "tenant_id": 1, "secret": SECRET, "now": NOW}
    options.update(overrides)
    return sign(payload, **options)


@given(payloads, st.integers(min_value=1, max_value=10**9), st.sampled_from(["a", "register"]))
def test_a_ticket_gives_back_exactly_what_was_signed(
    payload: dict[str, Any], tenant_id: int, purpose: str
) -> None:
    ticket = make(payload, tenant_id=tenant_id, purpose=purpose)
    assert read(ticket, tenant_id=tenant_id, purpose=purpose) == payload


def test_the_payload_is_readable_but_not_secret_so_only_ids_go_in() -> None:
    ticket = make({"account_id": 42})
    body = ticket.split(".")[0]
    assert json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))) == {"account_id": 42}


@pytest.mark.parametrize("part", [0, 1, 2])
def test_changing_any_part_breaks_the_signature(part: int) -> None:
    pieces = make({"account_id": 42}).split(".")
    forged = {
        0: base64.urlsafe_b64encode(b'{"account_id":43}').decode().rstrip("="),
        1: str(int(pieces[1]) + 1),
        2: pieces[2][:-2] + ("AA" if not pieces[2].endswith("AA") else "BB"),
    }[part]
    pieces[part] = forged
    with pytest.raises(BadTicket):
        read(".".join(pieces))


@pytest.mark.parametrize(
    "overrides",
    [{"purpose": "recover"}, {"tenant_id": 2}, {"secret": "another-secret"}],
    ids=["purpose", "tenant", "secret"],
)
def test_a_ticket_for_another_flow_tenant_or_key_is_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(BadTicket, match="signature"):
        read(make({"account_id": 42}), **overrides)


def test_a_ticket_expires_after_max_age_and_cannot_come_from_the_future() -> None:
    ticket = make({"step": 2})
    assert read(ticket, now=NOW + 600) == {"step": 2}
    with pytest.raises(BadTicket, match="expired"):
        read(ticket, now=NOW + 601)
    with pytest.raises(BadTicket, match="expired"):
        read(ticket, now=NOW - 61)


@pytest.mark.parametrize("ticket", ["", "abc", "a.b", "a.b.c.d", "x" * 5000, "!!.1.sig"])
def test_malformed_tickets_are_refused(ticket: str) -> None:
    with pytest.raises(BadTicket):
        read(ticket)


def test_a_signed_value_that_is_not_an_object_is_refused() -> None:
    ticket = make([1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(BadTicket, match="malformed"):
        read(ticket)
