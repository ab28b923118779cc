"""The reconciliation statement of a legal entity's account (seed 004 "Сверка взаиморасчетов"):
opening balance, charges, payments and closing balance for each month of a range."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from domain.account_statement import PeriodProblem, statement_period
from domain.charges import last_day, reconciliation_offered, reconciliation_statement
from web.auth import require_customer, tenant_id_of, tenant_of
from web.rendering import page
from web.routes.account_statement import month_name, period_errors
from web.routes.accounts import own_account
from web.routes.common import i18n, require_module, tenant_today
from web.routes.documents import download, send


async def reconciliation_page(request: Request[Any, Any, Any], account_id: int) -> Template:
    """The statement for `?from=&to=` (the statement's rules); 400 with messages for a bad one.

    Only where the tenant offers it, and only for a legal entity's account: 404 otherwise.
    """
    customer = require_customer(request)
    config = tenant_of(request)
    require_module(config, "reconciliation")
    account, link = await own_account(request, customer, account_id)
    if not reconciliation_offered(config, account):
        raise NotFoundException()
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
    }
    try:
        first, last = statement_period(raw_from, raw_to, today)
    except PeriodProblem as problem:
        errors, period_error = period_errors(translate, problem, today)
        return page(
            request,
            "charges/reconciliation.html",
            status_code=400,
            errors=errors,
            period_error=period_error,
            result=None,
            **context,
        )
    async with request.app.state.portal.database.session() as session:
        result = await reconciliation_statement(
            session,
            tenant_id=tenant_id_of(request),
            account_id=account_id,
            first=first,
            last=last,
            timezone=config.timezone,
        )
    context.update(raw_from=f"{first:%Y-%m}", raw_to=f"{last:%Y-%m}")
    closing_day: date = last_day(last)
    return page(
        request,
        "charges/reconciliation.html",
        errors={},
        period_error="",
        result=result,
        closing_day=closing_day,
        document_first=first,
        document_last=last,
        **context,
    )


@get("/accounts/{account_id:int}/reconciliation")
async def reconciliation(request: Request[Any, Any, Any], account_id: FromPath[int]) -> Template:
    return await reconciliation_page(request, account_id)


@get("/accounts/{account_id:int}/reconciliation.pdf")
async def reconciliation_pdf(
    request: Request[Any, Any, Any], account_id: FromPath[int]
) -> Template | Response[bytes]:
    return await download(request, await reconciliation_page(request, account_id), "reconciliation")


@post("/accounts/{account_id:int}/reconciliation/email")
async def reconciliation_email(
    request: Request[Any, Any, Any], account_id: FromPath[int]
) -> Template | Redirect:
    shown = await reconciliation_page(request, account_id)
    if shown.status_code != 200:
        return shown
    query = urlencode({"from": shown.context["raw_from"], "to": shown.context["raw_to"]})
    back = f"/accounts/{account_id}/reconciliation?{query}"
    return await send(request, shown, "reconciliation", back)


routes: list[Any] = [reconciliation, reconciliation_pdf, reconciliation_email]
