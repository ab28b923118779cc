"""Development pages, served only in demo mode: the outbox of mail and SMS the portal wrote."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.exceptions import NotFoundException
from litestar.response import Template

from domain.outbox import recent_messages
from tenants.schema import TenantConfig
from web.rendering import page

OUTBOX_LIMIT = 200


@get("/_dev/outbox", include_in_schema=False)
async def outbox(request: Request[Any, Any, Any]) -> Template:
    portal = request.app.state.portal
    # Messages carry codes and links: outside a demo this page does not exist.
    if not portal.settings.demo:
        raise NotFoundException()
    tenant: TenantConfig | None = request.scope["state"].get("tenant")
    # On the bare base domain the demo operator sees every tenant's messages.
    tenant_id = portal.tenant_ids.get(tenant.slug) if tenant else None
    if tenant is not None and tenant_id is None:
        raise NotFoundException()
    async with portal.database.session() as session:
        entries = await recent_messages(session, tenant_id=tenant_id, limit=OUTBOX_LIMIT)
    return page(request, "dev/outbox.html", entries=entries, every_tenant=tenant is None)


routes = [outbox]
