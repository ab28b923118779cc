"""The cabinet's home: the signed-in customer's accounts."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.response import Template

from domain.ownership import linked_accounts
from web.auth import require_customer
from web.rendering import page


@get("/cabinet")
async def cabinet(request: Request[Any, Any, Any]) -> Template:
    customer = require_customer(request)
    assert customer.id is not None
    async with request.app.state.portal.database.session() as session:
        rows = await linked_accounts(session, tenant_id=customer.tenant_id, customer_id=customer.id)
    return page(request, "cabinet.html", customer=customer, accounts=rows)


routes: list[Any] = [cabinet]
