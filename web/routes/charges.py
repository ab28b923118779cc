"""The charges breakdown of one month (seed 004 "Расшифровка начислений"), offered by every
tenant, and the routes of the documents: breakdown, statement and reconciliation as PDF
or by email (web/routes/documents.py, web/routes/reconciliation.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any
from urllib.parse import urlencode

from babel.dates import get_month_names
from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from domain.charges import (
    EARLIEST_MONTH,
    BreakdownPeriodProblem,
    account_breakdown,
    breakdown_month,
    default_breakdown_month,
    month_from_parts,
)
from web.auth import require_customer, tenant_id_of, tenant_of
from web.i18n import N_, Translator, babel_locale
from web.rendering import page
from web.routes import documents, reconciliation
from web.routes.account_statement import month_name
from web.routes.accounts import own_account
from web.routes.common import i18n, tenant_today
from web.routes.documents import download, send
from web.services import service_name

MESSAGES = {
    "bad_month": N_("Please choose a month and a year from the lists."),
    "future": N_("That month has not started yet. The latest month you can choose is %(month)s."),
    "too_early": N_("Charges are shown from %(month)s onwards. Please choose a later month."),
}


def _period_message(translate: Translator, reason: str, today: date) -> str:
    text = translate.pick(MESSAGES, reason)
    if reason == "future":
        return text % {"month": month_name(translate, today.replace(day=1))}
    if reason == "too_early":
        return text % {"month": month_name(translate, EARLIEST_MONTH)}
    return text


def _exact(translate: Translator, value: Decimal) -> str:
    """A number with every decimal it has (a tariff of 187.0455 is not 187.046)."""
    exponent = value.normalize().as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return translate.number(value, places)


@cache
def _month_options(locale: str) -> tuple[tuple[str, str], ...]:
    """January to December as the reader's language names a month on its own."""
    names = get_month_names("wide", context="stand-alone", locale=babel_locale(locale))
    return tuple(
        (f"{number:02d}", names[number][:1].upper() + names[number][1:]) for number in names
    )


def _raw_period(request: Request[Any, Any, Any]) -> str:
    """The month asked for: `period=YYYY-MM` (links, documents) or the picker's two lists."""
    query = request.query_params
    if "period" in query:
        return query.get("period", "")[:20]
    if "month" in query or "year" in query:
        return month_from_parts(query.get("month", "")[:4], query.get("year", "")[:6])
    return ""


async def breakdown_page(request: Request[Any, Any, Any], account_id: int) -> Template:
    """The breakdown page for `?period=` (or the picker's month and year); 400 for a bad one."""
    customer = require_customer(request)
    config = tenant_of(request)
    translate = i18n(request)
    today = tenant_today(request, config)
    context: dict[str, Any] = {
        "months": _month_options(translate.locale),
        "years": [str(year) for year in range(today.year, EARLIEST_MONTH.year - 1, -1)],
        "month_name": lambda month: month_name(translate, month),
        "service_name": lambda code: service_name(translate, code),
        "exact": lambda value: _exact(translate, value),
    }
    try:
        month = breakdown_month(_raw_period(request), today)
    except BreakdownPeriodProblem as problem:
        account, link = await own_account(request, customer, account_id)
        shown = default_breakdown_month(today)
        return page(
            request,
            "charges/breakdown.html",
            status_code=400,
            account=account,
            link=link,
            breakdown=None,
            period_error=_period_message(translate, problem.reason, today),
            selected=(f"{shown:%m}", f"{shown:%Y}"),
            **context,
        )
    async with request.app.state.portal.database.reads() as session:
        found = await account_breakdown(
            session,
            tenant_id=tenant_id_of(request),
            customer_id=customer.id or 0,
            account_id=account_id,
            month=month,
        )
    if found is None:
        raise NotFoundException()
    return page(
        request,
        "charges/breakdown.html",
        account=found.account,
        link=found.link,
        breakdown=found.breakdown,
        period_error="",
        selected=(f"{month:%m}", f"{month:%Y}"),
        period=f"{month:%Y-%m}",
        document_first=month,
        document_last=month,
        **context,
    )


@get("/accounts/{account_id:int}/charges")
async def breakdown(request: Request[Any, Any, Any], account_id: FromPath[int]) -> Template:
    return await breakdown_page(request, account_id)


@get("/accounts/{account_id:int}/charges.pdf")
async def breakdown_pdf(
    request: Request[Any, Any, Any], account_id: FromPath[int]
) -> Template | Response[bytes]:
    return await download(request, await breakdown_page(request, account_id), "charges")


@post("/accounts/{account_id:int}/charges/email")
async def breakdown_email(
    request: Request[Any, Any, Any], account_id: FromPath[int]
) -> Template | Redirect:
    shown = await breakdown_page(request, account_id)
    if shown.status_code != 200:
        return shown
    back = f"/accounts/{account_id}/charges?{urlencode({'period': shown.context['period']})}"
    return await send(request, shown, "charges", back)


routes: list[Any] = [
    breakdown,
    breakdown_pdf,
    breakdown_email,
    *documents.routes,
    *reconciliation.routes,
]
