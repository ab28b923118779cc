"""The customer's own data: password, email (re-confirmed by a link), contact data, language.

Every notice goes through `Notices`, which renders it in the customer's saved language
(or the page's) and adds it to the caller's transaction, so a change and the message
about it are committed together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.fields import clean_text
from domain.identifiers import normalize
from domain.limits import CODES_PER_RECIPIENT, Limiter
from domain.models import Customer, CustomerIdentifier, utcnow
from domain.one_time import find_link, issue_link, use
from domain.outbox import Channel, MessageRenderer, enqueue
from domain.passwords import verify_password_async
from domain.signin import dummy_hash, set_password
from tenants.schema import EmailKind, Identifier, PhoneKind, TenantConfig

EmailChangeOutcome = Literal["sent", "unchanged", "limited"]
EmailConfirmOutcome = Literal["ok", "dead", "taken"]


@dataclass(frozen=True)
class Notices:
    """Renders and queues one tenant's emails and SMS for the request being served."""

    config: TenantConfig
    tenant_id: int
    page_locale: str
    renderer: MessageRenderer

    def locale_for(self, customer: Customer | None) -> str:
        saved = customer.locale if customer is not None else None
        return saved if saved in self.config.locales.enabled else self.page_locale

    async def send(
        self,
        session: AsyncSession,
        *,
        channel: Channel,
        recipient: str,
        customer: Customer | None,
        template: str,
        context: dict[str, Any],
        key: str,
    ) -> None:
        await enqueue(
            session,
            tenant_id=self.tenant_id,
            channel=channel,
            recipient=recipient,
            locale=self.locale_for(customer),
            template=template,
            context=context,
            idempotency_key=key,
            renderer=self.renderer,
            config=self.config,
        )

    def render_only(self, channel: Channel, template: str, context: dict[str, Any]) -> None:
        """Render without sending: a decoy costs the same time as a real message."""
        self.renderer(template, channel, self.page_locale, context, self.config)


def sign_in_identifier_of_kind(config: TenantConfig, kind: type) -> Identifier | None:
    """The tenant's sign-in identifier of one kind (email, phone), if it signs in with one."""
    return next((i for i in config.sign_in_identifiers() if isinstance(i.spec, kind)), None)


def contact_line(config: TenantConfig) -> str:
    """Where a customer who did not make a change should call."""
    centre = config.contact_centre
    return centre.hotline or (centre.phones[0] if centre.phones else "")


# --- password ------------------------------------------------------------------


async def current_password_matches(customer: Customer, typed: str) -> bool:
    stored = customer.password_hash or await dummy_hash()
    verified = await verify_password_async(stored, typed[:256])
    return bool(customer.password_hash) and verified


async def change_password(
    session: AsyncSession,
    customer: Customer,
    new_password: str,
    notices: Notices,
    *,
    when: datetime,
) -> None:
    """The new password, and a notice to the customer's email; the caller commits."""
    await set_password(session, customer, new_password)
    if customer.email:
        await notices.send(
            session,
            channel="email",
            recipient=customer.email,
            customer=customer,
            template="password_changed",
            context={"when": when, "contact": contact_line(notices.config)},
            key=f"password_changed:{customer.id}:{when.isoformat()}",
        )


# --- email ---------------------------------------------------------------------


async def _email_taken(
    session: AsyncSession, config: TenantConfig, tenant_id: int, customer: Customer, email: str
) -> bool:
    """Whether another customer signs in with this address (only then must it be unique)."""
    identifier = sign_in_identifier_of_kind(config, EmailKind)
    if identifier is None:
        return False
    owner = (
        await session.exec(
            select(CustomerIdentifier.customer_id).where(
                CustomerIdentifier.tenant_id == tenant_id,
                CustomerIdentifier.name == identifier.name,
                CustomerIdentifier.value == email,
            )
        )
    ).first()
    return owner is not None and owner != customer.id


