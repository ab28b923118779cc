"""Payments: the provider interface, what a payer types, payment orders and the ledger.

A payment starts as a `PaymentOrder` ("created") with a 128-bit random reference, and the
payer goes to the provider's hosted page. The provider's signed callback settles it: the
order moves from "created" to "paid" by a compare-and-set UPDATE, and only the request
whose UPDATE changed the row inserts the `Payment`, in the same transaction. A repeated
or concurrent callback finds the order paid already and credits nothing.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Literal, Protocol

from sqlalchemy import ColumnElement
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.db import Database
from domain.limits import Limit
from domain.models import Account, Customer, Payment, PaymentOrder
from domain.outbox import MessageRenderer, enqueue
from domain.ownership import is_row_id
from tenants.schema import TenantConfig

# Payments without signing in look an account number up: guesses from one address are limited.
ANONYMOUS_PAYMENTS_PER_ADDRESS = Limit("anonymous-payments-address", 20, timedelta(hours=1))

AMOUNT_DECIMALS = 2
MAX_AMOUNT = Decimal("1000000.00")
CENT = Decimal("0.01")
HISTORY_SIZE = 200

CREATED = "created"
PAID = "paid"
FAILED = "failed"

AmountProblem = Literal["empty", "not_a_number", "not_positive", "too_many_decimals", "too_large"]
PurposeProblem = Literal["empty", "unknown_purpose"]
Outcome = Literal["paid", "declined"]
Settlement = Literal[
    "credited",
    "already_credited",
    "declined",
    "already_declined",
    "unknown_reference",
    "amount_mismatch",
    "closed",
    "unverified",
]

_NUMBER = re.compile(r"^(?:\d+(?:[.,]\d*)?|[.,]\d+)$")
_SPACES = re.compile(r"[\s'’_]")
_REFERENCE = re.compile(r"^[0-9a-f]{32}$")


class PaymentInputProblem(ValueError):
    def __init__(self, reason: AmountProblem | PurposeProblem) -> None:
        super().__init__(reason)
        self.reason = reason


# --- what the payer types ------------------------------------------------------------------


def parse_amount(raw: str) -> Decimal:
    """An amount to pay: above zero, at most two decimals (point or comma), at most MAX_AMOUNT.

    Spaces between digit groups are allowed ("1 000,50"); exponents, signs, a second
    separator ("1,000.50") and anything else that is not plainly a number are not.
    """
    text = _SPACES.sub("", unicodedata.normalize("NFKC", raw))
    if not text:
        raise PaymentInputProblem("empty")
    if text[0] in "-−" and _NUMBER.match(text[1:]):
        raise PaymentInputProblem("not_positive")
    if not _NUMBER.match(text):
        raise PaymentInputProblem("not_a_number")
    plain = text.replace(",", ".")
    try:
        value = Decimal(plain)
    except InvalidOperation:
        raise PaymentInputProblem("not_a_number") from None
    if value <= 0:
        raise PaymentInputProblem("not_positive")
    if value > MAX_AMOUNT:
        raise PaymentInputProblem("too_large")
    # Digits as typed, not as valued: "1,500" is refused rather than read as 1.50.
    if len(plain.partition(".")[2]) > AMOUNT_DECIMALS:
        raise PaymentInputProblem("too_many_decimals")
    return value.quantize(CENT)


def check_purpose(config: TenantConfig, raw: str) -> str:
    """The chosen purpose's key; required where the tenant has purposes, else always ""."""
    keys = [purpose.key for purpose in config.payments.purposes]
    if not keys:
        return ""
    chosen = raw.strip()
    if not chosen:
        raise PaymentInputProblem("empty")
    if chosen not in keys:
        raise PaymentInputProblem("unknown_purpose")
    return chosen


def purpose_label(config: TenantConfig, key: str, locale: str) -> str:
    """A purpose as the tenant names it in `locale`; "" for none or one no longer configured."""
    purpose = next((p for p in config.payments.purposes if p.key == key), None)
    return config.text(purpose.label, locale) if purpose else ""


def new_reference() -> str:
    """A reference nobody can guess: holding it is what lets an anonymous payer see the order."""
    return secrets.token_hex(16)


def is_reference(value: str) -> bool:
    return bool(_REFERENCE.match(value))


# --- the provider interface ----------------------------------------------------------------


@dataclass(frozen=True)
class CallbackNotice:
    """What a provider's verified callback says about one order."""

    reference: str
    amount: Decimal
    currency: str
    outcome: Outcome
    paid_at: datetime


