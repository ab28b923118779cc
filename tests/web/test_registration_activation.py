"""Activation with staff approval and "get my account number" (wujiang-water); pre-provisioned."""

from __future__ import annotations

import secrets
from datetime import date

import httpx
import phonenumbers
from sqlmodel import select

from domain import national_ids
from domain.activation import ActivationRequest
from domain.db import Database
from tests.conftest import tenant_url
from tests.helpers import csrf_token, text_of, unique_digits
from tests.web.test_registration_helpers import (
    add_account,
    field_error,
    field_value,
    outbox_messages,
    post_step,
    unique_email,
)

SLUG = "wujiang-water"


def unique_mobile() -> str:
    while True:
        number = phonenumbers.parse("+86139" + f"{secrets.randbelow(10**8):08d}")
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def resident_id() -> str:
    return national_ids.generate_cn_resident_id(
        date(1970 + secrets.randbelow(30), 1 + secrets.randbelow(12), 1 + secrets.randbelow(28)),
        sequence=100 + secrets.randbelow(800),
    )


async def wujiang_account(database_url: str) -> tuple[dict[str, str], str]:
    mobile, national = unique_mobile(), resident_id()
    account = await add_account(
        database_url,
        SLUG,
        number_length=11,
        holder_name="测试" + secrets.choice("伟敏洋静磊") + secrets.choice("甲乙丙丁"),
        holder_national_id=national,
        holder_phone=mobile,
    )
    answers = {
        "variant": "individual",
        "step": "activation",
        "agreement_accepted": "on",
        "account_number": account.number,
        "holder_name": account.holder_name,
        "resident_id": national.lower(),
        "mobile": mobile[3:],
        "email": unique_email(),
    }
    return answers, account.number


async def stored_request(database_url: str, email: str) -> ActivationRequest:
    database = Database(database_url)
    try:
        async with database.session() as session:
            return (
                await session.exec(
                    select(ActivationRequest).where(ActivationRequest.email == email)
                )
            ).one()
    finally:
        await database.dispose()


