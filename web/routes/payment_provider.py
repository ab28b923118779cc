"""The provider's side of a payment: the sandbox's hosted page, the signed callback, and the
page the payer comes back to, which follows the order until it is settled.

The callback is server to server: no session and no CSRF token (web/app.py exempts
/payments/callback), only the provider's HMAC signature, and its answers are JSON.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from domain.models import Account, PaymentOrder
from domain.payments import (
    CREATED,
    Settlement,
    find_order,
    order_state,
    purpose_label,
    settle_callback,
)
from domain.sandbox_provider import SandboxProvider
from tenants.schema import TenantConfig
from web.auth import require_customer, tenant_id_of, tenant_of
from web.i18n import N_
from web.rendering import page
from web.routes.common import i18n, posted
from web.routes.payment_forms import provider_of, receipts_of

# What the callback answers the provider: machine-read, so not translated.
ANSWERS: dict[Settlement, tuple[int, str]] = {
    "credited": (200, "credited"),
    "already_credited": (200, "already credited"),
    "declined": (200, "declined"),
    "already_declined": (200, "already declined"),
    "unknown_reference": (404, "unknown reference"),
    "amount_mismatch": (409, "the amount or currency differs from the order"),
    "closed": (409, "the order was settled otherwise"),
    "unverified": (401, "the signature or its timestamp does not verify"),
}
NO_DECISION = N_("Please choose “Pay” or “Decline”.")


def _payments_on(config: TenantConfig) -> None:
    if not (config.has("payments") or config.has("anonymous_payment")):
        raise NotFoundException()


async def _visible_order(
    request: Request[Any, Any, Any], reference: str
) -> tuple[PaymentOrder, Account]:
    """The order under `reference`: a customer's own only to them, an anonymous one to anyone
    holding its (unguessable) reference. Anything else is a 404, as if it did not exist."""
    config = tenant_of(request)
    _payments_on(config)
    async with request.app.state.portal.database.session() as session:
        order = await find_order(
            session,
            tenant_id=tenant_id_of(request),
            provider=config.payments.provider,
            reference=reference,
        )
        account = await session.get(Account, order.account_id) if order else None
    if order is None or account is None:
        raise NotFoundException()
    if order.customer_id is not None and require_customer(request).id != order.customer_id:
        raise NotFoundException()
    return order, account


def _order_context(request: Request[Any, Any, Any], order: PaymentOrder) -> dict[str, Any]:
    translate = i18n(request)
    return {
        "order": order,
        "purpose": purpose_label(tenant_of(request), order.purpose, translate.locale),
        "merchant": tenant_of(request).name(translate.locale),
    }


# --- the sandbox bank's hosted page --------------------------------------------------------


def _sandbox(request: Request[Any, Any, Any]) -> SandboxProvider:
    """The sandbox, where the tenant pays through it; elsewhere its pages do not exist."""
    provider = provider_of(request)
    if not isinstance(provider, SandboxProvider):
        raise NotFoundException()
    return provider


@get("/payments/sandbox/{reference:str}")
async def sandbox_page(
    request: Request[Any, Any, Any], reference: FromPath[str]
) -> Template | Redirect:
    _sandbox(request)
    order, account = await _visible_order(request, reference)
    if order.status != CREATED:
        return Redirect(f"/payments/{order.reference}", status_code=303)
    return page(
        request,
        "payments/sandbox.html",
        account=account,
        error="",
        **_order_context(request, order),
    )


@post("/payments/sandbox/{reference:str}")
async def sandbox_decide(
    request: Request[Any, Any, Any], reference: FromPath[str]
) -> Template | Redirect:
    provider = _sandbox(request)
    order, account = await _visible_order(request, reference)
    decision = (await posted(request)).get("decision", "")
    if order.status == CREATED and decision not in ("pay", "decline"):
        return page(
            request,
            "payments/sandbox.html",
            status_code=400,
            account=account,
            error=i18n(request).gettext(NO_DECISION),
            **_order_context(request, order),
        )
    if order.status == CREATED:
        # The bank's server tells the portal, signed, exactly as a callback over HTTP does.
        body, headers = provider.callback(order, "paid" if decision == "pay" else "declined")
        async with request.app.state.portal.database.session() as session:
            await settle_callback(
                session,
                provider=provider,
                tenant_id=tenant_id_of(request),
                currency=tenant_of(request).currency,
                body=body,
                headers=headers,
                receipts=receipts_of(request),
            )
    return Redirect(f"/payments/{order.reference}", status_code=303)


# --- the callback ---------------------------------------------------------------------------


@post("/payments/callback/{provider_name:str}")
async def callback(
    request: Request[Any, Any, Any], provider_name: FromPath[str]
) -> Response[dict[str, str]]:
    config = tenant_of(request)
    if not (config.has("payments") or config.has("anonymous_payment")) or (
        provider_name != config.payments.provider
    ):
        return Response({"result": "unknown_provider"}, status_code=404)
    body = await request.body()
    async with request.app.state.portal.database.session() as session:
        outcome = await settle_callback(
            session,
            provider=provider_of(request),
            tenant_id=tenant_id_of(request),
            currency=config.currency,
            body=body,
            headers=dict(request.headers.items()),
            receipts=receipts_of(request),
        )
    status, message = ANSWERS[outcome]
    return Response({"result": outcome, "message": message}, status_code=status)


# --- where the payer comes back -------------------------------------------------------------


@get("/payments/{reference:str}")
async def payment_status(request: Request[Any, Any, Any], reference: FromPath[str]) -> Template:
    order, account = await _visible_order(request, reference)
    state = order_state(order)
    # A provider may know before its callback arrives; the ledger waits for the callback.
    confirmed = state == "processing" and await provider_of(request).status(reference) == "paid"
    htmx = request.headers.get("hx-request") == "true"
    response = page(
        request,
        "payments/_status.html" if htmx else "payments/order.html",
        account=account,
        state=state,
        confirmed=confirmed,
        **_order_context(request, order),
    )
    response.headers["Vary"] = "HX-Request"
    response.headers["Cache-Control"] = "no-store"
    return response


routes: list[Any] = [sandbox_page, sandbox_decide, callback, payment_status]
