"""Activation requests (wujiang-water): a customer asks, staff approve or reject.

The request keeps what was typed and which checks against billing data matched,
so staff see at a glance what agrees with the record and what does not.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import JSON, Column, Index, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.audit_view import Actor
from domain.identifiers import login_key
from domain.models import Account, AccountLink, Customer, CustomerIdentifier, utcnow
from domain.outbox import MessageRenderer, enqueue
from domain.ownership import is_row_id
from domain.passwords import hash_password_async
from tenants.schema import FormField, LoginKind, TenantConfig

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


# --- deciding requests ------------------------------------------------------------

INITIAL_PASSWORD_DIGITS = 8
REASON_LENGTH = 500

Outcome = Literal["approved", "rejected", "not_found", "already_decided", "account_unavailable"]


@dataclass(frozen=True)
class Decision:
    """What came of a staff member's click; only "approved" and "rejected" changed anything."""

    outcome: Outcome
    request: ActivationRequest | None = None
    customer_id: int | None = None


def new_initial_password() -> str:
    return f"{secrets.randbelow(10**INITIAL_PASSWORD_DIGITS):0{INITIAL_PASSWORD_DIGITS}d}"


async def count_pending(session: AsyncSession, tenant_id: int) -> int:
    count = await session.exec(
        select(func.count())
        .select_from(ActivationRequest)
        .where(ActivationRequest.tenant_id == tenant_id, ActivationRequest.status == PENDING)
    )
    return int(count.one())


async def pending_requests(
    session: AsyncSession, tenant_id: int, limit: int = 200
) -> list[tuple[ActivationRequest, Account | None]]:
    """The queue, newest first, each with the account it names (if that still exists)."""
    rows = await session.exec(
        select(ActivationRequest, Account)
        .outerjoin(
            Account,
            (col(Account.id) == col(ActivationRequest.account_id))
            & (col(Account.tenant_id) == tenant_id),
        )
        .where(ActivationRequest.tenant_id == tenant_id, ActivationRequest.status == PENDING)
        .order_by(col(ActivationRequest.created_at).desc(), col(ActivationRequest.id).desc())
        .limit(limit)
    )
    return list(rows.all())


async def find_request(
    session: AsyncSession, tenant_id: int, request_id: int
) -> ActivationRequest | None:
    """One request of this tenant; another tenant's id finds nothing."""
    if not is_row_id(request_id):
        return None
    found = await session.exec(
        select(ActivationRequest)
        .where(ActivationRequest.id == request_id, ActivationRequest.tenant_id == tenant_id)
        .execution_options(populate_existing=True)
    )
    return found.first()


async def account_of(
    session: AsyncSession, tenant_id: int, request: ActivationRequest, *, lock: bool = False
) -> Account | None:
    """The account a request names, in this tenant; `lock` holds it until the commit."""
    if request.account_id is None:
        return None
    statement = select(Account).where(
        Account.id == request.account_id, Account.tenant_id == tenant_id
    )
    # Two requests for one account approved at once: the second waits here (PostgreSQL;
    # SQLite has one writer anyway), then sees the first one's customer.
    found = await session.exec(statement.with_for_update() if lock else statement)
    return found.first()


async def _has_customer(session: AsyncSession, tenant_id: int, account_id: int) -> bool:
    link = await session.exec(
        select(AccountLink.id).where(
            AccountLink.tenant_id == tenant_id, AccountLink.account_id == account_id
        )
    )
    return link.first() is not None


def request_fields(config: TenantConfig, request: ActivationRequest) -> list[FormField]:
    """The configured fields the request was made with (every variant's, if it names none)."""
    variant = config.variant(request.variant)
    variants = [variant] if variant else config.registration.variants
    return [field for v in variants for step in v.steps for field in step.fields]


def sign_in_identifiers(
    config: TenantConfig, request: ActivationRequest, account: Account
) -> list[tuple[str, str]]:
    """(identifier name, stored value) for every sign-in identifier the new customer has."""
    typed: dict[str, str] = {config.account_identifier: account.number}
    for field in request_fields(config, request):
        value = request.values.get(field.name)
        if field.identifier and value:
            typed.setdefault(field.identifier, str(value))
    found = []
    for identifier in config.sign_in_identifiers():
        value = typed.get(identifier.name)
        if value:
            is_login = isinstance(identifier.spec, LoginKind)
            found.append((identifier.name, login_key(value) if is_login else value))
    return found


async def _claim(
    session: AsyncSession,
    *,
    tenant_id: int,
    request_id: int,
    status: str,
    staff_id: int,
    reason: str | None = None,
) -> bool:
    """Compare-and-set: the one click that finds the request still pending decides it.

    It is the transaction's first statement, so a second click waits for the first
    (a row lock in PostgreSQL, the write lock in SQLite) and then finds nothing to do.
    """
    result = await session.exec(
        update(ActivationRequest)
        .where(
            col(ActivationRequest.id) == request_id,
            col(ActivationRequest.tenant_id) == tenant_id,
            col(ActivationRequest.status) == PENDING,
        )
        .values(status=status, decided_by=staff_id, decided_at=utcnow(), reason=reason)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0) == 1


