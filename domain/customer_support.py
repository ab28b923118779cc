"""Customer support: finding a customer by anything they quote on the phone, locking,
unlocking and resetting their password; and the messages the outbox could not deliver.

Every change is a compare-and-set on the status the staff member saw, and records its
audit entry in the same transaction. Sessions are ended after the commit, through the
session store (which may be Redis), so a lock or reset can never be half done.
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import ColumnElement, and_, func, or_, update
from sqlalchemy.orm import load_only
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.activation import new_initial_password
from domain.audit_view import Actor
from domain.fields import clean_text
from domain.identifiers import InvalidIdentifier, detect, login_key, resolver_for
from domain.models import Account, AccountLink, Customer, CustomerIdentifier
from domain.outbox import FAILED, HELD, PENDING, SENT, Channel, MessageRenderer, OutboxMessage
from domain.outbox import enqueue as enqueue_message
from domain.ownership import is_row_id, linked_accounts
from domain.passwords import hash_password_async
from domain.profile import contact_line, normalize_phone
from domain.sessions import WebSession
from domain.visits import customer_locale
from tenants.schema import LoginKind, NationalIdKind, TenantConfig

MIN_QUERY = 2
RESULT_LIMIT = 50
ACTIVE = "active"
LOCKED = "locked"
# From which statuses each action may be taken. A pending customer (email not confirmed)
# cannot sign in anyway; locking them would lose that they still have to confirm it.
ALLOWED_FROM: dict[str, tuple[str, ...]] = {
    "lock": (ACTIVE,),
    "unlock": (LOCKED,),
    "force_reset": (ACTIVE, LOCKED),
}

SupportOutcome = Literal["done", "stale", "not_allowed", "not_found"]
_SEPARATORS = str.maketrans("", "", " -‐‑–—/.")


# --- search -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerSummary:
    customer: Customer
    identifiers: list[tuple[str, str]]
    accounts: list[str]


@dataclass(frozen=True)
class SearchResult:
    rows: list[CustomerSummary]
    # More customers matched than are shown: the search should be narrowed.
    more: bool


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _name_matches(text: str) -> list[ColumnElement[bool]]:
    """A name substring: LIKE folds only ASCII case in SQLite, so the usual spellings
    of a Cyrillic name (как набрано, с заглавной, строчными) are each tried."""
    spellings = {text, text.lower(), text.title(), text.upper()}
    return [
        column.ilike(_like(spelling), escape="\\")
        for spelling in spellings
        for column in (col(Customer.full_name), col(Customer.company_name))
    ]


def _identifier_values(config: TenantConfig, text: str) -> list[tuple[str, str]]:
    """(identifier name, stored value) for every declared kind the text reads as."""
    found = detect(config.identifiers, text, resolve=resolver_for(config.identifiers))
    return [
        (name, login_key(value) if isinstance(config.identifier(name).spec, LoginKind) else value)
        for name, value in found
    ]


def search_conditions(
    config: TenantConfig, tenant_id: int, typed: str
) -> list[ColumnElement[bool]]:
    """Whatever the typed text could be: a sign-in identifier, phone, email, account or
    contract number, the holder's national ID, or part of a name."""
    text = clean_text(typed)
    compact = text.translate(_SEPARATORS)
    values = _identifier_values(config, text)
    by_identifier = [
        and_(col(CustomerIdentifier.name) == name, col(CustomerIdentifier.value) == value)
        for name, value in values
    ]
    by_identifier.append(
        col(CustomerIdentifier.value).in_(sorted({text, login_key(text), compact}))
    )
    conditions: list[ColumnElement[bool]] = [
        col(Customer.id).in_(
            select(CustomerIdentifier.customer_id).where(
                CustomerIdentifier.tenant_id == tenant_id, or_(*by_identifier)
            )
        )
    ]
    try:
        phone: str | None = normalize_phone(config, text)
    except InvalidIdentifier:
        phone = None
    if phone:
        conditions.append(col(Customer.phone) == phone)
    if "@" in text:
        conditions.append(func.lower(Customer.email) == text.lower())
    numbers = sorted({text, compact, *(value for _, value in values)})
    national_ids = sorted(
        {compact.upper()}
        | {v for n, v in values if isinstance(config.identifier(n).spec, NationalIdKind)}
    )
    on_account: list[ColumnElement[bool]] = [
        col(Account.number).in_(numbers),
        col(Account.contract_number).in_(numbers),
        col(Account.holder_national_id).in_(national_ids),
    ]
    if phone:
        on_account.append(col(Account.holder_phone) == phone)
    if any(character.isalpha() for character in text):
        conditions.extend(_name_matches(text))
        on_account.extend(
            col(Account.holder_name).ilike(_like(spelling), escape="\\")
            for spelling in {text, text.lower(), text.title(), text.upper()}
        )
    conditions.append(
        col(Customer.id).in_(
            select(AccountLink.customer_id)
            .join(Account, col(Account.id) == AccountLink.account_id)
            .where(
                AccountLink.tenant_id == tenant_id,
                Account.tenant_id == tenant_id,
                or_(*on_account),
            )
        )
    )
    return conditions


