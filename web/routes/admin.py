"""The staff area on a tenant's host: signing in and out, and the activation queue.

Every query is scoped twice: by the tenant whose host the request came to, and by
the signed-in staff member's tenant, which `require_staff` insists are the same.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Router, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from domain.activation import (
    PENDING,
    REASON_LENGTH,
    ActivationRequest,
    Decision,
    account_of,
    approve_activation,
    count_pending,
    find_request,
    pending_requests,
    reject_activation,
    request_fields,
)
from domain.audit_view import Actor
from domain.fields import clean_text
from domain.identifiers import login_key
from domain.limits import STAFF_SIGN_IN_PER_ADDRESS, STAFF_SIGN_IN_PER_LOGIN
from domain.models import Account
from domain.staff import (
    PLATFORM_OPERATOR,
    StaffUser,
    authenticate_staff,
    find_staff,
    may_manage,
)
from tenants.schema import TenantConfig
from web.auth import (
    client_address,
    end_session,
    safe_next,
    start_session,
    tenant_id_of,
    tenant_of,
    visitor,
)
from web.i18n import N_, Translator
from web.messages import render_message
from web.rendering import page
from web.routes import (
    admin_billing,
    admin_config,
    admin_platform,
    admin_queues,
    admin_support,
)
from web.routes.common import i18n, posted

_SIGN_IN_MESSAGES = {
    "bad_credentials": N_("The login or password is wrong. Check them and try again."),
    "locked_out": N_("Too many attempts. For your safety, signing in is paused for 30 minutes."),
    "locked": N_("This staff account is locked. Ask the platform operator to unlock it."),
}

_DECISION_MESSAGES = {
    "already_decided": N_("This request has already been decided. Nothing was changed."),
    "account_unavailable": N_(
        "This request cannot be approved: its account no longer exists, already has a "
        "customer, or the request has no mobile number. Nothing was changed; you can "
        "reject it with a reason."
    ),
}


# Typed values staff never see, should a flow ever keep them with the request.
_NEVER_SHOWN = {"password", "password_repeat"}


class StaffRequired(Exception):
    """Raised by handlers that need a signed-in staff member; answered with a redirect."""


def require_staff(request: Request[Any, Any, Any]) -> StaffUser:
    """The signed-in staff member who may manage this host's tenant (its own admin or a
    platform operator); anyone else goes to the sign-in page."""
    current = visitor(request)
    staff = current.staff if current else None
    if staff is None or staff.id is None or not may_manage(staff, tenant_id_of(request)):
        raise StaffRequired()
    return staff


def require_operator(request: Request[Any, Any, Any]) -> StaffUser:
    """A signed-in platform operator; a tenant admin gets a 404, as if the page were not there."""
    staff = require_staff(request)
    if staff.role != PLATFORM_OPERATOR:
        raise NotFoundException()
    return staff


def _to_sign_in(request: Request[Any, Any, Any], _exc: Exception) -> Redirect:
    target = request.url.path + ("?" + request.url.query if request.url.query else "")
    return Redirect(f"/admin/sign-in?next={quote(target, safe='')}", status_code=303)


def _staff_next(target: str | None) -> str:
    """After signing in, staff go back where they were in the staff area, never elsewhere."""
    chosen = safe_next(target, "/admin")
    return chosen if chosen == "/admin" or chosen.startswith("/admin/") else "/admin"


# --- signing in and out -------------------------------------------------------------


def _sign_in_page(
    request: Request[Any, Any, Any], *, login: str = "", error: str = "", status: int = 200
) -> Template:
    return page(
        request,
        "admin/sign_in.html",
        status_code=status,
        login=login,
        error=i18n(request).gettext(_SIGN_IN_MESSAGES[error]) if error else "",
        next=request.query_params.get("next", ""),
    )


@get("/sign-in", sync_to_thread=False)
def staff_sign_in_form(request: Request[Any, Any, Any]) -> Template | Redirect:
    current = visitor(request)
    if current is not None and current.staff is not None:
        return Redirect("/admin", status_code=303)
    return _sign_in_page(request)


async def _login_subjects(request: Request[Any, Any, Any], tenant_id: int, login: str) -> list[str]:
    """What failed staff sign-ins count against: the login on this tenant's host, and for a
    platform operator also the login everywhere, so guessing an operator's password on each
    tenant's host in turn gains nothing."""
    subjects = [f"{tenant_id}:{login_key(login)}"]
    async with request.app.state.portal.database.session() as session:
        found = await find_staff(session, tenant_id, login)
    if found is not None and found.role == PLATFORM_OPERATOR:
        subjects.append(f"platform:{login_key(login)}")
    return subjects


