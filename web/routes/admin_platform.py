"""The platform operator's pages under /admin/platform: tenants, their domains and their admins.

Only platform operators see them; to a tenant admin every one of these pages is a 404.
An operator signs in on any tenant's host (cookies are host-only) and manages every
tenant from there.
"""

from __future__ import annotations

import zoneinfo
from functools import cache
from typing import Any, Literal

from babel import Locale
from babel.numbers import list_currencies
from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from domain.fields import clean_text, password_problem
from domain.platform import (
    FULL_NAME_MAX,
    MAX_DOMAINS,
    STAFF_PASSWORD_POLICY,
    HostProblem,
    ScratchTenant,
    add_staff,
    country_problem,
    create_tenant,
    end_staff_sessions,
    find_staff_member,
    find_tenant,
    generate_password,
    login_problem,
    preset_document,
    reset_staff_password,
    scratch_document,
    set_domains,
    set_staff_status,
    slug_problem,
    staff_of,
    tenant_summaries,
)
from domain.staff import StaffUser
from tenants.loader import ConfigError, load_presets, validate_config
from tenants.schema import TenantConfig
from web.auth import client_address, visitor
from web.forms import PROBLEM_MESSAGES
from web.i18n import N_, Translator, catalogs, loaded_locales
from web.rendering import page
from web.routes.common import i18n, now, posted

UTILITIES = {
    "water": N_("Water"),
    "gas": N_("Gas"),
    "heating": N_("Heating"),
    "electricity": N_("Electricity"),
    "broadband": N_("Broadband"),
}
# The labels a tenant made from scratch shows customers, in its own language.
SCRATCH_LABELS = {
    "account_number": N_("Account number"),
    "holder_name": N_("Account holder"),
    "mobile": N_("Phone number"),
}
FIELD_MESSAGES = {
    "slug_empty": N_("Give the tenant's short name: it becomes its address."),
    "slug_invalid": N_(
        "Use 1 to 63 lower-case Latin letters, digits and hyphens, "
        "not starting or ending with a hyphen."
    ),
    "slug_taken": N_("A tenant with this short name already exists. Choose another."),
    "host_taken": N_("%(host)s is already a custom domain of %(owner)s. Choose another name."),
    "preset_unknown": N_("Choose one of the presets offered."),
    "utility_unknown": N_("Choose one of the kinds of utility offered."),
    "name_empty": N_("Give the utility's name as customers should see it."),
    "name_too_long": N_("The name is too long: write at most %(limit)d characters."),
    "locale_unknown": N_("Choose one of the languages offered."),
    "currency_unknown": N_("“%(value)s” is not an ISO 4217 currency code, such as EUR or KZT."),
    "timezone_unknown": N_(
        "“%(value)s” is not a known time zone; write it like Europe/Berlin or Asia/Almaty."
    ),
    "country_unknown": N_("“%(value)s” is not a two-letter country code, such as DE or KZ."),
    "config_invalid": N_("This configuration is not valid: %(reason)s"),
    "login_empty": N_("Give a login."),
    "login_invalid": N_(
        "A login is 3 to 64 characters: Latin letters, digits, dots, hyphens and underscores, "
        "starting and ending with a letter or digit."
    ),
    "login_taken": N_("This login is already in use here. Choose another."),
    "full_name_empty": N_("Give the person's full name."),
}
HOST_MESSAGES = {
    "invalid": N_("“%(line)s” is not a host name, such as portal.example.com."),
    "base_domain": N_("“%(line)s” is the portal's own address and cannot be a tenant's."),
    "under_base": N_(
        "“%(line)s” is under the portal's own domain, where each tenant already has its address."
    ),
    "taken": N_("“%(line)s” is already an address of %(owner)s."),
    "too_many": N_("A tenant may have at most %(limit)d custom domains."),
}
DONE_MESSAGES = {
    "created": N_("The tenant has been created and its site is live."),
    "domains": N_("The domains have been saved and published."),
    "unchanged": N_("The domains were already these. Nothing was changed."),
    "locked": N_("The staff member has been locked and signed out everywhere."),
    "unlocked": N_("The staff member has been unlocked."),
}
SELF_LOCK = N_("You cannot lock yourself out. Ask another platform operator.")