def query_too_short(typed: str) -> bool:
    text = clean_text(typed)
    return len(text.strip(string.punctuation + " ")) < MIN_QUERY


async def search_customers(
    session: AsyncSession,
    *,
    config: TenantConfig,
    tenant_id: int,
    typed: str,
    limit: int = RESULT_LIMIT,
) -> SearchResult:
    """This tenant's customers the text names, by id, at most `limit` of them."""
    if query_too_short(typed):
        return SearchResult([], False)
    found = list(
        (
            await session.exec(
                select(Customer)
                .where(
                    Customer.tenant_id == tenant_id,
                    or_(*search_conditions(config, tenant_id, typed)),
                )
                .order_by(col(Customer.id))
                .limit(limit + 1)
            )
        ).all()
    )
    more = len(found) > limit
    customers = found[:limit]
    ids = [c.id for c in customers if c.id is not None]
    identifiers: dict[int, list[tuple[str, str]]] = {i: [] for i in ids}
    accounts: dict[int, list[str]] = {i: [] for i in ids}
    if ids:
        for owner, name, value in (
            await session.exec(
                select(
                    CustomerIdentifier.customer_id,
                    CustomerIdentifier.name,
                    CustomerIdentifier.value,
                )
                .where(
                    CustomerIdentifier.tenant_id == tenant_id,
                    col(CustomerIdentifier.customer_id).in_(ids),
                )
                .order_by(col(CustomerIdentifier.id))
            )
        ).all():
            identifiers[owner].append((name, value))
        for owner, number in (
            await session.exec(
                select(AccountLink.customer_id, Account.number)
                .join(Account, col(Account.id) == AccountLink.account_id)
                .where(
                    AccountLink.tenant_id == tenant_id,
                    Account.tenant_id == tenant_id,
                    col(AccountLink.customer_id).in_(ids),
                )
                .order_by(col(Account.number))
            )
        ).all():
            accounts[owner].append(number)
    rows = [
        CustomerSummary(c, identifiers[c.id or 0], accounts[c.id or 0])
        for c in customers
        if c.id is not None
    ]
    return SearchResult(rows, more)


# --- one customer ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerDetail:
    customer: Customer
    identifiers: list[CustomerIdentifier]
    accounts: list[tuple[Account, AccountLink]]


async def find_customer(
    session: AsyncSession, *, tenant_id: int, customer_id: int
) -> Customer | None:
    """One customer of this tenant; another tenant's id finds nothing."""
    if not is_row_id(customer_id):
        return None
    found = await session.exec(
        select(Customer)
        .where(Customer.id == customer_id, Customer.tenant_id == tenant_id)
        .execution_options(populate_existing=True)
    )
    return found.first()


async def customer_detail(
    session: AsyncSession, *, tenant_id: int, customer_id: int
) -> CustomerDetail | None:
    customer = await find_customer(session, tenant_id=tenant_id, customer_id=customer_id)
    if customer is None:
        return None
    identifiers = await session.exec(
        select(CustomerIdentifier)
        .where(
            CustomerIdentifier.tenant_id == tenant_id,
            CustomerIdentifier.customer_id == customer_id,
        )
        .order_by(col(CustomerIdentifier.id))
    )
    accounts = await linked_accounts(session, tenant_id=tenant_id, customer_id=customer_id)
    return CustomerDetail(customer, list(identifiers.all()), accounts)


async def live_session_count(
    session: AsyncSession, *, tenant_id: int, customer_id: int, now: datetime
) -> int:
    """The customer's unexpired sessions in the database session store."""
    count = await session.exec(
        select(func.count())
        .select_from(WebSession)
        .where(
            WebSession.tenant_id == tenant_id,
            WebSession.customer_id == customer_id,
            col(WebSession.expires_at) > now,
        )
    )
    return int(count.one())


# --- lock, unlock, reset --------------------------------------------------------------------


async def _refused(
    session: AsyncSession, tenant_id: int, customer_id: int, expected: str
) -> SupportOutcome:
    """Why a compare-and-set found nothing to change: gone, changed meanwhile, or not allowed."""
    await session.rollback()
    found = await find_customer(session, tenant_id=tenant_id, customer_id=customer_id)
    if found is None:
        return "not_found"
    return "stale" if found.status != expected else "not_allowed"


