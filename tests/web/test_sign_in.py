"""Signing in and out over HTTP: every tenant's identifier kinds, lockout, cookies, sessions."""

from __future__ import annotations

from datetime import UTC, datetime
from http.cookies import SimpleCookie

import httpx
import pytest
from sqlmodel import col, select

from domain.db import Database
from domain.demo import DEMO_PASSWORD
from domain.models import Customer, CustomerIdentifier, Tenant
from domain.passwords import HASHER, hash_password
from tenants.loader import load_presets
from tests.conftest import tenant_url
from tests.helpers import create_customer, csrf_token, sign_in, submit, text_of, unique_digits
from web.settings import Settings

PRESETS = {config.slug: config for config in load_presets()}
SLUGS = [
    "wujiang-water",
    "melitopol-water",
    "melitopol-gas",
    "beijing-unicom",
    "ivanovo-water",
    "kz-vodokanal",
]


async def demo_identifiers(database_url: str, slug: str) -> list[tuple[str, str]]:
    """(identifier name, stored value) of demo customers who chose their own password."""
    database = Database(database_url)
    try:
        async with database.session() as session:
            rows = (
                await session.exec(
                    select(CustomerIdentifier.name, CustomerIdentifier.value)
                    .join(Customer, col(Customer.id) == CustomerIdentifier.customer_id)
                    .join(Tenant, col(Tenant.id) == Customer.tenant_id)
                    .where(
                        Tenant.slug == slug,
                        col(Customer.must_change_password).is_(False),
                        Customer.status == "active",
                    )
                    .order_by(col(CustomerIdentifier.id))
                )
            ).all()
    finally:
        await database.dispose()
    return [(name, value) for name, value in rows]


def typed_like_a_person(name: str, value: str) -> str:
    """How a customer might type a stored value: phones without +, logins in capitals."""
    if value.startswith("+7"):
        return "8 " + value[2:5] + " " + value[5:8] + "-" + value[8:10] + "-" + value[10:]
    if value.startswith("+86"):
        return value[3:]
    if "@" in value:
        return value.upper()
    return value


@pytest.mark.parametrize("slug", SLUGS)
async def test_every_sign_in_identifier_of_every_tenant_signs_in(
    client: httpx.AsyncClient, database_url: str, slug: str
) -> None:
    found = await demo_identifiers(database_url, slug)
    # Other tests may store identifiers the tenant does not sign in with; only these count.
    sign_in_names = set(PRESETS[slug].sign_in.identifiers)
    names = {name for name, _ in found if name in sign_in_names}
    assert names, slug
    for name in sorted(names):
        value = next(v for n, v in found if n == name)
        client.cookies.clear()
        response = await sign_in(client, slug, typed_like_a_person(name, value))
        assert response.status_code == 303, (slug, name, text_of(response.text)[:300])
        assert response.headers["location"] == "/cabinet"
        cabinet = await client.get(tenant_url(slug, "/cabinet"))
        assert cabinet.status_code == 200


async def test_wrong_password_and_unknown_login_get_the_same_answer(
    client: httpx.AsyncClient, database_url: str
) -> None:
    number = unique_digits(11)
    await create_customer(database_url, "wujiang-water", {"account_number": number})
    wrong = await sign_in(client, "wujiang-water", number, "WrongPassword1")
    unknown = await sign_in(client, "wujiang-water", unique_digits(11), "WrongPassword1")
    nonsense = await sign_in(client, "wujiang-water", "not a number at all", "WrongPassword1")
    assert wrong.status_code == unknown.status_code == nonsense.status_code == 400
    assert text_of(wrong.text) == text_of(unknown.text) == text_of(nonsense.text)
    # The identifier typed is kept in the form; the password never comes back.
    assert f'value="{number}"' in wrong.text
    assert "WrongPassword1" not in wrong.text


async def test_five_wrong_passwords_lock_the_identifier_whether_or_not_it_exists(
    client: httpx.AsyncClient, database_url: str
) -> None:
    number = unique_digits(11)
    stranger = unique_digits(11)
    await create_customer(database_url, "wujiang-water", {"account_number": number})
    for _ in range(5):
        assert (await sign_in(client, "wujiang-water", number, "Wrong123")).status_code == 400
        assert (await sign_in(client, "wujiang-water", stranger, "Wrong123")).status_code == 400
    locked = await sign_in(client, "wujiang-water", number)  # the right password, too late
    locked_stranger = await sign_in(client, "wujiang-water", stranger)
    assert locked.status_code == locked_stranger.status_code == 429
    assert text_of(locked.text) == text_of(locked_stranger.text)
    assert "15" in text_of(locked.text)


async def test_too_many_failures_from_one_address_pause_it(
    client: httpx.AsyncClient, database_url: str
) -> None:
    number = unique_digits(11)
    await create_customer(database_url, "wujiang-water", {"account_number": number})
    for _ in range(30):
        await sign_in(client, "wujiang-water", unique_digits(11), "Wrong123")
    assert (await sign_in(client, "wujiang-water", number)).status_code == 429


