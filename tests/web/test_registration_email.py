"""Registrations confirmed by an email link, end to end: Melitopol water and gas, kz-vodokanal.

Each test registers a billing account of its own, receives the confirmation email
on a real SMTP server (aiosmtpd), follows the link and lands in the cabinet.
"""

from __future__ import annotations

import html
import uuid
from datetime import date

import httpx
import pytest

from domain import national_ids
from tests.conftest import tenant_url
from tests.helpers import sign_in, text_of, unique_digits
from tests.servers import SmtpServer
from tests.web.test_registration_helpers import (
    add_account,
    confirmation_link,
    customers_with_email,
    delivered_email,
    field_error,
    field_value,
    hidden,
    outbox_messages,
    post_step,
    unique_email,
)

PASSWORD = "Kran2016x"


def unique_login() -> str:
    return "Тест" + uuid.uuid4().hex[:8]


async def melitopol_account(database_url: str, slug: str) -> tuple[dict[str, str], str]:
    """A fresh account and the step-1 answers that match it (gas adds the meter serial)."""
    serial = unique_digits(8)
    account = await add_account(
        database_url,
        slug,
        holder_name="Шевчук Олена Петрівна",
        street="Гетманская",
        house="12/1",
        building="1",
        apartment="45",
        meter_serials=(serial,),
    )
    answers = {
        "variant": "individual",
        "step": "check",
        "account_number": account.number,
        "street": " гетманская ",
        "house": "12",
        "building": "1",
        "apartment": "45",
        "surname": "ШЕВЧУК",
    }
    if slug == "melitopol-gas":
        answers["meter_serial"] = serial
    return answers, account.number


async def confirm_and_open_cabinet(
    client: httpx.AsyncClient, database_url: str, smtp: SmtpServer, slug: str, email: str
) -> str:
    message = await delivered_email(database_url, smtp, email)
    link = confirmation_link(message)
    assert link.startswith(f"http://{slug}.localhost/register/confirm?token=")
    confirmed = await client.get(link)
    assert confirmed.status_code == 303
    assert confirmed.headers["location"] == "/cabinet"
    cabinet = await client.get(tenant_url(slug, "/cabinet"))
    assert cabinet.status_code == 200
    # The link is single use: a second visit asks the customer to sign in instead.
    client.cookies.clear()
    again = await client.get(link)
    assert again.status_code == 400
    assert 'href="/sign-in"' in again.text
    return cabinet.text


@pytest.mark.parametrize("slug", ["melitopol-water", "melitopol-gas"])
async def test_check_then_create_from_check_to_cabinet(
    client: httpx.AsyncClient, database_url: str, smtp_server: SmtpServer, slug: str
) -> None:
    answers, number = await melitopol_account(database_url, slug)
    first = await client.get(tenant_url(slug, "/register"))
    assert 'hx-vals=\'{"_form": "register:individual:check"' in first.text
    step_two = await post_step(client, slug, "/register", answers)
    assert step_two.status_code == 200, text_of(step_two.text)[:500]
    assert 'name="step" value="create"' in step_two.text
    assert "register:individual:create" in step_two.text
    login, email = unique_login(), unique_email()
    created = await client.post(
        tenant_url(slug, "/register"),
        data={
            "_csrf_token": hidden(step_two.text, "_csrf_token"),
            "variant": "individual",
            "step": "create",
            "ticket": hidden(step_two.text, "ticket"),
            "login": login,
            "password": PASSWORD,
            "password_repeat": PASSWORD,
            "email": email.upper(),
        },
    )
    assert created.status_code == 303, text_of(created.text)[:500]
    sent = await client.get(tenant_url(slug, created.headers["location"]))
    assert login in html.unescape(sent.text)
    [customer] = await customers_with_email(database_url, email)
    assert customer.status == "pending"
    # Not active before the link: signing in says so.
    pending = await sign_in(client, slug, login, PASSWORD)
    assert pending.status_code == 400
    cabinet = await confirm_and_open_cabinet(client, database_url, smtp_server, slug, email)
    assert number in cabinet
    # The login works case-insensitively, and so does the email.
    for typed in (login.upper(), email):
        client.cookies.clear()
        signed_in = await sign_in(client, slug, typed, PASSWORD)
        assert signed_in.status_code == 303, typed


