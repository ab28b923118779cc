"""Contact-first registration (ivanovo-water): phone, email and password, then the SMS code."""

from __future__ import annotations

import re
import secrets
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import phonenumbers
from sqlmodel import select

from domain.db import Database
from domain.models import Customer, Tenant
from domain.tickets import sign, unsign
from tests.conftest import tenant_url
from tests.helpers import csrf_token, sign_in, text_of
from tests.web.test_registration_helpers import (
    customers_with_email,
    field_error,
    outbox_messages,
    post_step,
    tenant_id,
    unique_email,
)
from web.routes.registration_support import CODE_TICKET
from web.settings import Settings

SLUG = "ivanovo-water"
PASSWORD = "Voda2024ok"


def unique_phone() -> str:
    while True:
        number = phonenumbers.parse("+7910" + f"{secrets.randbelow(10**7):07d}")
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def typed(phone: str) -> str:
    return f"8 ({phone[2:5]}) {phone[5:8]}-{phone[8:10]}-{phone[10:]}"


async def start(client: httpx.AsyncClient, phone: str, email: str) -> httpx.Response:
    return await post_step(
        client,
        SLUG,
        "/register",
        {
            "variant": "individual",
            "step": "contact",
            "phone": typed(phone),
            "email": email,
            "password": PASSWORD,
            "password_repeat": PASSWORD,
        },
    )


async def sms_to(database_url: str, phone: str) -> tuple[str, str]:
    """(template, text) of the newest SMS enqueued for the phone."""
    message = (await outbox_messages(database_url, SLUG, phone))[-1]
    assert message.channel == "sms"
    return message.template, message.body_text


async def code_for(database_url: str, phone: str) -> str:
    template, text = await sms_to(database_url, phone)
    assert template == "phone_code"
    found = re.search(r"(?<!\d)\d{6}(?!\d)", text)
    assert found, text
    return found.group(0)


async def type_code(client: httpx.AsyncClient, location: str, code: str) -> httpx.Response:
    page = await client.get(tenant_url(SLUG, location))
    assert page.status_code == 200
    ticket = parse_qs(urlsplit(location).query)["t"][0]
    return await client.post(
        tenant_url(SLUG, "/register/code"),
        data={"_csrf_token": csrf_token(page.text), "t": ticket, "code": code},
    )


async def test_phone_code_creates_the_customer_and_signs_in(
    client: httpx.AsyncClient, database_url: str
) -> None:
    phone, email = unique_phone(), unique_email()
    started = await start(client, phone, email)
    assert started.status_code == 303, text_of(started.text)[:400]
    location = started.headers["location"]
    assert location.startswith("/register/code?t=")
    page = await client.get(tenant_url(SLUG, location))
    assert phone[-2:] in page.text and phone not in page.text
    assert "180" in text_of(page.text)  # when a new code may be asked for
    assert await customers_with_email(database_url, email) == []
    code = await code_for(database_url, phone)
    wrong = await type_code(client, location, "000000" if code != "000000" else "111111")
    assert wrong.status_code == 400
    assert "4" in field_error(wrong.text, "code")
    done = await type_code(client, location, code[:3] + " " + code[3:])
    assert done.status_code == 303
    assert done.headers["location"] == "/cabinet"
    assert (await client.get(tenant_url(SLUG, "/cabinet"))).status_code == 200
    [customer] = await customers_with_email(database_url, email)
    assert customer.status == "active" and customer.phone == phone
    assert customer.phone_confirmed_at is not None
    for identifier in (typed(phone), email):
        client.cookies.clear()
        assert (await sign_in(client, SLUG, identifier, PASSWORD)).status_code == 303
    # The code was single use.
    client.cookies.clear()
    reused = await type_code(client, location, code)
    assert reused.status_code == 400


async def test_five_wrong_codes_use_the_code_up(
    client: httpx.AsyncClient, database_url: str
) -> None:
    phone, email = unique_phone(), unique_email()
    location = (await start(client, phone, email)).headers["location"]
    code = await code_for(database_url, phone)
    wrong_code = f"{(int(code) + 1) % 10**6:06d}"
    errors = []
    for _ in range(5):
        response = await type_code(client, location, wrong_code)
        assert response.status_code == 400
        errors.append(field_error(response.text, "code"))
    assert len(set(errors)) == 5  # attempts left counts down, then "ask for a new code"
    late = await type_code(client, location, code)
    assert late.status_code == 400
    assert field_error(late.text, "code") == errors[-1]
    assert await customers_with_email(database_url, email) == []
    # A malformed code costs no attempt and gets its own message.
    malformed = await type_code(client, location, "12ab")
    assert malformed.status_code == 400 and field_error(malformed.text, "code")


async def test_a_registered_phone_gets_the_same_pages_and_no_code_works(
    client: httpx.AsyncClient, database_url: str
) -> None:
    database = Database(database_url)
    async with database.session() as session:
        known = (
            await session.exec(
                select(Customer)
                .join(Tenant)
                .where(Tenant.slug == SLUG, Customer.phone.is_not(None))  # type: ignore[union-attr]
            )
        ).first()
    await database.dispose()
    assert known is not None and known.phone
    fresh = await start(client, unique_phone(), unique_email())
    taken = await start(client, known.phone, unique_email())
    assert (fresh.status_code, urlsplit(fresh.headers["location"]).path) == (
        taken.status_code,
        urlsplit(taken.headers["location"]).path,
    )
    fresh_page = await client.get(tenant_url(SLUG, fresh.headers["location"]))
    taken_page = await client.get(tenant_url(SLUG, taken.headers["location"]))
    assert fresh_page.status_code == taken_page.status_code == 200
    template, text = await sms_to(database_url, known.phone)
    assert template == "already_registered"
    assert not re.search(r"(?<!\d)\d{6}(?!\d)", text)
    for attempt in ("123456", "000000"):
        response = await type_code(client, taken.headers["location"], attempt)
        assert response.status_code == 400


async def test_a_new_code_after_the_wait(
    client: httpx.AsyncClient, database_url: str, portal_settings: Settings
) -> None:
    phone, email = unique_phone(), unique_email()
    location = (await start(client, phone, email)).headers["location"]
    first_code = await code_for(database_url, phone)
    ticket = parse_qs(urlsplit(location).query)["t"][0]
    page = await client.get(tenant_url(SLUG, location))
    early = await client.post(
        tenant_url(SLUG, "/register/code/resend"),
        data={"_csrf_token": csrf_token(page.text), "t": ticket},
    )
    assert early.status_code == 400
    assert (await sms_to(database_url, phone))[1].count(first_code) == 1
    # The ticket as it would be three minutes later (signed with the test server's key).
    tenant = await tenant_id(database_url, SLUG)
    payload = unsign(
        ticket,
        purpose=CODE_TICKET,
        tenant_id=tenant,
        secret=portal_settings.secret_key,
        max_age=3600,
    )
    later = sign(
        {**payload, "sent": payload["sent"] - 181},
        purpose=CODE_TICKET,
        tenant_id=tenant,
        secret=portal_settings.secret_key,
        now=time.time(),
    )
    resent = await client.post(
        tenant_url(SLUG, "/register/code/resend"),
        data={"_csrf_token": csrf_token(page.text), "t": later},
    )
    assert resent.status_code == 303
    new_location = resent.headers["location"]
    second_code = await code_for(database_url, phone)
    if second_code != first_code:
        # The first code was replaced by the second.
        stale = await type_code(client, location, first_code)
        assert stale.status_code == 400
    done = await type_code(client, new_location, second_code)
    assert done.status_code == 303 and done.headers["location"] == "/cabinet"
