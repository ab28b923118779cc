"""The demo outbox page over HTTP: each tenant sees its own messages, and only in demo mode."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import delete
from sqlmodel import select

from domain.db import Database
from domain.models import Tenant
from domain.outbox import OutboxMessage, enqueue
from tests.conftest import tenant_url
from web.messages import render_message
from web.settings import Settings


@pytest.fixture
async def recipients(portal_settings: Settings) -> AsyncIterator[dict[str, str]]:
    """One email for kz-vodokanal and one SMS for ivanovo-water, in an otherwise empty outbox."""
    database = Database(portal_settings.database_url)
    tag = uuid.uuid4().hex[:10]
    chosen = {
        "kz-vodokanal": f"kz-{tag}@example.test",
        "ivanovo-water": f"+7999{tag[:7]}",
    }
    try:
        async with database.session() as session:
            await session.exec(delete(OutboxMessage))
            tenants = {t.slug: t.id for t in (await session.exec(select(Tenant))).all()}
            for slug, recipient in chosen.items():
                tenant_id = tenants[slug]
                assert tenant_id is not None
                await enqueue(
                    session,
                    tenant_id=tenant_id,
                    channel="email" if "@" in recipient else "sms",
                    recipient=recipient,
                    locale="en",
                    template="test_message",
                    context={"tenant_name": f"Utility {slug}"},
                    idempotency_key=f"dev-outbox:{tag}",
                    renderer=render_message,
                )
            await session.commit()
        yield chosen
    finally:
        async with database.session() as session:
            await session.exec(delete(OutboxMessage))
            await session.commit()
        await database.dispose()


async def test_a_tenant_sees_its_own_messages_and_no_others(
    client: httpx.AsyncClient, recipients: dict[str, str]
) -> None:
    response = await client.get(tenant_url("kz-vodokanal", "/_dev/outbox?lang=en"))
    assert response.status_code == 200
    body = response.text
    assert recipients["kz-vodokanal"] in body
    assert "Test message from Utility kz-vodokanal" in body
    assert "This is a test message from Utility kz-vodokanal." in body
    assert "Waiting to be sent" in body
    assert recipients["ivanovo-water"] not in body
    assert "ivanovo-water" not in body

    other = await client.get(tenant_url("ivanovo-water", "/_dev/outbox?lang=en"))
    assert recipients["ivanovo-water"] in other.text
    assert recipients["kz-vodokanal"] not in other.text


async def test_the_table_is_labelled_for_assistive_technology(
    client: httpx.AsyncClient, recipients: dict[str, str]
) -> None:
    body = (await client.get(tenant_url("kz-vodokanal", "/_dev/outbox?lang=en"))).text
    assert "<caption>" in body
    assert '<th scope="col">' in body
    assert f'<th scope="row">{recipients["kz-vodokanal"]}</th>' in body


async def test_the_platform_page_lists_every_tenant(
    client: httpx.AsyncClient, recipients: dict[str, str]
) -> None:
    response = await client.get("http://localhost/_dev/outbox?lang=en")
    assert response.status_code == 200
    for slug, recipient in recipients.items():
        assert recipient in response.text
        assert slug in response.text


async def test_an_empty_outbox_says_so(
    client: httpx.AsyncClient, recipients: dict[str, str]
) -> None:
    response = await client.get(tenant_url("wujiang-water", "/_dev/outbox?lang=en"))
    assert response.status_code == 200
    assert "The outbox is empty." in response.text


async def test_no_outbox_page_outside_demo_mode(
    portal_settings: Settings, recipients: dict[str, str]
) -> None:
    from web.app import create_app

    app = create_app(dataclasses.replace(portal_settings, demo=False))
    portal = app.portal  # type: ignore[attr-defined]
    await portal.reload_tenants()
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
            for url in (
                tenant_url("kz-vodokanal", "/_dev/outbox"),
                "http://localhost/_dev/outbox",
            ):
                response = await http.get(url)
                assert response.status_code == 404
                assert recipients["kz-vodokanal"] not in response.text
    finally:
        await portal.database.dispose()