def _set_cookie(response: httpx.Response, name: str) -> str:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            return header
    raise AssertionError(f"no {name} cookie set")


async def test_session_cookie_is_host_only_httponly_lax_and_remembered_only_on_request(
    client: httpx.AsyncClient, database_url: str
) -> None:
    number = unique_digits(11)
    await create_customer(database_url, "wujiang-water", {"account_number": number})
    plain = _set_cookie(await sign_in(client, "wujiang-water", number), "session")
    client.cookies.clear()
    remembered = _set_cookie(
        await sign_in(client, "wujiang-water", number, remember="on"), "session"
    )
    for header in (plain, remembered):
        lowered = header.lower()
        assert "httponly" in lowered and "samesite=lax" in lowered and "path=/" in lowered
        assert "domain=" not in lowered
    assert "max-age" not in plain.lower()
    jar: SimpleCookie = SimpleCookie()
    jar.load(remembered)
    assert int(jar["session"]["max-age"]) >= 29 * 24 * 3600


async def test_cookies_are_secure_outside_localhost(portal_settings: Settings) -> None:
    from web.app import create_app

    settings = Settings(
        database_url=portal_settings.database_url,
        base_domain="portal.example",
        secret_key=portal_settings.secret_key,
    )
    app = create_app(settings)
    await app.portal.reload_tenants()  # type: ignore[attr-defined]
    transport = httpx.ASGITransport(app=app, client=("10.9.9.9", 1))
    number = unique_digits(11)
    await create_customer(portal_settings.database_url, "wujiang-water", {"account_number": number})
    async with httpx.AsyncClient(transport=transport, base_url="https://x") as http:
        page = await http.get("https://wujiang-water.portal.example/sign-in")
        response = await http.post(
            "https://wujiang-water.portal.example/sign-in",
            data={
                "_csrf_token": csrf_token(page.text),
                "identifier": number,
                "password": DEMO_PASSWORD,
            },
        )
    assert response.status_code == 303
    assert "secure" in _set_cookie(response, "session").lower()
    await app.portal.database.dispose()  # type: ignore[attr-defined]


async def test_a_session_of_one_tenant_means_nothing_on_another(
    client: httpx.AsyncClient, database_url: str
) -> None:
    number = unique_digits(11)
    await create_customer(database_url, "wujiang-water", {"account_number": number})
    response = await sign_in(client, "wujiang-water", number)
    token = response.cookies["session"]
    client.cookies.clear()
    client.cookies.set("session", token)
    other = await client.get(tenant_url("ivanovo-water", "/cabinet"))
    assert other.status_code == 303
    assert other.headers["location"].startswith("/sign-in")


async def test_sign_in_without_the_csrf_token_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        tenant_url("wujiang-water", "/sign-in"),
        data={"identifier": "23078772244", "password": DEMO_PASSWORD},
    )
    assert response.status_code == 403


async def test_the_cabinet_asks_for_sign_in_and_comes_back_after(
    client: httpx.AsyncClient, database_url: str
) -> None:
    first = await client.get(tenant_url("ivanovo-water", "/cabinet"))
    assert first.status_code == 303
    assert first.headers["location"] == "/sign-in?next=%2Fcabinet"
    phone = "+7999" + unique_digits(7)
    await create_customer(database_url, "ivanovo-water", {"phone": phone})
    response = await submit(
        client,
        "ivanovo-water",
        "/sign-in?next=%2Fcabinet",
        {"identifier": phone, "password": DEMO_PASSWORD, "next": "/cabinet"},
        action="/sign-in",
    )
    assert response.headers["location"] == "/cabinet"


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil"])
async def test_sign_in_never_redirects_to_another_host(
    client: httpx.AsyncClient, database_url: str, target: str
) -> None:
    number = unique_digits(11)
    await create_customer(database_url, "wujiang-water", {"account_number": number})
    response = await sign_in(client, "wujiang-water", number, next=target)
    assert response.headers["location"] == "/cabinet"


async def test_sign_out_ends_the_session(client: httpx.AsyncClient, database_url: str) -> None:
    number = unique_digits(11)
    await create_customer(database_url, "wujiang-water", {"account_number": number})
    await sign_in(client, "wujiang-water", number)
    token = client.cookies["session"]
    cabinet = await client.get(tenant_url("wujiang-water", "/cabinet"))
    out = await client.post(
        tenant_url("wujiang-water", "/sign-out"), data={"_csrf_token": csrf_token(cabinet.text)}
    )
    assert out.status_code == 303
    client.cookies.set("session", token)
    again = await client.get(tenant_url("wujiang-water", "/cabinet"))
    assert again.status_code == 303


async def test_sign_out_everywhere_ends_every_device(
    client: httpx.AsyncClient, portal_settings: Settings
) -> None:
    number = unique_digits(11)
    await create_customer(portal_settings.database_url, "wujiang-water", {"account_number": number})
    await sign_in(client, "wujiang-water", number)
    phone_token = client.cookies["session"]
    client.cookies.clear()
    await sign_in(client, "wujiang-water", number)
    cabinet = await client.get(tenant_url("wujiang-water", "/cabinet"))
    await client.post(
        tenant_url("wujiang-water", "/sign-out/everywhere"),
        data={"_csrf_token": csrf_token(cabinet.text)},
    )
    client.cookies.clear()
    client.cookies.set("session", phone_token)
    stale = await client.get(tenant_url("wujiang-water", "/cabinet"))
    assert stale.status_code == 303


