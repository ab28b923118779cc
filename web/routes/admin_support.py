"""Customer support and the remaining staff queues under /admin.

Customer search, lock, unlock and password resets; broadband requests; failed
messages; the audit log. Every query is scoped to the host's tenant (which
`require_staff` insists the staff member may manage): another tenant's id is answered
like one that does not exist. Each change is a compare-and-set on the status the staff
member saw, and writes its audit entry in the same transaction.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from domain.audit import AuditEntry
from domain.audit_view import (
    Actor,
    AuditFilter,
    action_choices,
    audit_page,
    day_bounds,
    differences,
    entries_about,
)
from domain.broadband_queue import (
    REASON_MAX,
    QueueRow,
    broadband_queue,
    cancel_request,
    complete_request,
    find_broadband_request,
)
from domain.customer_support import (
    ALLOWED_FROM,
    MIN_QUERY,
    RESULT_LIMIT,
    CustomerDetail,
    count_messages,
    count_sent_since,
    customer_detail,
    force_password_reset,
    live_session_count,
    lock_customer,
    mask_recipient,
    message_exists,
    query_too_short,
    recovery_channel,
    retry_messages,
    search_customers,
    undelivered_messages,
    unlock_customer,
)
from domain.fields import clean_text
from domain.outbox import FAILED
from domain.sessions import DatabaseSessionStore
from domain.staff import PLATFORM_OPERATOR, StaffUser
from domain.visits import parse_date
from tenants.schema import TenantConfig
from web.auth import client_address, sessions, tenant_id_of, tenant_of
from web.i18n import N_, Translator
from web.messages import render_message
from web.rendering import page
from web.routes.broadband_views import request_view
from web.routes.common import i18n, now, posted, require_module

# Words for the customer's status and for what happened, shown to staff.
STATUS_WORDS = {
    "active": N_("Active"),
    "pending": N_("Email not confirmed yet"),
    "locked": N_("Locked"),
}
_CUSTOMER_ERRORS = {
    "stale": N_(
        "This customer was changed by someone else in the meantime. Nothing was changed; "
        "here is their current state."
    ),
    "not_allowed": N_("This cannot be done to a customer in this state. Nothing was changed."),
}
_CUSTOMER_DONE = {
    "lock": N_(
        "The customer is locked and signed out everywhere. They cannot sign in until "
        "they are unlocked."
    ),
    "unlock": N_("The customer is unlocked and can sign in again."),
    "reset": N_(
        "The password was reset and the customer signed out everywhere. They have been "
        "told to choose a new one with “Forgot your password?”."
    ),
}
_TEMPORARY_PASSWORD = N_(
    "The password was reset and the customer signed out everywhere. The customer cannot "
    "choose a new password online, so give them this temporary password once you are sure "
    "who you are talking to; they must change it when they sign in. It is shown only now."
)
_SEARCH_MESSAGES = {
    "too_short": N_(
        "Type at least %(count)d characters: an identifier, phone number, email, account "
        "number or part of a name."
    ),
    "none": N_("No customer matches “%(query)s”."),
    "more": N_(
        "More than %(count)d customers match; the first %(count)d are shown. Refine your search."
    ),
}
_BROADBAND_ERRORS = {
    "stale": N_("This request has already been handled by someone else. Nothing was changed."),
    "no_line": N_(
        "This account has no broadband line, so the request cannot be carried out. "
        "Nothing was changed; you can cancel it with a reason."
    ),
    "reason_empty": N_("Give the reason for cancelling this request."),
    "reason_too_long": N_("The reason is too long: write at most %(limit)d characters."),
}
_BROADBAND_DONE = {
    "done": N_("The request was carried out and the line changed."),
    "cancelled": N_("The request was cancelled."),
}
_OUTBOX_STALE = N_(
    "This message is no longer failed or held: it has been retried or sent meanwhile. "
    "Nothing was changed."
)
_AUDIT_ERRORS = {
    "bad_date": N_("Type a date like 2026-11-21 or 21.11.2026."),
    "reversed": N_("This date is before the “from” date."),
    "bad_action": N_("Choose one of the actions offered."),
}
ACTION_LABELS = {
    "staff.sign_in": N_("Staff sign-in"),
    "activation.approve": N_("Registration approved"),
    "activation.reject": N_("Registration rejected"),
    "visit.status": N_("Visit request status changed"),
    "anonymous_reading.record": N_("Reading without sign-in recorded"),
    "anonymous_reading.reject": N_("Reading without sign-in rejected"),
    "customer.lock": N_("Customer locked"),
    "customer.unlock": N_("Customer unlocked"),
    "customer.force_reset": N_("Customer's password reset"),
    "broadband_request.done": N_("Broadband request carried out"),
    "broadband_request.cancel": N_("Broadband request cancelled"),
    "outbox.retry": N_("Message sent again"),
    "config.draft": N_("Configuration draft started"),
    "config.save": N_("Configuration draft saved"),
    "config.publish": N_("Configuration published"),
    "config.rollback": N_("Configuration rolled back"),
    "api_key.create": N_("API key created"),
    "api_key.revoke": N_("API key revoked"),
    "import.run": N_("File imported"),
    "tenant.create": N_("Tenant created"),
    "tenant.domains": N_("Custom domains changed"),
    "staff.create": N_("Staff member added"),
    "staff.lock": N_("Staff member locked"),
    "staff.unlock": N_("Staff member unlocked"),
    "staff.password_reset": N_("Staff password reset"),
}
SENT_WINDOW = timedelta(hours=24)
RETRY_LIMIT = 200


def require_staff(request: Request[Any, Any, Any]) -> StaffUser:
    # Imported here: web.routes.admin imports this module to mount its handlers.
    from web.routes.admin import require_staff as staff_of_this_tenant

    return staff_of_this_tenant(request)


def _actor(request: Request[Any, Any, Any], staff: StaffUser) -> Actor:
    return Actor.of(staff, client_address(request))


def action_label(translate: Translator, action: str) -> str:
    """A known action in words; one another part of the staff area records, as its code."""
    return translate.pick(ACTION_LABELS, action) if action in ACTION_LABELS else action


def entry_view(entry: AuditEntry, translate: Translator) -> dict[str, Any]:
    return {
        "entry": entry,
        "action": action_label(translate, entry.action),
        "differences": differences(entry.before, entry.after),
    }


# --- customers -------------------------------------------------------------------------------


def _identifier_label(config: TenantConfig, name: str, locale: str) -> str:
    try:
        return config.text(config.identifier(name).label, locale) or name
    except KeyError:
        return name


@get("/customers")
async def customers(request: Request[Any, Any, Any]) -> Template:
    require_staff(request)
    config = tenant_of(request)
    translate = i18n(request)
    asked = "q" in request.query_params
    typed = clean_text(request.query_params.get("q", ""))[:200]
    error = message = ""
    rows: list[dict[str, Any]] = []
    if asked and query_too_short(typed):
        error = translate.pick(_SEARCH_MESSAGES, "too_short") % {"count": MIN_QUERY}
    elif asked:
        async with request.app.state.portal.database.session() as session:
            result = await search_customers(
                session, config=config, tenant_id=tenant_id_of(request), typed=typed
            )
        rows = [
            {
                "customer": row.customer,
                "name": row.customer.company_name or row.customer.full_name,
                "status": translate.pick(STATUS_WORDS, row.customer.status)
                if row.customer.status in STATUS_WORDS
                else row.customer.status,
                "identifiers": [
                    (_identifier_label(config, name, translate.locale), value)
                    for name, value in row.identifiers
                ],
                "accounts": row.accounts,
            }
            for row in result.rows
        ]
        if not rows:
            message = translate.pick(_SEARCH_MESSAGES, "none") % {"query": typed}
        elif result.more:
            message = translate.pick(_SEARCH_MESSAGES, "more") % {"count": RESULT_LIMIT}
    return page(
        request,
        "admin/customers.html",
        status_code=400 if error else 200,
        query=typed,
        error=error,
        message=message,
        rows=rows,
        asked=asked,
    )


def _detail_view(
    config: TenantConfig, detail: CustomerDetail, translate: Translator
) -> dict[str, Any]:
    customer = detail.customer
    return {
        "customer": customer,
        "name": customer.company_name or customer.full_name,
        "status_text": translate.pick(STATUS_WORDS, customer.status)
        if customer.status in STATUS_WORDS
        else customer.status,
        "identifiers": [
            (_identifier_label(config, i.name, translate.locale), i.value)
            for i in detail.identifiers
        ],
        "accounts": [account for account, _ in detail.accounts],
        "nicknames": {link.account_id: link.nickname for _, link in detail.accounts},
        "can": {action: customer.status in ALLOWED_FROM[action] for action in ALLOWED_FROM},
        "recovers_online": recovery_channel(config, customer) is not None,
    }


async def _customer_page(
    request: Request[Any, Any, Any],
    customer_id: int,
    *,
    error: str = "",
    done: str = "",
    temporary_password: str = "",
    status: int = 200,
) -> Template:
    config = tenant_of(request)
    tenant_id = tenant_id_of(request)
    translate = i18n(request)
    async with request.app.state.portal.database.session() as session:
        detail = await customer_detail(session, tenant_id=tenant_id, customer_id=customer_id)
        if detail is None:
            raise NotFoundException()
        session_count = None
        # The Redis store keeps no count to ask; the database one does.
        if isinstance(sessions(request), DatabaseSessionStore):
            session_count = await live_session_count(
                session, tenant_id=tenant_id, customer_id=customer_id, now=now(request)
            )
        history = await entries_about(
            session, tenant_id=tenant_id, target_type="customer", target_id=customer_id
        )
    response = page(
        request,
        "admin/customer.html",
        status_code=status,
        error=error,
        done=done,
        temporary_password=temporary_password,
        session_count=session_count,
        history=[entry_view(entry, translate) for entry in history],
        **_detail_view(config, detail, translate),
    )
    if temporary_password:
        response.headers["Cache-Control"] = "no-store"
    return response


@get("/customers/{customer_id:int}")
async def customer(request: Request[Any, Any, Any], customer_id: FromPath[int]) -> Template:
    require_staff(request)
    translate = i18n(request)
    done = request.query_params.get("done", "")
    return await _customer_page(
        request,
        customer_id,
        done=translate.pick(_CUSTOMER_DONE, done) if done in _CUSTOMER_DONE else "",
    )


async def _after_change(
    request: Request[Any, Any, Any], customer_id: int, outcome: str, done: str
) -> Template | Redirect:
    if outcome == "not_found":
        raise NotFoundException()
    if outcome != "done":
        error = i18n(request).pick(_CUSTOMER_ERRORS, outcome)
        code = 409 if outcome == "stale" else 400
        return await _customer_page(request, customer_id, error=error, status=code)
    return Redirect(f"/admin/customers/{customer_id}?done={done}", status_code=303)


@post("/customers/{customer_id:int}/lock")
async def lock(request: Request[Any, Any, Any], customer_id: FromPath[int]) -> Template | Redirect:
    staff = require_staff(request)
    tenant_id = tenant_id_of(request)
    expected = (await posted(request)).get("expected", "")
    async with request.app.state.portal.database.session() as session:
        outcome = await lock_customer(
            session,
            tenant_id=tenant_id,
            customer_id=customer_id,
            expected=expected,
            actor=_actor(request, staff),
        )
    if outcome == "done":
        await sessions(request).revoke_all(tenant_id=tenant_id, customer_id=customer_id)
    return await _after_change(request, customer_id, outcome, "lock")


@post("/customers/{customer_id:int}/unlock")
async def unlock(
    request: Request[Any, Any, Any], customer_id: FromPath[int]
) -> Template | Redirect:
    staff = require_staff(request)
    expected = (await posted(request)).get("expected", "")
    async with request.app.state.portal.database.session() as session:
        outcome = await unlock_customer(
            session,
            tenant_id=tenant_id_of(request),
            customer_id=customer_id,
            expected=expected,
            actor=_actor(request, staff),
        )
    return await _after_change(request, customer_id, outcome, "unlock")


@post("/customers/{customer_id:int}/reset-password")
async def reset_password(
    request: Request[Any, Any, Any], customer_id: FromPath[int]
) -> Template | Redirect:
    staff = require_staff(request)
    tenant_id = tenant_id_of(request)
    expected = (await posted(request)).get("expected", "")
    async with request.app.state.portal.database.session() as session:
        result = await force_password_reset(
            session,
            config=tenant_of(request),
            tenant_id=tenant_id,
            customer_id=customer_id,
            expected=expected,
            actor=_actor(request, staff),
            renderer=render_message,
            when=now(request),
        )
    if result.outcome == "done":
        await sessions(request).revoke_all(tenant_id=tenant_id, customer_id=customer_id)
    if result.temporary_password:
        # Shown in this answer and nowhere else: a redirect would have to carry it in a URL.
        return await _customer_page(
            request,
            customer_id,
            done=i18n(request).gettext(_TEMPORARY_PASSWORD),
            temporary_password=result.temporary_password,
        )
    return await _after_change(request, customer_id, result.outcome, "reset")


# --- broadband requests ---------------------------------------------------------------------


def _broadband_view(row: QueueRow, config: TenantConfig, translate: Translator) -> dict[str, Any]:
    assert config.broadband is not None
    customer = row.customer
    return {
        **request_view(row.request, config, config.broadband, translate),
        "account": row.account.number,
        "customer": (customer.company_name or customer.full_name) if customer else "",
        "customer_id": customer.id if customer else None,
    }


async def _broadband_page(
    request: Request[Any, Any, Any],
    *,
    message: str = "",
    errors: dict[int, str] | None = None,
    reasons: dict[int, str] | None = None,
    status: int = 200,
) -> Template:
    require_staff(request)
    config = tenant_of(request)
    require_module(config, "broadband")
    translate = i18n(request)
    async with request.app.state.portal.database.session() as session:
        rows = await broadband_queue(session, tenant_id=tenant_id_of(request))
    done = request.query_params.get("done", "")
    return page(
        request,
        "admin/broadband_requests.html",
        status_code=status,
        items=[_broadband_view(row, config, translate) for row in rows],
        message=message,
        errors=errors or {},
        reasons=reasons or {},
        reason_limit=REASON_MAX,
        done=translate.pick(_BROADBAND_DONE, done) if done in _BROADBAND_DONE else "",
    )


@get("/broadband-requests")
async def broadband_requests(request: Request[Any, Any, Any]) -> Template:
    return await _broadband_page(request)


async def _must_be_broadband_request(request: Request[Any, Any, Any], request_id: int) -> None:
    require_module(tenant_of(request), "broadband")
    async with request.app.state.portal.database.session() as session:
        found = await find_broadband_request(
            session, tenant_id=tenant_id_of(request), request_id=request_id
        )
    if found is None:
        raise NotFoundException()


async def _after_broadband(request: Request[Any, Any, Any], outcome: str) -> Template | Redirect:
    if outcome == "not_found":
        raise NotFoundException()
    if outcome in _BROADBAND_DONE:
        return Redirect(f"/admin/broadband-requests?done={outcome}", status_code=303)
    message = i18n(request).pick(_BROADBAND_ERRORS, outcome)
    return await _broadband_page(request, message=message, status=409)


@post("/broadband-requests/{request_id:int}/done")
async def broadband_done(
    request: Request[Any, Any, Any], request_id: FromPath[int]
) -> Template | Redirect:
    staff = require_staff(request)
    await _must_be_broadband_request(request, request_id)
    expected = (await posted(request)).get("expected", "")
    async with request.app.state.portal.database.session() as session:
        outcome = await complete_request(
            session,
            tenant_id=tenant_id_of(request),
            request_id=request_id,
            expected=expected,
            actor=_actor(request, staff),
        )
    return await _after_broadband(request, outcome)


@post("/broadband-requests/{request_id:int}/cancel")
async def broadband_cancel(
    request: Request[Any, Any, Any], request_id: FromPath[int]
) -> Template | Redirect:
    staff = require_staff(request)
    await _must_be_broadband_request(request, request_id)
    translate = i18n(request)
    form = await posted(request)
    typed = form.get("reason", "")
    reason = clean_text(typed)
    problem = (
        "reason_empty" if not reason else "reason_too_long" if len(reason) > REASON_MAX else ""
    )
    if problem:
        error = translate.pick(_BROADBAND_ERRORS, problem) % {"limit": REASON_MAX}
        return await _broadband_page(
            request, errors={request_id: error}, reasons={request_id: typed[:1000]}, status=400
        )
    async with request.app.state.portal.database.session() as session:
        outcome = await cancel_request(
            session,
            tenant_id=tenant_id_of(request),
            request_id=request_id,
            expected=form.get("expected", ""),
            reason=reason,
            actor=_actor(request, staff),
        )
    return await _after_broadband(request, outcome)


# --- failed messages --------------------------------------------------------------------------


async def _outbox_page(
    request: Request[Any, Any, Any], *, message: str = "", status: int = 200
) -> Template:
    require_staff(request)
    tenant_id = tenant_id_of(request)
    async with request.app.state.portal.database.session() as session:
        items = await undelivered_messages(session, tenant_id=tenant_id, limit=RETRY_LIMIT)
        failed = await count_messages(session, tenant_id=tenant_id, status=FAILED)
        sent = await count_sent_since(
            session, tenant_id=tenant_id, since=now(request) - SENT_WINDOW
        )
    retried = request.query_params.get("retried", "")
    return page(
        request,
        "admin/outbox.html",
        status_code=status,
        items=[
            {"message": item, "recipient": mask_recipient(item.channel, item.recipient)}
            for item in items
        ],
        ids=",".join(str(item.id) for item in items),
        failed=failed,
        sent=sent,
        message=message,
        retried=int(retried) if retried.isdigit() and len(retried) < 6 else None,
    )


@get("/outbox")
async def outbox(request: Request[Any, Any, Any]) -> Template:
    return await _outbox_page(request)


@post("/outbox/{message_id:int}/retry")
async def retry_one(
    request: Request[Any, Any, Any], message_id: FromPath[int]
) -> Template | Redirect:
    staff = require_staff(request)
    tenant_id = tenant_id_of(request)
    async with request.app.state.portal.database.session() as session:
        if not await message_exists(session, tenant_id=tenant_id, message_id=message_id):
            raise NotFoundException()
        retried = await retry_messages(
            session,
            tenant_id=tenant_id,
            message_ids=[message_id],
            actor=_actor(request, staff),
            now=now(request),
        )
    if not retried:
        return await _outbox_page(request, message=i18n(request).gettext(_OUTBOX_STALE), status=409)
    return Redirect("/admin/outbox?retried=1", status_code=303)


@post("/outbox/retry")
async def retry_shown(request: Request[Any, Any, Any]) -> Redirect:
    """Every message the page showed, by the ids it listed; others' ids simply find nothing."""
    staff = require_staff(request)
    typed = (await posted(request)).get("ids", "")
    ids = [int(part) for part in typed.split(",") if part.strip().isdigit() and len(part) < 19]
    async with request.app.state.portal.database.session() as session:
        retried = await retry_messages(
            session,
            tenant_id=tenant_id_of(request),
            message_ids=ids[:RETRY_LIMIT],
            actor=_actor(request, staff),
            now=now(request),
        )
    return Redirect(f"/admin/outbox?retried={retried}", status_code=303)


