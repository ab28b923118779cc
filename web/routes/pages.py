"""The tenant's public pages and the platform page on the bare base domain."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.exceptions import NotFoundException
from litestar.response import Template

from tenants.schema import TenantConfig
from web.rendering import page


def _tenant(request: Request[Any, Any, Any]) -> TenantConfig:
    tenant: TenantConfig | None = request.scope["state"].get("tenant")
    if tenant is None:
        raise NotFoundException()
    return tenant


@get("/", sync_to_thread=False)
def home(request: Request[Any, Any, Any]) -> Template:
    if request.scope["state"].get("platform"):
        portal = request.app.state.portal
        port = request.url.port
        suffix = f":{port}" if port and port not in (80, 443) else ""
        tenants = (
            [
                {
                    "config": config,
                    "url": f"{request.url.scheme}://{config.slug}.{portal.settings.base_domain}{suffix}/",
                }
                for config in portal.host_map.tenants()
            ]
            if portal.settings.demo
            else []
        )
        return page(request, "platform.html", tenants=tenants)
    tenant = _tenant(request)
    return page(request, "home.html", readings_advice=tenant.readings.advice)


@get("/contact", sync_to_thread=False)
def contact(request: Request[Any, Any, Any]) -> Template:
    tenant = _tenant(request)
    return page(request, "contact.html", centre=tenant.contact_centre)


routes = [home, contact]
