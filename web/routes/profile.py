"""The customer's profile: password, email, contact data, language, sign-out everywhere."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.response import Redirect, Template

from domain.identifiers import InvalidIdentifier, normalize
from domain.limits import SIGN_IN_PER_IDENTIFIER
from domain.models import Customer
from domain.profile import (
    ContactData,
    Notices,
    change_password,
    confirm_email_change,
    current_password_matches,
    load_customer,
    normalize_phone,
    pending_email_change,
    phone_is_sign_in,
    request_email_change,
    save_locale,
    update_contact,
)
from tenants.schema import EmailKind, FormField, PhoneKind, TenantConfig
from web.auth import require_customer, sessions, tenant_id_of, tenant_of, visitor
from web.forms import FieldView, check_fields, password_rule, problem_message, view_of
from web.gateway import LANGUAGE_COOKIE_AGE
from web.i18n import LANGUAGE_COOKIE, N_, Translator
from web.messages import render_message
from web.rendering import page
from web.routes.common import i18n, now, pepper, posted

# Paths a customer who must change the initial password may still reach.
_ALLOWED_BEFORE_CHANGE = ("/profile/password", "/sign-out", "/static/", "/forms/check")

SAVED = {
    "password": N_("Your new password is saved. Every other device has been signed out."),
    "email": N_("Your new email address is confirmed and saved."),
    "contact": N_("Your contact details are saved."),
    "language": N_("Your language is saved."),
}
MESSAGES = {
    "wrong_current": N_("The current password is not right."),
    "same_password": N_("The new password must be different from the current one."),
    "too_many": N_("Too many attempts. For your safety, please wait 15 minutes and try again."),
    "same_email": N_("This is already your email address."),
    "too_many_links": N_("Too many requests. For your safety, please wait an hour and try again."),
    "bad_language": N_("Please choose one of the languages in the list."),
}


def _say(request: Request[Any, Any, Any], key: str) -> str:
    """One of MESSAGES in the request's language (a key, so extraction sees only the texts)."""
    return i18n(request).gettext(MESSAGES[key])


PASSWORD_FIELDS = [
    FormField(name="password", type="password"),
    FormField(name="password_repeat", type="password_repeat"),
]
EMAIL_FIELD = FormField(name="email", type="text")


async def password_change_first(request: Request[Any, Any, Any]) -> Redirect | None:
    """A customer with an initial password goes to the password form before anything else."""
    current = visitor(request)
    if current is None or current.customer is None or not current.customer.must_change_password:
        return None
    if request.url.path.startswith(_ALLOWED_BEFORE_CHANGE):
        return None
    return Redirect("/profile/password", status_code=303)


def _notices(request: Request[Any, Any, Any]) -> Notices:
    return Notices(tenant_of(request), tenant_id_of(request), i18n(request).locale, render_message)


def _labelled(
    config: TenantConfig,
    translate: Translator,
    fields: list[tuple[FormField, str]],
    values: dict[str, str],
    problems: dict[str, str],
    errors: dict[str, str] | None = None,
) -> list[FieldView]:
    """Views of fields the code defines (not the tenant), each with its own translated label."""
    result = []
    for form_field, label in fields:
        text = translate.gettext(label)
        reason = problems.get(form_field.name)
        error = (errors or {}).get(form_field.name, "")
        if reason and not error:
            error = problem_message(config, form_field, reason, translate, label=text)
        view = view_of(config, form_field, translate, values.get(form_field.name, ""), error)
        view.label = text
        result.append(view)
    return result


# --- overview and language ------------------------------------------------------------


def _overview(
    request: Request[Any, Any, Any], *, language_error: str = "", status: int = 200
) -> Template:
    customer = require_customer(request)
    config = tenant_of(request)
    translate = i18n(request)
    saved = request.query_params.get("saved", "")
    return page(
        request,
        "profile/overview.html",
        status_code=status,
        customer=customer,
        saved=translate.gettext(SAVED[saved]) if saved in SAVED else "",
        choices=[(code, translate.language_name(code)) for code in config.locales.enabled],
        chosen=customer.locale or translate.locale,
        language_error=language_error,
    )


