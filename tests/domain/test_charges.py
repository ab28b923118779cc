"""The rules behind the charges breakdown and the documents sent by email: which month a
picker's text names, how lines are ordered and totalled, the idempotency key, and the email
that carries a PDF."""

from __future__ import annotations

import email
from datetime import UTC, date, datetime
from decimal import Decimal
from email.message import EmailMessage
from email.policy import default as default_policy

import pytest

from domain.charges import (
    BreakdownLine,
    BreakdownPeriodProblem,
    breakdown_month,
    build_breakdown,
    default_breakdown_month,
    document_key,
    last_day,
    month_from_parts,
)
from domain.db import Database
from domain.delivery import build_email
from domain.outbox import Attachment, OutboxMessage, enqueue
from web.messages import render_message

TODAY = date(2026, 11, 21)


def line(
    service: str, amount: str, volume: str = "0", recipient: str = "Водоканал"
) -> BreakdownLine:
    return BreakdownLine(
        recipient=recipient,
        tariff_group="3",
        service=service,
        volume=Decimal(volume),
        tariff=Decimal("197.02"),
        vat_percent=Decimal("12"),
        amount=Decimal(amount),
    )


# --- the month -----------------------------------------------------------------------------


def test_no_month_is_the_previous_one_across_a_year_end() -> None:
    assert breakdown_month("", TODAY) == date(2026, 10, 1)
    assert breakdown_month("  ", date(2027, 1, 3)) == date(2026, 12, 1)
    assert default_breakdown_month(date(2024, 3, 1)) == date(2024, 2, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-10", date(2026, 10, 1)),
        ("2026-11", date(2026, 11, 1)),  # the current month: not billed yet, but not future
        ("2000-01", date(2000, 1, 1)),
        ("2019-1", date(2019, 1, 1)),
        (" 2019-11 ", date(2019, 11, 1)),
    ],
)
def test_months_that_can_be_shown(text: str, expected: date) -> None:
    assert breakdown_month(text, TODAY) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2026-13", "bad_month"),
        ("2026-00", "bad_month"),
        ("October", "bad_month"),
        ("2026-10-01", "bad_month"),
        ("26-10", "bad_month"),
        ("99999-01", "bad_month"),
        ("２０２６-10", "bad_month"),  # full-width digits are not a month
        ("2026-12", "future"),
        ("2027-01", "future"),
        ("1999-12", "too_early"),
        ("0000-01", "too_early"),
    ],
)
def test_months_that_cannot(text: str, reason: str) -> None:
    with pytest.raises(BreakdownPeriodProblem) as raised:
        breakdown_month(text, TODAY)
    assert raised.value.reason == reason


def test_the_pickers_month_and_year_make_a_month_text() -> None:
    assert month_from_parts("7", "2026") == "2026-07"
    assert month_from_parts("10", " 2026 ") == "2026-10"
    # Whatever was typed is passed on as it is, and refused by breakdown_month.
    assert month_from_parts("13", "2026") == "2026-13"
    assert month_from_parts("", "x") == "x-"


def test_last_day_of_a_month_leap_years_included() -> None:
    assert last_day(date(2024, 2, 1)) == date(2024, 2, 29)
    assert last_day(date(2026, 2, 1)) == date(2026, 2, 28)
    assert last_day(date(2026, 12, 1)) == date(2026, 12, 31)


# --- the breakdown ---------------------------------------------------------------------------


def test_lines_by_recipient_allowances_last_with_totals() -> None:
    breakdown = build_breakdown(
        [
            line("subsidy", "-20.00"),
            line("sewerage", "100.00", "5.5", recipient="ТОО Стоки"),
            line("cold_water", "1234.50", "5.5"),
            line("benefit", "-50.00"),
            line("cold_water", "10.00", "0.25", recipient="ТОО Стоки"),
        ],
        date(2026, 10, 1),
    )
    assert [(item.recipient, item.service) for item in breakdown.lines] == [
        ("Водоканал", "cold_water"),
        ("ТОО Стоки", "cold_water"),
        ("ТОО Стоки", "sewerage"),
        ("Водоканал", "benefit"),
        ("Водоканал", "subsidy"),
    ]
    assert breakdown.total == Decimal("1274.50")
    # Volume per metered service, whoever it is for; allowances have none.
    assert [(v.service, v.volume) for v in breakdown.volumes] == [
        ("cold_water", Decimal("5.75")),
        ("sewerage", Decimal("5.5")),
    ]
    assert breakdown.has_allowances