async def test_activation_page_shows_agreement_notice_and_fields(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get(tenant_url(SLUG, "/register?lang=zh_Hans"))
    assert page.status_code == 200
    assert "个人用户网上营业厅注册协议" in page.text
    assert "63631616" in page.text
    assert 'name="agreement_accepted"' in page.text
    for name in ("account_number", "holder_name", "resident_id", "mobile", "email"):
        assert f'id="{name}"' in page.text
    assert 'href="/register/account-number"' in page.text


async def test_activation_needs_the_agreement(client: httpx.AsyncClient, database_url: str) -> None:
    answers, number = await wujiang_account(database_url)
    answers.pop("agreement_accepted")
    response = await post_step(client, SLUG, "/register", answers)
    assert response.status_code == 400
    assert field_error(response.text, "agreement_accepted")
    assert field_value(response.text, "account_number") == number


async def test_every_activation_request_gets_the_same_answer_and_is_stored_with_its_checks(
    client: httpx.AsyncClient, database_url: str
) -> None:
    answers, number = await wujiang_account(database_url)
    cases = [
        (answers, {"account": True, "holder_name": True, "resident_id": True}),
        (
            {**answers, "holder_name": "李四", "email": unique_email()},
            {"account": True, "holder_name": False, "resident_id": True},
        ),
        (
            {**answers, "resident_id": resident_id(), "email": unique_email()},
            {"account": True, "holder_name": True, "resident_id": False},
        ),
        (
            {**answers, "account_number": unique_digits(11), "email": unique_email()},
            {"account": False, "holder_name": False, "resident_id": False},
        ),
    ]
    answers_seen = set()
    for data, checks in cases:
        response = await post_step(client, SLUG, "/register", data)
        assert response.status_code == 303, text_of(response.text)[:300]
        received = await client.get(tenant_url(SLUG, response.headers["location"]))
        answers_seen.add(
            (response.headers["location"], received.status_code, text_of(received.text))
        )
        stored = await stored_request(database_url, data["email"])
        assert stored.checks == checks
        assert stored.status == "pending"
        assert stored.phone == "+86" + answers["mobile"]
        assert stored.values["account_number"] == data["account_number"]
        assert (stored.account_id is not None) == checks["account"]
        [told] = await outbox_messages(database_url, SLUG, data["email"])
        assert told.template == "activation_received"
    assert len(answers_seen) == 1
    assert number


async def lookup(client: httpx.AsyncClient, name: str, mobile: str) -> httpx.Response:
    page = await client.get(tenant_url(SLUG, "/register/account-number"))
    assert page.status_code == 200
    return await client.post(
        tenant_url(SLUG, "/register/account-number"),
        data={"_csrf_token": csrf_token(page.text), "holder_name": name, "mobile": mobile},
    )


async def test_account_number_is_texted_only_on_an_exact_match(
    client: httpx.AsyncClient, database_url: str
) -> None:
    answers, number = await wujiang_account(database_url)
    phone = "+86" + answers["mobile"]
    pages = set()
    for name, mobile in (
        ("王五", answers["mobile"]),  # another name
        (answers["holder_name"], unique_mobile()[3:]),  # another mobile
        (answers["holder_name"], answers["mobile"]),  # both right
    ):
        response = await lookup(client, name, mobile)
        assert response.status_code == 303
        after = await client.get(tenant_url(SLUG, response.headers["location"]))
        pages.add((response.headers["location"], after.status_code, text_of(after.text)))
    assert len(pages) == 1
    [sms] = await outbox_messages(database_url, SLUG, phone)
    assert sms.template == "account_number" and number in sms.body_text


async def test_two_accounts_with_the_same_name_and_mobile_send_nothing(
    client: httpx.AsyncClient, database_url: str
) -> None:
    answers, _ = await wujiang_account(database_url)
    phone = "+86" + answers["mobile"]
    await add_account(
        database_url, SLUG, number_length=11, holder_name=answers["holder_name"], holder_phone=phone
    )
    response = await lookup(client, answers["holder_name"], answers["mobile"])
    assert response.status_code == 303
    assert await outbox_messages(database_url, SLUG, phone) == []


async def test_account_number_lookup_is_limited(
    client: httpx.AsyncClient, database_url: str
) -> None:
    mobile = unique_mobile()[3:]
    statuses = [(await lookup(client, "张三", mobile)).status_code for _ in range(4)]
    assert statuses == [303, 303, 303, 429]  # three a day per mobile
    other = [(await lookup(client, "张三", unique_mobile()[3:])).status_code for _ in range(2)]
    assert other == [303, 429]  # five an hour per address
    limited = await lookup(client, "张三", unique_mobile()[3:])
    assert limited.status_code == 429
    assert 'role="alert"' in limited.text
    assert field_value(limited.text, "holder_name") == "张三"


async def test_bad_lookup_input_is_named_next_to_the_field(client: httpx.AsyncClient) -> None:
    response = await lookup(client, "x" * 5000, "12ab")
    assert response.status_code == 400
    assert field_error(response.text, "holder_name") and field_error(response.text, "mobile")
    assert field_value(response.text, "mobile") == "12ab"


async def test_pre_provisioned_tenant_explains_the_initial_password(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get(tenant_url("beijing-unicom", "/register?lang=en"))
    assert page.status_code == 200
    text = text_of(page.text)
    assert "88888888" in text and "2027" in text
    assert 'action="/register"' not in page.text
    sign_in_page = await client.get(tenant_url("beijing-unicom", "/sign-in"))
    posted = await client.post(
        tenant_url("beijing-unicom", "/register"),
        data={"_csrf_token": csrf_token(sign_in_page.text), "variant": "individual"},
    )
    assert posted.status_code == 404
    lookup_page = await client.get(tenant_url("beijing-unicom", "/register/account-number"))
    assert lookup_page.status_code == 404