@get("/profile")
async def profile(request: Request[Any, Any, Any]) -> Template:
    return _overview(request)


@post("/profile/language")
async def choose_language(request: Request[Any, Any, Any]) -> Template | Redirect:
    customer = require_customer(request)
    config = tenant_of(request)
    locale = (await posted(request)).get("locale", "")
    if locale not in config.locales.enabled:
        error = _say(request, "bad_language")
        return _overview(request, language_error=error, status=400)
    async with request.app.state.portal.database.session() as session:
        row = await load_customer(session, tenant_id_of(request), customer.id or 0)
        if row is not None:
            await save_locale(session, row, locale)
    response = Redirect("/profile?saved=language", status_code=303)
    # The cookie outranks the saved preference, so it must agree for the switch to show at once.
    response.set_cookie(
        LANGUAGE_COOKIE, locale, path="/", max_age=LANGUAGE_COOKIE_AGE, samesite="lax"
    )
    return response


# --- password ------------------------------------------------------------------------


def _current_label(customer: Customer, translate: Translator) -> str:
    if customer.must_change_password:
        return translate.gettext("Initial password")
    return translate.gettext("Current password")


def _password_page(
    request: Request[Any, Any, Any],
    customer: Customer,
    *,
    problems: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    form_error: str = "",
    status: int = 200,
) -> Template:
    config = tenant_of(request)
    translate = i18n(request)
    errors = errors or {}
    current = FieldView(
        name="current_password",
        label=_current_label(customer, translate),
        input_type="password",
        error=errors.get("current_password", ""),
        autocomplete="current-password",
    )
    labels = [
        (PASSWORD_FIELDS[0], N_("New password")),
        (PASSWORD_FIELDS[1], N_("Repeat the new password")),
    ]
    fields = _labelled(config, translate, labels, {}, problems or {}, errors)
    fields[0].hint = password_rule(config, translate)
    sms_note = config.registration.flow == "activation_with_approval"
    return page(
        request,
        "profile/password.html",
        status_code=status,
        forced=customer.must_change_password,
        fields=[current, *fields],
        form_error=form_error,
        hotline=config.contact_centre.hotline if sms_note else None,
    )


@get("/profile/password")
async def password_form(request: Request[Any, Any, Any]) -> Template:
    return _password_page(request, require_customer(request))


@post("/profile/password")
async def password_change(request: Request[Any, Any, Any]) -> Template | Redirect:
    customer = require_customer(request)
    config = tenant_of(request)
    translate = i18n(request)
    form = await posted(request)
    current = form.get("current_password", "")
    problems: dict[str, str] = dict(check_fields(config, PASSWORD_FIELDS, form).problems)
    limiter = request.app.state.portal.limiter
    subject = f"{tenant_id_of(request)}:profile-password:{customer.id}"
    if await limiter.exceeded(SIGN_IN_PER_IDENTIFIER, subject):
        message = _say(request, "too_many")
        return _password_page(request, customer, form_error=message, status=429)
    errors: dict[str, str] = {}
    if not current:
        label = _current_label(customer, translate)
        errors["current_password"] = problem_message(config, None, "empty", translate, label=label)
    elif not await current_password_matches(customer, current):
        await limiter.hit(SIGN_IN_PER_IDENTIFIER, subject)
        errors["current_password"] = _say(request, "wrong_current")
    new_password = form.get("password", "")
    if not problems and not errors and new_password == current:
        errors["password"] = _say(request, "same_password")
    if problems or errors:
        return _password_page(request, customer, problems=problems, errors=errors, status=400)
    async with request.app.state.portal.database.session() as session:
        row = await load_customer(session, tenant_id_of(request), customer.id or 0)
        if row is not None:
            await change_password(session, row, new_password, _notices(request), when=now(request))
            await session.commit()
    current_visit = visitor(request)
    await sessions(request).revoke_all(
        tenant_id=tenant_id_of(request),
        customer_id=customer.id,
        keep_token=current_visit.token if current_visit else None,
    )
    return Redirect("/profile?saved=password", status_code=303)