async def _set_status(
    session: AsyncSession,
    *,
    tenant_id: int,
    customer_id: int,
    expected: str,
    action: Literal["lock", "unlock"],
    new_status: str,
    actor: Actor,
) -> SupportOutcome:
    if expected not in ALLOWED_FROM[action] or not is_row_id(customer_id):
        return await _refused(session, tenant_id, customer_id, expected)
    result = await session.exec(
        update(Customer)
        .where(
            col(Customer.id) == customer_id,
            col(Customer.tenant_id) == tenant_id,
            col(Customer.status) == expected,
        )
        .values(status=new_status)
        .execution_options(synchronize_session=False)
    )
    if int(result.rowcount or 0) != 1:
        return await _refused(session, tenant_id, customer_id, expected)
    actor.record(
        session,
        tenant_id=tenant_id,
        action=f"customer.{action}",
        target_type="customer",
        target_id=customer_id,
        before={"status": expected},
        after={"status": new_status},
    )
    await session.commit()
    return "done"


async def lock_customer(
    session: AsyncSession, *, tenant_id: int, customer_id: int, expected: str, actor: Actor
) -> SupportOutcome:
    """Lock the customer out (sign-in refuses a locked customer); commits. The caller then
    ends their sessions, which the app already ignores for a customer who is not active."""
    return await _set_status(
        session,
        tenant_id=tenant_id,
        customer_id=customer_id,
        expected=expected,
        action="lock",
        new_status=LOCKED,
        actor=actor,
    )


async def unlock_customer(
    session: AsyncSession, *, tenant_id: int, customer_id: int, expected: str, actor: Actor
) -> SupportOutcome:
    return await _set_status(
        session,
        tenant_id=tenant_id,
        customer_id=customer_id,
        expected=expected,
        action="unlock",
        new_status=ACTIVE,
        actor=actor,
    )


def recovery_channel(config: TenantConfig, customer: Customer) -> Channel | None:
    """How this customer could choose a new password online, if the tenant's recovery reaches
    them: an email link needs an address on record, an SMS code a phone."""
    for recovery in config.recovery:
        if recovery.method == "email_link" and customer.email:
            return "email"
        if recovery.method == "sms_code" and customer.phone:
            return "sms"
    return None


@dataclass(frozen=True)
class ResetOutcome:
    outcome: SupportOutcome
    # Set only when the customer cannot recover online: staff hand it over in person.
    temporary_password: str | None = None
    notified: Channel | None = None


