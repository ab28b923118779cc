"""Paying without registration (seed 003, «Платежи»): account number, amount and purpose.

An unknown account number gets one plain message, and every look-up counts against the
client address, so the form is no cheap way to find out which account numbers exist.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.response import Redirect, Template

from domain.payments import (
    ANONYMOUS_PAYMENTS_PER_ADDRESS,
    create_payment_order,
    find_account_by_number,
)
from tenants.schema import FormField, TenantConfig
from web.auth import client_address, tenant_id_of, tenant_of
from web.forms import check_fields, problem_message, view_of
from web.i18n import N_
from web.rendering import page
from web.routes.common import i18n, now, posted, require_module
from web.routes.payment_forms import (
    amount_view,
    check_payment_fields,
    provider_of,
    purpose_options,
    purpose_view,
)

UNKNOWN_ACCOUNT = N_(
    "We cannot take a payment for this account number. Please check it against your bill."
)
TOO_MANY = N_(
    "Too many payments have been started from here. Please try again in an hour, or call "
    "the contact centre."
)


def _enabled(request: Request[Any, Any, Any]) -> TenantConfig:
    config = tenant_of(request)
    require_module(config, "anonymous_payment")
    return config


def _number_field(config: TenantConfig) -> FormField:
    return FormField(name="account_number", type="identifier", identifier=config.account_identifier)


def _form_page(
    request: Request[Any, Any, Any],
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    *,
    message: str = "",
    status: int = 200,
) -> Template:
    config = tenant_of(request)
    translate = i18n(request)
    errors = errors or {}
    number = view_of(
        config,
        _number_field(config),
        translate,
        values.get("account_number", "")[:100],
        errors.get("account_number", ""),
    )
    amount = amount_view(translate, values.get("amount", "")[:100], errors.get("amount", ""))
    fields = [number, amount]
    if config.payments.purposes:
        fields.append(purpose_view(translate, values.get("purpose", ""), errors.get("purpose", "")))
    return page(
        request,
        "payments/anonymous.html",
        status_code=status,
        fields=fields,
        purposes=purpose_options(config, translate.locale),
        message=message,
    )


@get("/pay")
async def anonymous_form(request: Request[Any, Any, Any]) -> Template:
    _enabled(request)
    return _form_page(request, {})


@post("/pay")
async def anonymous_submit(request: Request[Any, Any, Any]) -> Template | Redirect:
    config = _enabled(request)
    translate = i18n(request)
    tenant_id = tenant_id_of(request)
    form = await posted(request)
    limiter = request.app.state.portal.limiter
    address = f"{tenant_id}:{client_address(request)}"
    if await limiter.exceeded(ANONYMOUS_PAYMENTS_PER_ADDRESS, address):
        return _form_page(request, form, message=translate.gettext(TOO_MANY), status=429)
    number_field = _number_field(config)
    checked = check_fields(config, [number_field], form)
    amount, purpose, errors = check_payment_fields(config, translate, form)
    if checked.problems:
        reason = checked.problems["account_number"]
        errors["account_number"] = problem_message(config, number_field, reason, translate)
    if errors or amount is None:
        return _form_page(request, form, errors, status=400)
    await limiter.hit(ANONYMOUS_PAYMENTS_PER_ADDRESS, address)
    provider = provider_of(request)
    async with request.app.state.portal.database.session() as session:
        account = await find_account_by_number(
            session, tenant_id=tenant_id, number=checked.values["account_number"]
        )
        if account is None or account.id is None:
            unknown = {"account_number": translate.gettext(UNKNOWN_ACCOUNT)}
            return _form_page(request, form, unknown, status=400)
        order = await create_payment_order(
            session,
            tenant_id=tenant_id,
            account_id=account.id,
            customer_id=None,
            amount=amount,
            purpose=purpose,
            provider=provider.name,
            when=now(request),
        )
    return Redirect(provider.start(order), status_code=303)


routes: list[Any] = [anonymous_form, anonymous_submit]
