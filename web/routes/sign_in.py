"""Signing in and out, and the cabinet's landing page."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.response import Redirect, Template

from domain.limits import SIGN_IN_PER_ADDRESS, SIGN_IN_PER_IDENTIFIER
from domain.signin import authenticate
from web.auth import (
    clear_session_cookie,
    client_address,
    end_session,
    require_customer,
    safe_next,
    sessions,
    start_session,
    tenant_id_of,
    tenant_of,
    visitor,
)
from web.i18n import N_
from web.rendering import page
from web.routes.common import i18n, posted, tenant_today

_OUTCOME_MESSAGES = {
    "bad_credentials": N_("The login or password is wrong. Check them and try again."),
    "locked_out": N_("Too many attempts. For your safety, signing in is paused for 15 minutes."),
    "pending": N_(
        "Your registration is not finished yet: follow the link in the email we sent you."
    ),
    "locked": N_("This account is locked. Please call the contact centre."),
    "initial_password_expired": N_(
        "Your initial password has expired. Please call the contact centre to get a new one."
    ),
}


def _sign_in_page(
    request: Request[Any, Any, Any], *, identifier: str = "", error: str = "", status: int = 200
) -> Template:
    config = tenant_of(request)
    translate = i18n(request)
    return page(
        request,
        "sign_in.html",
        status_code=status,
        identifier=identifier,
        identifier_label=config.text(config.sign_in.label, translate.locale)
        or translate.gettext("Login"),
        samples=[
            config.text(i.label, translate.locale) + ": " + i.sample
            for i in config.sign_in_identifiers()
        ],
        error=translate.gettext(_OUTCOME_MESSAGES[error]) if error else "",
        next=request.query_params.get("next", ""),
        can_register=config.registration.flow != "pre_provisioned",
        recovery=bool(config.recovery),
        remember_me=config.sign_in.remember_me,
        account_lookup=config.registration.account_lookup,
    )


@get("/sign-in", sync_to_thread=False)
def sign_in_form(request: Request[Any, Any, Any]) -> Template | Redirect:
    if visitor(request) and visitor(request).customer:  # type: ignore[union-attr]
        return Redirect("/cabinet", status_code=303)
    return _sign_in_page(request)


@post("/sign-in")
async def sign_in(request: Request[Any, Any, Any]) -> Template | Redirect:
    config = tenant_of(request)
    tenant_id = tenant_id_of(request)
    form = await posted(request)
    typed = form.get("identifier", "").strip()
    password = form.get("password", "")
    if not typed or not password:
        return _sign_in_page(request, identifier=typed, error="bad_credentials", status=400)
    limiter = request.app.state.portal.limiter
    identifier_subject = f"{tenant_id}:{typed.casefold()}"
    address_subject = f"{tenant_id}:{client_address(request)}"
    if await limiter.exceeded(SIGN_IN_PER_IDENTIFIER, identifier_subject) or await limiter.exceeded(
        SIGN_IN_PER_ADDRESS, address_subject
    ):
        return _sign_in_page(request, identifier=typed, error="locked_out", status=429)
    async with request.app.state.portal.database.session() as session:
        result = await authenticate(
            session,
            config=config,
            tenant_id=tenant_id,
            typed_identifier=typed,
            password=password,
            today=tenant_today(request, config),
        )
    if result.outcome == "bad_credentials":
        await limiter.hit(SIGN_IN_PER_IDENTIFIER, identifier_subject)
        await limiter.hit(SIGN_IN_PER_ADDRESS, address_subject)
        return _sign_in_page(request, identifier=typed, error="bad_credentials", status=400)
    if result.outcome != "ok":
        return _sign_in_page(request, identifier=typed, error=result.outcome, status=400)
    await limiter.reset(SIGN_IN_PER_IDENTIFIER, identifier_subject)
    assert result.customer is not None and result.customer.id is not None
    remember = config.sign_in.remember_me and form.get("remember") == "on"
    target = (
        "/profile/password" if result.customer.must_change_password else safe_next(form.get("next"))
    )
    return await start_session(request, target, customer_id=result.customer.id, remember=remember)


@post("/sign-out")
async def sign_out(request: Request[Any, Any, Any]) -> Redirect:
    return await end_session(request, "/")


@post("/sign-out/everywhere")
async def sign_out_everywhere(request: Request[Any, Any, Any]) -> Redirect:
    customer = require_customer(request)
    assert customer.id is not None
    await sessions(request).revoke_all(tenant_id=tenant_id_of(request), customer_id=customer.id)
    response = Redirect("/", status_code=303)
    clear_session_cookie(request, response)
    return response


routes = [sign_in_form, sign_in, sign_out, sign_out_everywhere]
