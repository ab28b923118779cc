"""What functional tests share: a page's CSRF token, posting a form like a browser, signing in."""

from __future__ import annotations

import html
import re
import uuid

import httpx
from sqlmodel import select

from domain.demo import DEMO_PASSWORD
from tests.conftest import tenant_url

_TOKEN = re.compile(r'name="_csrf_token" value="([^"]+)"')


def csrf_token(page: str) -> str:
    found = _TOKEN.search(page)
    assert found, "the page has no form with a CSRF token"
    return html.unescape(found.group(1))


async def submit(
    client: httpx.AsyncClient,
    slug: str,
    form_path: str,
    data: dict[str, str],
    *,
    action: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """GET the page holding the form, then POST `data` with its CSRF token, as a browser would."""
    page = await client.get(tenant_url(slug, form_path))
    assert page.status_code == 200, (form_path, page.status_code)
    return await client.post(
        tenant_url(slug, action or form_path),
        data={"_csrf_token": csrf_token(page.text), **data},
        headers=headers or {},
    )


async def sign_in(
    client: httpx.AsyncClient,
    slug: str,
    identifier: str,
    password: str = DEMO_PASSWORD,
    **extra: str,
) -> httpx.Response:
    return await submit(
        client, slug, "/sign-in", {"identifier": identifier, "password": password, **extra}
    )


def text_of(page: str) -> str:
    """The visible text of a page, tags dropped and entities decoded, for assertions on wording."""
    without_tags = re.sub(r"<[^>]+>", " ", page)
    return " ".join(html.unescape(without_tags).split())


async def create_customer(
    database_url: str,
    slug: str,
    identifiers: dict[str, str],
    *,
    password: str = DEMO_PASSWORD,
    **fields: object,
) -> int:
    """A customer of its own for one test (so limits or sign-outs never touch shared demo data)."""
    from domain.db import Database
    from domain.models import Customer, CustomerIdentifier, Tenant
    from domain.passwords import hash_password_async

    database = Database(database_url)
    try:
        async with database.session() as session:
            tenant = (await session.exec(select(Tenant).where(Tenant.slug == slug))).one()
            assert tenant.id is not None
            customer = Customer(
                tenant_id=tenant.id, password_hash=await hash_password_async(password), **fields
            )
            session.add(customer)
            await session.flush()
            assert customer.id is not None
            for name, value in identifiers.items():
                session.add(
                    CustomerIdentifier(
                        tenant_id=tenant.id, customer_id=customer.id, name=name, value=value
                    )
                )
            await session.commit()
            return customer.id
    finally:
        await database.dispose()


def unique_digits(length: int) -> str:
    """A number of `length` digits that no demo data uses (it starts with 9s)."""
    tail = str(uuid.uuid4().int)[: max(length - 2, 1)]
    return ("99" + tail)[:length]
