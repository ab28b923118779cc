"""Staff queues under /admin: visit requests, and readings sent without signing in.

Every query is scoped to the tenant of the host (which `require_staff` insists is the
staff member's own); an id of another tenant's item is answered like one that does not
exist. Each change is a compare-and-set on the status the staff member saw.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from domain.anonymous_readings import (
    NOTE_MAX,
    QueueItem,
    anonymous_queue,
    count_new,
    find_item,
    record_anonymous_reading,
    reject_anonymous_reading,
)
from domain.audit_view import Actor
from domain.broadband_queue import count_submitted
from domain.customer_support import count_messages
from domain.fields import clean_text
from domain.outbox import FAILED
from domain.staff import StaffUser
from domain.visits import (
    STATUS_NOTE_MAX,
    STATUSES,
    SUBMITTED,
    TRANSITIONS,
    VisitRow,
    change_visit_status,
    count_visits,
    find_visit,
    status_note_problem,
    visit_queue,
)
from web.auth import client_address, tenant_id_of, tenant_of
from web.i18n import N_, Translator
from web.messages import render_message
from web.rendering import page
from web.routes.common import i18n, posted
from web.routes.visits import KIND_TITLES, STATUS_WORDS, meter_label

_VISIT_ERRORS = {
    "stale": N_(
        "This request was changed by someone else in the meantime. Nothing was changed; "
        "here is its current state."
    ),
    "not_allowed": N_("This status cannot follow the request's current one. Nothing was changed."),
    "bad_status": N_("Choose one of the statuses offered."),
    "note_empty": N_("Give the reason for cancelling: the customer receives it by SMS."),
    "note_too_long": N_("The note is too long: write at most %(limit)d characters."),
}
_VISIT_DONE = N_("Request %(number)s is now “%(status)s”. The customer has been sent an SMS.")
_READING_ERRORS = {
    "already_handled": N_(
        "This reading has already been handled by someone else. Nothing was changed."
    ),
    "no_such_meter": N_(
        "Choose one of the meters with this number that take readings. Nothing was recorded."
    ),
    "note_empty": N_("Give the reason for rejecting this reading."),
    "note_too_long": N_("The note is too long: write at most %(limit)d characters."),
}
_READING_DONE = {
    "recorded": N_("The reading has been recorded on the meter."),
    "rejected": N_("The reading has been rejected."),
}


def require_staff(request: Request[Any, Any, Any]) -> StaffUser:
    # Imported here: web.routes.admin imports this module to mount its handlers.
    from web.routes.admin import require_staff as staff_of_this_tenant

    return staff_of_this_tenant(request)


async def dashboard_counts(request: Request[Any, Any, Any]) -> dict[str, int]:
    """What the staff dashboard shows beside the links to these queues."""
    config = tenant_of(request)
    tenant_id = tenant_id_of(request)
    counts: dict[str, int] = {}
    async with request.app.state.portal.database.session() as session:
        if config.has("visit_requests"):
            counts["new_visits"] = await count_visits(
                session, tenant_id=tenant_id, status=SUBMITTED
            )
        if config.has("anonymous_readings"):
            counts["new_anonymous_readings"] = await count_new(session, tenant_id=tenant_id)
        if config.has("broadband"):
            counts["new_broadband_requests"] = await count_submitted(session, tenant_id=tenant_id)
        counts["failed_messages"] = await count_messages(
            session, tenant_id=tenant_id, status=FAILED
        )
    return counts


# --- visit requests ------------------------------------------------------------------------


def _visit_view(row: VisitRow, translate: Translator) -> dict[str, Any]:
    visit = row.request
    customer = row.customer
    return {
        "id": visit.id,
        "created_at": visit.created_at,
        "kind": translate.gettext(KIND_TITLES.get(visit.kind, N_("Visit"))),
        "customer": (customer.company_name or customer.full_name) if customer else "",
        "phone": visit.phone,
        "account": row.account.number,
        "meter": meter_label(row.meter, translate) if row.meter else "",
        "date": visit.visit_date,
        "slot": visit.slot,
        "notes": visit.notes,
        "status": visit.status,
        "status_text": translate.gettext(STATUS_WORDS[visit.status]),
        "status_note": visit.status_note or "",
        "targets": [
            (status, translate.gettext(STATUS_WORDS[status]))
            for status in TRANSITIONS.get(visit.status, ())
        ],
    }


@get("/visits")
async def visit_requests(request: Request[Any, Any, Any]) -> Template:
    require_staff(request)
    if not tenant_of(request).has("visit_requests"):
        raise NotFoundException()
    translate = i18n(request)
    wanted = request.query_params.get("status", SUBMITTED)
    status = wanted if wanted in STATUSES else None if wanted == "all" else SUBMITTED
    async with request.app.state.portal.database.session() as session:
        rows = await visit_queue(session, tenant_id=tenant_id_of(request), status=status)
    changed = ""
    number = request.query_params.get("changed", "")
    new_status = request.query_params.get("now", "")
    if number.isdigit() and new_status in STATUS_WORDS:
        changed = translate.gettext(_VISIT_DONE) % {
            "number": number,
            "status": translate.gettext(STATUS_WORDS[new_status]),
        }
    return page(
        request,
        "admin/visits.html",
        items=[_visit_view(row, translate) for row in rows],
        filters=[("all", translate.gettext("All"))]
        + [(s, translate.gettext(STATUS_WORDS[s])) for s in STATUSES],
        chosen=status or "all",
        changed=changed,
    )


async def _visit_page(
    request: Request[Any, Any, Any],
    request_id: int,
    *,
    error: str = "",
    note: str = "",
    note_error: str = "",
    chosen: str = "",
    status: int = 200,
) -> Template:
    translate = i18n(request)
    async with request.app.state.portal.database.session() as session:
        row = await find_visit(session, tenant_id=tenant_id_of(request), request_id=request_id)
    if row is None:
        raise NotFoundException()
    return page(
        request,
        "admin/visit.html",
        status_code=status,
        visit=_visit_view(row, translate),
        error=error,
        note=note,
        note_error=note_error,
        chosen=chosen,
        note_limit=STATUS_NOTE_MAX,
    )


@get("/visits/{request_id:int}")
async def visit_request(request: Request[Any, Any, Any], request_id: FromPath[int]) -> Template:
    require_staff(request)
    return await _visit_page(request, request_id)


@post("/visits/{request_id:int}/status")
async def visit_status(
    request: Request[Any, Any, Any], request_id: FromPath[int]
) -> Template | Redirect:
    staff = require_staff(request)
    config = tenant_of(request)
    tenant_id = tenant_id_of(request)
    translate = i18n(request)
    form = await posted(request)
    new_status, expected = form.get("status", ""), form.get("expected", "")
    typed_note = form.get("note", "")
    note = clean_text(typed_note)
    async with request.app.state.portal.database.session() as session:
        row = await find_visit(session, tenant_id=tenant_id, request_id=request_id)
    if row is None:
        raise NotFoundException()
    keep = {"note": typed_note[:1000], "chosen": new_status}
    if row.request.status != expected:
        error = translate.pick(_VISIT_ERRORS, "stale")
        return await _visit_page(request, request_id, error=error, status=409)
    if new_status not in STATUSES[1:]:
        error = translate.pick(_VISIT_ERRORS, "bad_status")
        return await _visit_page(request, request_id, error=error, status=400, **keep)
    problem = status_note_problem(new_status, note)
    if problem is not None:
        message = translate.gettext(_VISIT_ERRORS[f"note_{problem}"]) % {"limit": STATUS_NOTE_MAX}
        return await _visit_page(request, request_id, note_error=message, status=400, **keep)
    async with request.app.state.portal.database.session() as session:
        outcome = await change_visit_status(
            session,
            config=config,
            tenant_id=tenant_id,
            request_id=request_id,
            expected=expected,
            new_status=new_status,
            note=note,
            renderer=render_message,
            actor=Actor.of(staff, client_address(request)),
        )
    if outcome == "not_found":
        raise NotFoundException()
    if outcome != "changed":
        error = translate.gettext(_VISIT_ERRORS[outcome])
        code = 409 if outcome == "stale" else 400
        return await _visit_page(request, request_id, error=error, status=code, **keep)
    return Redirect(
        f"/admin/visits?status={expected}&changed={request_id}&now={new_status}", status_code=303
    )


# --- readings sent without signing in ---------------------------------------------------------


def _reading_view(entry: QueueItem, translate: Translator) -> dict[str, Any]:
    candidates = [
        {
            "meter": candidate.meter,
            "label": meter_label(candidate.meter, translate),
            "account": candidate.account,
            "latest": candidate.latest,
            "recordable": candidate.recordable,
        }
        for candidate in entry.candidates
    ]
    return {
        "item": entry.item,
        "candidates": candidates,
        "recordable": [c for c in candidates if c["recordable"]],
    }


async def _readings_page(
    request: Request[Any, Any, Any],
    *,
    errors: dict[int, str] | None = None,
    note_errors: dict[int, str] | None = None,
    notes: dict[int, str] | None = None,
    message: str = "",
    status: int = 200,
) -> Template:
    require_staff(request)
    if not tenant_of(request).has("anonymous_readings"):
        raise NotFoundException()
    translate = i18n(request)
    async with request.app.state.portal.database.session() as session:
        queue = await anonymous_queue(session, tenant_id=tenant_id_of(request))
    done = request.query_params.get("done", "")
    return page(
        request,
        "admin/anonymous_readings.html",
        status_code=status,
        items=[_reading_view(entry, translate) for entry in queue],
        errors=errors or {},
        note_errors=note_errors or {},
        notes=notes or {},
        message=message,
        note_limit=NOTE_MAX,
        done=translate.gettext(_READING_DONE[done]) if done in _READING_DONE else "",
    )


@get("/anonymous-readings")
async def anonymous_readings(request: Request[Any, Any, Any]) -> Template:
    return await _readings_page(request)


async def _must_exist(request: Request[Any, Any, Any], item_id: int) -> None:
    require_staff(request)
    if not tenant_of(request).has("anonymous_readings"):
        raise NotFoundException()
    async with request.app.state.portal.database.session() as session:
        if await find_item(session, tenant_id=tenant_id_of(request), item_id=item_id) is None:
            raise NotFoundException()


@post("/anonymous-readings/{item_id:int}/record")
async def record_reading(
    request: Request[Any, Any, Any], item_id: FromPath[int]
) -> Template | Redirect:
    staff = require_staff(request)
    await _must_exist(request, item_id)
    translate = i18n(request)
    meter = (await posted(request)).get("meter", "").strip()
    async with request.app.state.portal.database.session() as session:
        outcome = await record_anonymous_reading(
            session,
            config=tenant_of(request),
            tenant_id=tenant_id_of(request),
            item_id=item_id,
            meter_id=int(meter) if meter.isdigit() and len(meter) < 12 else 0,
            staff_id=staff.id or 0,
            actor=Actor.of(staff, client_address(request)),
        )
    if outcome == "not_found":
        raise NotFoundException()
    if outcome == "already_handled":
        message = translate.gettext(_READING_ERRORS[outcome])
        return await _readings_page(request, message=message, status=409)
    if outcome != "recorded":
        error = translate.gettext(_READING_ERRORS[outcome])
        return await _readings_page(request, errors={item_id: error}, status=400)
    return Redirect("/admin/anonymous-readings?done=recorded", status_code=303)


@post("/anonymous-readings/{item_id:int}/reject")
async def reject_reading(
    request: Request[Any, Any, Any], item_id: FromPath[int]
) -> Template | Redirect:
    staff = require_staff(request)
    await _must_exist(request, item_id)
    translate = i18n(request)
    typed = (await posted(request)).get("note", "")
    note = clean_text(typed)
    problem = "note_empty" if not note else "note_too_long" if len(note) > NOTE_MAX else ""
    if problem:
        error = translate.gettext(_READING_ERRORS[problem]) % {"limit": NOTE_MAX}
        return await _readings_page(
            request, note_errors={item_id: error}, notes={item_id: typed[:1000]}, status=400
        )
    async with request.app.state.portal.database.session() as session:
        outcome = await reject_anonymous_reading(
            session,
            tenant_id=tenant_id_of(request),
            item_id=item_id,
            staff_id=staff.id or 0,
            note=note,
            actor=Actor.of(staff, client_address(request)),
        )
    if outcome == "not_found":
        raise NotFoundException()
    if outcome != "rejected":
        message = translate.gettext(_READING_ERRORS[outcome])
        return await _readings_page(request, message=message, status=409)
    return Redirect("/admin/anonymous-readings?done=rejected", status_code=303)


# Handlers mounted under the /admin router (which answers StaffRequired with a redirect).
handlers: list[Any] = [
    visit_requests,
    visit_request,
    visit_status,
    anonymous_readings,
    record_reading,
    reject_reading,
]
