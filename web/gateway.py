"""The outermost layer: host → tenant → locale, security headers and the access log.

It wraps the whole Litestar app rather than sitting in its middleware stack,
because Litestar runs middleware only for matched routes, and an unknown host
must be refused on every path, including ones that do not exist.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, nullcontext
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from tenants.hosts import HostMap
from web.auth import SESSION_COOKIE
from web.i18n import LANGUAGE_COOKIE, loaded_locales, negotiate_locale, translator_for
from web.rendering import base_context

access_log = logging.getLogger("portal.access")

# Paths served the same on every host, before any tenant is looked up.
HOSTLESS_PREFIXES = ("/static/", "/healthz", "/readyz", "/favicon.ico")
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
# Demo mode's "show message ids" switch: ?msgids=1 turns it on until ?msgids=0.
MSGIDS_SWITCH = "msgids"
# The draft version a staff member previews the site with (set by the configuration editor).
PREVIEW_COOKIE = "config_preview"


def content_security_policy(nonce: str) -> str:
    # Scripts only from our own origin, never inline; the tenant's colours arrive in one
    # inline <style> carrying this response's nonce.
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            f"style-src 'self' 'nonce-{nonce}'",
            "img-src 'self' data:",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def _cookies(header: str) -> dict[str, str]:
    """The Cookie header's values, parsed once per request (SimpleCookie is slow)."""
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # a mangled Cookie header is treated as no cookies
        return {}
    return {key: morsel.value for key, morsel in jar.items()}