async def test_check_step_mismatch_gives_one_message_naming_no_field(
    client: httpx.AsyncClient, database_url: str
) -> None:
    answers, _ = await melitopol_account(database_url, "melitopol-gas")
    messages = set()
    for wrong in (
        {"street": "Ломоносова"},
        {"house": "13"},
        {"building": ""},
        {"apartment": "46"},
        {"surname": "Иванов"},
        {"meter_serial": "12345678"},
        {"account_number": unique_digits(7)},
    ):
        response = await post_step(client, "melitopol-gas", "/register", {**answers, **wrong})
        assert response.status_code == 400, wrong
        assert 'name="step" value="check"' in response.text
        assert not any(field_error(response.text, name) for name in answers), wrong
        alert = text_of(response.text.split('role="alert"')[1].split("</div>")[0])
        messages.add(alert)
        # What was typed is kept.
        typed = {**answers, **wrong}
        for name in ("account_number", "house", "apartment", "surname", "meter_serial"):
            assert field_value(response.text, name) == html.escape(typed[name].strip())
    assert len(messages) == 1


async def test_account_with_a_sign_in_points_to_recovery(
    client: httpx.AsyncClient, database_url: str
) -> None:
    slug = "melitopol-water"
    answers, _ = await melitopol_account(database_url, slug)
    step_two = await post_step(client, slug, "/register", answers)
    email = unique_email()
    created = await client.post(
        tenant_url(slug, "/register"),
        data={
            "_csrf_token": hidden(step_two.text, "_csrf_token"),
            "variant": "individual",
            "step": "create",
            "ticket": hidden(step_two.text, "ticket"),
            "login": unique_login(),
            "password": PASSWORD,
            "password_repeat": PASSWORD,
            "email": email,
        },
    )
    assert created.status_code == 303
    # The account now has a (pending) sign-in: checking it again says so.
    again = await post_step(client, slug, "/register", answers)
    assert again.status_code == 400
    assert 'href="/recover"' in again.text


async def test_taken_login_is_named_and_values_are_kept(
    client: httpx.AsyncClient, database_url: str
) -> None:
    slug = "melitopol-water"
    answers, _ = await melitopol_account(database_url, slug)
    step_two = await post_step(client, slug, "/register", answers)
    email = unique_email()
    response = await client.post(
        tenant_url(slug, "/register"),
        data={
            "_csrf_token": hidden(step_two.text, "_csrf_token"),
            "variant": "individual",
            "step": "create",
            "ticket": hidden(step_two.text, "ticket"),
            "login": "IVANOV1",  # a demo customer's login, typed in capitals
            "password": PASSWORD,
            "password_repeat": PASSWORD,
            "email": email,
        },
    )
    assert response.status_code == 400
    assert field_error(response.text, "login")
    assert f'value="{email}"' in response.text
    assert PASSWORD not in response.text
    assert await customers_with_email(database_url, email) == []


async def test_expired_or_forged_ticket_starts_again(client: httpx.AsyncClient) -> None:
    response = await post_step(
        client,
        "melitopol-water",
        "/register",
        {"variant": "individual", "step": "create", "ticket": "forged.1.x", "login": "abc"},
    )
    assert response.status_code == 400
    assert 'name="step" value="check"' in response.text


