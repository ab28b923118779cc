"""Recovering a lost password: an emailed link (with the tenant's check fields) or an SMS code.

Whatever the typed value names, the answer is the same page and the same status: the
domain sends a decoy where there is nobody to send to.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

from babel.lists import format_list
from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Redirect, Template

from domain.limits import CODES_PER_ADDRESS, CODES_PER_RECIPIENT, CODES_PER_TENANT_DAY
from domain.one_time import CODE_DIGITS, CODE_LIFETIME
from domain.profile import Notices
from domain.recovery import (
    CHECK_STRING_FIELD,
    find_customers,
    live_link,
    reset_with_code,
    reset_with_link,
    send_reset_code,
    send_reset_links,
    sent_code,
    start_candidates,
    start_key,
)
from domain.tickets import BadTicket, sign, unsign
from tenants.schema import FormField, Recovery, TenantConfig
from web.auth import client_address, sessions, tenant_id_of, tenant_of
from web.forms import FieldView, check_fields, problem_message, views
from web.i18n import N_, Translator
from web.messages import render_message
from web.rendering import page
from web.routes.common import i18n, now, pepper, posted

CODE_TICKET = "recover-code"
# A code page stays usable this long; each new code comes with a fresh ticket.
TICKET_AGE = 3600
PASSWORD_FIELDS = [
    FormField(name="password", type="password"),
    FormField(name="password_repeat", type="password_repeat"),
]
PASSWORD_LABELS = {"password": N_("New password"), "password_repeat": N_("Repeat the new password")}

MESSAGES = {
    "too_many": N_("Too many requests. For your safety, please wait an hour and try again."),
    "mismatch": N_("The details you entered do not match our records. Check them and try again."),
    "wrong_code": N_("The code is not right. Check the SMS and try again."),
    "dead_code": N_("This code can no longer be used. Please ask for a new code."),
    "early_resend": N_("You can ask for a new code after %(time)s."),
    "expired_page": N_("This page has expired. Please start again."),
    "code_format": N_("The code from the SMS is %(digits)s digits long."),
}


def _say(request: Request[Any, Any, Any], key: str) -> str:
    """One of MESSAGES in the request's language (a key, so extraction sees only the texts)."""
    return i18n(request).gettext(MESSAGES[key])


def _recovery(request: Request[Any, Any, Any]) -> tuple[TenantConfig, Recovery]:
    config = tenant_of(request)
    if not config.recovery:
        raise NotFoundException()
    return config, config.recovery[0]


def _notices(request: Request[Any, Any, Any]) -> Notices:
    return Notices(tenant_of(request), tenant_id_of(request), i18n(request).locale, render_message)


def _absolute(request: Request[Any, Any, Any], path: str) -> str:
    # The host was matched to this tenant by the gateway, so it is safe to put in a link.
    return str(request.base_url).rstrip("/") + path


async def _within_limits(request: Request[Any, Any, Any], subject: str) -> bool:
    """Count one message toward every limit; the same whether or not anybody receives it."""
    limiter = request.app.state.portal.limiter
    tenant_id = tenant_id_of(request)
    results = [
        await limiter.hit(CODES_PER_RECIPIENT, f"{tenant_id}:recover:{subject}"),
        await limiter.hit(CODES_PER_ADDRESS, f"{tenant_id}:{client_address(request)}"),
        await limiter.hit(CODES_PER_TENANT_DAY, str(tenant_id)),
    ]
    return all(results)


# --- start ---------------------------------------------------------------------------


def _start_label(config: TenantConfig, recovery: Recovery, translate: Translator) -> str:
    identifiers = config.recovery_start_identifiers(recovery)
    if [i.name for i in identifiers] == config.sign_in.identifiers and config.sign_in.label:
        return config.text(config.sign_in.label, translate.locale)
    labels = [config.text(i.label, translate.locale) for i in identifiers]
    return format_list(labels, style="or", locale=translate.babel_locale)


def _start_input_type(config: TenantConfig, recovery: Recovery) -> str:
    """A phone keypad when only a phone will do, an email keyboard for only an email."""
    kinds = {i.spec.kind for i in config.recovery_start_identifiers(recovery)}
    return "tel" if kinds == {"phone"} else "email" if kinds == {"email"} else "text"


