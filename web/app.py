"""The app factory: every feature's routes, plugins and hooks are listed here, nowhere else."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from litestar import Litestar, Request, Response
from litestar.config.compression import CompressionConfig
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.exceptions import HTTPException, NotFoundException
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.template.config import TemplateConfig

from domain.db import Database
from domain.delivery import Senders, run_worker
from domain.tenancy import published_configs
from tenants.hosts import HostMap
from web.gateway import Gateway
from web.rendering import create_environment, page
from web.routes import dev, health, i18n_status, pages
from web.settings import PROJECT_ROOT, Settings

log = logging.getLogger("portal")
STATIC = PROJECT_ROOT / "static"


@dataclass
class PortalState:
    """What every request may need, built once per process."""

    settings: Settings
    database: Database
    host_map: HostMap = field(default_factory=lambda: HostMap("localhost", {}))
    tenant_ids: dict[str, int] = field(default_factory=dict)

    async def reload_tenants(self) -> None:
        async with self.database.session() as session:
            configs = await published_configs(session)
        self.tenant_ids = {config.slug: tenant_id for tenant_id, config in configs}
        self.host_map = HostMap.build([config for _, config in configs], self.settings.base_domain)


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
    portal = PortalState(settings=settings, database=Database(settings.database_url))
    environment = create_environment()
    environment.globals["asset_version"] = static_version()

    @asynccontextmanager
    async def lifespan(_app: Litestar) -> AsyncIterator[None]:
        await portal.reload_tenants()
        # The embedded default delivers the outbox in-process; `portal worker` does the
        # same from a process of its own, and any number of them may run side by side.
        stop_outbox = asyncio.Event()
        outbox_worker = asyncio.create_task(
            run_worker(portal.database, Senders.from_settings(settings), stop_outbox),
            name="outbox-worker",
        )
        try:
            yield
        finally:
            # A round in progress is finished; wait_for cancels it only if it overruns.
            stop_outbox.set()
            with suppress(TimeoutError):
                await asyncio.wait_for(outbox_worker, timeout=45)
            await portal.database.dispose()

    app = Litestar(
        route_handlers=[
            *pages.routes,
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
            exclude=["/healthz", "/readyz", "/static"],
        ),
        compression_config=CompressionConfig(
            backend="gzip", minimum_size=500, gzip_compress_level=6
        ),
        exception_handlers={NotFoundException: _error_page, Exception: _error_page},
        openapi_config=None,
        debug=False,
    )
    unknown_host = environment.get_template("errors/unknown_host.html")
    gateway = Gateway(app, lambda: portal.host_map, lambda context: unknown_host.render(context))
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