class PaymentProvider(Protocol):
    """A payment service: a hosted page to send the payer to, signed callbacks, a status."""

    @property
    def name(self) -> str:
        """The provider's key in configuration and in the ledger ("sandbox")."""

    def start(self, order: PaymentOrder) -> str:
        """The URL of the provider's hosted payment page for the order."""

    def verify_callback(self, body: bytes, headers: Mapping[str, str]) -> CallbackNotice | None:
        """The notice in a callback, or None unless its signature and timestamp hold."""

    async def status(self, reference: str) -> str:
        """The provider's view of a payment: "pending", "paid" or "declined"."""


def payment_provider(
    config: TenantConfig,
    *,
    secret: str,
    tenant_id: int,
    database: Database,
    clock: Callable[[], datetime],
) -> PaymentProvider:
    """The provider the tenant's configuration names (today only the built-in sandbox)."""
    # Imported here: the sandbox module builds on this one's types.
    from domain.sandbox_provider import SandboxProvider

    if config.payments.provider == "sandbox":
        return SandboxProvider.for_tenant(
            secret=secret,
            slug=config.slug,
            currency=config.currency,
            tenant_id=tenant_id,
            database=database,
            clock=clock,
        )
    raise ValueError(f"unknown payment provider: {config.payments.provider!r}")


# --- orders ---------------------------------------------------------------------------------


async def find_account_by_number(
    session: AsyncSession, *, tenant_id: int, number: str
) -> Account | None:
    found = await session.exec(
        select(Account).where(Account.tenant_id == tenant_id, Account.number == number)
    )
    return found.first()


async def create_payment_order(
    session: AsyncSession,
    *,
    tenant_id: int,
    account_id: int,
    customer_id: int | None,
    amount: Decimal,
    purpose: str,
    provider: str,
    when: datetime,
) -> PaymentOrder:
    """Record what is about to be paid, before the payer reaches the provider; commits."""
    order = PaymentOrder(
        tenant_id=tenant_id,
        account_id=account_id,
        customer_id=customer_id,
        amount=amount,
        purpose=purpose,
        provider=provider,
        reference=new_reference(),
        status=CREATED,
        created_at=when,
    )
    session.add(order)
    await session.commit()
    await session.refresh(order)
    return order


async def find_order(
    session: AsyncSession, *, tenant_id: int, provider: str, reference: str
) -> PaymentOrder | None:
    if not is_reference(reference):
        return None
    found = await session.exec(
        select(PaymentOrder).where(
            PaymentOrder.tenant_id == tenant_id,
            PaymentOrder.provider == provider,
            PaymentOrder.reference == reference,
        )
    )
    return found.first()


# --- settling: the ledger -------------------------------------------------------------------


@dataclass(frozen=True)
class Receipts:
    """How to tell a signed-in payer their payment arrived (by email, if they have one)."""

    config: TenantConfig
    renderer: MessageRenderer


async def settle_callback(
    session: AsyncSession,
    *,
    provider: PaymentProvider,
    tenant_id: int,
    currency: str,
    body: bytes,
    headers: Mapping[str, str],
    receipts: Receipts,
) -> Settlement:
    """Verify a provider's callback and apply it to its order, at most once; commits."""
    notice = provider.verify_callback(body, headers)
    if notice is None:
        return "unverified"
    if notice.currency != currency:
        order = await find_order(
            session, tenant_id=tenant_id, provider=provider.name, reference=notice.reference
        )
        return "unknown_reference" if order is None else "amount_mismatch"
    if notice.outcome == PAID:
        return await _credit(session, provider.name, tenant_id, notice, receipts)
    return await _decline(session, provider.name, tenant_id, notice)


def _order_row(tenant_id: int, provider: str, reference: str) -> list[ColumnElement[bool]]:
    return [
        col(PaymentOrder.tenant_id) == tenant_id,
        col(PaymentOrder.provider) == provider,
        col(PaymentOrder.reference) == reference,
    ]


