"""The broadband line page and usage details over HTTP (seed 002): plan and payment mode,
status with its reason and date, bills and whether they are paid, sessions grouped by the
period in which they end, bad periods, other customers' accounts, other tenants.

The helpers here make lines of a test's own; the request tests import them.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlmodel import func, select

from domain.db import Database
from domain.models import (
    BroadbandRequest,
    BroadbandService,
    Charge,
    Payment,
    Tenant,
    UsageSession,
)
from tests.conftest import tenant_url
from tests.helpers import create_customer, sign_in, text_of, unique_digits
from tests.web.test_cabinet_home import Made, link, make_account, money

SLUG = "beijing-unicom"
BEIJING = ZoneInfo("Asia/Shanghai")


def beijing(*args: int) -> datetime:
    """A moment in Beijing time."""
    return datetime(*args, tzinfo=BEIJING)  # type: ignore[arg-type,misc]


def set_clock(client: httpx.AsyncClient, moment: datetime) -> None:
    client._transport.app.portal.clock = lambda: moment  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def english_in_november(client: httpx.AsyncClient) -> None:
    """Pages in English, on 21 November 2026 in Beijing, unless a test says otherwise."""
    client.headers["accept-language"] = "en"
    set_clock(client, beijing(2026, 11, 21, 10, 0))


@dataclass(frozen=True)
class Bill:
    period: date
    amount: str
    group: str = "unlimited_monthly"


async def make_line(
    database_url: str,
    *,
    plan: str = "unlimited_monthly",
    mode: str = "prepaid_cash",
    status: str = "active",
    reason: str | None = None,
    since: date | None = None,
    bills: Iterable[Bill] = (),
    payments: Iterable[tuple[datetime, str]] = (),
    sessions: Iterable[tuple[datetime, datetime, str]] = (),
) -> Made:
    """A beijing-unicom account of the test's own with a broadband line on it."""
    account = await make_account(database_url, SLUG, meters=(), holder_name="王伟")
    database = Database(database_url)
    try:
        async with database.session() as session:
            tenant = (await session.exec(select(Tenant).where(Tenant.slug == SLUG))).one()
            tenant_id = tenant.id or 0
            session.add(
                BroadbandService(
                    tenant_id=tenant_id,
                    account_id=account.id,
                    plan_key=plan,
                    payment_mode=mode,
                    status=status,
                    status_reason=reason,
                    status_since=since,
                )
            )
            for bill in bills:
                session.add(
                    Charge(
                        tenant_id=tenant_id,
                        account_id=account.id,
                        period=bill.period,
                        service="broadband",
                        tariff_group=bill.group,
                        volume=Decimal(1),
                        tariff=Decimal(bill.amount),
                        vat_percent=Decimal(9),
                        amount=Decimal(bill.amount),
                    )
                )
            for paid_at, amount in payments:
                session.add(
                    Payment(
                        tenant_id=tenant_id,
                        account_id=account.id,
                        paid_at=paid_at,
                        amount=Decimal(amount),
                        provider="billing",
                        reference=secrets.token_hex(8),
                    )
                )
            for started, ended, megabytes in sessions:
                session.add(
                    UsageSession(
                        tenant_id=tenant_id,
                        account_id=account.id,
                        started_at=started,
                        ended_at=ended,
                        megabytes=Decimal(megabytes),
                    )
                )
            await session.commit()
    finally:
        await database.dispose()
    return account


async def signed_in_holder(
    client: httpx.AsyncClient, database_url: str, accounts: Iterable[Made] = ()
) -> int:
    """A new beijing-unicom customer (signing in by contract number) holding `accounts`."""
    contract = "97" + unique_digits(8)
    customer_id = await create_customer(
        database_url, SLUG, {"contract_number": contract}, full_name="王伟"
    )
    for account in accounts:
        await link(database_url, SLUG, customer_id, account.id)
    response = await sign_in(client, SLUG, contract)
    assert response.status_code == 303, response.text
    return customer_id


async def requests_of(database_url: str, account_id: int) -> list[BroadbandRequest]:
    database = Database(database_url)
    try:
        async with database.session() as session:
            rows = await session.exec(
                select(BroadbandRequest).where(BroadbandRequest.account_id == account_id)
            )
            return list(rows.all())
    finally:
        await database.dispose()


