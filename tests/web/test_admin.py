"""The staff area through HTTP: sign-in and lockout, tenant isolation, approving and rejecting."""

from __future__ import annotations

import asyncio
import re
import secrets

import httpx
import pytest
from sqlmodel import col, select

from domain.activation import ActivationRequest
from domain.db import Database
from domain.demo import DEMO_PASSWORD
from domain.models import Account, AccountLink, Customer, CustomerIdentifier, Tenant
from domain.outbox import OutboxMessage
from domain.passwords import hash_password_async
from domain.staff import StaffUser
from tests.conftest import MakeClient, tenant_url
from tests.helpers import csrf_token, sign_in, submit, text_of

WUJIANG = "wujiang-water"


# --- fixtures and helpers ----------------------------------------------------------------


@pytest.fixture(autouse=True)
def english(client: httpx.AsyncClient) -> None:
    """Pages in the source language, so assertions can quote its wording."""
    client.headers["Accept-Language"] = "en"


def unique_address() -> str:
    return f"198.51.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


async def tenant_id(database: Database, slug: str) -> int:
    async with database.session() as session:
        tenant = (await session.exec(select(Tenant).where(Tenant.slug == slug))).one()
    assert tenant.id is not None
    return tenant.id


async def new_request(
    database: Database,
    slug: str = WUJIANG,
    *,
    checks: dict[str, bool] | None = None,
    account: Account | None = None,
    locale: str = "en",
) -> ActivationRequest:
    """A fresh account with no customer and a pending request for it, as the customer side makes."""
    tid = await tenant_id(database, slug)
    async with database.session() as session:
        if account is None:
            account = Account(
                tenant_id=tid,
                number=f"9{secrets.randbelow(10**10):010d}",
                holder_name="王测试" + secrets.token_hex(2),
                street="中山南路",
                house="1",
            )
            session.add(account)
            await session.flush()
        phone = f"+86139{secrets.randbelow(10**8):08d}"
        request = ActivationRequest(
            tenant_id=tid,
            variant="individual",
            values={
                "account_number": account.number,
                "holder_name": account.holder_name,
                "resident_id": "320584199303151237",
                "mobile": phone,
                "email": f"{secrets.token_hex(4)}@example.test",
            },
            checks=checks
            if checks is not None
            else {
                "account": True,
                "account_number": True,
                "holder_name": True,
                "resident_id": True,
            },
            account_id=account.id,
            phone=phone,
            email=f"{secrets.token_hex(4)}@example.test",
            locale=locale,
        )
        session.add(request)
        await session.commit()
    return request


async def reload(database: Database, request: ActivationRequest) -> ActivationRequest:
    async with database.session() as session:
        found = await session.get(ActivationRequest, request.id)
    assert found is not None
    return found


async def sms_to(database: Database, phone: str) -> list[OutboxMessage]:
    async with database.session() as session:
        rows = await session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.recipient == phone, OutboxMessage.channel == "sms")
            .order_by(col(OutboxMessage.id))
        )
        return list(rows.all())


async def customers_of(database: Database, account_id: int | None) -> list[int]:
    async with database.session() as session:
        rows = await session.exec(
            select(AccountLink.customer_id).where(AccountLink.account_id == account_id)
        )
        return list(rows.all())


async def staff_sign_in(
    client: httpx.AsyncClient,
    slug: str = WUJIANG,
    login: str = "admin",
    password: str = DEMO_PASSWORD,
) -> httpx.Response:
    return await submit(client, slug, "/admin/sign-in", {"login": login, "password": password})


async def decide(
    client: httpx.AsyncClient, request_id: int | None, action: str, **data: str
) -> httpx.Response:
    return await submit(
        client,
        WUJIANG,
        f"/admin/activations/{request_id}",
        data,
        action=f"/admin/activations/{request_id}/{action}",
    )


# --- signing in ---------------------------------------------------------------------------