# --- the audit log ---------------------------------------------------------------------------


def _typed_day(raw: str) -> tuple[date | None, bool]:
    """The date typed in a filter field (None if empty), and whether it was readable."""
    if not raw.strip():
        return None, True
    parsed = parse_date(raw)
    return parsed, parsed is not None


@get("/audit")
async def audit(request: Request[Any, Any, Any]) -> Template:
    staff = require_staff(request)
    config = tenant_of(request)
    tenant_id = tenant_id_of(request)
    translate = i18n(request)
    params = request.query_params
    typed = {
        name: clean_text(params.get(name, ""))[:80]
        for name in ("actor", "action", "target_type", "target_id", "from", "to")
    }
    operator = staff.role == PLATFORM_OPERATOR
    platform = operator and params.get("platform") == "on"
    errors: dict[str, str] = {}
    first, first_ok = _typed_day(typed["from"])
    last, last_ok = _typed_day(typed["to"])
    if not first_ok:
        errors["from"] = translate.pick(_AUDIT_ERRORS, "bad_date")
    if not last_ok:
        errors["to"] = translate.pick(_AUDIT_ERRORS, "bad_date")
    elif first and last and last < first:
        errors["to"] = translate.pick(_AUDIT_ERRORS, "reversed")
    async with request.app.state.portal.database.session() as session:
        actions = await action_choices(session, tenant_id=tenant_id, platform=platform)
        if typed["action"] and typed["action"] not in actions:
            errors["action"] = translate.pick(_AUDIT_ERRORS, "bad_action")
        result = None
        if not errors:
            start, end = day_bounds(first, last, config.timezone)
            wanted = AuditFilter(
                actor=typed["actor"],
                action=typed["action"],
                target_type=typed["target_type"],
                target_id=typed["target_id"],
                start=start,
                end=end,
                platform=platform,
            )
            number = params.get("page", "1")
            result = await audit_page(
                session,
                tenant_id=tenant_id,
                wanted=wanted,
                page=int(number) if number.isdigit() and len(number) < 7 else 1,
            )
    kept = {name: value for name, value in typed.items() if value}
    if platform:
        kept["platform"] = "on"
    return page(
        request,
        "admin/audit.html",
        status_code=400 if errors else 200,
        typed=typed,
        errors=errors,
        operator=operator,
        platform=platform,
        actions=[(action, action_label(translate, action)) for action in actions],
        entries=[entry_view(entry, translate) for entry in result.entries] if result else [],
        result=result,
        page_link=lambda number: "/admin/audit?" + urlencode({**kept, "page": number}),
    )


# Handlers mounted under the /admin router (which answers StaffRequired with a redirect).
handlers: list[Any] = [
    customers,
    customer,
    lock,
    unlock,
    reset_password,
    broadband_requests,
    broadband_done,
    broadband_cancel,
    outbox,
    retry_one,
    retry_shown,
    audit,
]
