"""Signed, expiring form tickets: what one step of a flow hands to the next through the browser.

A ticket is `payload.timestamp.signature`, HMAC-SHA256 over the purpose, the tenant
and the payload, so a ticket made for one flow or one tenant is worthless in another.
It carries only ids and facts already checked; secrets never go in it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any


class BadTicket(ValueError):
    pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: str, purpose: str, tenant_id: int, body: str, stamp: str) -> str:
    message = f"{purpose}|{tenant_id}|{body}|{stamp}".encode()
    return _b64(hmac.new(secret.encode(), message, hashlib.sha256).digest())


def sign(
    payload: dict[str, Any], *, purpose: str, tenant_id: int, secret: str, now: float | None = None
) -> str:
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    stamp = str(int(now if now is not None else time.time()))
    return f"{body}.{stamp}.{_signature(secret, purpose, tenant_id, body, stamp)}"


def unsign(
    ticket: str,
    *,
    purpose: str,
    tenant_id: int,
    secret: str,
    max_age: int,
    now: float | None = None,
) -> dict[str, Any]:
    """The payload of a genuine, fresh ticket; BadTicket otherwise."""
    parts = ticket.split(".") if ticket and len(ticket) < 4000 else []
    if len(parts) != 3:
        raise BadTicket("malformed")
    body, stamp, signature = parts
    expected = _signature(secret, purpose, tenant_id, body, stamp)
    if not hmac.compare_digest(signature, expected):
        raise BadTicket("signature")
    try:
        age = (now if now is not None else time.time()) - int(stamp)
        payload = json.loads(_unb64(body))
    except (ValueError, json.JSONDecodeError) as error:
        raise BadTicket("malformed") from error
    if age > max_age or age < -60:
        raise BadTicket("expired")
    if not isinstance(payload, dict):
        raise BadTicket("malformed")
    return payload