async def line_text(client: httpx.AsyncClient, account: Made) -> str:
    response = await client.get(tenant_url(SLUG, f"/accounts/{account.id}/broadband"))
    assert response.status_code == 200, response.text
    return text_of(response.text)


def m(amount: str) -> str:
    return money(amount, SLUG)


def months(*pairs: tuple[int, int], amount: str = "120.00") -> list[Bill]:
    return [Bill(date(y, mo, 1), amount) for y, mo in pairs]


# --- the line: plan, payment mode, status and why ----------------------------------------


async def test_an_active_prepaid_line_with_its_bills(
    client: httpx.AsyncClient, database_url: str
) -> None:
    account = await make_line(
        database_url,
        bills=months((2026, 9), (2026, 10), (2026, 11)),
        payments=[
            (beijing(2026, 8, 20, 10), "120.00"),
            (beijing(2026, 9, 20, 10), "120.00"),
            (beijing(2026, 10, 20, 10), "120.00"),
        ],
    )
    await signed_in_holder(client, database_url, [account])
    page = await line_text(client, account)
    assert "Plan Unlimited monthly " + m("120.00") + " a month" in page
    assert "Prepaid, in cash You pay first and use afterwards" in page
    assert "Status Active" in page and "Reason" not in page
    assert (
        "November 2026 Nov 1, 2026 to Nov 30, 2026 Unlimited monthly " + m("120.00") + " Paid"
        in page
    )
    response = await client.get(tenant_url(SLUG, f"/accounts/{account.id}/broadband"))
    assert f'href="/accounts/{account.id}/pay"' in response.text
    assert f'href="/accounts/{account.id}/payments"' in response.text
    # Offered while active: plan change, suspension, closure; not resume.
    for kind in ("plan_change", "suspend", "close"):
        assert f"/broadband/request?kind={kind}" in response.text
    assert "kind=resume" not in response.text


async def test_suspended_because_the_balance_on_the_first_was_short(
    client: httpx.AsyncClient, database_url: str
) -> None:
    account = await make_line(
        database_url,
        bills=months((2026, 9), (2026, 10)),
        payments=[
            (beijing(2026, 8, 20, 10), "120.00"),
            (beijing(2026, 9, 20, 10), "120.00"),
            (beijing(2026, 10, 26, 10), "40.00"),
        ],
    )
    await signed_in_holder(client, database_url, [account])
    page = await line_text(client, account)
    assert "Status Suspended Suspended since November 1, 2026" in page
    assert (
        "On the 1st of the month the balance of the account did not cover the monthly fee of "
        + m("120.00")
    ) in page
    assert "If the balance is not topped up within 2 months, the service is closed." in page
    assert "To resume the service, pay at least " + m("80.00") + "." in page
    response = await client.get(tenant_url(SLUG, f"/accounts/{account.id}/broadband"))
    assert "kind=resume" in response.text and "kind=suspend" not in response.text
    assert "kind=plan_change" not in response.text


async def test_closed_after_two_months_unpaid_on_bank_transfer(
    client: httpx.AsyncClient, database_url: str
) -> None:
    account = await make_line(
        database_url,
        mode="postpaid_bank",
        bills=months((2026, 5), (2026, 6), (2026, 7)),
        payments=[(beijing(2026, 6, 10, 10), "120.00")],
    )
    await signed_in_holder(client, database_url, [account])
    page = await line_text(client, account)
    assert "Postpaid, by bank transfer" in page
    assert "Status Closed Closed on October 1, 2026" in page
    assert "The account was not paid up within 2 months after the service was suspended." in page
    assert (
        "July 2026 Jul 1, 2026 to Jul 31, 2026 Unlimited monthly " + m("120.00") + " Unpaid" in page
    )
    assert "May 2026 May 1, 2026 to May 31, 2026 Unlimited monthly " + m("120.00") + " Paid" in page
    assert "no more requests can be made" in page
    response = await client.get(tenant_url(SLUG, f"/accounts/{account.id}/broadband"))
    assert "/broadband/request?kind=" not in response.text


