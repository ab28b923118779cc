"""Activation requests (wujiang-water): a customer asks, staff approve or reject.

The request keeps what was typed and which checks against billing data matched,
so staff see at a glance what agrees with the record and what does not.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from domain.models import utcnow

PENDING = "pending"
APPROVED = "approved"
REJECTED = "rejected"


class ActivationRequest(SQLModel, table=True):
    __tablename__ = "activation_request"
    __table_args__ = (
        Index("ix_activation_request_tenant_status", "tenant_id", "status", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id")
    variant: str = Field(max_length=40, default="")
    # The typed values, normalised, by field name.
    values: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Field name → whether it matched the billing record ("account" for the account itself).
    checks: dict[str, bool] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    account_id: int | None = Field(default=None, foreign_key="account.id")
    phone: str | None = Field(default=None, max_length=20)
    email: str | None = Field(default=None, max_length=320)
    locale: str = Field(max_length=16)
    status: str = Field(max_length=20, default=PENDING)
    reason: str | None = Field(default=None, max_length=500)
    customer_id: int | None = Field(default=None, foreign_key="customer.id")
    decided_by: int | None = Field(default=None, foreign_key="staff_user.id")
    decided_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
