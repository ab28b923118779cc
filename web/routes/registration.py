"""Registration, shaped by the tenant's configured flow and steps; never by the tenant's name.

Every flow goes through the same step form (`POST /register`): the step's fields
are checked, `match_record` fields are compared with billing data, the next step
gets a signed ticket, and the last step finishes the flow its own way: an email
link, an SMS code, or a request for staff.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Redirect, Template

from domain.limits import (
    CODES_PER_ADDRESS,
    CODES_PER_RECIPIENT,
    CODES_PER_TENANT_DAY,
    LOOKUPS_PER_ADDRESS,
    LOOKUPS_PER_PHONE,
    REGISTRATION_CHECKS_PER_ADDRESS,
    Limit,
)
from domain.registration import (
    Site,
    accounts_taken,
    lookup_fields,
    match_account,
    request_activation,
    send_account_number,
    value_of_kind,
)
from domain.registration_email import Links, confirm_email, derived_login, register_with_email
from domain.registration_phone import (
    finish_phone_registration,
    pending_phone,
    resend_phone_code,
    start_phone_registration,
)
from domain.tickets import BadTicket, sign, unsign
from tenants.schema import (
    EmailKind,
    FormField,
    LoginKind,
    PhoneKind,
    PrefixedKind,
    RegistrationVariant,
    TenantConfig,
)
from web.auth import client_address, sessions, set_session_cookie, tenant_id_of, tenant_of, visitor
from web.forms import FieldView, check_fields, field_label, problem_message, view_of, views
from web.i18n import N_, Translator
from web.messages import render_message
from web.rendering import page
from web.routes.common import i18n, now, pepper, posted

STEP_TICKET, SENT_TICKET, CODE_TICKET = (
    "registration-step",
    "registration-sent",
    "registration-code",
)
TICKET_AGE = 60 * 60
RESEND_AFTER_SECONDS = 60
# The "I agree" box of a flow with an agreement; not a configured field.
AGREEMENT = FormField(name="agreement_accepted", type="checkbox")

NO_MATCH = N_(
    "We could not find an account with these details. Check them against your bill and try again."
)
TOO_MANY = N_("Too many attempts. Please try again later.")
EXPIRED = N_("This form has expired. Please start again.")
LOGIN_TAKEN = N_("This login is taken. Please choose another.")
CODE_LABEL = N_("Code from the SMS")
CODE_FORMAT = N_("The code is the six digits from the SMS.")
CODE_WAIT = N_("Please wait a little before asking for a new code.")
CODE_DEAD = N_("This code is no longer valid. Please ask for a new code.")
CODE_PROBLEMS = {
    "exhausted": N_("Too many wrong codes. Please ask for a new code."),
    "taken": N_(
        "This phone number or email address is already registered. "
        "Sign in, or set a new password if you have forgotten it."
    ),
}

Retry = Callable[..., Template]


# --- small helpers -----------------------------------------------------------------


def _session(request: Request[Any, Any, Any]) -> Any:
    return request.app.state.portal.database.session()


def _site(request: Request[Any, Any, Any]) -> Site:
    return Site(
        config=tenant_of(request),
        tenant_id=tenant_id_of(request),
        locale=i18n(request).locale,
        pepper=pepper(request),
        renderer=render_message,
    )


def _sign(request: Request[Any, Any, Any], purpose: str, payload: dict[str, Any]) -> str:
    return sign(payload, purpose=purpose, tenant_id=tenant_id_of(request), secret=pepper(request))


def _unsign(request: Request[Any, Any, Any], purpose: str, ticket: str) -> dict[str, Any] | None:
    try:
        return unsign(
            ticket,
            purpose=purpose,
            tenant_id=tenant_id_of(request),
            secret=pepper(request),
            max_age=TICKET_AGE,
        )
    except BadTicket:
        return None


async def _over_limit(request: Request[Any, Any, Any], *limits: tuple[Limit, str]) -> bool:
    """Count one attempt against each limit; True when any of them is used up."""
    limiter = request.app.state.portal.limiter
    tenant_id = tenant_id_of(request)
    within = [await limiter.hit(limit, f"{tenant_id}:{subject}") for limit, subject in limits]
    return not all(within)


def _message_limits(request: Request[Any, Any, Any], recipient: str) -> list[tuple[Limit, str]]:
    return [
        (CODES_PER_RECIPIENT, recipient),
        (CODES_PER_ADDRESS, client_address(request)),
        (CODES_PER_TENANT_DAY, "tenant"),
    ]


def _links(request: Request[Any, Any, Any]) -> Links:
    base = f"{request.url.scheme}://{request.url.netloc}"
    return Links(
        confirm=lambda token: f"{base}/register/confirm?{urlencode({'token': token})}",
        sign_in=f"{base}/sign-in",
        recover=f"{base}/recover" if tenant_of(request).recovery else "",
    )


async def _signed_in(request: Request[Any, Any, Any], customer_id: int) -> Redirect:
    store = sessions(request)
    previous = visitor(request)
    if previous is not None:
        await store.revoke(previous.token)
    token = await store.create(
        tenant_id=tenant_id_of(request),
        customer_id=customer_id,
        remember=False,
        user_agent=request.headers.get("user-agent", "")[:200],
    )
    response = Redirect("/cabinet", status_code=303)
    set_session_cookie(request, response, token, remember=False)
    return response


# --- the step form -----------------------------------------------------------------


def _fields(config: TenantConfig, variant: RegistrationVariant, index: int) -> list[FormField]:
    fields = list(variant.steps[index].fields)
    if index == 0 and config.registration.agreement is not None:
        fields.append(AGREEMENT)
    return fields


def _preview(
    config: TenantConfig,
    variant: RegistrationVariant,
    fields: list[FormField],
    form: dict[str, str],
    translate: Translator,
) -> dict[str, str] | None:
    """The live login preview beside the field a derived login ("vk" + contract) is made from."""
    source = next((f for f in fields if f.identifier and f.identifier == variant.login_from), None)
    spec = config.identifier(variant.login_identifier).spec if variant.login_identifier else None
    if source is None or not isinstance(spec, PrefixedKind):
        return None
    return {
        "field": source.name,
        "login": derived_login(config, variant, form.get(source.name, "")),
        "source_label": field_label(config, source, translate),
        "url": "/register/login-preview?" + urlencode({"variant": variant.key}),
    }


def _form_page(
    request: Request[Any, Any, Any],
    variant: RegistrationVariant,
    index: int,
    *,
    form: dict[str, str] | None = None,
    problems: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    ticket: str = "",
    alert: str = "",
    has_sign_in: bool = False,
    status: int = 200,
) -> Template:
    config = tenant_of(request)
    translate = i18n(request)
    form, problems = form or {}, problems or {}
    step = variant.steps[index]
    agreement = None
    if AGREEMENT in _fields(config, variant, index):
        reason = problems.get(AGREEMENT.name)
        error = problem_message(config, AGREEMENT, reason, translate) if reason else ""
        agreement = view_of(config, AGREEMENT, translate, form.get(AGREEMENT.name, ""), error)
        agreement.label = translate.gettext("I have read the service agreement and accept it.")
    agreement_text = config.text(config.registration.agreement, translate.locale)
    several = len(config.registration.variants) > 1
    return page(
        request,
        "registration/form.html",
        status_code=status,
        variant=variant,
        variant_label=config.text(variant.label, translate.locale) if several else "",
        step=step,
        step_title=config.text(step.title, translate.locale),
        step_number=index + 1,
        step_count=len(variant.steps),
        final=index + 1 == len(variant.steps),
        fields=views(config, step.fields, translate, form, problems, errors),
        form_key=f"register:{variant.key}:{step.key}",
        ticket=ticket,
        alert=alert,
        has_sign_in=has_sign_in,
        agreement=agreement,
        agreement_text=[" ".join(p.split()) for p in agreement_text.split("\n\n") if p.strip()],
        notice=config.text(config.registration.notice, translate.locale),
        preview=_preview(config, variant, list(step.fields), form, translate),
        flow=config.registration.flow,
        account_lookup=config.registration.account_lookup,
        recovery=bool(config.recovery),
    )


@get("/register")
async def register_form(request: Request[Any, Any, Any]) -> Template | Redirect:
    config = tenant_of(request)
    translate = i18n(request)
    current = visitor(request)
    if current is not None and current.customer is not None:
        return Redirect("/cabinet", status_code=303)
    initial = config.registration.initial_password
    if config.registration.flow == "pre_provisioned" and initial is not None:
        labels = [config.text(i.label, translate.locale) for i in config.sign_in_identifiers()]
        return page(
            request,
            "registration/pre_provisioned.html",
            initial=initial,
            valid_until=translate.date(initial.valid_until, "long"),
            identifiers=", ".join(labels),
            hotline=config.contact_centre.hotline,
        )
    variants = config.registration.variants
    chosen = variants[0] if len(variants) == 1 else None
    variant = chosen or config.variant(request.query_params.get("variant", ""))
    if variant is None:
        choices = [(v.key, config.text(v.label, translate.locale) or v.key) for v in variants]
        return page(request, "registration/choose.html", choices=choices)
    return _form_page(request, variant, 0)


@get("/register/login-preview")
async def login_preview(request: Request[Any, Any, Any]) -> Template:
    """The htmx partial under the contract field: "Your login will be: vk123"."""
    config = tenant_of(request)
    variant = config.variant(request.query_params.get("variant", ""))
    fields = [f for step in variant.steps for f in step.fields] if variant else []
    query = {key: str(value) for key, value in request.query_params.items()}
    preview = _preview(config, variant, fields, query, i18n(request)) if variant else None
    if preview is None:
        raise NotFoundException()
    return Template(
        template_name="registration/login_preview.html",
        context={"i18n": i18n(request), "preview": preview},
        headers={"Vary": "HX-Request"},
    )


@post("/register")
async def register_submit(request: Request[Any, Any, Any]) -> Template | Redirect:
    config = tenant_of(request)
    translate = i18n(request)
    form = await posted(request)
    variant = config.variant(form.get("variant", ""))
    if variant is None or config.registration.flow == "pre_provisioned":
        raise NotFoundException()
    index = next((i for i, s in enumerate(variant.steps) if s.key == form.get("step")), None)
    if index is None:
        raise NotFoundException()
    ticket = form.get("ticket", "")
    account_ids: list[int] = []
    if index > 0:
        payload = _unsign(request, STEP_TICKET, ticket) or {}
        account_ids = [int(account_id) for account_id in payload.get("accounts", [])]
        checked_before = any(f.match_record for s in variant.steps[:index] for f in s.fields)
        if (payload.get("variant"), payload.get("step")) != (variant.key, index) or (
            checked_before and not account_ids
        ):
            return _form_page(request, variant, 0, alert=translate.gettext(EXPIRED), status=400)

    def again(status: int = 400, **kwargs: Any) -> Template:
        return _form_page(
            request, variant, index, form=form, ticket=ticket, status=status, **kwargs
        )

    checked = check_fields(config, _fields(config, variant, index), form)
    if not checked.ok:
        return again(problems=dict(checked.problems))
    fields = list(variant.steps[index].fields)
    flow = config.registration.flow
    if flow != "activation_with_approval" and any(f.match_record for f in fields):
        if await _over_limit(request, (REGISTRATION_CHECKS_PER_ADDRESS, client_address(request))):
            return again(status=429, alert=translate.gettext(TOO_MANY))
        async with _session(request) as session:
            match = await match_account(
                session,
                config=config,
                tenant_id=tenant_id_of(request),
                fields=fields,
                values=checked.values,
            )
            taken = match.ok and await accounts_taken(session, match.account_ids, now(request))
        if not match.ok:
            return again(alert=translate.gettext(NO_MATCH))
        if taken:
            return again(has_sign_in=True)
        account_ids = match.account_ids
    if index + 1 < len(variant.steps):
        payload = {"variant": variant.key, "step": index + 1, "accounts": account_ids}
        return _form_page(request, variant, index + 1, ticket=_sign(request, STEP_TICKET, payload))
    finish = {"activation_with_approval": _finish_activation, "contact_first": _finish_by_code}
    return await finish.get(flow, _finish_by_email)(
        request, variant, fields, checked.values, form, account_ids, again
    )


async def _finish_by_email(
    request: Request[Any, Any, Any],
    variant: RegistrationVariant,
    fields: list[FormField],
    values: dict[str, str],
    form: dict[str, str],
    account_ids: list[int],
    again: Retry,
) -> Template | Redirect:
    """A pending customer and a confirmation link (check-then-create, individual or legal)."""
    config = tenant_of(request)
    translate = i18n(request)
    email = value_of_kind(config, fields, values, EmailKind)
    if await _over_limit(request, *_message_limits(request, f"email:{email}")):
        return again(status=429, alert=translate.gettext(TOO_MANY))
    async with _session(request) as session:
        result = await register_with_email(
            session,
            _site(request),
            variant=variant,
            fields=fields,
            values=values,
            posted=form,
            account_ids=account_ids,
            now=now(request),
            links=_links(request),
        )
    if result.outcome == "account_taken":
        return again(has_sign_in=True)
    if result.outcome == "login_taken":
        login = next(
            f.name
            for f in fields
            if f.identifier and isinstance(config.identifier(f.identifier).spec, LoginKind)
        )
        return again(errors={login: translate.gettext(LOGIN_TAKEN)})
    sent = _sign(request, SENT_TICKET, {"login": result.login})
    return Redirect("/register/sent?" + urlencode({"t": sent}), status_code=303)


async def _finish_activation(
    request: Request[Any, Any, Any],
    variant: RegistrationVariant,
    fields: list[FormField],
    values: dict[str, str],
    form: dict[str, str],
    account_ids: list[int],
    again: Retry,
) -> Template | Redirect:
    """A request for staff; the answer is the same whatever matched."""
    config = tenant_of(request)
    email = value_of_kind(config, fields, values, EmailKind)
    if await _over_limit(
        request,
        (REGISTRATION_CHECKS_PER_ADDRESS, client_address(request)),
        *_message_limits(request, f"email:{email}"),
    ):
        return again(status=429, alert=i18n(request).gettext(TOO_MANY))
    async with _session(request) as session:
        await request_activation(
            session, _site(request), variant=variant, fields=fields, values=values
        )
    return Redirect("/register/received", status_code=303)


@get("/register/received")
async def activation_received(request: Request[Any, Any, Any]) -> Template:
    if tenant_of(request).registration.flow != "activation_with_approval":
        raise NotFoundException()
    return page(request, "registration/received.html")


@get("/register/sent")
async def email_sent(request: Request[Any, Any, Any]) -> Template:
    payload = _unsign(request, SENT_TICKET, request.query_params.get("t", "")) or {}
    return page(request, "registration/sent.html", login=str(payload.get("login", "")))


@get("/register/confirm")
async def confirm(request: Request[Any, Any, Any]) -> Template | Redirect:
    """The link from the confirmation email: the customer becomes active and is signed in."""
    async with _session(request) as session:
        customer = await confirm_email(
            session,
            tenant_id=tenant_id_of(request),
            token=request.query_params.get("token", ""),
            pepper=pepper(request),
            now=now(request),
        )
    if customer is None or customer.id is None:
        return page(request, "registration/confirm_failed.html", status_code=400)
    return await _signed_in(request, customer.id)


# --- contact first: the SMS code ---------------------------------------------------


def _code_ticket(request: Request[Any, Any, Any], secret_id: int | None, phone: str) -> str:
    masked = phone[:4] + "*" * max(len(phone) - 6, 0) + phone[-2:]
    sent = int(now(request).timestamp())
    return _sign(request, CODE_TICKET, {"secret": secret_id, "sent": sent, "phone": masked})


def _seconds_to_wait(request: Request[Any, Any, Any], payload: dict[str, Any]) -> int:
    recovery = tenant_of(request).recovery_by("sms_code")
    delay = recovery.resend_after_seconds if recovery else RESEND_AFTER_SECONDS
    return max(delay - (int(now(request).timestamp()) - int(payload.get("sent", 0))), 0)


async def _finish_by_code(
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
    if await _over_limit(request, *_message_limits(request, f"phone:{phone}")):
        return again(status=429, alert=i18n(request).gettext(TOO_MANY))
    async with _session(request) as session:
        secret = await start_phone_registration(
            session, _site(request), fields=fields, values=values
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
    payload = _unsign(request, CODE_TICKET, ticket)
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
    payload = _unsign(request, CODE_TICKET, ticket)
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
    async with _session(request) as session:
        result = await finish_phone_registration(
            session,
            _site(request),
            secret_id=int(payload.get("secret") or 0),
            code=typed,
            now=now(request),
        )
    if result.customer is not None and result.customer.id is not None:
        return await _signed_in(request, result.customer.id)
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
    payload = _unsign(request, CODE_TICKET, ticket)
    if payload is None:
        return _code_page(request, ticket)
    if _seconds_to_wait(request, payload):
        return _code_page(request, ticket, alert=translate.gettext(CODE_WAIT), status=400)
    secret_id = int(payload.get("secret") or 0)
    async with _session(request) as session:
        phone = await pending_phone(session, tenant_id_of(request), secret_id)
        if phone and await _over_limit(request, *_message_limits(request, f"phone:{phone}")):
            return _code_page(request, ticket, alert=translate.gettext(TOO_MANY), status=429)
        secret = (
            await resend_phone_code(session, _site(request), secret_id=secret_id) if phone else None
        )
    if secret is None:
        return _code_page(request, "")
    new_ticket = _code_ticket(request, secret.id, phone)
    return Redirect("/register/code?" + urlencode({"t": new_ticket}), status_code=303)


# --- "get my account number" -------------------------------------------------------


def _lookup_page(
    request: Request[Any, Any, Any],
    *,
    form: dict[str, str] | None = None,
    problems: dict[str, str] | None = None,
    alert: str = "",
    status: int = 200,
) -> Template:
    config = tenant_of(request)
    found = lookup_fields(config)
    if found is None:
        raise NotFoundException()
    fields, step = found
    return page(
        request,
        "registration/account_number.html",
        status_code=status,
        fields=views(config, fields, i18n(request), form, problems),
        form_key=f"register:{step[0]}:{step[1]}" if step else None,
        alert=alert,
        sent=request.method == "GET" and request.query_params.get("sent") == "1",
    )


@get("/register/account-number")
async def account_number_form(request: Request[Any, Any, Any]) -> Template:
    return _lookup_page(request)


@post("/register/account-number")
async def account_number_submit(request: Request[Any, Any, Any]) -> Template | Redirect:
    config = tenant_of(request)
    found = lookup_fields(config)
    if found is None:
        raise NotFoundException()
    fields = found[0]
    form = await posted(request)
    checked = check_fields(config, fields, form)
    if not checked.ok:
        return _lookup_page(request, form=form, problems=dict(checked.problems), status=400)
    name, phone = (checked.values[f.name] for f in fields)
    if await _over_limit(
        request, (LOOKUPS_PER_ADDRESS, client_address(request)), (LOOKUPS_PER_PHONE, phone)
    ):
        alert = i18n(request).gettext(TOO_MANY)
        return _lookup_page(request, form=form, alert=alert, status=429)
    async with _session(request) as session:
        await send_account_number(session, _site(request), holder_name=name, phone=phone)
    # The same answer whether or not anything was sent.
    return Redirect("/register/account-number?sent=1", status_code=303)


routes = [
    register_form,
    register_submit,
    login_preview,
    email_sent,
    confirm,
    activation_received,
    code_form,
    code_submit,
    code_resend,
    account_number_form,
    account_number_submit,
]
