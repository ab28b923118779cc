"""Password recovery over HTTP: kz-vodokanal's and Melitopol's email links, Ivanovo's and
Wujiang's SMS codes, limits, and answers that never tell whether an account exists."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from domain import national_ids
from domain.db import Database
from domain.delivery import deliver_due
from domain.models import Account, AccountLink, Customer, CustomerIdentifier, Tenant, utcnow
from domain.outbox import OutboxMessage
from domain.passwords import hash_password_async
from tests.conftest import tenant_url
from tests.helpers import csrf_token, sign_in, submit, text_of
from tests.servers import SmtpServer

NEW_PASSWORD = "Fresh2026pass"
OLD_PASSWORD = "Old2026pass"


# --- data of our own (the database is shared by every test of the run) -------------------


@pytest.fixture(autouse=True)
def english(client: httpx.AsyncClient) -> None:
    """Pages in English unless a test asks for a language: assertions read the source wording."""
    client.headers["accept-language"] = "en"


def unique_digits(length: int) -> str:
    return "9" + "".join(secrets.choice("0123456789") for _ in range(length - 1))


def unique_email(tag: str) -> str:
    return f"{tag}-{secrets.token_hex(5)}@example.com"


def ru_mobile() -> str:
    return "+7910" + "".join(secrets.choice("0123456789") for _ in range(7))


def cn_mobile() -> str:
    return "+86139" + "".join(secrets.choice("0123456789") for _ in range(8))


def kz_iin() -> str:
    birth = date(1960 + secrets.randbelow(40), 1 + secrets.randbelow(12), 1 + secrets.randbelow(28))
    return national_ids.generate_kz_iin(birth, female=False, serial=1000 + secrets.randbelow(8000))


async def make_customer(
    database_url: str,
    slug: str,
    *,
    identifiers: dict[str, str],
    password: str = OLD_PASSWORD,
    account: dict[str, Any] | None = None,
    **fields: Any,
) -> int:
    """A customer (and, if given, a linked account) that no other test touches."""
    database = Database(database_url)
    try:
        async with database.session() as session:
            tenant = (await session.exec(select(Tenant).where(Tenant.slug == slug))).one()
            assert tenant.id is not None
            customer = Customer(
                tenant_id=tenant.id, password_hash=await hash_password_async(password), **fields
            )
            session.add(customer)
            await session.flush()
            assert customer.id is not None
            for name, value in identifiers.items():
                session.add(
                    CustomerIdentifier(
                        tenant_id=tenant.id, customer_id=customer.id, name=name, value=value
                    )
                )
            if account is not None:
                row = Account(tenant_id=tenant.id, holder_name="Test Holder", **account)
                session.add(row)
                await session.flush()
                assert row.id is not None
                session.add(
                    AccountLink(tenant_id=tenant.id, customer_id=customer.id, account_id=row.id)
                )
            await session.commit()
            return customer.id
    finally:
        await database.dispose()


async def messages_to(database_url: str, recipient: str) -> list[OutboxMessage]:
    database = Database(database_url)
    try:
        async with database.session() as session:
            rows = await session.exec(
                select(OutboxMessage)
                .where(OutboxMessage.recipient == recipient)
                .order_by(col(OutboxMessage.id))
            )
            return list(rows.all())
    finally:
        await database.dispose()


async def last_code(database_url: str, phone: str) -> str:
    sms = [m for m in await messages_to(database_url, phone) if m.channel == "sms"]
    assert sms, f"no SMS to {phone}"
    found = re.search(r"(?<!\d)(\d{6})(?!\d)", sms[-1].body_text)
    assert found
    return found.group(1)


async def deliver_mail(database_url: str, smtp_server: SmtpServer) -> None:
    database = Database(database_url)
    try:
        await deliver_due(database, smtp_server.sender(), now=utcnow() + timedelta(minutes=1))
    finally:
        await database.dispose()


def portal_of(client: httpx.AsyncClient) -> Any:
    return client._transport.app.portal  # type: ignore[attr-defined]


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, name
    return found.group(1)


async def post_form(
    client: httpx.AsyncClient, slug: str, page: httpx.Response, action: str, data: dict[str, str]
) -> httpx.Response:
    return await client.post(
        tenant_url(slug, action), data={"_csrf_token": csrf_token(page.text), **data}
    )


# --- kz-vodokanal: email link with check fields -----------------------------------------------


async def kz_customer(database_url: str) -> dict[str, str]:
    number, iin, email = unique_digits(8), kz_iin(), unique_email("kz")
    await make_customer(
        database_url,
        "kz-vodokanal",
        identifiers={"personal_account": number},
        email=email,
        account={"number": number, "holder_national_id": iin},
    )
    return {"number": number, "iin": iin, "email": email}


async def kz_link(
    client: httpx.AsyncClient, database_url: str, smtp_server: SmtpServer, typed: str, email: str
) -> str:
    response = await submit(client, "kz-vodokanal", "/recover", {"identifier": typed})
    assert response.status_code == 303 and response.headers["location"] == "/recover/sent"
    await deliver_mail(database_url, smtp_server)
    received = [m for m in smtp_server.handler.messages if m["To"] == email]
    assert received, "the email did not arrive"
    body = received[-1].get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    link = re.search(r"http://kz-vodokanal\.localhost/recover/link\?token=(\S+)", text)
    assert link, text
    # The check string is in the email as well, for a customer who types it.
    assert link.group(1) in text.replace(link.group(0), "")
    return link.group(0)


async def test_kz_recovery_by_email_link_end_to_end(
    client: httpx.AsyncClient, database_url: str, smtp_server: SmtpServer
) -> None:
    kz = await kz_customer(database_url)
    link = await kz_link(client, database_url, smtp_server, kz["email"].upper(), kz["email"])
    form = await client.get(link)
    assert form.status_code == 200
    token = link.split("token=")[1]
    assert f'name="check_string" value="{token}"' in form.text

    answers = {
        "iin_bin": kz["iin"],
        "account_or_contract": kz["number"],
        "login": kz["number"],
        "check_string": token,
        "token": token,
        "password": NEW_PASSWORD,
        "password_repeat": NEW_PASSWORD,
    }
    done = await post_form(client, "kz-vodokanal", form, "/recover/link", answers)
    assert done.status_code == 303 and done.headers["location"] == "/recover/done"
    landing = await client.get(tenant_url("kz-vodokanal", done.headers["location"]))
    assert landing.status_code == 200 and 'href="/sign-in"' in landing.text

    client.cookies.clear()
    assert (await sign_in(client, "kz-vodokanal", kz["number"], OLD_PASSWORD)).status_code == 400
    client.cookies.clear()
    assert (await sign_in(client, "kz-vodokanal", kz["number"], NEW_PASSWORD)).status_code == 303

    # Single use: the link is dead now, on the page and on a replayed form.
    assert (await client.get(link)).status_code == 400
    fresh = await client.get(tenant_url("kz-vodokanal", "/recover"))
    replay = await post_form(client, "kz-vodokanal", fresh, "/recover/link", answers)
    assert replay.status_code == 400 and 'name="password"' not in replay.text
    notices = [m.template for m in await messages_to(database_url, kz["email"])]
    assert notices == ["password_reset_link", "password_changed"]


async def test_kz_wrong_confirm_fields_count_attempts_and_kill_the_link(
    client: httpx.AsyncClient, database_url: str, smtp_server: SmtpServer
) -> None:
    kz = await kz_customer(database_url)
    link = await kz_link(client, database_url, smtp_server, kz["number"], kz["email"])
    token = link.split("token=")[1]
    form = await client.get(link)
    wrong = {
        "iin_bin": kz_iin(),  # a valid IIN, but not this customer's
        "account_or_contract": kz["number"],
        "login": kz["number"],
        "check_string": token,
        "token": token,
        "password": NEW_PASSWORD,
        "password_repeat": NEW_PASSWORD,
    }
    for _ in range(4):
        answer = await post_form(client, "kz-vodokanal", form, "/recover/link", wrong)
        assert answer.status_code == 400
        assert "do not match our records" in text_of(answer.text)
        # What was typed stays; the passwords do not come back.
        assert kz["number"] in answer.text and NEW_PASSWORD not in answer.text
    fifth = await post_form(client, "kz-vodokanal", form, "/recover/link", wrong)
    assert fifth.status_code == 400 and "can no longer be used" in text_of(fifth.text)
    # Even the right answers are too late now.
    right = {**wrong, "iin_bin": kz["iin"]}
    assert (
        await post_form(client, "kz-vodokanal", form, "/recover/link", right)
    ).status_code == 400
    client.cookies.clear()
    assert (await sign_in(client, "kz-vodokanal", kz["number"], OLD_PASSWORD)).status_code == 303


async def test_kz_check_string_typed_without_the_link(
    client: httpx.AsyncClient, database_url: str, smtp_server: SmtpServer
) -> None:
    kz = await kz_customer(database_url)
    link = await kz_link(client, database_url, smtp_server, kz["number"], kz["email"])
    token = link.split("token=")[1]
    form = await client.get(tenant_url("kz-vodokanal", "/recover/link"))
    assert form.status_code == 200
    answers = {
        "iin_bin": " ".join([kz["iin"][:6], kz["iin"][6:]]),
        "account_or_contract": kz["number"],
        "login": kz["number"],
        "check_string": f"  {token} ",
        "token": "",
        "password": NEW_PASSWORD,
        "password_repeat": NEW_PASSWORD,
    }
    done = await post_form(client, "kz-vodokanal", form, "/recover/link", answers)
    assert done.status_code == 303, text_of(done.text)[:400]


async def test_kz_link_form_bad_input_in_kazakh_keeps_values(
    client: httpx.AsyncClient, database_url: str, smtp_server: SmtpServer
) -> None:
    kz = await kz_customer(database_url)
    link = await kz_link(client, database_url, smtp_server, kz["number"], kz["email"])
    token = link.split("token=")[1]
    form = await client.get(link + "&lang=kk")
    bad = {
        "iin_bin": kz["iin"][:-1] + str((int(kz["iin"][-1]) + 1) % 10),
        "account_or_contract": "",
        "login": kz["number"],
        "check_string": token,
        "token": token,
        "password": "short",
        "password_repeat": "other",
    }
    answer = await post_form(client, "kz-vodokanal", form, "/recover/link", bad)
    assert answer.status_code == 400
    for name in ("iin_bin", "account_or_contract", "password", "password_repeat"):
        assert f'id="{name}-error"' in answer.text, name
    assert 'lang="kk"' in answer.text and "ЖСН / БСН" in answer.text
    assert bad["iin_bin"] in answer.text and "short" not in answer.text
    # With htmx, the same check runs as the customer leaves the field.
    checked = await client.post(
        tenant_url("kz-vodokanal", "/forms/check"),
        data={"_form": "recover:email_link", "_field": "iin_bin", "iin_bin": bad["iin_bin"]},
        headers={"x-csrftoken": csrf_token(form.text), "hx-request": "true"},
    )
    assert checked.status_code == 200 and 'id="iin_bin-error"' in checked.text
    # Nothing was counted against the link: the right answers still work.
    right = {**bad, "iin_bin": kz["iin"], "account_or_contract": kz["number"]}
    right.update(password=NEW_PASSWORD, password_repeat=NEW_PASSWORD)
    assert (
        await post_form(client, "kz-vodokanal", form, "/recover/link", right)
    ).status_code == 303


async def test_kz_unknown_login_answers_exactly_like_a_known_one(
    client: httpx.AsyncClient, database_url: str
) -> None:
    kz = await kz_customer(database_url)
    known = await submit(client, "kz-vodokanal", "/recover", {"identifier": kz["email"]})
    unknown = await submit(
        client, "kz-vodokanal", "/recover", {"identifier": unique_email("nobody")}
    )
    assert known.status_code == unknown.status_code == 303
    assert known.headers["location"] == unknown.headers["location"]
    assert [m.template for m in await messages_to(database_url, kz["email"])] == [
        "password_reset_link"
    ]


# --- melitopol: email link, nothing but the new password ---------------------------------------


async def test_melitopol_recovery_by_login(client: httpx.AsyncClient, database_url: str) -> None:
    login, email = "Тест" + unique_digits(5), unique_email("mel")
    await make_customer(
        database_url, "melitopol-water", identifiers={"login": login.casefold()}, email=email
    )
    response = await submit(client, "melitopol-water", "/recover", {"identifier": login.upper()})
    assert response.status_code == 303
    [message] = await messages_to(database_url, email)
    link = re.search(
        r"http://melitopol-water\.localhost/recover/link\?token=\S+", message.body_text
    )
    assert link and message.locale == "en"  # the language the page was in
    form = await client.get(link.group(0))
    assert form.status_code == 200 and 'name="check_string"' not in form.text
    token = hidden(form.text, "token")
    mismatch = await post_form(
        client,
        "melitopol-water",
        form,
        "/recover/link",
        {"token": token, "password": NEW_PASSWORD, "password_repeat": NEW_PASSWORD + "x"},
    )
    assert mismatch.status_code == 400 and 'id="password_repeat-error"' in mismatch.text
    done = await post_form(
        client,
        "melitopol-water",
        form,
        "/recover/link",
        {"token": token, "password": NEW_PASSWORD, "password_repeat": NEW_PASSWORD},
    )
    assert done.status_code == 303
    client.cookies.clear()
    assert (await sign_in(client, "melitopol-water", login, NEW_PASSWORD)).status_code == 303


async def test_a_made_up_link_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get(tenant_url("melitopol-gas", "/recover/link?token=made-up"))
    assert response.status_code == 400
    assert 'href="/recover"' in response.text


# --- ivanovo: SMS code with a resend countdown -------------------------------------------------


async def ivanovo_customer(database_url: str) -> str:
    phone = ru_mobile()
    await make_customer(
        database_url,
        "ivanovo-water",
        identifiers={"phone": phone},
        phone=phone,
        email=unique_email("iv"),
    )
    return phone


def typed_phone(phone: str) -> str:
    return f"8 ({phone[2:5]}) {phone[5:8]}-{phone[8:10]}-{phone[10:]}"


async def start_code(client: httpx.AsyncClient, slug: str, typed: str) -> httpx.Response:
    response = await submit(client, slug, "/recover", {"identifier": typed})
    assert response.status_code == 303, text_of(response.text)[:300]
    assert response.headers["location"].startswith("/recover/code?ticket=")
    page = await client.get(tenant_url(slug, response.headers["location"]))
    assert page.status_code == 200
    return page


async def test_ivanovo_recovery_by_sms_code(client: httpx.AsyncClient, database_url: str) -> None:
    phone = await ivanovo_customer(database_url)
    page = await start_code(client, "ivanovo-water", typed_phone(phone))
    assert "data-countdown-until" in page.text and "/static/countdown.js" in page.text
    code = await last_code(database_url, phone)
    ticket = hidden(page.text, "ticket")
    new = {"ticket": ticket, "password": NEW_PASSWORD, "password_repeat": NEW_PASSWORD}
    wrong_code = f"{(int(code) + 1) % 1_000_000:06d}"
    wrong = await post_form(
        client, "ivanovo-water", page, "/recover/code", {**new, "code": wrong_code}
    )
    assert wrong.status_code == 400 and 'id="code-error"' in wrong.text
    assert wrong_code in wrong.text and NEW_PASSWORD not in wrong.text
    done = await post_form(client, "ivanovo-water", page, "/recover/code", {**new, "code": code})
    assert done.status_code == 303 and done.headers["location"] == "/recover/done"
    client.cookies.clear()
    assert (await sign_in(client, "ivanovo-water", phone, NEW_PASSWORD)).status_code == 303
    client.cookies.clear()
    assert (await sign_in(client, "ivanovo-water", phone, OLD_PASSWORD)).status_code == 400


async def test_ivanovo_wrong_codes_use_up_the_attempts(
    client: httpx.AsyncClient, database_url: str
) -> None:
    phone = await ivanovo_customer(database_url)
    page = await start_code(client, "ivanovo-water", phone)
    code = await last_code(database_url, phone)
    wrong = f"{(int(code) + 7) % 1_000_000:06d}"
    data = {"ticket": hidden(page.text, "ticket"), "password": NEW_PASSWORD}
    data["password_repeat"] = NEW_PASSWORD
    for _ in range(5):
        answer = await post_form(
            client, "ivanovo-water", page, "/recover/code", {**data, "code": wrong}
        )
        assert answer.status_code == 400
    last = await post_form(client, "ivanovo-water", page, "/recover/code", {**data, "code": code})
    assert last.status_code == 400 and "can no longer be used" in text_of(last.text)


async def test_ivanovo_resend_waits_for_the_countdown(
    client: httpx.AsyncClient, database_url: str
) -> None:
    phone = await ivanovo_customer(database_url)
    started = datetime.now(UTC)
    portal_of(client).clock = lambda: started
    page = await start_code(client, "ivanovo-water", phone)
    first_code = await last_code(database_url, phone)
    ticket = hidden(page.text, "ticket")

    early = await post_form(
        client, "ivanovo-water", page, "/recover/code/resend", {"ticket": ticket}
    )
    assert early.status_code == 400
    assert "You can ask for a new code after" in text_of(early.text)
    assert len([m for m in await messages_to(database_url, phone)]) == 1

    portal_of(client).clock = lambda: started + timedelta(seconds=181)
    resent = await post_form(
        client, "ivanovo-water", page, "/recover/code/resend", {"ticket": ticket}
    )
    assert resent.status_code == 303
    page = await client.get(tenant_url("ivanovo-water", resent.headers["location"]))
    second_code = await last_code(database_url, phone)
    assert len(await messages_to(database_url, phone)) == 2
    data = {"ticket": hidden(page.text, "ticket"), "password": NEW_PASSWORD}
    data["password_repeat"] = NEW_PASSWORD
    if first_code != second_code:
        stale = await post_form(
            client, "ivanovo-water", page, "/recover/code", {**data, "code": first_code}
        )
        assert stale.status_code == 400
    done = await post_form(
        client, "ivanovo-water", page, "/recover/code", {**data, "code": second_code}
    )
    assert done.status_code == 303


async def test_ivanovo_unknown_phone_gets_the_same_page(
    client: httpx.AsyncClient, database_url: str
) -> None:
    phone = await ivanovo_customer(database_url)
    moment = datetime.now(UTC)
    portal_of(client).clock = lambda: moment
    known = await start_code(client, "ivanovo-water", phone)
    unknown = await start_code(client, "ivanovo-water", ru_mobile())
    assert known.status_code == unknown.status_code == 200
    assert text_of(known.text) == text_of(unknown.text)
    # The decoy behaves like a real code: wrong, whatever is typed.
    data = {"ticket": hidden(unknown.text, "ticket"), "code": "123456"}
    data.update(password=NEW_PASSWORD, password_repeat=NEW_PASSWORD)
    answer = await post_form(client, "ivanovo-water", unknown, "/recover/code", data)
    assert answer.status_code == 400 and 'id="code-error"' in answer.text


async def test_recovery_requests_are_limited(client: httpx.AsyncClient, database_url: str) -> None:
    phone = await ivanovo_customer(database_url)
    for _ in range(3):
        await start_code(client, "ivanovo-water", phone)
    over = await submit(client, "ivanovo-water", "/recover", {"identifier": phone})
    assert over.status_code == 429
    assert "Too many requests" in text_of(over.text)
    assert len(await messages_to(database_url, phone)) == 3
    # An unknown number is limited just the same.
    nobody = ru_mobile()
    for _ in range(3):
        await start_code(client, "ivanovo-water", nobody)
    assert (
        await submit(client, "ivanovo-water", "/recover", {"identifier": nobody})
    ).status_code == 429


async def test_start_form_bad_input_in_russian(client: httpx.AsyncClient) -> None:
    for typed in ("", "not a phone <b>", "12"):
        page = await client.get(tenant_url("ivanovo-water", "/recover?lang=ru"))
        answer = await client.post(
            tenant_url("ivanovo-water", "/recover"),
            data={"_csrf_token": csrf_token(page.text), "identifier": typed},
        )
        assert answer.status_code == 400
        assert 'id="identifier-error"' in answer.text and 'lang="ru"' in answer.text
        assert "Номер телефона" in answer.text
        assert "<b>" not in answer.text


async def test_code_form_bad_input_in_chinese(client: httpx.AsyncClient, database_url: str) -> None:
    page = await client.get(tenant_url("wujiang-water", "/recover?lang=zh_Hans"))
    assert 'lang="zh-Hans"' in page.text
    start = await post_form(
        client, "wujiang-water", page, "/recover", {"identifier": unique_digits(11)}
    )
    code_page = await client.get(tenant_url("wujiang-water", start.headers["location"]))
    answer = await post_form(
        client,
        "wujiang-water",
        code_page,
        "/recover/code",
        {"ticket": hidden(code_page.text, "ticket"), "code": "12a", "password": "x"},
    )
    assert answer.status_code == 400
    for name in ("code", "password", "password_repeat"):
        assert f'id="{name}-error"' in answer.text
    assert 'lang="zh-Hans"' in answer.text and 'value="12a"' in answer.text
    forged = await post_form(
        client, "wujiang-water", code_page, "/recover/code", {"ticket": "forged.1.x", "code": "1"}
    )
    assert forged.status_code == 400 and 'name="identifier"' in forged.text


# --- wujiang: account number → SMS to the phone on record -------------------------------------


async def test_wujiang_recovery_by_account_number(
    client: httpx.AsyncClient, database_url: str
) -> None:
    number, phone = unique_digits(11), cn_mobile()
    await make_customer(
        database_url,
        "wujiang-water",
        identifiers={"account_number": number},
        phone=phone,
        locale="zh_Hans",
    )
    page = await start_code(client, "wujiang-water", f"{number[:4]} {number[4:]}")
    [sms] = await messages_to(database_url, phone)
    assert sms.channel == "sms" and sms.locale == "zh_Hans"
    code = await last_code(database_url, phone)
    # Typed with a Chinese input method: full-width digits, grouped.
    full_width = "".join(chr(ord(digit) + 0xFEE0) for digit in code)
    data = {"ticket": hidden(page.text, "ticket"), "code": f"{full_width[:3]} {full_width[3:]}"}
    data.update(password=NEW_PASSWORD, password_repeat=NEW_PASSWORD)
    done = await post_form(client, "wujiang-water", page, "/recover/code", data)
    assert done.status_code == 303
    client.cookies.clear()
    assert (await sign_in(client, "wujiang-water", number, NEW_PASSWORD)).status_code == 303


async def test_recovery_signs_out_every_session(
    client: httpx.AsyncClient, database_url: str
) -> None:
    phone = await ivanovo_customer(database_url)
    assert (await sign_in(client, "ivanovo-water", phone, OLD_PASSWORD)).status_code == 303
    signed_in = dict(client.cookies)
    client.cookies.clear()
    page = await start_code(client, "ivanovo-water", phone)
    data = {"ticket": hidden(page.text, "ticket"), "code": await last_code(database_url, phone)}
    data.update(password=NEW_PASSWORD, password_repeat=NEW_PASSWORD)
    assert (
        await post_form(client, "ivanovo-water", page, "/recover/code", data)
    ).status_code == 303
    client.cookies.clear()
    client.cookies.update(signed_in)
    cabinet = await client.get(tenant_url("ivanovo-water", "/cabinet"))
    assert cabinet.status_code == 303 and cabinet.headers["location"].startswith("/sign-in")
