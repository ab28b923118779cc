"""The outbox: every email and SMS is rendered and stored in the transaction that caused it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from sqlalchemy import Column, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

# Imported for the shared metadata: the foreign key below names the tenant table.
from domain.models import Tenant, utcnow
from tenants.schema import TenantConfig

Channel = Literal["email", "sms"]
CHANNELS: tuple[Channel, ...] = ("email", "sms")

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
# Kept in the outbox on purpose by a development backend; shown at /_dev/outbox.
HELD = "held"

SUBJECT_LENGTH = 300


class OutboxMessage(SQLModel, table=True):
    """One rendered message waiting for, or done with, delivery."""

    __tablename__ = "outbox_message"
    __table_args__ = (
        # The caller's idempotency key makes enqueueing the same notice twice a no-op.
        UniqueConstraint("tenant_id", "idempotency_key"),
        # The worker's question: what is pending and due?
        Index("ix_outbox_message_status_due", "status", "next_attempt_at"),
        Index("ix_outbox_message_tenant_created", "tenant_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id")
    channel: str = Field(max_length=8)  # email | sms
    recipient: str = Field(max_length=320)
    locale: str = Field(max_length=16)
    template: str = Field(max_length=64)
    subject: str = Field(max_length=SUBJECT_LENGTH, default="")
    body_text: str = Field(sa_column=Column(Text, nullable=False))
    body_html: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    status: str = Field(max_length=10, default=PENDING)  # pending|sending|sent|failed|held
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    # When a worker took the message; a claim older than a few minutes means the worker died.
    claimed_at: datetime | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    idempotency_key: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
    # One file sent with an email (a PDF statement), if any.
    attachment_name: str | None = Field(default=None, max_length=200)
    attachment_type: str | None = Field(default=None, max_length=100)
    attachment: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))


@dataclass(frozen=True)
class Attachment:
    """One file sent with an email: its name as the reader sees it, MIME type and bytes."""

    name: str
    mime_type: str
    content: bytes


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    body_text: str
    body_html: str | None


class MessageRenderer(Protocol):
    """Turns a message template into text; the web layer supplies it (web.messages)."""

    def __call__(
        self,
        template: str,
        channel: Channel,
        locale: str,
        context: dict[str, Any],
        config: TenantConfig | None = None,
    ) -> RenderedMessage: ...


async def enqueue(
    session: AsyncSession,
    *,
    tenant_id: int,
    channel: Channel,
    recipient: str,
    locale: str,
    template: str,
    context: dict[str, Any],
    idempotency_key: str,
    renderer: MessageRenderer,
    config: TenantConfig | None = None,
    attachment: Attachment | None = None,
) -> OutboxMessage:
    """Render a message and add it to the caller's transaction; the caller commits.

    Pass the tenant's `config` so the message speaks in the tenant's terms (see
    `web.messages.render_message`); without it the shared catalog alone is used.

    A message already enqueued under the same key for the tenant is returned as it is,
    so a retried request does not notify twice. An `attachment` goes with an email only.
    """
    if attachment is not None and channel != "email":
        raise ValueError("only an email can carry an attachment")
    existing = (
        await session.exec(
            select(OutboxMessage).where(
                OutboxMessage.tenant_id == tenant_id,
                OutboxMessage.idempotency_key == idempotency_key,
            )
        )
    ).first()
    if existing is not None:
        return existing
    rendered = renderer(template, channel, locale, context, config)
    message = OutboxMessage(
        tenant_id=tenant_id,
        channel=channel,
        recipient=recipient.strip(),
        locale=locale,
        template=template,
        subject=rendered.subject,
        body_text=rendered.body_text,
        body_html=rendered.body_html,
        idempotency_key=idempotency_key,
    )
    if attachment is not None:
        message.attachment_name = attachment.name[:200]
        message.attachment_type = attachment.mime_type
        message.attachment = attachment.content
    session.add(message)
    return message


@dataclass(frozen=True)
class OutboxEntry:
    message: OutboxMessage
    tenant_slug: str


async def recent_messages(
    session: AsyncSession, *, tenant_id: int | None, limit: int = 200
) -> list[OutboxEntry]:
    """The newest messages of one tenant, or of every tenant when `tenant_id` is None."""
    statement = (
        select(OutboxMessage, Tenant.slug)
        .join(Tenant, col(Tenant.id) == col(OutboxMessage.tenant_id))
        .order_by(col(OutboxMessage.created_at).desc(), col(OutboxMessage.id).desc())
        .limit(limit)
    )
    if tenant_id is not None:
        statement = statement.where(OutboxMessage.tenant_id == tenant_id)
    rows = (await session.exec(statement)).all()
    return [OutboxEntry(message=message, tenant_slug=slug) for message, slug in rows]