@post("/sign-in")
async def staff_sign_in(request: Request[Any, Any, Any]) -> Template | Redirect:
    tenant_id = tenant_id_of(request)
    form = await posted(request)
    login = clean_text(form.get("login", ""))[:64]
    password = form.get("password", "")
    if not login or not password:
        return _sign_in_page(request, login=login, error="bad_credentials", status=400)
    limiter = request.app.state.portal.limiter
    login_subjects = await _login_subjects(request, tenant_id, login)
    address_subject = f"{tenant_id}:{client_address(request)}"
    for subject in login_subjects:
        if await limiter.exceeded(STAFF_SIGN_IN_PER_LOGIN, subject):
            return _sign_in_page(request, login=login, error="locked_out", status=429)
    if await limiter.exceeded(STAFF_SIGN_IN_PER_ADDRESS, address_subject):
        return _sign_in_page(request, login=login, error="locked_out", status=429)
    async with request.app.state.portal.database.session() as session:
        result = await authenticate_staff(
            session, tenant_id=tenant_id, login=login, password=password
        )
    if result.outcome == "bad_credentials":
        for subject in login_subjects:
            await limiter.hit(STAFF_SIGN_IN_PER_LOGIN, subject)
        await limiter.hit(STAFF_SIGN_IN_PER_ADDRESS, address_subject)
        return _sign_in_page(request, login=login, error="bad_credentials", status=400)
    if result.outcome != "ok" or result.staff is None or result.staff.id is None:
        return _sign_in_page(request, login=login, error=result.outcome, status=400)
    for subject in login_subjects:
        await limiter.reset(STAFF_SIGN_IN_PER_LOGIN, subject)
    async with request.app.state.portal.database.session() as session:
        Actor.of(result.staff, client_address(request)).record(
            session,
            tenant_id=tenant_id,
            action="staff.sign_in",
            target_type="staff_user",
            target_id=result.staff.id,
            after={"role": result.staff.role},
        )
        await session.commit()
    return await start_session(request, _staff_next(form.get("next")), staff_id=result.staff.id)


@post("/sign-out")
async def staff_sign_out(request: Request[Any, Any, Any]) -> Redirect:
    return await end_session(request, "/admin/sign-in")


# --- the dashboard and the activation queue --------------------------------------------


@get("/")
async def dashboard(request: Request[Any, Any, Any]) -> Template:
    staff = require_staff(request)
    config = tenant_of(request)
    async with request.app.state.portal.database.session() as session:
        pending = await count_pending(session, tenant_id_of(request))
    return page(
        request,
        "admin/index.html",
        staff=staff,
        pending=pending,
        # A tenant without staff approval has no queue to show unless requests are waiting.
        approvals=config.registration.confirm_by == "staff_approval" or pending > 0,
        **(await admin_queues.dashboard_counts(request)),
    )


def _field_labels(config: TenantConfig, request: ActivationRequest, locale: str) -> dict[str, str]:
    labels = {}
    for field in request_fields(config, request):
        if field.type in _NEVER_SHOWN:
            continue
        label = config.text(field.label, locale)
        if not label and field.identifier:
            label = config.text(config.identifier(field.identifier).label, locale)
        labels[field.name] = label or field.name
    return labels


def _rows(
    config: TenantConfig, request: ActivationRequest, translate: Translator
) -> list[dict[str, Any]]:
    """Each typed value with its label and whether it matched billing data (None: not checked)."""
    labels = _field_labels(config, request, translate.locale)
    hidden = {f.name for f in request_fields(config, request) if f.type in _NEVER_SHOWN}
    ordered = [name for name in labels if name in request.values]
    ordered += [name for name in request.values if name not in labels and name not in hidden]
    return [
        {
            "name": name,
            "label": labels.get(name, name),
            "value": request.values[name],
            "matched": request.checks.get(name),
        }
        for name in ordered
    ]


@get("/activations")
async def activations(request: Request[Any, Any, Any]) -> Template:
    require_staff(request)
    config = tenant_of(request)
    translate = i18n(request)
    async with request.app.state.portal.database.session() as session:
        queue = await pending_requests(session, tenant_id_of(request))
    items = []
    for activation, account in queue:
        rows = _rows(config, activation, translate)
        items.append(
            {
                "request": activation,
                "account": account,
                "rows": rows,
                "mismatches": [row["label"] for row in rows if row["matched"] is False],
                "account_found": activation.checks.get("account"),
            }
        )
    return page(request, "admin/activations.html", items=items)