async def test_suspended_at_the_customers_request_and_closed_by_request(
    client: httpx.AsyncClient, database_url: str
) -> None:
    voluntary = await make_line(
        database_url,
        plan="limited_monthly_60h",
        status="suspended",
        reason="voluntary",
        since=date(2026, 10, 1),
        bills=[
            Bill(date(2026, 9, 1), "50.00", "limited_monthly_60h"),
            Bill(date(2026, 10, 1), "10.00", "suspension"),
            Bill(date(2026, 11, 1), "10.00", "suspension"),
        ],
        payments=[(beijing(2026, 8, 20, 10), "50.00"), (beijing(2026, 9, 20, 10), "20.00")],
    )
    closed = await make_line(
        database_url, status="closed", reason="requested", since=date(2026, 9, 30)
    )
    await signed_in_holder(client, database_url, [voluntary, closed])
    page = await line_text(client, voluntary)
    assert "Status Suspended Suspended since October 1, 2026" in page
    assert "You asked for the service to be suspended." in page
    assert "the suspension fee of " + m("10.00") + " a month" in page
    assert "If the suspension fee is not paid for 2 months in a row, the service is closed." in page
    assert "October 2026 Oct 1, 2026 to Oct 31, 2026 Suspension fee " + m("10.00") + " Paid" in page
    page = await line_text(client, closed)
    assert "Status Closed Closed on September 30, 2026" in page
    assert "The service was closed at the customer's request." in page
    assert "There are no bills yet." in page


async def test_a_partly_paid_bill_and_the_zh_page(
    client: httpx.AsyncClient, database_url: str
) -> None:
    account = await make_line(
        database_url,
        mode="postpaid_bank",
        bills=months((2026, 9), (2026, 10)),
        payments=[(beijing(2026, 10, 10, 10), "100.00")],
    )
    await signed_in_holder(client, database_url, [account])
    page = await line_text(client, account)
    assert "Partly paid " + m("20.00") + " still to pay" in page
    client.headers["accept-language"] = "zh-CN"
    response = await client.get(tenant_url(SLUG, f"/accounts/{account.id}/broadband"))
    assert response.status_code == 200
    assert "不限时包月" in response.text  # the plan's label in Chinese
    assert money("120.00", SLUG, "zh_Hans_CN") in text_of(response.text)


async def test_an_account_without_a_line(client: httpx.AsyncClient, database_url: str) -> None:
    account = await make_account(database_url, SLUG, meters=())
    await signed_in_holder(client, database_url, [account])
    page = await line_text(client, account)
    assert "There is no broadband service on this account." in page
    for path in ("/broadband/usage", "/broadband/request?kind=close"):
        response = await client.get(tenant_url(SLUG, f"/accounts/{account.id}{path}"))
        assert response.status_code == 404


# --- other customers, other tenants ------------------------------------------------------


async def test_another_customers_line_is_not_found(
    client: httpx.AsyncClient, database_url: str
) -> None:
    theirs = await make_line(
        database_url,
        bills=months((2026, 10)),
        sessions=[(beijing(2026, 10, 3, 20), beijing(2026, 10, 3, 21), "123.456")],
    )
    mine = await make_line(database_url)
    await signed_in_holder(client, database_url, [mine])
    for path in (
        "/broadband",
        "/broadband/usage?period=2026-10",
        "/broadband/request?kind=close",
    ):
        response = await client.get(tenant_url(SLUG, f"/accounts/{theirs.id}{path}"))
        assert response.status_code == 404
        assert theirs.number not in response.text and "123.456" not in response.text
    for account_id in ("0", "99999999999999999999"):
        response = await client.get(tenant_url(SLUG, f"/accounts/{account_id}/broadband"))
        assert response.status_code == 404


async def test_signed_out_visitors_are_sent_to_sign_in(client: httpx.AsyncClient) -> None:
    response = await client.get(tenant_url(SLUG, "/accounts/1/broadband"))
    assert response.status_code in (302, 303)
    assert "/sign-in" in response.headers["location"]


