"""The app factory: every feature's routes, plugins and hooks are listed here, nowhere else."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment
from litestar import Litestar, Request, Response
from litestar.config.compression import CompressionConfig
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.exceptions import HTTPException, NotFoundException
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.template.config import TemplateConfig

from domain.config_editor import version_document
from domain.db import Database
from domain.delivery import Senders, run_worker
from domain.housekeeping import run_housekeeping
from domain.limits import DatabaseLimiter, Limiter, RedisLimiter
from domain.models import utcnow
from domain.reminders import run_reminders
from domain.sessions import DatabaseSessionStore, RedisSessionStore, SessionStore
from domain.staff import may_manage
from domain.tenancy import published_configs, published_signature
from tenants.hosts import HostMap
from tenants.loader import ConfigError, validate_config
from tenants.schema import TenantConfig
from web.auth import CustomerRequired, Visitor, sign_in_redirect
from web.gateway import Gateway
from web.messages import render_message
from web.rendering import create_environment, page
from web.routes import (
    admin,
    anonymous_readings,
    api,
    broadband,
    cabinet,
    charges,
    dev,
    forms,
    health,
    i18n_status,
    pages,
    payments,
    profile,
    readings,
    recovery,
    registration,
    sign_in,
    visits,
)
from web.settings import PROJECT_ROOT, Settings

log = logging.getLogger("portal")
STATIC = PROJECT_ROOT / "static"


@dataclass
class PortalState:
    """What every request may need, built once per process."""

    settings: Settings
    database: Database
    sessions: SessionStore
    limiter: Limiter
    host_map: HostMap = field(default_factory=lambda: HostMap("localhost", {}))
    tenant_ids: dict[str, int] = field(default_factory=dict)
    # The time, replaceable by tests that need a given day (e.g. an expired initial password).
    clock: Callable[[], datetime] = utcnow

    # Which version each tenant served at the last reload; see `watch_tenants`.
    published: tuple[tuple[int, int | None], ...] = ()
    # Validated versions being previewed, by (tenant id, version), with their document.
    previews: dict[tuple[int, int], tuple[dict[str, Any], TenantConfig]] = field(
        default_factory=dict
    )

    async def reload_tenants(self) -> None:
        async with self.database.session() as session:
            signature = await published_signature(session)
            configs = await published_configs(session)
        self.tenant_ids = {config.slug: tenant_id for tenant_id, config in configs}
        self.host_map = HostMap.build([config for _, config in configs], self.settings.base_domain)
        self.published = signature

    async def watch_tenants(self, stop: asyncio.Event, interval: float = 2.0) -> None:
        """Reload when any process publishes, creates or rolls back a tenant's configuration.

        Every process asks the database every `interval` seconds, so a change made through
        one worker is served by all of them within that time, without a restart.
        """
        while not stop.is_set():
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
            if stop.is_set():
                return
            try:
                await self.refresh_if_changed()
            except Exception:  # a database blip must not end the watch
                log.exception("checking for published configuration changes failed")

    async def refresh_if_changed(self) -> bool:
        """Reload the configurations if any tenant's published version changed; True if so."""
        async with self.database.session() as session:
            signature = await published_signature(session)
        if signature == self.published:
            return False
        await self.reload_tenants()
        return True

    async def preview_config(self, slug: str, version: int) -> TenantConfig | None:
        """A version of this tenant, validated, for the staff member previewing it; None if
        it does not exist or does not validate. Drafts change, so the cache is checked
        against the stored document on every use."""
        tenant_id = self.tenant_ids.get(slug)
        if tenant_id is None or (tenant_id, version) in self.published:
            return None  # the live version needs no preview
        async with self.database.session() as session:
            document = await version_document(session, tenant_id, version)
        if document is None:
            return None
        cached = self.previews.get((tenant_id, version))
        if cached is not None and cached[0] == document:
            return cached[1]
        try:
            config = validate_config(document, f"tenant {tenant_id} version {version}")
        except ConfigError:
            return None
        if config.slug != slug:
            return None
        if len(self.previews) >= 32:
            self.previews.pop(next(iter(self.previews)))
        self.previews[(tenant_id, version)] = (document, config)
        return config

    async def resolve_visitor(self, slug: str, token: str) -> Visitor | None:
        """The live session behind a cookie on this tenant, with its customer or staff member."""
        tenant_id = self.tenant_ids.get(slug)
        if tenant_id is None or len(token) > 100:
            return None
        found = await self.sessions.load_owned(token, tenant_id)
        if found is None:
            return None
        customer, staff = found.customer, found.staff
        if found.record.customer_id is not None:
            if customer is None or customer.tenant_id != tenant_id or customer.status != "active":
                return None
            return Visitor(token, found.record, customer=customer)
        if found.record.staff_id is not None:
            if staff is None or not may_manage(staff, tenant_id) or staff.status != "active":
                return None
            return Visitor(token, found.record, staff=staff)
        return None


def _stores(settings: Settings, database: Database) -> tuple[SessionStore, Limiter]:
    """Sessions and counters in Redis when PORTAL_REDIS_URL is set, else in the database."""
    if settings.redis_url:
        from redis.asyncio import Redis

        redis = Redis.from_url(settings.redis_url)
        return RedisSessionStore(redis, database), RedisLimiter(redis, settings.secret_key)
    return DatabaseSessionStore(database), DatabaseLimiter(database, settings.secret_key)


