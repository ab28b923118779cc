"""Documents sent by email: the PDF attached to a message queued in the outbox and delivered
through a real SMTP server; a double click sends one; no email address, a bad period or
another customer's account sends nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage

import httpx
from sqlmodel import col, select

from domain.db import Database
from domain.delivery import deliver_due
from domain.models import utcnow
from domain.outbox import OutboxMessage
from tests.helpers import csrf_token, submit, text_of
from tests.servers import SmtpServer
from tests.web.test_charges_support import (
    PRESETS,
    Doc,
    Line,
    document_account,
    money,
    pdf_text,
    say,
)

OCTOBER = date(2026, 10, 1)
LINES = [
    Line(OCTOBER, "cold_water", "1234.50", "5.5", "197.02", "9", "吴江华衍水务", "3"),
    Line(OCTOBER, "sewerage", "100.00", "5.5", "204.5", "9", "吴江华衍水务", "3"),
]


async def documents_of(database_url: str, customer_id: int) -> list[OutboxMessage]:
    """Every document email queued for the customer."""
    database = Database(database_url)
    try:
        async with database.session() as session:
            rows = await session.exec(
                select(OutboxMessage)
                .where(col(OutboxMessage.idempotency_key).startswith(f"document:{customer_id}:"))
                .order_by(col(OutboxMessage.id))
            )
            return list(rows.all())
    finally:
        await database.dispose()


async def deliver_mail(database_url: str, smtp_server: SmtpServer) -> None:
    database = Database(database_url)
    try:
        await deliver_due(database, smtp_server.sender(), now=utcnow() + timedelta(minutes=1))
    finally:
        await database.dispose()


async def send(client: httpx.AsyncClient, doc: Doc, page: str, action: str) -> httpx.Response:
    """Press "Send to my email" on the page, as a browser would."""
    return await submit(
        client, doc.slug, f"/accounts/{doc.id}{page}", {}, action=f"/accounts/{doc.id}{action}"
    )


async def test_the_breakdown_arrives_as_a_pdf_attachment(
    client: httpx.AsyncClient, database_url: str, smtp_server: SmtpServer
) -> None:
    slug = "wujiang-water"
    client.headers["accept-language"] = "zh-Hans"
    doc = await document_account(client, database_url, slug, own_customer=True, lines=LINES)
    assert doc.email
    response = await send(client, doc, "/charges?period=2026-10", "/charges/email?period=2026-10")
    assert response.status_code == 303
    back = response.headers["location"]
    assert back == f"/accounts/{doc.id}/charges?period=2026-10&document=sent"
    page = await client.get(doc.url(back.removeprefix(f"/accounts/{doc.id}")))
    notice = say(
        slug,
        "zh_Hans",
        "We have sent the PDF to %(address)s. It should arrive in a few minutes.",
        address=doc.email,
    )
    assert notice in text_of(page.text)
    assert 'role="status"' in page.text

    [queued] = await documents_of(database_url, doc.customer_id)
    assert queued.recipient == doc.email and queued.locale == "zh_Hans"
    assert queued.attachment_type == "application/pdf"
    await deliver_mail(database_url, smtp_server)
    [mail] = [m for m in smtp_server.handler.messages if m["To"] == doc.email]
    assert isinstance(mail, EmailMessage)
    assert PRESETS[slug].name("zh_Hans") in str(mail["Subject"])
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None and doc.number in body.get_content()
    [attached] = list(mail.iter_attachments())
    assert attached.get_content_type() == "application/pdf"
    assert attached.get_filename() == queued.attachment_name
    assert str(attached.get_filename()).endswith(".pdf")
    text = pdf_text(attached.get_content())
    assert "冷水" in text and money("1334.50", slug, "zh_Hans") in text
    assert doc.number in text


async def test_a_double_click_sends_one_email(client: httpx.AsyncClient, database_url: str) -> None:
    client.headers["accept-language"] = "en"
    doc = await document_account(
        client, database_url, "melitopol-water", own_customer=True, lines=LINES
    )
    page = await client.get(doc.url("/charges?period=2026-10"))
    token = csrf_token(page.text)
    action = doc.url("/charges/email?period=2026-10")
    # Two presses at once, then one more a moment later (the same minute).
    together = await asyncio.gather(
        client.post(action, data={"_csrf_token": token}),
        client.post(action, data={"_csrf_token": token}),
    )
    again = await client.post(action, data={"_csrf_token": token})
    assert [r.status_code for r in (*together, again)] == [303, 303, 303]
    assert len(await documents_of(database_url, doc.customer_id)) == 1
    # A minute later it is a new request.
    later = datetime(2026, 11, 21, 6, 1, tzinfo=UTC)
    client._transport.app.portal.clock = lambda: later  # type: ignore[attr-defined]
    assert (await client.post(action, data={"_csrf_token": token})).status_code == 303
    assert len(await documents_of(database_url, doc.customer_id)) == 2


async def test_without_an_email_address_the_customer_is_sent_to_the_profile(
    client: httpx.AsyncClient, database_url: str
) -> None:
    client.headers["accept-language"] = "en"
    doc = await document_account(
        client, database_url, "kz-vodokanal", email=False, own_customer=True, lines=LINES
    )
    response = await send(client, doc, "/charges?period=2026-10", "/charges/email?period=2026-10")
    assert response.status_code == 303
    assert response.headers["location"].endswith("&document=no_email")
    page = await client.get(doc.url("/charges?period=2026-10&document=no_email"))
    text = text_of(page.text)
    assert "We cannot send the document: your profile has no email address." in text
    assert '<a href="/profile/email">Add an email address in your profile</a>' in page.text
    assert await documents_of(database_url, doc.customer_id) == []


async def test_nothing_is_sent_for_a_bad_period_or_someone_elses_account(
    client: httpx.AsyncClient, database_url: str, make_client: object
) -> None:
    client.headers["accept-language"] = "en"
    doc = await document_account(
        client, database_url, "melitopol-water", own_customer=True, lines=LINES
    )
    page = await client.get(doc.url("/charges?period=2026-10"))
    token = csrf_token(page.text)
    for action, message in (
        ("/charges/email?period=2026-13", "Please choose a month and a year from the lists."),
        ("/charges/email?period=2027-01", "That month has not started yet."),
        ("/statement/email?from=2026-10&to=2026-08", "The first month is after the last one."),
    ):
        response = await client.post(doc.url(action), data={"_csrf_token": token})
        assert response.status_code == 400, action
        assert message in text_of(response.text)
    # Reconciliation is not offered to an individual or by this tenant.
    response = await client.post(
        doc.url("/reconciliation/email?from=2026-08&to=2026-10"), data={"_csrf_token": token}
    )
    assert response.status_code == 404
    # Another customer pressing the button for this account finds nothing.
    other: httpx.AsyncClient = await make_client()  # type: ignore[operator]
    mine = await document_account(other, database_url, "melitopol-water", own_customer=True)
    other_token = csrf_token((await other.get(mine.url("/charges"))).text)
    for action in ("/charges/email?period=2026-10", "/statement/email?from=2026-10&to=2026-10"):
        response = await other.post(doc.url(action), data={"_csrf_token": other_token})
        assert response.status_code == 404, action
    assert await documents_of(database_url, doc.customer_id) == []
    assert await documents_of(database_url, mine.customer_id) == []


async def test_the_statement_and_the_reconciliation_by_email(
    client: httpx.AsyncClient, database_url: str
) -> None:
    client.headers["accept-language"] = "ru"
    doc = await document_account(
        client,
        database_url,
        "kz-vodokanal",
        kind="legal",
        own_customer=True,
        holder_name="ТОО «Арман»",
        lines=LINES,
    )
    sent = await send(
        client,
        doc,
        "/statement?from=2026-09&to=2026-10",
        "/statement/email?from=2026-09&to=2026-10",
    )
    assert sent.status_code == 303
    assert sent.headers["location"].endswith("?from=2026-09&to=2026-10&document=sent")
    sent = await send(
        client,
        doc,
        "/reconciliation?from=2026-09&to=2026-10",
        "/reconciliation/email?from=2026-09&to=2026-10",
    )
    assert sent.status_code == 303
    statement, reconciliation = await documents_of(database_url, doc.customer_id)
    for message, title in (
        (statement, "Statement of account %(number)s"),
        (reconciliation, "Reconciliation statement of account %(number)s"),
    ):
        assert message.locale == "ru" and message.attachment_type == "application/pdf"
        assert message.attachment is not None
        text = pdf_text(message.attachment)
        assert say("kz-vodokanal", "ru", title, number=doc.number) in text
        assert money("1334.50", "kz-vodokanal", "ru") in text
        assert str(message.attachment_name).endswith("2026-09_2026-10.pdf")
        assert doc.number in message.body_text
