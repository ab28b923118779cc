"""The provider's callback over HTTP, signed with the tenant's real sandbox key: a payment is
credited exactly once however often (or however concurrently) its callback arrives, and a
callback that does not verify, names no order or carries another amount credits nothing."""

from __future__ import annotations

import asyncio
import json
from datetime import date, timedelta
from decimal import Decimal

import httpx
import pytest

from domain.db import Database
from domain.models import PaymentOrder, utcnow
from domain.payments import create_payment_order, new_reference
from domain.sandbox_provider import SandboxProvider
from tests.conftest import tenant_url
from tests.web.test_cabinet_home import make_account
from tests.web.test_payments_support import (
    TEST_SECRET,
    online_payments_of,
    orders_of,
    post_callback,
    sandbox,
    signed,
    tenant_id,
)

SLUG = "ivanovo-water"


async def new_order(database: Database, slug: str = SLUG, amount: str = "250.00") -> PaymentOrder:
    account = await make_account(
        database.url, slug, charges=[(date(2026, 10, 1), "cold_water", "300.00")]
    )
    async with database.session() as session:
        return await create_payment_order(
            session,
            tenant_id=await tenant_id(database.url, slug),
            account_id=account.id,
            customer_id=None,
            amount=Decimal(amount),
            purpose="water" if slug == SLUG else "",
            provider="sandbox",
            when=utcnow(),
        )


def notice(
    order: PaymentOrder,
    *,
    amount: str | None = None,
    status: str = "paid",
    currency: str = "RUB",
    reference: str | None = None,
) -> bytes:
    return json.dumps(
        {
            "reference": reference or order.reference,
            "amount": amount or str(order.amount),
            "currency": currency,
            "status": status,
            "paid_at": utcnow().isoformat(),
        }
    ).encode()


async def settled(database: Database, order: PaymentOrder) -> tuple[str, int]:
    """The order's status and how many ledger rows its account has from providers."""
    [current] = await orders_of(database.url, order.account_id)
    return current.status, len(await online_payments_of(database.url, order.account_id))