async def test_staff_sign_in_shows_the_dashboard_and_sign_out_ends_the_session(
    client: httpx.AsyncClient, database: Database
) -> None:
    response = await client.get(tenant_url(WUJIANG, "/admin"))
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/sign-in?next=%2Fadmin"

    signed_in = await staff_sign_in(client)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/admin"
    assert "httponly" in signed_in.headers["set-cookie"].lower()
    assert "domain=" not in signed_in.headers["set-cookie"].lower()

    dashboard = await client.get(tenant_url(WUJIANG, "/admin"))
    assert dashboard.status_code == 200
    async with database.session() as session:
        pending = len(
            (
                await session.exec(
                    select(ActivationRequest.id).where(
                        ActivationRequest.tenant_id == await tenant_id(database, WUJIANG),
                        ActivationRequest.status == "pending",
                    )
                )
            ).all()
        )
    text = text_of(dashboard.text)
    assert "Staff area" in text
    assert f"{pending} request" in text
    assert 'href="/admin/activations"' in dashboard.text

    signed_out = await submit(client, WUJIANG, "/admin", {}, action="/admin/sign-out")
    assert signed_out.status_code == 303
    assert (await client.get(tenant_url(WUJIANG, "/admin"))).status_code == 303


async def test_sign_in_returns_to_the_staff_page_asked_for_and_nowhere_else(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get(tenant_url(WUJIANG, "/admin/sign-in?next=%2Fadmin%2Factivations"))
    form = {"_csrf_token": csrf_token(page.text), "login": "ADMIN", "password": DEMO_PASSWORD}
    back = await client.post(
        tenant_url(WUJIANG, "/admin/sign-in"), data={**form, "next": "/admin/activations"}
    )
    assert back.headers["location"] == "/admin/activations"
    again = await client.post(
        tenant_url(WUJIANG, "/admin/sign-in"), data={**form, "next": "//evil.example/admin"}
    )
    assert again.headers["location"] == "/admin"
    cabinet = await client.post(
        tenant_url(WUJIANG, "/admin/sign-in"), data={**form, "next": "/cabinet"}
    )
    assert cabinet.headers["location"] == "/admin"


async def test_a_post_without_the_csrf_token_is_refused(client: httpx.AsyncClient) -> None:
    await client.get(tenant_url(WUJIANG, "/admin/sign-in"))
    response = await client.post(
        tenant_url(WUJIANG, "/admin/sign-in"), data={"login": "admin", "password": DEMO_PASSWORD}
    )
    assert response.status_code == 403


async def test_lockout_after_three_failures_answers_alike_for_an_unknown_login(
    make_client: MakeClient, database: Database
) -> None:
    slug = "melitopol-gas"
    login = "lockout-" + secrets.token_hex(4)
    password = "Staff-pass-2026"
    async with database.session() as session:
        session.add(
            StaffUser(
                tenant_id=await tenant_id(database, slug),
                login=login,
                password_hash=await hash_password_async(password),
            )
        )
        await session.commit()
    client = await make_client(unique_address())

    async def attempt(who: str, secret: str) -> tuple[int, str]:
        response = await staff_sign_in(client, slug, who, secret)
        alert = re.search(r'role="alert"><p>(.*?)</p>', response.text)
        return response.status_code, alert.group(1) if alert else ""

    unknown = "nobody-" + secrets.token_hex(4)
    for _ in range(3):
        known_answer = await attempt(login, "wrong-password-1")
        unknown_answer = await attempt(unknown, "wrong-password-1")
        assert known_answer == unknown_answer
        assert known_answer[0] == 400 and "wrong" in known_answer[1]

    # The fourth try is refused even with the right password, and alike for a stranger.
    locked = await attempt(login, password)
    assert locked == await attempt(unknown, password)
    assert locked[0] == 429 and "paused for 30 minutes" in locked[1]
    assert "session=" not in str(client.cookies)

    # Another address is still counted against the same login.
    other = await make_client(unique_address())
    assert (await staff_sign_in(other, slug, login, password)).status_code == 429


async def test_the_address_limit_locks_out_a_login_guesser(make_client: MakeClient) -> None:
    client = await make_client(unique_address())
    statuses = [
        (await staff_sign_in(client, "ivanovo-water", f"guess-{n}", "wrong")).status_code
        for n in range(11)
    ]
    assert statuses == [400] * 10 + [429]


# --- who may enter -------------------------------------------------------------------------


async def test_a_staff_session_is_useless_on_another_tenants_host(
    client: httpx.AsyncClient, make_client: MakeClient
) -> None:
    await staff_sign_in(client)
    token = client.cookies.get("session", domain="wujiang-water.localhost")
    assert token
    assert (await client.get(tenant_url(WUJIANG, "/admin/activations"))).status_code == 200

    stranger = await make_client()
    for slug in ("melitopol-water", "beijing-unicom"):
        response = await stranger.get(
            tenant_url(slug, "/admin/activations"), headers={"Cookie": f"session={token}"}
        )
        assert response.status_code == 303
        assert response.headers["location"].startswith("/admin/sign-in")


async def test_another_tenants_request_is_not_found(
    client: httpx.AsyncClient, database: Database
) -> None:
    elsewhere = await new_request(database, "melitopol-water")
    await staff_sign_in(client)
    path = f"/admin/activations/{elsewhere.id}"
    assert (await client.get(tenant_url(WUJIANG, path))).status_code == 404
    token = csrf_token((await client.get(tenant_url(WUJIANG, "/admin"))).text)
    for action, data in (("approve", {}), ("reject", {"reason": "Not yours"})):
        response = await client.post(
            tenant_url(WUJIANG, f"{path}/{action}"), data={"_csrf_token": token, **data}
        )
        assert response.status_code == 404
    assert (await reload(database, elsewhere)).status == "pending"
    assert await sms_to(database, elsewhere.phone or "") == []


async def test_customers_never_enter_the_staff_area_and_staff_never_the_cabinet(
    client: httpx.AsyncClient, make_client: MakeClient, database: Database
) -> None:
    async with database.session() as session:
        number = (
            await session.exec(
                select(CustomerIdentifier.value).where(
                    CustomerIdentifier.tenant_id == await tenant_id(database, WUJIANG),
                    CustomerIdentifier.name == "account_number",
                )
            )
        ).first()
    assert number
    assert (await sign_in(client, WUJIANG, number)).status_code == 303
    assert (await client.get(tenant_url(WUJIANG, "/cabinet"))).status_code == 200
    response = await client.get(tenant_url(WUJIANG, "/admin/activations"))
    assert response.status_code == 303
    assert response.headers["location"].startswith("/admin/sign-in")

    staff = await make_client()
    await staff_sign_in(staff)
    cabinet = await staff.get(tenant_url(WUJIANG, "/cabinet"))
    assert cabinet.status_code == 303 and cabinet.headers["location"].startswith("/sign-in")


# --- the queue ----------------------------------------------------------------------------


async def test_the_queue_lists_requests_newest_first_with_each_check_in_words(
    client: httpx.AsyncClient, database: Database
) -> None:
    older = await new_request(database)
    newer = await new_request(
        database,
        checks={"account": True, "account_number": True, "holder_name": False, "resident_id": True},
    )
    await staff_sign_in(client)
    page = await client.get(tenant_url(WUJIANG, "/admin/activations"))
    assert page.status_code == 200
    assert page.text.index(f"/admin/activations/{newer.id}") < page.text.index(
        f"/admin/activations/{older.id}"
    )
    text = text_of(page.text)
    assert newer.values["holder_name"] in text and newer.values["resident_id"] in text
    assert "Did not match: Your name." in text
    assert "Does not match the record" in text and "Matches the record" in text

    detail = text_of((await client.get(tenant_url(WUJIANG, f"/admin/activations/{newer.id}"))).text)
    assert f"Your name {newer.values['holder_name']} ✗ Does not match the record" in detail
    assert f"Your account number {newer.values['account_number']} ✓ Matches the record" in detail
    assert f"Your mobile number {newer.phone} Not checked" in detail


async def test_approval_sends_the_initial_password_that_signs_the_customer_in(
    client: httpx.AsyncClient, make_client: MakeClient, database: Database
) -> None:
    request = await new_request(database, locale="zh_Hans")
    await staff_sign_in(client)

    approved = await decide(client, request.id, "approve")
    assert approved.status_code == 303
    assert approved.headers["location"] == f"/admin/activations/{request.id}"
    detail = text_of((await client.get(tenant_url(WUJIANG, approved.headers["location"]))).text)
    assert "Approved on" in detail and "Decided by Demo admin." in detail

    decided = await reload(database, request)
    assert decided.status == "approved" and decided.decided_at is not None
    async with database.session() as session:
        staff = await session.get(StaffUser, decided.decided_by)
        customer = await session.get(Customer, decided.customer_id)
        identifiers = (
            await session.exec(
                select(CustomerIdentifier.name, CustomerIdentifier.value).where(
                    CustomerIdentifier.customer_id == decided.customer_id
                )
            )
        ).all()
    assert staff is not None and staff.login == "admin"
    assert customer is not None and customer.status == "active" and customer.must_change_password
    assert customer.full_name == request.values["holder_name"]
    assert (customer.phone, customer.email, customer.locale) == (
        request.phone,
        request.email,
        "zh_Hans",
    )
    assert list(identifiers) == [("account_number", request.values["account_number"])]
    assert await customers_of(database, request.account_id) == [customer.id]

    (sms,) = await sms_to(database, request.phone or "")
    assert sms.template == "initial_password" and sms.locale == "zh_Hans"
    assert request.values["account_number"] in sms.body_text
    password = re.search(r"(?<!\d)(\d{8})(?!\d)", sms.body_text)
    assert password, sms.body_text
    assert customer.password_hash and password.group(1) not in customer.password_hash

    customer_client = await make_client()
    signed_in = await sign_in(
        customer_client, WUJIANG, request.values["account_number"], password.group(1)
    )
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/profile/password"

    # A second click on the decided request changes nothing and says why.
    again = await decide(client, request.id, "approve")
    assert again.status_code == 409
    assert "already been decided" in text_of(again.text)
    assert len(await sms_to(database, request.phone or "")) == 1


async def test_rejection_needs_a_reason_and_sends_it_to_the_customer(
    client: httpx.AsyncClient, database: Database
) -> None:
    request = await new_request(database)
    await staff_sign_in(client)

    empty = await decide(client, request.id, "reject", reason="   ")
    assert empty.status_code == 400
    assert 'id="reason-error"' in empty.text and 'aria-invalid="true"' in empty.text
    assert "Give the reason" in text_of(empty.text)
    too_long = await decide(client, request.id, "reject", reason="长" * 501)
    assert too_long.status_code == 400
    assert "长" * 501 in too_long.text  # the typed reason is kept for correcting
    assert (await reload(database, request)).status == "pending"

    reason = "The name does not match the account holder; bring your ID card to the counter."
    rejected = await decide(client, request.id, "reject", reason=reason)
    assert rejected.status_code == 303
    decided = await reload(database, request)
    assert (decided.status, decided.reason, decided.customer_id) == ("rejected", reason, None)
    (sms,) = await sms_to(database, request.phone or "")
    assert sms.template == "activation_rejected" and reason in sms.body_text
    assert "63631616" in sms.body_text
    assert await customers_of(database, request.account_id) == []

    approve_now = await decide(client, request.id, "approve")
    assert approve_now.status_code == 409 and "already been decided" in text_of(approve_now.text)
    reject_again = await decide(client, request.id, "reject", reason="")
    assert reject_again.status_code == 409
    assert (await reload(database, request)).status == "rejected"
    assert len(await sms_to(database, request.phone or "")) == 1


async def test_an_account_that_already_has_a_customer_is_not_approved_again(
    client: httpx.AsyncClient, database: Database
) -> None:
    async with database.session() as session:
        taken = (
            await session.exec(
                select(Account)
                .join(AccountLink, col(AccountLink.account_id) == col(Account.id))
                .where(Account.tenant_id == await tenant_id(database, WUJIANG))
            )
        ).first()
    assert taken is not None
    request = await new_request(database, account=taken)
    await staff_sign_in(client)
    response = await decide(client, request.id, "approve")
    assert response.status_code == 409
    assert "cannot be approved" in text_of(response.text)
    assert (await reload(database, request)).status == "pending"
    assert len(await customers_of(database, taken.id)) == 1
    assert await sms_to(database, request.phone or "") == []


async def test_two_staff_approving_at_once_create_one_customer(
    make_client: MakeClient, database: Database
) -> None:
    request = await new_request(database)
    staff = [await make_client(), await make_client()]
    tokens = []
    for http in staff:
        await staff_sign_in(http)
        page = await http.get(tenant_url(WUJIANG, f"/admin/activations/{request.id}"))
        tokens.append(csrf_token(page.text))

    responses = await asyncio.gather(
        *(
            http.post(
                tenant_url(WUJIANG, f"/admin/activations/{request.id}/approve"),
                data={"_csrf_token": token},
            )
            for http, token in zip(staff, tokens, strict=True)
        )
    )

    assert sorted(r.status_code for r in responses) == [303, 409]
    assert len(await customers_of(database, request.account_id)) == 1
    assert len(await sms_to(database, request.phone or "")) == 1
