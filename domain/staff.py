"""Utility staff and platform operators: who may approve, configure and look after customers."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.identifiers import login_key
from domain.models import utcnow

Role = Literal["tenant_admin", "platform_operator"]


class StaffUser(SQLModel, table=True):
    __tablename__ = "staff_user"
    __table_args__ = (UniqueConstraint("tenant_id", "login"),)

    id: int | None = Field(default=None, primary_key=True)
    # None for platform operators, who look after every tenant.
    tenant_id: int | None = Field(default=None, foreign_key="tenant.id", index=True)
    login: str = Field(max_length=64)
    full_name: str = Field(max_length=200, default="")
    password_hash: str = Field(max_length=200)
    role: str = Field(max_length=20, default="tenant_admin")
    status: str = Field(max_length=20, default="active")  # active | locked
    created_at: datetime = Field(default_factory=utcnow)


async def find_staff(session: AsyncSession, tenant_id: int, login: str) -> StaffUser | None:
    """A tenant admin of this tenant by login (case-insensitive)."""
    return (
        await session.exec(
            select(StaffUser).where(
                StaffUser.tenant_id == tenant_id, StaffUser.login == login_key(login)
            )
        )
    ).first()