class Gateway:
    """Resolves the tenant and locale for every HTTP request, then calls the app."""

    def __init__(
        self,
        app: ASGIApp,
        host_map: Callable[[], HostMap],
        render_unknown_host: Callable[[dict[str, Any]], str],
        resolve_visitor: Callable[[str, str], Awaitable[Any]] | None = None,
        resolve_preview: Callable[[str, int], Awaitable[Any]] | None = None,
        request_scope: Callable[[], AbstractAsyncContextManager[None]] | None = None,
    ) -> None:
        self.app = app
        self.host_map = host_map
        self.render_unknown_host = render_unknown_host
        # (tenant slug, session token) → the visitor, or None; see web.auth.
        self.resolve_visitor = resolve_visitor
        # (tenant slug, version) → that version's configuration, or None; see `_preview`.
        self.resolve_preview = resolve_preview
        # Entered around each tenant or platform request: the database's shared read session.
        self.request_scope = request_scope or nullcontext

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = _headers(scope)
        host = headers.get("host", "")
        nonce = secrets.token_urlsafe(16)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["nonce"] = nonce
        outcome: dict[str, Any] = {"status": 500}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                outcome["status"] = message["status"]
                extra = self._response_headers(nonce, state)
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        try:
            path = scope["path"]
            if path.startswith(HOSTLESS_PREFIXES):
                await self.app(scope, receive, send_with_headers)
                return
            async with self.request_scope():
                await self._route(scope, receive, send_with_headers, headers, host)
        finally:
            tenant_config = state.get("tenant")
            access_log.info(
                json.dumps(
                    {
                        "method": scope.get("method"),
                        "path": scope.get("path"),
                        "host": host,
                        "tenant": tenant_config.slug if tenant_config else None,
                        "locale": state.get("locale"),
                        "status": outcome["status"],
                        "ms": round((time.perf_counter() - started) * 1000, 2),
                    },
                    ensure_ascii=False,
                )
            )

    async def _route(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str], host: str
    ) -> None:
        state = scope["state"]
        cookies = _cookies(headers.get("cookie", ""))
        host_map = self.host_map()
        tenant = host_map.tenant_for(host)
        platform = tenant is None and host_map.is_platform(host)
        if tenant is not None:
            await self._resolve_visitor(state, cookies, tenant.slug)
            tenant = await self._preview(state, cookies, tenant)
        self._choose_locale(state, headers, cookies, scope, tenant)
        if tenant is None and not platform:
            await self._unknown_host(state, scope, send)
            return
        state["tenant"] = tenant
        state["platform"] = platform
        await self.app(scope, receive, send)

    async def _resolve_visitor(
        self, state: dict[str, Any], cookies: Mapping[str, str], slug: str
    ) -> None:
        """The session comes before the locale: a signed-in customer's saved language counts."""
        token = cookies.get(SESSION_COOKIE)
        if not token or self.resolve_visitor is None:
            return
        found = await self.resolve_visitor(slug, token)
        if found is None:
            return
        state["visitor"] = found
        person = found.customer or found.staff
        locale = getattr(person, "locale", None)
        if locale:
            state["saved_locale"] = locale

    async def _preview(self, state: dict[str, Any], cookies: Mapping[str, str], tenant: Any) -> Any:
        """The draft configuration a staff member of this tenant previews the site with.

        Only staff who may manage the tenant (the only staff `_resolve_visitor` accepts on
        its host) are ever shown a draft; customers and everyone else get the live one.
        """
        found = state.get("visitor")
        if self.resolve_preview is None or found is None or found.staff is None:
            return tenant
        raw = cookies.get(PREVIEW_COOKIE, "")
        if not raw.isdigit() or len(raw) > 9:
            return tenant
        draft = await self.resolve_preview(tenant.slug, int(raw))
        if draft is None:
            return tenant
        state["config_preview"] = int(raw)
        return draft

    def _choose_locale(
        self,
        state: dict[str, Any],
        headers: dict[str, str],
        cookies: Mapping[str, str],
        scope: Scope,
        tenant: Any,
    ) -> None:
        if tenant is not None:
            enabled, default = list(tenant.locales.enabled), tenant.locales.default
        else:
            enabled, default = loaded_locales(), "en"
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        explicit = query["lang"][0] if query.get("lang") else None
        cookie = cookies.get(LANGUAGE_COOKIE)
        locale = negotiate_locale(
            enabled=enabled,
            default=default,
            explicit=explicit,
            cookie=cookie,
            saved_preference=state.get("saved_locale"),
            accept_language=headers.get("accept-language"),
        )
        state["locale"] = locale
        state["platform_locales"] = loaded_locales()
        state["remember_locale"] = explicit == locale and cookie != locale
        state["i18n"] = translator_for(
            locale,
            terminology=tenant.terminology if tenant else None,
            currency=tenant.currency if tenant else "USD",
            timezone=tenant.timezone if tenant else "UTC",
            show_msgids=self._show_msgids(state, query, cookies),
        )

    def _show_msgids(
        self, state: dict[str, Any], query: dict[str, list[str]], cookies: Mapping[str, str]
    ) -> bool:
        """Whether texts carry their msgids; only ever in demo mode."""
        portal = getattr(getattr(self.app, "state", None), "portal", None)
        if portal is None or not portal.settings.demo:
            return False
        remembered = cookies.get(MSGIDS_SWITCH) == "1"
        asked = query[MSGIDS_SWITCH][0] if query.get(MSGIDS_SWITCH) else None
        if asked not in ("0", "1"):
            return remembered
        show = asked == "1"
        if show != remembered:
            state["remember_msgids"] = show
        return show

    def _response_headers(self, nonce: str, state: dict[str, Any]) -> list[tuple[bytes, bytes]]:
        headers = [
            (b"content-security-policy", content_security_policy(nonce).encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
            (b"x-frame-options", b"DENY"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
        ]
        if "locale" in state:
            headers.append((b"content-language", state["locale"].replace("_", "-").encode()))
        if state.get("remember_locale"):
            # Host-only (no Domain attribute): one tenant's choice never leaks to another.
            cookie = (
                f"{LANGUAGE_COOKIE}={state['locale']}; Path=/; Max-Age={LANGUAGE_COOKIE_AGE}; "
                "SameSite=Lax"
            )
            headers.append((b"set-cookie", cookie.encode()))
        if "remember_msgids" in state:
            # A browser-session cookie: the switch is a translator's tool, not a preference.
            cookie = (
                f"{MSGIDS_SWITCH}=1; Path=/; SameSite=Lax; HttpOnly"
                if state["remember_msgids"]
                else f"{MSGIDS_SWITCH}=; Path=/; Max-Age=0; SameSite=Lax; HttpOnly"
            )
            headers.append((b"set-cookie", cookie.encode()))
        return headers

    async def _unknown_host(self, state: dict[str, Any], scope: Scope, send: Send) -> None:
        context = base_context(
            i18n=state["i18n"],
            path=scope["path"],
            nonce=state["nonce"],
            tenant=None,
            locales=state["platform_locales"],
            demo=False,
        )
        body = self.render_unknown_host(context).encode("utf-8")
        start: Any = {
            "type": "http.response.start",
            "status": 404,
            "headers": [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
        await send(start)
        end: Any = {"type": "http.response.body", "body": body}
        await send(end)