async def test_an_email_in_use_gets_the_same_page_and_an_email_instead(
    client: httpx.AsyncClient, database_url: str, smtp_server: SmtpServer
) -> None:
    slug = "melitopol-water"
    outcomes = []
    for email in (unique_email(), "ivanov1@example.com"):  # the second is a demo customer's
        answers, _ = await melitopol_account(database_url, slug)
        step_two = await post_step(client, slug, "/register", answers)
        created = await client.post(
            tenant_url(slug, "/register"),
            data={
                "_csrf_token": hidden(step_two.text, "_csrf_token"),
                "variant": "individual",
                "step": "create",
                "ticket": hidden(step_two.text, "ticket"),
                "login": "Same" + uuid.uuid4().hex[:6],
                "password": PASSWORD,
                "password_repeat": PASSWORD,
                "email": email,
            },
        )
        sent = await client.get(tenant_url(slug, created.headers["location"]))
        outcomes.append((created.status_code, sent.status_code, len(sent.text) // 100))
    assert outcomes[0] == outcomes[1]
    [known] = await customers_with_email(database_url, "ivanov1@example.com", slug)
    assert known.status == "active"
    told = (await outbox_messages(database_url, slug, "ivanov1@example.com"))[-1]
    assert told.template == "already_registered"
    received = await delivered_email(database_url, smtp_server, "ivanov1@example.com")
    assert "/sign-in" in received.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]


# --- kz-vodokanal: individual or legal entity ---------------------------------------


async def test_kz_choice_page_offers_both_variants(client: httpx.AsyncClient) -> None:
    response = await client.get(tenant_url("kz-vodokanal", "/register?lang=ru"))
    assert response.status_code == 200
    assert 'href="/register?variant=individual"' in response.text
    assert 'href="/register?variant=legal"' in response.text
    assert "Юридическое лицо" in response.text


async def test_kz_individual_from_form_to_cabinet(
    client: httpx.AsyncClient, database_url: str, smtp_server: SmtpServer
) -> None:
    slug = "kz-vodokanal"
    iin = national_ids.generate_kz_iin(date(1980, 5, 17), female=False, serial=4000)
    account = await add_account(
        database_url, slug, number_length=8, holder_name="Тестов Арман", holder_national_id=iin
    )
    email = unique_email()
    data = {
        "variant": "individual",
        "step": "register",
        "personal_account": account.number,
        "iin": iin,
        "email": email,
        "password": PASSWORD,
        "password_repeat": PASSWORD,
    }
    wrong = await post_step(
        client,
        slug,
        "/register?variant=individual",
        {**data, "iin": national_ids.generate_kz_iin(date(1981, 5, 17), female=False, serial=4001)},
    )
    assert wrong.status_code == 400
    assert await customers_with_email(database_url, email) == []
    created = await post_step(client, slug, "/register?variant=individual", data)
    assert created.status_code == 303, text_of(created.text)[:500]
    sent = await client.get(tenant_url(slug, created.headers["location"]))
    assert account.number in sent.text
    cabinet = await confirm_and_open_cabinet(client, database_url, smtp_server, slug, email)
    assert account.number in cabinet
    client.cookies.clear()
    assert (await sign_in(client, slug, account.number, PASSWORD)).status_code == 303


async def test_kz_legal_entity_signs_in_with_vk_and_the_contract(
    client: httpx.AsyncClient, database_url: str, smtp_server: SmtpServer
) -> None:
    slug = "kz-vodokanal"
    bin_ = national_ids.generate_kz_bin(date(2011, 3, 1), serial=int(unique_digits(4)))
    contract = unique_digits(6)
    account = await add_account(
        database_url,
        slug,
        number_length=8,
        kind="legal",
        holder_name="ТОО «Тест»",
        holder_national_id=bin_,
        contract_number=contract,
    )
    email = unique_email()
    data = {
        "variant": "legal",
        "step": "register",
        "company_name": "ТОО «Тест»",
        "email": email,
        "password": PASSWORD,
        "password_repeat": PASSWORD,
        "iin_bin": bin_,
        "contract_number": contract,
        "invoices_by_email": "on",
    }
    created = await post_step(client, slug, "/register?variant=legal", data)
    assert created.status_code == 303, text_of(created.text)[:500]
    # Without JavaScript the login is shown on the confirmation page.
    sent = await client.get(tenant_url(slug, created.headers["location"]))
    assert f"vk{contract}" in sent.text
    [customer] = await customers_with_email(database_url, email)
    assert (customer.kind, customer.company_name, customer.invoices_by_email) == (
        "legal",
        "ТОО «Тест»",
        True,
    )
    cabinet = await confirm_and_open_cabinet(client, database_url, smtp_server, slug, email)
    assert account.number in cabinet
    client.cookies.clear()
    assert (await sign_in(client, slug, f"VK{contract}", PASSWORD)).status_code == 303
    # The same contract cannot be registered twice.
    client.cookies.clear()
    again = await post_step(
        client, slug, "/register?variant=legal", {**data, "email": unique_email()}
    )
    assert again.status_code == 400
    assert 'href="/recover"' in again.text


async def test_kz_live_login_preview(client: httpx.AsyncClient) -> None:
    slug = "kz-vodokanal"
    form = await client.get(tenant_url(slug, "/register?variant=legal"))
    assert 'hx-get="/register/login-preview?variant=legal"' in form.text
    assert 'hx-trigger="input changed delay:300ms"' in form.text
    preview = await client.get(
        tenant_url(slug, "/register/login-preview?variant=legal&contract_number=123"),
        headers={"HX-Request": "true"},
    )
    assert preview.status_code == 200
    assert "vk123" in preview.text
    assert "<html" not in preview.text
    assert len(preview.content) < 5000
    for typed in ("", "12a", "1" * 50):
        empty = await client.get(
            tenant_url(slug, "/register/login-preview"),
            params={"variant": "legal", "contract_number": typed},
        )
        assert empty.status_code == 200
        assert "vk" not in empty.text
    missing = await client.get(tenant_url(slug, "/register/login-preview?variant=individual"))
    assert missing.status_code == 404
