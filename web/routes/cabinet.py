"""The cabinet's home: the signed-in customer's accounts with their balances.

web/app.py registers only this module's `routes`, so the account pages of
web/routes/accounts.py and web/routes/account_statement.py are listed here too.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.response import Template

from domain.accounts import account_overviews
from web.auth import require_customer, tenant_id_of, tenant_of
from web.i18n import N_
from web.rendering import page
from web.routes import account_statement, accounts
from web.routes.account_statement import month_name, statements_on
from web.routes.common import i18n

# What the cabinet confirms after a change made on another page (?done=…).
DONE = {
    "linked": N_("The account has been added to your cabinet."),
    "already": N_("This account is already in your cabinet."),
    "renamed": N_("The account's name is saved."),
    "cleared": N_("The account's name has been removed."),
    "unlinked": N_(
        "The account has been removed from your cabinet. Its data stays with the utility."
    ),
}


@get("/cabinet")
async def cabinet(request: Request[Any, Any, Any]) -> Template:
    customer = require_customer(request)
    config = tenant_of(request)
    translate = i18n(request)
    kinds = [
        kind
        for kind, module in (("benefit", "benefits"), ("subsidy", "subsidies"))
        if config.has(module)  # type: ignore[arg-type]
    ]
    async with request.app.state.portal.database.reads() as session:
        overviews = await account_overviews(
            session,
            tenant_id=tenant_id_of(request),
            customer_id=customer.id or 0,
            allowance_kinds=kinds,
        )
    done = request.query_params.get("done", "")
    linking = config.account_linking if config.has("account_linking") else None
    return page(
        request,
        "cabinet.html",
        customer=customer,
        overviews=overviews,
        done=translate.gettext(DONE[done]) if done in DONE else "",
        linking=linking,
        statements=statements_on(config),
        month_name=lambda month: month_name(translate, month),
    )


routes: list[Any] = [cabinet, *accounts.routes, *account_statement.routes]
