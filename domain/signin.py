"""Signing in: which customer a typed identifier and password belong to, if any.

Every path costs one argon2 verification, whether or not the identifier exists,
so the answer's timing does not tell a stranger which logins are real.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date
from typing import Literal

from sqlalchemy import and_, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.fields import clean_text
from domain.identifiers import detect, login_key, resolver_for
from domain.models import Customer, CustomerIdentifier
from domain.passwords import hash_password_async, needs_rehash, verify_password_async
from tenants.schema import LoginKind, TenantConfig

Outcome = Literal["ok", "bad_credentials", "pending", "locked", "initial_password_expired"]

_dummy_hash: str | None = None
_dummy_lock = asyncio.Lock()


async def dummy_hash() -> str:
    """A hash to verify against when nobody matches, made once per process."""
    global _dummy_hash
    async with _dummy_lock:
        if _dummy_hash is None:
            _dummy_hash = await hash_password_async("no such customer: spend the same time")
    return _dummy_hash


@dataclass(frozen=True)
class SignInResult:
    outcome: Outcome
    customer: Customer | None = None


def identifier_candidates(config: TenantConfig, typed: str) -> list[tuple[str, str]]:
    """Every (identifier name, stored value) the typed text could be, among sign-in kinds."""
    found = detect(
        config.sign_in_identifiers(), clean_text(typed), resolve=resolver_for(config.identifiers)
    )
    return [
        (name, login_key(value) if isinstance(config.identifier(name).spec, LoginKind) else value)
        for name, value in found
    ]


async def find_customer(
    session: AsyncSession, tenant_id: int, candidates: list[tuple[str, str]]
) -> Customer | None:
    if not candidates:
        return None
    matches = or_(
        *(
            and_(col(CustomerIdentifier.name) == name, col(CustomerIdentifier.value) == value)
            for name, value in candidates
        )
    )
    row = (
        await session.exec(
            select(Customer)
            .join(CustomerIdentifier, col(CustomerIdentifier.customer_id) == Customer.id)
            .where(
                CustomerIdentifier.tenant_id == tenant_id, Customer.tenant_id == tenant_id, matches
            )
        )
    ).first()
    return row


async def authenticate(
    session: AsyncSession,
    *,
    config: TenantConfig,
    tenant_id: int,
    typed_identifier: str,
    password: str,
    today: date,
) -> SignInResult:
    customer = await find_customer(
        session, tenant_id, identifier_candidates(config, typed_identifier)
    )
    stored = customer.password_hash if customer and customer.password_hash else await dummy_hash()
    verified = await verify_password_async(stored, password[:256])
    if customer is None or not customer.password_hash or not verified:
        return SignInResult("bad_credentials")
    # Only someone who knows the password learns the account's state.
    if customer.status == "pending":
        return SignInResult("pending", customer)
    if customer.status != "active":
        return SignInResult("locked", customer)
    valid_until = customer.initial_password_valid_until
    if customer.must_change_password and valid_until is not None and today > valid_until:
        return SignInResult("initial_password_expired", customer)
    if needs_rehash(customer.password_hash):
        customer.password_hash = await hash_password_async(password)
        session.add(customer)
        await session.commit()
    return SignInResult("ok", customer)


async def set_password(session: AsyncSession, customer: Customer, password: str) -> None:
    """A new password chosen by the customer; the caller commits."""
    customer.password_hash = await hash_password_async(password)
    customer.must_change_password = False
    customer.initial_password_valid_until = None
    session.add(customer)
