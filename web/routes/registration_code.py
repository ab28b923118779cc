"""Registration confirmed by an SMS code (contact-first): the code page, its check, resending."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Redirect, Template

from domain.registration import (
    value_of_kind,
)
from domain.registration_phone import (
    finish_phone_registration,
    pending_phone,
    resend_phone_code,
    start_phone_registration,
)
from tenants.schema import (
    FormField,
    PhoneKind,
    RegistrationVariant,
)
from web.auth import tenant_id_of, tenant_of
from web.forms import FieldView, problem_message
from web.rendering import page
from web.routes.common import i18n, now, posted
from web.routes.registration_support import (
    CODE_DEAD,
    CODE_FORMAT,
    CODE_LABEL,
    CODE_PROBLEMS,
    CODE_TICKET,
    CODE_WAIT,
    EXPIRED,
    RESEND_AFTER_SECONDS,
    TOO_MANY,
    Retry,
    db_session,
    message_limits,
    over_limit,
    read_ticket,
    sign_ticket,
    signed_in,
    site_of,
)


def _code_ticket(request: Request[Any, Any, Any], secret_id: int | None, phone: str) -> str:
    masked = phone[:4] + "*" * max(len(phone) - 6, 0) + phone[-2:]
    sent = int(now(request).timestamp())
    return sign_ticket(request, CODE_TICKET, {"secret": secret_id, "sent": sent, "phone": masked})


def _seconds_to_wait(request: Request[Any, Any, Any], payload: dict[str, Any]) -> int:
    recovery = tenant_of(request).recovery_by("sms_code")
    delay = recovery.resend_after_seconds if recovery else RESEND_AFTER_SECONDS
    return max(delay - (int(now(request).timestamp()) - int(payload.get("sent", 0))), 0)


async def finish_by_code(
    request: Request[Any, Any, Any],
    variant: RegistrationVariant,
    fields: list[FormField],
    values: dict[str, str],
    form: dict[str, str],
    account_ids: list[int],
    again: Retry,
) -> Template | Redirect:
    """Contact first: the registration waits in an SMS code's payload until the code comes back."""
    config = tenant_of(request)
    phone = value_of_kind(config, fields, values, PhoneKind)
    if await over_limit(request, *message_limits(request, f"phone:{phone}")):
        return again(status=429, alert=i18n(request).gettext(TOO_MANY))
    async with db_session(request) as session:
        secret = await start_phone_registration(
            session, site_of(request), fields=fields, values=values
        )
    ticket = _code_ticket(request, secret.id, phone)
    return Redirect("/register/code?" + urlencode({"t": ticket}), status_code=303)


def _code_page(
    request: Request[Any, Any, Any],
    ticket: str,
    *,
    error: str = "",
    alert: str = "",
    status: int = 200,
) -> Template:
    if tenant_of(request).registration.flow != "contact_first":
        raise NotFoundException()
    translate = i18n(request)
    payload = read_ticket(request, CODE_TICKET, ticket)
    if payload is None:
        alert = translate.gettext(EXPIRED)
        return page(request, "registration/code.html", status_code=400, expired=True, alert=alert)
    code = FieldView(
        name="code",
        label=translate.gettext(CODE_LABEL),
        input_type="text",
        autocomplete="one-time-code",
        inputmode="numeric",
        error=error,
    )
    return page(
        request,
        "registration/code.html",
        status_code=status,
        expired=False,
        ticket=ticket,
        phone=payload.get("phone", ""),
        code=code,
        alert=alert,
        wait_seconds=_seconds_to_wait(request, payload),
    )


@get("/register/code")
async def code_form(request: Request[Any, Any, Any]) -> Template:
    return _code_page(request, request.query_params.get("t", ""))


@post("/register/code")
async def code_submit(request: Request[Any, Any, Any]) -> Template | Redirect:
    config = tenant_of(request)
    translate = i18n(request)
    form = await posted(request)
    ticket = form.get("t", "")
    payload = read_ticket(request, CODE_TICKET, ticket)
    typed = "".join(form.get("code", "").split())
    if payload is None:
        return _code_page(request, ticket)
    if not typed:
        label = translate.gettext(CODE_LABEL)
        error = problem_message(config, None, "empty", translate, label=label)
        return _code_page(request, ticket, error=error, status=400)
    if not (typed.isascii() and typed.isdigit() and len(typed) == 6):
        error = translate.gettext(CODE_FORMAT)
        return _code_page(request, ticket, error=error, status=400)
    async with db_session(request) as session:
        result = await finish_phone_registration(
            session,
            site_of(request),
            secret_id=int(payload.get("secret") or 0),
            code=typed,
            now=now(request),
        )
    if result.customer is not None and result.customer.id is not None:
        return await signed_in(request, result.customer.id)
    if result.outcome == "wrong":
        left = result.attempts_left
        error = translate.ngettext(
            "The code is wrong. You have %(num)d attempt left.",
            "The code is wrong. You have %(num)d attempts left.",
            left,
        ) % {"num": left}
    else:
        error = translate.gettext(CODE_PROBLEMS.get(result.outcome, CODE_DEAD))
    return _code_page(request, ticket, error=error, status=400)


@post("/register/code/resend")
async def code_resend(request: Request[Any, Any, Any]) -> Template | Redirect:
    translate = i18n(request)
    ticket = (await posted(request)).get("t", "")
    payload = read_ticket(request, CODE_TICKET, ticket)
    if payload is None:
        return _code_page(request, ticket)
    if _seconds_to_wait(request, payload):
        return _code_page(request, ticket, alert=translate.gettext(CODE_WAIT), status=400)
    secret_id = int(payload.get("secret") or 0)
    async with db_session(request) as session:
        phone = await pending_phone(session, tenant_id_of(request), secret_id)
        if phone and await over_limit(request, *message_limits(request, f"phone:{phone}")):
            return _code_page(request, ticket, alert=translate.gettext(TOO_MANY), status=429)
        secret = (
            await resend_phone_code(session, site_of(request), secret_id=secret_id)
            if phone
            else None
        )
    if secret is None:
        return _code_page(request, "")
    new_ticket = _code_ticket(request, secret.id, phone)
    return Redirect("/register/code?" + urlencode({"t": new_ticket}), status_code=303)


# --- "get my account number" -------------------------------------------------------


routes = [code_form, code_submit, code_resend]
