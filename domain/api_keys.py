"""Billing-system API keys: one tenant each, shown once, stored only as a SHA-256 digest."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from domain.models import utcnow


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id", index=True)
    name: str = Field(max_length=100)
    # The first characters of the key, shown in the admin list so a key can be recognised.
    prefix: str = Field(max_length=16)
    # SHA-256 of the whole key: the key is 256 random bits, so a fast digest is enough.
    key_hash: str = Field(max_length=64, unique=True)
    created_by: int | None = Field(default=None, foreign_key="staff_user.id")
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