async def test_a_callback_sent_five_times_credits_once(
    client: httpx.AsyncClient, database: Database
) -> None:
    order = await new_order(database)
    provider = await sandbox(database, SLUG)
    body = notice(order)
    headers = signed(provider, body)
    answers = [await post_callback(client, SLUG, body, headers) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    assert [a.json()["result"] for a in answers] == ["credited"] + ["already_credited"] * 4
    assert answers[1].json()["message"] == "already credited"
    assert await settled(database, order) == ("paid", 1)
    [payment] = await online_payments_of(database.url, order.account_id)
    assert (payment.amount, payment.purpose, payment.reference, payment.provider) == (
        Decimal("250.00"),
        "water",
        order.reference,
        "sandbox",
    )
    [current] = await orders_of(database.url, order.account_id)
    assert current.payment_id == payment.id and current.settled_at is not None


async def test_five_concurrent_callbacks_credit_once(
    client: httpx.AsyncClient, database: Database
) -> None:
    order = await new_order(database)
    provider = await sandbox(database, SLUG)
    body = notice(order)
    headers = signed(provider, body)
    answers = await asyncio.gather(*(post_callback(client, SLUG, body, headers) for _ in range(5)))
    results = sorted(a.json()["result"] for a in answers)
    assert {a.status_code for a in answers} == {200}
    assert results == ["already_credited"] * 4 + ["credited"]
    assert await settled(database, order) == ("paid", 1)


async def test_signatures_that_do_not_verify_credit_nothing(
    client: httpx.AsyncClient, database: Database
) -> None:
    order = await new_order(database)
    provider = await sandbox(database, SLUG)
    body = notice(order)
    good = signed(provider, body)
    other_tenant = SandboxProvider.for_tenant(
        secret=TEST_SECRET,
        slug="kz-vodokanal",
        currency="RUB",
        tenant_id=0,
        database=database,
        clock=utcnow,
    )
    other_secret = SandboxProvider.for_tenant(
        secret="another-secret",
        slug=SLUG,
        currency="RUB",
        tenant_id=0,
        database=database,
        clock=utcnow,
    )
    tampered = notice(order, amount="2.50")
    attempts = [
        (body, {**good, "x-sandbox-signature": "0" * 64}),
        (body, {**good, "x-sandbox-signature": "подпись".encode()}),
        (body, {"content-type": "application/json"}),
        (body, {**good, "x-sandbox-timestamp": "yesterday"}),
        (body, signed(other_tenant, body)),
        (body, signed(other_secret, body)),
        # The amount changed after signing.
        (tampered, good),
        # Signed, but ten minutes ago (or ahead): a captured callback is not replayed later.
        (body, signed(provider, body, at=utcnow() - timedelta(minutes=10))),
        (body, signed(provider, body, at=utcnow() + timedelta(minutes=10))),
        # Signed, but not a notice at all.
        (b"not json", signed(provider, b"not json")),
        (b"[]", signed(provider, b"[]")),
        (b'{"reference": 1}', signed(provider, b'{"reference": 1}')),
    ]
    for attempt_body, headers in attempts:
        answer = await post_callback(client, SLUG, attempt_body, headers)
        assert answer.status_code == 401, (attempt_body, headers)
        assert answer.json()["result"] == "unverified"
    assert await settled(database, order) == ("created", 0)
    # The genuine callback still works afterwards.
    assert (await post_callback(client, SLUG, body, good)).json()["result"] == "credited"


async def test_another_amount_or_currency_is_refused(
    client: httpx.AsyncClient, database: Database
) -> None:
    order = await new_order(database)
    provider = await sandbox(database, SLUG)
    for body in (
        notice(order, amount="2500.00"),
        notice(order, amount="249.99"),
        notice(order, currency="USD"),
    ):
        answer = await post_callback(client, SLUG, body, signed(provider, body))
        assert answer.status_code == 409 and answer.json()["result"] == "amount_mismatch"
    assert await settled(database, order) == ("created", 0)
    # Credited with the right amount, a later notice with another amount is still refused.
    body = notice(order)
    assert (await post_callback(client, SLUG, body, signed(provider, body))).status_code == 200
    body = notice(order, amount="1.00")
    assert (await post_callback(client, SLUG, body, signed(provider, body))).status_code == 409
    assert await settled(database, order) == ("paid", 1)


async def test_an_unknown_reference_is_not_found(
    client: httpx.AsyncClient, database: Database
) -> None:
    order = await new_order(database)
    provider = await sandbox(database, SLUG)
    body = notice(order, reference=new_reference())
    answer = await post_callback(client, SLUG, body, signed(provider, body))
    assert answer.status_code == 404 and answer.json()["result"] == "unknown_reference"
    # Not even the shape of a reference: the notice itself is refused.
    for reference in ("../../etc", "A" * 32, "0" * 33):
        body = notice(order, reference=reference)
        answer = await post_callback(client, SLUG, body, signed(provider, body))
        assert answer.status_code == 401
    # An order of another tenant, under this tenant's key and site: not found here.
    foreign = await new_order(database, "kz-vodokanal")
    body = notice(foreign, currency="RUB")
    answer = await post_callback(client, SLUG, body, signed(provider, body))
    assert answer.status_code == 404
    assert await settled(database, order) == ("created", 0)
    assert await settled(database, foreign) == ("created", 0)


async def test_declined_then_paid_credits_nothing(
    client: httpx.AsyncClient, database: Database
) -> None:
    order = await new_order(database)
    provider = await sandbox(database, SLUG)
    declined = notice(order, status="declined")
    answer = await post_callback(client, SLUG, declined, signed(provider, declined))
    assert answer.status_code == 200 and answer.json()["result"] == "declined"
    answer = await post_callback(client, SLUG, declined, signed(provider, declined))
    assert answer.json()["result"] == "already_declined"
    paid = notice(order)
    answer = await post_callback(client, SLUG, paid, signed(provider, paid))
    assert answer.status_code == 409 and answer.json()["result"] == "closed"
    assert await settled(database, order) == ("failed", 0)


@pytest.mark.parametrize(
    ("slug", "path"),
    [
        (SLUG, "/payments/callback/paypal"),
        ("melitopol-water", "/payments/callback/other"),
    ],
)
async def test_an_unknown_provider_is_not_found(
    client: httpx.AsyncClient, slug: str, path: str
) -> None:
    answer = await client.post(tenant_url(slug, path), content=b"{}")
    assert answer.status_code == 404 and answer.json()["result"] == "unknown_provider"
