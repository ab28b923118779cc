"""Visit requests in the cabinet (meter acceptance, meter check): the list and the request form.

Without JavaScript the meter list holds every meter of the customer's accounts, grouped
by account; with htmx, choosing an account narrows it to that account's meters.
"""

from __future__ import annotations

from typing import Any

from babel.lists import format_list
from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Redirect, Template

from domain.limits import VISIT_REQUESTS_PER_CUSTOMER
from domain.models import Customer, Meter
from domain.visits import (
    NOTES_MAX,
    AccountMeters,
    DateRange,
    VisitCheck,
    bookable_range,
    check_visit_request,
    create_visit_request,
    customer_meters,
    customer_visits,
    visit_settings,
)
from tenants.schema import TenantConfig
from web.auth import require_customer, tenant_id_of, tenant_of
from web.forms import PROBLEM_MESSAGES, FieldView
from web.i18n import N_, Translator
from web.rendering import page
from web.routes.common import i18n, posted, require_module, tenant_today
from web.services import service_name

KIND_TITLES = {
    "meter_acceptance": N_("Meter acceptance"),
    "meter_check": N_("Meter check"),
}
KIND_ACTIONS = {
    "meter_acceptance": N_("Request a meter acceptance visit"),
    "meter_check": N_("Request a meter check visit"),
}
KIND_INTROS = {
    "meter_acceptance": N_(
        "A specialist comes to accept a newly installed or replaced meter and puts it on record."
    ),
    "meter_check": N_(
        "A specialist comes to check a meter and its reading, for example when its "
        "verification date has passed."
    ),
}
STATUS_WORDS = {
    "submitted": N_("Submitted"),
    "scheduled": N_("Scheduled"),
    "done": N_("Done"),
    "cancelled": N_("Cancelled"),
}
FIELD_LABELS = {
    "account": N_("Account"),
    "meter": N_("Meter"),
    "phone": N_("Phone number"),
    "visit_date": N_("Date of the visit"),
    "slot": N_("Time of the visit"),
    "notes": N_("Notes"),
}
_PROBLEMS = {
    "account:empty": N_("Please choose the account the visit is for."),
    "account:not_yours": N_("This account is not among your accounts. Choose one from the list."),
    "meter:not_yours": N_(
        "This meter is not among your meters. Choose one from the list, or none."
    ),
    "meter:meter_of_other_account": N_(
        "This meter belongs to your account %(number)s, not to the account you chose. Choose a "
        "meter of the chosen account, or choose account %(number)s."
    ),
    "meter:meter_removed": N_("This meter has been removed. Choose another meter, or none."),
    "phone:empty": N_("Please enter the phone number we can call you on."),
    "visit_date:empty": N_("Please choose the date of the visit."),
    "visit_date:not_a_date": N_(
        "This is not a date. Choose a date from %(first)s to %(last)s, for example %(sample)s."
    ),
    "visit_date:past": N_("This date has passed. Choose a date from %(first)s to %(last)s."),
    "visit_date:today": N_(
        "A visit cannot be booked for today. Choose a date from %(first)s to %(last)s."
    ),
    "visit_date:too_far": N_(
        "This date is too far ahead. Choose a date from %(first)s to %(last)s."
    ),
    "visit_date:not_working_day": N_(
        "%(date)s is not a working day. Visits are made on these days: %(days)s."
    ),
    "slot:empty": N_("Please choose the time of the visit."),
    "slot:bad_slot": N_("Choose one of the offered times: %(slots)s."),
    "notes:too_long": N_("The notes are too long: write at most %(limit)d characters."),
}
_TOO_MANY = N_(
    "You have sent many visit requests today. Please call the contact centre, or try again "
    "tomorrow."
)


def meter_label(meter: Meter, translate: Translator) -> str:
    service = service_name(translate, meter.service, unknown=N_("Meter"))
    if meter.factory_number:
        return translate.gettext("%(service)s, meter no. %(number)s") % {
            "service": service,
            "number": meter.factory_number,
        }
    return translate.gettext("%(service)s, meter without a factory number") % {"service": service}


def account_label(number: str, nickname: str | None, translate: Translator) -> str:
    if nickname:
        return translate.gettext("Account %(number)s (%(nickname)s)") % {
            "number": number,
            "nickname": nickname,
        }
    return translate.gettext("Account %(number)s") % {"number": number}


