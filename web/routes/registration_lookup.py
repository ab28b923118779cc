"""“Get my account number”: holder name and mobile → the number, by SMS, on an exact match only."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Redirect, Template

from domain.limits import (
    LOOKUPS_PER_ADDRESS,
    LOOKUPS_PER_PHONE,
)
from domain.registration import (
    lookup_fields,
    send_account_number,
)
from web.auth import client_address, tenant_of
from web.forms import check_fields, views
from web.rendering import page
from web.routes.common import i18n, posted
from web.routes.registration_support import (
    TOO_MANY,
    db_session,
    over_limit,
    site_of,
)


def _lookup_page(
    request: Request[Any, Any, Any],
    *,
    form: dict[str, str] | None = None,
    problems: dict[str, str] | None = None,
    alert: str = "",
    status: int = 200,
) -> Template:
    config = tenant_of(request)
    found = lookup_fields(config)
    if found is None:
        raise NotFoundException()
    fields, step = found
    return page(
        request,
        "registration/account_number.html",
        status_code=status,
        fields=views(config, fields, i18n(request), form, problems),
        form_key=f"register:{step[0]}:{step[1]}" if step else None,
        alert=alert,
        sent=request.method == "GET" and request.query_params.get("sent") == "1",
    )


@get("/register/account-number")
async def account_number_form(request: Request[Any, Any, Any]) -> Template:
    return _lookup_page(request)


@post("/register/account-number")
async def account_number_submit(request: Request[Any, Any, Any]) -> Template | Redirect:
    config = tenant_of(request)
    found = lookup_fields(config)
    if found is None:
        raise NotFoundException()
    fields = found[0]
    form = await posted(request)
    checked = check_fields(config, fields, form)
    if not checked.ok:
        return _lookup_page(request, form=form, problems=dict(checked.problems), status=400)
    name, phone = (checked.values[f.name] for f in fields)
    if await over_limit(
        request, (LOOKUPS_PER_ADDRESS, client_address(request)), (LOOKUPS_PER_PHONE, phone)
    ):
        alert = i18n(request).gettext(TOO_MANY)
        return _lookup_page(request, form=form, alert=alert, status=429)
    async with db_session(request) as session:
        await send_account_number(session, site_of(request), holder_name=name, phone=phone)
    # The same answer whether or not anything was sent.
    return Redirect("/register/account-number?sent=1", status_code=303)


routes = [account_number_form, account_number_submit]
