"""Exactly once: many concurrent submissions for one meter and period leave one reading
(on every test backend: SQLite, and PostgreSQL when PORTAL_TEST_DATABASE_URL is set)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from decimal import Decimal

import httpx

from tests.conftest import tenant_url
from tests.helpers import csrf_token
from tests.web.test_readings_support import (
    MeterSpec,
    current_readings,
    make_household,
    set_clock,
    with_session,
)

TODAY = date(2026, 11, 21)
NOON = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


async def test_ten_concurrent_posts_leave_one_reading(
    client: httpx.AsyncClient, database_url: str
) -> None:
    household = await make_household(
        database_url,
        "kz-vodokanal",
        [MeterSpec(history=["100", "110"]), MeterSpec(history=["50", "60"])],
        TODAY,
        kind="legal",
    )
    set_clock(client, NOON)
    await with_session(client, household)
    first, second = household.meters
    token = csrf_token((await client.get(tenant_url("kz-vodokanal", "/cabinet"))).text)

    async def post(n: int) -> int:
        # A double click, two tabs, a retried request: the same form, values a little apart.
        response = await client.post(
            household.url(),
            data={
                "_csrf_token": token,
                f"value-{first}": f"11{n}.5",
                f"value-{second}": f"6{n}",
            },
        )
        return response.status_code

    statuses = await asyncio.gather(*(post(n) for n in range(10)))
    assert statuses == [303] * 10
    (one,) = await current_readings(database_url, first, TODAY)
    (two,) = await current_readings(database_url, second, TODAY)
    assert one.value in {Decimal(f"11{n}.5") for n in range(10)}
    assert two.value in {Decimal(f"6{n}") for n in range(10)}
    assert one.customer_id == household.customer_id and one.status == "processing"