async def _detail_page(
    request: Request[Any, Any, Any],
    request_id: int,
    *,
    error: str = "",
    reason: str = "",
    reason_error: str = "",
    status: int = 200,
) -> Template:
    config = tenant_of(request)
    tenant_id = tenant_id_of(request)
    async with request.app.state.portal.database.session() as session:
        activation = await find_request(session, tenant_id, request_id)
        if activation is None:
            raise NotFoundException()
        account: Account | None = await account_of(session, tenant_id, activation)
        decided_by = (
            await session.get(StaffUser, activation.decided_by) if activation.decided_by else None
        )
    if decided_by is not None and decided_by.tenant_id != tenant_id:
        decided_by = None
    pending = activation.status == PENDING
    if reason_error and not pending:
        # Decided meanwhile: that matters more than the empty reason.
        error, reason_error, status = "already_decided", "", 409
    return page(
        request,
        "admin/activation.html",
        status_code=status,
        activation=activation,
        account=account,
        rows=_rows(config, activation, i18n(request)),
        account_found=activation.checks.get("account"),
        pending=pending,
        decided_by=decided_by,
        error=i18n(request).gettext(_DECISION_MESSAGES[error]) if error else "",
        reason=reason,
        reason_error=reason_error,
        reason_length=REASON_LENGTH,
    )


@get("/activations/{request_id:int}")
async def activation_detail(request: Request[Any, Any, Any], request_id: FromPath[int]) -> Template:
    require_staff(request)
    return await _detail_page(request, request_id)


def _after_decision(
    request: Request[Any, Any, Any], request_id: int, decision: Decision
) -> Redirect | None:
    if decision.outcome == "not_found":
        raise NotFoundException()
    if decision.outcome in ("approved", "rejected"):
        return Redirect(f"/admin/activations/{request_id}", status_code=303)
    return None


@post("/activations/{request_id:int}/approve")
async def approve(
    request: Request[Any, Any, Any], request_id: FromPath[int]
) -> Template | Redirect:
    staff = require_staff(request)
    assert staff.id is not None
    async with request.app.state.portal.database.session() as session:
        decision = await approve_activation(
            session,
            config=tenant_of(request),
            tenant_id=tenant_id_of(request),
            request_id=request_id,
            staff_id=staff.id,
            renderer=render_message,
            actor=Actor.of(staff, client_address(request)),
        )
    return _after_decision(request, request_id, decision) or await _detail_page(
        request, request_id, error=decision.outcome, status=409
    )


@post("/activations/{request_id:int}/reject")
async def reject(request: Request[Any, Any, Any], request_id: FromPath[int]) -> Template | Redirect:
    staff = require_staff(request)
    assert staff.id is not None
    translate = i18n(request)
    typed = (await posted(request)).get("reason", "")
    reason = clean_text(typed)
    problem = ""
    if not reason:
        problem = translate.gettext(N_("Give the reason: the customer receives it by SMS."))
    elif len(reason) > REASON_LENGTH:
        problem = translate.gettext(
            N_("The reason is too long: write at most %(limit)d characters.")
        ) % {"limit": REASON_LENGTH}
    if problem:
        return await _detail_page(
            request, request_id, reason=typed[:2000], reason_error=problem, status=400
        )
    async with request.app.state.portal.database.session() as session:
        decision = await reject_activation(
            session,
            config=tenant_of(request),
            tenant_id=tenant_id_of(request),
            request_id=request_id,
            staff_id=staff.id,
            reason=reason,
            renderer=render_message,
            actor=Actor.of(staff, client_address(request)),
        )
    return _after_decision(request, request_id, decision) or await _detail_page(
        request, request_id, error=decision.outcome, status=409
    )


routes: list[Any] = [
    Router(
        path="/admin",
        route_handlers=[
            staff_sign_in_form,
            staff_sign_in,
            staff_sign_out,
            dashboard,
            activations,
            activation_detail,
            approve,
            reject,
            *admin_queues.handlers,
            *admin_config.handlers,
            *admin_support.handlers,
            *admin_billing.handlers,
            *admin_platform.handlers,
        ],
        exception_handlers={StaffRequired: _to_sign_in},
    )
]
