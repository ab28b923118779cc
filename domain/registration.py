"""Registration against billing data: matching typed details, activation requests, number look-up.

The configured step fields marked `match_record` are compared with the billing
`Account`: the account is found by the tenant's account identifier (or by a
contract number), and each other field is compared with what the record holds.
The answer is all-or-nothing for customers; only staff see field by field.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.activation import ActivationRequest
from domain.fields import clean_text, compare_key
from domain.models import Account, AccountLink, Customer, Meter
from domain.one_time import LINK_LIFETIME
from domain.outbox import Channel, MessageRenderer, enqueue
from tenants.schema import (
    EmailKind,
    FormField,
    NationalIdKind,
    PhoneKind,
    RegistrationVariant,
    TenantConfig,
)

# Identifiers found on the account row under their own name (besides the account number).
_RECORD_COLUMNS = ("contract_number",)
# Attributes an account can be found by.
_KEY_ATTRIBUTES = ("number", "contract_number")
# What a request's `checks` calls the account itself.
ACCOUNT_CHECK = "account"
_MAX_CANDIDATES = 20


@dataclass(frozen=True)
class Match:
    """The accounts every typed detail agrees with, and field by field what agreed."""

    accounts: list[Account]
    checks: dict[str, bool]

    @property
    def ok(self) -> bool:
        return bool(self.accounts)

    @property
    def account_ids(self) -> list[int]:
        return [account.id for account in self.accounts if account.id is not None]


@dataclass(frozen=True)
class Site:
    """Where a registration happens: the tenant, the visitor's language, the server's secret."""

    config: TenantConfig
    tenant_id: int
    locale: str
    pepper: str
    renderer: MessageRenderer

    async def notify(
        self,
        session: AsyncSession,
        channel: Channel,
        recipient: str,
        template: str,
        context: dict[str, Any],
        *,
        key: str,
        locale: str | None = None,
    ) -> None:
        """Add a message to the session's transaction (the caller commits)."""
        await enqueue(
            session,
            tenant_id=self.tenant_id,
            channel=channel,
            recipient=recipient,
            locale=locale or self.locale,
            template=template,
            context=context,
            idempotency_key=f"{template}:{key}",
            renderer=self.renderer,
            config=self.config,
        )


def record_attribute(config: TenantConfig, field: FormField) -> str | None:
    """Which Account attribute an identifier field is compared with, if any."""
    if field.identifier is None:
        return None
    if field.identifier == config.account_identifier:
        return "number"
    spec = config.identifier(field.identifier).spec
    if isinstance(spec, NationalIdKind):
        return "holder_national_id"
    if isinstance(spec, PhoneKind):
        return "holder_phone"
    if field.identifier in _RECORD_COLUMNS:
        return field.identifier
    return None


def _house_key(house: str, building: str) -> str:
    """A house as "12/1" however it was split between the house and building fields."""
    house_key, building_key = compare_key(house), compare_key(building)
    if building_key and "/" not in house_key:
        return f"{house_key}/{building_key}"
    return house_key


def _name_matches(typed: str, holder: str) -> bool:
    """The holder's full name, or their surname alone (the first word on the record)."""
    wanted = compare_key(typed)
    words = clean_text(holder).split()
    return bool(wanted) and (
        wanted == compare_key(holder) or (bool(words) and wanted == compare_key(words[0]))
    )


def _field_matches(
    config: TenantConfig,
    field: FormField,
    values: Mapping[str, str],
    fields: list[FormField],
    account: Account,
    serials: set[str],
) -> bool:
    typed = values.get(field.name, "")
    building = next((f for f in fields if f.type == "building"), None)
    house = next((f for f in fields if f.type == "house"), None)
    if field.type == "identifier":
        attribute = record_attribute(config, field)
        recorded = str(getattr(account, attribute) or "") if attribute else ""
        return bool(attribute) and bool(typed) and compare_key(typed) == compare_key(recorded)
    if field.type == "person_name":
        return _name_matches(typed, account.holder_name)
    if field.type == "street":
        return bool(typed) and compare_key(typed) == compare_key(account.street or "")
    if field.type == "house" or (field.type == "building" and house is not None):
        typed_house = values.get(house.name, "") if house else ""
        typed_building = values.get(building.name, "") if building else ""
        recorded = _house_key(account.house or "", account.building or "")
        return _house_key(typed_house, typed_building) == recorded
    if field.type in ("building", "apartment"):
        recorded = getattr(account, field.type) or ""
        return compare_key(typed) == compare_key(recorded)
    if field.type == "meter_serial":
        return bool(typed) and typed in serials
    return False


def _serial_key(value: str) -> str:
    return "".join(ch for ch in clean_text(value) if ch not in " -").upper()


async def match_account(
    session: AsyncSession,
    *,
    config: TenantConfig,
    tenant_id: int,
    fields: Iterable[FormField],
    values: Mapping[str, str],
) -> Match:
    """Compare the `match_record` fields' checked values with the billing accounts."""
    fields = list(fields)
    matched_fields = [f for f in fields if f.match_record]
    key_field = next(
        (f for f in matched_fields if record_attribute(config, f) in _KEY_ATTRIBUTES), None
    )
    others = [f for f in matched_fields if f is not key_field]
    checks = {ACCOUNT_CHECK: False, **{f.name: False for f in others}}
    key_value = values.get(key_field.name, "") if key_field else ""
    if key_field is None or not key_value:
        return Match([], checks)
    attribute = record_attribute(config, key_field)
    candidates = list(
        (
            await session.exec(
                select(Account)
                .where(
                    Account.tenant_id == tenant_id, getattr(Account, str(attribute)) == key_value
                )
                .order_by(col(Account.id))
                .limit(_MAX_CANDIDATES)
            )
        ).all()
    )
    serials: dict[int, set[str]] = {}
    if any(f.type == "meter_serial" for f in others) and candidates:
        meters = (
            await session.exec(
                select(Meter).where(
                    Meter.tenant_id == tenant_id,
                    col(Meter.account_id).in_([a.id for a in candidates]),
                )
            )
        ).all()
        for meter in meters:
            if meter.factory_number:
                serials.setdefault(meter.account_id, set()).add(_serial_key(meter.factory_number))
    matched: list[Account] = []
    checks[ACCOUNT_CHECK] = bool(candidates)
    for account in candidates:
        agreed = {
            f.name: _field_matches(
                config, f, values, fields, account, serials.get(account.id or 0, set())
            )
            for f in others
        }
        for name, ok in agreed.items():
            checks[name] = checks[name] or ok
        if all(agreed.values()):
            matched.append(account)
    return Match(matched, checks)


