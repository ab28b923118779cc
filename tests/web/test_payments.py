"""Paying over HTTP: from the cabinet through the sandbox's hosted page to the ledger, the
return page and its polling, the history and receipts, and paying without registration."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import httpx
import pytest

from tests.conftest import tenant_url
from tests.helpers import create_customer, csrf_token, text_of
from tests.web.test_cabinet_home import make_account, money
from tests.web.test_payments_support import (
    online_payments_of,
    orders_of,
    payer,
    receipts_about,
    receipts_to,
    reference_in,
    sign_in_as,
)

SLUG = "ivanovo-water"


@pytest.fixture(autouse=True)
def english(client: httpx.AsyncClient) -> None:
    client.headers["accept-language"] = "en"


async def post_form(
    client: httpx.AsyncClient, slug: str, path: str, data: dict[str, str]
) -> httpx.Response:
    page = await client.get(tenant_url(slug, path))
    assert page.status_code == 200, (path, page.status_code)
    return await client.post(
        tenant_url(slug, path), data={"_csrf_token": csrf_token(page.text), **data}
    )


async def pay_on_sandbox(
    client: httpx.AsyncClient, slug: str, location: str, decision: str = "pay"
) -> httpx.Response:
    """On the hosted page the pay form led to, press a button; returns the redirect."""
    assert location.startswith("/payments/sandbox/"), location
    response = await post_form(client, slug, location, {"decision": decision})
    assert response.status_code == 303
    return response


async def test_pay_from_the_cabinet_credits_once_and_lowers_the_debt(
    client: httpx.AsyncClient, database_url: str
) -> None:
    customer_id, account, email = await payer(client, database_url, SLUG)
    cabinet = text_of((await client.get(tenant_url(SLUG, "/cabinet"))).text)
    assert f"Debt: {money('1234.56', SLUG)}" in cabinet

    form = await client.get(tenant_url(SLUG, f"/accounts/{account.id}/pay"))
    assert form.status_code == 200
    assert 'value="1234.56"' in form.text  # the debt, prefilled
    assert "Temporary water supply" in form.text  # the tenant's purposes
    response = await post_form(
        client, SLUG, f"/accounts/{account.id}/pay", {"amount": "1000,50", "purpose": "water"}
    )
    assert response.status_code == 303
    hosted = response.headers["location"]
    reference = reference_in(hosted)
    [order] = await orders_of(database_url, account.id)
    assert (order.status, order.amount, order.customer_id) == (
        "created",
        Decimal("1000.50"),
        customer_id,
    )

    hosted_page = await client.get(tenant_url(SLUG, hosted))
    assert hosted_page.headers["content-type"].startswith("text/html")
    page = text_of(hosted_page.text)
    assert "Sandbox bank" in page and "Vodokanal JSC, Ivanovo" in page
    assert money("1000.50", SLUG) in page and "Water" in page and account.number in page

    back = await pay_on_sandbox(client, SLUG, hosted)
    assert back.headers["location"] == f"/payments/{reference}"
    done = text_of((await client.get(tenant_url(SLUG, f"/payments/{reference}"))).text)
    assert "Paid." in done and reference in done and money("1000.50", SLUG) in done

    [payment] = await online_payments_of(database_url, account.id)
    assert (payment.amount, payment.purpose, payment.provider, payment.reference) == (
        Decimal("1000.50"),
        "water",
        "sandbox",
        reference,
    )
    cabinet = text_of((await client.get(tenant_url(SLUG, "/cabinet"))).text)
    assert f"Debt: {money('234.06', SLUG)}" in cabinet
    # The payer has an email: one receipt, in the ledger's transaction.
    assert email is not None
    [mail] = await receipts_to(database_url, email)
    assert await receipts_about(database_url, reference) == [mail]
    # In the customer's language: none saved, so the tenant's default (Russian).
    assert mail.locale == "ru" and reference in mail.body_text
    assert money("1000.50", SLUG, "ru") in " ".join(mail.body_text.split())

    # Pressing "Pay" again (a second tab, the back button) changes nothing.
    again = await client.get(tenant_url(SLUG, hosted))
    assert again.status_code == 303 and again.headers["location"] == f"/payments/{reference}"
    assert len(await online_payments_of(database_url, account.id)) == 1

    history = await client.get(tenant_url(SLUG, f"/accounts/{account.id}/payments"))
    assert history.status_code == 200
    assert f'href="/accounts/{account.id}/payments/{payment.id}"' in history.text
    assert "Online payment" in text_of(history.text)
    receipt = text_of(
        (await client.get(tenant_url(SLUG, f"/accounts/{account.id}/payments/{payment.id}"))).text
    )
    assert reference in receipt and "Water" in receipt and "Vodokanal JSC, Ivanovo" in receipt


async def test_declined_payment_credits_nothing(
    client: httpx.AsyncClient, database_url: str
) -> None:
    _, account, email = await payer(client, database_url, SLUG)
    response = await post_form(
        client, SLUG, f"/accounts/{account.id}/pay", {"amount": "50", "purpose": "heating"}
    )
    back = await pay_on_sandbox(client, SLUG, response.headers["location"], "decline")
    page = text_of((await client.get(tenant_url(SLUG, back.headers["location"]))).text)
    assert "Declined." in page
    [order] = await orders_of(database_url, account.id)
    assert order.status == "failed"
    assert await online_payments_of(database_url, account.id) == []
    assert email is not None and await receipts_to(database_url, email) == []


async def test_the_hosted_page_wants_a_decision_and_the_debt_is_typed_as_locals_do(
    client: httpx.AsyncClient, database_url: str
) -> None:
    _, account, _ = await payer(client, database_url, SLUG)
    client.headers["accept-language"] = "ru"
    form = await client.get(tenant_url(SLUG, f"/accounts/{account.id}/pay"))
    assert 'value="1234,56"' in form.text
    response = await post_form(
        client, SLUG, f"/accounts/{account.id}/pay", {"amount": "1234,56", "purpose": "water"}
    )
    hosted = response.headers["location"]
    undecided = await post_form(client, SLUG, hosted, {"decision": "maybe"})
    assert undecided.status_code == 400 and 'role="alert"' in undecided.text
    [order] = await orders_of(database_url, account.id)
    assert (order.status, order.amount) == ("created", Decimal("1234.56"))


async def test_nothing_owed_leaves_the_amount_empty_and_history_says_so(
    client: httpx.AsyncClient, database_url: str
) -> None:
    _, account, _ = await payer(client, database_url, SLUG, charges=())
    form = await client.get(tenant_url(SLUG, f"/accounts/{account.id}/pay"))
    assert re.search(r'name="amount" value=""', form.text)
    assert "Nothing owed" in text_of(form.text)
    history = await client.get(tenant_url(SLUG, f"/accounts/{account.id}/payments"))
    assert "No payments to this account yet." in text_of(history.text)


async def test_return_page_polls_until_final(client: httpx.AsyncClient, database_url: str) -> None:
    _, account, _ = await payer(client, database_url, SLUG)
    response = await post_form(
        client, SLUG, f"/accounts/{account.id}/pay", {"amount": "10", "purpose": "water"}
    )
    reference = reference_in(response.headers["location"])
    url = tenant_url(SLUG, f"/payments/{reference}")
    full = await client.get(url)
    assert "<html" in full.text and 'role="status"' in full.text
    assert f'href="/payments/{reference}"' in full.text  # the no-JS refresh link
    partial = await client.get(url, headers={"HX-Request": "true"})
    assert partial.headers["vary"] == "HX-Request"
    assert "<html" not in partial.text
    assert 'hx-trigger="every 2s"' in partial.text and "Processing." in text_of(partial.text)
    await pay_on_sandbox(client, SLUG, response.headers["location"])
    final = await client.get(url, headers={"HX-Request": "true"})
    assert "hx-trigger" not in final.text and "Paid." in text_of(final.text)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("0", "The amount must be greater than zero."),
        ("-5", "The amount must be greater than zero."),
        ("1.234", "at most two digits after the decimal point"),
        ("abc", "Enter the amount as a number"),
        ("", "Please enter the amount to pay."),
        ("1e3", "Enter the amount as a number"),
        ("99999999999999999999999", "The amount is too large"),
        ("1000000.01", "The amount is too large"),
    ],
)
async def test_bad_amounts_are_refused_with_a_message(
    client: httpx.AsyncClient, database_url: str, typed: str, message: str
) -> None:
    _, account, _ = await payer(client, database_url, SLUG)
    response = await post_form(
        client, SLUG, f"/accounts/{account.id}/pay", {"amount": typed, "purpose": "water"}
    )
    assert response.status_code == 400
    assert message in text_of(response.text)
    assert 'aria-invalid="true"' in response.text and 'id="amount-error"' in response.text
    assert await orders_of(database_url, account.id) == []


@pytest.mark.parametrize(
    ("purpose", "message"),
    [("", "Please choose what you are paying for."), ("gas", "Please choose one of the purposes")],
)
async def test_a_purpose_outside_the_configuration_is_refused(
    client: httpx.AsyncClient, database_url: str, purpose: str, message: str
) -> None:
    _, account, _ = await payer(client, database_url, SLUG)
    response = await post_form(
        client, SLUG, f"/accounts/{account.id}/pay", {"amount": "10", "purpose": purpose}
    )
    assert response.status_code == 400 and message in text_of(response.text)
    assert await orders_of(database_url, account.id) == []


async def test_a_tenant_without_purposes_asks_for_none(
    client: httpx.AsyncClient, database_url: str
) -> None:
    slug = "melitopol-water"
    _, account, _ = await payer(client, database_url, slug)
    form = await client.get(tenant_url(slug, f"/accounts/{account.id}/pay"))
    assert 'name="purpose"' not in form.text
    response = await post_form(
        client, slug, f"/accounts/{account.id}/pay", {"amount": "10.5", "purpose": "water"}
    )
    assert response.status_code == 303
    [order] = await orders_of(database_url, account.id)
    assert (order.amount, order.purpose) == (Decimal("10.50"), "")


async def test_another_customers_account_and_payments_are_not_found(
    client: httpx.AsyncClient, database_url: str
) -> None:
    _, mine, _ = await payer(client, database_url, SLUG)
    response = await post_form(
        client, SLUG, f"/accounts/{mine.id}/pay", {"amount": "10", "purpose": "water"}
    )
    reference = reference_in(response.headers["location"])
    await pay_on_sandbox(client, SLUG, response.headers["location"])
    [payment] = await online_payments_of(database_url, mine.id)

    other = await make_account(database_url, SLUG, charges=[(date(2026, 10, 1), "gas", "5.00")])
    stranger = await create_customer(database_url, SLUG, {"email": "x-" + reference[:8]})
    await sign_in_as(client, SLUG, stranger)
    for path in (
        f"/accounts/{mine.id}/pay",
        f"/accounts/{mine.id}/payments",
        f"/accounts/{mine.id}/payments/{payment.id}",
        f"/accounts/{other.id}/pay",
        f"/payments/{reference}",
        f"/payments/sandbox/{reference}",
        "/accounts/99999999999999999999999/pay",
        f"/accounts/{mine.id}/payments/99999999999999999999999",
    ):
        assert (await client.get(tenant_url(SLUG, path))).status_code == 404, path
    # A form post to someone else's account: 404, nothing created.
    page = await client.get(tenant_url(SLUG, "/pay"))
    refused = await client.post(
        tenant_url(SLUG, f"/accounts/{other.id}/pay"),
        data={"_csrf_token": csrf_token(page.text), "amount": "10", "purpose": "water"},
    )
    assert refused.status_code == 404
    assert await orders_of(database_url, other.id) == []
    # Signed out, a customer's order asks to sign in; a made-up reference is simply not there.
    client.cookies.clear()
    assert (await client.get(tenant_url(SLUG, f"/payments/{reference}"))).status_code == 303
    assert (await client.get(tenant_url(SLUG, "/payments/" + "0" * 32))).status_code == 404
    assert (await client.get(tenant_url(SLUG, "/payments/not-a-reference"))).status_code == 404


async def test_paying_needs_the_payments_module(
    client: httpx.AsyncClient, database_url: str
) -> None:
    # kz-vodokanal has payments; the anonymous form is ivanovo-water's only.
    for slug in ("kz-vodokanal", "melitopol-water", "wujiang-water"):
        assert (await client.get(tenant_url(slug, "/pay"))).status_code == 404


# --- without registration -----------------------------------------------------------------


async def test_pay_without_registration(client: httpx.AsyncClient, database_url: str) -> None:
    account = await make_account(database_url, SLUG, charges=[(date(2026, 10, 1), "gas", "9.99")])
    form = await client.get(tenant_url(SLUG, "/pay"))
    assert form.status_code == 200 and "Court fees" in form.text
    response = await post_form(
        client,
        SLUG,
        "/pay",
        {"account_number": account.number, "amount": "9.99", "purpose": "court_fees"},
    )
    assert response.status_code == 303
    reference = reference_in(response.headers["location"])
    [order] = await orders_of(database_url, account.id)
    assert order.customer_id is None and order.purpose == "court_fees"
    await pay_on_sandbox(client, SLUG, response.headers["location"])
    # Anyone holding the reference sees the outcome: here, a fresh client without cookies.
    client.cookies.clear()
    page = text_of((await client.get(tenant_url(SLUG, f"/payments/{reference}"))).text)
    assert "Paid." in page and "Court fees" in page
    [payment] = await online_payments_of(database_url, account.id)
    assert (payment.amount, payment.purpose) == (Decimal("9.99"), "court_fees")
    # Nobody signed in, so nobody to send a receipt to.
    assert await receipts_about(database_url, reference) == []


async def test_no_receipt_email_without_an_email(
    client: httpx.AsyncClient, database_url: str
) -> None:
    _, account, _ = await payer(client, database_url, SLUG, email=None)
    response = await post_form(
        client, SLUG, f"/accounts/{account.id}/pay", {"amount": "12", "purpose": "water"}
    )
    reference = reference_in(response.headers["location"])
    await pay_on_sandbox(client, SLUG, response.headers["location"])
    assert len(await online_payments_of(database_url, account.id)) == 1
    assert await receipts_about(database_url, reference) == []


@pytest.mark.parametrize(
    ("number", "amount", "purpose", "field", "message"),
    [
        ("", "5", "water", "account_number", "Please fill in"),
        ("12ab", "5", "water", "account_number", "digits only"),
        ("123", "5", "water", "account_number", "wrong number"),
        ("OWN", "0", "water", "amount", "greater than zero"),
        ("OWN", "-5", "water", "amount", "greater than zero"),
        ("OWN", "1.234", "water", "amount", "two digits"),
        ("OWN", "abc", "water", "amount", "as a number"),
        ("OWN", "1e3", "water", "amount", "as a number"),
        ("OWN", "", "water", "amount", "enter the amount"),
        ("OWN", "10" * 20, "water", "amount", "too large"),
        ("OWN", "5", "bribe", "purpose", "one of the purposes"),
        ("OWN", "5", "", "purpose", "Please choose"),
    ],
)
async def test_bad_input_without_registration(
    client: httpx.AsyncClient,
    database_url: str,
    number: str,
    amount: str,
    purpose: str,
    field: str,
    message: str,
) -> None:
    account = await make_account(database_url, SLUG)
    data = {
        "account_number": account.number if number == "OWN" else number,
        "amount": amount,
        "purpose": purpose,
    }
    response = await post_form(client, SLUG, "/pay", data)
    assert response.status_code == 400
    assert message in text_of(response.text)
    assert f'id="{field}-error"' in response.text
    assert await orders_of(database_url, account.id) == []


async def test_an_unknown_account_number_gets_one_plain_message_and_counts(
    client: httpx.AsyncClient, database_url: str
) -> None:
    page = await client.get(tenant_url(SLUG, "/pay"))
    token = csrf_token(page.text)
    data = {"_csrf_token": token, "account_number": "00000", "amount": "5", "purpose": "water"}
    first = await client.post(tenant_url(SLUG, "/pay"), data=data)
    assert first.status_code == 400
    assert "We cannot take a payment for this account number." in text_of(first.text)
    for _ in range(19):
        assert (await client.post(tenant_url(SLUG, "/pay"), data=data)).status_code == 400
    # The 21st look-up from this address in the hour: refused before any look-up.
    account = await make_account(database_url, SLUG)
    limited = await client.post(
        tenant_url(SLUG, "/pay"), data={**data, "account_number": account.number}
    )
    assert limited.status_code == 429
    assert "Too many payments have been started from here." in text_of(limited.text)
    assert await orders_of(database_url, account.id) == []
