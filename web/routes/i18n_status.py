"""The translation status page for translators and operators, on the platform host only."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.exceptions import NotFoundException
from litestar.response import Template

from web.rendering import page
from web.translation_status import translation_status


# Reads the catalogs from disk on every request, so a translator sees a saved file at once.
@get("/_i18n/status", sync_to_thread=True)
def status(request: Request[Any, Any, Any]) -> Template:
    if not request.scope["state"].get("platform"):
        raise NotFoundException()
    return page(request, "i18n/status.html", locales=translation_status())


routes = [status]