def weekday_names(working_days: tuple[int, ...], translate: Translator) -> str:
    names = translate.babel_locale.days["format"]["wide"]
    return format_list([names[day - 1] for day in working_days], locale=translate.babel_locale)


def phone_sample(config: TenantConfig) -> str:
    return next((i.sample for i in config.identifiers if i.spec.kind == "phone"), "")


def _kind_of(config: TenantConfig, kind: str) -> str:
    if kind not in visit_settings(config).kinds:
        raise NotFoundException()
    return kind


def _enabled(request: Request[Any, Any, Any]) -> tuple[TenantConfig, Customer]:
    config = tenant_of(request)
    require_module(config, "visit_requests")
    return config, require_customer(request)


# --- the list --------------------------------------------------------------------------


@get("/visits")
async def visit_list(request: Request[Any, Any, Any]) -> Template:
    config, customer = _enabled(request)
    translate = i18n(request)
    async with request.app.state.portal.database.session() as session:
        rows = await customer_visits(
            session, tenant_id=tenant_id_of(request), customer_id=customer.id or 0
        )
    return page(
        request,
        "visits/list.html",
        rows=[
            {
                "id": row.request.id,
                "kind": translate.gettext(KIND_TITLES.get(row.request.kind, N_("Visit"))),
                "account": row.account.number,
                "meter": meter_label(row.meter, translate) if row.meter else "",
                "date": row.request.visit_date,
                "slot": row.request.slot,
                "status": row.request.status,
                "status_text": translate.gettext(STATUS_WORDS[row.request.status]),
                "note": row.request.status_note or "",
            }
            for row in rows
        ],
        kinds=[
            (kind, translate.gettext(KIND_ACTIONS[kind])) for kind in visit_settings(config).kinds
        ],
        created=request.query_params.get("created", "").isdigit(),
    )


# --- the form --------------------------------------------------------------------------


def _problem_text(
    config: TenantConfig,
    name: str,
    reason: str,
    translate: Translator,
    dates: DateRange,
    check: VisitCheck | None,
) -> str:
    label = translate.gettext(FIELD_LABELS[name])
    if name == "phone" and reason == "bad_phone":
        return translate.pick(PROBLEM_MESSAGES, "bad_phone") % {
            "label": label,
            "sample": phone_sample(config) or "—",
        }
    values: dict[str, Any] = {
        "first": translate.date(dates.first),
        "last": translate.date(dates.last),
        "sample": translate.date(dates.first, "short"),
        "days": weekday_names(dates.working_days, translate),
        "slots": ", ".join(visit_settings(config).slots),
        "limit": NOTES_MAX,
        "number": check.meter_account.number if check and check.meter_account else "",
        "date": translate.date(check.visit_date) if check and check.visit_date else "",
    }
    return translate.gettext(_PROBLEMS[f"{name}:{reason}"]) % values


def _meter_groups(
    owned: list[AccountMeters], account_id: str, translate: Translator
) -> list[tuple[str, list[tuple[str, str]]]]:
    """One chosen account's meters; with no (valid) choice, every account's, grouped."""
    chosen = [a for a in owned if str(a.account.id) == account_id]
    if chosen:
        return [("", [(str(m.id), meter_label(m, translate)) for m in chosen[0].meters])]
    return [
        (
            account_label(a.account.number, a.link.nickname, translate),
            [(str(m.id), meter_label(m, translate)) for m in a.meters],
        )
        for a in owned
        if a.meters
    ]


