"""Delivering the outbox: claim due messages, send them by email or SMS, record each outcome."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Literal, Protocol
from urllib.parse import urlsplit

import aiosmtplib
from sqlalchemy import update
from sqlmodel import col, select

from domain.db import Database
from domain.models import utcnow
from domain.outbox import FAILED, HELD, PENDING, SENDING, SENT, OutboxMessage

log = logging.getLogger("portal.outbox")

MAX_ATTEMPTS = 12
FIRST_RETRY_DELAY = timedelta(seconds=30)
LONGEST_RETRY_DELAY = timedelta(hours=1)
# A worker holds a claim for seconds; one this old belongs to a worker that died mid-batch.
STALE_CLAIM = timedelta(minutes=10)
ERROR_LENGTH = 2000

Outcome = Literal["sent", "held"]


class PermanentFailure(Exception):
    """The message can never be delivered as it is (a refused address): no retries."""


class GatewayUnavailable(Exception):
    """The server or gateway could not be reached: nothing else on that channel is tried now."""


class EmailSender(Protocol):
    async def send(self, message: OutboxMessage) -> Outcome: ...


class SmsGateway(Protocol):
    async def send(self, message: OutboxMessage) -> Outcome: ...


class MailSettings(Protocol):
    @property
    def smtp_host(self) -> str | None: ...
    @property
    def smtp_port(self) -> int: ...
    @property
    def smtp_username(self) -> str | None: ...
    @property
    def smtp_password(self) -> str | None: ...
    @property
    def smtp_tls(self) -> bool: ...
    @property
    def mail_from(self) -> str: ...


def delivery_key(message: OutboxMessage) -> str:
    """The same on every attempt at one message, so a receiving side can drop a repeat."""
    digest = hashlib.sha256(f"{message.tenant_id}:{message.idempotency_key}".encode())
    return digest.hexdigest()[:40]


def message_id(message: OutboxMessage, mail_from: str) -> str:
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"
    return f"<{delivery_key(message)}@{domain}>"


def build_email(message: OutboxMessage, mail_from: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = mail_from
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Date"] = format_datetime(message.created_at)
    email["Message-ID"] = message_id(message, mail_from)
    email["Content-Language"] = message.locale.replace("_", "-")
    email.set_content(message.body_text)
    if message.body_html:
        email.add_alternative(message.body_html, subtype="html")
    if message.attachment is not None and message.attachment_name:
        # The text (and HTML) become the first part of a multipart/mixed message; a
        # non-ASCII file name is encoded per RFC 2231 by the email package.
        maintype, _, subtype = (message.attachment_type or "").partition("/")
        if not (maintype and subtype):
            maintype, subtype = "application", "octet-stream"
        email.add_attachment(
            bytes(message.attachment), maintype, subtype, filename=message.attachment_name
        )
    return email


class SmtpEmailSender:
    """Email through an SMTP server with aiosmtplib; STARTTLS when `tls` (implicit TLS on 465)."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        mail_from: str,
        username: str | None = None,
        password: str | None = None,
        tls: bool = False,
        timeout: float = 30.0,
    ) -> None:
        self.host = host
        self.port = port
        self.mail_from = mail_from
        self.username = username
        self.password = password
        self.tls = tls
        self.timeout = timeout

    async def send(self, message: OutboxMessage) -> Outcome:
        implicit_tls = self.tls and self.port == 465
        try:
            await aiosmtplib.send(
                build_email(message, self.mail_from),
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                use_tls=implicit_tls,
                start_tls=self.tls and not implicit_tls,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            if all(refusal.code >= 500 for refusal in error.recipients):
                raise PermanentFailure(str(error)) from error
            raise
        except aiosmtplib.SMTPDataError as error:
            if error.code >= 500:
                raise PermanentFailure(str(error)) from error
            raise
        except (
            aiosmtplib.SMTPConnectError,
            aiosmtplib.SMTPServerDisconnected,
            aiosmtplib.SMTPAuthenticationError,
            aiosmtplib.SMTPSenderRefused,
            aiosmtplib.SMTPHeloError,
            OSError,
        ) as error:
            # The server, our credentials or our sender address: not this message's fault.
            raise GatewayUnavailable(str(error) or type(error).__name__) from error
        return "sent"


class HttpSmsGateway:
    """SMS through an HTTP gateway: POST {"to", "text"} as JSON; any 2xx answer means accepted."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        if urlsplit(url).scheme not in ("http", "https"):
            raise ValueError("the SMS gateway URL must be http or https")
        self.url = url
        self.timeout = timeout

    def _post(self, message: OutboxMessage) -> None:
        payload = json.dumps({"to": message.recipient, "text": message.body_text}).encode()
        request = urllib.request.Request(
            self.url,
            data=payload,
            method="POST",
            headers={
                "Content-Type": "application/json",
                # Gateways that de-duplicate can use it; the value is the same on every retry.
                "Idempotency-Key": delivery_key(message),
            },
        )
        with urllib.request.urlopen(request, timeout=self.timeout):
            pass

    async def send(self, message: OutboxMessage) -> Outcome:
        try:
            # urllib blocks; a thread keeps the event loop (and the web requests) moving.
            await asyncio.to_thread(self._post, message)
        except urllib.error.HTTPError as error:
            if 400 <= error.code < 500 and error.code not in (408, 429):
                raise PermanentFailure(f"SMS gateway answered {error.code}") from error
            raise GatewayUnavailable(f"SMS gateway answered {error.code}") from error
        except OSError as error:  # URLError, refused connections and timeouts
            raise GatewayUnavailable(str(error) or type(error).__name__) from error
        return "sent"


class HeldInOutbox:
    """The development backend: the message stays in the outbox, readable at /_dev/outbox."""

    async def send(self, message: OutboxMessage) -> Outcome:
        return "held"


HeldEmailSender = HeldInOutbox
HeldSmsGateway = HeldInOutbox


@dataclass(frozen=True)
class Senders:
    email: EmailSender
    sms: SmsGateway

    @classmethod
    def from_settings(cls, settings: MailSettings, sms_gateway_url: str | None = None) -> Senders:
        """SMTP when a host is configured and an HTTP gateway when a URL is; else held."""
        email: EmailSender = HeldInOutbox()
        if settings.smtp_host:
            email = SmtpEmailSender(
                host=settings.smtp_host,
                port=settings.smtp_port,
                mail_from=settings.mail_from,
                username=settings.smtp_username,
                password=settings.smtp_password,
                tls=settings.smtp_tls,
            )
        sms: SmsGateway = HttpSmsGateway(sms_gateway_url) if sms_gateway_url else HeldInOutbox()
        return cls(email=email, sms=sms)

    def for_channel(self, channel: str) -> EmailSender | SmsGateway:
        if channel == "email":
            return self.email
        if channel == "sms":
            return self.sms
        raise PermanentFailure(f"unknown channel {channel!r}")


@dataclass
class DeliveryReport:
    released: int = 0
    claimed: int = 0
    sent: int = 0
    held: int = 0
    retried: int = 0
    failed: int = 0

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


def retry_delay(attempts: int) -> timedelta:
    """30 s after the first attempt, doubling each time, never more than an hour."""
    return min(FIRST_RETRY_DELAY * 2 ** max(attempts - 1, 0), LONGEST_RETRY_DELAY)


async def release_stale_claims(database: Database, now: datetime) -> int:
    """Messages claimed by a worker that died go back to the queue (or fail, if out of attempts).

    Such a message may already have been handed to the server before the worker died,
    so this is the one path that can send twice; the stable Message-ID lets the
    receiving side spot it.
    """
    cutoff = now - STALE_CLAIM
    stale = (col(OutboxMessage.status) == SENDING) & (col(OutboxMessage.claimed_at) < cutoff)
    async with database.session() as session:
        exhausted = await session.exec(
            update(OutboxMessage)
            .where(stale, col(OutboxMessage.attempts) >= MAX_ATTEMPTS)
            .values(status=FAILED, claimed_at=None, last_error="worker stopped while sending")
            .execution_options(synchronize_session=False)
        )
        released = await session.exec(
            update(OutboxMessage)
            .where(stale)
            .values(status=PENDING, claimed_at=None, next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
        await session.commit()
    return exhausted.rowcount + released.rowcount


async def claim_due(database: Database, now: datetime, batch: int) -> list[OutboxMessage]:
    """Take up to `batch` due messages for this worker; no two workers get the same one.

    On PostgreSQL, SELECT ... FOR UPDATE SKIP LOCKED lets workers choose disjoint rows
    without waiting for each other. SQLite has no row locks (it ignores the clause), so
    there the choice is a subquery of the UPDATE: it runs under the database's single
    write lock and sees the claims of a worker that went first, so each worker takes the
    next messages instead of finding its choice gone. On both, the UPDATE re-checks
    status = 'pending', so a row another worker claimed first is never ours.
    """
    due = (
        select(OutboxMessage.id)
        .where(OutboxMessage.status == PENDING, OutboxMessage.next_attempt_at <= now)
        .order_by(col(OutboxMessage.next_attempt_at), col(OutboxMessage.id))
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    async with database.session() as session:
        if database.engine.dialect.name == "postgresql":
            # Chosen first, in this transaction: as a subquery of the UPDATE, PostgreSQL
            # may run a LIMITed FOR UPDATE more than once and claim far more than `batch`.
            chosen = col(OutboxMessage.id).in_(list((await session.exec(due)).all()))
        else:
            chosen = col(OutboxMessage.id).in_(due)
        claimed = await session.exec(
            update(OutboxMessage)
            .where(chosen, col(OutboxMessage.status) == PENDING)
            .values(status=SENDING, claimed_at=now, attempts=col(OutboxMessage.attempts) + 1)
            .returning(col(OutboxMessage.id))
            .execution_options(synchronize_session=False)
        )
        claimed_ids = list(claimed.scalars().all())
        if not claimed_ids:
            await session.rollback()
            return []
        messages = (
            await session.exec(
                select(OutboxMessage)
                .where(col(OutboxMessage.id).in_(claimed_ids))
                .order_by(col(OutboxMessage.next_attempt_at), col(OutboxMessage.id))
            )
        ).all()
        await session.commit()
    return list(messages)


async def _record(database: Database, message: OutboxMessage, **values: object) -> None:
    # Only our own claim is updated: if it went stale and another worker took the
    # message, that worker's outcome is the one that counts.
    async with database.session() as session:
        await session.exec(
            update(OutboxMessage)
            .where(
                col(OutboxMessage.id) == message.id,
                col(OutboxMessage.status) == SENDING,
                col(OutboxMessage.claimed_at) == message.claimed_at,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        await session.commit()


async def _retry_later(
    database: Database, message: OutboxMessage, now: datetime, error: str
) -> str:
    error = error[:ERROR_LENGTH]
    if message.attempts >= MAX_ATTEMPTS:
        await _record(database, message, status=FAILED, claimed_at=None, last_error=error)
        return "failed"
    await _record(
        database,
        message,
        status=PENDING,
        claimed_at=None,
        last_error=error,
        next_attempt_at=now + retry_delay(message.attempts),
    )
    return "retried"


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


async def _deliver_one(
    database: Database,
    senders: Senders,
    message: OutboxMessage,
    now: datetime,
    unavailable: dict[str, str],
) -> str:
    if message.channel in unavailable:
        return await _retry_later(database, message, now, unavailable[message.channel])
    try:
        delivered = await senders.for_channel(message.channel).send(message)
    except PermanentFailure as error:
        error_text = _describe(error)[:ERROR_LENGTH]
        await _record(database, message, status=FAILED, claimed_at=None, last_error=error_text)
        return "failed"
    except GatewayUnavailable as error:
        unavailable[message.channel] = _describe(error)
        return await _retry_later(database, message, now, _describe(error))
    except Exception as error:  # any other fault is this attempt's, and is retried
        return await _retry_later(database, message, now, _describe(error))
    if delivered == "held":
        await _record(database, message, status=HELD, claimed_at=None)
        return "held"
    # Straight after the server's "accepted", in a transaction of its own.
    await _record(database, message, status=SENT, sent_at=now, claimed_at=None)
    return "sent"


async def deliver_due(
    database: Database, senders: Senders, now: datetime, batch: int = 50
) -> DeliveryReport:
    """One round of delivery: release dead claims, claim due messages, send, record each outcome.

    Exactly once toward an SMTP server cannot be guaranteed: the server may accept a
    message and the connection drop before we hear so, and a worker may die between
    the server's answer and our commit. Each message is marked sent in its own short
    transaction the moment the server accepts it, which keeps that window to a few
    milliseconds; the Message-ID, the same on every attempt, covers the rest.
    """
    report = DeliveryReport(released=await release_stale_claims(database, now))
    messages = await claim_due(database, now, batch)
    report.claimed = len(messages)
    # A channel whose server is down is not tried again in this round: its messages wait.
    unavailable: dict[str, str] = {}
    for message in messages:
        outcome = await _deliver_one(database, senders, message, now, unavailable)
        report.count(outcome)
        log.info(
            "outbox message %s (%s, %s) %s after %d attempt(s)",
            message.id,
            message.channel,
            message.template,
            outcome,
            message.attempts,
        )
    return report


async def run_worker(
    database: Database,
    senders: Senders,
    stop_event: asyncio.Event,
    poll_seconds: float = 2.0,
    batch: int = 50,
) -> None:
    """Deliver until `stop_event` is set; a round in progress is finished, never cut short."""
    log.info("outbox worker started")
    while not stop_event.is_set():
        try:
            report = await deliver_due(database, senders, utcnow(), batch)
        except Exception:  # a database hiccup must not end the worker; the next round retries
            log.exception("outbox delivery round failed")
            report = DeliveryReport()
        if report.claimed >= batch:
            continue  # more are waiting: no pause
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop_event.wait(), timeout=poll_seconds)
    log.info("outbox worker stopped")