def _start_page(
    request: Request[Any, Any, Any],
    *,
    typed: str = "",
    error: str = "",
    form_error: str = "",
    status: int = 200,
) -> Template:
    config, recovery = _recovery(request)
    translate = i18n(request)
    return page(
        request,
        "recovery/start.html",
        status_code=status,
        method=recovery.method,
        identifier=typed,
        label=_start_label(config, recovery, translate),
        samples=[i.sample for i in config.recovery_start_identifiers(recovery)],
        input_type=_start_input_type(config, recovery),
        error=error,
        form_error=form_error,
    )


@get("/recover", sync_to_thread=False)
def recover_form(request: Request[Any, Any, Any]) -> Template:
    return _start_page(request)


@post("/recover")
async def recover_start(request: Request[Any, Any, Any]) -> Template | Redirect:
    config, recovery = _recovery(request)
    translate = i18n(request)
    typed = (await posted(request)).get("identifier", "").strip()[:320]
    candidates = start_candidates(config, recovery, typed)
    if not candidates:
        label = _start_label(config, recovery, translate)
        samples = ", ".join(i.sample for i in config.recovery_start_identifiers(recovery))
        reason = "bad_format" if typed else "empty"
        error = problem_message(config, None, reason, translate, label=label, sample=samples)
        return _start_page(request, typed=typed, error=error, status=400)
    subject = start_key(candidates)
    if not await _within_limits(request, subject):
        return _start_page(request, typed=typed, form_error=_say(request, "too_many"), status=429)
    portal = request.app.state.portal
    notices = _notices(request)
    async with portal.database.session() as session:
        customers = await find_customers(session, config, notices.tenant_id, candidates)
        if recovery.method == "email_link":
            await send_reset_links(
                session,
                customers=customers,
                notices=notices,
                limiter=portal.limiter,
                pepper=pepper(request),
                link_base=_absolute(request, "/recover/link"),
            )
            return Redirect("/recover/sent", status_code=303)
        secret_id = await send_reset_code(
            session,
            customer=customers[0] if customers else None,
            subject=subject,
            notices=notices,
            limiter=portal.limiter,
            pepper=pepper(request),
        )
    return Redirect(f"/recover/code?ticket={_code_ticket(request, secret_id)}", status_code=303)


@get("/recover/sent", sync_to_thread=False)
def recover_sent(request: Request[Any, Any, Any]) -> Template:
    _recovery(request)
    return page(request, "recovery/sent.html")


@get("/recover/done", sync_to_thread=False)
def recover_done(request: Request[Any, Any, Any]) -> Template:
    _recovery(request)
    return page(request, "recovery/done.html")


async def _finish(request: Request[Any, Any, Any], customer_id: int) -> Redirect:
    """Every session of the customer ends: whoever had the old password is signed out."""
    await sessions(request).revoke_all(tenant_id=tenant_id_of(request), customer_id=customer_id)
    return Redirect("/recover/done", status_code=303)


def _password_views(
    config: TenantConfig, translate: Translator, problems: dict[str, str]
) -> list[FieldView]:
    result = views(config, PASSWORD_FIELDS, translate, problems=problems)
    for view in result:
        view.label = translate.gettext(PASSWORD_LABELS[view.name])
    return result


# --- by email link -----------------------------------------------------------------------


def _link_page(
    request: Request[Any, Any, Any],
    *,
    link_token: str,
    values: dict[str, str] | None = None,
    problems: dict[str, str] | None = None,
    form_error: str = "",
    status: int = 200,
) -> Template:
    config, recovery = _recovery(request)
    translate = i18n(request)
    return page(
        request,
        "recovery/link.html",
        status_code=status,
        token=link_token,
        confirm_fields=views(config, recovery.confirm_fields, translate, values, problems),
        password_fields=_password_views(config, translate, problems or {}),
        form_key=f"recover:{recovery.method}",
        form_error=form_error,
    )


def _dead_link_page(request: Request[Any, Any, Any]) -> Template:
    return page(request, "recovery/dead_link.html", status_code=400)


