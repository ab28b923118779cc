"""The charges breakdown of one billing month, the reconciliation statement, and documents
(their PDFs) sent to the customer by email.

A breakdown lists every charge line of an account in one month: who the money is for
(the recipient), the tariff group, the service, volume × tariff with VAT, the amount.
Benefits and subsidies are lines below zero. The reconciliation statement is the period
statement (`domain.account_statement`) seen month by month, for legal entities.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import and_, bindparam
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.account_statement import Statement, account_statement, add_months
from domain.accounts import ALLOWANCE_SERVICES, ZERO
from domain.models import Account, AccountLink, Charge, Customer
from domain.outbox import Attachment, MessageRenderer, OutboxMessage, enqueue
from domain.ownership import is_row_id
from domain.rows import columns_of, detached
from tenants.schema import TenantConfig

# Billing on the portal starts in 2000; an earlier month is a typing mistake.
EARLIEST_MONTH = date(2000, 1, 1)
_MONTH = re.compile(r"^([0-9]{4})-([0-9]{1,2})$")

BreakdownReason = Literal["bad_month", "future", "too_early"]
Document = Literal["charges", "statement", "reconciliation"]
DOCUMENTS: tuple[Document, ...] = ("charges", "statement", "reconciliation")
PDF_TYPE = "application/pdf"


class BreakdownPeriodProblem(ValueError):
    """Why a month asked for a breakdown cannot be shown."""

    def __init__(self, reason: BreakdownReason) -> None:
        super().__init__(reason)
        self.reason: BreakdownReason = reason


# --- the period ------------------------------------------------------------------------


def default_breakdown_month(today: date) -> date:
    """The previous month: the last one billed in full."""
    return add_months(today.replace(day=1), -1)


def breakdown_month(raw: str, today: date) -> date:
    """The month a "YYYY-MM" text names, from January 2000 up to the current month.

    An empty text is the previous month. Raises BreakdownPeriodProblem.
    """
    text = raw.strip()
    if not text:
        return default_breakdown_month(today)
    found = _MONTH.match(text)
    if not found or not 1 <= int(found.group(2)) <= 12:
        raise BreakdownPeriodProblem("bad_month")
    if int(found.group(1)) < EARLIEST_MONTH.year:
        raise BreakdownPeriodProblem("too_early")
    month = date(int(found.group(1)), int(found.group(2)), 1)
    if month > today.replace(day=1):
        raise BreakdownPeriodProblem("future")
    return month


def month_from_parts(month: str, year: str) -> str:
    """A picker's month ("7" or "07") and year as "YYYY-MM" text (checked later, as typed)."""
    month, year = month.strip(), year.strip()
    if month.isdigit() and len(month) == 1:
        month = "0" + month
    return f"{year}-{month}"


def last_day(month: date) -> date:
    return add_months(month, 1) - timedelta(days=1)


# --- the breakdown -----------------------------------------------------------------------


@dataclass(frozen=True)
class BreakdownLine:
    recipient: str
    tariff_group: str
    service: str
    volume: Decimal
    tariff: Decimal
    vat_percent: Decimal
    amount: Decimal

    @property
    def is_allowance(self) -> bool:
        """A benefit or a subsidy: an amount below zero with no volume or tariff."""
        return self.service in ALLOWANCE_SERVICES


@dataclass(frozen=True)
class ServiceVolume:
    service: str
    volume: Decimal


@dataclass(frozen=True)
class Breakdown:
    month: date
    lines: tuple[BreakdownLine, ...]
    # Volume per service, for metered services only (allowances have none).
    volumes: tuple[ServiceVolume, ...]
    total: Decimal

    @property
    def has_allowances(self) -> bool:
        return any(line.is_allowance for line in self.lines)


def build_breakdown(lines: Iterable[BreakdownLine], month: date) -> Breakdown:
    """The lines in reading order (by recipient, services before allowances), with totals."""
    ordered = sorted(
        lines, key=lambda line: (line.is_allowance, line.recipient, line.service, line.tariff_group)
    )
    volumes: dict[str, Decimal] = {}
    for line in ordered:
        if not line.is_allowance and line.volume:
            volumes[line.service] = volumes.get(line.service, ZERO) + line.volume
    return Breakdown(
        month=month,
        lines=tuple(ordered),
        volumes=tuple(ServiceVolume(service, volume) for service, volume in volumes.items()),
        total=sum((line.amount for line in ordered), ZERO),
    )


