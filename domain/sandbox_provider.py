"""The built-in sandbox payment provider: a pretend bank that the portal hosts itself.

Its hosted page is /payments/sandbox/<reference>. "Pay" and "Decline" there produce the
callback a bank's server would send, a JSON body signed with HMAC-SHA256 under a key of
the tenant's own (derived from the portal secret and the tenant's slug), and hand it to
the settlement that the callback endpoint runs for any provider's callback.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from domain.db import Database
from domain.models import PaymentOrder
from domain.payments import (
    CENT,
    FAILED,
    PAID,
    CallbackNotice,
    Outcome,
    find_order,
    is_reference,
)

SIGNATURE_HEADER = "x-sandbox-signature"
TIMESTAMP_HEADER = "x-sandbox-timestamp"
# A callback signed longer ago (or further ahead) than this is refused: a captured one
# cannot be replayed next week, and clocks may differ a little.
TOLERANCE = timedelta(minutes=5)
MAX_BODY = 4096
_OUTCOMES: tuple[Outcome, ...] = ("paid", "declined")


def sandbox_key(secret: str, slug: str) -> bytes:
    """The tenant's signing key: one tenant's callbacks are worthless on another's site."""
    return hmac.new(secret.encode(), f"payments-sandbox:{slug}".encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class SandboxProvider:
    key: bytes
    currency: str
    tenant_id: int
    database: Database
    clock: Callable[[], datetime]
    name: str = "sandbox"

    @classmethod
    def for_tenant(
        cls,
        *,
        secret: str,
        slug: str,
        currency: str,
        tenant_id: int,
        database: Database,
        clock: Callable[[], datetime],
    ) -> SandboxProvider:
        return cls(sandbox_key(secret, slug), currency, tenant_id, database, clock)

    def start(self, order: PaymentOrder) -> str:
        return f"/payments/sandbox/{order.reference}"

    def sign(self, body: bytes, timestamp: int) -> str:
        message = str(timestamp).encode() + b"." + body
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()

    def callback(self, order: PaymentOrder, outcome: Outcome) -> tuple[bytes, dict[str, str]]:
        """The body and headers the sandbox bank posts about `order` once the payer decides."""
        now = self.clock()
        body = json.dumps(
            {
                "reference": order.reference,
                "amount": str(order.amount),
                "currency": self.currency,
                "status": outcome,
                "paid_at": now.astimezone(UTC).isoformat(),
            },
            sort_keys=True,
        ).encode()
        stamp = int(now.timestamp())
        return body, {
            "content-type": "application/json",
            TIMESTAMP_HEADER: str(stamp),
            SIGNATURE_HEADER: self.sign(body, stamp),
        }

    def verify_callback(self, body: bytes, headers: Mapping[str, str]) -> CallbackNotice | None:
        if len(body) > MAX_BODY:
            return None
        lowered = {str(name).lower(): str(value) for name, value in headers.items()}
        stamp = lowered.get(TIMESTAMP_HEADER, "").strip()
        signature = lowered.get(SIGNATURE_HEADER, "").strip()
        if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
            return None
        expected = self.sign(body, int(stamp))
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
            return None
        signed_at = datetime.fromtimestamp(int(stamp), UTC)
        if abs(self.clock() - signed_at) > TOLERANCE:
            return None
        return _notice(body)

    async def status(self, reference: str) -> str:
        async with self.database.session() as session:
            order = await find_order(
                session, tenant_id=self.tenant_id, provider=self.name, reference=reference
            )
        if order is None:
            return "unknown"
        return {PAID: "paid", FAILED: "declined"}.get(order.status, "pending")


def _notice(body: bytes) -> CallbackNotice | None:
    """The notice in a signed body; None if it is not the shape the sandbox sends."""
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    reference, amount, currency = data.get("reference"), data.get("amount"), data.get("currency")
    status, paid_at = data.get("status"), data.get("paid_at")
    if not all(isinstance(v, str) for v in (reference, amount, currency, status, paid_at)):
        return None
    assert isinstance(reference, str) and isinstance(amount, str) and isinstance(paid_at, str)
    if not is_reference(reference) or status not in _OUTCOMES:
        return None
    try:
        value = Decimal(amount)
        moment = datetime.fromisoformat(paid_at)
    except (InvalidOperation, ValueError):
        return None
    if not value.is_finite() or value <= 0 or value > 10**12 or value != value.quantize(CENT):
        return None
    if moment.tzinfo is None:
        return None
    return CallbackNotice(
        reference=reference,
        amount=value.quantize(CENT),
        currency=str(currency),
        outcome="paid" if status == "paid" else "declined",
        paid_at=moment.astimezone(UTC),
    )
