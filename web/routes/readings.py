"""Meter readings in the cabinet: the per-account table, the form, the htmx check of one value.

All or nothing: a form with any refused value records nothing and comes back with each
message next to its input; a value that needs the customer's word (a replaced meter, an
unusual consumption, only some meters filled) comes back asking for it. The words are
in readings_views (MESSAGES).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from litestar import Request, get, post
from litestar.datastructures import FormMultiDict
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from domain.models import Customer
from domain.ownership import linked_accounts
from domain.reading_submission import (
    CONFIRMATIONS,
    AccountReadings,
    Assessment,
    MeterReadings,
    assess_submission,
    check_one,
    load_account_readings,
    load_meter_readings,
    meter_id_of,
    readings_to_record,
    submit_readings,
)
from domain.readings import period_of, window
from web.auth import require_customer, tenant_id_of, tenant_of
from web.forms import posted_strings
from web.rendering import page
from web.routes.common import i18n, now, require_module, tenant_today
from web.routes.readings_views import (
    MESSAGES,
    PARTIAL,
    Message,
    outcome_messages,
    row_view,
    verification_warning,
    warn_overdue,
)

# What a form posts: value-<meter id>, confirm-<meter id> (repeatable), confirm_partial=yes.
VALUE_PREFIX = "value-"
CONFIRM_PREFIX = "confirm-"


# --- the pages --------------------------------------------------------------------


@dataclass
class Posted:
    """A readings form as posted: values by meter id (as typed), ticked confirmations."""

    values: dict[str, str]
    confirmed: dict[int, list[str]]
    partial_confirmed: bool

    @classmethod
    def parse(cls, form: FormMultiDict) -> Posted:
        strings = posted_strings(form)
        values = {
            key.removeprefix(VALUE_PREFIX): value
            for key, value in strings.items()
            if key.startswith(VALUE_PREFIX)
        }
        confirmed: dict[int, list[str]] = {}
        for key in set(form.keys()):
            meter_id = meter_id_of(str(key).removeprefix(CONFIRM_PREFIX))
            if str(key).startswith(CONFIRM_PREFIX) and meter_id is not None:
                confirmed[meter_id] = [str(v) for v in form.getall(key) if v in CONFIRMATIONS]
        return cls(values, confirmed, strings.get("confirm_partial") == "yes")

    def typed(self) -> dict[int, str]:
        """The values whose key is a meter id, by id."""
        ids = {key: meter_id_of(key) for key in self.values}
        return {meter_id: self.values[key] for key, meter_id in ids.items() if meter_id is not None}


async def _account_and_rows(
    request: Request[Any, Any, Any], account_id: int, today: date
) -> AccountReadings:
    """The customer's account (404 when it is not theirs) with its meters and their readings."""
    config = tenant_of(request)
    require_module(config, "readings")
    customer = require_customer(request)
    async with request.app.state.portal.database.reads() as session:
        found = await load_account_readings(
            session,
            tenant_id=tenant_id_of(request),
            customer_id=customer.id or 0,
            account_id=account_id,
            period=period_of(today),
        )
    if found is None:
        raise NotFoundException()
    return found


async def _own_meter_rows(
    request: Request[Any, Any, Any], customer: Customer, account_id: int, today: date, meter_id: int
) -> list[MeterReadings]:
    """One meter of the customer's account with its readings, in one statement; nothing when
    the account is not theirs or the meter not the account's. Every keystroke's check runs
    this, so it skips loading the account itself."""
    async with request.app.state.portal.database.reads() as session:
        return await load_meter_readings(
            session,
            tenant_id=tenant_id_of(request),
            account_id=account_id,
            period=period_of(today),
            only=meter_id,
            customer_id=customer.id or 0,
        )