# Built once, with bound values: building a statement cost about as much as running it.
# Columns, not Charge objects: the page only shows them.
_LINE_COLUMNS = (
    col(Charge.recipient),
    col(Charge.tariff_group),
    col(Charge.service),
    col(Charge.volume),
    col(Charge.tariff),
    col(Charge.vat_percent),
    col(Charge.amount),
)
_ACCOUNT_COLUMNS = columns_of(Account)
_LINK_COLUMNS = columns_of(AccountLink)
# The breakdown page's one statement: the customer's account and link, then the month's
# lines outer joined (an account with no charges that month is one row; one not linked to
# the customer, none).
_ACCOUNT_WITH_LINES: Any = (
    sa_select(*_ACCOUNT_COLUMNS, *_LINK_COLUMNS, *_LINE_COLUMNS)
    .select_from(Account)
    .join(AccountLink, col(AccountLink.account_id) == col(Account.id))
    .outerjoin(
        Charge,
        and_(
            col(Charge.account_id) == col(Account.id),
            col(Charge.tenant_id) == col(Account.tenant_id),
            col(Charge.period) == bindparam("month"),
        ),
    )
    .where(
        col(Account.id) == bindparam("account_id"),
        col(Account.tenant_id) == bindparam("tenant_id"),
        col(AccountLink.customer_id) == bindparam("customer_id"),
    )
)


@dataclass(frozen=True)
class AccountBreakdown:
    account: Account
    link: AccountLink
    breakdown: Breakdown


async def account_breakdown(
    session: AsyncSession, *, tenant_id: int, customer_id: int, account_id: int, month: date
) -> AccountBreakdown | None:
    """The customer's account with the breakdown of its month, in one round trip; None when
    the account is not theirs or does not exist."""
    if not is_row_id(account_id):
        return None
    params = {
        "tenant_id": tenant_id,
        "customer_id": customer_id,
        "account_id": account_id,
        "month": month,
    }
    connection = await session.connection()
    rows = (await connection.execute(_ACCOUNT_WITH_LINES, params)).all()
    if not rows:
        return None
    accounts, links = len(_ACCOUNT_COLUMNS), len(_ACCOUNT_COLUMNS) + len(_LINK_COLUMNS)
    first = rows[0]
    lines = (
        BreakdownLine(*row[links:])
        for row in rows
        if row[links + 2] is not None  # the service: no charge that month, NULLs
    )
    return AccountBreakdown(
        account=detached(Account, _ACCOUNT_COLUMNS, first[:accounts]),
        link=detached(AccountLink, _LINK_COLUMNS, first[accounts:links]),
        breakdown=build_breakdown(lines, month),
    )


# --- the reconciliation statement ------------------------------------------------------------


def reconciliation_offered(config: TenantConfig, account: Account) -> bool:
    """Legal entities reconcile their accounts where the tenant offers it."""
    return config.has("reconciliation") and account.kind == "legal"


async def reconciliation_statement(
    session: AsyncSession,
    *,
    tenant_id: int,
    account_id: int,
    first: date,
    last: date,
    timezone: str,
) -> Statement:
    """Opening balance, charges, payments and closing balance per month of the range."""
    return await account_statement(
        session,
        tenant_id=tenant_id,
        account_id=account_id,
        first=first,
        last=last,
        timezone=timezone,
    )


# --- sending a document ------------------------------------------------------------------------


def document_key(
    customer_id: int, document: Document, account_id: int, period: str, moment: datetime
) -> str:
    """The same for every request within one minute: a double click sends one email."""
    return f"document:{customer_id}:{document}:{account_id}:{period}:{moment:%Y%m%d%H%M}"


async def email_document(
    session: AsyncSession,
    *,
    tenant_id: int,
    customer: Customer,
    document: Document,
    account_id: int,
    period: str,
    moment: datetime,
    locale: str,
    attachment: Attachment,
    context: dict[str, Any],
    renderer: MessageRenderer,
    config: TenantConfig,
) -> OutboxMessage | None:
    """Queue the document as an email attachment to the customer's address and commit.

    Returns None when the customer has no email address (nothing is queued). A request
    repeated within the minute finds the first one's message and queues nothing new,
    even when both arrive together.
    """
    if not customer.email or customer.id is None:
        return None
    key = document_key(customer.id, document, account_id, period, moment)
    message = await enqueue(
        session,
        tenant_id=tenant_id,
        channel="email",
        recipient=customer.email,
        locale=locale,
        template="document_attached",
        context={"document": document, **context},
        idempotency_key=key,
        renderer=renderer,
        config=config,
        attachment=attachment,
    )
    try:
        await session.commit()
    except IntegrityError:
        # The same request, a moment earlier, committed first: that message is the one.
        await session.rollback()
        found = await session.exec(
            select(OutboxMessage).where(
                OutboxMessage.tenant_id == tenant_id, OutboxMessage.idempotency_key == key
            )
        )
        return found.one()
    return message
