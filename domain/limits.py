"""Abuse limits: fixed-window counters per (limit, subject), in the database or in Redis.

A subject is whatever is being protected (an identifier, a client address, a phone
number, a tenant); it is stored only as a keyed hash. Counters live outside the
process, so two `portal serve` processes share them.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, SQLModel, col, select

from domain.db import Database
from domain.models import utcnow

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Limit:
    """At most `max_hits` in each `window`; the name keeps different limits apart."""

    name: str
    max_hits: int
    window: timedelta


# --- the limits the portal applies ------------------------------------------------

# Wrong passwords per typed identifier, then a lockout until the window ends.
SIGN_IN_PER_IDENTIFIER = Limit("sign-in-identifier", 5, timedelta(minutes=15))
SIGN_IN_PER_ADDRESS = Limit("sign-in-address", 30, timedelta(minutes=15))
# Staff accounts lock sooner and for longer.
STAFF_SIGN_IN_PER_LOGIN = Limit("staff-sign-in-login", 3, timedelta(minutes=30))
STAFF_SIGN_IN_PER_ADDRESS = Limit("staff-sign-in-address", 10, timedelta(minutes=30))
# Messages carrying a code or a link.
CODES_PER_RECIPIENT = Limit("codes-recipient", 3, timedelta(hours=1))
CODES_PER_ADDRESS = Limit("codes-address", 10, timedelta(hours=1))
CODES_PER_TENANT_DAY = Limit("codes-tenant", 2000, timedelta(days=1))
# Registration checks against billing data and the account-number look-up.
REGISTRATION_CHECKS_PER_ADDRESS = Limit("registration-checks-address", 20, timedelta(hours=1))
LOOKUPS_PER_ADDRESS = Limit("lookups-address", 5, timedelta(hours=1))
LOOKUPS_PER_PHONE = Limit("lookups-phone", 3, timedelta(days=1))
# Linking an account asks for a proof (the meter's last four digits): guesses are limited.
LINK_ATTEMPTS_PER_CUSTOMER = Limit("link-attempts-customer", 10, timedelta(hours=1))
# Readings sent without signing in go to a staff queue; a flood must not bury it.
ANONYMOUS_READINGS_PER_ADDRESS = Limit("anonymous-readings-address", 10, timedelta(hours=1))
ANONYMOUS_READINGS_PER_PHONE = Limit("anonymous-readings-phone", 5, timedelta(days=1))
# Visit requests per customer and day.
VISIT_REQUESTS_PER_CUSTOMER = Limit("visit-requests-customer", 10, timedelta(days=1))


class RateCounter(SQLModel, table=True):
    __tablename__ = "rate_counter"

    key: str = Field(primary_key=True, max_length=120)
    hits: int = 0
    expires_at: datetime = Field(index=True)


class Limiter(Protocol):
    async def hit(self, limit: Limit, subject: str) -> bool:
        """Count one attempt; True while the count is still within the limit."""

    async def exceeded(self, limit: Limit, subject: str) -> bool:
        """Whether the limit is already used up, without counting an attempt."""

    async def reset(self, limit: Limit, subject: str) -> None: ...


class _Windows:
    def __init__(self, pepper: str, clock: Clock) -> None:
        self._pepper = pepper.encode()
        self._clock = clock

    def key(self, limit: Limit, subject: str) -> tuple[str, datetime]:
        """The counter's key for the current window, and when that window ends."""
        seconds = int(limit.window.total_seconds())
        now = self._clock()
        index = int(now.timestamp()) // seconds
        ends = datetime.fromtimestamp((index + 1) * seconds, tz=now.tzinfo or None)
        digest = hmac.new(self._pepper, subject.encode(), hashlib.sha256).hexdigest()[:40]
        return f"{limit.name}:{digest}:{index}", ends


class DatabaseLimiter:
    def __init__(self, database: Database, pepper: str, clock: Clock = utcnow) -> None:
        self.database = database
        self.windows = _Windows(pepper, clock)
        self.clock = clock

    async def hit(self, limit: Limit, subject: str) -> bool:
        key, ends = self.windows.key(limit, subject)
        dialect = self.database.engine.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        upsert = (
            insert(RateCounter)
            .values(key=key, hits=1, expires_at=ends)
            .on_conflict_do_update(index_elements=["key"], set_={"hits": col(RateCounter.hits) + 1})
            .returning(col(RateCounter.hits))
        )
        async with self.database.session() as session:
            hits = (await session.exec(upsert)).scalar_one()
            await session.commit()
        return int(hits) <= limit.max_hits

    async def exceeded(self, limit: Limit, subject: str) -> bool:
        key, _ = self.windows.key(limit, subject)
        async with self.database.session() as session:
            hits = (
                await session.exec(select(RateCounter.hits).where(col(RateCounter.key) == key))
            ).first()
        return hits is not None and hits >= limit.max_hits

    async def reset(self, limit: Limit, subject: str) -> None:
        key, _ = self.windows.key(limit, subject)
        async with self.database.session() as session:
            await session.exec(delete(RateCounter).where(col(RateCounter.key) == key))
            await session.commit()

    async def purge_expired(self) -> int:
        async with self.database.session() as session:
            result = await session.exec(
                delete(RateCounter).where(col(RateCounter.expires_at) <= self.clock())
            )
            await session.commit()
        return int(result.rowcount or 0)


class RedisLimiter:
    def __init__(
        self, redis: Any, pepper: str, clock: Clock = utcnow, prefix: str = "portal"
    ) -> None:
        self.redis = redis
        self.windows = _Windows(pepper, clock)
        self.clock = clock
        self.prefix = prefix

    async def hit(self, limit: Limit, subject: str) -> bool:
        key, ends = self.windows.key(limit, subject)
        name = f"{self.prefix}:limit:{key}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expireat(name, int(ends.timestamp()) + 1)
            hits, _ = await pipe.execute()
        return int(hits) <= limit.max_hits

    async def exceeded(self, limit: Limit, subject: str) -> bool:
        key, _ = self.windows.key(limit, subject)
        hits = await self.redis.get(f"{self.prefix}:limit:{key}")
        return hits is not None and int(hits) >= limit.max_hits

    async def reset(self, limit: Limit, subject: str) -> None:
        key, _ = self.windows.key(limit, subject)
        await self.redis.delete(f"{self.prefix}:limit:{key}")
