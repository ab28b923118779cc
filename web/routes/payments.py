"""Paying from the cabinet, the payment history of an account, and a receipt per payment.

web/app.py registers only this module's `routes`, so the hosted sandbox page, the
provider's callback, the return page (payment_provider.py) and paying without
registration (payment_anonymous.py) are listed here too.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from domain.accounts import ZERO, Balance, balances
from domain.models import Account, AccountLink
from domain.payments import create_payment_order, find_payment, payment_history, purpose_label
from web.auth import require_customer, tenant_id_of, tenant_of
from web.rendering import page
from web.routes import payment_anonymous, payment_provider
from web.routes.account_statement import PROVIDER_NAMES
from web.routes.accounts import own_account
from web.routes.common import i18n, now, posted, require_module
from web.routes.payment_forms import (
    amount_view,
    check_payment_fields,
    plain_amount,
    provider_of,
    purpose_options,
    purpose_view,
)


async def _balance(request: Request[Any, Any, Any], account_id: int) -> Balance:
    async with request.app.state.portal.database.session() as session:
        found = await balances(session, tenant_id=tenant_id_of(request), account_ids=[account_id])
    return found.get(account_id, Balance(ZERO))


def _pay_page(
    request: Request[Any, Any, Any],
    account: Account,
    link: AccountLink,
    balance: Balance,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Template:
    config = tenant_of(request)
    translate = i18n(request)
    errors = errors or {}
    fields = [amount_view(translate, values.get("amount", ""), errors.get("amount", ""))]
    if config.payments.purposes:
        fields.append(purpose_view(translate, values.get("purpose", ""), errors.get("purpose", "")))
    return page(
        request,
        "payments/pay.html",
        status_code=status,
        account=account,
        link=link,
        balance=balance,
        fields=fields,
        purposes=purpose_options(config, translate.locale),
    )


@get("/accounts/{account_id:int}/pay")
async def pay_form(request: Request[Any, Any, Any], account_id: FromPath[int]) -> Template:
    customer = require_customer(request)
    require_module(tenant_of(request), "payments")
    account, link = await own_account(request, customer, account_id)
    balance = await _balance(request, account_id)
    owed = plain_amount(i18n(request), balance.amount) if balance.state == "debt" else ""
    return _pay_page(request, account, link, balance, {"amount": owed})


@post("/accounts/{account_id:int}/pay")
async def pay_submit(
    request: Request[Any, Any, Any], account_id: FromPath[int]
) -> Template | Redirect:
    customer = require_customer(request)
    config = tenant_of(request)
    require_module(config, "payments")
    account, link = await own_account(request, customer, account_id)
    form = await posted(request)
    amount, purpose, errors = check_payment_fields(config, i18n(request), form)
    if errors or amount is None:
        balance = await _balance(request, account_id)
        return _pay_page(request, account, link, balance, form, errors, status=400)
    provider = provider_of(request)
    async with request.app.state.portal.database.session() as session:
        order = await create_payment_order(
            session,
            tenant_id=tenant_id_of(request),
            account_id=account_id,
            customer_id=customer.id,
            amount=amount,
            purpose=purpose,
            provider=provider.name,
            when=now(request),
        )
    return Redirect(provider.start(order), status_code=303)


def _labels(request: Request[Any, Any, Any]) -> dict[str, Any]:
    config = tenant_of(request)
    translate = i18n(request)
    return {
        "provider_name": lambda code: (
            translate.pick(PROVIDER_NAMES, code) if code in PROVIDER_NAMES else code
        ),
        "purpose_label": lambda key: purpose_label(config, key, translate.locale),
    }


@get("/accounts/{account_id:int}/payments")
async def history(request: Request[Any, Any, Any], account_id: FromPath[int]) -> Template:
    customer = require_customer(request)
    require_module(tenant_of(request), "payments")
    account, link = await own_account(request, customer, account_id)
    async with request.app.state.portal.database.session() as session:
        payments = await payment_history(
            session, tenant_id=tenant_id_of(request), account_id=account_id
        )
    return page(
        request,
        "payments/history.html",
        account=account,
        link=link,
        payments=payments,
        **_labels(request),
    )


@get("/accounts/{account_id:int}/payments/{payment_id:int}")
async def receipt(
    request: Request[Any, Any, Any], account_id: FromPath[int], payment_id: FromPath[int]
) -> Template:
    customer = require_customer(request)
    require_module(tenant_of(request), "payments")
    account, link = await own_account(request, customer, account_id)
    async with request.app.state.portal.database.session() as session:
        payment = await find_payment(
            session, tenant_id=tenant_id_of(request), account_id=account_id, payment_id=payment_id
        )
    if payment is None:
        raise NotFoundException()
    return page(
        request,
        "payments/receipt.html",
        account=account,
        link=link,
        payment=payment,
        **_labels(request),
    )


routes: list[Any] = [
    pay_form,
    pay_submit,
    history,
    receipt,
    *payment_provider.routes,
    *payment_anonymous.routes,
]
