"""Registrations confirmed by an SMS code (contact first): the code, its resending, the customer.

The pending registration lives in the one-time secret's payload, so nothing is
created until the phone is proved. When the phone or email is already in use the
phone gets an "already registered" text instead of a code, and no code succeeds,
so the pages look the same either way.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.models import Customer, CustomerIdentifier
from domain.one_time import OneTimeSecret, Purpose, check_code, issue_code
from domain.passwords import hash_password_async
from domain.registration import Site, value_of_kind
from domain.registration_email import contact_holder, stored_identifiers
from tenants.schema import EmailKind, FormField, PhoneKind

PURPOSE: Purpose = "phone_confirmation"
Outcome = Literal["ok", "wrong", "expired", "exhausted", "unknown", "taken"]


@dataclass(frozen=True)
class CodeCheck:
    outcome: Outcome
    customer: Customer | None = None
    attempts_left: int = 0


async def start_phone_registration(
    session: AsyncSession,
    site: Site,
    *,
    fields: list[FormField],
    values: Mapping[str, str],
) -> OneTimeSecret:
    """Hold the registration in a code's payload and text the code (or the warning)."""
    config = site.config
    phone = value_of_kind(config, fields, values, PhoneKind)
    email = value_of_kind(config, fields, values, EmailKind)
    password = next(values[f.name] for f in fields if f.type == "password")
    holder = await contact_holder(session, site.tenant_id, email=email, phone=phone)
    payload = {
        "key": phone,
        "phone": phone,
        "email": email,
        "password_hash": await hash_password_async(password),
        "locale": site.locale,
        "identifiers": stored_identifiers(config, fields, values),
        "blocked": holder is not None,
    }
    return await _send(session, site, payload)


async def pending_phone(session: AsyncSession, tenant_id: int, secret_id: int) -> str:
    """The phone a pending registration's code went to ("" when there is no such code)."""
    secret = await session.get(OneTimeSecret, secret_id) if secret_id else None
    if secret is None or secret.tenant_id != tenant_id or secret.purpose != PURPOSE:
        return ""
    return str(secret.payload.get("phone", ""))


async def resend_phone_code(
    session: AsyncSession, site: Site, *, secret_id: int
) -> OneTimeSecret | None:
    """A new code for the same pending registration; None once it is finished or unknown."""
    earlier = await session.get(OneTimeSecret, secret_id)
    if (
        earlier is None
        or earlier.tenant_id != site.tenant_id
        or earlier.purpose != PURPOSE
        or earlier.payload.get("finished")
        or not earlier.payload.get("password_hash")
    ):
        return None
    payload = dict(earlier.payload)
    # Someone may have registered the phone or email since the first code went out.
    taken = await contact_holder(
        session, site.tenant_id, email=payload["email"], phone=payload["phone"]
    )
    payload["blocked"] = bool(payload.get("blocked")) or taken is not None
    return await _send(session, site, payload)


async def _send(session: AsyncSession, site: Site, payload: dict[str, Any]) -> OneTimeSecret:
    issued = await issue_code(
        session, tenant_id=site.tenant_id, purpose=PURPOSE, pepper=site.pepper, payload=payload
    )
    context: dict[str, Any]
    if payload.get("blocked"):
        template, context = "already_registered", {"sms": True}
    else:
        template, context = "phone_code", {"code": issued.value}
    await site.notify(
        session,
        "sms",
        payload["phone"],
        template,
        context,
        key=f"{issued.secret.id}:{uuid.uuid4().hex[:8]}",
        locale=payload["locale"],
    )
    await session.commit()
    return issued.secret


async def finish_phone_registration(
    session: AsyncSession, site: Site, *, secret_id: int, code: str, now: datetime
) -> CodeCheck:
    """Check the typed code; the right one creates the active customer, committed at once."""
    tenant_id = site.tenant_id
    outcome, secret = await check_code(
        session,
        tenant_id=tenant_id,
        purpose=PURPOSE,
        secret_id=secret_id,
        code=code,
        pepper=site.pepper,
    )
    if secret is not None and outcome == "ok" and secret.payload.get("blocked"):
        # No code opens a registration for a phone or email already in use.
        secret.used_at = None
        secret.attempts += 1
        session.add(secret)
        outcome = "exhausted" if secret.attempts >= secret.max_attempts else "wrong"
    if outcome != "ok" or secret is None:
        await session.commit()
        left = max(secret.max_attempts - secret.attempts, 0) if secret else 0
        return CodeCheck(outcome, attempts_left=left)
    payload = secret.payload
    customer = Customer(
        tenant_id=tenant_id,
        phone=payload["phone"],
        email=payload["email"] or None,
        password_hash=payload["password_hash"],
        locale=payload["locale"],
        status="active",
        phone_confirmed_at=now,
    )
    secret.payload = {**payload, "password_hash": "", "finished": True}
    try:
        session.add(customer)
        await session.flush()
        assert customer.id is not None
        for name, value in dict(payload.get("identifiers", {})).items():
            session.add(
                CustomerIdentifier(
                    tenant_id=tenant_id, customer_id=customer.id, name=name, value=value
                )
            )
        session.add(secret)
        await session.commit()
    except IntegrityError:
        # The phone or email was registered by someone else while the code travelled.
        await session.rollback()
        return CodeCheck("taken")
    return CodeCheck("ok", customer)
