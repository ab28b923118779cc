"""Password recovery: who asked, the link or code sent, the answers checked, the new password.

A request for someone who does not exist does the same work as a real one (a decoy
secret that can never be used), so neither the answer nor its timing tells a stranger
whether an account, login, email or phone is known.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy import ColumnElement, and_, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.fields import clean_text, compare_key
from domain.identifiers import detect, login_key, resolver_for
from domain.limits import CODES_PER_RECIPIENT, Limiter
from domain.models import Account, AccountLink, Customer, CustomerIdentifier
from domain.one_time import (
    OneTimeSecret,
    check_code,
    count_failed_attempt,
    find_link,
    issue_code,
    issue_link,
    use,
)
from domain.profile import Notices, change_password
from tenants.schema import (
    EmailKind,
    FormField,
    LoginKind,
    NationalIdKind,
    PhoneKind,
    Recovery,
    TenantConfig,
)

# A confirm field with this name carries the link's one-time string (kz-vodokanal's
# «Контрольная строка»); one with the login name is checked against the customer's logins.
CHECK_STRING_FIELD = "check_string"
LOGIN_FIELD = "login"
# A typed email shared by several customers (a company's accountant) reaches each of them.
MAX_CUSTOMERS_PER_REQUEST = 3
# The counter a request for nobody writes to, so it does the same work as a real one.
NOBODY = "-"

LinkOutcome = Literal["ok", "mismatch", "dead"]
CodeResetOutcome = Literal["ok", "wrong", "expired", "exhausted", "unknown"]


def start_candidates(config: TenantConfig, recovery: Recovery, typed: str) -> list[tuple[str, str]]:
    """Every (identifier name, stored value) the typed text could be, among the start kinds."""
    identifiers = config.recovery_start_identifiers(recovery)
    found = detect(identifiers, clean_text(typed), resolve=resolver_for(config.identifiers))
    return [
        (name, login_key(value) if isinstance(config.identifier(name).spec, LoginKind) else value)
        for name, value in found
    ]


def start_key(candidates: Iterable[tuple[str, str]]) -> str:
    """One subject for the rate limits, whoever (if anyone) the typed value belongs to."""
    return "|".join(sorted(value for _, value in candidates))


async def find_customers(
    session: AsyncSession, config: TenantConfig, tenant_id: int, candidates: list[tuple[str, str]]
) -> list[Customer]:
    """Active customers the typed value names: a sign-in identifier, their email or phone on
    file, or the number of an account linked to them."""
    if not candidates:
        return []
    by_identifier = select(CustomerIdentifier.customer_id).where(
        CustomerIdentifier.tenant_id == tenant_id,
        or_(
            *(
                and_(col(CustomerIdentifier.name) == name, col(CustomerIdentifier.value) == value)
                for name, value in candidates
            )
        ),
    )
    matches: list[ColumnElement[bool]] = [col(Customer.id).in_(by_identifier)]
    for name, value in candidates:
        spec = config.identifier(name).spec
        if isinstance(spec, EmailKind):
            matches.append(func.lower(Customer.email) == value.lower())
        elif isinstance(spec, PhoneKind):
            matches.append(col(Customer.phone) == value)
        if name == config.account_identifier:
            matches.append(
                col(Customer.id).in_(
                    select(AccountLink.customer_id)
                    .join(Account, col(Account.id) == AccountLink.account_id)
                    .where(Account.tenant_id == tenant_id, Account.number == value)
                )
            )
    rows = await session.exec(
        select(Customer)
        .where(Customer.tenant_id == tenant_id, Customer.status == "active", or_(*matches))
        .order_by(col(Customer.id))
        .limit(MAX_CUSTOMERS_PER_REQUEST)
    )
    return list(rows.all())


async def _login_of(session: AsyncSession, config: TenantConfig, customer: Customer) -> str:
    """The value the customer signs in with, for the email (kz-vodokanal's «Login: 04008220»)."""
    rows = (
        await session.exec(
            select(CustomerIdentifier.name, CustomerIdentifier.value).where(
                CustomerIdentifier.customer_id == customer.id
            )
        )
    ).all()
    values = dict(rows)
    return next((values[name] for name in config.sign_in.identifiers if name in values), "")


# --- recovery by email link ------------------------------------------------------------


async def send_reset_links(
    session: AsyncSession,
    *,
    customers: list[Customer],
    notices: Notices,
    limiter: Limiter,
    pepper: str,
    link_base: str,
) -> None:
    """Email each customer a single-use link (its token is also the check string)."""
    config, tenant_id = notices.config, notices.tenant_id
    # Counters are written before anything else in this transaction (SQLite has one writer),
    # and one is written even for nobody, so both paths cost the same.
    recipients = [(c.email or "").lower() for c in customers if c.email] or [NOBODY]
    allowed_emails = {
        email
        for email in recipients
        if await limiter.hit(CODES_PER_RECIPIENT, f"{tenant_id}:email:{email}")
    }
    allowed = [c for c in customers if c.email and c.email.lower() in allowed_emails]
    if not allowed:
        decoy = await issue_link(
            session, tenant_id=tenant_id, purpose="password_reset", pepper=pepper
        )
        decoy.secret.secret_hash = secrets.token_hex(32)
        notices.render_only(
            "email",
            "password_reset_link",
            {"link": link_base, "check_string": decoy.value, "login": ""},
        )
    for customer in allowed:
        issued = await issue_link(
            session,
            tenant_id=tenant_id,
            purpose="password_reset",
            pepper=pepper,
            customer_id=customer.id,
        )
        await notices.send(
            session,
            channel="email",
            recipient=customer.email or "",
            customer=customer,
            template="password_reset_link",
            context={
                "link": f"{link_base}?token={issued.value}",
                "check_string": issued.value,
                "login": await _login_of(session, config, customer),
            },
            key=f"password_reset:{issued.secret.id}",
        )
    await session.commit()


async def live_link(
    session: AsyncSession, *, tenant_id: int, token: str, pepper: str
) -> OneTimeSecret | None:
    """The live reset link behind a token, if it belongs to a customer (never a decoy)."""
    secret = await find_link(
        session, tenant_id=tenant_id, purpose="password_reset", token=token, pepper=pepper
    )
    return secret if secret is not None and secret.customer_id is not None else None


@dataclass
class OnRecord:
    """What the customer's records hold, to compare the recovery form's answers with."""

    national_ids: set[str] = field(default_factory=set)
    accounts: set[str] = field(default_factory=set)
    logins: set[str] = field(default_factory=set)
    email: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)

    def expected(self, config: TenantConfig, form_field: FormField) -> set[str]:
        spec = config.identifier(form_field.identifier).spec if form_field.identifier else None
        if isinstance(spec, NationalIdKind):
            return self.national_ids
        if isinstance(spec, EmailKind):
            return self.email
        if isinstance(spec, PhoneKind):
            return self.phones
        if form_field.name == LOGIN_FIELD:
            return self.logins
        # "Personal account or contract number", or any other number on the bill.
        return self.accounts | self.logins


