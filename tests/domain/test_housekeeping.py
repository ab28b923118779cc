"""Housekeeping deletes expired sessions and rate counters, and leaves live ones alone."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import col, select

from domain.db import Database
from domain.housekeeping import purge_expired
from domain.import_jobs import ImportJob, fail_abandoned_import_jobs
from domain.limits import DatabaseLimiter, Limit, RateCounter
from domain.models import Customer, utcnow
from domain.sessions import DatabaseSessionStore, WebSession, token_hash


async def test_expired_sessions_and_counters_go_and_live_ones_stay(database: Database) -> None:
    async with database.session() as session:
        customer = (await session.exec(select(Customer).limit(1))).one()
    store = DatabaseSessionStore(database)
    live = await store.create(tenant_id=customer.tenant_id, customer_id=customer.id)
    expired = await store.create(tenant_id=customer.tenant_id, customer_id=customer.id)
    limiter = DatabaseLimiter(database, pepper="test")
    limit = Limit(f"housekeeping-{uuid.uuid4().hex[:8]}", 5, timedelta(hours=1))
    await limiter.hit(limit, "live-subject")
    await limiter.hit(limit, "old-subject")
    old_key, _ = limiter.windows.key(limit, "old-subject")
    live_key, _ = limiter.windows.key(limit, "live-subject")
    async with database.session() as session:
        past = utcnow() - timedelta(minutes=1)
        await session.exec(
            update(WebSession)
            .where(col(WebSession.token_hash) == token_hash(expired))
            .values(expires_at=past)
        )
        await session.exec(
            update(RateCounter).where(col(RateCounter.key) == old_key).values(expires_at=past)
        )
        await session.commit()

    sessions, counters = await purge_expired(database)

    assert sessions >= 1 and counters >= 1
    async with database.session() as session:
        hashes = set((await session.exec(select(WebSession.token_hash))).all())
        keys = set((await session.exec(select(RateCounter.key))).all())
    assert token_hash(live) in hashes and token_hash(expired) not in hashes
    assert live_key in keys and old_key not in keys
    assert await store.load(live, customer.tenant_id) is not None


async def test_an_import_whose_process_died_is_marked_failed(database: Database) -> None:
    async with database.session() as session:
        tenant_id = (await session.exec(select(Customer.tenant_id).limit(1))).one()
        now = utcnow()
        abandoned = ImportJob(
            tenant_id=tenant_id,
            kind="charges",
            status="running",
            content=b"x",
            started_at=now - timedelta(hours=2),
            created_at=now - timedelta(hours=2),
        )
        fresh = ImportJob(
            tenant_id=tenant_id,
            kind="charges",
            status="running",
            content=b"x",
            started_at=now - timedelta(minutes=5),
            created_at=now - timedelta(minutes=5),
        )
        session.add_all([abandoned, fresh])
        await session.commit()
        ids = (abandoned.id, fresh.id)

    async with database.session() as session:
        assert await fail_abandoned_import_jobs(session, now) >= 1

    async with database.session() as session:
        first = await session.get(ImportJob, ids[0])
        second = await session.get(ImportJob, ids[1])
        assert first is not None and first.status == "failed" and first.finished_at is not None
        assert second is not None and second.status == "running"
