"""Server-side sessions: in the database, or in Redis when one is configured.

The browser holds only a random token; the store keeps its SHA-256, so a leaked
table or Redis dump signs nobody in. Nothing lives in process memory, so any
number of processes honour each other's sessions and sign-outs.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, Protocol

from sqlalchemy import bindparam, delete, update
from sqlalchemy import select as sa_select
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.db import Database
from domain.models import Customer, utcnow
from domain.rows import columns_of, detached
from domain.staff import StaffUser

# A browser session ends after this long without a request ...
IDLE_LIFETIME = timedelta(hours=12)
# ... unless the customer ticked "remember me".
REMEMBERED_LIFETIME = timedelta(days=30)
# Renew the expiry at most this often, so a busy page does not write on every request.
RENEW_AFTER = timedelta(minutes=5)


class WebSession(SQLModel, table=True):
    __tablename__ = "web_session"

    token_hash: str = Field(primary_key=True, max_length=64)
    tenant_id: int = Field(foreign_key="tenant.id")
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    staff_id: int | None = Field(default=None, foreign_key="staff_user.id", index=True)
    remember: bool = False
    user_agent: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)


@dataclass(frozen=True)
class SessionRecord:
    token_hash: str
    tenant_id: int
    customer_id: int | None
    staff_id: int | None
    remember: bool
    expires_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True)
class OwnedSession:
    """A live session with the customer or staff member it belongs to (None if deleted)."""

    record: SessionRecord
    customer: Customer | None = None
    staff: StaffUser | None = None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def lifetime(remember: bool) -> timedelta:
    return REMEMBERED_LIFETIME if remember else IDLE_LIFETIME


class SessionStore(Protocol):
    async def create(
        self,
        *,
        tenant_id: int,
        customer_id: int | None = None,
        staff_id: int | None = None,
        remember: bool = False,
        user_agent: str = "",
    ) -> str:
        """Start a session and return the token for the cookie."""

    async def load(self, token: str, tenant_id: int) -> SessionRecord | None:
        """The live session for this token on this tenant (renewing its expiry), or None."""

    async def load_owned(self, token: str, tenant_id: int) -> OwnedSession | None:
        """`load`, with the customer or staff member the session belongs to."""

    async def revoke(self, token: str) -> None: ...

    async def revoke_all(
        self,
        *,
        tenant_id: int,
        customer_id: int | None = None,
        staff_id: int | None = None,
        keep_token: str | None = None,
    ) -> int:
        """End every session of one customer or staff member, except `keep_token`'s."""


def _aware(moment: datetime) -> datetime:
    # SQLite hands datetimes back naive; every one we store is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)


class DatabaseSessionStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def create(
        self,
        *,
        tenant_id: int,
        customer_id: int | None = None,
        staff_id: int | None = None,
        remember: bool = False,
        user_agent: str = "",
    ) -> str:
        token = new_token()
        now = utcnow()
        async with self.database.session() as session:
            session.add(
                WebSession(
                    token_hash=token_hash(token),
                    tenant_id=tenant_id,
                    customer_id=customer_id,
                    staff_id=staff_id,
                    remember=remember,
                    user_agent=user_agent[:200],
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + lifetime(remember),
                )
            )
            await session.commit()
        return token

    async def load(self, token: str, tenant_id: int) -> SessionRecord | None:
        found = await self.load_owned(token, tenant_id)
        return found.record if found else None

    async def load_owned(self, token: str, tenant_id: int) -> OwnedSession | None:
        """The live session with its owner, in one statement: every signed-in request
        starts here, so the session and the customer do not cost a round trip each."""
        digest = token_hash(token)
        now = utcnow()
        async with self.database.reads() as session:
            connection = await session.connection()
            found = (await connection.execute(_SESSION_WITH_OWNER, {"digest": digest})).first()
            if found is None:
                return None
            row, customer, staff = _session_and_owner(found)
            if row.tenant_id != tenant_id:
                return None
            if _aware(row.expires_at) <= now:
                await session.exec(delete(WebSession).where(col(WebSession.token_hash) == digest))
                await session.commit()
                return None
            last_seen = _aware(row.last_seen_at)
            if now - last_seen >= RENEW_AFTER:
                last_seen = now
                await session.exec(
                    update(WebSession)
                    .where(col(WebSession.token_hash) == digest)
                    .values(last_seen_at=now, expires_at=now + lifetime(row.remember))
                )
                await session.commit()
            record = SessionRecord(
                token_hash=digest,
                tenant_id=row.tenant_id,
                customer_id=row.customer_id,
                staff_id=row.staff_id,
                remember=row.remember,
                expires_at=_aware(row.expires_at),
                last_seen_at=last_seen,
            )
            return OwnedSession(record, customer, staff)

    async def revoke(self, token: str) -> None:
        async with self.database.session() as session:
            await session.exec(
                delete(WebSession).where(col(WebSession.token_hash) == token_hash(token))
            )
            await session.commit()

    async def revoke_all(
        self,
        *,
        tenant_id: int,
        customer_id: int | None = None,
        staff_id: int | None = None,
        keep_token: str | None = None,
    ) -> int:
        if (customer_id is None) == (staff_id is None):
            raise ValueError("name exactly one of customer_id and staff_id")
        statement = delete(WebSession).where(col(WebSession.tenant_id) == tenant_id)
        if customer_id is not None:
            statement = statement.where(col(WebSession.customer_id) == customer_id)
        else:
            statement = statement.where(col(WebSession.staff_id) == staff_id)
        if keep_token is not None:
            statement = statement.where(col(WebSession.token_hash) != token_hash(keep_token))
        async with self.database.session() as session:
            result = await session.exec(statement)
            await session.commit()
        return int(result.rowcount or 0)

    async def purge_expired(self) -> int:
        async with self.database.session() as session:
            result = await session.exec(
                delete(WebSession).where(col(WebSession.expires_at) <= utcnow())
            )
            await session.commit()
        return int(result.rowcount or 0)


class RedisSessionStore:
    """Sessions as self-expiring Redis keys, with a set per owner for "sign out everywhere".

    The owners themselves live in the database, so `load_owned` asks it after Redis."""

    def __init__(self, redis: Any, database: Database, prefix: str = "portal") -> None:
        self.redis = redis
        self.database = database
        self.prefix = prefix

    def _key(self, digest: str) -> str:
        return f"{self.prefix}:session:{digest}"

    def _owner_key(self, tenant_id: int, customer_id: int | None, staff_id: int | None) -> str:
        owner = f"customer:{customer_id}" if customer_id is not None else f"staff:{staff_id}"
        return f"{self.prefix}:sessions-of:{tenant_id}:{owner}"

    async def create(
        self,
        *,
        tenant_id: int,
        customer_id: int | None = None,
        staff_id: int | None = None,
        remember: bool = False,
        user_agent: str = "",
    ) -> str:
        token = new_token()
        digest = token_hash(token)
        now = utcnow()
        ttl = lifetime(remember)
        record = SessionRecord(digest, tenant_id, customer_id, staff_id, remember, now + ttl, now)
        owner = self._owner_key(tenant_id, customer_id, staff_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self._key(digest), _dump(record), ex=int(ttl.total_seconds()))
            pipe.sadd(owner, digest)
            pipe.expire(owner, int(REMEMBERED_LIFETIME.total_seconds()))
            await pipe.execute()
        return token

    async def load(self, token: str, tenant_id: int) -> SessionRecord | None:
        digest = token_hash(token)
        raw = await self.redis.get(self._key(digest))
        if raw is None:
            return None
        record = _load(raw)
        if record.tenant_id != tenant_id:
            return None
        now = utcnow()
        if now - record.last_seen_at >= RENEW_AFTER:
            ttl = lifetime(record.remember)
            record = SessionRecord(
                digest,
                record.tenant_id,
                record.customer_id,
                record.staff_id,
                record.remember,
                now + ttl,
                now,
            )
            await self.redis.set(self._key(digest), _dump(record), ex=int(ttl.total_seconds()))
        return record

    async def load_owned(self, token: str, tenant_id: int) -> OwnedSession | None:
        record = await self.load(token, tenant_id)
        if record is None:
            return None
        async with self.database.session() as session:
            return await _owned(session, record)

    async def revoke(self, token: str) -> None:
        await self.redis.delete(self._key(token_hash(token)))

    async def revoke_all(
        self,
        *,
        tenant_id: int,
        customer_id: int | None = None,
        staff_id: int | None = None,
        keep_token: str | None = None,
    ) -> int:
        if (customer_id is None) == (staff_id is None):
            raise ValueError("name exactly one of customer_id and staff_id")
        owner = self._owner_key(tenant_id, customer_id, staff_id)
        keep = token_hash(keep_token) if keep_token else None
        digests = [
            d.decode() if isinstance(d, bytes) else d for d in await self.redis.smembers(owner)
        ]
        doomed = [d for d in digests if d != keep]
        if not doomed:
            return 0
        removed = int(await self.redis.delete(*(self._key(d) for d in doomed)))
        await self.redis.srem(owner, *doomed)
        return removed


