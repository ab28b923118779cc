"""Who is asking: the session cookie, the signed-in customer or staff member, the client address.

The gateway resolves the session once per request (so the saved language can take
part in locale negotiation) and leaves it in the request state; handlers ask here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.exceptions import NotFoundException
from litestar.response import Redirect

from domain.models import Customer
from domain.sessions import REMEMBERED_LIFETIME, SessionRecord, SessionStore
from domain.staff import StaffUser
from tenants.schema import TenantConfig

SESSION_COOKIE = "session"


@dataclass(frozen=True)
class Visitor:
    """The session behind a request, with the customer or staff member it belongs to."""

    token: str
    record: SessionRecord
    customer: Customer | None = None
    staff: StaffUser | None = None


def tenant_of(request: Request[Any, Any, Any]) -> TenantConfig:
    tenant: TenantConfig | None = request.scope["state"].get("tenant")
    if tenant is None:
        raise NotFoundException()
    return tenant


def tenant_id_of(request: Request[Any, Any, Any]) -> int:
    return int(request.app.state.portal.tenant_ids[tenant_of(request).slug])


def visitor(request: Request[Any, Any, Any]) -> Visitor | None:
    found: Visitor | None = request.scope["state"].get("visitor")
    return found


def signed_in_customer(request: Request[Any, Any, Any]) -> Customer | None:
    found = visitor(request)
    return found.customer if found else None


def client_address(request: Request[Any, Any, Any]) -> str:
    """The address per-address limits count: the peer's, or behind a trusted proxy the
    nearest address in X-Forwarded-For that is not itself a trusted proxy.

    Only proxies named in PORTAL_TRUSTED_PROXIES are believed; anyone else could write
    any X-Forwarded-For to escape the limits.
    """
    client = request.scope.get("client")
    peer = client[0] if client else "unknown"
    trusted = request.app.state.portal.settings.trusted_proxies
    if peer not in trusted:
        return peer
    forwarded = [
        hop.strip()
        for header in request.headers.getall("x-forwarded-for", [])
        for hop in header.split(",")
        if hop.strip()
    ]
    for hop in reversed(forwarded):
        if hop not in trusted:
            return hop[:64]
    return peer


def sessions(request: Request[Any, Any, Any]) -> SessionStore:
    store: SessionStore = request.app.state.portal.sessions
    return store


def secure_cookies(request: Request[Any, Any, Any]) -> bool:
    return bool(request.app.state.portal.settings.base_domain != "localhost")


def set_session_cookie(
    request: Request[Any, Any, Any], response: Response[Any], token: str, remember: bool
) -> None:
    # Host-only (no Domain attribute): a session of one tenant is never sent to another.
    response.set_cookie(
        SESSION_COOKIE,
        token,
        path="/",
        max_age=int(REMEMBERED_LIFETIME.total_seconds()) if remember else None,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
    )


def clear_session_cookie(request: Request[Any, Any, Any], response: Response[Any]) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


async def start_session(
    request: Request[Any, Any, Any],
    target: str,
    *,
    customer_id: int | None = None,
    staff_id: int | None = None,
    remember: bool = False,
) -> Redirect:
    """Sign someone in and send them to `target`: a fresh token replaces any earlier session,
    so a session id planted before sign-in is worth nothing."""
    store = sessions(request)
    previous = visitor(request)
    if previous is not None:
        await store.revoke(previous.token)
    token = await store.create(
        tenant_id=tenant_id_of(request),
        customer_id=customer_id,
        staff_id=staff_id,
        remember=remember,
        user_agent=request.headers.get("user-agent", "")[:200],
    )
    response = Redirect(target, status_code=303)
    set_session_cookie(request, response, token, remember)
    return response


async def end_session(request: Request[Any, Any, Any], target: str) -> Redirect:
    """Sign out of this browser's session (if any) and send the visitor to `target`."""
    current = visitor(request)
    if current is not None:
        await sessions(request).revoke(current.token)
    response = Redirect(target, status_code=303)
    clear_session_cookie(request, response)
    return response


def sign_in_redirect(request: Request[Any, Any, Any]) -> Redirect:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    return Redirect(f"/sign-in?next={quote(target, safe='')}", status_code=303)


def safe_next(target: str | None, default: str = "/cabinet") -> str:
    """Only a local path may be a redirect target: never another host."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


class CustomerRequired(Exception):
    """Raised by handlers that need a signed-in customer; answered with a redirect."""


def require_customer(request: Request[Any, Any, Any]) -> Customer:
    customer = signed_in_customer(request)
    if customer is None:
        raise CustomerRequired()
    return customer
