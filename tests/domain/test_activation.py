"""Deciding activation requests on each database: one transaction, one customer at most."""

from __future__ import annotations

import asyncio
import re
import secrets

import pytest
from sqlmodel import select

from domain.activation import (
    APPROVED,
    PENDING,
    ActivationRequest,
    approve_activation,
    count_pending,
    pending_requests,
    reject_activation,
    sign_in_identifiers,
)
from domain.db import Database
from domain.models import Account, AccountLink, Customer, CustomerIdentifier, Tenant
from domain.outbox import OutboxMessage
from domain.passwords import verify_password
from domain.staff import StaffUser
from tenants.loader import load_presets
from tenants.schema import TenantConfig
from web.messages import render_message

SLUG = "wujiang-water"


@pytest.fixture(scope="module")
def config() -> TenantConfig:
    return next(preset for preset in load_presets() if preset.slug == SLUG)


@pytest.fixture
async def ids(database: Database) -> dict[str, int]:
    """The tenant and its demo admin."""
    async with database.session() as session:
        tenant = (await session.exec(select(Tenant).where(Tenant.slug == SLUG))).one()
        staff = (
            await session.exec(select(StaffUser).where(StaffUser.tenant_id == tenant.id))
        ).first()
    assert tenant.id is not None and staff is not None and staff.id is not None
    return {"tenant": tenant.id, "staff": staff.id}


async def make_request(database: Database, tenant_id: int, account: Account | None = None) -> int:
    async with database.session() as session:
        if account is None:
            account = Account(
                tenant_id=tenant_id,
                number=f"8{secrets.randbelow(10**10):010d}",
                holder_name="李测试",
            )
            session.add(account)
            await session.flush()
        phone = f"+86138{secrets.randbelow(10**8):08d}"
        request = ActivationRequest(
            tenant_id=tenant_id,
            variant="individual",
            values={"account_number": account.number, "holder_name": account.holder_name},
            checks={"account": True, "account_number": True, "holder_name": True},
            account_id=account.id,
            phone=phone,
            email="li@example.test",
            locale="en",
        )
        session.add(request)
        await session.commit()
        assert request.id is not None
        return request.id


async def state(database: Database, request_id: int) -> tuple[ActivationRequest, list[int], int]:
    """The request, the customers linked to its account, the SMS sent about it."""
    async with database.session() as session:
        request = await session.get(ActivationRequest, request_id)
        assert request is not None
        linked = (
            await session.exec(
                select(AccountLink.customer_id).where(AccountLink.account_id == request.account_id)
            )
        ).all()
        sms = (
            await session.exec(
                select(OutboxMessage.id).where(OutboxMessage.recipient == request.phone)
            )
        ).all()
    return request, list(linked), len(sms)


async def approve(
    database: Database, config: TenantConfig, ids: dict[str, int], request_id: int
) -> str:
    async with database.session() as session:
        decision = await approve_activation(
            session,
            config=config,
            tenant_id=ids["tenant"],
            request_id=request_id,
            staff_id=ids["staff"],
            renderer=render_message,
        )
    return decision.outcome


async def test_approval_creates_the_customer_link_identifier_and_sms_together(
    database: Database, config: TenantConfig, ids: dict[str, int]
) -> None:
    request_id = await make_request(database, ids["tenant"])
    assert await approve(database, config, ids, request_id) == "approved"

    request, linked, sent = await state(database, request_id)
    assert request.status == APPROVED and request.decided_by == ids["staff"]
    assert linked == [request.customer_id] and sent == 1
    async with database.session() as session:
        customer = await session.get(Customer, request.customer_id)
        identifier = (
            await session.exec(
                select(CustomerIdentifier).where(
                    CustomerIdentifier.customer_id == request.customer_id
                )
            )
        ).one()
        message = (
            await session.exec(
                select(OutboxMessage).where(OutboxMessage.recipient == request.phone)
            )
        ).one()
    assert customer is not None and customer.password_hash
    password = re.search(r"(?<!\d)\d{8}(?!\d)", message.body_text)
    assert password is not None
    assert verify_password(customer.password_hash, password.group())
    assert (identifier.name, identifier.value) == (
        "account_number",
        request.values["account_number"],
    )