async def _owned(session: AsyncSession, record: SessionRecord) -> OwnedSession:
    customer = staff = None
    if record.customer_id is not None:
        customer = await session.get(Customer, record.customer_id)
    if record.staff_id is not None:
        staff = await session.get(StaffUser, record.staff_id)
    return OwnedSession(record, customer, staff)


# Built once: the statement is the same on every request, only the digest changes. Core
# rows: every signed-in request runs it, and the ORM's work on three entities cost more
# than the query.
_SESSION_COLUMNS = columns_of(WebSession)
_CUSTOMER_COLUMNS = columns_of(Customer)
_STAFF_COLUMNS = columns_of(StaffUser)
_SESSION_WITH_OWNER = (
    sa_select(*_SESSION_COLUMNS, *_CUSTOMER_COLUMNS, *_STAFF_COLUMNS)
    .select_from(WebSession)
    .outerjoin(Customer, col(Customer.id) == col(WebSession.customer_id))
    .outerjoin(StaffUser, col(StaffUser.id) == col(WebSession.staff_id))
    .where(col(WebSession.token_hash) == bindparam("digest"))
)


def _session_and_owner(row: Sequence[Any]) -> tuple[Any, Customer | None, StaffUser | None]:
    """The session's values (by column name) and its customer or staff member, if any."""
    customers = len(_SESSION_COLUMNS)
    staff_from = customers + len(_CUSTOMER_COLUMNS)
    values = SimpleNamespace(
        **{
            column.key: value
            for column, value in zip(_SESSION_COLUMNS, row[:customers], strict=True)
        }
    )
    customer = staff = None
    if row[customers] is not None:  # the customer's id: NULL when the session is staff's
        customer = detached(Customer, _CUSTOMER_COLUMNS, row[customers:staff_from])
    if row[staff_from] is not None:
        staff = detached(StaffUser, _STAFF_COLUMNS, row[staff_from:])
    return values, customer, staff


def _dump(record: SessionRecord) -> str:
    values = asdict(record)
    values["expires_at"] = record.expires_at.isoformat()
    values["last_seen_at"] = record.last_seen_at.isoformat()
    return json.dumps(values)


def _load(raw: bytes | str) -> SessionRecord:
    values = json.loads(raw)
    values["expires_at"] = datetime.fromisoformat(values["expires_at"])
    values["last_seen_at"] = datetime.fromisoformat(values["last_seen_at"])
    return SessionRecord(**values)


def select_session(token: str) -> Any:
    """For tests and tools: the row behind a token."""
    return select(WebSession).where(col(WebSession.token_hash) == token_hash(token))