# --- email ---------------------------------------------------------------------------


def _email_page(
    request: Request[Any, Any, Any],
    customer: Customer,
    *,
    value: str = "",
    error: str = "",
    form_error: str = "",
    sent: bool = False,
    status: int = 200,
) -> Template:
    config = tenant_of(request)
    translate = i18n(request)
    field = view_of(config, EMAIL_FIELD, translate, value, error)
    field.label = translate.gettext("New email")
    field.input_type = "email"
    field.autocomplete = "email"
    field.sample = next(
        (i.sample for i in config.identifiers if isinstance(i.spec, EmailKind)), "name@example.com"
    )
    return page(
        request,
        "profile/email.html",
        status_code=status,
        customer=customer,
        email_field=field,
        form_error=form_error,
        sent=sent,
    )


@get("/profile/email")
async def email_form(request: Request[Any, Any, Any]) -> Template:
    customer = require_customer(request)
    return _email_page(request, customer, sent=request.query_params.get("sent") == "1")


@post("/profile/email")
async def email_change(request: Request[Any, Any, Any]) -> Template | Redirect:
    customer = require_customer(request)
    config = tenant_of(request)
    translate = i18n(request)
    typed = (await posted(request)).get("email", "").strip()[:320]
    label = translate.gettext("New email")
    try:
        new_email = normalize(EmailKind(kind="email"), typed)
    except InvalidIdentifier as problem:
        sample = next((i.sample for i in config.identifiers if isinstance(i.spec, EmailKind)), "")
        error = problem_message(config, None, problem.reason, translate, label=label, sample=sample)
        return _email_page(request, customer, value=typed, error=error, status=400)
    tenant_id = tenant_id_of(request)
    async with request.app.state.portal.database.session() as session:
        row = await load_customer(session, tenant_id, customer.id or 0)
        assert row is not None
        outcome = await request_email_change(
            session,
            customer=row,
            new_email=new_email,
            notices=_notices(request),
            limiter=request.app.state.portal.limiter,
            pepper=pepper(request),
            link_base=str(request.base_url).rstrip("/") + "/profile/email/confirm",
        )
    if outcome == "unchanged":
        error = _say(request, "same_email")
        return _email_page(request, customer, value=typed, error=error, status=400)
    if outcome == "limited":
        message = _say(request, "too_many_links")
        return _email_page(request, customer, value=typed, form_error=message, status=429)
    return Redirect("/profile/email?sent=1", status_code=303)


@get("/profile/email/confirm")
async def email_confirm_form(request: Request[Any, Any, Any]) -> Template:
    token = request.query_params.get("token", "").strip()[:100]
    async with request.app.state.portal.database.session() as session:
        email = await pending_email_change(
            session, tenant_id=tenant_id_of(request), token=token, pepper=pepper(request)
        )
    if email is None:
        return page(request, "profile/email_confirm.html", status_code=400, state="dead")
    return page(request, "profile/email_confirm.html", state="ask", email=email, token=token)


@post("/profile/email/confirm")
async def email_confirm(request: Request[Any, Any, Any]) -> Template | Redirect:
    token = (await posted(request)).get("token", "").strip()[:100]
    async with request.app.state.portal.database.session() as session:
        outcome = await confirm_email_change(
            session,
            config=tenant_of(request),
            tenant_id=tenant_id_of(request),
            token=token,
            pepper=pepper(request),
        )
    if outcome != "ok":
        return page(request, "profile/email_confirm.html", status_code=400, state="dead")
    signed_in = visitor(request)
    if signed_in is not None and signed_in.customer is not None:
        return Redirect("/profile?saved=email", status_code=303)
    return page(request, "profile/email_confirm.html", state="done")


