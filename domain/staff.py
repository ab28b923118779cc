"""Utility staff and platform operators: who may approve, configure and look after customers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.identifiers import login_key
from domain.models import utcnow
from domain.passwords import hash_password_async, needs_rehash, verify_password_async
from domain.signin import dummy_hash

Role = Literal["tenant_admin", "platform_operator"]
TENANT_ADMIN = "tenant_admin"
PLATFORM_OPERATOR = "platform_operator"


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


def may_manage(staff: StaffUser, tenant_id: int) -> bool:
    """Whether this staff member may act on this tenant: its own admins, and platform operators."""
    if staff.role == PLATFORM_OPERATOR:
        return staff.tenant_id is None
    return staff.role == TENANT_ADMIN and staff.tenant_id == tenant_id


async def find_staff(session: AsyncSession, tenant_id: int, login: str) -> StaffUser | None:
    """This tenant's admin by login (case-insensitive), else a platform operator by that login.

    A tenant admin's login shadows an operator's on that tenant's host, so a tenant can
    never be locked out of its own admin login by an operator choosing the same name.
    """
    key = login_key(login)
    own = (
        await session.exec(
            select(StaffUser).where(StaffUser.tenant_id == tenant_id, StaffUser.login == key)
        )
    ).first()
    if own is not None:
        return own
    return (
        await session.exec(
            select(StaffUser).where(
                col(StaffUser.tenant_id).is_(None),
                StaffUser.role == PLATFORM_OPERATOR,
                StaffUser.login == key,
            )
        )
    ).first()


@dataclass(frozen=True)
class StaffSignIn:
    outcome: Literal["ok", "bad_credentials", "locked"]
    staff: StaffUser | None = None


async def authenticate_staff(
    session: AsyncSession, *, tenant_id: int, login: str, password: str
) -> StaffSignIn:
    """A tenant admin or platform operator by login and password; one argon2 verification
    on every path.

    An unknown login is checked against a dummy hash, so the time taken does not
    tell a stranger which staff logins exist.
    """
    staff = await find_staff(session, tenant_id, login) if login else None
    stored = staff.password_hash if staff and staff.password_hash else await dummy_hash()
    verified = await verify_password_async(stored, password[:256])
    if staff is None or not verified or not may_manage(staff, tenant_id):
        return StaffSignIn("bad_credentials")
    # Only someone who knows the password learns that the account is locked.
    if staff.status != "active":
        return StaffSignIn("locked", staff)
    if needs_rehash(staff.password_hash):
        staff.password_hash = await hash_password_async(password)
        session.add(staff)
        await session.commit()
    return StaffSignIn("ok", staff)
