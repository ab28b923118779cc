"""Registrations confirmed by an email link: the pending customer, the link, the confirmation.

Whether an email address is already in use never shows in the answer: its owner
gets an "already registered" email instead of a confirmation, and nothing is created.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.fields import clean_text
from domain.identifiers import InvalidIdentifier, derive_prefixed, normalize, resolver_for
from domain.models import Account, AccountLink, Customer, CustomerIdentifier
from domain.one_time import find_link, issue_link, use
from domain.passwords import hash_password_async
from domain.registration import Site, accounts_taken, value_of_kind
from tenants.schema import (
    EmailKind,
    FormField,
    LoginKind,
    PrefixedKind,
    RegistrationVariant,
    TenantConfig,
)

Outcome = Literal["sent", "login_taken", "account_taken"]
CUSTOMER_KINDS = ("individual", "legal")


@dataclass(frozen=True)
class Registered:
    outcome: Outcome
    # The login as the customer will type it (shown on the "check your email" page).
    login: str = ""


@dataclass(frozen=True)
class Links:
    """Where messages point; the web layer knows the host and the paths."""

    confirm: Callable[[str], str]
    sign_in: str
    recover: str


def derived_login(config: TenantConfig, variant: RegistrationVariant, raw: str) -> str:
    """The login made from a typed identifier ("vk" + contract number), or "" if none yet."""
    spec = config.identifier(variant.login_identifier).spec if variant.login_identifier else None
    if spec is None or variant.login_from is None:
        return ""
    try:
        value = normalize(
            config.identifier(variant.login_from).spec,
            raw[:100],
            resolve=resolver_for(config.identifiers),
        )
    except InvalidIdentifier:
        return ""
    return derive_prefixed(spec, value) if isinstance(spec, PrefixedKind) else value


def login_of(
    config: TenantConfig,
    variant: RegistrationVariant,
    fields: list[FormField],
    values: Mapping[str, str],
    posted: Mapping[str, str],
) -> tuple[str, str, str] | None:
    """(identifier name, stored value, shown value) of the login this registration creates."""
    if variant.login_identifier and variant.login_from:
        source = next((f for f in fields if f.identifier == variant.login_from), None)
        login = derived_login(config, variant, values.get(source.name, "") if source else "")
        return (variant.login_identifier, login, login) if login else None
    for field in fields:
        if field.identifier and isinstance(config.identifier(field.identifier).spec, LoginKind):
            shown = clean_text(posted.get(field.name, ""))
            return field.identifier, values.get(field.name, ""), shown
    return None


def stored_identifiers(
    config: TenantConfig, fields: list[FormField], values: Mapping[str, str]
) -> dict[str, str]:
    """Typed identifiers a customer signs in or recovers with, by identifier name."""
    wanted = set(config.sign_in.identifiers)
    for recovery in config.recovery:
        wanted.update(recovery.start_identifiers)
    return {
        f.identifier: values[f.name]
        for f in fields
        if f.identifier in wanted and values.get(f.name)
    }


async def identifier_holder(
    session: AsyncSession, tenant_id: int, name: str, value: str
) -> Customer | None:
    return (
        await session.exec(
            select(Customer)
            .join(CustomerIdentifier, col(CustomerIdentifier.customer_id) == Customer.id)
            .where(
                CustomerIdentifier.tenant_id == tenant_id,
                CustomerIdentifier.name == name,
                CustomerIdentifier.value == value,
            )
        )
    ).first()


async def contact_holder(
    session: AsyncSession, tenant_id: int, *, email: str = "", phone: str = ""
) -> Customer | None:
    """A customer already using this email address or phone number, as sign-in or contact."""
    conditions = []
    if email:
        conditions.append(func.lower(col(Customer.email)) == email.lower())
        conditions.append(
            col(Customer.id).in_(
                select(CustomerIdentifier.customer_id).where(
                    CustomerIdentifier.tenant_id == tenant_id,
                    func.lower(col(CustomerIdentifier.value)) == email.lower(),
                )
            )
        )
    if phone:
        conditions.append(col(Customer.phone) == phone)
        conditions.append(
            col(Customer.id).in_(
                select(CustomerIdentifier.customer_id).where(
                    CustomerIdentifier.tenant_id == tenant_id, CustomerIdentifier.value == phone
                )
            )
        )
    if not conditions:
        return None
    return (
        await session.exec(
            select(Customer).where(Customer.tenant_id == tenant_id, or_(*conditions)).limit(1)
        )
    ).first()


async def register_with_email(
    session: AsyncSession,
    site: Site,
    *,
    variant: RegistrationVariant,
    fields: list[FormField],
    values: Mapping[str, str],
    posted: Mapping[str, str],
    account_ids: list[int],
    now: datetime,
    links: Links,
) -> Registered:
    """A pending customer with its sign-in identifiers and accounts, and the confirmation email.

    Everything, the outbox message included, is committed in one transaction.
    """
    config, tenant_id = site.config, site.tenant_id
    email = value_of_kind(config, fields, values, EmailKind)
    password = next(values[f.name] for f in fields if f.type == "password")
    # Hashed on every path, so the answer takes as long whether or not the address is known.
    password_hash = await hash_password_async(password)
    login = login_of(config, variant, fields, values, posted)
    if login is not None and await identifier_holder(session, tenant_id, login[0], login[1]):
        # A derived login (vk + contract) is taken only when its account already has a sign-in.
        derived = variant.login_identifier is not None
        return Registered("account_taken" if derived else "login_taken")
    if await accounts_taken(session, account_ids, now):
        return Registered("account_taken")
    shown_login = login[2] if login else email
    holder = await contact_holder(session, tenant_id, email=email)
    if holder is not None:
        await _tell_already_registered(session, site, holder, email, links)
        return Registered("sent", shown_login)
    accounts = (
        await session.exec(
            select(Account).where(
                Account.tenant_id == tenant_id, col(Account.id).in_(account_ids or [0])
            )
        )
    ).all()
    customer = Customer(
        tenant_id=tenant_id,
        kind=variant.key if variant.key in CUSTOMER_KINDS else "individual",
        full_name=accounts[0].holder_name[:200] if accounts else "",
        company_name=values.get("company_name") or None,
        email=email,
        password_hash=password_hash,
        locale=site.locale,
        status="pending",
        invoices_by_email=values.get("invoices_by_email") == "1",
    )
    identifiers = stored_identifiers(config, fields, values)
    if login is not None:
        identifiers[login[0]] = login[1]
    try:
        session.add(customer)
        await session.flush()
        assert customer.id is not None
        for name, value in identifiers.items():
            session.add(
                CustomerIdentifier(
                    tenant_id=tenant_id, customer_id=customer.id, name=name, value=value
                )
            )
        for account_id in (account.id for account in accounts if account.id is not None):
            session.add(
                AccountLink(tenant_id=tenant_id, customer_id=customer.id, account_id=account_id)
            )
        await session.flush()
    except IntegrityError:
        # Someone took the login in the moment between the check and the insert.
        await session.rollback()
        return Registered("login_taken")
    issued = await issue_link(
        session,
        tenant_id=tenant_id,
        purpose="email_confirmation",
        pepper=site.pepper,
        customer_id=customer.id,
    )
    context = {"confirm_url": links.confirm(issued.value), "login": shown_login}
    await site.notify(
        session, "email", email, "email_confirmation", context, key=str(issued.secret.id)
    )
    await session.commit()
    return Registered("sent", shown_login)


async def _tell_already_registered(
    session: AsyncSession, site: Site, holder: Customer, email: str, links: Links
) -> None:
    """The address's owner learns someone tried; an unfinished registration gets a new link."""
    confirm_url = ""
    if holder.status == "pending":
        issued = await issue_link(
            session,
            tenant_id=site.tenant_id,
            purpose="email_confirmation",
            pepper=site.pepper,
            customer_id=holder.id,
        )
        confirm_url = links.confirm(issued.value)
    context = {
        "sms": False,
        "sign_in_url": links.sign_in,
        "recover_url": links.recover,
        "confirm_url": confirm_url,
    }
    await site.notify(
        session,
        "email",
        email,
        "already_registered",
        context,
        key=uuid.uuid4().hex,
        locale=holder.locale,
    )
    await session.commit()


async def confirm_email(
    session: AsyncSession, *, tenant_id: int, token: str, pepper: str, now: datetime
) -> Customer | None:
    """Activate the pending customer behind a confirmation link; None for a dead link."""
    secret = await find_link(
        session, tenant_id=tenant_id, purpose="email_confirmation", token=token, pepper=pepper
    )
    if secret is None or secret.customer_id is None:
        return None
    customer = await session.get(Customer, secret.customer_id)
    use(secret)
    session.add(secret)
    if customer is None or customer.tenant_id != tenant_id or customer.status != "pending":
        await session.commit()
        return None
    customer.status = "active"
    customer.email_confirmed_at = now
    session.add(customer)
    await session.commit()
    return customer