@cache
def _page_environment() -> Environment:
    """The pages' Jinja environment, one per process: its compiled templates are kept for
    every app the process makes (one in production; one per test in the suite)."""
    environment = create_environment()
    environment.globals["asset_version"] = static_version()
    return environment


def _shifted_clock(start: datetime) -> Callable[[], datetime]:
    """A clock that reads `start` now and runs on at the normal pace."""
    offset = start - utcnow()
    return lambda: utcnow() + offset


def _error_page(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    status = exc.status_code if isinstance(exc, HTTPException) else HTTP_500_INTERNAL_SERVER_ERROR
    if status >= 500:
        log.exception("unhandled error on %s", request.url.path, exc_info=exc)
    if "i18n" not in request.scope.get("state", {}):
        return Response(content={"status": status}, status_code=status)
    template = "errors/not_found.html" if status == 404 else "errors/error.html"
    return page(request, template, status_code=status, status=status)


def create_app(settings: Settings | None = None) -> Gateway:
    settings = settings or Settings.from_environment()
    database = Database(settings.database_url)
    session_store, limiter = _stores(settings, database)
    portal = PortalState(
        settings=settings, database=database, sessions=session_store, limiter=limiter
    )
    if settings.demo and settings.demo_now is not None:
        portal.clock = _shifted_clock(settings.demo_now)
    environment = _page_environment()

    @asynccontextmanager
    async def lifespan(_app: Litestar) -> AsyncIterator[None]:
        await portal.reload_tenants()
        # The embedded default delivers the outbox in-process; `portal worker` does the
        # same from a process of its own, and any number of them may run side by side.
        stop_outbox = asyncio.Event()
        outbox_worker = asyncio.create_task(
            run_worker(
                portal.database,
                Senders.from_settings(settings, settings.sms_gateway_url),
                stop_outbox,
            ),
            name="outbox-worker",
        )
        reminders = asyncio.create_task(
            run_reminders(portal.database, render_message, stop_outbox, lambda: portal.clock()),
            name="reading-reminders",
        )
        housekeeping = asyncio.create_task(
            run_housekeeping(portal.database, stop_outbox), name="housekeeping"
        )
        tenants_watch = asyncio.create_task(
            portal.watch_tenants(stop_outbox, settings.config_poll_seconds), name="tenants-watch"
        )
        try:
            yield
        finally:
            # A round in progress is finished; wait_for cancels it only if it overruns.
            stop_outbox.set()
            with suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(outbox_worker, reminders, housekeeping, tenants_watch),
                    timeout=45,
                )
            await portal.database.dispose()

    app = Litestar(
        route_handlers=[
            *pages.routes,
            *sign_in.routes,
            *cabinet.routes,
            *readings.routes,
            *anonymous_readings.routes,
            *visits.routes,
            *charges.routes,
            *payments.routes,
            *broadband.routes,
            *registration.routes,
            *recovery.routes,
            *profile.routes,
            *forms.routes,
            *admin.routes,
            *api.routes,
            *health.routes,
            *i18n_status.routes,
            *dev.routes,
            create_static_files_router(path="/static", directories=[STATIC], name="static"),
        ],
        lifespan=[lifespan],
        state=State({"portal": portal}),
        template_config=TemplateConfig(engine=JinjaTemplateEngine.from_environment(environment)),
        csrf_config=CSRFConfig(
            secret=settings.secret_key,
            cookie_name="csrftoken",
            cookie_httponly=True,
            cookie_samesite="lax",
            cookie_secure=settings.base_domain != "localhost",
            header_name="x-csrftoken",
            # A payment provider's callback comes from its server, signed with HMAC instead;
            # the billing API is called by servers with an API key, never with cookies.
            exclude=["/healthz", "/readyz", "/static", "/payments/callback", "/api/v1"],
        ),
        compression_config=CompressionConfig(
            backend="gzip", minimum_size=500, gzip_compress_level=6
        ),
        exception_handlers={
            CustomerRequired: lambda request, _exc: sign_in_redirect(request),
            NotFoundException: _error_page,
            Exception: _error_page,
        },
        before_request=profile.password_change_first,
        # Only the billing API is documented (its router opts in); pages are not an API.
        openapi_config=OpenAPIConfig(
            title="Utility portal billing API",
            version="1",
            path="/api/v1/schema",
            render_plugins=[JsonRenderPlugin()],
            components=Components(
                security_schemes={
                    "apiKey": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        description="A key made under /admin/api-keys on the utility's host.",
                    )
                }
            ),
        ),
        include_in_schema=False,
        debug=False,
        # Logging is the process's to set up (web.logs, by `portal serve`), not the app's.
        logging_config=None,
    )
    unknown_host = environment.get_template("errors/unknown_host.html")
    gateway = Gateway(
        app,
        lambda: portal.host_map,
        lambda context: unknown_host.render(context),
        resolve_visitor=portal.resolve_visitor,
        resolve_preview=portal.preview_config,
        request_scope=portal.database.request_reads,
    )
    gateway.portal = portal  # type: ignore[attr-defined]
    return gateway


def static_version(directory: Path = STATIC) -> str:
    """A cache-busting token for static URLs: changes when any asset's content changes."""
    digest = hashlib.sha256()
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:10]