def _has_check_string(recovery: Recovery) -> bool:
    return any(f.name == CHECK_STRING_FIELD for f in recovery.confirm_fields)


@get("/recover/link")
async def recover_link_form(request: Request[Any, Any, Any]) -> Template:
    _, recovery = _recovery(request)
    token = request.query_params.get("token", "").strip()[:100]
    if not token and _has_check_string(recovery):
        # Without the link the customer types the check string from the email.
        return _link_page(request, link_token="")
    async with request.app.state.portal.database.session() as session:
        secret = await live_link(
            session, tenant_id=tenant_id_of(request), token=token, pepper=pepper(request)
        )
    if secret is None:
        return _dead_link_page(request)
    return _link_page(request, link_token=token, values={CHECK_STRING_FIELD: token})


@post("/recover/link")
async def recover_with_link(request: Request[Any, Any, Any]) -> Template | Redirect:
    config, recovery = _recovery(request)
    form = await posted(request)
    link_token = form.get("token", "").strip()[:100]
    checked = check_fields(config, [*recovery.confirm_fields, *PASSWORD_FIELDS], form)
    if not checked.ok:
        return _link_page(
            request, link_token=link_token, values=form, problems=dict(checked.problems), status=400
        )
    token = checked.values.get(CHECK_STRING_FIELD, "") if _has_check_string(recovery) else ""
    async with request.app.state.portal.database.session() as session:
        outcome, customer = await reset_with_link(
            session,
            recovery=recovery,
            notices=_notices(request),
            pepper=pepper(request),
            token=token or link_token,
            link_token=link_token,
            answers=checked.values,
            password=checked.values["password"],
            when=now(request),
        )
    if outcome == "ok" and customer is not None and customer.id is not None:
        return await _finish(request, customer.id)
    if outcome == "dead":
        return _dead_link_page(request)
    message = _say(request, "mismatch")
    return _link_page(request, link_token=link_token, values=form, form_error=message, status=400)


# --- by SMS code ------------------------------------------------------------------------


def _code_ticket(request: Request[Any, Any, Any], secret_id: int) -> str:
    sent = int(now(request).timestamp())
    return sign(
        {"secret": secret_id, "sent": sent},
        purpose=CODE_TICKET,
        tenant_id=tenant_id_of(request),
        secret=pepper(request),
        now=sent,
    )


def _read_ticket(request: Request[Any, Any, Any], ticket: str) -> tuple[int, int] | None:
    """The secret's id and when its code was sent, from a genuine and fresh ticket."""
    try:
        payload = unsign(
            ticket,
            purpose=CODE_TICKET,
            tenant_id=tenant_id_of(request),
            secret=pepper(request),
            max_age=TICKET_AGE,
            now=now(request).timestamp(),
        )
        return int(payload["secret"]), int(payload["sent"])
    except (BadTicket, KeyError, TypeError, ValueError):
        return None


def _resend_at(request: Request[Any, Any, Any], sent: int) -> datetime:
    _, recovery = _recovery(request)
    return datetime.fromtimestamp(sent, tz=UTC) + timedelta(seconds=recovery.resend_after_seconds)


