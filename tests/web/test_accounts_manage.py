"""Renaming and removing an account over HTTP, and every account route refusing an account
that is not the customer's (404, none of its data, nothing changed)."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import tenant_url
from tests.helpers import csrf_token, text_of
from tests.web.test_cabinet_home import (
    english,  # noqa: F401  (the autouse fixture: pages in English)
    links_of,
    make_account,
    signed_in_customer,
)

SLUG = "ivanovo-water"


async def post_form(
    client: httpx.AsyncClient, form_path: str, action: str, data: dict[str, str], slug: str = SLUG
) -> httpx.Response:
    page = await client.get(tenant_url(slug, form_path))
    assert page.status_code == 200, page.status_code
    return await client.post(
        tenant_url(slug, action), data={"_csrf_token": csrf_token(page.text), **data}
    )


async def test_set_and_clear_a_nickname(client: httpx.AsyncClient, database_url: str) -> None:
    account = await make_account(database_url, SLUG)
    customer_id = await signed_in_customer(client, database_url, SLUG, [(account, "Old name")])
    path = f"/accounts/{account.id}/nickname"
    form = await client.get(tenant_url(SLUG, path))
    assert f"Name for account {account.number}" in text_of(form.text)
    assert 'value="Old name"' in form.text
    response = await post_form(client, path, path, {"nickname": "  Квартира   бабушки "})
    assert response.headers["location"] == "/cabinet?done=renamed"
    assert await links_of(database_url, account.id) == {customer_id: "Квартира бабушки"}
    cabinet = text_of((await client.get(tenant_url(SLUG, "/cabinet?done=renamed"))).text)
    assert "The account's name is saved." in cabinet
    assert f"Квартира бабушки Account number {account.number}" in cabinet
    response = await post_form(client, path, path, {"nickname": "   "})
    assert response.headers["location"] == "/cabinet?done=cleared"
    assert await links_of(database_url, account.id) == {customer_id: None}


async def test_a_too_long_nickname_is_refused(client: httpx.AsyncClient, database_url: str) -> None:
    account = await make_account(database_url, SLUG)
    customer_id = await signed_in_customer(client, database_url, SLUG, [(account, "Kept")])
    path = f"/accounts/{account.id}/nickname"
    response = await post_form(client, path, path, {"nickname": "я" * 101})
    assert response.status_code == 400
    assert "“Name for the account” is too long." in text_of(response.text)
    assert 'aria-describedby="nickname-hint nickname-error"' in response.text
    assert await links_of(database_url, account.id) == {customer_id: "Kept"}


async def test_unlink_asks_first_and_removes_only_the_customers_link(
    client: httpx.AsyncClient, database_url: str
) -> None:
    account = await make_account(database_url, SLUG)
    relative = await signed_in_customer(client, database_url, SLUG, [(account, "Shared")])
    client.cookies.clear()
    customer_id = await signed_in_customer(client, database_url, SLUG, [(account, None)])
    path = f"/accounts/{account.id}/unlink"
    confirm = text_of((await client.get(tenant_url(SLUG, path))).text)
    assert f"Remove account {account.number} from your cabinet?" in confirm
    assert "Its data stays with the utility" in confirm
    assert await links_of(database_url, account.id) == {relative: "Shared", customer_id: None}
    response = await post_form(client, path, path, {})
    assert response.headers["location"] == "/cabinet?done=unlinked"
    assert await links_of(database_url, account.id) == {relative: "Shared"}
    cabinet = text_of((await client.get(tenant_url(SLUG, "/cabinet?done=unlinked"))).text)
    assert "The account has been removed from your cabinet." in cabinet
    assert account.number not in cabinet


@pytest.mark.parametrize("slug", ["ivanovo-water", "melitopol-water"])
async def test_another_customers_account_is_not_found_on_every_route(
    client: httpx.AsyncClient, database_url: str, slug: str
) -> None:
    theirs = await make_account(database_url, slug, holder_name="Секретов Семён")
    owner = await signed_in_customer(client, database_url, slug, [(theirs, "Их тайна")])
    client.cookies.clear()
    mine = await make_account(database_url, slug)
    await signed_in_customer(client, database_url, slug, [(mine, None)])
    token = csrf_token((await client.get(tenant_url(slug, "/profile"))).text)
    for account_id in (theirs.id, 2_000_000_000):
        for method, path, data in (
            ("GET", f"/accounts/{account_id}/nickname", {}),
            ("POST", f"/accounts/{account_id}/nickname", {"nickname": "Hijacked"}),
            ("GET", f"/accounts/{account_id}/unlink", {}),
            ("POST", f"/accounts/{account_id}/unlink", {}),
            ("GET", f"/accounts/{account_id}/statement", {}),
            ("GET", f"/accounts/{account_id}/statement?from=2026-01&to=2026-10", {}),
        ):
            response = await client.request(
                method,
                tenant_url(slug, path),
                data={"_csrf_token": token, **data} if method == "POST" else None,
            )
            assert response.status_code == 404, (method, path, response.status_code)
            assert theirs.number not in response.text
            assert "Их тайна" not in response.text and "Секретов" not in response.text
    assert await links_of(database_url, theirs.id) == {owner: "Их тайна"}


async def test_rename_and_unlink_exist_only_with_account_linking(
    client: httpx.AsyncClient, database_url: str
) -> None:
    slug = "melitopol-gas"
    account = await make_account(database_url, slug)
    customer_id = await signed_in_customer(client, database_url, slug, [(account, None)])
    for path in ("nickname", "unlink"):
        response = await client.get(tenant_url(slug, f"/accounts/{account.id}/{path}"))
        assert response.status_code == 404
    assert await links_of(database_url, account.id) == {customer_id: None}
