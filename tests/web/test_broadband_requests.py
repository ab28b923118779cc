"""Broadband requests over HTTP (seed 002): each is previewed with its computed effective date
before it is confirmed; Cancel records nothing; dates around month ends, year ends and leap
years in Beijing time; requests a line's state does not allow; a pending request of the
same kind; a plan not in the configuration; another customer's account."""

from __future__ import annotations

import asyncio
from datetime import date

import httpx
import pytest

from tests.conftest import tenant_url
from tests.helpers import csrf_token, text_of
from tests.web.test_broadband import (
    SLUG,
    beijing,
    english_in_november,  # noqa: F401  (the autouse fixture: English, 21 November 2026)
    m,
    make_line,
    months,
    requests_of,
    set_clock,
    signed_in_holder,
)
from tests.web.test_cabinet_home import Made


async def preview(
    client: httpx.AsyncClient, account: Made, kind: str, plan: str | None = None
) -> httpx.Response:
    params = {"kind": kind} | ({"plan": plan} if plan is not None else {})
    return await client.get(
        tenant_url(SLUG, f"/accounts/{account.id}/broadband/request"), params=params
    )


def effective_on(page: str) -> str:
    found = text_of(page).split("Takes effect ", 1)
    assert len(found) == 2, "the preview shows no effective date"
    return found[1]


async def confirm(
    client: httpx.AsyncClient, account: Made, page: httpx.Response, **changes: str
) -> httpx.Response:
    """Post the preview's own form (its hidden fields), as the Confirm button would."""
    import re

    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    fields.update(changes)
    fields["_csrf_token"] = csrf_token(page.text)
    return await client.post(
        tenant_url(SLUG, f"/accounts/{account.id}/broadband/request"), data=fields
    )


# --- previews and effective dates ----------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "kind", "expected"),
    [
        # 23:59 on New Year's Eve in Beijing (15:59 UTC): the next period is January 2027.
        (beijing(2026, 12, 31, 23, 59), "plan_change", "January 1, 2027"),
        # One minute later it is already 1 January in Beijing (still 31 December in UTC).
        (beijing(2027, 1, 1, 0, 0), "plan_change", "February 1, 2027"),
        (beijing(2026, 12, 31, 12, 0), "suspend", "January 1, 2027"),
        (beijing(2028, 2, 28, 12, 0), "suspend", "March 1, 2028"),
        (beijing(2028, 2, 28, 12, 0), "close", "February 29, 2028"),  # leap year
        (beijing(2100, 2, 10, 12, 0), "close", "February 28, 2100"),  # 2100 is not
        (beijing(2026, 12, 31, 9, 0), "close", "December 31, 2026"),
        (beijing(2026, 11, 30, 23, 0), "close", "November 30, 2026"),
    ],
)
async def test_effective_dates_in_the_preview(
    client: httpx.AsyncClient, database_url: str, now: object, kind: str, expected: str
) -> None:
    account = await make_line(database_url)
    await signed_in_holder(client, database_url, [account])
    set_clock(client, now)  # type: ignore[arg-type]
    response = await preview(client, account, kind, "year" if kind == "plan_change" else None)
    assert response.status_code == 200, text_of(response.text)
    assert effective_on(response.text).startswith(expected)
    assert await requests_of(database_url, account.id) == []  # a preview records nothing


async def test_plan_change_previewed_confirmed_and_listed(
    client: httpx.AsyncClient, database_url: str
) -> None:
    account = await make_line(database_url)
    await signed_in_holder(client, database_url, [account])
    set_clock(client, beijing(2026, 12, 31, 22, 0))
    chooser = await preview(client, account, "plan_change")
    assert chooser.status_code == 200
    assert 'value="half_year"' in chooser.text and 'value="unlimited_monthly"' not in chooser.text
    page = await preview(client, account, "plan_change", "half_year")
    text = text_of(page.text)
    assert "Takes effect January 1, 2027" in text
    assert (
        "From January 1, 2027, the first day of the next billing period, your plan will be "
        "Half-year at " + m("600.00") + " for six months. Until then you keep your plan "
        "Unlimited monthly."
    ) in text
    assert "A half-year or year plan is signed for at a business hall." in text
    assert f'href="/accounts/{account.id}/broadband"' in page.text  # Cancel
    done = await confirm(client, account, page)
    assert done.status_code == 303
    assert done.headers["location"].startswith(f"/accounts/{account.id}/broadband?requested=")
    [recorded] = await requests_of(database_url, account.id)
    assert (recorded.kind, recorded.new_plan, recorded.effective_on, recorded.status) == (
        "plan_change",
        "half_year",
        date(2027, 1, 1),
        "submitted",
    )
    shown = text_of((await client.get(tenant_url(SLUG, done.headers["location"]))).text)
    assert "Your request has been recorded. It takes effect on January 1, 2027." in shown
    assert "Change of plan New plan: Half-year Jan 1, 2027 12/31/26, 10:00 PM Submitted" in shown
    # A second plan change waits for the first: not offered, and refused if asked for.
    line = await client.get(tenant_url(SLUG, f"/accounts/{account.id}/broadband"))
    assert "kind=plan_change" not in line.text and "kind=suspend" in line.text
    again = await preview(client, account, "plan_change", "year")
    assert again.status_code == 409
    assert "You already have a request of this kind waiting" in text_of(again.text)
    posted = await confirm(
        client, account, page, plan="year", effective_on="2027-01-01", kind="plan_change"
    )
    assert posted.status_code == 409
    assert len(await requests_of(database_url, account.id)) == 1


