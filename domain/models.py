"""The tables: tenants and their configuration versions, customers, accounts, meters, money.

Every row that belongs to a utility carries `tenant_id`, and every natural key is
unique per tenant, so that queries scoped to one tenant never see another's data.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.types import ScaledDecimal

MONEY_SCALE = 2
VOLUME_SCALE = 3
READING_SCALE = 4
TARIFF_SCALE = 4


def utcnow() -> datetime:
    return datetime.now(UTC)


def _money(nullable: bool = False) -> Any:
    return Field(sa_column=Column(ScaledDecimal(MONEY_SCALE), nullable=nullable))


class Tenant(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=63, unique=True)
    # The configuration version the live site serves.
    published_version: int | None = None
    created_at: datetime = Field(default_factory=utcnow)


class TenantConfigVersion(SQLModel, table=True):
    """A saved configuration: drafts, the published one and every earlier one, kept for rollback."""

    __tablename__ = "tenant_config_version"
    __table_args__ = (UniqueConstraint("tenant_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id", index=True)
    version: int
    config: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    source: str = Field(max_length=200, default="")
    created_at: datetime = Field(default_factory=utcnow)
    # Who saved it in the configuration editor (None for presets), and why.
    author_id: int | None = None
    note: str = Field(max_length=200, default="")
    # When it last went live; None for a draft that never did.
    published_at: datetime | None = None


class Customer(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id", index=True)
    kind: str = Field(max_length=20, default="individual")  # individual | legal
    full_name: str = Field(max_length=200, default="")
    company_name: str | None = Field(default=None, max_length=300)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=20)
    password_hash: str | None = Field(default=None, max_length=200)
    must_change_password: bool = False
    locale: str | None = Field(default=None, max_length=16)
    # pending (email not confirmed yet) | active | locked
    status: str = Field(max_length=20, default="active")
    email_confirmed_at: datetime | None = None
    phone_confirmed_at: datetime | None = None
    invoices_by_email: bool = False
    # Until when a pre-provisioned initial password may be used to sign in.
    initial_password_valid_until: date | None = None
    # An email when the readings window opens (sent once per window).
    reading_reminders: bool = False
    created_at: datetime = Field(default_factory=utcnow)


class CustomerIdentifier(SQLModel, table=True):
    """Every identifier a customer signs in with, stored normalised; unique per tenant and kind."""

    __tablename__ = "customer_identifier"
    __table_args__ = (UniqueConstraint("tenant_id", "name", "value"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id")
    customer_id: int = Field(foreign_key="customer.id", index=True)
    name: str = Field(max_length=40)
    value: str = Field(max_length=320)


class Account(SQLModel, table=True):
    """A billing account (лицевой счёт, 户号, contract) as the utility's billing system knows it."""

    __table_args__ = (UniqueConstraint("tenant_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id")
    number: str = Field(max_length=40)
    kind: str = Field(max_length=20, default="individual")
    holder_name: str = Field(max_length=300)
    holder_national_id: str | None = Field(default=None, max_length=20)
    holder_phone: str | None = Field(default=None, max_length=20)
    street: str | None = Field(default=None, max_length=200)
    house: str | None = Field(default=None, max_length=20)
    building: str | None = Field(default=None, max_length=20)
    apartment: str | None = Field(default=None, max_length=20)
    contract_number: str | None = Field(default=None, max_length=40)
    status: str = Field(max_length=20, default="active")
    created_at: datetime = Field(default_factory=utcnow)


class AccountLink(SQLModel, table=True):
    """A customer's claim on an account, with the nickname they gave it."""

    __tablename__ = "account_link"
    __table_args__ = (
        UniqueConstraint("customer_id", "account_id"),
        # A customer's accounts within the tenant (every cabinet page asks for them).
        Index("ix_account_link_tenant_customer", "tenant_id", "customer_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id", index=True)
    customer_id: int = Field(foreign_key="customer.id")
    account_id: int = Field(foreign_key="account.id", index=True)
    nickname: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(default_factory=utcnow)


class Meter(SQLModel, table=True):
    __table_args__ = (
        Index("ix_meter_tenant_account", "tenant_id", "account_id"),
        # The billing system's natural key for a meter (factory numbers may be missing).
        UniqueConstraint(
            "tenant_id", "account_id", "factory_number", name="uq_meter_tenant_account_factory"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id")
    account_id: int = Field(foreign_key="account.id")
    service: str = Field(max_length=30)  # cold_water | hot_water | gas | heat
    factory_number: str | None = Field(default=None, max_length=40)
    state: str = Field(max_length=20, default="installed")  # installed | removed
    verification_due: date | None = None
    decimals: int = 3
    is_heat_meter: bool = False


class Reading(SQLModel, table=True):
    """One value per meter and billing period; a second submission updates it."""

    __table_args__ = (
        UniqueConstraint("meter_id", "period"),
        # The billing API's export walks a tenant's readings in this order.
        Index("ix_reading_tenant_submitted", "tenant_id", "submitted_at", "id"),
        # An account's meters' readings within the tenant: without it, SQLite answers
        # "tenant_id = ? AND meter_id IN (...)" by walking every reading of the tenant.
        Index("ix_reading_tenant_meter_period", "tenant_id", "meter_id", "period"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id", index=True)
    meter_id: int = Field(foreign_key="meter.id")
    period: date  # first day of the billing month
    value: Decimal = Field(sa_column=Column(ScaledDecimal(READING_SCALE), nullable=False))
    taken_on: date
    source: str = Field(max_length=20, default="customer")  # customer | billing | staff | anonymous
    status: str = Field(max_length=20, default="accepted")  # processing | accepted | rejected
    rejection_reason: str | None = Field(default=None, max_length=200)
    # What the customer confirmed to get the value accepted, comma-separated codes
    # ("replacement_or_rollover", "unusual_consumption", "partial"); kept as evidence.
    confirmations: str = Field(default="", max_length=120)
    customer_id: int | None = Field(default=None, foreign_key="customer.id")
    submitted_at: datetime = Field(default_factory=utcnow)


class Charge(SQLModel, table=True):
    """A line of a bill: what one service cost one account in one period."""

    __table_args__ = (
        UniqueConstraint("tenant_id", "account_id", "period", "service"),
        Index("ix_charge_account_period", "account_id", "period"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id")
    account_id: int = Field(foreign_key="account.id")
    period: date
    service: str = Field(max_length=30)
    recipient: str = Field(max_length=200, default="")
    tariff_group: str = Field(max_length=20, default="")
    volume: Decimal = Field(sa_column=Column(ScaledDecimal(VOLUME_SCALE), nullable=False))
    tariff: Decimal = Field(sa_column=Column(ScaledDecimal(TARIFF_SCALE), nullable=False))
    vat_percent: Decimal = Field(sa_column=Column(ScaledDecimal(MONEY_SCALE), nullable=False))
    amount: Decimal = _money()


class Payment(SQLModel, table=True):
    """Money received; the provider's reference makes a repeated notice a no-op."""

    __table_args__ = (
        UniqueConstraint("tenant_id", "provider", "reference"),
        Index("ix_payment_account_paid", "account_id", "paid_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id")
    account_id: int = Field(foreign_key="account.id")
    paid_at: datetime
    amount: Decimal = _money()
    purpose: str = Field(max_length=40, default="")
    provider: str = Field(max_length=40)
    reference: str = Field(max_length=100)


class AnonymousReading(SQLModel, table=True):
    """A reading sent without signing in (where the tenant allows it): a staff queue item."""

    __tablename__ = "anonymous_reading"
    __table_args__ = (Index("ix_anonymous_reading_tenant_status", "tenant_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id")
    full_name: str = Field(max_length=200)
    phone: str = Field(max_length=20)
    meter_number: str = Field(max_length=40)
    value: Decimal = Field(sa_column=Column(ScaledDecimal(READING_SCALE), nullable=False))
    status: str = Field(max_length=20, default="new")  # new | recorded | rejected
    staff_note: str | None = Field(default=None, max_length=300)
    handled_by: int | None = Field(default=None, foreign_key="staff_user.id")
    handled_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class VisitRequest(SQLModel, table=True):
    """A request for a visit (meter acceptance or check) on a date and in a time slot."""

    __tablename__ = "visit_request"
    __table_args__ = (
        Index("ix_visit_request_tenant_status", "tenant_id", "status"),
        Index("ix_visit_request_tenant_updated", "tenant_id", "updated_at", "id"),
        Index("ix_visit_request_customer", "customer_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id")
    customer_id: int = Field(foreign_key="customer.id")
    account_id: int = Field(foreign_key="account.id")
    meter_id: int | None = Field(default=None, foreign_key="meter.id")
    kind: str = Field(max_length=30)  # meter_acceptance | meter_check
    phone: str = Field(max_length=20)
    visit_date: date
    slot: str = Field(max_length=5)  # "HH:MM", one of the tenant's slots
    notes: str = Field(default="", max_length=1000)
    # submitted | scheduled | done | cancelled
    status: str = Field(max_length=20, default="submitted")
    status_note: str | None = Field(default=None, max_length=300)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ReadingReminder(SQLModel, table=True):
    """That a customer was reminded of one readings window; the key makes it once per window."""

    __tablename__ = "reading_reminder"
    __table_args__ = (UniqueConstraint("customer_id", "window_opens"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id", index=True)
    customer_id: int = Field(foreign_key="customer.id")
    window_opens: date
    sent_at: datetime = Field(default_factory=utcnow)


class PaymentOrder(SQLModel, table=True):
    """A payment asked of a provider: created before the customer pays, settled by its callback.

    The ledger (`Payment`) is credited once, when the order is first seen paid; the order's
    unique (tenant, provider, reference) is what a repeated callback finds again.
    """

    __tablename__ = "payment_order"
    __table_args__ = (
        UniqueConstraint("tenant_id", "provider", "reference"),
        Index("ix_payment_order_account", "account_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id")
    account_id: int = Field(foreign_key="account.id")
    # None when paid without signing in (account number + amount + purpose).
    customer_id: int | None = Field(default=None, foreign_key="customer.id")
    amount: Decimal = _money()
    purpose: str = Field(max_length=40, default="")
    provider: str = Field(max_length=40)
    reference: str = Field(max_length=100)
    # created | paid | failed | cancelled
    status: str = Field(max_length=20, default="created")
    payment_id: int | None = Field(default=None, foreign_key="payment.id")
    created_at: datetime = Field(default_factory=utcnow)
    settled_at: datetime | None = None


class BroadbandService(SQLModel, table=True):
    """A broadband line on an account: its plan, how it is paid, and whether it runs."""

    __tablename__ = "broadband_service"
    __table_args__ = (UniqueConstraint("tenant_id", "account_id"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id")
    account_id: int = Field(foreign_key="account.id")
    plan_key: str = Field(max_length=40)
    payment_mode: str = Field(max_length=20)  # prepaid_cash | postpaid_bank
    # active | suspended | closed
    status: str = Field(max_length=20, default="active")
    # Why it is not active: balance_short (the 1st's balance did not cover the fee),
    # voluntary (the customer asked), unpaid (closed after months unpaid), requested (closed).
    status_reason: str | None = Field(default=None, max_length=20)
    status_since: date | None = None


class UsageSession(SQLModel, table=True):
    """One broadband session; it is billed in the period in which it ends."""

    __tablename__ = "usage_session"
    __table_args__ = (
        UniqueConstraint("tenant_id", "account_id", "started_at"),
        Index("ix_usage_session_account_ended", "account_id", "ended_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id")
    account_id: int = Field(foreign_key="account.id")
    started_at: datetime
    ended_at: datetime
    megabytes: Decimal = Field(sa_column=Column(ScaledDecimal(VOLUME_SCALE), nullable=False))


class BroadbandRequest(SQLModel, table=True):
    """A customer's request to change plan, suspend, resume or close, with its effective date."""

    __tablename__ = "broadband_request"
    __table_args__ = (
        Index("ix_broadband_request_tenant_status", "tenant_id", "status"),
        Index("ix_broadband_request_tenant_created", "tenant_id", "created_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id")
    account_id: int = Field(foreign_key="account.id")
    customer_id: int = Field(foreign_key="customer.id")
    kind: str = Field(max_length=20)  # plan_change | suspend | resume | close
    new_plan: str | None = Field(default=None, max_length=40)
    effective_on: date
    # submitted | done | cancelled
    status: str = Field(max_length=20, default="submitted")
    # Why staff cancelled it, shown to the customer.
    status_note: str | None = Field(default=None, max_length=300)
    created_at: datetime = Field(default_factory=utcnow)
