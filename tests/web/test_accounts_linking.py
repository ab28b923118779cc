"""Linking another account over HTTP (ivanovo-water: account number + the meter's last four
digits + an optional nickname): one message for any wrong detail, limited guesses, no doubles."""

from __future__ import annotations

import asyncio
import re

import httpx

from domain.limits import LINK_ATTEMPTS_PER_CUSTOMER
from tests.conftest import tenant_url
from tests.helpers import csrf_token, text_of
from tests.web.test_cabinet_home import (
    english,  # noqa: F401  (the autouse fixture: pages in English)
    links_of,
    make_account,
    signed_in_customer,
)

SLUG = "ivanovo-water"
GENERIC = (
    "We could not add this account. Please check the account number and the last four "
    "digits of the meter number."
)


async def post_link(client: httpx.AsyncClient, data: dict[str, str]) -> httpx.Response:
    page = await client.get(tenant_url(SLUG, "/accounts/link"))
    assert page.status_code == 200
    return await client.post(
        tenant_url(SLUG, "/accounts/link"), data={"_csrf_token": csrf_token(page.text), **data}
    )


async def test_the_right_proof_links_the_account_with_its_nickname(
    client: httpx.AsyncClient, database_url: str
) -> None:
    account = await make_account(
        database_url, SLUG, meters=[("cold_water", "4567-0103", "installed")]
    )
    customer_id = await signed_in_customer(client, database_url, SLUG)
    form = await client.get(tenant_url(SLUG, "/accounts/link"))
    page = text_of(form.text)
    assert "Last 4 digits of the meter number" in page
    assert "Name for the account (optional)" in page
    assert "“My flat” or “Grandma's flat”" in page
    response = await post_link(
        client, {"account_number": account.number, "proof": "0103", "nickname": " Grandma's  flat "}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/cabinet?done=linked"
    assert await links_of(database_url, account.id) == {customer_id: "Grandma's flat"}
    cabinet = text_of((await client.get(tenant_url(SLUG, "/cabinet?done=linked"))).text)
    assert "The account has been added to your cabinet." in cabinet
    assert f"Grandma's flat Account number {account.number}" in cabinet


async def test_a_wrong_proof_and_a_wrong_number_get_the_same_answer(
    client: httpx.AsyncClient, database_url: str
) -> None:
    account = await make_account(
        database_url,
        SLUG,
        meters=[("cold_water", "11110103", "installed"), ("hot_water", "22225555", "removed")],
    )
    await signed_in_customer(client, database_url, SLUG)
    answers = []
    for number, proof in (
        (account.number, "9999"),  # wrong digits
        (account.number, "5555"),  # the digits of a removed meter are no proof
        ("00000", "0103"),  # an account that does not exist
    ):
        response = await post_link(client, {"account_number": number, "proof": proof})
        assert response.status_code == 400
        page = text_of(response.text)
        assert GENERIC in page
        # What was typed stays in the form; the answer never says which detail was wrong.
        assert f'value="{number}"' in response.text
        answers.append(text_of(re.sub(r'value="[^"]*"', "", response.text)))
    assert answers[0] == answers[1] == answers[2]
    assert await links_of(database_url, account.id) == {}


async def test_badly_typed_details_are_told_next_to_their_fields(
    client: httpx.AsyncClient, database_url: str
) -> None:
    account = await make_account(database_url, SLUG)
    await signed_in_customer(client, database_url, SLUG)
    response = await post_link(
        client, {"account_number": "12", "proof": "01a3", "nickname": "x" * 101}
    )
    assert response.status_code == 400
    page = text_of(response.text)
    assert "“Account number” has the wrong number of characters" in page
    assert "“Last 4 digits of the meter number” may contain digits only" in page
    assert "“Name for the account” is too long." in page
    assert 'aria-invalid="true"' in response.text
    response = await post_link(client, {"account_number": "", "proof": ""})
    assert "Please fill in “Account number”." in text_of(response.text)
    assert "Please fill in “Last 4 digits of the meter number”." in text_of(response.text)
    assert await links_of(database_url, account.id) == {}


async def test_guesses_are_limited_and_a_success_forgives_them(
    client: httpx.AsyncClient, database_url: str
) -> None:
    account = await make_account(database_url, SLUG)
    other = await make_account(database_url, SLUG)
    customer_id = await signed_in_customer(client, database_url, SLUG)
    page = await client.get(tenant_url(SLUG, "/accounts/link"))
    token = csrf_token(page.text)

    async def attempt(number: str, proof: str) -> httpx.Response:
        return await client.post(
            tenant_url(SLUG, "/accounts/link"),
            data={"_csrf_token": token, "account_number": number, "proof": proof},
        )

    limit = LINK_ATTEMPTS_PER_CUSTOMER.max_hits
    for _ in range(limit - 1):
        assert (await attempt(account.number, "9999")).status_code == 400
    # A badly typed proof is not a guess: it does not count.
    assert (await attempt(account.number, "99")).status_code == 400
    assert (await attempt(account.number, "0103")).status_code == 303
    for _ in range(limit):
        assert (await attempt(other.number, "9999")).status_code == 400
    limited = await attempt(other.number, "0103")
    assert limited.status_code == 429
    assert "Too many attempts to add an account." in text_of(limited.text)
    assert await links_of(database_url, other.id) == {}
    assert await links_of(database_url, account.id) == {customer_id: None}


async def test_an_account_already_in_the_cabinet_stays_as_it_was(
    client: httpx.AsyncClient, database_url: str
) -> None:
    account = await make_account(database_url, SLUG)
    customer_id = await signed_in_customer(client, database_url, SLUG)
    first = await post_link(
        client, {"account_number": account.number, "proof": "0103", "nickname": "Home"}
    )
    assert first.headers["location"] == "/cabinet?done=linked"
    again = await post_link(
        client, {"account_number": account.number, "proof": "0103", "nickname": "Other"}
    )
    assert again.status_code == 303
    assert again.headers["location"] == "/cabinet?done=already"
    cabinet = text_of((await client.get(tenant_url(SLUG, again.headers["location"]))).text)
    assert "This account is already in your cabinet." in cabinet
    assert await links_of(database_url, account.id) == {customer_id: "Home"}


async def test_a_double_submit_makes_one_link(client: httpx.AsyncClient, database_url: str) -> None:
    account = await make_account(database_url, SLUG)
    customer_id = await signed_in_customer(client, database_url, SLUG)
    page = await client.get(tenant_url(SLUG, "/accounts/link"))
    data = {
        "_csrf_token": csrf_token(page.text),
        "account_number": account.number,
        "proof": "0103",
    }
    responses = await asyncio.gather(
        *(client.post(tenant_url(SLUG, "/accounts/link"), data=data) for _ in range(3))
    )
    assert all(r.status_code == 303 for r in responses)
    locations = sorted(r.headers["location"] for r in responses)
    assert "/cabinet?done=linked" in locations
    assert await links_of(database_url, account.id) == {customer_id: None}


async def test_a_household_member_may_link_the_same_account_with_the_proof(
    client: httpx.AsyncClient, database_url: str
) -> None:
    account = await make_account(database_url, SLUG)
    first = await signed_in_customer(client, database_url, SLUG, [(account, "Mine")])
    client.cookies.clear()
    client.headers["accept-language"] = "en"
    second = await signed_in_customer(client, database_url, SLUG)
    response = await post_link(client, {"account_number": account.number, "proof": "0103"})
    assert response.headers["location"] == "/cabinet?done=linked"
    assert await links_of(database_url, account.id) == {first: "Mine", second: None}


async def test_linking_exists_only_where_the_tenant_has_it(
    client: httpx.AsyncClient, database_url: str
) -> None:
    await signed_in_customer(client, database_url, "melitopol-water")
    response = await client.get(tenant_url("melitopol-water", "/accounts/link"))
    assert response.status_code == 404
    assert "Page not found" in text_of(response.text)


async def test_linking_needs_a_signed_in_customer(client: httpx.AsyncClient) -> None:
    response = await client.get(tenant_url(SLUG, "/accounts/link"))
    assert response.status_code == 303
    assert response.headers["location"].startswith("/sign-in")
