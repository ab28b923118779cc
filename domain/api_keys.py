"""Billing-system API keys: one tenant each, shown once, stored only as a SHA-256 digest."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.models import utcnow
from domain.ownership import is_row_id


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id", index=True)
    name: str = Field(max_length=100)
    # The first characters of the key, shown in the admin list so a key can be recognised.
    prefix: str = Field(max_length=16)
    # SHA-256 of the whole key: the key is 256 random bits, so a fast digest is enough.
    key_hash: str = Field(max_length=64, unique=True)
    created_by: int | None = Field(default=None, foreign_key="staff_user.id")
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


# What every key starts with, so a leaked one is easy to recognise (and to search for).
KEY_START = "pk_"
# How much of the key the admin list shows: the start and 8 random characters.
PREFIX_LENGTH = 11
# A key longer than this cannot be one of ours; it is refused without a lookup.
KEY_MAX = 100
# `last_used_at` is written at most this often, so busy keys do not write on every call.
TOUCH_INTERVAL = timedelta(minutes=1)


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


async def create_api_key(
    session: AsyncSession, *, tenant_id: int, name: str, created_by: int | None, now: datetime
) -> tuple[ApiKey, str]:
    """Add a key for the tenant; returns it with the plain key, which is never stored or shown
    again. The caller commits."""
    plain = KEY_START + secrets.token_urlsafe(32)
    key = ApiKey(
        tenant_id=tenant_id,
        name=name[:100],
        prefix=plain[:PREFIX_LENGTH],
        key_hash=key_digest(plain),
        created_by=created_by,
        created_at=now,
    )
    session.add(key)
    await session.flush()
    return key, plain


async def authenticate_api_key(
    session: AsyncSession, *, tenant_id: int, key: str, now: datetime
) -> ApiKey | None:
    """The tenant's live key with this value, or None: unknown, revoked and another tenant's
    keys are all answered alike. Notes the use (at most once a minute) and commits it."""
    if not key.startswith(KEY_START) or len(key) > KEY_MAX:
        return None
    found = (await session.exec(select(ApiKey).where(ApiKey.key_hash == key_digest(key)))).first()
    if found is None or found.tenant_id != tenant_id or found.revoked_at is not None:
        return None
    if found.last_used_at is None or now - found.last_used_at >= TOUCH_INTERVAL:
        # Conditional, so that of many simultaneous calls only one writes.
        await session.exec(
            update(ApiKey)
            .where(
                col(ApiKey.id) == found.id,
                or_(
                    col(ApiKey.last_used_at).is_(None),
                    col(ApiKey.last_used_at) <= now - TOUCH_INTERVAL,
                ),
            )
            .values(last_used_at=now)
        )
        await session.commit()
    return found


async def tenant_api_keys(session: AsyncSession, tenant_id: int) -> list[ApiKey]:
    """The tenant's keys, live ones first, newest first."""
    keys = await session.exec(
        select(ApiKey)
        .where(ApiKey.tenant_id == tenant_id)
        .order_by(col(ApiKey.revoked_at).is_not(None), col(ApiKey.created_at).desc())
    )
    return list(keys)


async def find_api_key(session: AsyncSession, tenant_id: int, key_id: int) -> ApiKey | None:
    """The tenant's key by id; another tenant's key is not found."""
    if not is_row_id(key_id):
        return None
    key = await session.get(ApiKey, key_id)
    return key if key is not None and key.tenant_id == tenant_id else None


async def revoke_api_key(session: AsyncSession, key: ApiKey, now: datetime) -> bool:
    """Revoke the key from now on; False if it already was. The caller commits."""
    if key.revoked_at is not None:
        return False
    key.revoked_at = now
    session.add(key)
    return True