async def test_suspension_at_the_suspension_fee(
    client: httpx.AsyncClient, database_url: str
) -> None:
    account = await make_line(database_url)
    await signed_in_holder(client, database_url, [account])
    set_clock(client, beijing(2028, 2, 29, 18, 0))
    page = await preview(client, account, "suspend")
    text = text_of(page.text)
    assert (
        "From March 1, 2028, the first day of the next billing period, the service is "
        "suspended and you pay the suspension fee of " + m("10.00") + " a month"
    ) in text
    assert "If the suspension fee is not paid for 2 months in a row, the service is closed." in text
    assert (await confirm(client, account, page)).status_code == 303
    [recorded] = await requests_of(database_url, account.id)
    assert (recorded.kind, recorded.effective_on) == ("suspend", date(2028, 3, 1))


async def test_cancel_records_nothing(client: httpx.AsyncClient, database_url: str) -> None:
    account = await make_line(database_url)
    await signed_in_holder(client, database_url, [account])
    page = await preview(client, account, "close")
    assert page.status_code == 200
    cancel = await client.get(tenant_url(SLUG, f"/accounts/{account.id}/broadband"))
    assert cancel.status_code == 200
    assert "You have not made any requests for this service." in text_of(cancel.text)
    assert await requests_of(database_url, account.id) == []


async def test_closure_shows_the_refund_conditions(
    client: httpx.AsyncClient, database_url: str
) -> None:
    account = await make_line(
        database_url,
        bills=months((2026, 11)),
        payments=[(beijing(2026, 10, 20, 10), "120.00"), (beijing(2026, 11, 20, 10), "150.00")],
    )
    await signed_in_holder(client, database_url, [account])
    page = await preview(client, account, "close")
    text = text_of(page.text)
    assert "The service is closed on November 30, 2026, the last day of this month." in text
    assert "A request to close the service must be made by the last day of the month." in text
    assert "bring the original invoice of the monthly fee you paid in advance" in text
    assert "The balance on the account now is " + m("150.00") + " in your favour." in text
    assert (await confirm(client, account, page)).status_code == 303
    [recorded] = await requests_of(database_url, account.id)
    assert (recorded.kind, recorded.effective_on) == ("close", date(2026, 11, 30))


async def test_resume_after_a_short_balance_is_charged_for_the_whole_month(
    client: httpx.AsyncClient, database_url: str
) -> None:
    account = await make_line(
        database_url,
        bills=months((2026, 10)),
        payments=[(beijing(2026, 9, 20, 10), "120.00")],
    )
    await signed_in_holder(client, database_url, [account])
    set_clock(client, beijing(2026, 11, 28, 9, 0))
    page = await preview(client, account, "resume")
    text = text_of(page.text)
    assert "Takes effect November 28, 2026" in text
    assert (
        "The service is resumed from November 28, 2026, and the monthly fee of "
        + m("120.00")
        + " for November 2026 is charged in full, however few days of the month are left."
    ) in text
    assert "To resume the service, pay at least " + m("120.00") + "." in text
    assert (await confirm(client, account, page)).status_code == 303
    [recorded] = await requests_of(database_url, account.id)
    assert (recorded.kind, recorded.effective_on) == ("resume", date(2026, 11, 28))


async def test_a_date_that_moved_before_confirming(
    client: httpx.AsyncClient, database_url: str
) -> None:
    account = await make_line(database_url)
    await signed_in_holder(client, database_url, [account])
    set_clock(client, beijing(2026, 11, 30, 23, 59))
    page = await preview(client, account, "suspend")
    assert effective_on(page.text).startswith("December 1, 2026")
    set_clock(client, beijing(2026, 12, 1, 0, 1))
    moved = await confirm(client, account, page)
    assert moved.status_code == 409
    assert (
        "The date this request takes effect has changed since you saw it: it is now "
        "January 1, 2027."
    ) in text_of(moved.text)
    assert await requests_of(database_url, account.id) == []
    assert (await confirm(client, account, moved)).status_code == 303
    [recorded] = await requests_of(database_url, account.id)
    assert recorded.effective_on == date(2027, 1, 1)


