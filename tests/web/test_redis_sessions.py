"""With PORTAL_REDIS_URL set, sessions and limits live in Redis and two processes share them."""

from __future__ import annotations

import socket
import uuid
from dataclasses import replace

import httpx
import pytest

from tests.conftest import tenant_url
from tests.helpers import create_customer, sign_in, unique_digits
from web.settings import Settings

REDIS_URL = "redis://127.0.0.1:6379/15"


def _redis_is_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not _redis_is_up(), reason="no Redis on 127.0.0.1:6379")


async def test_sessions_and_limits_in_redis_are_shared_by_two_processes(
    portal_settings: Settings,
) -> None:
    from web.app import create_app

    # A secret of its own keeps this test's counters apart from any earlier run's.
    settings = replace(portal_settings, redis_url=REDIS_URL, secret_key=uuid.uuid4().hex)
    apps = [create_app(settings), create_app(settings)]
    for app in apps:
        await app.portal.reload_tenants()  # type: ignore[attr-defined]
    number = unique_digits(11)
    customer_id = await create_customer(
        settings.database_url, "wujiang-water", {"account_number": number}
    )
    first, second = (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("10.88.0.1", 1)))
        for app in apps
    )
    async with first, second:
        token = (await sign_in(first, "wujiang-water", number)).cookies["session"]
        first.cookies.clear()
        second.cookies.set("session", token)
        assert (await second.get(tenant_url("wujiang-water", "/cabinet"))).status_code == 200
        # Nothing about the session went to the database.
        from domain.sessions import DatabaseSessionStore

        database_store = DatabaseSessionStore(apps[0].portal.database)  # type: ignore[attr-defined]
        tenant_id = apps[0].portal.tenant_ids["wujiang-water"]  # type: ignore[attr-defined]
        assert await database_store.load(token, tenant_id) is None
        # "Sign out everywhere" through one process ends the session in the other.
        store = apps[0].portal.sessions  # type: ignore[attr-defined]
        assert await store.revoke_all(tenant_id=tenant_id, customer_id=customer_id) == 1
        assert (await second.get(tenant_url("wujiang-water", "/cabinet"))).status_code == 303
        second.cookies.clear()
        stranger = unique_digits(11)
        for _ in range(5):
            await sign_in(first, "wujiang-water", stranger, "Wrong123")
        assert (await sign_in(second, "wujiang-water", stranger, "Wrong123")).status_code == 429
    for app in apps:
        await app.portal.database.dispose()  # type: ignore[attr-defined]
