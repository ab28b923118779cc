"""Rate limits in the database (each test backend) and in a real Redis, with an injected clock."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from domain.db import Database
from domain.limits import DatabaseLimiter, Limit, Limiter, RateCounter, RedisLimiter

PEPPER = "limits-test-pepper"
LIMIT = Limit("test-limit", 3, timedelta(minutes=15))
REDIS_URL = "redis://127.0.0.1:6379/0"


class Clock:
    """A hand-moved clock, starting at the beginning of the current window."""

    def __init__(self, window: timedelta = LIMIT.window) -> None:
        seconds = int(window.total_seconds())
        start = int(datetime.now(UTC).timestamp()) // seconds * seconds
        self.now = datetime.fromtimestamp(start, UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


MakeLimiter = Callable[[Clock], Limiter]


async def redis_or_skip() -> Any:
    """A client on the local Redis; the test is skipped when none answers."""
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL)
    try:
        await asyncio.wait_for(client.ping(), timeout=1)
    except Exception as error:  # no server, or not answering: nothing to test against
        await client.aclose()
        pytest.skip(f"Redis is not reachable at {REDIS_URL}: {error}")
    return client


@pytest.fixture(params=["database", "redis"])
async def make_limiter(
    request: pytest.FixtureRequest, database_url: str
) -> AsyncIterator[MakeLimiter]:
    """Builds limiters as separate processes would have them: each with its own connection."""
    from redis.asyncio import Redis

    closers: list[Any] = []
    prefix = f"test-{uuid.uuid4().hex}"
    redis = await redis_or_skip() if request.param == "redis" else None

    def make(clock: Clock) -> Limiter:
        if redis is None:
            database = Database(database_url)
            closers.append(database.dispose)
            return DatabaseLimiter(database, PEPPER, clock)
        client = Redis.from_url(REDIS_URL)
        closers.append(client.aclose)
        return RedisLimiter(client, PEPPER, clock, prefix=prefix)

    yield make
    for close in closers:
        await close()
    if redis is not None:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}:*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


def subject() -> str:
    return f"subject-{uuid.uuid4().hex}"


async def test_allowed_up_to_the_maximum_then_refused(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(Clock())
    who = subject()
    assert not await limiter.exceeded(LIMIT, who)
    assert [await limiter.hit(LIMIT, who) for _ in range(4)] == [True, True, True, False]
    assert await limiter.exceeded(LIMIT, who)
    # Other subjects and other limits are counted apart.
    assert await limiter.hit(LIMIT, subject())
    assert not await limiter.exceeded(Limit("another", 3, LIMIT.window), who)


async def test_exceeded_does_not_count_an_attempt(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(Clock())
    who = subject()
    for _ in range(5):
        assert not await limiter.exceeded(LIMIT, who)
    assert [await limiter.hit(LIMIT, who) for _ in range(3)] == [True, True, True]


async def test_a_new_window_starts_afresh(make_limiter: MakeLimiter) -> None:
    clock = Clock()
    limiter = make_limiter(clock)
    who = subject()
    for _ in range(3):
        await limiter.hit(LIMIT, who)
    clock.advance(LIMIT.window - timedelta(seconds=1))
    assert not await limiter.hit(LIMIT, who)
    clock.advance(timedelta(seconds=1))
    assert not await limiter.exceeded(LIMIT, who)
    assert await limiter.hit(LIMIT, who)


async def test_reset_clears_the_count(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(Clock())
    who = subject()
    for _ in range(3):
        await limiter.hit(LIMIT, who)
    assert await limiter.exceeded(LIMIT, who)
    await limiter.reset(LIMIT, who)
    assert not await limiter.exceeded(LIMIT, who)
    assert await limiter.hit(LIMIT, who)


async def test_two_processes_share_one_count(make_limiter: MakeLimiter) -> None:
    clock = Clock()
    first, second = make_limiter(clock), make_limiter(clock)
    who = subject()
    assert await first.hit(LIMIT, who)
    assert await second.hit(LIMIT, who)
    assert await first.hit(LIMIT, who)
    assert not await second.hit(LIMIT, who)
    assert await first.exceeded(LIMIT, who)
    await second.reset(LIMIT, who)
    assert not await first.exceeded(LIMIT, who)


async def test_simultaneous_hits_are_all_counted(make_limiter: MakeLimiter) -> None:
    clock = Clock()
    limiters = [make_limiter(clock) for _ in range(2)]
    who = subject()
    limit = Limit("burst", 10, LIMIT.window)
    allowed = await asyncio.gather(*(limiters[n % 2].hit(limit, who) for n in range(16)))
    assert sorted(allowed) == [False] * 6 + [True] * 10


async def test_counters_store_only_a_keyed_hash_and_expired_ones_are_purged(
    database_url: str,
) -> None:
    # A clock long past: this test's counters are the only ones that old in the shared database.
    clock = Clock()
    clock.now = datetime(2001, 1, 1, tzinfo=UTC)
    database = Database(database_url)
    try:
        limiter = DatabaseLimiter(database, PEPPER, clock)
        who = subject()
        await limiter.hit(LIMIT, who)
        async with database.session() as session:
            keys = (
                await session.exec(
                    select(RateCounter.key).where(col(RateCounter.key).like(f"{LIMIT.name}:%"))
                )
            ).all()
        assert keys and all(who not in key for key in keys)

        assert await limiter.purge_expired() == 0
        clock.advance(LIMIT.window)
        assert await limiter.purge_expired() >= 1
        clock.now = datetime(2001, 1, 1, tzinfo=UTC)
        assert not await limiter.exceeded(LIMIT, who)
        assert await limiter.hit(LIMIT, who)
    finally:
        await database.dispose()
