"""The outbox against a real SMTP server (aiosmtpd) and a real HTTP gateway, on each database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import delete
from sqlmodel import col, select

from domain.db import Database
from domain.delivery import (
    MAX_ATTEMPTS,
    STALE_CLAIM,
    HeldInOutbox,
    HttpSmsGateway,
    Senders,
    claim_due,
    deliver_due,
    message_id,
    retry_delay,
    run_worker,
)
from domain.models import Tenant, utcnow
from domain.outbox import OutboxMessage, enqueue
from tenants.loader import load_presets
from tests.servers import MAIL_FROM, SmsGatewayServer, SmtpServer
from web.messages import render_message
from web.settings import Settings

TENANT_NAME = "Acme Water"


# --- database ------------------------------------------------------------------------


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """The shared test database with an empty outbox, so each test sees only its own messages."""
    db = Database(database_url)
    async with db.session() as session:
        await session.exec(delete(OutboxMessage))
        await session.commit()
    yield db
    await db.dispose()


@pytest.fixture
async def tenant_ids(database: Database) -> dict[str, int]:
    async with database.session() as session:
        tenants = (await session.exec(select(Tenant))).all()
    return {tenant.slug: tenant.id for tenant in tenants if tenant.id is not None}


async def enqueue_many(
    database: Database,
    tenant_id: int,
    count: int,
    *,
    channel: str = "email",
    recipient_prefix: str = "customer",
) -> list[str]:
    """Enqueue `count` test messages in one transaction; returns their recipients."""
    recipients = []
    async with database.session() as session:
        for _ in range(count):
            tag = uuid.uuid4().hex[:12]
            recipient = f"{recipient_prefix}-{tag}@example.test" if channel == "email" else tag
            await enqueue(
                session,
                tenant_id=tenant_id,
                channel="sms" if channel == "sms" else "email",
                recipient=recipient,
                locale="en",
                template="test_message",
                context={"tenant_name": TENANT_NAME},
                idempotency_key=f"test:{tag}",
                renderer=render_message,
            )
            recipients.append(recipient)
        await session.commit()
    return recipients


async def outbox_rows(database: Database) -> list[OutboxMessage]:
    async with database.session() as session:
        rows = await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))
        return list(rows.all())


def later(seconds: float) -> datetime:
    return utcnow() + timedelta(seconds=seconds)


# --- rendering and enqueueing -----------------------------------------------------------


def test_email_is_rendered_from_its_folder() -> None:
    rendered = render_message("test_message", "email", "en", {"tenant_name": TENANT_NAME})
    assert rendered.subject == f"Test message from {TENANT_NAME}"
    assert rendered.body_text.startswith(f"This is a test message from {TENANT_NAME}.")
    assert rendered.body_html is not None
    assert f"<p>This is a test message from {TENANT_NAME}.</p>" in rendered.body_html


def test_html_body_escapes_context_values_and_text_body_does_not() -> None:
    rendered = render_message("test_message", "email", "en", {"tenant_name": "A & B <Water>"})
    assert rendered.body_html is not None
    assert "A &amp; B &lt;Water&gt;" in rendered.body_html
    assert "A & B <Water>" in rendered.body_text


def test_sms_has_only_a_text_body() -> None:
    rendered = render_message("test_message", "sms", "en", {"tenant_name": TENANT_NAME})
    assert (rendered.subject, rendered.body_html) == ("", None)
    assert TENANT_NAME in rendered.body_text


def test_with_the_tenant_configuration_the_tenant_is_named_in_the_message_locale() -> None:
    config = next(preset for preset in load_presets() if preset.slug == "kz-vodokanal")
    for locale in config.locales.enabled:
        rendered = render_message("test_message", "email", locale, {}, config)
        assert config.name(locale) in rendered.subject
        assert config.name(locale) in rendered.body_text


@pytest.mark.parametrize("name", ["../base", "messages/test_message", "Test", ""])
def test_template_names_cannot_leave_the_messages_folder(name: str) -> None:
    with pytest.raises(ValueError):
        render_message(name, "email", "en", {})


async def test_rolled_back_transaction_enqueues_nothing(
    database: Database, tenant_ids: dict[str, int]
) -> None:
    tenant_id = tenant_ids["kz-vodokanal"]
    async with database.session() as session:
        await enqueue(
            session,
            tenant_id=tenant_id,
            channel="email",
            recipient="rolled-back@example.test",
            locale="en",
            template="test_message",
            context={"tenant_name": TENANT_NAME},
            idempotency_key="rolled-back",
            renderer=render_message,
        )
        await session.rollback()
    assert await outbox_rows(database) == []


async def test_the_same_idempotency_key_enqueues_once(
    database: Database, tenant_ids: dict[str, int]
) -> None:
    for _ in range(2):
        async with database.session() as session:
            await enqueue(
                session,
                tenant_id=tenant_ids["kz-vodokanal"],
                channel="email",
                recipient="once@example.test",
                locale="en",
                template="test_message",
                context={"tenant_name": TENANT_NAME},
                idempotency_key="welcome:42",
                renderer=render_message,
            )
            await session.commit()
    assert [row.recipient for row in await outbox_rows(database)] == ["once@example.test"]


# --- delivery over SMTP -------------------------------------------------------------------


async def test_committed_messages_reach_the_smtp_server_once(
    database: Database, tenant_ids: dict[str, int], smtp_server: SmtpServer
) -> None:
    recipients = await enqueue_many(database, tenant_ids["kz-vodokanal"], 3)

    report = await deliver_due(database, smtp_server.sender(), later(1))

    assert (report.claimed, report.sent) == (3, 3)
    rows = {row.recipient: row for row in await outbox_rows(database)}
    received = smtp_server.handler.messages
    assert sorted(message["To"] for message in received) == sorted(recipients)
    for message in received:
        row = rows[message["To"]]
        assert message["Subject"] == f"Test message from {TENANT_NAME}"
        assert message["Message-ID"] == message_id(row, MAIL_FROM)
        assert message["From"] == MAIL_FROM
        text = message.get_body(("plain",))
        html = message.get_body(("html",))
        assert text is not None and html is not None
        assert f"This is a test message from {TENANT_NAME}." in text.get_content()
        assert f"This is a test message from {TENANT_NAME}." in html.get_content()
        assert row.status == "sent" and row.sent_at is not None and row.attempts == 1
    assert [rcpts for _, rcpts in smtp_server.handler.envelopes] == [
        [message["To"]] for message in received
    ]

    for minutes in (1, 30, 600):
        again = await deliver_due(database, smtp_server.sender(), later(minutes * 60))
        assert again.claimed == 0
    assert len(smtp_server.handler.messages) == 3


async def test_messages_wait_while_smtp_is_down_and_go_out_once_it_is_back(
    database: Database, tenant_ids: dict[str, int], stopped_smtp_server: SmtpServer
) -> None:
    server = stopped_smtp_server
    recipients = await enqueue_many(database, tenant_ids["ivanovo-water"], 3)
    now = later(1)

    report = await deliver_due(database, server.sender(), now)

    assert (report.claimed, report.retried, report.sent) == (3, 3, 0)
    for row in await outbox_rows(database):
        assert row.status == "pending"
        assert row.attempts == 1
        assert row.last_error
        assert row.next_attempt_at == now + retry_delay(1)
    # Not due yet: nothing is tried before the backoff has passed.
    assert (await deliver_due(database, server.sender(), now + timedelta(seconds=10))).claimed == 0

    server.start()
    back = await deliver_due(database, server.sender(), now + timedelta(seconds=31))
    assert back.sent == 3
    for minutes in (1, 2, 60, 600):
        again = await deliver_due(database, server.sender(), now + timedelta(minutes=minutes))
        assert again.claimed == 0

    assert sorted(message["To"] for message in server.handler.messages) == sorted(recipients)
    assert len(set(server.handler.message_ids())) == 3
    assert {row.status for row in await outbox_rows(database)} == {"sent"}


async def test_concurrent_workers_never_send_a_message_twice(
    database: Database, database_url: str, tenant_ids: dict[str, int], smtp_server: SmtpServer
) -> None:
    recipients = await enqueue_many(database, tenant_ids["kz-vodokanal"], 40)
    # Separate engines, as separate worker processes would have.
    other_workers = [Database(database_url) for _ in range(2)]
    workers = [database, *other_workers]
    try:
        now = later(1)
        for _ in range(4):
            await asyncio.gather(
                *(deliver_due(worker, smtp_server.sender(), now, batch=7) for worker in workers)
            )
    finally:
        for worker in other_workers:
            await worker.dispose()

    ids = smtp_server.handler.message_ids()
    assert len(ids) == len(set(ids)) == 40
    assert sorted(message["To"] for message in smtp_server.handler.messages) == sorted(recipients)
    assert {row.status for row in await outbox_rows(database)} == {"sent"}


async def test_simultaneous_claims_are_disjoint(
    database: Database, database_url: str, tenant_ids: dict[str, int]
) -> None:
    await enqueue_many(database, tenant_ids["kz-vodokanal"], 20)
    other = Database(database_url)
    try:
        now = later(1)
        first, second = await asyncio.gather(
            claim_due(database, now, 10), claim_due(other, now, 10)
        )
    finally:
        await other.dispose()
    first_ids = {message.id for message in first}
    second_ids = {message.id for message in second}
    # Each worker gets a full batch of its own: none is starved, none takes too many.
    assert len(first_ids) == len(second_ids) == 10
    assert not first_ids & second_ids


async def test_a_message_fails_after_the_last_attempt(
    database: Database, tenant_ids: dict[str, int], stopped_smtp_server: SmtpServer
) -> None:
    await enqueue_many(database, tenant_ids["kz-vodokanal"], 1)
    now = later(1)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        report = await deliver_due(database, stopped_smtp_server.sender(), now)
        assert report.claimed == 1
        (row,) = await outbox_rows(database)
        assert row.attempts == attempt
        now = row.next_attempt_at + timedelta(seconds=1)
    assert (report.retried, report.failed) == (0, 1)
    assert row.status == "failed" and row.last_error
    assert (await deliver_due(database, stopped_smtp_server.sender(), later(86400))).claimed == 0


async def test_a_refused_recipient_fails_at_once_without_holding_up_the_others(
    database: Database, tenant_ids: dict[str, int], smtp_server: SmtpServer
) -> None:
    await enqueue_many(database, tenant_ids["kz-vodokanal"], 1, recipient_prefix="refused")
    good = await enqueue_many(database, tenant_ids["kz-vodokanal"], 1)

    report = await deliver_due(database, smtp_server.sender(), later(1))

    assert (report.failed, report.sent) == (1, 1)
    rows = {row.status: row for row in await outbox_rows(database)}
    assert rows["failed"].attempts == 1 and "550" in (rows["failed"].last_error or "")
    assert [message["To"] for message in smtp_server.handler.messages] == good


async def test_a_claim_left_by_a_dead_worker_is_picked_up_again(
    database: Database, tenant_ids: dict[str, int], smtp_server: SmtpServer
) -> None:
    await enqueue_many(database, tenant_ids["kz-vodokanal"], 2)
    now = later(1)
    # A worker claims the messages and dies before sending any.
    assert len(await claim_due(database, now, 10)) == 2

    soon = await deliver_due(database, smtp_server.sender(), now + timedelta(minutes=5))
    assert (soon.released, soon.claimed) == (0, 0)

    late = await deliver_due(
        database, smtp_server.sender(), now + STALE_CLAIM + timedelta(seconds=1)
    )
    assert (late.released, late.sent) == (2, 2)
    assert len(set(smtp_server.handler.message_ids())) == 2


def test_backoff_doubles_and_is_capped() -> None:
    delays = [retry_delay(attempt).total_seconds() for attempt in range(1, 10)]
    assert delays == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


# --- SMS and held messages ----------------------------------------------------------------


async def test_without_smtp_or_gateway_messages_are_held(
    database: Database, tenant_ids: dict[str, int], smtp_server: SmtpServer
) -> None:
    senders = Senders.from_settings(Settings(smtp_host=None))
    await enqueue_many(database, tenant_ids["kz-vodokanal"], 1)
    await enqueue_many(database, tenant_ids["kz-vodokanal"], 1, channel="sms")

    report = await deliver_due(database, senders, later(1))

    assert (report.held, report.sent) == (2, 0)
    assert {(row.channel, row.status) for row in await outbox_rows(database)} == {
        ("email", "held"),
        ("sms", "held"),
    }
    assert (await deliver_due(database, senders, later(3600))).claimed == 0
    assert smtp_server.handler.messages == []


async def test_sms_goes_to_the_http_gateway_as_json(
    database: Database, tenant_ids: dict[str, int], sms_gateway: SmsGatewayServer
) -> None:
    senders = Senders(email=HeldInOutbox(), sms=HttpSmsGateway(sms_gateway.url))
    (phone,) = await enqueue_many(database, tenant_ids["kz-vodokanal"], 1, channel="sms")

    report = await deliver_due(database, senders, later(1))

    assert report.sent == 1
    (request,) = sms_gateway.received
    assert request["content_type"] == "application/json"
    assert request["body"]["to"] == phone
    assert request["body"]["text"].startswith(f"This is a test message from {TENANT_NAME}.")
    assert request["idempotency_key"]


@pytest.mark.parametrize(("status", "outcome"), [(503, "pending"), (400, "failed")])
async def test_gateway_errors_retry_or_fail(
    database: Database,
    tenant_ids: dict[str, int],
    sms_gateway: SmsGatewayServer,
    status: int,
    outcome: str,
) -> None:
    sms_gateway.status = status
    senders = Senders(email=HeldInOutbox(), sms=HttpSmsGateway(sms_gateway.url))
    await enqueue_many(database, tenant_ids["kz-vodokanal"], 1, channel="sms")

    await deliver_due(database, senders, later(1))

    (row,) = await outbox_rows(database)
    assert row.status == outcome
    assert str(status) in (row.last_error or "")


# --- the worker loop ---------------------------------------------------------------------


async def test_worker_delivers_until_stopped(
    database: Database, tenant_ids: dict[str, int], smtp_server: SmtpServer
) -> None:
    stop = asyncio.Event()
    worker = asyncio.create_task(
        run_worker(database, smtp_server.sender(), stop, poll_seconds=0.05)
    )
    recipients = await enqueue_many(database, tenant_ids["kz-vodokanal"], 2)
    for _ in range(200):
        if len(smtp_server.handler.messages) == 2:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(worker, timeout=10)
    assert sorted(message["To"] for message in smtp_server.handler.messages) == sorted(recipients)
