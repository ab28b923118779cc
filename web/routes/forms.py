"""Checking one field as the user leaves it (htmx); the same checks run again on submit."""

from __future__ import annotations

from typing import Any

from litestar import Request, post
from litestar.exceptions import NotFoundException
from litestar.response import Template

from tenants.schema import FormField, TenantConfig
from web.auth import tenant_of
from web.forms import check_fields, views
from web.routes.common import i18n, posted


def fields_for(config: TenantConfig, form_key: str) -> list[FormField]:
    """The fields behind a form key: "register:<variant>:<step>" or "recover:<method>"."""
    parts = form_key.split(":")
    if len(parts) == 3 and parts[0] == "register":
        variant = config.variant(parts[1])
        step = next((s for s in variant.steps if s.key == parts[2]), None) if variant else None
        if step is not None:
            return list(step.fields)
    if len(parts) == 2 and parts[0] == "recover":
        recovery = config.recovery_by(parts[1])
        if recovery is not None:
            return list(recovery.confirm_fields)
    raise NotFoundException()


@post("/forms/check")
async def check_one_field(request: Request[Any, Any, Any]) -> Template:
    config = tenant_of(request)
    form = await posted(request)
    form_key = form.get("_form", "")
    fields = fields_for(config, form_key)
    wanted = next((f for f in fields if f.name == form.get("_field")), None)
    if wanted is None:
        raise NotFoundException()
    checked = check_fields(config, [wanted], form)
    # An empty field the user has not typed in yet is not an error worth shouting about.
    problems = {k: v for k, v in checked.problems.items() if not (v == "empty" and not form.get(k))}
    view = views(config, [wanted], i18n(request), form, problems)[0]
    return Template(
        template_name="partials/field.html",
        context={"i18n": i18n(request), "f": view, "form_key": form_key},
        headers={"Vary": "HX-Request"},
    )


routes = [check_one_field]
