"""Broadband self-service (seed 002): the line's plan, status and bills, usage by billing
period, and requests (plan change, suspension, resume, closure) previewed with their
effective dates before the customer confirms them.

Every account id goes through `domain.ownership` (via `own_account`): another customer's
account is a 404. A preview is a GET and records nothing; only the confirming POST writes.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from domain.account_statement import parse_month
from domain.broadband import (
    REQUEST_KINDS,
    RequestPreview,
    RequestProblem,
    add_periods,
    offered_requests,
    period_of,
    period_usage,
    plan_named,
)
from domain.broadband_store import (
    Line,
    check_request,
    load_line,
    sessions_in_period,
    submit_request,
)
from domain.models import Account, AccountLink, Customer
from tenants.schema import Broadband, TenantConfig
from web.auth import require_customer, tenant_id_of, tenant_of
from web.rendering import page
from web.routes.account_statement import MESSAGES as PERIOD_MESSAGES
from web.routes.account_statement import month_name
from web.routes.accounts import own_account
from web.routes.broadband_views import (
    ACTIONS,
    MODE_NOTES,
    MODES,
    PLAN_FIELD_PROBLEMS,
    PROBLEM_STATUS,
    RECORDED,
    bill_view,
    duration_text,
    group_label,
    hours_text,
    period_range,
    plan_fee,
    plan_label,
    preview_lines,
    problem_text,
    request_view,
    status_lines,
)
from web.routes.common import i18n, now, posted, require_module, tenant_today

MAX_BILLS = 24


def _enabled(request: Request[Any, Any, Any]) -> tuple[TenantConfig, Broadband, Customer]:
    config = tenant_of(request)
    require_module(config, "broadband")
    if config.broadband is None:
        raise NotFoundException()
    return config, config.broadband, require_customer(request)


async def _line(
    request: Request[Any, Any, Any], customer: Customer, account_id: int
) -> tuple[Account, AccountLink, Line | None]:
    """The customer's own account (404 otherwise) and its line, if it has one."""
    config, settings, _ = _enabled(request)
    account, link = await own_account(request, customer, account_id)
    async with request.app.state.portal.database.session() as session:
        line = await load_line(
            session,
            tenant_id=tenant_id_of(request),
            account_id=account_id,
            settings=settings,
            timezone=config.timezone,
            today=tenant_today(request, config),
        )
    return account, link, line


# --- the line ------------------------------------------------------------------------------


@get("/accounts/{account_id:int}/broadband")
async def line_page(request: Request[Any, Any, Any], account_id: FromPath[int]) -> Template:
    config, settings, customer = _enabled(request)
    account, link, line = await _line(request, customer, account_id)
    translate = i18n(request)
    today = tenant_today(request, config)
    context: dict[str, Any] = {"account": account, "link": link, "line": line}
    if line is not None:
        recorded = next(
            (r for r in line.requests if str(r.id) == request.query_params.get("requested")), None
        )
        context.update(
            plan=plan_label(config, line.plan, translate),
            fee=plan_fee(line.plan, translate) if line.plan else "",
            mode=translate.pick(MODES, line.service.payment_mode)
            if line.service.payment_mode in MODES
            else line.service.payment_mode,
            mode_note=translate.pick(MODE_NOTES, line.service.payment_mode)
            if line.service.payment_mode in MODE_NOTES
            else "",
            status=status_lines(line, settings, today, translate),
            bills=[bill_view(b, config, settings, translate) for b in line.bills[:MAX_BILLS]],
            requests=[request_view(r, config, settings, translate) for r in line.requests],
            actions=[
                (kind, translate.pick(ACTIONS, kind))
                for kind in REQUEST_KINDS
                if kind in offered_requests(line.status) and kind not in line.pending
            ],
            recorded=translate.gettext(RECORDED)
            % {"date": translate.date(recorded.effective_on, "long")}
            if recorded
            else "",
        )
    return page(request, "broadband/line.html", **context)


# --- usage -------------------------------------------------------------------------------


@get("/accounts/{account_id:int}/broadband/usage")
async def usage_page(request: Request[Any, Any, Any], account_id: FromPath[int]) -> Template:
    config, settings, customer = _enabled(request)
    account, link, line = await _line(request, customer, account_id)
    if line is None:
        raise NotFoundException()
    translate = i18n(request)
    today = tenant_today(request, config)
    current = period_of(today)
    raw = request.query_params.get("period", "")[:20]
    period = parse_month(raw) if raw.strip() else current
    error = ""
    if period is None:
        error = translate.pick(PERIOD_MESSAGES, "bad_month") % {"sample": today.strftime("%Y-%m")}
    elif period > current:
        error = translate.pick(PERIOD_MESSAGES, "future") % {
            "month": month_name(translate, current)
        }
    htmx = request.headers.get("hx-request") == "true"
    context: dict[str, Any] = {
        "account": account,
        "link": link,
        "raw_period": raw if error else (period or current).strftime("%Y-%m"),
        "latest": current.strftime("%Y-%m"),
        "error": error,
        "usage": None,
    }
    if not error and period is not None:
        async with request.app.state.portal.database.session() as session:
            sessions = await sessions_in_period(
                session,
                tenant_id=tenant_id_of(request),
                account_id=account_id,
                period=period,
                timezone=config.timezone,
            )
        # The plan the period was billed at (the suspension fee has none), else today's.
        group = line.group_of(period)
        plan = plan_named(settings, group)
        included = plan.included_hours if plan and plan.kind == "limited_monthly" else None
        usage = period_usage(period, sessions, config.timezone, included)
        context.update(
            usage=usage,
            month=month_name(translate, period),
            range=period_range(period, translate),
            plan=group_label(config, settings, group, translate),
            included=hours_text(included, translate) if included is not None else "",
            duration_text=duration_text,
            earlier=_month_link(period, -1),
            later=_month_link(period, 1) if period < current else "",
            started_before=lambda s: usage.started_before(s, config.timezone),
        )
    status = 200 if htmx or not error else 400
    response = page(
        request,
        "broadband/_usage.html" if htmx else "broadband/usage.html",
        status_code=status,
        **context,
    )
    response.headers["Vary"] = "HX-Request"
    return response


