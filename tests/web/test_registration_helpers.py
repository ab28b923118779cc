"""What the registration tests share: billing accounts of their own, the outbox, the mail server."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
from sqlmodel import col, select

from domain.db import Database
from domain.delivery import deliver_due
from domain.models import Account, Customer, Meter, Tenant
from domain.outbox import OutboxMessage
from tests.conftest import tenant_url
from tests.helpers import csrf_token, unique_digits
from tests.servers import SmtpServer

_LINK = re.compile(r"https?://\S+/register/confirm\?token=[\w%-]+")


def unique_email() -> str:
    return f"reg-{uuid.uuid4().hex[:12]}@example.com"


async def tenant_id(database_url: str, slug: str) -> int:
    database = Database(database_url)
    try:
        async with database.session() as session:
            tenant = (await session.exec(select(Tenant).where(Tenant.slug == slug))).one()
    finally:
        await database.dispose()
    assert tenant.id is not None
    return tenant.id


async def add_account(
    database_url: str, slug: str, *, meter_serials: tuple[str, ...] = (), **fields: Any
) -> Account:
    """A billing account nobody has registered yet (unique number unless given)."""
    database = Database(database_url)
    try:
        async with database.session() as session:
            tenant = (await session.exec(select(Tenant).where(Tenant.slug == slug))).one()
            assert tenant.id is not None
            fields.setdefault("number", unique_digits(fields.pop("number_length", 7)))
            account = Account(tenant_id=tenant.id, **fields)
            session.add(account)
            await session.flush()
            assert account.id is not None
            for serial in meter_serials:
                session.add(
                    Meter(
                        tenant_id=tenant.id,
                        account_id=account.id,
                        service="gas",
                        factory_number=serial,
                    )
                )
            await session.commit()
            return account
    finally:
        await database.dispose()


async def customers_with_email(database_url: str, email: str, slug: str = "") -> list[Customer]:
    database = Database(database_url)
    try:
        async with database.session() as session:
            query = select(Customer).where(Customer.email == email)
            if slug:
                query = query.join(Tenant, col(Tenant.id) == Customer.tenant_id).where(
                    Tenant.slug == slug
                )
            return list((await session.exec(query)).all())
    finally:
        await database.dispose()


async def outbox_messages(database_url: str, slug: str, recipient: str) -> list[OutboxMessage]:
    """Messages enqueued for one recipient of one tenant, oldest first."""
    tenant = await tenant_id(database_url, slug)
    database = Database(database_url)
    try:
        async with database.session() as session:
            return list(
                (
                    await session.exec(
                        select(OutboxMessage)
                        .where(
                            OutboxMessage.tenant_id == tenant,
                            OutboxMessage.recipient == recipient,
                        )
                        .order_by(col(OutboxMessage.id))
                    )
                ).all()
            )
    finally:
        await database.dispose()


async def delivered_email(database_url: str, server: SmtpServer, recipient: str) -> EmailMessage:
    """Deliver the outbox to the real SMTP server and return the message `recipient` got."""
    database = Database(database_url)
    try:
        # Messages of other tests may be due as well; they are delivered too, harmlessly.
        for _ in range(5):
            await deliver_due(database, server.sender(), datetime.now(UTC) + timedelta(seconds=1))
            found = [m for m in server.handler.messages if m["To"] == recipient]
            if found:
                return found[-1]
    finally:
        await database.dispose()
    raise AssertionError(f"no email reached {recipient}")


def confirmation_link(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    found = _LINK.search(body.get_content())
    assert found, body.get_content()
    return found.group(0)


async def post_step(
    client: httpx.AsyncClient, slug: str, page_path: str, data: dict[str, str], **headers: str
) -> httpx.Response:
    """GET a registration page, then POST its form to /register with the page's CSRF token."""
    form_page = await client.get(tenant_url(slug, page_path), headers=headers)
    assert form_page.status_code == 200, (page_path, form_page.status_code)
    return await client.post(
        tenant_url(slug, "/register"),
        data={"_csrf_token": csrf_token(form_page.text), **data},
        headers=headers,
    )


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"no hidden field {name}"
    return found.group(1)


def field_error(page: str, name: str) -> str:
    """The message next to a field (its `<name>-error` element), or "" when there is none."""
    found = re.search(rf'<p class="error" id="{name}-error">([^<]*)</p>', page)
    return found.group(1) if found else ""


def field_value(page: str, name: str) -> str:
    found = re.search(rf'<input [^>]*id="{name}" name="{name}" value="([^"]*)"', page)
    assert found, f"no input {name}"
    return found.group(1)
