"""Server-side sessions in the database (each test backend) and in a real Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from domain.db import Database
from domain.models import Customer, Tenant, utcnow
from domain.sessions import (
    IDLE_LIFETIME,
    REMEMBERED_LIFETIME,
    RENEW_AFTER,
    DatabaseSessionStore,
    RedisSessionStore,
    SessionRecord,
    SessionStore,
    WebSession,
    _dump,
    _load,
    select_session,
    token_hash,
)
from domain.staff import StaffUser

REDIS_URL = "redis://127.0.0.1:6379/0"


class Backend:
    """Makes stores (as separate processes would have them) and reaches into their storage."""

    def __init__(self, kind: str, database_url: str, redis: Any | None) -> None:
        self.kind = kind
        self.database_url = database_url
        self.redis = redis
        self.prefix = f"test-{uuid.uuid4().hex}"
        self._closers: list[Any] = []

    def store(self) -> SessionStore:
        if self.redis is None:
            database = Database(self.database_url)
            self._closers.append(database.dispose)
            return DatabaseSessionStore(database)
        from redis.asyncio import Redis

        client = Redis.from_url(REDIS_URL)
        database = Database(self.database_url)
        self._closers += [client.aclose, database.dispose]
        return RedisSessionStore(client, database, prefix=self.prefix)

    def _key(self, token: str) -> str:
        return f"{self.prefix}:session:{token_hash(token)}"

    async def stored(self, token: str) -> str:
        """Everything kept for the session (its key and values) as one string."""
        if self.redis is None:
            database = Database(self.database_url)
            async with database.session() as session:
                row = (await session.exec(select_session(token))).one()
            await database.dispose()
            return repr(row.model_dump())
        raw = await self.redis.get(self._key(token))
        return self._key(token) + raw.decode()

    async def expire(self, token: str) -> None:
        if self.redis is None:
            await self._update(token, expires_at=utcnow() - timedelta(seconds=1))
        else:
            await self.redis.pexpire(self._key(token), 1)
            await asyncio.sleep(0.05)

    async def age(self, token: str, by: timedelta) -> None:
        """Make the session look last used `by` ago, with its expiry due soon."""
        soon = utcnow() + timedelta(minutes=1)
        if self.redis is None:
            await self._update(token, last_seen_at=utcnow() - by, expires_at=soon)
            return
        record = _load(await self.redis.get(self._key(token)))
        aged = SessionRecord(
            record.token_hash,
            record.tenant_id,
            record.customer_id,
            record.staff_id,
            record.remember,
            soon,
            utcnow() - by,
        )
        await self.redis.set(self._key(token), _dump(aged), ex=60)

    async def seconds_left(self, token: str) -> float:
        if self.redis is None:
            database = Database(self.database_url)
            async with database.session() as session:
                row = (await session.exec(select_session(token))).one()
            await database.dispose()
            expires = row.expires_at
            if expires.tzinfo is None:
                expires = expires.replace(tzinfo=utcnow().tzinfo)
            return (expires - utcnow()).total_seconds()
        return float(await self.redis.ttl(self._key(token)))

    async def _update(self, token: str, **values: Any) -> None:
        database = Database(self.database_url)
        async with database.session() as session:
            await session.exec(
                update(WebSession)
                .where(col(WebSession.token_hash) == token_hash(token))
                .values(**values)
            )
            await session.commit()
        await database.dispose()

    async def close(self) -> None:
        for close in self._closers:
            await close()
        if self.redis is not None:
            keys = [key async for key in self.redis.scan_iter(match=f"{self.prefix}:*")]
            if keys:
                await self.redis.delete(*keys)
            await self.redis.aclose()


@pytest.fixture(params=["database", "redis"])
async def backend(request: pytest.FixtureRequest, database_url: str) -> AsyncIterator[Backend]:
    redis = None
    if request.param == "redis":
        from redis.asyncio import Redis

        redis = Redis.from_url(REDIS_URL)
        try:
            await asyncio.wait_for(redis.ping(), timeout=1)
        except Exception as error:  # no server, or not answering: nothing to test against
            await redis.aclose()
            pytest.skip(f"Redis is not reachable at {REDIS_URL}: {error}")
    found = Backend(request.param, database_url, redis)
    yield found
    await found.close()


@pytest.fixture
async def people(database_url: str) -> dict[str, int]:
    """Two tenants, two customers of the first, and a staff member of it: rows of this test."""
    database = Database(database_url)
    async with database.session() as session:
        tenants = (await session.exec(select(Tenant).order_by(col(Tenant.id)))).all()
        first, second = tenants[0].id, tenants[1].id
        assert first is not None and second is not None
        customers = [Customer(tenant_id=first, full_name="Session test") for _ in range(2)]
        staff = StaffUser(tenant_id=first, login=f"s-{uuid.uuid4().hex[:10]}", password_hash="x")
        session.add_all([*customers, staff])
        await session.commit()
        found = {
            "tenant": first,
            "other_tenant": second,
            "customer": customers[0].id,
            "other_customer": customers[1].id,
            "staff": staff.id,
        }
    await database.dispose()
    return {key: value for key, value in found.items() if value is not None}


async def test_a_session_loads_with_its_owner_and_only_its_hash_is_stored(
    backend: Backend, people: dict[str, int]
) -> None:
    store = backend.store()
    token = await store.create(tenant_id=people["tenant"], customer_id=people["customer"])
    record = await store.load(token, people["tenant"])
    assert record is not None
    assert (record.tenant_id, record.customer_id, record.staff_id) == (
        people["tenant"],
        people["customer"],
        None,
    )
    assert record.token_hash == token_hash(token) != token
    kept = await backend.stored(token)
    assert token_hash(token) in kept and token not in kept
    assert await store.load("not-a-token", people["tenant"]) is None


async def test_a_session_loads_with_the_customer_or_staff_member_it_belongs_to(
    backend: Backend, people: dict[str, int]
) -> None:
    store = backend.store()
    customers = await store.create(tenant_id=people["tenant"], customer_id=people["customer"])
    staffs = await store.create(tenant_id=people["tenant"], staff_id=people["staff"])
    of_customer = await store.load_owned(customers, people["tenant"])
    of_staff = await store.load_owned(staffs, people["tenant"])
    assert of_customer is not None and of_staff is not None
    assert of_customer.customer is not None and of_customer.staff is None
    assert of_customer.customer.id == people["customer"] == of_customer.record.customer_id
    assert of_staff.staff is not None and of_staff.customer is None
    assert of_staff.staff.id == people["staff"] == of_staff.record.staff_id
    assert await store.load_owned(customers, people["other_tenant"]) is None
    assert await store.load_owned("not-a-token", people["tenant"]) is None


async def test_a_session_of_one_tenant_does_not_load_on_another(
    backend: Backend, people: dict[str, int]
) -> None:
    store = backend.store()
    token = await store.create(tenant_id=people["tenant"], staff_id=people["staff"])
    assert await store.load(token, people["other_tenant"]) is None
    record = await store.load(token, people["tenant"])
    assert record is not None and record.staff_id == people["staff"]


async def test_lifetimes_expiry_and_renewal(backend: Backend, people: dict[str, int]) -> None:
    store = backend.store()
    brief = await store.create(tenant_id=people["tenant"], customer_id=people["customer"])
    remembered = await store.create(
        tenant_id=people["tenant"], customer_id=people["customer"], remember=True
    )
    assert abs(await backend.seconds_left(brief) - IDLE_LIFETIME.total_seconds()) < 60
    assert abs(await backend.seconds_left(remembered) - REMEMBERED_LIFETIME.total_seconds()) < 60

    # Used again after a while: the expiry moves forward by the whole lifetime.
    await backend.age(remembered, RENEW_AFTER + timedelta(seconds=5))
    assert await store.load(remembered, people["tenant"]) is not None
    assert abs(await backend.seconds_left(remembered) - REMEMBERED_LIFETIME.total_seconds()) < 60

    await backend.expire(brief)
    assert await store.load(brief, people["tenant"]) is None
    assert await store.load(remembered, people["tenant"]) is not None


async def test_revoke_and_revoke_all_keeping_the_current_session(
    backend: Backend, people: dict[str, int]
) -> None:
    store = backend.store()
    tenant = people["tenant"]
    mine = [await store.create(tenant_id=tenant, customer_id=people["customer"]) for _ in range(3)]
    someone_else = await store.create(tenant_id=tenant, customer_id=people["other_customer"])
    staff = await store.create(tenant_id=tenant, staff_id=people["staff"])

    await store.revoke(mine[0])
    assert await store.load(mine[0], tenant) is None
    removed = await store.revoke_all(
        tenant_id=tenant, customer_id=people["customer"], keep_token=mine[1]
    )
    assert removed == 1
    assert await store.load(mine[1], tenant) is not None
    assert await store.load(mine[2], tenant) is None
    assert await store.load(someone_else, tenant) is not None

    assert await store.revoke_all(tenant_id=tenant, staff_id=people["staff"]) == 1
    assert await store.load(staff, tenant) is None
    assert await store.load(someone_else, tenant) is not None
    with pytest.raises(ValueError):
        await store.revoke_all(tenant_id=tenant)
    with pytest.raises(ValueError):
        await store.revoke_all(tenant_id=tenant, customer_id=1, staff_id=1)


async def test_two_stores_on_one_backend_see_each_others_sessions(
    backend: Backend, people: dict[str, int]
) -> None:
    first, second = backend.store(), backend.store()
    tenant = people["tenant"]
    token = await first.create(tenant_id=tenant, customer_id=people["customer"])
    other = await second.create(tenant_id=tenant, customer_id=people["customer"])
    record = await second.load(token, tenant)
    assert record is not None and record.customer_id == people["customer"]

    await second.revoke(token)
    assert await first.load(token, tenant) is None
    assert await first.revoke_all(tenant_id=tenant, customer_id=people["customer"]) == 1
    assert await second.load(other, tenant) is None
