"""The customer's profile over HTTP: password (and the forced change of an initial one), email
re-confirmed through a real email, contact data and the saved language."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import httpx
import pytest

from domain.db import Database
from domain.models import Customer
from tests.conftest import tenant_url
from tests.helpers import csrf_token, sign_in, text_of
from tests.servers import SmtpServer
from tests.web.test_recovery import (
    NEW_PASSWORD,
    OLD_PASSWORD,
    cn_mobile,
    deliver_mail,
    make_customer,
    messages_to,
    portal_of,
    ru_mobile,
    unique_digits,
    unique_email,
)

INITIAL_PASSWORD = "88888888"
INITIAL_VALID_UNTIL = date(2027, 2, 28)


@pytest.fixture
async def second_client(client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """Another browser on the same app: its own cookies, its own session."""
    async with httpx.AsyncClient(transport=client._transport, base_url="http://localhost") as other:
        yield other


async def post_page(
    client: httpx.AsyncClient, slug: str, form_path: str, data: dict[str, str], action: str = ""
) -> httpx.Response:
    page = await client.get(tenant_url(slug, form_path))
    assert page.status_code == 200, (form_path, page.status_code)
    return await client.post(
        tenant_url(slug, action or form_path.split("?")[0]),
        data={"_csrf_token": csrf_token(page.text), **data},
    )


async def ivanovo_signed_in(client: httpx.AsyncClient, database_url: str) -> dict[str, str]:
    phone, email = ru_mobile(), unique_email("iv")
    customer_id = await make_customer(
        database_url,
        "ivanovo-water",
        identifiers={"phone": phone, "email": email},
        phone=phone,
        email=email,
        full_name="Иванов Иван",
    )
    assert (await sign_in(client, "ivanovo-water", phone, OLD_PASSWORD)).status_code == 303
    return {"phone": phone, "email": email, "id": str(customer_id)}


async def stored(database_url: str, customer_id: str) -> Customer:
    database = Database(database_url)
    try:
        async with database.session() as session:
            customer = await session.get(Customer, int(customer_id))
            assert customer is not None
            return customer
    finally:
        await database.dispose()


def change(current: str, new: str, repeat: str | None = None) -> dict[str, str]:
    return {
        "current_password": current,
        "password": new,
        "password_repeat": new if repeat is None else repeat,
    }


async def test_profile_needs_a_signed_in_customer(client: httpx.AsyncClient) -> None:
    for path in ("/profile", "/profile/password", "/profile/email", "/profile/contact"):
        response = await client.get(tenant_url("ivanovo-water", path))
        assert response.status_code == 303
        assert response.headers["location"].startswith("/sign-in?next=")


async def test_overview_shows_the_details_and_the_forms(
    client: httpx.AsyncClient, database_url: str
) -> None:
    me = await ivanovo_signed_in(client, database_url)
    page = await client.get(tenant_url("ivanovo-water", "/profile"))
    assert page.status_code == 200
    for expected in (me["phone"], me["email"], "Иванов Иван"):
        assert expected in page.text
    for action in ("/profile/password", "/profile/email", "/profile/contact"):
        assert f'href="{action}"' in page.text
    for action in ("/sign-out", "/sign-out/everywhere", "/profile/language"):
        assert f'action="{action}"' in page.text


async def test_password_change_checks_and_signs_out_other_devices(
    client: httpx.AsyncClient, second_client: httpx.AsyncClient, database_url: str
) -> None:
    me = await ivanovo_signed_in(client, database_url)
    assert (
        await sign_in(second_client, "ivanovo-water", me["phone"], OLD_PASSWORD)
    ).status_code == 303

    wrong = await post_page(
        client, "ivanovo-water", "/profile/password", change("Nope1234", NEW_PASSWORD)
    )
    assert wrong.status_code == 400 and 'id="current_password-error"' in wrong.text
    weak = await post_page(
        client, "ivanovo-water", "/profile/password", change(OLD_PASSWORD, "short")
    )
    assert weak.status_code == 400 and 'id="password-error"' in weak.text
    differ = await post_page(
        client,
        "ivanovo-water",
        "/profile/password",
        change(OLD_PASSWORD, NEW_PASSWORD, "Other2026x"),
    )
    assert differ.status_code == 400 and 'id="password_repeat-error"' in differ.text
    same = await post_page(
        client, "ivanovo-water", "/profile/password", change(OLD_PASSWORD, OLD_PASSWORD)
    )
    assert same.status_code == 400 and 'id="password-error"' in same.text
    for answer in (wrong, weak, differ, same):
        assert OLD_PASSWORD not in answer.text and NEW_PASSWORD not in answer.text

    done = await post_page(
        client, "ivanovo-water", "/profile/password", change(OLD_PASSWORD, NEW_PASSWORD)
    )
    assert done.status_code == 303 and done.headers["location"] == "/profile?saved=password"
    assert (await client.get(tenant_url("ivanovo-water", "/profile"))).status_code == 200
    other = await second_client.get(tenant_url("ivanovo-water", "/profile"))
    assert other.status_code == 303 and other.headers["location"].startswith("/sign-in")

    second_client.cookies.clear()
    assert (
        await sign_in(second_client, "ivanovo-water", me["phone"], OLD_PASSWORD)
    ).status_code == 400
    assert (
        await sign_in(second_client, "ivanovo-water", me["phone"], NEW_PASSWORD)
    ).status_code == 303
    notices = [m.template for m in await messages_to(database_url, me["email"])]
    assert notices == ["password_changed"]


async def test_wrong_current_passwords_are_limited(
    client: httpx.AsyncClient, database_url: str
) -> None:
    await ivanovo_signed_in(client, database_url)
    for _ in range(5):
        answer = await post_page(
            client, "ivanovo-water", "/profile/password", change("Wrong2026x", NEW_PASSWORD)
        )
        assert answer.status_code == 400
    over = await post_page(
        client, "ivanovo-water", "/profile/password", change(OLD_PASSWORD, NEW_PASSWORD)
    )
    assert over.status_code == 429


async def beijing_pre_provisioned(database_url: str) -> str:
    contract = "97" + unique_digits(8)
    await make_customer(
        database_url,
        "beijing-unicom",
        identifiers={"contract_number": contract},
        password=INITIAL_PASSWORD,
        must_change_password=True,
        initial_password_valid_until=INITIAL_VALID_UNTIL,
    )
    return contract


async def test_initial_password_is_changed_first(
    client: httpx.AsyncClient, database_url: str
) -> None:
    contract = await beijing_pre_provisioned(database_url)
    response = await sign_in(client, "beijing-unicom", contract, INITIAL_PASSWORD)
    assert response.headers["location"] == "/profile/password"
    assert (await client.get(tenant_url("beijing-unicom", "/profile"))).status_code == 303
    page = await client.get(tenant_url("beijing-unicom", "/profile/password?lang=en"))
    assert "initial password" in text_of(page.text).lower()

    kept = await post_page(
        client, "beijing-unicom", "/profile/password", change(INITIAL_PASSWORD, INITIAL_PASSWORD)
    )
    assert kept.status_code == 400
    done = await post_page(
        client, "beijing-unicom", "/profile/password", change(INITIAL_PASSWORD, NEW_PASSWORD)
    )
    assert done.status_code == 303
    assert (await client.get(tenant_url("beijing-unicom", "/cabinet"))).status_code == 200
    client.cookies.clear()
    assert (await sign_in(client, "beijing-unicom", contract, INITIAL_PASSWORD)).status_code == 400
    again = await sign_in(client, "beijing-unicom", contract, NEW_PASSWORD)
    assert again.headers["location"] == "/cabinet"


async def test_an_expired_initial_password_is_refused_with_a_reason(
    client: httpx.AsyncClient, database_url: str
) -> None:
    contract = await beijing_pre_provisioned(database_url)
    portal_of(client).clock = lambda: datetime(2027, 3, 1, 9, tzinfo=UTC)
    await client.get(tenant_url("beijing-unicom", "/sign-in?lang=en"))
    response = await sign_in(client, "beijing-unicom", contract, INITIAL_PASSWORD)
    assert response.status_code == 400
    assert "initial password has expired" in text_of(response.text)
    # The day before, it still works.
    portal_of(client).clock = lambda: datetime(2027, 2, 28, 9, tzinfo=UTC)
    assert (await sign_in(client, "beijing-unicom", contract, INITIAL_PASSWORD)).status_code == 303


async def test_wujiang_password_page_names_the_hotline(
    client: httpx.AsyncClient, database_url: str
) -> None:
    number = unique_digits(11)
    await make_customer(database_url, "wujiang-water", identifiers={"account_number": number})
    assert (await sign_in(client, "wujiang-water", number, OLD_PASSWORD)).status_code == 303
    page = await client.get(tenant_url("wujiang-water", "/profile/password"))
    assert "63631616" in page.text


# --- email -----------------------------------------------------------------------------


async def test_email_change_through_the_link_in_the_real_email(
    client: httpx.AsyncClient, database_url: str, smtp_server: SmtpServer
) -> None:
    me = await ivanovo_signed_in(client, database_url)
    new_email = unique_email("new")
    asked = await post_page(client, "ivanovo-water", "/profile/email", {"email": new_email.upper()})
    assert asked.status_code == 303 and asked.headers["location"] == "/profile/email?sent=1"
    await deliver_mail(database_url, smtp_server)
    [mail] = [m for m in smtp_server.handler.messages if m["To"] == new_email]
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    link = re.search(
        r"http://ivanovo-water\.localhost/profile/email/confirm\?token=\S+", body.get_content()
    )
    assert link
    # Nothing changes until the link is followed.
    assert (await stored(database_url, me["id"])).email == me["email"]

    confirm = await client.get(link.group(0))
    assert confirm.status_code == 200 and new_email in confirm.text
    done = await post_page(
        client,
        "ivanovo-water",
        link.group(0).split("localhost")[1],
        {"token": link.group(0).split("token=")[1]},
    )
    assert done.status_code == 303 and done.headers["location"] == "/profile?saved=email"
    assert new_email in (await client.get(tenant_url("ivanovo-water", "/profile"))).text
    assert (await client.get(link.group(0))).status_code == 400

    # Email is a sign-in identifier here: the new one signs in, the old one no longer does.
    client.cookies.clear()
    assert (await sign_in(client, "ivanovo-water", me["email"], OLD_PASSWORD)).status_code == 400
    assert (await sign_in(client, "ivanovo-water", new_email, OLD_PASSWORD)).status_code == 303


async def test_someone_elses_email_is_not_revealed(
    client: httpx.AsyncClient, database_url: str
) -> None:
    taken = unique_email("taken")
    await make_customer(database_url, "ivanovo-water", identifiers={"email": taken}, email=taken)
    me = await ivanovo_signed_in(client, database_url)
    free = await post_page(
        client, "ivanovo-water", "/profile/email", {"email": unique_email("free")}
    )
    other = await post_page(client, "ivanovo-water", "/profile/email", {"email": taken})
    assert free.status_code == other.status_code == 303
    assert free.headers["location"] == other.headers["location"]
    assert await messages_to(database_url, taken) == []
    assert (await stored(database_url, me["id"])).email == me["email"]


async def test_email_form_bad_input_in_kazakh(client: httpx.AsyncClient, database_url: str) -> None:
    number, email = unique_digits(8), unique_email("kz")
    await make_customer(
        database_url, "kz-vodokanal", identifiers={"personal_account": number}, email=email
    )
    assert (await sign_in(client, "kz-vodokanal", number, OLD_PASSWORD)).status_code == 303
    for typed in ("not-an-email", "", email):
        answer = await post_page(client, "kz-vodokanal", "/profile/email?lang=kk", {"email": typed})
        assert answer.status_code == 400
        assert 'id="email-error"' in answer.text and 'lang="kk"' in answer.text
        if typed:
            assert f'value="{typed}"' in answer.text


# --- contact data ------------------------------------------------------------------------


async def test_contact_data_of_an_individual_with_an_editable_phone(
    client: httpx.AsyncClient, database_url: str
) -> None:
    number = unique_digits(11)
    customer_id = await make_customer(
        database_url, "wujiang-water", identifiers={"account_number": number}, full_name="王秀英"
    )
    assert (await sign_in(client, "wujiang-water", number, OLD_PASSWORD)).status_code == 303
    bad = await post_page(
        client,
        "wujiang-water",
        "/profile/contact?lang=zh_Hans",
        {"full_name": "王 123", "phone": "12345"},
    )
    assert bad.status_code == 400 and 'lang="zh-Hans"' in bad.text
    assert 'id="full_name-error"' in bad.text and 'id="phone-error"' in bad.text
    assert 'value="王 123"' in bad.text and 'value="12345"' in bad.text
    phone = cn_mobile()
    saved = await post_page(
        client, "wujiang-water", "/profile/contact", {"full_name": "李伟", "phone": phone[3:]}
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/profile?saved=contact"
    customer = await stored(database_url, str(customer_id))
    assert (customer.full_name, customer.phone) == ("李伟", phone)


async def test_contact_data_of_a_company(client: httpx.AsyncClient, database_url: str) -> None:
    contract = unique_digits(6)
    customer_id = await make_customer(
        database_url,
        "kz-vodokanal",
        identifiers={"legal_login": f"vk{contract}"},
        kind="legal",
        company_name="ТОО «Старое»",
    )
    assert (await sign_in(client, "kz-vodokanal", f"vk{contract}", OLD_PASSWORD)).status_code == 303
    empty = await post_page(
        client, "kz-vodokanal", "/profile/contact?lang=ru", {"company_name": " "}
    )
    assert empty.status_code == 400 and 'id="company_name-error"' in empty.text
    saved = await post_page(
        client,
        "kz-vodokanal",
        "/profile/contact",
        {"company_name": "ТОО «Новое»", "invoices_by_email": "on", "phone": "+7 701 123 45 67"},
    )
    assert saved.status_code == 303
    customer = await stored(database_url, str(customer_id))
    assert customer.company_name == "ТОО «Новое»" and customer.invoices_by_email
    assert customer.phone == "+77011234567"


async def test_a_phone_that_signs_in_is_read_only(
    client: httpx.AsyncClient, database_url: str
) -> None:
    me = await ivanovo_signed_in(client, database_url)
    page = await client.get(tenant_url("ivanovo-water", "/profile/contact"))
    assert 'name="phone"' not in page.text and me["phone"] in page.text
    saved = await post_page(
        client,
        "ivanovo-water",
        "/profile/contact",
        {"full_name": "Петров Пётр", "phone": ru_mobile()},
    )
    assert saved.status_code == 303
    customer = await stored(database_url, me["id"])
    assert (customer.full_name, customer.phone) == ("Петров Пётр", me["phone"])


# --- language ---------------------------------------------------------------------------


async def test_language_is_saved_and_used_without_asking(
    client: httpx.AsyncClient, second_client: httpx.AsyncClient, database_url: str
) -> None:
    number = unique_digits(8)
    customer_id = await make_customer(
        database_url, "kz-vodokanal", identifiers={"personal_account": number}
    )
    assert (await sign_in(client, "kz-vodokanal", number, OLD_PASSWORD)).status_code == 303
    bad = await post_page(client, "kz-vodokanal", "/profile", {"locale": "xx"}, "/profile/language")
    assert bad.status_code == 400 and 'id="locale-error"' in bad.text
    saved = await post_page(
        client, "kz-vodokanal", "/profile", {"locale": "kk"}, "/profile/language"
    )
    assert saved.status_code == 303 and "lang=kk" in saved.headers["set-cookie"]
    page = await client.get(tenant_url("kz-vodokanal", "/profile"))
    assert '<html lang="kk">' in page.text
    assert (await stored(database_url, str(customer_id))).locale == "kk"

    # Another browser, no cookie and no ?lang: the saved choice wins over the tenant default.
    assert (await sign_in(second_client, "kz-vodokanal", number, OLD_PASSWORD)).status_code == 303
    cabinet = await second_client.get(tenant_url("kz-vodokanal", "/cabinet"))
    assert '<html lang="kk">' in cabinet.text


async def test_reading_reminders_are_chosen_in_the_profile(
    client: httpx.AsyncClient, database_url: str
) -> None:
    customer = await ivanovo_signed_in(client, database_url)
    form = await client.get(tenant_url("ivanovo-water", "/profile/contact?lang=en"))
    assert 'name="reading_reminders"' in form.text
    assert "Email me when the time to submit meter readings comes" in text_of(form.text)
    saved = await post_page(
        client,
        "ivanovo-water",
        "/profile/contact",
        {"full_name": "Иванов Иван", "reading_reminders": "on"},
    )
    assert saved.status_code == 303
    assert (await stored(database_url, customer["id"])).reading_reminders is True
    again = await client.get(tenant_url("ivanovo-water", "/profile/contact"))
    assert re.search(r'name="reading_reminders"[^>]*checked', again.text)
    await post_page(client, "ivanovo-water", "/profile/contact", {"full_name": "Иванов Иван"})
    assert (await stored(database_url, customer["id"])).reading_reminders is False


async def test_no_reading_reminders_where_readings_are_not_taken(
    client: httpx.AsyncClient, database_url: str
) -> None:
    login = f"lty{unique_digits(5)}"
    await make_customer(
        database_url,
        "beijing-unicom",
        identifiers={"login": login},
        email=unique_email("bj"),
        full_name="王伟",
    )
    assert (await sign_in(client, "beijing-unicom", login, OLD_PASSWORD)).status_code == 303
    form = await client.get(tenant_url("beijing-unicom", "/profile/contact"))
    assert form.status_code == 200 and 'name="reading_reminders"' not in form.text
