"""Staff in tests: signing in tenant admins and the demo platform operator, apps on a test's
own database, forms posted from the page that holds them, and the audit entries left."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlmodel import col, select

from domain.audit import AuditEntry
from domain.db import Database
from domain.demo import DEMO_OPERATOR_LOGIN, DEMO_PASSWORD, DEMO_STAFF_LOGIN
from tests.conftest import MakeClient, tenant_url
from tests.helpers import csrf_token, submit
from web.settings import Settings


async def staff_sign_in(
    client: httpx.AsyncClient,
    slug: str,
    login: str = DEMO_STAFF_LOGIN,
    password: str = DEMO_PASSWORD,
) -> httpx.Response:
    """Sign in at /admin on the tenant's host; the response is the redirect's target."""
    return await submit(client, slug, "/admin/sign-in", {"login": login, "password": password})


async def operator_sign_in(client: httpx.AsyncClient, slug: str) -> httpx.Response:
    """The demo platform operator signs in at /admin on this tenant's host."""
    return await staff_sign_in(client, slug, login=DEMO_OPERATOR_LOGIN)


def an_address(prefix: str = "198.51") -> str:
    """A client address of its own, so per-address limits never spill between tests."""
    return f"{prefix}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


async def staff_on(
    make_client: MakeClient, slug: str, address: str | None = None
) -> httpx.AsyncClient:
    """A tenant admin signed in on the tenant's host, in an app (process) of their own."""
    staff = await make_client(address or an_address())
    response = await staff_sign_in(staff, slug)
    assert response.status_code == 303, response.text
    return staff


async def post_on_page(
    client: httpx.AsyncClient, slug: str, page_path: str, action: str, data: dict[str, str]
) -> httpx.Response:
    """Post `data` to `action` with the CSRF token of the page at `page_path`."""
    page = await client.get(tenant_url(slug, page_path))
    assert page.status_code == 200, page.status_code
    return await client.post(
        tenant_url(slug, action), data={"_csrf_token": csrf_token(page.text), **data}
    )


async def audit_entries(
    database: Database, target_type: str, target_id: object
) -> list[AuditEntry]:
    """The audit entries about one thing, oldest first."""
    async with database.session() as session:
        rows = await session.exec(
            select(AuditEntry)
            .where(AuditEntry.target_type == target_type, AuditEntry.target_id == str(target_id))
            .order_by(col(AuditEntry.id))
        )
        return list(rows.all())


@asynccontextmanager
async def private_portal(settings: Settings) -> AsyncIterator[tuple[Any, Database]]:
    """An app on the test's own database (see the `private_settings` fixture), and that
    database for checking rows: for tests that publish configurations or create tenants."""
    from web.app import create_app

    app = create_app(settings)
    await app.portal.reload_tenants()
    database = Database(settings.database_url)
    try:
        yield app, database
    finally:
        await database.dispose()
        await app.portal.database.dispose()


def browser(app: Any, prefix: str = "198.18") -> httpx.AsyncClient:
    """One more person at a keyboard on the app: cookies and an address of their own."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(an_address(prefix), 40000)),
        base_url="http://localhost",
        headers={"Accept-Language": "en"},
    )
