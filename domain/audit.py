"""The audit log: every staff action, with who, when, what, and what it was before and after.

An entry is added in the caller's transaction, so a change and its record are
committed together or not at all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.models import utcnow


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_entry_tenant_at", "tenant_id", "at"),
        # A customer's or request's history, and the log's target filter.
        Index("ix_audit_entry_tenant_target", "tenant_id", "target_type", "target_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # None for platform-wide actions (a tenant created, an operator added).
    tenant_id: int | None = Field(default=None, foreign_key="tenant.id")
    staff_id: int | None = Field(default=None, foreign_key="staff_user.id")
    # The login as it was at the time: the entry must still read right if the staff
    # member is renamed or removed.
    actor: str = Field(max_length=64)
    action: str = Field(max_length=60)  # e.g. "config.publish", "customer.lock"
    target_type: str = Field(max_length=40, default="")
    target_id: str = Field(max_length=80, default="")
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    address: str = Field(max_length=64, default="")
    at: datetime = Field(default_factory=utcnow)


def record_action(
    session: AsyncSession,
    *,
    tenant_id: int | None,
    staff_id: int | None,
    actor: str,
    action: str,
    target_type: str = "",
    target_id: object = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    address: str = "",
) -> AuditEntry:
    """Add an audit entry to the session; the caller commits it with the change itself."""
    entry = AuditEntry(
        tenant_id=tenant_id,
        staff_id=staff_id,
        actor=actor[:64],
        action=action,
        target_type=target_type,
        target_id=str(target_id)[:80],
        before=before,
        after=after,
        address=address[:64],
    )
    session.add(entry)
    return entry
