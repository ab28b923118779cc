"""PORTAL_SMS_GATEWAY_URL: the initial password of an approved request reaches a real HTTP gateway.

These tests run delivery workers, which send whatever is due, so they use a database
of their own (migrated, presets installed) rather than the shared test database.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import httpx
import pytest
from sqlmodel import select

from domain.activation import ActivationRequest
from domain.db import Database
from domain.migrate import upgrade
from domain.models import Account, Tenant
from domain.outbox import enqueue
from domain.passwords import hash_password_async
from domain.staff import StaffUser
from domain.tenancy import install_presets
from tenants.loader import load_presets
from tests.conftest import tenant_url
from tests.helpers import submit
from tests.servers import SmsGatewayServer
from web.messages import render_message
from web.settings import Settings

SLUG = "wujiang-water"
STAFF_PASSWORD = "Gateway-test-2026"


async def _seed(url: str) -> None:
    database = Database(url)
    async with database.session() as session:
        await install_presets(session, load_presets())
        tenant = (await session.exec(select(Tenant).where(Tenant.slug == SLUG))).one()
        session.add(
            StaffUser(
                tenant_id=tenant.id,
                login="admin",
                full_name="Gateway admin",
                password_hash=await hash_password_async(STAFF_PASSWORD),
            )
        )
        await session.commit()
    await database.dispose()


@pytest.fixture(scope="module")
def own_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('sms') / 'portal.sqlite3'}"
    upgrade(url)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, _seed(url)).result()
    return url


async def wait_for(gateway: SmsGatewayServer, count: int, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while len(gateway.received) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


def test_the_setting_is_read_from_the_environment() -> None:
    url = "https://sms.example.test/send"
    assert Settings.from_environment({"PORTAL_SMS_GATEWAY_URL": url}).sms_gateway_url == url
    assert Settings.from_environment({}).sms_gateway_url is None


async def test_an_approval_sends_the_password_to_the_gateway_from_the_app(
    own_database_url: str, sms_gateway: SmsGatewayServer
) -> None:
    from web.app import create_app

    database = Database(own_database_url)
    async with database.session() as session:
        tenant = (await session.exec(select(Tenant).where(Tenant.slug == SLUG))).one()
        assert tenant.id is not None
        account = Account(tenant_id=tenant.id, number="36100000017", holder_name="赵短信")
        session.add(account)
        await session.flush()
        request = ActivationRequest(
            tenant_id=tenant.id,
            variant="individual",
            values={"account_number": account.number, "holder_name": account.holder_name},
            checks={"account": True, "account_number": True, "holder_name": True},
            account_id=account.id,
            phone="+8613900000017",
            locale="en",
        )
        session.add(request)
        await session.commit()
    await database.dispose()

    settings = Settings(
        database_url=own_database_url,
        secret_key="gateway-test-secret",
        sms_gateway_url=sms_gateway.url,
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with (
        app.app.lifespan(),  # type: ignore[attr-defined]
        httpx.AsyncClient(transport=transport, base_url="http://localhost") as client,
    ):
        signed_in = await submit(
            client, SLUG, "/admin/sign-in", {"login": "admin", "password": STAFF_PASSWORD}
        )
        assert signed_in.status_code == 303
        path = f"/admin/activations/{request.id}"
        approved = await submit(client, SLUG, path, {}, action=f"{path}/approve")
        assert approved.status_code == 303
        await wait_for(sms_gateway, 1)
        assert (await client.get(tenant_url(SLUG, path))).status_code == 200

    (sms,) = sms_gateway.received
    assert sms["body"]["to"] == "+8613900000017"
    assert "36100000017" in sms["body"]["text"]
    assert re.search(r"(?<!\d)\d{8}(?!\d)", sms["body"]["text"])


async def test_the_worker_command_uses_the_gateway(
    own_database_url: str, sms_gateway: SmsGatewayServer
) -> None:
    database = Database(own_database_url)
    async with database.session() as session:
        tenant = (await session.exec(select(Tenant).where(Tenant.slug == SLUG))).one()
        assert tenant.id is not None
        await enqueue(
            session,
            tenant_id=tenant.id,
            channel="sms",
            recipient="+8613900000018",
            locale="en",
            template="activation_rejected",
            context={"reason": "Please bring your ID card."},
            idempotency_key="gateway-test:worker",
            renderer=render_message,
        )
        await session.commit()
    await database.dispose()

    env = {
        **os.environ,
        "PORTAL_DATABASE_URL": own_database_url,
        "PORTAL_SMS_GATEWAY_URL": sms_gateway.url,
        "PORTAL_SECRET_KEY": "gateway-test-secret",
    }
    env.pop("PORTAL_SMTP_HOST", None)
    worker = subprocess.Popen(
        [sys.executable, "-m", "web.cli", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await wait_for(sms_gateway, 1, seconds=60)
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    (sms,) = sms_gateway.received
    assert sms["body"]["to"] == "+8613900000018"
    assert "Please bring your ID card." in sms["body"]["text"]


def test_settings_without_the_gateway_keep_sms_in_the_outbox() -> None:
    from domain.delivery import HeldInOutbox, HttpSmsGateway, Senders

    settings = Settings()
    held = Senders.from_settings(settings, settings.sms_gateway_url)
    assert isinstance(held.sms, HeldInOutbox)
    configured = replace(settings, sms_gateway_url="http://127.0.0.1:9/sms")
    sent = Senders.from_settings(configured, configured.sms_gateway_url)
    assert isinstance(sent.sms, HttpSmsGateway)
