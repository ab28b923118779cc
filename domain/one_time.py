"""One-time links and codes: stored as keyed hashes, single use, expiring, with attempt limits.

A link carries a long random token and is found by its hash. A code is short (six
digits, typed from an SMS), so it is found by the secret's id, which travels in the
signed form ticket, and each wrong guess counts against the secret's attempts.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import JSON, Column, Index, update
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.models import utcnow

Purpose = Literal[
    "email_confirmation",  # registration: confirm the address, then the account is active
    "email_change",  # profile: confirm the new address
    "password_reset",  # recovery by email link
    "password_reset_code",  # recovery by SMS code
    "phone_confirmation",  # registration: confirm the phone by SMS code
]

LINK_LIFETIME = timedelta(hours=24)
CODE_LIFETIME = timedelta(minutes=15)
CODE_ATTEMPTS = 5
LINK_ATTEMPTS = 5
CODE_DIGITS = 6

CodeOutcome = Literal["ok", "wrong", "expired", "exhausted", "unknown"]


class OneTimeSecret(SQLModel, table=True):
    __tablename__ = "one_time_secret"
    __table_args__ = (Index("ix_one_time_secret_lookup", "tenant_id", "purpose", "secret_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id")
    purpose: str = Field(max_length=30)
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    secret_hash: str = Field(max_length=64)
    # What the secret confirms (a pending registration, the new email address, ...).
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    attempts: int = 0
    max_attempts: int = CODE_ATTEMPTS
    expires_at: datetime
    used_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


@dataclass(frozen=True)
class Issued:
    secret: OneTimeSecret
    # The clear value, to be sent once and never stored.
    value: str


def digest(value: str, pepper: str) -> str:
    return hmac.new(pepper.encode(), value.encode(), hashlib.sha256).hexdigest()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)


def is_live(secret: OneTimeSecret, now: datetime) -> bool:
    return (
        secret.used_at is None
        and _aware(secret.expires_at) > now
        and secret.attempts < secret.max_attempts
    )


async def _retire_earlier(
    session: AsyncSession,
    tenant_id: int,
    purpose: Purpose,
    customer_id: int | None,
    key: str | None,
) -> None:
    """A new secret replaces the customer's earlier ones for the same purpose."""
    if customer_id is None and key is None:
        return
    statement = update(OneTimeSecret).where(
        col(OneTimeSecret.tenant_id) == tenant_id,
        col(OneTimeSecret.purpose) == purpose,
        col(OneTimeSecret.used_at).is_(None),
    )
    if customer_id is not None:
        statement = statement.where(col(OneTimeSecret.customer_id) == customer_id)
    else:
        statement = statement.where(col(OneTimeSecret.payload)["key"].as_string() == key)
    await session.exec(statement.values(used_at=utcnow()))


async def issue_link(
    session: AsyncSession,
    *,
    tenant_id: int,
    purpose: Purpose,
    pepper: str,
    customer_id: int | None = None,
    payload: dict[str, Any] | None = None,
    lifetime: timedelta = LINK_LIFETIME,
) -> Issued:
    """A new link token, added to the caller's transaction (which also enqueues the message)."""
    await _retire_earlier(session, tenant_id, purpose, customer_id, None)
    token = secrets.token_urlsafe(24)
    secret = OneTimeSecret(
        tenant_id=tenant_id,
        purpose=purpose,
        customer_id=customer_id,
        secret_hash=digest(token, pepper),
        payload=payload or {},
        max_attempts=LINK_ATTEMPTS,
        expires_at=utcnow() + lifetime,
    )
    session.add(secret)
    await session.flush()
    return Issued(secret, token)


async def issue_code(
    session: AsyncSession,
    *,
    tenant_id: int,
    purpose: Purpose,
    pepper: str,
    customer_id: int | None = None,
    payload: dict[str, Any] | None = None,
    lifetime: timedelta = CODE_LIFETIME,
) -> Issued:
    """A new numeric code; with no customer, `payload["key"]` (the phone) retires older ones."""
    payload = payload or {}
    await _retire_earlier(session, tenant_id, purpose, customer_id, payload.get("key"))
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    secret = OneTimeSecret(
        tenant_id=tenant_id,
        purpose=purpose,
        customer_id=customer_id,
        secret_hash="",
        payload=payload,
        max_attempts=CODE_ATTEMPTS,
        expires_at=utcnow() + lifetime,
    )
    session.add(secret)
    await session.flush()
    # The id is part of what is hashed, so equal codes of two secrets hash differently.
    secret.secret_hash = digest(f"{secret.id}:{code}", pepper)
    return Issued(secret, code)


async def find_link(
    session: AsyncSession, *, tenant_id: int, purpose: Purpose, token: str, pepper: str
) -> OneTimeSecret | None:
    """The live secret behind a link token, without using it up."""
    if not token or len(token) > 100:
        return None
    secret = (
        await session.exec(
            select(OneTimeSecret).where(
                OneTimeSecret.tenant_id == tenant_id,
                OneTimeSecret.purpose == purpose,
                OneTimeSecret.secret_hash == digest(token, pepper),
            )
        )
    ).first()
    if secret is None or not is_live(secret, utcnow()):
        return None
    return secret


async def count_failed_attempt(session: AsyncSession, secret: OneTimeSecret) -> None:
    """A wrong answer on a form protected by this secret (e.g. the recovery check fields)."""
    secret.attempts += 1
    session.add(secret)


def use(secret: OneTimeSecret) -> None:
    secret.used_at = utcnow()


async def check_code(
    session: AsyncSession,
    *,
    tenant_id: int,
    purpose: Purpose,
    secret_id: int,
    code: str,
    pepper: str,
) -> tuple[CodeOutcome, OneTimeSecret | None]:
    """Compare a typed code; a right one is used up, a wrong one counts as an attempt.

    The caller commits, so a counted attempt is kept even when the answer is "wrong".
    """
    secret = await session.get(OneTimeSecret, secret_id)
    if secret is None or secret.tenant_id != tenant_id or secret.purpose != purpose:
        return "unknown", None
    now = utcnow()
    if secret.used_at is not None:
        return "unknown", secret
    if _aware(secret.expires_at) <= now:
        return "expired", secret
    if secret.attempts >= secret.max_attempts:
        return "exhausted", secret
    typed = "".join(ch for ch in code if ch.isdigit())
    if hmac.compare_digest(secret.secret_hash, digest(f"{secret.id}:{typed}", pepper)):
        use(secret)
        session.add(secret)
        return "ok", secret
    secret.attempts += 1
    session.add(secret)
    return ("exhausted" if secret.attempts >= secret.max_attempts else "wrong"), secret