# --- contact data ----------------------------------------------------------------------


def _contact_fields(config: TenantConfig, customer: Customer) -> list[tuple[FormField, str]]:
    fields: list[tuple[FormField, str]] = []
    phone_sample = next(
        (i.sample for i in config.identifiers if isinstance(i.spec, PhoneKind)), None
    )
    if customer.kind == "legal":
        fields.append((FormField(name="company_name", type="text"), N_("Company name")))
    else:
        fields.append((FormField(name="full_name", type="person_name"), N_("Full name")))
    if not phone_is_sign_in(config):
        fields.append(
            (
                FormField(name="phone", type="text", required=False, sample=phone_sample),
                N_("Phone number"),
            )
        )
    if customer.kind == "legal":
        fields.append(
            (
                FormField(name="invoices_by_email", type="checkbox", required=False),
                N_("Send me invoices by email"),
            )
        )
    if config.has("readings") and customer.email:
        fields.append(
            (
                FormField(name="reading_reminders", type="checkbox", required=False),
                N_("Email me when the time to submit meter readings comes"),
            )
        )
    return fields


def _contact_page(
    request: Request[Any, Any, Any],
    customer: Customer,
    *,
    values: dict[str, str] | None = None,
    problems: dict[str, str] | None = None,
    status: int = 200,
) -> Template:
    config = tenant_of(request)
    translate = i18n(request)
    if values is None:
        values = {
            "full_name": customer.full_name,
            "company_name": customer.company_name or "",
            "phone": customer.phone or "",
            "invoices_by_email": "on" if customer.invoices_by_email else "",
            "reading_reminders": "on" if customer.reading_reminders else "",
        }
    fields = _labelled(config, translate, _contact_fields(config, customer), values, problems or {})
    for view in fields:
        if view.name == "phone":
            view.input_type, view.autocomplete, view.inputmode = "tel", "tel", "tel"
    return page(
        request,
        "profile/contact.html",
        status_code=status,
        customer=customer,
        fields=fields,
        phone_locked=phone_is_sign_in(config),
    )


@get("/profile/contact")
async def contact_form(request: Request[Any, Any, Any]) -> Template:
    return _contact_page(request, require_customer(request))


@post("/profile/contact")
async def contact_change(request: Request[Any, Any, Any]) -> Template | Redirect:
    customer = require_customer(request)
    config = tenant_of(request)
    form = await posted(request)
    fields = [f for f, _ in _contact_fields(config, customer)]
    checked = check_fields(config, [f for f in fields if f.name != "phone"], form)
    problems: dict[str, str] = dict(checked.problems)
    phone: str | None = None
    if not phone_is_sign_in(config):
        typed_phone = form.get("phone", "").strip()
        try:
            phone = normalize_phone(config, typed_phone) if typed_phone else ""
        except InvalidIdentifier as problem:
            problems["phone"] = problem.reason
    if problems:
        return _contact_page(request, customer, values=form, problems=problems, status=400)
    data = ContactData(
        full_name=checked.values.get("full_name", customer.full_name),
        company_name=checked.values.get("company_name", customer.company_name or ""),
        phone=phone,
        invoices_by_email=checked.values.get("invoices_by_email") == "1",
        reading_reminders=(
            checked.values.get("reading_reminders") == "1"
            if "reading_reminders" in {f.name for f in fields}
            else None
        ),
    )
    async with request.app.state.portal.database.session() as session:
        row = await load_customer(session, tenant_id_of(request), customer.id or 0)
        if row is not None:
            await update_contact(session, row, data)
    return Redirect("/profile?saved=contact", status_code=303)


routes: list[Any] = [
    profile,
    choose_language,
    password_form,
    password_change,
    email_form,
    email_change,
    email_confirm_form,
    email_confirm,
    contact_form,
    contact_change,
]