def _aware(moment: datetime, now: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=now.tzinfo)


async def accounts_taken(session: AsyncSession, account_ids: list[int], now: datetime) -> bool:
    """Whether any of the accounts already has a sign-in.

    A registration left unconfirmed past its link's lifetime no longer holds the account,
    so a typo in the email address does not lock the account out for good.
    """
    if not account_ids:
        return False
    holders = (
        await session.exec(
            select(Customer)
            .join(AccountLink, col(AccountLink.customer_id) == Customer.id)
            .where(col(AccountLink.account_id).in_(account_ids))
        )
    ).all()
    return any(
        customer.status != "pending" or _aware(customer.created_at, now) > now - LINK_LIFETIME
        for customer in holders
    )


def value_of_kind(
    config: TenantConfig, fields: Iterable[FormField], values: Mapping[str, str], kind: type
) -> str:
    """The checked value of the first identifier field of a kind (the email, the phone)."""
    for field in fields:
        if field.identifier and isinstance(config.identifier(field.identifier).spec, kind):
            return values.get(field.name, "")
    return ""


# --- activation with staff approval ------------------------------------------------


async def request_activation(
    session: AsyncSession,
    site: Site,
    *,
    variant: RegistrationVariant,
    fields: list[FormField],
    values: Mapping[str, str],
) -> ActivationRequest:
    """Store a request for staff, whatever matched, and tell the email address it arrived.

    The customer's answer never depends on the checks: only staff see them.
    """
    config, tenant_id = site.config, site.tenant_id
    match = await match_account(
        session, config=config, tenant_id=tenant_id, fields=fields, values=values
    )
    candidate = (
        match.accounts[0]
        if match.accounts
        else await _account_by_key(session, config, tenant_id, fields, values)
    )
    phone = value_of_kind(config, fields, values, PhoneKind)
    email = value_of_kind(config, fields, values, EmailKind)
    request = ActivationRequest(
        tenant_id=tenant_id,
        variant=variant.key,
        values={f.name: values.get(f.name, "") for f in fields},
        checks=match.checks,
        account_id=candidate.id if candidate else None,
        phone=phone or None,
        email=email or None,
        locale=site.locale,
    )
    session.add(request)
    await session.flush()
    if email:
        number = next((f for f in fields if record_attribute(config, f) == "number"), None)
        context = {"account_number": values.get(number.name, "") if number else "", "phone": phone}
        await site.notify(
            session, "email", email, "activation_received", context, key=str(request.id)
        )
    await session.commit()
    return request


async def _account_by_key(
    session: AsyncSession,
    config: TenantConfig,
    tenant_id: int,
    fields: list[FormField],
    values: Mapping[str, str],
) -> Account | None:
    """The account named by the number typed, even when other details disagree (for staff)."""
    key = next(
        (f for f in fields if f.match_record and record_attribute(config, f) == "number"), None
    )
    if key is None or not values.get(key.name):
        return None
    return (
        await session.exec(
            select(Account).where(
                Account.tenant_id == tenant_id, Account.number == values[key.name]
            )
        )
    ).first()


# --- "get my account number" -------------------------------------------------------


def lookup_fields(config: TenantConfig) -> tuple[list[FormField], tuple[str, str] | None] | None:
    """Holder name and mobile, as a registration step configures them, and that step.

    None when the tenant has no look-up. The step (variant key, step key) lets the
    fields be checked as they are left, like the registration form's own.
    """
    phone_name = config.registration.account_lookup_phone
    if not config.registration.account_lookup or phone_name is None:
        return None
    for variant in config.registration.variants:
        for step in variant.steps:
            name = next((f for f in step.fields if f.type == "person_name"), None)
            phone = next((f for f in step.fields if f.identifier == phone_name), None)
            if name is not None and phone is not None:
                return [name, phone], (variant.key, step.key)
    fallback = [
        FormField(name="holder_name", type="person_name"),
        FormField(name=phone_name, type="identifier", identifier=phone_name),
    ]
    return fallback, None


async def send_account_number(
    session: AsyncSession, site: Site, *, holder_name: str, phone: str
) -> bool:
    """Text the account number to `phone` when exactly one account has this holder and phone.

    The caller answers the same either way; the return value is for tests and logs.
    """
    accounts = (
        await session.exec(
            select(Account)
            .where(Account.tenant_id == site.tenant_id, Account.holder_phone == phone)
            .limit(_MAX_CANDIDATES)
        )
    ).all()
    wanted = compare_key(holder_name)
    found = [a for a in accounts if wanted and compare_key(a.holder_name) == wanted]
    if len(found) != 1:
        return False
    context = {"account_number": found[0].number}
    await site.notify(session, "sms", phone, "account_number", context, key=uuid.uuid4().hex)
    await session.commit()
    return True