async def on_record(session: AsyncSession, customer: Customer) -> OnRecord:
    record = OnRecord(
        email={customer.email} if customer.email else set(),
        phones={customer.phone} if customer.phone else set(),
    )
    accounts = await session.exec(
        select(Account)
        .join(AccountLink, col(AccountLink.account_id) == Account.id)
        .where(AccountLink.customer_id == customer.id, Account.tenant_id == customer.tenant_id)
    )
    for account in accounts.all():
        record.accounts |= {v for v in (account.number, account.contract_number) if v}
        record.national_ids |= {account.holder_national_id} if account.holder_national_id else set()
        record.phones |= {account.holder_phone} if account.holder_phone else set()
    logins = await session.exec(
        select(CustomerIdentifier.value).where(CustomerIdentifier.customer_id == customer.id)
    )
    record.logins = set(logins.all())
    return record


def _typed_forms(config: TenantConfig, typed: str) -> set[str]:
    """The typed answer and what it reads as under each declared identifier ("VK 12" → vk12)."""
    text = clean_text(typed)
    found = detect(config.identifiers, text, resolve=resolver_for(config.identifiers))
    return {compare_key(text), *(compare_key(value) for _, value in found)}


def answers_match(
    config: TenantConfig, recovery: Recovery, answers: dict[str, str], record: OnRecord
) -> bool:
    for form_field in recovery.confirm_fields:
        if form_field.name == CHECK_STRING_FIELD:
            continue
        expected = {compare_key(value) for value in record.expected(config, form_field)}
        if not expected & _typed_forms(config, answers.get(form_field.name, "")):
            return False
    return True