def _form_page(
    request: Request[Any, Any, Any],
    *,
    kind: str,
    owned: list[AccountMeters],
    values: dict[str, str],
    problems: dict[str, str] | None = None,
    check: VisitCheck | None = None,
    message: str = "",
    status: int = 200,
    narrow_meters: bool = False,
) -> Template:
    config = tenant_of(request)
    translate = i18n(request)
    dates = bookable_range(config, tenant_today(request, config))
    problems = problems or {}
    fields: dict[str, FieldView] = {}
    for name in FIELD_LABELS:
        error = problems.get(name, "")
        fields[name] = FieldView(
            name=name,
            label=translate.gettext(FIELD_LABELS[name]),
            input_type="text",
            value=values.get(name, ""),
            required=name not in ("meter", "notes"),
            error=_problem_text(config, name, error, translate, dates, check) if error else "",
        )
    fields["phone"].input_type = "tel"
    fields["phone"].autocomplete = "tel"
    fields["phone"].inputmode = "tel"
    fields["phone"].hint = translate.gettext(
        "We call this number to agree the visit and text you when its status changes."
    )
    fields["visit_date"].input_type = "date"
    fields["visit_date"].extra = {"min": dates.first.isoformat(), "max": dates.last.isoformat()}
    fields["visit_date"].hint = translate.gettext(
        "From %(first)s to %(last)s, on these days: %(days)s."
    ) % {
        "first": translate.date(dates.first),
        "last": translate.date(dates.last),
        "days": weekday_names(dates.working_days, translate),
    }
    fields["notes"].extra = {"maxlength": str(NOTES_MAX)}
    # The full page lists every account's meters, so a choice made without JavaScript fits.
    chosen_account = values.get("account", "") if narrow_meters else ""
    fields["notes"].hint = translate.gettext(
        "For example, how to get to the meter. At most %(limit)d characters."
    ) % {"limit": NOTES_MAX}
    response = page(
        request,
        "visits/_meter_field.html" if narrow_meters else "visits/new.html",
        status_code=status,
        kind=kind,
        title=translate.gettext(KIND_TITLES[kind]),
        intro=translate.gettext(KIND_INTROS[kind]),
        fields=fields,
        accounts=[
            (str(a.account.id), account_label(a.account.number, a.link.nickname, translate))
            for a in owned
        ],
        meter_groups=_meter_groups(owned, chosen_account, translate),
        slots=[(slot, slot) for slot in visit_settings(config).slots],
        message=message,
    )
    response.headers["Vary"] = "HX-Request"
    return response


async def _owned(request: Request[Any, Any, Any], customer: Customer) -> list[AccountMeters]:
    async with request.app.state.portal.database.session() as session:
        return await customer_meters(
            session, tenant_id=tenant_id_of(request), customer_id=customer.id or 0
        )


@get("/visits/new")
async def visit_form(request: Request[Any, Any, Any]) -> Template:
    config, customer = _enabled(request)
    kind = _kind_of(config, request.query_params.get("kind", ""))
    owned = await _owned(request, customer)
    account = request.query_params.get("account", "")
    meter = request.query_params.get("meter", "")
    # Only the customer's own account and meter are preselected; anything else is ignored.
    mine = next((a for a in owned if str(a.account.id) == account), None)
    if mine is None and meter:
        mine = next((a for a in owned if any(str(m.id) == meter for m in a.meters)), None)
    values = {
        "account": str(mine.account.id) if mine else "",
        "meter": meter if mine and any(str(m.id) == meter for m in mine.meters) else "",
        "phone": customer.phone or "",
    }
    narrow = (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-Target") == "field-meter"
    )
    return _form_page(request, kind=kind, owned=owned, values=values, narrow_meters=narrow)


@post("/visits/new")
async def visit_submit(request: Request[Any, Any, Any]) -> Template | Redirect:
    config, customer = _enabled(request)
    form = await posted(request)
    kind = _kind_of(config, form.get("kind", ""))
    tenant_id = tenant_id_of(request)
    owned = await _owned(request, customer)
    values = {name: form.get(name, "")[: NOTES_MAX + 200] for name in FIELD_LABELS}
    limiter = request.app.state.portal.limiter
    subject = f"{tenant_id}:{customer.id}"
    if await limiter.exceeded(VISIT_REQUESTS_PER_CUSTOMER, subject):
        message = i18n(request).gettext(_TOO_MANY)
        return _form_page(
            request, kind=kind, owned=owned, values=values, message=message, status=429
        )
    async with request.app.state.portal.database.session() as session:
        check = await check_visit_request(
            session,
            config=config,
            tenant_id=tenant_id,
            customer_id=customer.id or 0,
            typed=form,
            today=tenant_today(request, config),
        )
        if not check.ok:
            return _form_page(
                request,
                kind=kind,
                owned=owned,
                values=values,
                problems=dict(check.problems),
                check=check,
                status=400,
            )
        created = await create_visit_request(
            session, tenant_id=tenant_id, customer_id=customer.id or 0, kind=kind, check=check
        )
    await limiter.hit(VISIT_REQUESTS_PER_CUSTOMER, subject)
    return Redirect(f"/visits?created={created.id}", status_code=303)


routes: list[Any] = [visit_list, visit_form, visit_submit]