async def _not_claimed(session: AsyncSession, tenant_id: int, request_id: int) -> Decision:
    await session.rollback()
    request = await find_request(session, tenant_id, request_id)
    return Decision("not_found" if request is None else "already_decided", request)


async def _unavailable(session: AsyncSession, tenant_id: int, request_id: int) -> Decision:
    await session.rollback()
    return Decision("account_unavailable", await find_request(session, tenant_id, request_id))


async def _create_customer(
    session: AsyncSession,
    *,
    config: TenantConfig,
    request: ActivationRequest,
    account: Account,
    password: str,
    password_hash: str,
    renderer: MessageRenderer,
) -> int:
    """The customer, their sign-in identifiers, the account link and the SMS, in the session."""
    assert request.phone and account.id is not None
    tenant_id = request.tenant_id
    customer = Customer(
        tenant_id=tenant_id,
        kind=account.kind,
        full_name=account.holder_name,
        email=request.email,
        phone=request.phone,
        password_hash=password_hash,
        must_change_password=True,
        locale=request.locale,
        status="active",
    )
    session.add(customer)
    await session.flush()
    assert customer.id is not None
    for name, value in sign_in_identifiers(config, request, account):
        session.add(
            CustomerIdentifier(tenant_id=tenant_id, customer_id=customer.id, name=name, value=value)
        )
    session.add(AccountLink(tenant_id=tenant_id, customer_id=customer.id, account_id=account.id))
    request.customer_id = customer.id
    session.add(request)
    await enqueue(
        session,
        tenant_id=tenant_id,
        channel="sms",
        recipient=request.phone,
        locale=request.locale,
        template="initial_password",
        context={"password": password, "account_number": account.number},
        idempotency_key=f"activation:{request.id}:approved",
        renderer=renderer,
        config=config,
    )
    return customer.id


async def approve_activation(
    session: AsyncSession,
    *,
    config: TenantConfig,
    tenant_id: int,
    request_id: int,
    staff_id: int,
    renderer: MessageRenderer,
    actor: Actor | None = None,
) -> Decision:
    """Create the customer, link the account and send the initial password by SMS.

    All of it, the request's new status and the `actor`'s audit entry commit together
    or not at all; this function commits (or rolls back) the session itself.
    """
    password = new_initial_password()
    # Hashed before the transaction starts, so no lock is held while argon2 works.
    password_hash = await hash_password_async(password)
    if not await _claim(
        session, tenant_id=tenant_id, request_id=request_id, status=APPROVED, staff_id=staff_id
    ):
        return await _not_claimed(session, tenant_id, request_id)
    request = await find_request(session, tenant_id, request_id)
    assert request is not None and request.id is not None
    account = await account_of(session, tenant_id, request, lock=True)
    if (
        account is None
        or account.id is None
        or not request.phone
        or await _has_customer(session, tenant_id, account.id)
    ):
        return await _unavailable(session, tenant_id, request_id)
    try:
        customer_id = await _create_customer(
            session,
            config=config,
            request=request,
            account=account,
            password=password,
            password_hash=password_hash,
            renderer=renderer,
        )
        if actor is not None:
            actor.record(
                session,
                tenant_id=tenant_id,
                action="activation.approve",
                target_type="activation_request",
                target_id=request_id,
                before={"status": PENDING},
                after={"status": APPROVED, "customer_id": customer_id},
            )
        await session.commit()
    except IntegrityError:
        # Someone signs in with one of these identifiers already (another request for
        # the same account, approved a moment earlier): nothing of this one is kept.
        return await _unavailable(session, tenant_id, request_id)
    return Decision("approved", request, customer_id)


async def reject_activation(
    session: AsyncSession,
    *,
    config: TenantConfig,
    tenant_id: int,
    request_id: int,
    staff_id: int,
    reason: str,
    renderer: MessageRenderer,
    actor: Actor | None = None,
) -> Decision:
    """Refuse the request with a reason the customer is told by SMS; commits (with the
    `actor`'s audit entry)."""
    reason = reason.strip()
    if not reason or len(reason) > REASON_LENGTH:
        raise ValueError("a rejection needs a reason of at most 500 characters")
    if not await _claim(
        session,
        tenant_id=tenant_id,
        request_id=request_id,
        status=REJECTED,
        staff_id=staff_id,
        reason=reason,
    ):
        return await _not_claimed(session, tenant_id, request_id)
    request = await find_request(session, tenant_id, request_id)
    assert request is not None
    if request.phone:
        await enqueue(
            session,
            tenant_id=tenant_id,
            channel="sms",
            recipient=request.phone,
            locale=request.locale,
            template="activation_rejected",
            context={"reason": reason},
            idempotency_key=f"activation:{request.id}:rejected",
            renderer=renderer,
            config=config,
        )
    if actor is not None:
        actor.record(
            session,
            tenant_id=tenant_id,
            action="activation.reject",
            target_type="activation_request",
            target_id=request_id,
            before={"status": PENDING},
            after={"status": REJECTED, "reason": reason},
        )
    await session.commit()
    return Decision("rejected", request)