async def test_concurrent_approvals_from_several_processes_create_one_customer(
    database: Database, database_url: str, config: TenantConfig, ids: dict[str, int]
) -> None:
    request_id = await make_request(database, ids["tenant"])
    processes = [database, *(Database(database_url) for _ in range(3))]
    try:
        outcomes = await asyncio.gather(
            *(approve(process, config, ids, request_id) for process in processes)
        )
    finally:
        for process in processes[1:]:
            await process.dispose()

    assert sorted(outcomes) == ["already_decided"] * 3 + ["approved"]
    request, linked, sent = await state(database, request_id)
    assert request.status == APPROVED and linked == [request.customer_id] and sent == 1


async def test_two_requests_for_one_account_approved_at_once_give_one_customer(
    database: Database, database_url: str, config: TenantConfig, ids: dict[str, int]
) -> None:
    first = await make_request(database, ids["tenant"])
    async with database.session() as session:
        request = await session.get(ActivationRequest, first)
        assert request is not None
        account = await session.get(Account, request.account_id)
    second = await make_request(database, ids["tenant"], account)
    other = Database(database_url)
    try:
        outcomes = await asyncio.gather(
            approve(database, config, ids, first), approve(other, config, ids, second)
        )
    finally:
        await other.dispose()

    assert sorted(outcomes) == ["account_unavailable", "approved"]
    loser = second if outcomes[1] == "account_unavailable" else first
    request, linked, sent = await state(database, loser)
    # Nothing of the refused one is kept: it waits for staff to reject it.
    assert request.status == PENDING and request.customer_id is None and sent == 0
    assert len(linked) == 1


async def test_rejection_records_the_reason_and_a_decided_request_stays_decided(
    database: Database, config: TenantConfig, ids: dict[str, int]
) -> None:
    request_id = await make_request(database, ids["tenant"])

    async def reject(reason: str) -> str:
        async with database.session() as session:
            decision = await reject_activation(
                session,
                config=config,
                tenant_id=ids["tenant"],
                request_id=request_id,
                staff_id=ids["staff"],
                reason=reason,
                renderer=render_message,
            )
        return decision.outcome

    with pytest.raises(ValueError):
        await reject("  ")
    with pytest.raises(ValueError):
        await reject("x" * 501)
    assert await reject("Wrong holder name") == "rejected"
    assert await reject("Another reason") == "already_decided"
    assert await approve(database, config, ids, request_id) == "already_decided"

    request, linked, sent = await state(database, request_id)
    assert (request.status, request.reason, linked, sent) == (
        "rejected",
        "Wrong holder name",
        [],
        1,
    )


async def test_another_tenants_request_is_not_found(
    database: Database, config: TenantConfig, ids: dict[str, int]
) -> None:
    async with database.session() as session:
        other = (await session.exec(select(Tenant).where(Tenant.slug == "ivanovo-water"))).one()
    assert other.id is not None
    request_id = await make_request(database, other.id)
    assert await approve(database, config, ids, request_id) == "not_found"
    request, linked, sent = await state(database, request_id)
    assert (request.status, linked, sent) == (PENDING, [], 0)


async def test_the_queue_is_per_tenant_and_newest_first(
    database: Database, ids: dict[str, int]
) -> None:
    async with database.session() as session:
        before = await count_pending(session, ids["tenant"])
    made = [await make_request(database, ids["tenant"]) for _ in range(2)]
    async with database.session() as session:
        assert await count_pending(session, ids["tenant"]) == before + 2
        queue = await pending_requests(session, ids["tenant"])
    listed = [request.id for request, _ in queue]
    assert listed.index(made[1]) < listed.index(made[0])
    assert {request.tenant_id for request, _ in queue} == {ids["tenant"]}
    assert {request.status for request, _ in queue} == {PENDING}
    accounts = {request.id: account for request, account in queue}
    assert all(accounts[request_id] is not None for request_id in made)


def test_sign_in_identifiers_come_from_the_account_and_the_typed_values() -> None:
    presets = {preset.slug: preset for preset in load_presets()}
    account = Account(tenant_id=1, number="36111308401", holder_name="张伟")
    request = ActivationRequest(
        tenant_id=1,
        variant="individual",
        values={"account_number": "36111308401", "mobile": "+8613912345678"},
        locale="zh_Hans",
    )
    assert sign_in_identifiers(presets[SLUG], request, account) == [
        ("account_number", "36111308401")
    ]
    # A free login is stored in its comparable form; a request naming no variant still counts.
    typed = ActivationRequest(
        tenant_id=1,
        variant="",
        values={"login": "Иван_Petrov", "email": "ivan@example.test"},
        locale="ru",
    )
    assert sign_in_identifiers(presets["melitopol-water"], typed, account) == [
        ("login", "иван_petrov"),
        ("email", "ivan@example.test"),
    ]
