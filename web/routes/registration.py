"""Registration, shaped by the tenant's configured flow and steps; never by the tenant's name.

Every flow goes through the same step form (`POST /register`): the step's fields
are checked, `match_record` fields are compared with billing data, the next step
gets a signed ticket, and the last step finishes the flow its own way: an email
link, an SMS code, or a request for staff.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Redirect, Template

from domain.limits import (
    REGISTRATION_CHECKS_PER_ADDRESS,
)
from domain.registration import (
    accounts_taken,
    match_account,
    request_activation,
    value_of_kind,
)
from domain.registration_email import confirm_email, derived_login, register_with_email
from tenants.schema import (
    EmailKind,
    FormField,
    LoginKind,
    PrefixedKind,
    RegistrationVariant,
    TenantConfig,
)
from web.auth import client_address, tenant_id_of, tenant_of, visitor
from web.forms import check_fields, field_label, problem_message, view_of, views
from web.i18n import Translator
from web.rendering import page
from web.routes import registration_code, registration_lookup
from web.routes.common import i18n, now, pepper, posted
from web.routes.registration_code import finish_by_code
from web.routes.registration_support import (
    AGREEMENT,
    EXPIRED,
    LOGIN_TAKEN,
    NO_MATCH,
    SENT_TICKET,
    STEP_TICKET,
    TOO_MANY,
    Retry,
    db_session,
    links_of,
    message_limits,
    over_limit,
    read_ticket,
    sign_ticket,
    signed_in,
    site_of,
)

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
        payload = read_ticket(request, STEP_TICKET, ticket) or {}
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
        if await over_limit(request, (REGISTRATION_CHECKS_PER_ADDRESS, client_address(request))):
            return again(status=429, alert=translate.gettext(TOO_MANY))
        async with db_session(request) as session:
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
        return _form_page(
            request, variant, index + 1, ticket=sign_ticket(request, STEP_TICKET, payload)
        )
    finish = {"activation_with_approval": _finish_activation, "contact_first": finish_by_code}
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
    if await over_limit(request, *message_limits(request, f"email:{email}")):
        return again(status=429, alert=translate.gettext(TOO_MANY))
    async with db_session(request) as session:
        result = await register_with_email(
            session,
            site_of(request),
            variant=variant,
            fields=fields,
            values=values,
            posted=form,
            account_ids=account_ids,
            now=now(request),
            links=links_of(request),
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
    sent = sign_ticket(request, SENT_TICKET, {"login": result.login})
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
    if await over_limit(
        request,
        (REGISTRATION_CHECKS_PER_ADDRESS, client_address(request)),
        *message_limits(request, f"email:{email}"),
    ):
        return again(status=429, alert=i18n(request).gettext(TOO_MANY))
    async with db_session(request) as session:
        await request_activation(
            session, site_of(request), variant=variant, fields=fields, values=values
        )
    return Redirect("/register/received", status_code=303)


@get("/register/received")
async def activation_received(request: Request[Any, Any, Any]) -> Template:
    if tenant_of(request).registration.flow != "activation_with_approval":
        raise NotFoundException()
    return page(request, "registration/received.html")


@get("/register/sent")
async def email_sent(request: Request[Any, Any, Any]) -> Template:
    payload = read_ticket(request, SENT_TICKET, request.query_params.get("t", "")) or {}
    return page(request, "registration/sent.html", login=str(payload.get("login", "")))


@get("/register/confirm")
async def confirm(request: Request[Any, Any, Any]) -> Template | Redirect:
    """The link from the confirmation email: the customer becomes active and is signed in."""
    async with db_session(request) as session:
        customer = await confirm_email(
            session,
            tenant_id=tenant_id_of(request),
            token=request.query_params.get("token", ""),
            pepper=pepper(request),
            now=now(request),
        )
    if customer is None or customer.id is None:
        return page(request, "registration/confirm_failed.html", status_code=400)
    return await signed_in(request, customer.id)


# --- contact first: the SMS code ---------------------------------------------------


routes = [
    register_form,
    register_submit,
    login_preview,
    email_sent,
    confirm,
    activation_received,
    *registration_code.routes,
    *registration_lookup.routes,
]