async def reset_with_link(
    session: AsyncSession,
    *,
    recovery: Recovery,
    notices: Notices,
    pepper: str,
    token: str,
    link_token: str,
    answers: dict[str, str],
    password: str,
    when: datetime,
) -> tuple[LinkOutcome, Customer | None]:
    """Check the answers against the customer behind the token; right ones set the password.

    `token` is the check string as typed (or the link's token when the form has none);
    `link_token` is the one the link carried, which pays for a wrong check string.
    """
    tenant_id = notices.tenant_id
    secret = await live_link(session, tenant_id=tenant_id, token=token, pepper=pepper)
    carried: OneTimeSecret | None = None
    if secret is None:
        carried = (
            await live_link(session, tenant_id=tenant_id, token=link_token, pepper=pepper)
            if link_token and link_token != token
            else None
        )
        if carried is None:
            # A check string typed without a link may be a typo; a link that leads nowhere is dead.
            return ("mismatch" if token and not link_token else "dead"), None
        secret = carried
    customer = await session.get(Customer, secret.customer_id)
    if customer is None or customer.tenant_id != tenant_id or customer.status != "active":
        return "dead", None
    if secret is carried or not answers_match(
        notices.config, recovery, answers, await on_record(session, customer)
    ):
        await count_failed_attempt(session, secret)
        await session.commit()
        return ("mismatch" if secret.attempts < secret.max_attempts else "dead"), None
    use(secret)
    session.add(secret)
    await change_password(session, customer, password, notices, when=when)
    await session.commit()
    return "ok", customer


# --- recovery by SMS code ----------------------------------------------------------------


async def send_reset_code(
    session: AsyncSession,
    *,
    customer: Customer | None,
    subject: str,
    notices: Notices,
    limiter: Limiter,
    pepper: str,
) -> int:
    """Text a six-digit code to the phone on record; the secret's id goes in the form ticket.

    Nobody behind the typed value, no phone on record, or too many codes to that phone:
    a decoy secret that no code can match, behind the very same page.
    """
    tenant_id = notices.tenant_id
    phone = customer.phone if customer is not None else None
    within = await limiter.hit(CODES_PER_RECIPIENT, f"{tenant_id}:phone:{phone or NOBODY}")
    allowed = bool(phone) and within
    payload = {"key": f"recover:{subject}", "subject": subject}
    issued = await issue_code(
        session,
        tenant_id=tenant_id,
        purpose="password_reset_code",
        pepper=pepper,
        customer_id=customer.id if allowed and customer is not None else None,
        payload=payload,
    )
    context = {"code": issued.value}
    if allowed and customer is not None and phone:
        await notices.send(
            session,
            channel="sms",
            recipient=phone,
            customer=customer,
            template="password_reset_code",
            context=context,
            key=f"password_reset_code:{issued.secret.id}",
        )
    else:
        issued.secret.secret_hash = secrets.token_hex(32)
        notices.render_only("sms", "password_reset_code", context)
    await session.commit()
    assert issued.secret.id is not None
    return issued.secret.id


@dataclass(frozen=True)
class SentCode:
    """What a resend needs to know about an earlier code: whose it was and what was typed."""

    customer: Customer | None
    subject: str


async def sent_code(session: AsyncSession, *, tenant_id: int, secret_id: int) -> SentCode | None:
    secret = await session.get(OneTimeSecret, secret_id)
    if secret is None or secret.tenant_id != tenant_id or secret.purpose != "password_reset_code":
        return None
    customer = await session.get(Customer, secret.customer_id) if secret.customer_id else None
    if customer is not None and (customer.tenant_id != tenant_id or customer.status != "active"):
        customer = None
    return SentCode(customer, str(secret.payload.get("subject", "")))


async def reset_with_code(
    session: AsyncSession,
    *,
    notices: Notices,
    pepper: str,
    secret_id: int,
    code: str,
    password: str,
    when: datetime,
) -> tuple[CodeResetOutcome, Customer | None]:
    outcome, secret = await check_code(
        session,
        tenant_id=notices.tenant_id,
        purpose="password_reset_code",
        secret_id=secret_id,
        code=code,
        pepper=pepper,
    )
    customer = (
        await session.get(Customer, secret.customer_id)
        if outcome == "ok" and secret is not None and secret.customer_id
        else None
    )
    if (
        outcome != "ok"
        or customer is None
        or customer.tenant_id != notices.tenant_id
        or customer.status != "active"
    ):
        await session.commit()
        return ("wrong" if outcome == "ok" else outcome), None
    await change_password(session, customer, password, notices, when=when)
    await session.commit()
    return "ok", customer