def _month_link(period: date, step: int) -> str:
    return add_periods(period, step).strftime("%Y-%m")


# --- requests ----------------------------------------------------------------------------


def _request_page(
    request: Request[Any, Any, Any],
    *,
    account: Account,
    line: Line,
    kind: str,
    raw_plan: str,
    preview: RequestPreview | None,
    problem: RequestProblem | None = None,
    confirming: bool = False,
) -> Template:
    """The preview of a request with Confirm and Cancel; the plan list for a plan change;
    or why the request cannot be made."""
    config, settings, _ = _enabled(request)
    translate = i18n(request)
    message = plan_error = ""
    status_code = 200
    if problem is not None:
        date_text = translate.date(preview.effective_on, "long") if preview else ""
        text = problem_text(problem.reason, line.status, translate, date_text)
        if problem.reason not in PLAN_FIELD_PROBLEMS:
            message, status_code = text, PROBLEM_STATUS[problem.reason]
        elif problem.reason != "no_plan" or confirming:
            plan_error, status_code = text, PROBLEM_STATUS[problem.reason]
    lines = (
        preview_lines(preview, line, config, settings, tenant_today(request, config), translate)
        if preview
        else []
    )
    return page(
        request,
        "broadband/request.html",
        status_code=status_code,
        account=account,
        kind=kind,
        title=translate.pick(ACTIONS, kind) if kind in ACTIONS else "",
        message=message,
        plan_error=plan_error,
        choosing=kind == "plan_change" and preview is None and not message,
        plans=[
            (p.key, plan_label(config, p, translate), plan_fee(p, translate))
            for p in settings.plans
            if p.key != line.service.plan_key
        ],
        current_plan=plan_label(config, line.plan, translate),
        raw_plan=raw_plan,
        preview=preview,
        lines=lines,
    )


@get("/accounts/{account_id:int}/broadband/request")
async def request_preview(request: Request[Any, Any, Any], account_id: FromPath[int]) -> Template:
    config, settings, customer = _enabled(request)
    account, _, line = await _line(request, customer, account_id)
    if line is None:
        raise NotFoundException()
    kind = request.query_params.get("kind", "")[:40]
    raw_plan = request.query_params.get("plan", "")[:60]
    try:
        preview = check_request(
            line, kind, raw_plan, settings=settings, today=tenant_today(request, config)
        )
    except RequestProblem as problem:
        return _request_page(
            request,
            account=account,
            line=line,
            kind=kind,
            raw_plan=raw_plan,
            preview=None,
            problem=problem,
        )
    return _request_page(
        request, account=account, line=line, kind=kind, raw_plan=raw_plan, preview=preview
    )


@post("/accounts/{account_id:int}/broadband/request")
async def request_confirm(
    request: Request[Any, Any, Any], account_id: FromPath[int]
) -> Template | Redirect:
    config, settings, customer = _enabled(request)
    account, _, line = await _line(request, customer, account_id)
    if line is None:
        raise NotFoundException()
    form = await posted(request)
    kind, raw_plan = form.get("kind", "")[:40], form.get("plan", "")[:60]
    try:
        async with request.app.state.portal.database.session() as session:
            recorded = await submit_request(
                session,
                tenant_id=tenant_id_of(request),
                account_id=account_id,
                customer_id=customer.id or 0,
                settings=settings,
                timezone=config.timezone,
                now=now(request),
                raw_kind=kind,
                raw_plan=raw_plan,
                raw_effective=form.get("effective_on", "")[:20],
            )
    except RequestProblem as problem:
        # Show the page again as it is now: a fresh look at the line, nothing recorded.
        _, _, fresh = await _line(request, customer, account_id)
        return _request_page(
            request,
            account=account,
            line=fresh or line,
            kind=kind,
            raw_plan=raw_plan,
            preview=problem.preview,
            problem=problem,
            confirming=True,
        )
    if recorded is None:
        raise NotFoundException()
    return Redirect(
        f"/accounts/{account_id}/broadband?requested={recorded.id}#requests", status_code=303
    )


routes: list[Any] = [line_page, usage_page, request_preview, request_confirm]