async def _credit(
    session: AsyncSession,
    provider: str,
    tenant_id: int,
    notice: CallbackNotice,
    receipts: Receipts,
) -> Settlement:
    if not is_reference(notice.reference):
        return "unknown_reference"
    # The claim is the transaction's first statement: on SQLite a transaction that has read
    # cannot wait for the write lock, and on PostgreSQL the row lock orders the claimants.
    claimed = await session.exec(
        update(PaymentOrder)
        .where(
            *_order_row(tenant_id, provider, notice.reference),
            col(PaymentOrder.status) == CREATED,
            col(PaymentOrder.amount) == notice.amount,
        )
        .values(status=PAID, settled_at=notice.paid_at)
        .execution_options(synchronize_session=False)
    )
    if int(claimed.rowcount or 0) != 1:
        await session.rollback()
        return await _why_not(session, provider, tenant_id, notice)
    order = await find_order(
        session, tenant_id=tenant_id, provider=provider, reference=notice.reference
    )
    assert order is not None and order.id is not None
    payment = Payment(
        tenant_id=tenant_id,
        account_id=order.account_id,
        paid_at=notice.paid_at,
        amount=order.amount,
        purpose=order.purpose,
        provider=order.provider,
        reference=order.reference,
    )
    session.add(payment)
    try:
        await session.flush()
        await session.exec(
            update(PaymentOrder)
            .where(col(PaymentOrder.id) == order.id)
            .values(payment_id=payment.id)
            .execution_options(synchronize_session=False)
        )
        await _send_receipt(session, order, payment, receipts)
        await session.commit()
    except IntegrityError:
        # The ledger's own unique key: a payment under this reference is there already.
        await session.rollback()
        return "already_credited"
    return "credited"


async def _decline(
    session: AsyncSession, provider: str, tenant_id: int, notice: CallbackNotice
) -> Settlement:
    if not is_reference(notice.reference):
        return "unknown_reference"
    closed = await session.exec(
        update(PaymentOrder)
        .where(
            *_order_row(tenant_id, provider, notice.reference),
            col(PaymentOrder.status) == CREATED,
        )
        .values(status=FAILED, settled_at=notice.paid_at)
        .execution_options(synchronize_session=False)
    )
    if int(closed.rowcount or 0) != 1:
        await session.rollback()
        return await _why_not(session, provider, tenant_id, notice)
    await session.commit()
    return "declined"


async def _why_not(
    session: AsyncSession, provider: str, tenant_id: int, notice: CallbackNotice
) -> Settlement:
    """Why a notice changed nothing: no such order, another amount, or settled before."""
    order = await find_order(
        session, tenant_id=tenant_id, provider=provider, reference=notice.reference
    )
    if order is None:
        return "unknown_reference"
    if notice.outcome == PAID and order.amount != notice.amount:
        return "amount_mismatch"
    if order.status == PAID:
        return "already_credited" if notice.outcome == PAID else "closed"
    if order.status == FAILED and notice.outcome != PAID:
        return "already_declined"
    # Declined (or cancelled) before, or anything else: refused, nothing credited.
    return "closed"


async def _send_receipt(
    session: AsyncSession, order: PaymentOrder, payment: Payment, receipts: Receipts
) -> None:
    """An email receipt in the ledger's transaction, when a signed-in payer has an email."""
    if order.customer_id is None:
        return
    customer = await session.get(Customer, order.customer_id)
    if customer is None or customer.tenant_id != order.tenant_id or not customer.email:
        return
    config = receipts.config
    locale = customer.locale if customer.locale in config.locales.enabled else None
    locale = locale or config.locales.default
    account = await session.get(Account, order.account_id)
    await enqueue(
        session,
        tenant_id=order.tenant_id,
        channel="email",
        recipient=customer.email,
        locale=locale,
        template="payment_received",
        context={
            "amount": payment.amount,
            "account_number": account.number if account else "",
            "purpose": purpose_label(config, payment.purpose, locale),
            "paid_at": payment.paid_at,
            "reference": payment.reference,
        },
        idempotency_key=f"payment:{payment.provider}:{payment.reference}",
        renderer=receipts.renderer,
        config=config,
    )


# --- what the payer sees --------------------------------------------------------------------


def order_state(order: PaymentOrder) -> Literal["processing", "paid", "declined"]:
    if order.status == PAID:
        return "paid"
    if order.status == CREATED:
        return "processing"
    return "declined"


async def payment_history(
    session: AsyncSession, *, tenant_id: int, account_id: int
) -> list[Payment]:
    """The account's ledger, newest first (the latest HISTORY_SIZE payments)."""
    rows = await session.exec(
        select(Payment)
        .where(Payment.tenant_id == tenant_id, Payment.account_id == account_id)
        .order_by(col(Payment.paid_at).desc(), col(Payment.id).desc())
        .limit(HISTORY_SIZE)
    )
    return list(rows.all())


async def find_payment(
    session: AsyncSession, *, tenant_id: int, account_id: int, payment_id: int
) -> Payment | None:
    if not is_row_id(payment_id):
        return None
    found = await session.exec(
        select(Payment).where(
            Payment.id == payment_id,
            Payment.tenant_id == tenant_id,
            Payment.account_id == account_id,
        )
    )
    return found.first()
