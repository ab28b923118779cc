"""Pages as PDF documents: the page's own template, printed with WeasyPrint.

A document is rendered from the very template its page uses, in an environment where
"base.html" is the print layout (the tenant's name, the date, no navigation), so the
page and its PDF never drift apart. A print stylesheet hides the forms and buttons,
sets A4 pages and a font stack that covers Chinese as well as Cyrillic and Latin.
WeasyPrint is slow and blocking, so it runs in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import anyio.to_thread
from jinja2 import BaseLoader, Environment, FileSystemLoader
from litestar import Response

from domain.charges import PDF_TYPE
from web.rendering import TEMPLATES, create_environment

PRINT_BASE = "charges/print_base.html"
STYLESHEET = Path(__file__).resolve().with_name("pdf.css")
# WeasyPrint logs each of its seven steps at INFO for every document: not worth a log line.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)


class _PrintLoader(FileSystemLoader):
    """The pages' templates, except that "base.html" is the print layout."""

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        return super().get_source(environment, PRINT_BASE if template == "base.html" else template)


@cache
def _environment() -> Environment:
    environment = create_environment()
    loader: BaseLoader = _PrintLoader(TEMPLATES)
    environment.loader = loader
    # A document has no forms to protect; templates that print a token get an empty one.
    environment.globals["csrf_token"] = lambda: ""
    environment.globals["asset_version"] = ""
    return environment


@cache
def _stylesheet_text() -> str:
    return STYLESHEET.read_text(encoding="utf-8")


def render_html(template: str, context: dict[str, Any]) -> str:
    """The page's HTML in the print layout (`pdf` is true for templates that ask)."""
    return _environment().get_template(template).render({**context, "pdf": True})


def _write_pdf(html: str) -> bytes:
    # Imported on the first document, not at start-up: WeasyPrint and the Pango, HarfBuzz
    # and fontconfig libraries it loads take some 30 MB in every worker that never prints.
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration
    from weasyprint.urls import URLFetcher

    # Everything a document shows is in its HTML and the stylesheet: nothing is fetched.
    fetcher = URLFetcher(allowed_protocols=())
    fonts = FontConfiguration()
    stylesheet = CSS(string=_stylesheet_text(), font_config=fonts, url_fetcher=fetcher)
    document = HTML(string=html, url_fetcher=fetcher, media_type="print")
    pdf: bytes = document.write_pdf(stylesheets=[stylesheet], font_config=fonts)
    return pdf


# Laying out a document takes a core and tens of megabytes: a burst of downloads waits its
# turn instead of taking every worker thread (password hashing needs them too).
RENDERS_AT_ONCE = 2
_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = (
    weakref.WeakKeyDictionary()
)


def _limiter() -> anyio.CapacityLimiter:
    """The limiter of the running event loop (a limiter belongs to one loop)."""
    loop = asyncio.get_running_loop()
    limiter = _limiters.get(loop)
    if limiter is None:
        limiter = _limiters[loop] = anyio.CapacityLimiter(RENDERS_AT_ONCE)
    return limiter


async def render_pdf(template: str, context: dict[str, Any]) -> bytes:
    """A page's template as a PDF; the layout runs in a worker thread, never on the loop."""
    html = render_html(template, context)
    return await anyio.to_thread.run_sync(_write_pdf, html, limiter=_limiter())


def content_disposition(ascii_name: str, display_name: str) -> str:
    """`attachment` with an ASCII file name, plus the reader's-language one (RFC 5987/6266)."""
    safe = "".join(c for c in ascii_name if c.isascii() and (c.isalnum() or c in "-_."))
    value = f'attachment; filename="{safe or "document.pdf"}"'
    if display_name and display_name != safe:
        value += f"; filename*=UTF-8''{quote(display_name, safe='')}"
    return value


def pdf_response(pdf: bytes, *, ascii_name: str, display_name: str) -> Response[bytes]:
    return Response(
        content=pdf,
        media_type=PDF_TYPE,
        headers={
            "Content-Disposition": content_disposition(ascii_name, display_name),
            # A statement is the customer's own: never kept by a shared cache.
            "Cache-Control": "private, no-store",
        },
    )