async def request_email_change(
    session: AsyncSession,
    *,
    customer: Customer,
    new_email: str,
    notices: Notices,
    limiter: Limiter,
    pepper: str,
    link_base: str,
) -> EmailChangeOutcome:
    """A confirmation link to the new address; nothing changes until it is followed.

    An address another customer signs in with gets no link, and the answer is the same
    "sent", so the form cannot be used to learn whose address is whose.
    """
    assert customer.id is not None
    if (customer.email or "").lower() == new_email.lower():
        return "unchanged"
    if not await limiter.hit(CODES_PER_RECIPIENT, f"{notices.tenant_id}:email:{new_email}"):
        return "limited"
    if await _email_taken(session, notices.config, notices.tenant_id, customer, new_email):
        notices.render_only("email", "email_change_confirmation", {"link": link_base})
        return "sent"
    issued = await issue_link(
        session,
        tenant_id=notices.tenant_id,
        purpose="email_change",
        pepper=pepper,
        customer_id=customer.id,
        payload={"email": new_email},
    )
    await notices.send(
        session,
        channel="email",
        recipient=new_email,
        customer=customer,
        template="email_change_confirmation",
        context={"link": f"{link_base}?token={issued.value}", "email": new_email},
        key=f"email_change:{issued.secret.id}",
    )
    await session.commit()
    return "sent"


async def pending_email_change(
    session: AsyncSession, *, tenant_id: int, token: str, pepper: str
) -> str | None:
    """The new address a live email-change link confirms, or None."""
    secret = await find_link(
        session, tenant_id=tenant_id, purpose="email_change", token=token, pepper=pepper
    )
    return str(secret.payload.get("email", "")) or None if secret else None


async def confirm_email_change(
    session: AsyncSession, *, config: TenantConfig, tenant_id: int, token: str, pepper: str
) -> EmailConfirmOutcome:
    """Follow the link: the new address becomes the customer's (and their sign-in, if email is)."""
    secret = await find_link(
        session, tenant_id=tenant_id, purpose="email_change", token=token, pepper=pepper
    )
    if secret is None or secret.customer_id is None:
        return "dead"
    customer = await session.get(Customer, secret.customer_id)
    email = str(secret.payload.get("email", ""))
    if customer is None or customer.tenant_id != tenant_id or not email:
        return "dead"
    if await _email_taken(session, config, tenant_id, customer, email):
        return "taken"
    customer.email = email
    customer.email_confirmed_at = utcnow()
    identifier = sign_in_identifier_of_kind(config, EmailKind)
    if identifier is not None:
        row = (
            await session.exec(
                select(CustomerIdentifier).where(
                    CustomerIdentifier.tenant_id == tenant_id,
                    CustomerIdentifier.customer_id == customer.id,
                    CustomerIdentifier.name == identifier.name,
                )
            )
        ).first()
        row = row or CustomerIdentifier(
            tenant_id=tenant_id, customer_id=customer.id or 0, name=identifier.name, value=email
        )
        row.value = email
        session.add(row)
    use(secret)
    session.add_all([customer, secret])
    try:
        await session.commit()
    except IntegrityError:
        # Someone else took the address between the check and the commit.
        await session.rollback()
        return "taken"
    return "ok"


# --- contact data and language -------------------------------------------------------


def phone_is_sign_in(config: TenantConfig) -> bool:
    return sign_in_identifier_of_kind(config, PhoneKind) is not None


def normalize_phone(config: TenantConfig, raw: str) -> str:
    """A phone number typed in the tenant's country, as E.164; InvalidIdentifier if it is none."""
    declared = next((i for i in config.identifiers if isinstance(i.spec, PhoneKind)), None)
    spec = declared.spec if declared else PhoneKind(kind="phone", region=config.country)
    return normalize(spec, raw)


@dataclass(frozen=True)
class ContactData:
    full_name: str
    company_name: str
    # None: the phone is not editable here (it is a sign-in identifier).
    phone: str | None
    invoices_by_email: bool
    # None: the customer was not offered the choice (no readings, or no email address).
    reading_reminders: bool | None = None


async def update_contact(session: AsyncSession, customer: Customer, data: ContactData) -> None:
    if customer.kind == "legal":
        customer.company_name = clean_text(data.company_name)
        customer.invoices_by_email = data.invoices_by_email
    else:
        customer.full_name = clean_text(data.full_name)
    if data.phone is not None:
        customer.phone = data.phone or None
    if data.reading_reminders is not None:
        customer.reading_reminders = data.reading_reminders
    session.add(customer)
    await session.commit()


async def save_locale(session: AsyncSession, customer: Customer, locale: str) -> None:
    customer.locale = locale
    session.add(customer)
    await session.commit()


async def load_customer(session: AsyncSession, tenant_id: int, customer_id: int) -> Customer | None:
    """The customer row in this session (the request's copy belongs to another one)."""
    customer = await session.get(Customer, customer_id)
    return customer if customer is not None and customer.tenant_id == tenant_id else None