def test_an_empty_month() -> None:
    breakdown = build_breakdown([], date(2026, 10, 1))
    assert breakdown.lines == () and breakdown.volumes == ()
    assert breakdown.total == Decimal("0.00") and not breakdown.has_allowances


# --- sending documents -----------------------------------------------------------------------


def test_a_double_click_within_the_minute_is_one_document() -> None:
    first = document_key(7, "charges", 3, "2026-10", datetime(2026, 11, 21, 10, 4, 1, tzinfo=UTC))
    again = document_key(7, "charges", 3, "2026-10", datetime(2026, 11, 21, 10, 4, 59, tzinfo=UTC))
    later = document_key(7, "charges", 3, "2026-10", datetime(2026, 11, 21, 10, 5, 0, tzinfo=UTC))
    assert first == again != later
    # Another document, period, account or customer is another email.
    moment = datetime(2026, 11, 21, 10, 4, tzinfo=UTC)
    keys = {
        document_key(7, "charges", 3, "2026-10", moment),
        document_key(7, "statement", 3, "2026-10", moment),
        document_key(7, "charges", 3, "2026-09", moment),
        document_key(7, "charges", 4, "2026-10", moment),
        document_key(8, "charges", 3, "2026-10", moment),
    }
    assert len(keys) == 5


def _message(
    attachment_name: str | None = None,
    attachment_type: str | None = None,
    attachment: bytes | None = None,
) -> OutboxMessage:
    return OutboxMessage(
        tenant_id=1,
        channel="email",
        recipient="owner@example.com",
        locale="ru",
        template="document_attached",
        subject="Расшифровка начислений",
        body_text="Во вложении PDF.\n",
        body_html="<p>Во вложении PDF.</p>\n",
        idempotency_key="document:1",
        created_at=datetime(2026, 11, 21, 10, 0),
        attachment_name=attachment_name,
        attachment_type=attachment_type,
        attachment=attachment,
    )


def test_an_email_carries_its_attachment_with_a_name_in_any_language() -> None:
    pdf = b"%PDF-1.7 test bytes"
    built = build_email(
        _message(
            attachment_name="Расшифровка 98042239 2026-10.pdf",
            attachment_type="application/pdf",
            attachment=pdf,
        ),
        "Portal <portal@example.test>",
    )
    parsed = email.message_from_bytes(built.as_bytes(), policy=default_policy)
    assert isinstance(parsed, EmailMessage)
    assert parsed.get_content_type() == "multipart/mixed"
    body = parsed.get_body(preferencelist=("plain",))
    assert body is not None and body.get_content() == "Во вложении PDF.\n"
    html = parsed.get_body(preferencelist=("html",))
    assert html is not None and "Во вложении" in html.get_content()
    [attached] = list(parsed.iter_attachments())
    assert attached.get_content_type() == "application/pdf"
    assert attached.get_filename() == "Расшифровка 98042239 2026-10.pdf"
    assert attached.get_content() == pdf


def test_an_email_without_an_attachment_is_unchanged() -> None:
    built = build_email(_message(), "Portal <portal@example.test>")
    assert built.get_content_type() == "multipart/alternative"
    assert list(built.iter_attachments()) == []


async def test_only_an_email_can_carry_an_attachment(database: Database) -> None:
    async with database.session() as session:
        with pytest.raises(ValueError, match="only an email"):
            await enqueue(
                session,
                tenant_id=1,
                channel="sms",
                recipient="+77010000000",
                locale="ru",
                template="phone_code",
                context={"code": "123456"},
                idempotency_key="sms:attachment-refused",
                renderer=render_message,
                attachment=Attachment("a.pdf", "application/pdf", b"%PDF"),
            )
