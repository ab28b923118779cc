"""Documents as PDF: download, or send by email with the PDF attached (through the outbox).

Each document is its page: a handler renders the page exactly as for the browser (same
checks, same 404s, same 400 with the message for a bad period) and only a page that
rendered fine is printed. The statement's own page handler is reused as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from domain.charges import PDF_TYPE, Document, email_document
from domain.models import Account
from domain.outbox import Attachment
from web.auth import require_customer, tenant_id_of, tenant_of
from web.i18n import N_, Translator
from web.messages import render_message
from web.pdf import pdf_response, render_pdf
from web.routes.account_statement import statement as statement_page
from web.routes.common import i18n, now, tenant_today

# The file name of each document in the reader's language (an ASCII one goes with it).
FILE_NAMES = {
    "charges": N_("Charges breakdown %(number)s %(period)s"),
    "statement": N_("Statement of account %(number)s %(period)s"),
    "reconciliation": N_("Reconciliation statement %(number)s %(period)s"),
}
NOTICE_PARAMETER = "document"


@dataclass(frozen=True)
class Printed:
    """A page that rendered fine, as a document: which one, of what, for which months."""

    document: Document
    account: Account
    first: date
    last: date

    @property
    def period(self) -> str:
        """The months as text, for file names and keys: "2026-10", or "2026-05_2026-10"."""
        first, last = f"{self.first:%Y-%m}", f"{self.last:%Y-%m}"
        return first if first == last else f"{first}_{last}"

    def ascii_name(self) -> str:
        return f"{self.document}-{self.account.number}-{self.period}.pdf"

    def display_name(self, translate: Translator) -> str:
        text = translate.pick(FILE_NAMES, self.document) % {
            "number": self.account.number,
            "period": self.period,
        }
        return f"{text}.pdf"


def printable(page: Template, document: Document) -> Printed | None:
    """The document a rendered page shows, or None when the page is an error (not printed)."""
    if page.status_code != 200:
        return None
    context = page.context
    first, last = context["document_first"], context["document_last"]
    return Printed(document=document, account=context["account"], first=first, last=last)


async def pdf_of(request: Request[Any, Any, Any], page: Template) -> bytes:
    """The rendered page printed, dated today in the tenant's time zone."""
    context = {**page.context, "printed_on": tenant_today(request, tenant_of(request))}
    return await render_pdf(page.template_name or "", context)


async def download(
    request: Request[Any, Any, Any], page: Template, document: Document
) -> Template | Response[bytes]:
    """The page as a PDF file, or the page itself (with its message) when it is an error."""
    printed = printable(page, document)
    if printed is None:
        return page
    pdf = await pdf_of(request, page)
    return pdf_response(
        pdf, ascii_name=printed.ascii_name(), display_name=printed.display_name(i18n(request))
    )


async def send(
    request: Request[Any, Any, Any], page: Template, document: Document, back: str
) -> Template | Redirect:
    """Queue the page's PDF to the customer's email; back to the page saying what happened.

    `back` is the page's own URL with its period; a bad period shows the page with its
    message (400) and nothing is sent.
    """
    customer = require_customer(request)
    printed = printable(page, document)
    if printed is None:
        return page
    separator = "&" if "?" in back else "?"
    if not customer.email:
        return Redirect(f"{back}{separator}{NOTICE_PARAMETER}=no_email", status_code=303)
    translate = i18n(request)
    config = tenant_of(request)
    pdf = await pdf_of(request, page)
    async with request.app.state.portal.database.session() as session:
        await email_document(
            session,
            tenant_id=tenant_id_of(request),
            customer=customer,
            document=document,
            account_id=printed.account.id or 0,
            period=printed.period,
            moment=now(request),
            locale=translate.locale,
            attachment=Attachment(printed.display_name(translate), PDF_TYPE, pdf),
            context={
                "account_number": printed.account.number,
                # Months inside a sentence: as the language writes them there.
                "first": translate.date(printed.first, "LLLL y"),
                "last": translate.date(printed.last, "LLLL y"),
            },
            renderer=render_message,
            config=config,
        )
    return Redirect(f"{back}{separator}{NOTICE_PARAMETER}=sent", status_code=303)


# --- the period statement (its page handler lives in account_statement) ----------------------


async def _statement(request: Request[Any, Any, Any], account_id: int) -> Template:
    page: Template = await statement_page.fn(request, account_id)
    result = page.context.get("result")
    if result is not None:
        page.context.update(document_first=result.first, document_last=result.last)
    return page


@get("/accounts/{account_id:int}/statement.pdf")
async def statement_pdf(
    request: Request[Any, Any, Any], account_id: FromPath[int]
) -> Template | Response[bytes]:
    return await download(request, await _statement(request, account_id), "statement")


@post("/accounts/{account_id:int}/statement/email")
async def statement_email(
    request: Request[Any, Any, Any], account_id: FromPath[int]
) -> Template | Redirect:
    page = await _statement(request, account_id)
    if page.status_code != 200:
        return page
    query = urlencode({"from": page.context["raw_from"], "to": page.context["raw_to"]})
    return await send(request, page, "statement", f"/accounts/{account_id}/statement?{query}")


routes: list[Any] = [statement_pdf, statement_email]