def require_operator(request: Request[Any, Any, Any]) -> StaffUser:
    # Imported here: web.routes.admin imports this module to mount its handlers.
    from web.routes.admin import require_operator as operator_only

    return operator_only(request)


@cache
def presets() -> dict[str, TenantConfig]:
    return {preset.slug: preset for preset in load_presets()}


def _base_domain(request: Request[Any, Any, Any]) -> str:
    return str(request.app.state.portal.settings.base_domain)


def _admin_url(request: Request[Any, Any, Any], slug: str) -> str:
    """The staff area on a tenant's own host, on the port this request came to."""
    port = request.url.port
    suffix = f":{port}" if port and port not in (80, 443) else ""
    return f"{request.url.scheme}://{slug}.{_base_domain(request)}{suffix}/admin"


def _done(request: Request[Any, Any, Any]) -> str:
    key = request.query_params.get("done", "")
    return i18n(request).pick(DONE_MESSAGES, key) if key in DONE_MESSAGES else ""


async def _reload(request: Request[Any, Any, Any]) -> None:
    # This process serves the change at once; the others notice within seconds.
    await request.app.state.portal.reload_tenants()


# --- the tenant list ---------------------------------------------------------------------


@get("/platform")
async def platform_index(request: Request[Any, Any, Any]) -> Template:
    require_operator(request)
    locale = i18n(request).locale
    async with request.app.state.portal.database.session() as session:
        summaries = await tenant_summaries(session)
    rows = [
        {
            "id": summary.id,
            "slug": summary.slug,
            "name": summary.config.name(locale) if summary.config else "",
            "hosts": summary.config.hostnames(_base_domain(request)) if summary.config else [],
            "version": summary.published_version,
            "admins": summary.admins,
            "admin_url": _admin_url(request, summary.slug),
        }
        for summary in summaries
    ]
    return page(request, "admin/platform/index.html", rows=rows, done=_done(request))


# --- creating a tenant -------------------------------------------------------------------


def _language_choices(translate: Translator) -> list[tuple[str, str]]:
    return [
        (code, Locale.parse(code).get_display_name(translate.babel_locale) or code)
        for code in loaded_locales()
    ]


