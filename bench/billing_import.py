"""The billing-API import scenario: charges pushed with `PUT /api/v1/charges`, rows per second.

The contract: a JSON body `{"items": [{"account_number", "period": "YYYY-MM", "service",
"recipient", "tariff_group", "volume", "tariff", "vat_percent", "amount"}, ...]}` and the
header `Authorization: Bearer <key>`. The key is made directly in the database for the
scenario tenant. Two passes over the same lines, so that every run measures the same work:
"insert" after the lines' months have been cleared (a new month's bills), then "update"
with every amount changed (corrections).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import delete
from sqlmodel import col, select

from bench.seed_large import SERVICES
from domain import api_keys
from domain.db import Database
from domain.demo import month_start
from domain.models import Account, Charge, Tenant

BATCH = 2000
# A response status that means the endpoint is not there (yet).
ABSENT = {404, 405}
TARIFF = Decimal("15.66")


async def _prepare(database_url: str, slug: str, rows: int) -> tuple[str, list[str], list[date]]:
    """An API key, the accounts to bill and the months; those months' charges are cleared."""
    accounts = max(1, rows // len(SERVICES))
    database = Database(database_url)
    try:
        async with database.session() as session:
            tenant = (await session.exec(select(Tenant).where(Tenant.slug == slug))).one()
            assert tenant.id is not None
            numbers = list(
                (
                    await session.exec(
                        select(Account.number)
                        .where(Account.tenant_id == tenant.id)
                        .order_by(col(Account.id))
                        .limit(accounts)
                    )
                ).all()
            )
            months = -(-rows // max(1, len(numbers) * len(SERVICES)))
            periods = [month_start(date.today(), back) for back in range(months)]
            ids = select(Account.id).where(
                Account.tenant_id == tenant.id, col(Account.number).in_(numbers)
            )
            await session.exec(
                delete(Charge).where(
                    col(Charge.tenant_id) == tenant.id,
                    col(Charge.period).in_(periods),
                    col(Charge.account_id).in_(ids),
                )
            )
            create = getattr(api_keys, "create_api_key", None)
            if create is not None:
                _, plain = await create(
                    session,
                    tenant_id=tenant.id,
                    name="benchmark",
                    created_by=None,
                    now=datetime.now(UTC),
                )
            else:
                plain = "pk_" + secrets.token_urlsafe(32)
                session.add(
                    api_keys.ApiKey(
                        tenant_id=tenant.id,
                        name="benchmark",
                        prefix=plain[:11],
                        key_hash=hashlib.sha256(plain.encode()).hexdigest(),
                    )
                )
            await session.commit()
    finally:
        await database.dispose()
    return plain, numbers, periods


def _items(
    numbers: list[str], periods: list[date], rows: int, recipient: str, extra: Decimal
) -> list[dict[str, str]]:
    """`rows` charge lines: every account's services, month by month; `extra` m³ each."""
    items: list[dict[str, str]] = []
    for period in periods:
        for number in numbers:
            for position, service in enumerate(SERVICES):
                volume = Decimal(3 + len(items) % 5) + Decimal(position) / 1000 + extra
                items.append(
                    {
                        "account_number": number,
                        "period": f"{period:%Y-%m}",
                        "service": service,
                        "recipient": recipient,
                        "tariff_group": "3",
                        "volume": f"{volume:.3f}",
                        "tariff": str(TARIFF),
                        "vat_percent": "20",
                        "amount": f"{volume * TARIFF * Decimal('1.2'):.2f}",
                    }
                )
    return items[:rows]


def run_import(
    base_url: str, database_url: str, host: str, rows: int, batch: int = BATCH
) -> dict[str, Any]:
    """Push `rows` charges twice (inserted, then changed); rows per second of each pass."""
    slug = host.split(".", 1)[0]
    key, numbers, periods = asyncio.run(_prepare(database_url, slug, rows))
    if not numbers:
        return {"status": "skipped", "note": "the tenant has no accounts"}
    headers = {
        "Host": host,
        "Authorization": f"Bearer {key}",
        "Content-Type": "application/json",
    }
    passes: list[dict[str, Any]] = []
    with httpx.Client(base_url=base_url, headers=headers, timeout=600) as client:
        for name, extra in (("insert", Decimal(0)), ("update", Decimal("0.5"))):
            items = _items(numbers, periods, rows, slug, extra)
            bodies = [
                json.dumps({"items": items[i : i + batch]}) for i in range(0, len(items), batch)
            ]
            started = time.perf_counter()
            for body in bodies:
                answer = client.put("/api/v1/charges", content=body)
                if answer.status_code in ABSENT:
                    return {
                        "status": "skipped",
                        "note": f"PUT /api/v1/charges answers {answer.status_code}: "
                        "the endpoint is not there yet",
                    }
                if answer.status_code >= 300:
                    return {
                        "status": "failed",
                        "note": f"PUT /api/v1/charges answered {answer.status_code}: "
                        f"{answer.text[:300]}",
                    }
            seconds = time.perf_counter() - started
            passes.append(
                {
                    "pass": name,
                    "rows": len(items),
                    "seconds": round(seconds, 2),
                    "rows_per_s": round(len(items) / seconds),
                    "last_answer": answer.text[:200],
                }
            )
    return {"status": "ok", "batch": batch, "passes": passes}