def _readings_page(
    request: Request[Any, Any, Any],
    account: AccountReadings,
    today: date,
    *,
    status_code: int = 200,
    posted: Posted | None = None,
    assessment: Assessment | None = None,
    sent: bool = False,
) -> Template:
    config = tenant_of(request)
    translate = i18n(request)
    account_id, rows = account.id, account.rows
    open_window = window(config.readings, today)
    outcomes = assessment.outcomes if assessment else {}
    views = [
        row_view(
            config,
            translate,
            row,
            today,
            account_id,
            open_window=open_window.open,
            typed=posted.typed() if posted else {},
            outcome=outcomes.get(row.id),
            ticked=posted.confirmed if posted else {},
        )
        for row in rows
    ]
    alert = ""
    if assessment is not None and not open_window.open:
        opens = open_window.next_opens or today
        alert = translate.pick(MESSAGES, "window_closed") % {"date": translate.date(opens, "long")}
    elif assessment is not None and assessment.foreign_meter:
        alert = translate.pick(MESSAGES, "foreign_meter")
    elif assessment is not None and assessment.nothing_entered:
        alert = translate.pick(MESSAGES, "nothing_entered")
    elif assessment is not None and assessment.refused:
        alert = translate.pick(MESSAGES, "refused")
    elif assessment is not None and assessment.needs_confirmation:
        alert = translate.pick(MESSAGES, "confirm")
    partial = ""
    if (
        assessment is not None
        and not assessment.refused
        and not assessment.needs_confirmation
        and assessment.partial
    ):
        filled, total = assessment.partial
        partial = translate.ngettext(*PARTIAL, total) % {"filled": filled, "total": total}
    htmx = request.headers.get("hx-request") == "true"
    response = page(
        request,
        "readings/section.html" if htmx else "readings/account.html",
        # htmx swaps only 2xx answers; a plain post gets the real status.
        status_code=200 if htmx else status_code,
        account=account,
        nickname=account.nickname,
        rows=views,
        window=open_window,
        advice=config.text(config.readings.advice, translate.locale),
        has_heat_meter=any(row.meter.is_heat_meter for row in rows),
        alert=alert,
        alert_kind="confirm" if assessment is not None and not assessment.refused else "error",
        partial=partial,
        posted=posted,
        sent=translate.pick(MESSAGES, "success") if sent else "",
        any_input=any(view.takes_input for view in views),
    )
    response.headers["Vary"] = "HX-Request"
    return response


@get("/readings")
async def readings_index(request: Request[Any, Any, Any]) -> Template | Redirect:
    config = tenant_of(request)
    require_module(config, "readings")
    customer = require_customer(request)
    async with request.app.state.portal.database.reads() as session:
        accounts = await linked_accounts(
            session, tenant_id=tenant_id_of(request), customer_id=customer.id or 0
        )
    if len(accounts) == 1:
        return Redirect(f"/accounts/{accounts[0][0].id}/readings", status_code=303)
    return page(request, "readings/index.html", accounts=accounts)


@get("/accounts/{account_id:int}/readings")
async def account_readings(request: Request[Any, Any, Any], account_id: FromPath[int]) -> Template:
    today = tenant_today(request, tenant_of(request))
    account = await _account_and_rows(request, account_id, today)
    sent = request.query_params.get("sent") == "1"
    return _readings_page(request, account, today, sent=sent)


@post("/accounts/{account_id:int}/readings")
async def submit_account_readings(
    request: Request[Any, Any, Any], account_id: FromPath[int]
) -> Template | Redirect:
    config = tenant_of(request)
    today = tenant_today(request, config)
    account = await _account_and_rows(request, account_id, today)
    rows = account.rows
    posted = Posted.parse(await request.form())
    assessment = assess_submission(
        config.readings,
        rows,
        posted.values,
        today,
        confirmed=posted.confirmed,
        partial_confirmed=posted.partial_confirmed,
    )
    if not assessment.ready:
        if assessment.foreign_meter:
            # Nothing typed is echoed back: the form was not one this page drew.
            posted = Posted({}, {}, False)
        status = 400 if assessment.refused else 409
        return _readings_page(
            request,
            account,
            today,
            status_code=status,
            posted=posted,
            assessment=assessment,
        )
    customer = require_customer(request)
    async with request.app.state.portal.database.session() as session:
        await submit_readings(
            session,
            tenant_id=tenant_id_of(request),
            customer_id=customer.id or 0,
            period=period_of(today),
            taken_on=today,
            readings=readings_to_record(assessment, rows),
            submitted_at=now(request),
        )
    return Redirect(f"/accounts/{account_id}/readings?sent=1", status_code=303)


@post("/accounts/{account_id:int}/readings/check")
async def check_reading(request: Request[Any, Any, Any], account_id: FromPath[int]) -> Template:
    """The htmx answer to typing one value: its refusal, warning or question, nothing else."""
    config = tenant_of(request)
    require_module(config, "readings")
    customer = require_customer(request)  # before the form: the signed-out go to sign in
    today = tenant_today(request, config)
    typed = Posted.parse(await request.form()).typed()
    if len(typed) != 1:
        raise NotFoundException()
    rows = await _own_meter_rows(request, customer, account_id, today, next(iter(typed)))
    by_id = {row.id: row for row in rows}
    if next(iter(typed)) not in by_id:
        raise NotFoundException()
    meter_id, raw = next(iter(typed.items()))
    row = by_id[meter_id]
    translate = i18n(request)
    messages: list[Message] = []
    if raw.strip():
        outcome = check_one(config.readings, row, raw, today)
        messages = outcome_messages(config, translate, row, outcome, today, account_id)
        if outcome.missing:
            messages.append(Message(translate.pick(MESSAGES, "will_ask"), kind="confirm"))
    elif warn_overdue(config, row, today):
        messages = [verification_warning(config, translate, account_id, row.id)]
    return Template(
        template_name="readings/check.html",
        context={"i18n": i18n(request), "messages": messages},
        headers={"Vary": "HX-Request"},
    )


routes: list[Any] = [readings_index, account_readings, submit_account_readings, check_reading]