@pytest.mark.parametrize("slug", ["ivanovo-water", "melitopol-water", "kz-vodokanal"])
async def test_other_tenants_have_no_broadband_pages(client: httpx.AsyncClient, slug: str) -> None:
    for path in ("/broadband", "/broadband/usage", "/broadband/request?kind=close"):
        response = await client.get(tenant_url(slug, f"/accounts/1{path}"))
        assert response.status_code == 404


# --- usage ---------------------------------------------------------------------------------

SESSIONS = [
    # The seed's example a year on: crosses midnight at September's end, billed in October.
    (beijing(2026, 9, 30, 23, 10, 10), beijing(2026, 10, 1, 0, 15, 20), "120.5"),
    (beijing(2026, 10, 12, 19, 0), beijing(2026, 10, 13, 21, 0), "2048"),  # 26 hours
    (beijing(2026, 10, 31, 23, 30), beijing(2026, 11, 1, 0, 30), "64"),  # November
    (beijing(2026, 11, 3, 20, 0), beijing(2026, 11, 4, 12, 0), "10"),  # 16 hours
    (beijing(2026, 12, 31, 23, 50), beijing(2027, 1, 1, 0, 20), "7.25"),  # January 2027
]


def cells(page: str) -> list[list[str]]:
    """The rows of the sessions table as text cells."""
    body = re.search(r'<caption id="sessions-caption">.*?<tbody>(.*?)</tbody>', page, re.S)
    assert body, "no sessions table"
    return [
        [text_of(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)
    ]


async def test_sessions_are_grouped_by_the_period_in_which_they_end(
    client: httpx.AsyncClient, database_url: str
) -> None:
    account = await make_line(
        database_url,
        plan="limited_monthly_60h",
        bills=[Bill(date(2026, 10, 1), "50.00", "limited_monthly_60h")],
        sessions=SESSIONS,
    )
    await signed_in_holder(client, database_url, [account])
    url = f"/accounts/{account.id}/broadband/usage"
    response = await client.get(tenant_url(SLUG, url + "?period=2026-10"))
    assert response.status_code == 200
    rows = cells(response.text)
    assert [row[2] for row in rows] == ["1:05:10", "26:00:00"]
    assert rows[0][0].startswith("Sep 30, 2026, 11:10:10")
    assert "Started in the previous period; counted here" in rows[0][0]
    assert rows[0][1].startswith("Oct 1, 2026, 12:15:20")
    page = text_of(response.text)
    assert "Total time (hours:minutes:seconds) 27:05:10" in page
    assert "Total data (megabytes) 2,168.5" in page
    assert "Included in the plan 60 hours" in page
    assert "Time beyond the included hours (hours:minutes:seconds) 0:00:00" in page
    # The default is the current period: November, with the session that crossed into it.
    response = await client.get(tenant_url(SLUG, url))
    assert [row[2] for row in cells(response.text)] == ["1:00:00", "16:00:00"]
    assert 'value="2026-11"' in response.text
    # Across the year's end: the New Year's Eve session is January's.
    set_clock(client, beijing(2027, 1, 2, 9, 0))
    response = await client.get(tenant_url(SLUG, url + "?period=2026-12"))
    assert "No sessions ended in December 2026." in text_of(response.text)
    response = await client.get(tenant_url(SLUG, url + "?period=2027-01"))
    assert [row[2] for row in cells(response.text)] == ["0:30:00"]


async def test_time_beyond_the_included_hours(client: httpx.AsyncClient, database_url: str) -> None:
    account = await make_line(
        database_url,
        plan="limited_monthly_60h",
        sessions=[
            (beijing(2026, 8, d, 8, 0), beijing(2026, 8, d, 20, 30), "100") for d in range(1, 6)
        ],
    )
    await signed_in_holder(client, database_url, [account])
    response = await client.get(
        tenant_url(SLUG, f"/accounts/{account.id}/broadband/usage?period=2026-08")
    )
    page = text_of(response.text)
    assert "Total time (hours:minutes:seconds) 62:30:00" in page
    assert "Time beyond the included hours (hours:minutes:seconds) 2:30:00" in page


@pytest.mark.parametrize(
    ("period", "message"),
    [
        ("2026-13", "Please give a month as year and month, for example 2026-11."),
        ("abc", "Please give a month as year and month, for example 2026-11."),
        (
            "2026-12",
            "That month has not started yet. The latest month you can choose is November 2026.",
        ),
        ("99999-01", "Please give a month as year and month"),
    ],
)
async def test_bad_periods(
    client: httpx.AsyncClient, database_url: str, period: str, message: str
) -> None:
    account = await make_line(database_url, sessions=SESSIONS)
    await signed_in_holder(client, database_url, [account])
    url = tenant_url(SLUG, f"/accounts/{account.id}/broadband/usage")
    response = await client.get(url, params={"period": period})
    assert response.status_code == 400
    assert message in text_of(response.text)
    assert 'aria-invalid="true"' in response.text and "sessions-caption" not in response.text
    # With htmx the period part alone comes back (htmx swaps only 2xx answers).
    partial = await client.get(url, params={"period": period}, headers={"HX-Request": "true"})
    assert partial.status_code == 200 and "<html" not in partial.text
    assert message in text_of(partial.text)
    assert "HX-Request" in partial.headers["vary"]


async def test_the_usage_partial_for_htmx(client: httpx.AsyncClient, database_url: str) -> None:
    account = await make_line(database_url, sessions=SESSIONS)
    await signed_in_holder(client, database_url, [account])
    response = await client.get(
        tenant_url(SLUG, f"/accounts/{account.id}/broadband/usage?period=2026-10"),
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="usage">') or 'id="usage"' in response.text
    assert "<html" not in response.text
    assert [row[2] for row in cells(response.text)] == ["1:05:10", "26:00:00"]


# --- the demo ----------------------------------------------------------------------------


async def test_the_demo_lines_are_consistent(database_url: str) -> None:
    """Each demo account has a line; the demo shows every situation of the seed."""
    from domain.broadband_store import load_line
    from domain.models import Account
    from tenants.loader import load_presets

    config = next(c for c in load_presets() if c.slug == SLUG)
    assert config.broadband is not None
    database = Database(database_url)
    try:
        async with database.session() as session:
            tenant = (await session.exec(select(Tenant).where(Tenant.slug == SLUG))).one()
            # The demo's accounts are the tenant's first six; tests add theirs later.
            demo = (
                await session.exec(
                    select(Account)
                    .where(Account.tenant_id == tenant.id)
                    .order_by(Account.id)  # type: ignore[arg-type]
                    .limit(6)
                )
            ).all()
            seen: set[tuple[str, str | None, str]] = set()
            for account in demo:
                line = await load_line(
                    session,
                    tenant_id=tenant.id or 0,
                    account_id=account.id or 0,
                    settings=config.broadband,
                    timezone=config.timezone,
                    today=date(2026, 11, 21),
                )
                if line is None:
                    continue
                # The row and the ledger agree on the state.
                assert line.status.state == line.service.status
                seen.add((line.status.state, line.status.reason, line.service.payment_mode))
                count = (
                    await session.exec(
                        select(func.count())
                        .select_from(UsageSession)
                        .where(UsageSession.account_id == account.id)
                    )
                ).one()
                assert count > 30
    finally:
        await database.dispose()
    assert ("suspended", "balance_short", "prepaid_cash") in seen
    assert ("closed", "unpaid", "postpaid_bank") in seen
    assert ("suspended", "voluntary", "prepaid_cash") in seen
    assert ("active", None, "postpaid_bank") in seen and ("active", None, "prepaid_cash") in seen


async def test_the_demo_customer_sees_their_line(client: httpx.AsyncClient) -> None:
    assert (await sign_in(client, SLUG, "lty03410")).status_code == 303
    cabinet = await client.get(tenant_url(SLUG, "/cabinet"))
    found = re.search(r'href="(/accounts/\d+/broadband)"', cabinet.text)
    assert found
    response = await client.get(tenant_url(SLUG, found.group(1)))
    assert response.status_code == 200
    page = text_of(response.text)
    assert "Status Active" in page and "Paid" in page
    usage = await client.get(tenant_url(SLUG, found.group(1) + "/usage?period=2026-10"))
    rows = cells(usage.text)
    assert rows and "Started in the previous period" in rows[0][0]
    assert rows[0][2] == "1:05:10"