async def test_two_processes_share_sessions_and_limits(portal_settings: Settings) -> None:
    """Two app instances on one database behave as one deployment (as two `portal serve`)."""
    from web.app import create_app

    apps = [create_app(portal_settings), create_app(portal_settings)]
    for app in apps:
        await app.portal.reload_tenants()  # type: ignore[attr-defined]
    number = unique_digits(11)
    await create_customer(portal_settings.database_url, "wujiang-water", {"account_number": number})
    first, second = (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("10.77.0.1", 1)))
        for app in apps
    )
    async with first, second:
        response = await sign_in(first, "wujiang-water", number)
        token = response.cookies["session"]
        first.cookies.clear()
        second.cookies.set("session", token)
        cabinet = await second.get(tenant_url("wujiang-water", "/cabinet"))
        assert cabinet.status_code == 200
        second.cookies.clear()
        # Failures counted by one process lock the identifier in the other.
        stranger = unique_digits(11)
        for _ in range(5):
            await sign_in(first, "wujiang-water", stranger, "Wrong123")
        assert (await sign_in(second, "wujiang-water", stranger, "Wrong123")).status_code == 429
    for app in apps:
        await app.portal.database.dispose()  # type: ignore[attr-defined]


async def test_a_pending_customer_learns_it_only_with_the_right_password(
    client: httpx.AsyncClient, database_url: str
) -> None:
    login = "pending" + unique_digits(6)
    await create_customer(database_url, "melitopol-water", {"login": login}, status="pending")
    wrong = await sign_in(client, "melitopol-water", login, "Wrong1234")
    right = await sign_in(client, "melitopol-water", login)
    assert wrong.status_code == right.status_code == 400
    assert text_of(wrong.text) != text_of(right.text)
    assert "client" not in client.cookies and "session" not in right.cookies


async def test_initial_password_must_be_changed_before_anything_else(
    client: httpx.AsyncClient, database_url: str
) -> None:
    contract = "97" + unique_digits(8)
    await create_customer(
        database_url,
        "beijing-unicom",
        {"contract_number": contract},
        password="88888888",
        must_change_password=True,
        initial_password_valid_until=datetime(2027, 2, 28).date(),
    )
    response = await sign_in(client, "beijing-unicom", contract, "88888888")
    assert response.headers["location"] == "/profile/password"
    elsewhere = await client.get(tenant_url("beijing-unicom", "/cabinet"))
    assert elsewhere.status_code == 303
    assert elsewhere.headers["location"] == "/profile/password"


async def test_an_expired_initial_password_no_longer_signs_in(
    client: httpx.AsyncClient, database_url: str
) -> None:
    contract = "97" + unique_digits(8)
    await create_customer(
        database_url,
        "beijing-unicom",
        {"contract_number": contract},
        password="88888888",
        must_change_password=True,
        initial_password_valid_until=datetime(2027, 2, 28).date(),
    )
    portal = client._transport.app.portal  # type: ignore[attr-defined]
    portal.clock = lambda: datetime(2027, 3, 1, 12, tzinfo=UTC)
    response = await sign_in(client, "beijing-unicom", contract, "88888888")
    assert response.status_code == 400
    assert "10010" not in response.headers.get("location", "")
    assert "session" not in response.cookies


async def test_an_old_hash_is_upgraded_at_sign_in(
    client: httpx.AsyncClient, database_url: str
) -> None:
    from argon2 import PasswordHasher

    number = unique_digits(11)
    customer_id = await create_customer(database_url, "wujiang-water", {"account_number": number})
    weak = hash_password(DEMO_PASSWORD, PasswordHasher(time_cost=2, memory_cost=8192))
    database = Database(database_url)
    async with database.session() as session:
        customer = await session.get(Customer, customer_id)
        assert customer is not None
        customer.password_hash = weak
        session.add(customer)
        await session.commit()
    assert (await sign_in(client, "wujiang-water", number)).status_code == 303
    async with database.session() as session:
        customer = await session.get(Customer, customer_id)
        assert customer is not None and customer.password_hash != weak
        # Rehashed with the parameters in force (the suite's cheap profile, m=1024).
        assert f"m={HASHER.memory_cost}" in customer.password_hash
    await database.dispose()


async def test_the_saved_language_is_used_when_the_browser_has_no_choice(
    client: httpx.AsyncClient, database_url: str
) -> None:
    number = unique_digits(11)
    await create_customer(database_url, "wujiang-water", {"account_number": number}, locale="en")
    await sign_in(client, "wujiang-water", number)
    page = await client.get(tenant_url("wujiang-water", "/cabinet"))
    assert page.headers["content-language"] == "en"
