"""One-time links and codes on each database: hashed, single use, expiring, attempt-limited."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import pytest
from sqlmodel import col, select

from domain.db import Database
from domain.models import Customer, Tenant
from domain.one_time import (
    CODE_ATTEMPTS,
    LINK_ATTEMPTS,
    OneTimeSecret,
    check_code,
    count_failed_attempt,
    digest,
    find_link,
    issue_code,
    issue_link,
    use,
)

PEPPER = "one-time-test-pepper"


@pytest.fixture
async def ids(database: Database) -> dict[str, int]:
    """A tenant, another tenant, and a customer made for this test."""
    async with database.session() as session:
        tenants = (await session.exec(select(Tenant).order_by(col(Tenant.id)))).all()
        customer = Customer(tenant_id=tenants[0].id or 0, full_name="One-time test")
        session.add(customer)
        await session.commit()
    assert tenants[0].id and tenants[1].id and customer.id
    return {"tenant": tenants[0].id, "other_tenant": tenants[1].id, "customer": customer.id}


async def new_link(database: Database, ids: dict[str, int], **options: object) -> tuple[str, int]:
    async with database.session() as session:
        issued = await issue_link(
            session,
            tenant_id=ids["tenant"],
            purpose="password_reset",
            pepper=PEPPER,
            customer_id=ids["customer"],
            **options,  # type: ignore[arg-type]
        )
        await session.commit()
    assert issued.secret.id is not None
    return issued.value, issued.secret.id


async def new_code(database: Database, ids: dict[str, int], **options: object) -> tuple[str, int]:
    async with database.session() as session:
        issued = await issue_code(
            session,
            tenant_id=ids["tenant"],
            purpose="password_reset_code",
            pepper=PEPPER,
            customer_id=ids["customer"],
            **options,  # type: ignore[arg-type]
        )
        await session.commit()
    assert issued.secret.id is not None
    return issued.value, issued.secret.id


async def found_link(
    database: Database, ids: dict[str, int], token: str, **overrides: object
) -> OneTimeSecret | None:
    options: dict[str, object] = {
        "tenant_id": ids["tenant"],
        "purpose": "password_reset",
        "pepper": PEPPER,
    }
    options.update(overrides)
    async with database.session() as session:
        return await find_link(session, token=token, **options)  # type: ignore[arg-type]


async def try_code(
    database: Database, ids: dict[str, int], secret_id: int, code: str, **overrides: object
) -> str:
    options: dict[str, object] = {
        "tenant_id": ids["tenant"],
        "purpose": "password_reset_code",
        "pepper": PEPPER,
    }
    options.update(overrides)
    async with database.session() as session:
        outcome, _ = await check_code(
            session,
            secret_id=secret_id,
            code=code,
            **options,  # type: ignore[arg-type]
        )
        await session.commit()
    return outcome


async def stored(database: Database, secret_id: int) -> OneTimeSecret:
    async with database.session() as session:
        secret = await session.get(OneTimeSecret, secret_id)
    assert secret is not None
    return secret


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


# --- links ----------------------------------------------------------------------------------


async def test_a_link_is_found_until_it_is_used_once(
    database: Database, ids: dict[str, int]
) -> None:
    token, secret_id = await new_link(database, ids, payload={"email": "a@example.test"})
    secret = await found_link(database, ids, token)
    assert secret is not None and secret.id == secret_id
    assert secret.payload == {"email": "a@example.test"}
    # Finding does not use it up.
    assert await found_link(database, ids, token) is not None

    async with database.session() as session:
        live = await session.get(OneTimeSecret, secret_id)
        assert live is not None
        use(live)
        session.add(live)
        await session.commit()
    assert await found_link(database, ids, token) is None


async def test_a_link_is_not_found_elsewhere_or_with_another_key(
    database: Database, ids: dict[str, int]
) -> None:
    token, _ = await new_link(database, ids)
    assert await found_link(database, ids, token, tenant_id=ids["other_tenant"]) is None
    assert await found_link(database, ids, token, purpose="email_confirmation") is None
    assert await found_link(database, ids, token, pepper="another-pepper") is None
    assert await found_link(database, ids, token[:-1]) is None
    assert await found_link(database, ids, "") is None
    assert await found_link(database, ids, "x" * 200) is None
    assert await found_link(database, ids, token) is not None


async def test_a_link_expires(database: Database, ids: dict[str, int]) -> None:
    token, _ = await new_link(database, ids, lifetime=timedelta(seconds=-1))
    assert await found_link(database, ids, token) is None
    fresh, _ = await new_link(database, ids, lifetime=timedelta(minutes=5))
    assert await found_link(database, ids, fresh) is not None


async def test_a_link_with_too_many_failed_checks_is_dead(
    database: Database, ids: dict[str, int]
) -> None:
    token, _ = await new_link(database, ids)
    for _ in range(LINK_ATTEMPTS):
        secret = await found_link(database, ids, token)
        assert secret is not None
        async with database.session() as session:
            await count_failed_attempt(session, secret)
            await session.commit()
    assert await found_link(database, ids, token) is None


async def test_a_new_link_retires_the_old_one(database: Database, ids: dict[str, int]) -> None:
    old, _ = await new_link(database, ids)
    new, _ = await new_link(database, ids)
    assert await found_link(database, ids, old) is None
    assert await found_link(database, ids, new) is not None


# --- codes ----------------------------------------------------------------------------------


async def test_the_right_code_works_once(database: Database, ids: dict[str, int]) -> None:
    code, secret_id = await new_code(database, ids)
    assert len(code) == 6 and code.isdigit()
    assert await try_code(database, ids, secret_id, f" {code[:3]} {code[3:]} ") == "ok"
    assert await try_code(database, ids, secret_id, code) == "unknown"
    assert (await stored(database, secret_id)).used_at is not None


async def test_wrong_codes_count_until_the_code_is_exhausted(
    database: Database, ids: dict[str, int]
) -> None:
    code, secret_id = await new_code(database, ids)
    outcomes = [await try_code(database, ids, secret_id, wrong(code)) for _ in range(CODE_ATTEMPTS)]
    assert outcomes == ["wrong"] * (CODE_ATTEMPTS - 1) + ["exhausted"]
    assert (await stored(database, secret_id)).attempts == CODE_ATTEMPTS
    # Even the right code is refused now.
    assert await try_code(database, ids, secret_id, code) == "exhausted"


async def test_an_expired_code_is_refused(database: Database, ids: dict[str, int]) -> None:
    code, secret_id = await new_code(database, ids, lifetime=timedelta(seconds=-1))
    assert await try_code(database, ids, secret_id, code) == "expired"


async def test_a_code_is_unknown_to_another_tenant_or_purpose(
    database: Database, ids: dict[str, int]
) -> None:
    code, secret_id = await new_code(database, ids)
    assert (
        await try_code(database, ids, secret_id, code, tenant_id=ids["other_tenant"]) == "unknown"
    )
    assert await try_code(database, ids, secret_id, code, purpose="phone_confirmation") == "unknown"
    assert await try_code(database, ids, 10**9, code) == "unknown"
    assert (await stored(database, secret_id)).attempts == 0
    assert await try_code(database, ids, secret_id, code) == "ok"


async def test_a_new_code_retires_the_old_one_by_customer_or_by_key(
    database: Database, ids: dict[str, int]
) -> None:
    old_code, old_id = await new_code(database, ids)
    _, new_id = await new_code(database, ids)
    assert await try_code(database, ids, old_id, old_code) == "unknown"

    phone = f"+7916{secrets.randbelow(10**7):07d}"
    keyed = {**ids, "customer": None}
    first_code, first_id = await new_code(database, keyed, payload={"key": phone})  # type: ignore[arg-type]
    second_code, second_id = await new_code(database, keyed, payload={"key": phone})  # type: ignore[arg-type]
    assert await try_code(database, ids, first_id, first_code) == "unknown"
    assert await try_code(database, ids, second_id, second_code) == "ok"
    assert (await stored(database, new_id)).used_at is None


async def test_stored_hashes_never_equal_the_clear_values(
    database: Database, ids: dict[str, int]
) -> None:
    token, link_id = await new_link(database, ids)
    code, code_id = await new_code(database, ids)
    link_hash = (await stored(database, link_id)).secret_hash
    code_hash = (await stored(database, code_id)).secret_hash
    assert len(link_hash) == len(code_hash) == 64
    assert token not in link_hash and code_hash != code
    assert link_hash != hashlib.sha256(token.encode()).hexdigest()
    # Keyed with the server's secret and bound to the secret's id, so equal codes differ.
    assert code_hash == digest(f"{code_id}:{code}", PEPPER) != digest(code, PEPPER)
