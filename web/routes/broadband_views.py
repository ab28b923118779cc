"""The words of the broadband pages: plans, payment modes, a line's status and its reason, what
each request would do, and why one cannot be made. Message tables are marked here and
translated when a page is shown.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from domain.broadband import (
    SUSPENSION_GROUP,
    Bill,
    LineStatus,
    RequestPreview,
    RequestReason,
    amount_to_resume,
    period_end,
    period_of,
    plan_named,
)
from domain.broadband_store import Line
from tenants.schema import Broadband, BroadbandPlan, TenantConfig
from web.i18n import N_, Nn_, Translator
from web.routes.account_statement import month_name

MODES = {
    "prepaid_cash": N_("Prepaid, in cash"),
    "postpaid_bank": N_("Postpaid, by bank transfer"),
}
MODE_NOTES = {
    "prepaid_cash": N_(
        "You pay first and use afterwards: the balance on the 1st of each month must cover "
        "the monthly fee."
    ),
    "postpaid_bank": N_(
        "You use the service first and pay afterwards: each month's bill is paid by bank "
        "transfer in the following month."
    ),
}
FEES = {
    "unlimited_monthly": N_("%(fee)s a month"),
    "limited_monthly": N_("%(fee)s a month"),
    "half_year": N_("%(fee)s for six months"),
    "year": N_("%(fee)s a year"),
}
STATES = {"active": N_("Active"), "suspended": N_("Suspended"), "closed": N_("Closed")}
REASONS = {
    "balance_short:prepaid_cash": N_(
        "On the 1st of the month the balance of the account did not cover the monthly fee "
        "of %(fee)s."
    ),
    "balance_short:postpaid_bank": N_(
        "On the 1st of the month an earlier bill was still unpaid, so the balance of the "
        "account did not cover the monthly fee of %(fee)s."
    ),
    "voluntary": N_(
        "You asked for the service to be suspended. While it is suspended you pay the "
        "suspension fee of %(suspension_fee)s a month."
    ),
    "requested": N_("The service was closed at the customer's request."),
}
CLOSED_UNPAID = Nn_(
    "The account was not paid up within %(count)s month after the service was suspended.",
    "The account was not paid up within %(count)s months after the service was suspended.",
)
BALANCE_SHORT_NOTE = Nn_(
    "The service is resumed as soon as the balance covers the fee, and that month is then "
    "charged in full. If the balance is not topped up within %(count)s month, the service "
    "is closed.",
    "The service is resumed as soon as the balance covers the fee, and that month is then "
    "charged in full. If the balance is not topped up within %(count)s months, the service "
    "is closed.",
)
SUSPENSION_NOTE = Nn_(
    "If the suspension fee is not paid for %(count)s month, the service is closed.",
    "If the suspension fee is not paid for %(count)s months in a row, the service is closed.",
)
TO_RESUME = N_("To resume the service, pay at least %(amount)s.")
KINDS = {
    "plan_change": N_("Change of plan"),
    "suspend": N_("Suspension"),
    "resume": N_("Resumption"),
    "close": N_("Closure"),
}
ACTIONS = {
    "plan_change": N_("Change the plan"),
    "suspend": N_("Suspend the service"),
    "resume": N_("Resume the service"),
    "close": N_("Close the service"),
}
REQUEST_STATES = {
    "submitted": N_("Submitted"),
    "done": N_("Done"),
    "cancelled": N_("Cancelled"),
}
BILL_STATES = {"paid": N_("Paid"), "unpaid": N_("Unpaid"), "partly_paid": N_("Partly paid")}
PREVIEWS = {
    "plan_change": N_(
        "From %(date)s, the first day of the next billing period, your plan will be %(plan)s "
        "at %(fee)s. Until then you keep your plan %(current)s."
    ),
    "suspend": N_(
        "From %(date)s, the first day of the next billing period, the service is suspended "
        "and you pay the suspension fee of %(suspension_fee)s a month instead of the monthly "
        "fee. Until then the service works as usual."
    ),
    "resume": N_(
        "The service is resumed from %(date)s, and the monthly fee of %(fee)s for %(month)s "
        "is charged in full, however few days of the month are left."
    ),
    "close": N_(
        "The service is closed on %(date)s, the last day of this month. A request to close "
        "the service must be made by the last day of the month."
    ),
}
TERM_PLAN_NOTE = N_(
    "A half-year or year plan is signed for at a business hall. Your request tells the "
    "staff which plan you chose; please bring your contract number."
)
REFUND_NOTE = N_(
    "If you want the balance left on the account paid back when the service closes, bring "
    "the original invoice of the monthly fee you paid in advance to a business hall: the "
    "balance cannot be withdrawn without it."
)
CREDIT_NOW = N_("The balance on the account now is %(amount)s in your favour.")
DEBT_NOW = N_("The account owes %(amount)s; this remains due after the closure.")
PROBLEMS: dict[str, str] = {
    "unknown_kind": N_(
        "This is not a request you can make here. Choose one of the requests offered for "
        "your service."
    ),
    "not_offered:closed": N_("The service is closed, so no more requests can be made for it."),
    "not_offered:active": N_("The service is active, so there is nothing to resume."),
    "not_offered:suspended": N_(
        "The service is suspended. Resume it first; then you can change the plan or suspend "
        "it again."
    ),
    "pending": N_(
        "You already have a request of this kind waiting to be handled. It is listed under "
        "“Your requests”."
    ),
    "no_plan": N_("Please choose the plan you want."),
    "unknown_plan": N_("This plan is not offered. Choose one of the plans in the list."),
    "same_plan": N_("This is already your plan. Choose a different one."),
    "moved": N_(
        "The date this request takes effect has changed since you saw it: it is now "
        "%(date)s. Please read it again and confirm."
    ),
}
PROBLEM_STATUS: dict[str, int] = {
    "unknown_kind": 400,
    "no_plan": 400,
    "unknown_plan": 400,
    "same_plan": 400,
    "not_offered": 409,
    "pending": 409,
    "moved": 409,
}
RECORDED = N_("Your request has been recorded. It takes effect on %(date)s.")
PLAN_FIELD_PROBLEMS = ("no_plan", "unknown_plan", "same_plan")


def plan_label(config: TenantConfig, plan: BroadbandPlan | None, translate: Translator) -> str:
    return config.text(plan.label, translate.locale) if plan else "—"


def plan_fee(plan: BroadbandPlan, translate: Translator) -> str:
    return translate.pick(FEES, plan.kind) % {"fee": translate.money(plan.fee)}


def group_label(
    config: TenantConfig, settings: Broadband, group: str, translate: Translator
) -> str:
    """What a bill was for: the plan it was charged at, or the suspension fee."""
    if group == SUSPENSION_GROUP:
        return translate.gettext("Suspension fee")
    plan = plan_named(settings, group)
    return plan_label(config, plan, translate) if plan else "—"


def period_range(period: date, translate: Translator) -> str:
    return translate.gettext("%(first)s to %(last)s") % {
        "first": translate.date(period_of(period)),
        "last": translate.date(period_end(period)),
    }


def duration_text(duration: timedelta) -> str:
    """A duration as hours:minutes:seconds ("61:05:09"), the same in every language."""
    seconds = int(duration.total_seconds())
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def hours_text(hours: int, translate: Translator) -> str:
    return translate.ngettext("%(count)s hour", "%(count)s hours", hours) % {"count": hours}


def status_lines(
    line: Line, settings: Broadband, today: date, translate: Translator
) -> dict[str, str]:
    """The status in a word, its reason, and what follows from it, as sentences."""
    status: LineStatus = line.status
    close_after = settings.close_after_unpaid_months
    values = {
        "fee": translate.money(line.fee),
        "suspension_fee": translate.money(settings.suspension_fee),
        "count": close_after,
    }
    reason = note = resume = ""
    if status.reason == "balance_short":
        reason = translate.pick(REASONS, f"balance_short:{line.service.payment_mode}") % values
        note = translate.ngettext(*BALANCE_SHORT_NOTE, close_after) % values
        owed = amount_to_resume(line.ledger, today, line.service.payment_mode, line.fee)
        if owed > 0:
            resume = translate.gettext(TO_RESUME) % {"amount": translate.money(owed)}
    elif status.reason == "voluntary":
        reason = translate.pick(REASONS, "voluntary") % values
        note = translate.ngettext(*SUSPENSION_NOTE, close_after) % values
    elif status.reason == "unpaid":
        reason = translate.ngettext(*CLOSED_UNPAID, close_after) % values
    elif status.reason == "requested":
        reason = translate.pick(REASONS, "requested")
    return {
        "state": translate.pick(STATES, status.state),
        "reason": reason,
        "note": note,
        "resume": resume,
    }


def bill_view(
    bill: Bill, config: TenantConfig, settings: Broadband, translate: Translator
) -> dict[str, Any]:
    return {
        "id": bill.period.strftime("%Y-%m"),
        "month": month_name(translate, bill.period),
        "range": period_range(bill.period, translate),
        "for": group_label(config, settings, bill.group, translate),
        "amount": translate.money(bill.amount),
        "state": bill.state,
        "state_text": translate.pick(BILL_STATES, bill.state),
        "outstanding": translate.money(bill.outstanding) if bill.state == "partly_paid" else "",
    }


def preview_lines(
    preview: RequestPreview,
    line: Line,
    config: TenantConfig,
    settings: Broadband,
    today: date,
    translate: Translator,
) -> list[str]:
    """What the request will do, in sentences, shown before the customer confirms it."""
    values: dict[str, Any] = {
        "date": translate.date(preview.effective_on, "long"),
        "fee": translate.money(line.fee),
        "suspension_fee": translate.money(settings.suspension_fee),
        "month": month_name(translate, period_of(preview.effective_on)),
        "current": plan_label(config, line.plan, translate),
    }
    if preview.new_plan is not None:
        values["plan"] = plan_label(config, preview.new_plan, translate)
        values["fee"] = plan_fee(preview.new_plan, translate)
    lines = [translate.pick(PREVIEWS, preview.kind) % values]
    close_after = settings.close_after_unpaid_months
    if preview.new_plan is not None and preview.new_plan.kind in ("half_year", "year"):
        lines.append(translate.gettext(TERM_PLAN_NOTE))
    if preview.kind == "suspend":
        lines.append(translate.ngettext(*SUSPENSION_NOTE, close_after) % {"count": close_after})
    if preview.kind == "resume" and line.status.reason == "balance_short":
        owed = amount_to_resume(line.ledger, today, line.service.payment_mode, line.fee)
        if owed > 0:
            lines.append(translate.gettext(TO_RESUME) % {"amount": translate.money(owed)})
    if preview.kind == "close":
        lines.append(translate.gettext(REFUND_NOTE))
        balance: Decimal = line.ledger.balance
        if balance < 0:
            lines.append(translate.gettext(CREDIT_NOW) % {"amount": translate.money(-balance)})
        elif balance > 0:
            lines.append(translate.gettext(DEBT_NOW) % {"amount": translate.money(balance)})
    return lines


def problem_text(
    reason: RequestReason, status: LineStatus, translate: Translator, date_text: str = ""
) -> str:
    key = f"not_offered:{status.state}" if reason == "not_offered" else reason
    text = translate.pick(PROBLEMS, key)
    return text % {"date": date_text} if reason == "moved" else text


def request_view(
    request: Any, config: TenantConfig, settings: Broadband, translate: Translator
) -> dict[str, Any]:
    """One row of "Your requests"."""
    kind = translate.pick(KINDS, request.kind) if request.kind in KINDS else request.kind
    plan = plan_named(settings, request.new_plan or "")
    detail = ""
    if request.kind == "plan_change":
        detail = translate.gettext("New plan: %(plan)s") % {
            "plan": plan_label(config, plan, translate) if plan else (request.new_plan or "—")
        }
    return {
        "id": request.id,
        "kind": kind,
        "detail": detail,
        "effective": translate.date(request.effective_on),
        "submitted": translate.datetime(request.created_at, "short"),
        "status": request.status,
        "status_text": translate.pick(REQUEST_STATES, request.status)
        if request.status in REQUEST_STATES
        else request.status,
        "status_note": request.status_note or "",
    }
