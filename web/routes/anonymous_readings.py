"""Sending a meter reading without signing in (seed 003, «Без регистрации → Показания»).

The page never says whether the meter number exists: every well-formed reading gets the
same thank-you page, and staff match it to a meter in their queue.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from litestar import Request, get, post
from litestar.response import Redirect, Template

from domain.anonymous_readings import (
    METER_NUMBER_MAX,
    NAME_MAX,
    VALUE_DECIMALS,
    check_anonymous_reading,
    submit_anonymous_reading,
)
from domain.limits import ANONYMOUS_READINGS_PER_ADDRESS, ANONYMOUS_READINGS_PER_PHONE
from tenants.schema import TenantConfig
from web.auth import client_address, tenant_id_of, tenant_of
from web.forms import PROBLEM_MESSAGES, FieldView
from web.i18n import N_, Nn_, Translator
from web.rendering import page
from web.routes.common import i18n, now, posted, require_module
from web.routes.visits import phone_sample

FIELD_LABELS = {
    "full_name": N_("Full name"),
    "phone": N_("Phone number"),
    "meter_number": N_("Meter number"),
    "value": N_("Meter reading"),
}
_HINTS = {
    "full_name": N_("Your surname, first name and patronymic, as on the bill."),
    "phone": N_("We call this number if something about the reading is unclear."),
    "meter_number": N_("The factory number printed on the meter, letters and digits."),
    "value": N_("The figures on the meter's register, for example %(sample)s."),
}
# The value messages are the cabinet's own (the same text, so one translation serves both).
_PROBLEMS = {
    "full_name:too_long": N_("The full name is too long: write at most %(limit)d characters."),
    "full_name:bad_characters": N_(
        "Write the full name in letters; spaces, hyphens and dots are allowed."
    ),
    "meter_number:too_long": N_(
        "The meter number is too long: write at most %(limit)d characters."
    ),
    "meter_number:bad_characters": N_(
        "The meter number may contain letters and digits only, as printed on the meter."
    ),
    "value:not_a_number": N_("Enter the reading as a number, for example %(sample)s."),
    "value:negative": N_("A meter reading cannot be negative."),
    "value:too_large": N_("This number is too large for a meter reading."),
}
_TOO_MANY_DECIMALS = Nn_(
    "A meter reading has at most %(count)d decimal place.",
    "A meter reading has at most %(count)d decimal places.",
)
_TOO_MANY = N_(
    "Too many readings have been sent from here. Please try again later, or call the "
    "contact centre."
)


def _sample(translate: Translator) -> str:
    return translate.number(Decimal("145.554"), VALUE_DECIMALS)


def _problem_text(config: TenantConfig, name: str, reason: str, translate: Translator) -> str:
    label = translate.gettext(FIELD_LABELS[name])
    if reason in ("empty", "bad_phone"):
        return translate.gettext(PROBLEM_MESSAGES[reason]) % {
            "label": label,
            "sample": phone_sample(config) or "—",
        }
    if reason == "too_many_decimals":
        return translate.ngettext(*_TOO_MANY_DECIMALS, VALUE_DECIMALS) % {"count": VALUE_DECIMALS}
    limit = NAME_MAX if name == "full_name" else METER_NUMBER_MAX
    return translate.gettext(_PROBLEMS[f"{name}:{reason}"]) % {
        "limit": limit,
        "sample": _sample(translate),
    }


def _form_page(
    request: Request[Any, Any, Any],
    values: dict[str, str],
    problems: dict[str, str] | None = None,
    *,
    message: str = "",
    status: int = 200,
) -> Template:
    config = tenant_of(request)
    translate = i18n(request)
    problems = problems or {}
    fields = {
        name: FieldView(
            name=name,
            label=translate.gettext(label),
            input_type="text",
            value=values.get(name, ""),
            hint=translate.gettext(_HINTS[name]) % {"sample": _sample(translate)},
            error=_problem_text(config, name, problems[name], translate)
            if name in problems
            else "",
        )
        for name, label in FIELD_LABELS.items()
    }
    fields["full_name"].autocomplete = "name"
    fields["full_name"].extra = {"maxlength": str(NAME_MAX)}
    fields["phone"].input_type = "tel"
    fields["phone"].autocomplete = "tel"
    fields["phone"].inputmode = "tel"
    fields["meter_number"].extra = {"maxlength": str(METER_NUMBER_MAX + 20)}
    fields["value"].inputmode = "decimal"
    return page(request, "anonymous/form.html", status_code=status, fields=fields, message=message)


def _enabled(request: Request[Any, Any, Any]) -> TenantConfig:
    config = tenant_of(request)
    require_module(config, "anonymous_readings")
    return config


@get("/readings/anonymous")
async def anonymous_form(request: Request[Any, Any, Any]) -> Template:
    _enabled(request)
    return _form_page(request, {})


@post("/readings/anonymous")
async def anonymous_submit(request: Request[Any, Any, Any]) -> Template | Redirect:
    config = _enabled(request)
    tenant_id = tenant_id_of(request)
    form = await posted(request)
    values = {name: form.get(name, "")[:300] for name in FIELD_LABELS}
    limiter = request.app.state.portal.limiter
    too_many = i18n(request).gettext(_TOO_MANY)
    address = f"{tenant_id}:{client_address(request)}"
    if await limiter.exceeded(ANONYMOUS_READINGS_PER_ADDRESS, address):
        return _form_page(request, values, message=too_many, status=429)
    check = check_anonymous_reading(config, form)
    if not check.ok:
        return _form_page(request, values, dict(check.problems), status=400)
    phone = f"{tenant_id}:{check.values['phone']}"
    if await limiter.exceeded(ANONYMOUS_READINGS_PER_PHONE, phone):
        return _form_page(request, values, message=too_many, status=429)
    async with request.app.state.portal.database.session() as session:
        await submit_anonymous_reading(session, tenant_id=tenant_id, check=check, when=now(request))
    await limiter.hit(ANONYMOUS_READINGS_PER_ADDRESS, address)
    await limiter.hit(ANONYMOUS_READINGS_PER_PHONE, phone)
    return Redirect("/readings/anonymous/thanks", status_code=303)


@get("/readings/anonymous/thanks")
async def anonymous_thanks(request: Request[Any, Any, Any]) -> Template:
    _enabled(request)
    return page(request, "anonymous/thanks.html")


routes: list[Any] = [anonymous_form, anonymous_submit, anonymous_thanks]