def _code_page(
    request: Request[Any, Any, Any],
    *,
    ticket: str,
    sent: int,
    code: str = "",
    problems: dict[str, str] | None = None,
    code_error: str = "",
    form_error: str = "",
    status: int = 200,
) -> Template:
    config, _ = _recovery(request)
    translate = i18n(request)
    problems = problems or {}
    code_view = FieldView(
        name="code",
        label=translate.gettext("Code from the SMS"),
        input_type="text",
        value=code,
        error=code_error,
        autocomplete="one-time-code",
        inputmode="numeric",
    )
    resend_at = _resend_at(request, sent)
    return page(
        request,
        "recovery/code.html",
        status_code=status,
        ticket=ticket,
        fields=[code_view, *_password_views(config, translate, problems)],
        form_error=form_error,
        resend_time=translate.datetime(resend_at, format="HH:mm"),
        resend_epoch=int(resend_at.timestamp()),
        now_epoch=int(now(request).timestamp()),
        code_minutes=int(CODE_LIFETIME.total_seconds() // 60),
    )


def _expired(request: Request[Any, Any, Any]) -> Template:
    message = _say(request, "expired_page")
    return _start_page(request, form_error=message, status=400)


@get("/recover/code")
async def recover_code_form(request: Request[Any, Any, Any]) -> Template:
    ticket = request.query_params.get("ticket", "")
    read = _read_ticket(request, ticket)
    if read is None:
        return _expired(request)
    return _code_page(request, ticket=ticket, sent=read[1])


def _typed_code(typed: str) -> str:
    # Full-width digits from a CJK input method count like ASCII ones; spaces are grouping.
    return "".join(unicodedata.normalize("NFKC", typed).split())


def _code_problem(digits: str) -> str | None:
    if not digits:
        return "empty"
    if not (digits.isascii() and digits.isdigit() and len(digits) == CODE_DIGITS):
        return "code_format"
    return None


@post("/recover/code")
async def recover_with_code(request: Request[Any, Any, Any]) -> Template | Redirect:
    config, _ = _recovery(request)
    translate = i18n(request)
    form = await posted(request)
    ticket = form.get("ticket", "")
    read = _read_ticket(request, ticket)
    if read is None:
        return _expired(request)
    secret_id, sent = read
    code = form.get("code", "").strip()[:20]
    checked = check_fields(config, PASSWORD_FIELDS, form)
    problems: dict[str, str] = dict(checked.problems)
    code_reason = _code_problem(_typed_code(code))
    code_error = ""
    if code_reason == "empty":
        code_error = problem_message(
            config, None, "empty", translate, label=translate.gettext("Code from the SMS")
        )
    elif code_reason is not None:
        code_error = _say(request, "code_format") % {"digits": CODE_DIGITS}
    if problems or code_error:
        return _code_page(
            request,
            ticket=ticket,
            sent=sent,
            code=code,
            problems=problems,
            code_error=code_error,
            status=400,
        )
    async with request.app.state.portal.database.session() as session:
        outcome, customer = await reset_with_code(
            session,
            notices=_notices(request),
            pepper=pepper(request),
            secret_id=secret_id,
            code=_typed_code(code),
            password=checked.values["password"],
            when=now(request),
        )
    if outcome == "ok" and customer is not None and customer.id is not None:
        return await _finish(request, customer.id)
    if outcome == "wrong":
        error = _say(request, "wrong_code")
        return _code_page(
            request, ticket=ticket, sent=sent, code=code, code_error=error, status=400
        )
    error = _say(request, "dead_code")
    return _code_page(request, ticket=ticket, sent=sent, form_error=error, status=400)


@post("/recover/code/resend")
async def resend_code(request: Request[Any, Any, Any]) -> Template | Redirect:
    translate = i18n(request)
    ticket = (await posted(request)).get("ticket", "")
    read = _read_ticket(request, ticket)
    if read is None:
        return _expired(request)
    secret_id, sent = read
    resend_at = _resend_at(request, sent)
    if now(request) < resend_at:
        message = _say(request, "early_resend") % {
            "time": translate.datetime(resend_at, format="HH:mm")
        }
        return _code_page(request, ticket=ticket, sent=sent, form_error=message, status=400)
    portal = request.app.state.portal
    notices = _notices(request)
    async with portal.database.session() as session:
        earlier = await sent_code(session, tenant_id=notices.tenant_id, secret_id=secret_id)
        if earlier is None:
            return _expired(request)
        if not await _within_limits(request, earlier.subject):
            message = _say(request, "too_many")
            return _code_page(request, ticket=ticket, sent=sent, form_error=message, status=429)
        new_id = await send_reset_code(
            session,
            customer=earlier.customer,
            subject=earlier.subject,
            notices=notices,
            limiter=portal.limiter,
            pepper=pepper(request),
        )
    return Redirect(f"/recover/code?ticket={_code_ticket(request, new_id)}", status_code=303)


routes = [
    recover_form,
    recover_start,
    recover_sent,
    recover_done,
    recover_link_form,
    recover_with_link,
    recover_code_form,
    recover_with_code,
    resend_code,
]
