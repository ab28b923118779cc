"""Small things every form handler needs: the posted values, the tenant's today, the HTMX check."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Request
from litestar.exceptions import NotFoundException

from tenants.schema import Module, TenantConfig
from web.forms import posted_strings
from web.i18n import Translator


async def posted(request: Request[Any, Any, Any]) -> dict[str, str]:
    return posted_strings(await request.form())


def now(request: Request[Any, Any, Any]) -> datetime:
    moment: datetime = request.app.state.portal.clock()
    return moment


def tenant_today(request: Request[Any, Any, Any], config: TenantConfig) -> date:
    """Today in the tenant's time zone: an initial password or a reading window ends there."""
    return now(request).astimezone(ZoneInfo(config.timezone)).date()


def i18n(request: Request[Any, Any, Any]) -> Translator:
    translator: Translator = request.scope["state"]["i18n"]
    return translator


def pepper(request: Request[Any, Any, Any]) -> str:
    """The server secret that keys hashes of one-time secrets and signs form tickets."""
    secret: str = request.app.state.portal.settings.secret_key
    return secret


def require_module(config: TenantConfig, module: Module) -> None:
    """A page of a module the tenant has not enabled does not exist on its site."""
    if not config.has(module):
        raise NotFoundException()