def _new_page(
    request: Request[Any, Any, Any],
    *,
    form: Literal["preset", "scratch", ""] = "",
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Template:
    translate = i18n(request)
    return page(
        request,
        "admin/platform/new.html",
        status_code=status,
        form=form,
        values=values or {},
        errors=errors or {},
        presets=[(slug, config.name(translate.locale)) for slug, config in presets().items()],
        utilities=[(key, translate.pick(UTILITIES, key)) for key in UTILITIES],
        locale_choices=_language_choices(translate),
        base_domain=_base_domain(request),
    )


@get("/platform/new")
async def new_tenant_form(request: Request[Any, Any, Any]) -> Template:
    require_operator(request)
    return _new_page(request)


def _slug_error(translate: Translator, slug: str) -> str:
    if not slug:
        return translate.pick(FIELD_MESSAGES, "slug_empty")
    if slug_problem(slug):
        return translate.pick(FIELD_MESSAGES, "slug_invalid")
    return ""


async def _create(
    request: Request[Any, Any, Any],
    staff: StaffUser,
    config: TenantConfig,
    origin: str,
) -> tuple[str, str | None]:
    """("", None) when created; else the slug field's message."""
    translate = i18n(request)
    async with request.app.state.portal.database.session() as session:
        created = await create_tenant(
            session,
            config,
            base_domain=_base_domain(request),
            actor=staff,
            address=client_address(request),
            now=now(request),
            origin=origin,
        )
    if created.outcome == "slug_taken":
        return translate.pick(FIELD_MESSAGES, "slug_taken"), None
    if created.outcome == "host_taken":
        host = f"{config.slug}.{_base_domain(request)}"
        message = translate.pick(FIELD_MESSAGES, "host_taken")
        return message % {"host": host, "owner": created.owner}, None
    await _reload(request)
    return "", str(created.tenant.id if created.tenant else "")


@post("/platform/new/preset")
async def create_from_preset(request: Request[Any, Any, Any]) -> Template | Redirect:
    staff = require_operator(request)
    translate = i18n(request)
    form = await posted(request)
    values = {"preset": form.get("preset", ""), "slug": clean_text(form.get("slug", ""))[:100]}
    errors = {}
    preset = presets().get(values["preset"])
    if preset is None:
        errors["preset"] = translate.pick(FIELD_MESSAGES, "preset_unknown")
    if slug_error := _slug_error(translate, values["slug"]):
        errors["slug"] = slug_error
    if errors or preset is None:
        return _new_page(request, form="preset", values=values, errors=errors, status=400)
    config = validate_config(preset_document(preset, values["slug"]), f"preset {preset.slug}")
    problem, tenant_id = await _create(request, staff, config, f"preset:{preset.slug}")
    if problem:
        errors["slug"] = problem
        return _new_page(request, form="preset", values=values, errors=errors, status=400)
    return Redirect(f"/admin/platform/tenants/{tenant_id}?done=created", status_code=303)


def _scratch_errors(translate: Translator, values: dict[str, str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if slug_error := _slug_error(translate, values["slug"]):
        errors["slug"] = slug_error
    if values["utility"] not in UTILITIES:
        errors["utility"] = translate.pick(FIELD_MESSAGES, "utility_unknown")
    if not values["name"]:
        errors["name"] = translate.pick(FIELD_MESSAGES, "name_empty")
    elif len(values["name"]) > FULL_NAME_MAX:
        errors["name"] = translate.pick(FIELD_MESSAGES, "name_too_long") % {"limit": FULL_NAME_MAX}
    if values["locale"] not in loaded_locales():
        errors["locale"] = translate.pick(FIELD_MESSAGES, "locale_unknown")
    checks = {
        "currency": values["currency"] in list_currencies(),
        "timezone": values["timezone"] in zoneinfo.available_timezones(),
        "country": not country_problem(values["country"]),
    }
    for name, valid in checks.items():
        if not valid:
            message = translate.pick(FIELD_MESSAGES, f"{name}_unknown")
            errors[name] = message % {"value": values[name]}
    return errors


@post("/platform/new/scratch")
async def create_from_scratch(request: Request[Any, Any, Any]) -> Template | Redirect:
    staff = require_operator(request)
    translate = i18n(request)
    form = await posted(request)
    values = {
        "slug": clean_text(form.get("slug", ""))[:100],
        "utility": form.get("utility", ""),
        "name": clean_text(form.get("name", ""))[:1000],
        "locale": form.get("locale", ""),
        "currency": clean_text(form.get("currency", "")).upper()[:20],
        "timezone": clean_text(form.get("timezone", ""))[:100],
        "country": clean_text(form.get("country", "")).upper()[:20],
    }
    errors = _scratch_errors(translate, values)
    if errors:
        return _new_page(request, form="scratch", values=values, errors=errors, status=400)
    catalog = catalogs()[values["locale"]]
    labels = {key: catalog.gettext(message) for key, message in SCRATCH_LABELS.items()}
    wanted = ScratchTenant(**values)
    try:
        config = validate_config(scratch_document(wanted, labels), "scratch")
    except ConfigError as error:
        reason = "; ".join(f"{where}: {why}" for where, why in error.problems)
        errors["slug"] = translate.pick(FIELD_MESSAGES, "config_invalid") % {"reason": reason}
        return _new_page(request, form="scratch", values=values, errors=errors, status=400)
    problem, tenant_id = await _create(request, staff, config, "scratch")
    if problem:
        errors["slug"] = problem
        return _new_page(request, form="scratch", values=values, errors=errors, status=400)
    return Redirect(f"/admin/platform/tenants/{tenant_id}?done=created", status_code=303)


# --- one tenant: its hosts, domains and admins --------------------------------------------


def _host_messages(translate: Translator, problems: list[HostProblem]) -> list[str]:
    return [
        translate.pick(HOST_MESSAGES, problem.reason)
        % {"line": problem.line, "owner": problem.owner, "limit": MAX_DOMAINS}
        for problem in problems
    ]


async def _tenant_page(
    request: Request[Any, Any, Any],
    tenant_id: int,
    *,
    domains_text: str | None = None,
    domain_errors: list[str] | None = None,
    staff_values: dict[str, str] | None = None,
    staff_errors: dict[str, str] | None = None,
    error: str = "",
    status: int = 200,
) -> Template:
    operator = require_operator(request)
    async with request.app.state.portal.database.session() as session:
        tenant = await find_tenant(session, tenant_id)
        if tenant is None:
            raise NotFoundException()
        admins = await staff_of(session, tenant_id)
        summary = next(s for s in await tenant_summaries(session) if s.id == tenant_id)
    config = summary.config
    return page(
        request,
        "admin/platform/tenant.html",
        status_code=status,
        subject=summary,
        subject_name=config.name(i18n(request).locale) if config else tenant.slug,
        hosts=config.hostnames(_base_domain(request)) if config else [],
        admin_url=_admin_url(request, tenant.slug),
        domains_text=domains_text
        if domains_text is not None
        else "\n".join(config.domains if config else []),
        domain_errors=domain_errors or [],
        staff=admins,
        me=operator,
        staff_values=staff_values or {},
        staff_errors=staff_errors or {},
        add_action=f"/admin/platform/tenants/{tenant_id}/staff",
        policy_length=STAFF_PASSWORD_POLICY.min_length,
        error=error,
        done=_done(request),
    )


@get("/platform/tenants/{tenant_id:int}")
async def tenant_detail(request: Request[Any, Any, Any], tenant_id: FromPath[int]) -> Template:
    return await _tenant_page(request, tenant_id)


@post("/platform/tenants/{tenant_id:int}/domains")
async def save_domains(
    request: Request[Any, Any, Any], tenant_id: FromPath[int]
) -> Template | Redirect:
    staff = require_operator(request)
    typed = (await posted(request)).get("domains", "")[:20000]
    lines = typed.splitlines()
    async with request.app.state.portal.database.session() as session:
        change = await set_domains(
            session,
            tenant_id,
            lines,
            base_domain=_base_domain(request),
            actor=staff,
            address=client_address(request),
            now=now(request),
        )
    if change.outcome == "not_found":
        raise NotFoundException()
    if change.outcome == "problems":
        messages = _host_messages(i18n(request), change.problems)
        return await _tenant_page(
            request, tenant_id, domains_text=typed, domain_errors=messages, status=400
        )
    if change.outcome == "changed":
        await _reload(request)
    done = "domains" if change.outcome == "changed" else "unchanged"
    return Redirect(f"/admin/platform/tenants/{tenant_id}?done={done}", status_code=303)


# --- staff: tenant admins and platform operators -------------------------------------------


def _staff_input(
    translate: Translator, form: dict[str, str]
) -> tuple[dict[str, str], dict[str, str], str | None]:
    """The typed login and name, their problems, and the password (None: generate one)."""
    values = {
        "login": clean_text(form.get("login", ""))[:100],
        "full_name": clean_text(form.get("full_name", ""))[:1000],
    }
    errors: dict[str, str] = {}
    if reason := login_problem(values["login"]):
        errors["login"] = translate.pick(FIELD_MESSAGES, f"login_{reason}")
    if not values["full_name"]:
        errors["full_name"] = translate.pick(FIELD_MESSAGES, "full_name_empty")
    elif len(values["full_name"]) > FULL_NAME_MAX:
        errors["full_name"] = translate.pick(FIELD_MESSAGES, "name_too_long") % {
            "limit": FULL_NAME_MAX
        }
    password, password_error = _typed_password(translate, form)
    if password_error:
        errors["password"] = password_error
    return values, errors, password


def _typed_password(translate: Translator, form: dict[str, str]) -> tuple[str | None, str]:
    """The password typed twice (None when both boxes are empty), or the problem with it."""
    password = form.get("password", "")
    repeat = form.get("password_repeat", "")
    if not password and not repeat:
        return None, ""
    problem = password_problem(password, STAFF_PASSWORD_POLICY) or (
        "passwords_differ" if password != repeat else None
    )
    if problem is None:
        return password, ""
    message = translate.pick(PROBLEM_MESSAGES, problem)
    return None, message % {
        "min_length": STAFF_PASSWORD_POLICY.min_length,
        "label": translate.gettext(N_("Password")),
    }


def _shown_page(
    request: Request[Any, Any, Any],
    *,
    staff: StaffUser,
    outcome: Literal["added", "reset"],
    password: str | None,
    back: str,
    sign_in_url: str,
) -> Template:
    """The result, with a generated password shown this once; never kept by any cache."""
    response = page(
        request,
        "admin/platform/shown.html",
        member=staff,
        outcome=outcome,
        password=password,
        back=back,
        sign_in_url=sign_in_url,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def _sign_in_url(request: Request[Any, Any, Any], tenant_id: int | None) -> str:
    """Where a tenant admin signs in; "" for operators, who may use any tenant's host."""
    if tenant_id is None:
        return ""
    async with request.app.state.portal.database.session() as session:
        tenant = await find_tenant(session, tenant_id)
    return _admin_url(request, tenant.slug) + "/sign-in" if tenant else ""


async def _add_staff(
    request: Request[Any, Any, Any], tenant_id: int | None
) -> tuple[dict[str, str], dict[str, str], Template | None]:
    staff = require_operator(request)
    translate = i18n(request)
    values, errors, password = _staff_input(translate, await posted(request))
    if errors:
        return values, errors, None
    generated = password is None
    chosen = password or generate_password()
    async with request.app.state.portal.database.session() as session:
        if tenant_id is not None and await find_tenant(session, tenant_id) is None:
            raise NotFoundException()
        added = await add_staff(
            session,
            tenant_id=tenant_id,
            login=values["login"],
            full_name=values["full_name"],
            password=chosen,
            password_origin="generated" if generated else "typed",
            actor=staff,
            address=client_address(request),
        )
    if added is None:
        return values, {"login": translate.pick(FIELD_MESSAGES, "login_taken")}, None
    back = f"/admin/platform/tenants/{tenant_id}" if tenant_id else "/admin/platform/operators"
    return (
        values,
        {},
        _shown_page(
            request,
            staff=added,
            outcome="added",
            password=chosen if generated else None,
            back=back,
            sign_in_url=await _sign_in_url(request, tenant_id),
        ),
    )


@post("/platform/tenants/{tenant_id:int}/staff")
async def add_tenant_admin(request: Request[Any, Any, Any], tenant_id: FromPath[int]) -> Template:
    values, errors, shown = await _add_staff(request, tenant_id)
    if shown is not None:
        return shown
    return await _tenant_page(
        request, tenant_id, staff_values=values, staff_errors=errors, status=400
    )


async def _operators_page(
    request: Request[Any, Any, Any],
    *,
    staff_values: dict[str, str] | None = None,
    staff_errors: dict[str, str] | None = None,
    error: str = "",
    status: int = 200,
) -> Template:
    operator = require_operator(request)
    async with request.app.state.portal.database.session() as session:
        operators = await staff_of(session, None)
    return page(
        request,
        "admin/platform/operators.html",
        status_code=status,
        staff=operators,
        me=operator,
        staff_values=staff_values or {},
        staff_errors=staff_errors or {},
        add_action="/admin/platform/operators",
        policy_length=STAFF_PASSWORD_POLICY.min_length,
        error=error,
        done=_done(request),
    )


@get("/platform/operators")
async def operators(request: Request[Any, Any, Any]) -> Template:
    return await _operators_page(request)


@post("/platform/operators")
async def add_operator(request: Request[Any, Any, Any]) -> Template:
    values, errors, shown = await _add_staff(request, None)
    if shown is not None:
        return shown
    return await _operators_page(request, staff_values=values, staff_errors=errors, status=400)


def _list_of(member: StaffUser) -> str:
    if member.tenant_id is None:
        return "/admin/platform/operators"
    return f"/admin/platform/tenants/{member.tenant_id}"


async def _change_status(
    request: Request[Any, Any, Any], staff_id: int, status: Literal["active", "locked"]
) -> Template | Redirect:
    operator = require_operator(request)
    async with request.app.state.portal.database.session() as session:
        member = await find_staff_member(session, staff_id)
        if member is None:
            raise NotFoundException()
        if status == "locked" and member.id == operator.id:
            message = i18n(request).gettext(SELF_LOCK)
            if member.tenant_id is None:
                return await _operators_page(request, error=message, status=409)
            return await _tenant_page(request, member.tenant_id, error=message, status=409)
        await set_staff_status(
            session, member, status, actor=operator, address=client_address(request)
        )
    if status == "locked":
        portal = request.app.state.portal
        await end_staff_sessions(
            portal.sessions, member, portal.tenant_ids.values(), keep_token=None
        )
    done = "locked" if status == "locked" else "unlocked"
    return Redirect(f"{_list_of(member)}?done={done}", status_code=303)


@post("/platform/staff/{staff_id:int}/lock")
async def lock_staff(
    request: Request[Any, Any, Any], staff_id: FromPath[int]
) -> Template | Redirect:
    return await _change_status(request, staff_id, "locked")


@post("/platform/staff/{staff_id:int}/unlock")
async def unlock_staff(
    request: Request[Any, Any, Any], staff_id: FromPath[int]
) -> Template | Redirect:
    return await _change_status(request, staff_id, "active")


async def _member_or_404(request: Request[Any, Any, Any], staff_id: int) -> StaffUser:
    async with request.app.state.portal.database.session() as session:
        member = await find_staff_member(session, staff_id)
    if member is None:
        raise NotFoundException()
    return member


@get("/platform/staff/{staff_id:int}/password")
async def password_form(request: Request[Any, Any, Any], staff_id: FromPath[int]) -> Template:
    require_operator(request)
    member = await _member_or_404(request, staff_id)
    return page(
        request,
        "admin/platform/password.html",
        member=member,
        back=_list_of(member),
        policy=STAFF_PASSWORD_POLICY,
        error="",
    )


@post("/platform/staff/{staff_id:int}/password")
async def reset_password(request: Request[Any, Any, Any], staff_id: FromPath[int]) -> Template:
    operator = require_operator(request)
    translate = i18n(request)
    member = await _member_or_404(request, staff_id)
    password, problem = _typed_password(translate, await posted(request))
    if problem:
        return page(
            request,
            "admin/platform/password.html",
            status_code=400,
            member=member,
            back=_list_of(member),
            policy=STAFF_PASSWORD_POLICY,
            error=problem,
        )
    generated = password is None
    chosen = password or generate_password()
    async with request.app.state.portal.database.session() as session:
        fresh = await find_staff_member(session, staff_id)
        if fresh is None:
            raise NotFoundException()
        await reset_staff_password(
            session,
            fresh,
            chosen,
            password_origin="generated" if generated else "typed",
            actor=operator,
            address=client_address(request),
        )
    # Whoever knew the old password is signed out; the operator resetting their own keeps
    # this session.
    portal = request.app.state.portal
    current = visitor(request)
    await end_staff_sessions(
        portal.sessions,
        member,
        portal.tenant_ids.values(),
        keep_token=current.token if current and member.id == operator.id else None,
    )
    return _shown_page(
        request,
        staff=member,
        outcome="reset",
        password=chosen if generated else None,
        back=_list_of(member),
        sign_in_url=await _sign_in_url(request, member.tenant_id),
    )


handlers: list[Any] = [
    platform_index,
    new_tenant_form,
    create_from_preset,
    create_from_scratch,
    tenant_detail,
    save_domains,
    add_tenant_admin,
    operators,
    add_operator,
    lock_staff,
    unlock_staff,
    password_form,
    reset_password,
]