async def force_password_reset(
    session: AsyncSession,
    *,
    config: TenantConfig,
    tenant_id: int,
    customer_id: int,
    expected: str,
    actor: Actor,
    renderer: MessageRenderer,
    when: datetime,
) -> ResetOutcome:
    """Make the current password worthless; commits. The caller then ends every session.

    Where the tenant's recovery reaches the customer, the password is removed (no typed
    password matches a missing hash, and sign-in answers as for a wrong one) and they are
    told to choose a new one with "Forgot your password?": nobody but the customer ever
    knows it. Where it does not (a tenant without recovery, or no email or phone for its
    method), a temporary password replaces it, which staff hand over once they know who
    they are talking to, and which must be changed at the next sign-in, as an initial
    password is. Either way the customer is told on whatever channel they have.
    """
    customer = await find_customer(session, tenant_id=tenant_id, customer_id=customer_id)
    if customer is None:
        return ResetOutcome("not_found")
    online = recovery_channel(config, customer)
    # What the notice needs, read now: the rollback below expires the loaded row.
    phone, email, had_password = customer.phone, customer.email, bool(customer.password_hash)
    locale = customer_locale(config, customer)
    temporary = None if online else new_initial_password()
    # Hashed before the transaction's first write, so no lock is held while argon2 works.
    new_hash = await hash_password_async(temporary) if temporary else None
    await session.rollback()
    if expected not in ALLOWED_FROM["force_reset"]:
        return ResetOutcome(await _refused(session, tenant_id, customer_id, expected))
    result = await session.exec(
        update(Customer)
        .where(
            col(Customer.id) == customer_id,
            col(Customer.tenant_id) == tenant_id,
            col(Customer.status) == expected,
        )
        .values(
            password_hash=new_hash,
            must_change_password=temporary is not None,
            initial_password_valid_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    if int(result.rowcount or 0) != 1:
        return ResetOutcome(await _refused(session, tenant_id, customer_id, expected))
    channel: Channel | None = online or ("sms" if phone else "email" if email else None)
    if channel is not None:
        await enqueue_message(
            session,
            tenant_id=tenant_id,
            channel=channel,
            recipient=(phone if channel == "sms" else email) or "",
            locale=locale,
            template="password_reset_by_staff",
            context={"online": online is not None, "contact": contact_line(config)},
            idempotency_key=f"force_reset:{customer_id}:{when.isoformat()}",
            renderer=renderer,
            config=config,
        )
    actor.record(
        session,
        tenant_id=tenant_id,
        action="customer.force_reset",
        target_type="customer",
        target_id=customer_id,
        before={"status": expected, "password": "set" if had_password else "none"},
        after={
            "status": expected,
            "password": "temporary" if temporary else "none",
            "notified": channel,
        },
    )
    await session.commit()
    return ResetOutcome("done", temporary, channel)


# --- messages the outbox could not deliver -----------------------------------------------------

UNDELIVERED = (FAILED, HELD)


@dataclass(frozen=True)
class Undelivered:
    """A failed or held message as the staff list shows it (never its body or attachment)."""

    id: int
    channel: str
    recipient: str
    template: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime


def mask_recipient(channel: str, recipient: str) -> str:
    """Enough of an address to recognise it on the phone, not enough to copy it."""
    if channel == "email" and "@" in recipient:
        local, _, domain = recipient.partition("@")
        return f"{local[:2]}{'*' * max(len(local) - 2, 1)}@{domain}"
    if len(recipient) > 6:
        return recipient[:3] + "*" * (len(recipient) - 7) + recipient[-4:]
    return "*" * len(recipient)


async def undelivered_messages(
    session: AsyncSession, *, tenant_id: int, limit: int = 200
) -> list[Undelivered]:
    """This tenant's failed and held messages, newest first."""
    shown = (
        OutboxMessage.id,
        OutboxMessage.channel,
        OutboxMessage.recipient,
        OutboxMessage.template,
        OutboxMessage.status,
        OutboxMessage.attempts,
        OutboxMessage.last_error,
        OutboxMessage.created_at,
    )
    rows = await session.exec(
        select(OutboxMessage)
        .options(load_only(*shown))  # type: ignore[arg-type]
        .where(OutboxMessage.tenant_id == tenant_id, col(OutboxMessage.status).in_(UNDELIVERED))
        .order_by(col(OutboxMessage.created_at).desc(), col(OutboxMessage.id).desc())
        .limit(limit)
    )
    return [
        Undelivered(
            id=m.id or 0,
            channel=m.channel,
            recipient=m.recipient,
            template=m.template,
            status=m.status,
            attempts=m.attempts,
            last_error=m.last_error,
            created_at=m.created_at,
        )
        for m in rows.all()
    ]


async def count_messages(
    session: AsyncSession, *, tenant_id: int, status: str, since: datetime | None = None
) -> int:
    """How many of the tenant's messages have this status (sent ones: since a moment)."""
    query = (
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.tenant_id == tenant_id, OutboxMessage.status == status)
    )
    if since is not None:
        query = query.where(col(OutboxMessage.sent_at) >= since)
    return int((await session.exec(query)).one())


async def count_sent_since(session: AsyncSession, *, tenant_id: int, since: datetime) -> int:
    return await count_messages(session, tenant_id=tenant_id, status=SENT, since=since)


async def message_exists(session: AsyncSession, *, tenant_id: int, message_id: int) -> bool:
    if not is_row_id(message_id):
        return False
    found = await session.exec(
        select(OutboxMessage.id).where(
            OutboxMessage.id == message_id, OutboxMessage.tenant_id == tenant_id
        )
    )
    return found.first() is not None


async def retry_messages(
    session: AsyncSession,
    *,
    tenant_id: int,
    message_ids: Iterable[int],
    actor: Actor,
    now: datetime,
) -> int:
    """Put this tenant's failed or held messages among `message_ids` back in the queue, due
    now with their attempts counted afresh; commits. Returns how many went back.

    Each is a compare-and-set on the status read, so a message the worker or another staff
    member has meanwhile moved on is left alone.
    """
    wanted = sorted({i for i in message_ids if is_row_id(i)})
    if not wanted:
        return 0
    found = (
        await session.exec(
            select(OutboxMessage.id, OutboxMessage.status, OutboxMessage.attempts).where(
                OutboxMessage.tenant_id == tenant_id,
                col(OutboxMessage.id).in_(wanted),
                col(OutboxMessage.status).in_(UNDELIVERED),
            )
        )
    ).all()
    retried = 0
    for message_id, status, attempts in found:
        result = await session.exec(
            update(OutboxMessage)
            .where(
                col(OutboxMessage.id) == message_id,
                col(OutboxMessage.tenant_id) == tenant_id,
                col(OutboxMessage.status) == status,
            )
            .values(status=PENDING, attempts=0, next_attempt_at=now, claimed_at=None)
            .execution_options(synchronize_session=False)
        )
        if int(result.rowcount or 0) != 1:
            continue
        retried += 1
        actor.record(
            session,
            tenant_id=tenant_id,
            action="outbox.retry",
            target_type="outbox_message",
            target_id=message_id,
            before={"status": status, "attempts": attempts},
            after={"status": PENDING, "attempts": 0},
        )
    await session.commit()
    return retried