# --- refused -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ("gold", "This plan is not offered. Choose one of the plans in the list."),
        ("unlimited_monthly", "This is already your plan. Choose a different one."),
        ("<script>", "This plan is not offered."),
    ],
)
async def test_bad_plans(
    client: httpx.AsyncClient, database_url: str, plan: str, message: str
) -> None:
    account = await make_line(database_url)
    await signed_in_holder(client, database_url, [account])
    response = await preview(client, account, "plan_change", plan)
    assert response.status_code == 400
    assert message in text_of(response.text)
    assert 'aria-describedby="plan-error"' in response.text and "<script>" not in response.text
    good = await preview(client, account, "plan_change", "year")
    posted = await confirm(client, account, good, plan=plan)
    assert posted.status_code == 400 and message in text_of(posted.text)
    empty = await confirm(client, account, good, plan="")
    assert empty.status_code == 400
    assert "Please choose the plan you want." in text_of(empty.text)
    assert await requests_of(database_url, account.id) == []


async def test_requests_the_state_does_not_allow(
    client: httpx.AsyncClient, database_url: str
) -> None:
    active = await make_line(database_url)
    suspended = await make_line(
        database_url, status="suspended", reason="voluntary", since=date(2026, 10, 1)
    )
    closed = await make_line(database_url, status="closed", reason="unpaid", since=date(2026, 9, 1))
    await signed_in_holder(client, database_url, [active, suspended, closed])
    cases = [
        (active, "resume", "The service is active, so there is nothing to resume."),
        (suspended, "suspend", "The service is suspended. Resume it first"),
        (suspended, "plan_change", "The service is suspended. Resume it first"),
        (closed, "close", "The service is closed, so no more requests can be made for it."),
        (closed, "resume", "The service is closed"),
    ]
    template = await preview(client, active, "close")
    for account, kind, message in cases:
        response = await preview(client, account, kind, "year")
        assert response.status_code == 409, (kind, response.status_code)
        assert message in text_of(response.text)
        posted = await confirm(
            client, account, template, kind=kind, plan="year", effective_on="2026-11-21"
        )
        assert posted.status_code == 409 and message in text_of(posted.text)
    for kind in ("explode", "", "RESUME"):
        response = await preview(client, active, kind)
        assert response.status_code == 400
        assert "This is not a request you can make here." in text_of(response.text)
        posted = await confirm(client, active, template, kind=kind)
        assert posted.status_code == 400
    for account in (active, suspended, closed):
        assert await requests_of(database_url, account.id) == []


async def test_another_customers_account_records_nothing(
    client: httpx.AsyncClient, database_url: str
) -> None:
    theirs = await make_line(database_url)
    mine = await make_line(database_url)
    await signed_in_holder(client, database_url, [mine])
    page = await preview(client, mine, "close")
    response = await client.post(
        tenant_url(SLUG, f"/accounts/{theirs.id}/broadband/request"),
        data={
            "_csrf_token": csrf_token(page.text),
            "kind": "close",
            "effective_on": "2026-11-30",
        },
    )
    assert response.status_code == 404
    response = await client.post(
        tenant_url(SLUG, "/accounts/99999999999999999999/broadband/request"),
        data={"_csrf_token": csrf_token(page.text), "kind": "close"},
    )
    assert response.status_code == 404
    assert await requests_of(database_url, theirs.id) == []
    assert await requests_of(database_url, mine.id) == []


async def test_other_tenants_have_no_requests(client: httpx.AsyncClient) -> None:
    response = await client.post(
        tenant_url("ivanovo-water", "/accounts/1/broadband/request"), data={"kind": "close"}
    )
    assert response.status_code in (403, 404)


async def test_the_same_request_confirmed_at_once_is_recorded_once(
    client: httpx.AsyncClient, database_url: str
) -> None:
    account = await make_line(database_url)
    await signed_in_holder(client, database_url, [account])
    page = await preview(client, account, "suspend")
    statuses = await asyncio.gather(*(confirm(client, account, page) for _ in range(6)))
    assert sorted(r.status_code for r in statuses) == [303] + [409] * 5
    [recorded] = await requests_of(database_url, account.id)
    assert (recorded.kind, recorded.effective_on) == ("suspend", date(2026, 12, 1))
