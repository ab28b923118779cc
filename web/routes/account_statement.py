"""The period statement of one of the customer's accounts, for months chosen in a form."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Any

from babel.dates import format_skeleton
from litestar import Request, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Template

from domain.account_statement import (
    MAX_STATEMENT_MONTHS,
    PeriodProblem,
    account_statement,
    add_months,
    default_statement_period,
    months_between,
    statement_period,
)
from tenants.schema import TenantConfig
from web.auth import require_customer, tenant_id_of, tenant_of
from web.i18n import N_, Translator, babel_locale
from web.rendering import page
from web.routes.accounts import own_account
from web.routes.common import i18n, tenant_today
from web.services import service_name

# Billing services and allowances as a statement names them.
PROVIDER_NAMES = {
    "billing": N_("Recorded by the utility"),
    "sandbox": N_("Online payment"),
}
MESSAGES = {
    "bad_month": N_("Please give a month as year and month, for example %(sample)s."),
    "future": N_("That month has not started yet. The latest month you can choose is %(month)s."),
    "reversed": N_("The first month is after the last one. Please choose the months again."),
}


def _say(translate: Translator, key: str, **values: Any) -> str:
    text = translate.gettext(MESSAGES[key])
    return text % values if values else text


def month_name(translate: Translator, month: date) -> str:
    """A month and year as the reader's language writes it ("May 2026", "2026年5月"),
    capitalised for a heading."""
    return _month_title(month, translate.locale)


# Babel matches the skeleton to the locale's patterns on every call (a twentieth of a
# millisecond), for the few months a site ever shows.
@lru_cache(maxsize=1024)
def _month_title(month: date, locale: str) -> str:
    text = format_skeleton("yMMMM", month, locale=babel_locale(locale))
    return text[:1].upper() + text[1:]


def statements_on(config: TenantConfig) -> bool:
    """Statements come with the accounts module (and with the statements module itself)."""
    return config.has("accounts") or config.has("statements")


def period_errors(
    translate: Translator, problem: PeriodProblem, today: date
) -> tuple[dict[str, str], str]:
    """Messages for the period form: by field, and one for the period as a whole."""
    sample = default_statement_period(today)[1].strftime("%Y-%m")
    latest = month_name(translate, today.replace(day=1))
    errors: dict[str, str] = {}
    for name, reason in problem.problems.items():
        if reason == "bad_month":
            errors[name] = _say(translate, reason, sample=sample)
        elif reason == "future":
            errors[name] = _say(translate, reason, month=latest)
        elif reason == "too_long":
            text = translate.ngettext(
                "A statement can cover at most %(count)s month. Please choose a shorter period.",
                "A statement can cover at most %(count)s months. Please choose a shorter period.",
                MAX_STATEMENT_MONTHS,
            )
            errors[name] = text % {"count": MAX_STATEMENT_MONTHS}
        else:
            errors[name] = _say(translate, reason)
    return errors, errors.pop("", "")


@get("/accounts/{account_id:int}/statement")
async def statement(request: Request[Any, Any, Any], account_id: FromPath[int]) -> Template:
    customer = require_customer(request)
    config = tenant_of(request)
    if not statements_on(config):
        raise NotFoundException()
    account, link = await own_account(request, customer, account_id)
    translate = i18n(request)
    today = tenant_today(request, config)
    raw_from = request.query_params.get("from", "")[:20]
    raw_to = request.query_params.get("to", "")[:20]
    context: dict[str, Any] = {
        "account": account,
        "link": link,
        "raw_from": raw_from,
        "raw_to": raw_to,
        "latest": today.strftime("%Y-%m"),
        "month_name": lambda month: month_name(translate, month),
        "service_name": lambda code: service_name(translate, code),
        "provider_name": lambda code: (
            translate.gettext(PROVIDER_NAMES[code]) if code in PROVIDER_NAMES else code
        ),
        "purpose_label": lambda key: _purpose_label(config, key, translate.locale),
    }
    try:
        first, last = statement_period(raw_from, raw_to, today)
    except PeriodProblem as problem:
        errors, period_error = period_errors(translate, problem, today)
        return page(
            request,
            "accounts/statement.html",
            status_code=400,
            errors=errors,
            period_error=period_error,
            result=None,
            **context,
        )
    async with request.app.state.portal.database.session() as session:
        result = await account_statement(
            session,
            tenant_id=tenant_id_of(request),
            account_id=account_id,
            first=first,
            last=last,
            timezone=config.timezone,
        )
    context.update(raw_from=first.strftime("%Y-%m"), raw_to=last.strftime("%Y-%m"))
    earlier = add_months(first, -months_between(first, last))
    return page(
        request,
        "accounts/statement.html",
        errors={},
        period_error="",
        result=result,
        earlier=(earlier.strftime("%Y-%m"), add_months(first, -1).strftime("%Y-%m")),
        **context,
    )


def _purpose_label(config: TenantConfig, key: str, locale: str) -> str:
    purpose = next((p for p in config.payments.purposes if p.key == key), None)
    return config.text(purpose.label, locale) if purpose else ""


routes: list[Any] = [statement]
