"""The billing API through HTTP: key scoping, idempotent upserts, per-item errors, cursor exports.

Every test runs on a private copy of the seeded database: the batches here write accounts,
charges and payments that other tests must never see.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from domain.api_keys import create_api_key
from domain.models import (
    Account,
    AnonymousReading,
    Charge,
    Customer,
    Meter,
    Payment,
    Reading,
    UsageSession,
    VisitRequest,
    utcnow,
)
from domain.reading_submission import upsert_reading
from web.app import create_app
from web.settings import Settings

IVANOVO = "ivanovo-water"
WUJIANG = "wujiang-water"
UNICOM = "beijing-unicom"
ENDPOINTS = [
    ("PUT", "/api/v1/accounts"),
    ("PUT", "/api/v1/meters"),
    ("PUT", "/api/v1/charges"),
    ("PUT", "/api/v1/payments"),
    ("PUT", "/api/v1/usage-sessions"),
    ("GET", "/api/v1/readings"),
    ("GET", "/api/v1/requests"),
]


@dataclass
class Api:
    http: httpx.AsyncClient
    portal: Any

    async def key(self, slug: str) -> str:
        async with self.portal.database.session() as session:
            _, plain = await create_api_key(
                session,
                tenant_id=self.portal.tenant_ids[slug],
                name="test",
                created_by=None,
                now=utcnow(),
            )
            await session.commit()
        return str(plain)

    async def call(
        self, slug: str, key: str | None, method: str, path: str, **kwargs: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return await self.http.request(
            method, f"http://{slug}.localhost{path}", headers=headers, **kwargs
        )

    async def put(
        self, slug: str, key: str, kind: str, items: list[Any], mode: str = "all"
    ) -> httpx.Response:
        return await self.call(
            slug, key, "PUT", f"/api/v1/{kind}?mode={mode}", json={"items": items}
        )

    async def rows(self, statement: Any) -> list[Any]:
        async with self.portal.database.session() as session:
            return list(await session.exec(statement))


@pytest.fixture
async def api(private_settings: Settings) -> AsyncIterator[Api]:
    app = create_app(private_settings)
    portal = app.portal  # type: ignore[attr-defined]
    await portal.reload_tenants()
    # A minute ahead, so that the exports' settling delay has passed for rows written now.
    portal.clock = lambda: utcnow() + timedelta(minutes=1)
    transport = httpx.ASGITransport(app=app, client=("10.77.0.1", 40000))  # type: ignore[arg-type]
    async with httpx.AsyncClient(
        transport=transport, base_url="http://localhost", headers={"Accept-Language": "en"}
    ) as http:
        yield Api(http, portal)
    await portal.database.dispose()


def accounts(*numbers: str) -> list[dict[str, Any]]:
    return [{"account_number": number, "holder_name": f"Holder {number}"} for number in numbers]


# --- keys ------------------------------------------------------------------------------------


async def test_a_key_works_on_its_own_tenant_only_and_until_revoked(api: Api) -> None:
    key = await api.key(IVANOVO)
    other = await api.key(WUJIANG)
    for method, path in ENDPOINTS:
        body: dict[str, Any] = {"json": {"items": []}} if method == "PUT" else {}
        own = await api.call(IVANOVO, key, method, path, **body)
        assert own.status_code == 200, (path, own.text)
        for slug, used in ((WUJIANG, key), (IVANOVO, other), (IVANOVO, None), (IVANOVO, "pk_x")):
            refused = await api.call(slug, used, method, path, **body)
            assert refused.status_code == 401, (path, slug)
            assert refused.json()["code"] == "unauthorized"
            assert refused.headers["www-authenticate"] == "Bearer"
    # The bare base domain serves no tenant: a JSON 404, never a page.
    bare = await api.http.get("http://localhost/api/v1/readings", headers={"Authorization": key})
    assert bare.status_code == 404
    assert bare.json()["code"] == "not_found"

    async with api.portal.database.session() as session:
        from domain.api_keys import ApiKey, revoke_api_key

        stored = (await session.exec(select(ApiKey))).all()
        assert all(key not in (row.key_hash, row.prefix) for row in stored)
        for row in stored:
            if row.tenant_id == api.portal.tenant_ids[IVANOVO]:
                assert row.last_used_at is not None
                await revoke_api_key(session, row, utcnow())
        await session.commit()
    revoked = await api.call(IVANOVO, key, "GET", "/api/v1/readings")
    assert revoked.status_code == 401


# --- upserts ----------------------------------------------------------------------------------


async def test_sending_the_same_batches_twice_leaves_the_same_rows(api: Api) -> None:
    key = await api.key(IVANOVO)
    tenant_id = api.portal.tenant_ids[IVANOVO]
    batches: list[tuple[str, list[dict[str, Any]]]] = [
        ("accounts", accounts("55500001", "55500002")),
        (
            "meters",
            [
                {
                    "account_number": "55500001",
                    "factory_number": "F-1",
                    "service": "cold_water",
                    "verification_due": "2029-01-31",
                    "decimals": 3,
                    "is_heat_meter": False,
                }
            ],
        ),
        (
            "charges",
            [
                {
                    "account_number": number,
                    "period": "2026-10",
                    "service": "water",
                    "volume": "3,5",
                    "tariff": 41.85,
                    "vat_percent": "20",
                    "amount": 175.77,
                }
                for number in ("55500001", "55500002")
            ],
        ),
        (
            "payments",
            [
                {
                    "account_number": "55500001",
                    "provider": "bank",
                    "reference": "P-1",
                    "paid_at": "2026-11-02 10:30",
                    "amount": "175.77",
                    "purpose": "Water",
                }
            ],
        ),
        (
            "usage-sessions",
            [
                {
                    "account_number": "55500002",
                    "started_at": "2026-10-31T23:00:00+03:00",
                    "ended_at": "2026-11-01T01:30:00+03:00",
                    "megabytes": "1024.5",
                }
            ],
        ),
    ]
    for kind, items in batches:
        first = await api.put(IVANOVO, key, kind, items)
        assert first.status_code == 200, first.text
        assert first.json()["inserted"] == len(items)
        again = await api.put(IVANOVO, key, kind, items)
        assert again.status_code == 200
        result = again.json()
        assert (result["inserted"], result["updated"], result["unchanged"]) == (0, 0, len(items))

    ours = select(Account).where(Account.tenant_id == tenant_id, col(Account.number).like("555%"))
    found = await api.rows(ours)
    assert sorted(a.number for a in found) == ["55500001", "55500002"]
    ids = {a.number: a.id for a in found}
    charges = await api.rows(select(Charge).where(col(Charge.account_id).in_(ids.values())))
    assert len(charges) == 2
    # Exact decimals from strings with a comma and from JSON numbers alike.
    assert {c.volume for c in charges} == {Decimal("3.5")}
    assert {c.amount for c in charges} == {Decimal("175.77")}
    assert {c.period for c in charges} == {date(2026, 10, 1)}
    (payment,) = await api.rows(select(Payment).where(Payment.reference == "P-1"))
    # A time without an offset is the utility's (Moscow, UTC+3).
    assert payment.paid_at == datetime(2026, 11, 2, 7, 30, tzinfo=UTC)
    (usage,) = await api.rows(
        select(UsageSession).where(UsageSession.account_id == ids["55500002"])
    )
    assert usage.started_at == datetime(2026, 10, 31, 20, 0, tzinfo=UTC)
    assert len(await api.rows(select(Meter).where(Meter.account_id == ids["55500001"]))) == 1

    # A changed value is an update of the same row; a field left out keeps its value.
    changed = await api.put(
        IVANOVO, key, "charges", [{**batches[2][1][0], "amount": "180.00", "volume": None}]
    )
    assert changed.json()["updated"] == 1
    renamed = await api.put(
        IVANOVO, key, "accounts", [{"account_number": "55500001", "holder_name": "New Name"}]
    )
    assert renamed.json()["updated"] == 1
    (charge,) = await api.rows(
        select(Charge).where(
            Charge.account_id == ids["55500001"], Charge.period == date(2026, 10, 1)
        )
    )
    assert (charge.amount, charge.volume, charge.tariff) == (
        Decimal("180.00"),
        Decimal(0),
        Decimal("41.85"),
    )


async def test_mode_all_writes_nothing_and_valid_only_writes_the_valid_items(api: Api) -> None:
    key = await api.key(IVANOVO)
    items = [*accounts("55600001"), {"account_number": "55600002", "holder_name": ""}]
    refused = await api.put(IVANOVO, key, "accounts", items)
    assert refused.status_code == 422
    body = refused.json()
    assert body["written"] is False
    assert body["failed"] == 1
    assert body["errors"] == [
        {"index": 1, "field": "holder_name", "code": "required", "message": "A value is required."}
    ]
    assert not await api.rows(select(Account).where(col(Account.number).like("556%")))

    partly = await api.put(IVANOVO, key, "accounts", items, mode="valid_only")
    assert partly.status_code == 200
    assert (partly.json()["inserted"], partly.json()["failed"]) == (1, 1)
    assert [
        a.number for a in await api.rows(select(Account).where(col(Account.number).like("556%")))
    ] == ["55600001"]


async def test_each_bad_item_is_named_with_its_field_and_reason(api: Api) -> None:
    key = await api.key(IVANOVO)
    await api.put(IVANOVO, key, "accounts", accounts("55700001"))
    # A number of another tenant's account is unknown here.
    (foreign,) = await api.rows(
        select(Account.number).where(Account.tenant_id == api.portal.tenant_ids[WUJIANG]).limit(1)
    )
    good = {"account_number": "55700001", "period": "2026-11", "service": "water", "amount": "1"}
    items = [
        {**good, "amount": "abc"},
        {**good, "amount": "1e5", "service": "a"},
        {**good, "amount": 12.345, "service": "b"},
        {**good, "volume": "-1", "service": "c"},
        {**good, "period": "2026-13", "service": "d"},
        {**good, "account_number": foreign, "service": "e"},
        {**good, "service": "x" * 31},
        {**good, "colour": "red", "service": "f"},
        {**good, "vat_percent": "101", "service": "g"},
        "not an object",
        good,
        good,
    ]
    response = await api.put(IVANOVO, key, "charges", items, mode="valid_only")
    assert response.status_code == 200
    errors = [(e["index"], e["field"], e["code"]) for e in response.json()["errors"]]
    assert errors == [
        (0, "amount", "not_a_number"),
        (1, "amount", "not_a_number"),
        (2, "amount", "too_many_decimals"),
        (3, "volume", "negative"),
        (4, "period", "bad_period"),
        (5, "account_number", "unknown_account"),
        (6, "service", "too_long"),
        (7, "colour", "unknown_field"),
        (8, "vat_percent", "too_big"),
        (9, "", "not_an_object"),
        (11, "", "duplicate_key"),
    ]
    messages = {e["code"]: e["message"] for e in response.json()["errors"]}
    assert messages["too_many_decimals"] == "Use at most 2 decimal places."
    assert messages["unknown_account"] == f"There is no account with the number {foreign}."
    assert messages["duplicate_key"].startswith("The same record was already given as item 10")
    assert response.json()["inserted"] == 1


async def test_a_payment_is_credited_once_and_its_amount_never_changes(api: Api) -> None:
    key = await api.key(IVANOVO)
    await api.put(IVANOVO, key, "accounts", accounts("55800001"))
    payment = {
        "account_number": "55800001",
        "provider": "bank",
        "reference": "R-77",
        "paid_at": "2026-11-03T09:00:00Z",
        "amount": "500.00",
    }
    assert (await api.put(IVANOVO, key, "payments", [payment])).json()["inserted"] == 1
    changed = await api.put(IVANOVO, key, "payments", [{**payment, "amount": "5000.00"}])
    assert changed.status_code == 422
    assert changed.json()["errors"][0]["code"] == "payment_differs"
    (stored,) = await api.rows(select(Payment).where(Payment.reference == "R-77"))
    assert stored.amount == Decimal("500.00")
    zero = await api.put(IVANOVO, key, "payments", [{**payment, "reference": "R-78", "amount": 0}])
    assert zero.json()["errors"][0]["code"] == "not_positive"


async def test_a_malformed_body_is_refused_as_a_whole(api: Api) -> None:
    key = await api.key(IVANOVO)
    bad_json = await api.call(IVANOVO, key, "PUT", "/api/v1/accounts", content=b'{"items": [')
    assert (bad_json.status_code, bad_json.json()["code"]) == (400, "bad_json")
    deep = b'{"items": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    too_deep = await api.call(IVANOVO, key, "PUT", "/api/v1/accounts", content=deep)
    assert (too_deep.status_code, too_deep.json()["code"]) == (400, "bad_json")
    no_items = await api.call(IVANOVO, key, "PUT", "/api/v1/accounts", json={"rows": []})
    assert (no_items.status_code, no_items.json()["code"]) == (400, "bad_body")
    too_many = await api.put(IVANOVO, key, "accounts", [{}] * 10_001)
    assert (too_many.status_code, too_many.json()["code"]) == (413, "too_many_items")
    bad_mode = await api.put(IVANOVO, key, "accounts", [], mode="some")
    assert (bad_mode.status_code, bad_mode.json()["code"]) == (400, "invalid_request")


# --- exports ---------------------------------------------------------------------------------


async def _all_pages(
    api: Api, key: str, path: str, cursor: str | None = None
) -> tuple[list[Any], str | None]:
    items: list[Any] = []
    while True:
        query = f"?limit=7&cursor={cursor}" if cursor else "?limit=7"
        page = await api.call(IVANOVO if "readings" in path else UNICOM, key, "GET", path + query)
        assert page.status_code == 200, page.text
        body = page.json()
        if not body["items"]:
            return items, cursor
        items.extend(body["items"])
        cursor = body["next_cursor"]


async def test_readings_are_exported_page_by_page_and_again_when_changed(api: Api) -> None:
    key = await api.key(IVANOVO)
    tenant_id = api.portal.tenant_ids[IVANOVO]
    items, cursor = await _all_pages(api, key, "/api/v1/readings")
    stored = await api.rows(select(Reading).where(Reading.tenant_id == tenant_id))
    assert sorted(item["id"] for item in items) == sorted(r.id for r in stored)
    assert len({item["id"] for item in items}) == len(items)
    moments = [item["submitted_at"] for item in items]
    assert moments == sorted(moments)
    own_numbers = {
        a.number for a in await api.rows(select(Account).where(Account.tenant_id == tenant_id))
    }
    assert {item["account_number"] for item in items} <= own_numbers

    # Nothing new: an empty page, and the same cursor to keep.
    again, kept = await _all_pages(api, key, "/api/v1/readings", cursor)
    assert (again, kept) == ([], cursor)

    reading = stored[0]
    async with api.portal.database.session() as session:
        await upsert_reading(
            session,
            tenant_id=tenant_id,
            meter_id=reading.meter_id,
            period=reading.period,
            value=reading.value + 1,
            taken_on=reading.taken_on,
            source="staff",
            status="accepted",
        )
        await session.commit()
    changed, _ = await _all_pages(api, key, "/api/v1/readings", cursor)
    assert [(item["id"], item["value"]) for item in changed] == [
        (reading.id, str(reading.value + 1))
    ]
    bad = await api.call(IVANOVO, key, "GET", "/api/v1/readings?cursor=not-ours")
    assert (bad.status_code, bad.json()["code"]) == (400, "bad_cursor")


async def test_requests_of_every_kind_are_exported_in_order(api: Api) -> None:
    tenant_id = api.portal.tenant_ids[UNICOM]
    (account,) = await api.rows(select(Account).where(Account.tenant_id == tenant_id).limit(1))
    (customer,) = await api.rows(select(Customer).where(Customer.tenant_id == tenant_id).limit(1))
    async with api.portal.database.session() as session:
        for number in range(3):
            session.add(
                AnonymousReading(
                    tenant_id=tenant_id,
                    full_name=f"Sender {number}",
                    phone="+8613800000000",
                    meter_number="M-1",
                    value=Decimal("12.5"),
                )
            )
        session.add(
            VisitRequest(
                tenant_id=tenant_id,
                customer_id=customer.id,
                account_id=account.id,
                kind="meter_check",
                phone="+8613800000000",
                visit_date=date(2026, 11, 30),
                slot="10:00",
            )
        )
        await session.commit()
    key = await api.key(UNICOM)
    items, _ = await _all_pages(api, key, "/api/v1/requests")
    kinds = sorted(item["type"] for item in items)
    assert kinds.count("anonymous_reading") == 3
    assert kinds.count("visit") == 1
    assert kinds.count("broadband") >= 1
    moments = [item["changed_at"] for item in items]
    assert moments == sorted(moments)
    (visit,) = [item for item in items if item["type"] == "visit"]
    assert (visit["account_number"], visit["visit_date"], visit["slot"]) == (
        account.number,
        "2026-11-30",
        "10:00",
    )
    # Another tenant's key sees none of it.
    other = await api.key(IVANOVO)
    foreign = await api.call(UNICOM, other, "GET", "/api/v1/requests")
    assert foreign.status_code == 401
