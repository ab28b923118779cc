"""Deciding about a whole readings form, and writing it exactly once (each test backend)."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal
from typing import Any

from domain.db import Database
from domain.models import Meter
from domain.reading_submission import (
    MeterReadings,
    NewReading,
    StoredReading,
    assess_submission,
    load_account_readings,
    load_meter_readings,
    readings_to_record,
    submit_readings,
    upsert_reading,
)
from tenants.schema import ReadingsPolicy
from tests.web.test_readings_support import (
    PRESETS,
    MeterSpec,
    current_readings,
    make_household,
    readings_of,
)

TODAY = date(2026, 11, 21)
PERIOD = date(2026, 11, 1)
ANY_DAY = ReadingsPolicy()


def row(
    meter_id: int,
    *,
    previous: str | None = "100",
    average: str | None = "10",
    current: StoredReading | None = None,
    **meter: object,
) -> MeterReadings:
    fields: dict[str, object] = {
        "id": meter_id,
        "tenant_id": 1,
        "account_id": 1,
        "service": "cold_water",
        "factory_number": f"1000{meter_id}",
        "verification_due": date(2028, 1, 1),
    }
    fields.update(meter)
    earlier = (
        StoredReading(
            period=date(2026, 10, 1),
            value=Decimal(previous),
            taken_on=date(2026, 10, 2),
            source="customer",
            status="accepted",
        )
        if previous is not None
        else None
    )
    return MeterReadings(
        meter=Meter(**fields),  # type: ignore[arg-type]
        previous=earlier,
        current=current,
        average=Decimal(average) if average is not None else None,
    )


def this_month(meter_id: int, value: str, source: str, status: str) -> StoredReading:
    return StoredReading(
        period=PERIOD,
        value=Decimal(value),
        taken_on=date(2026, 11, 3),
        source=source,
        status=status,
    )


def test_verification_refuse_policy_refuses_the_meter_whatever_the_value() -> None:
    # No preset refuses overdue meters: the rule is checked on a configuration made for it.
    config = PRESETS["ivanovo-water"]
    refusing = config.model_copy(
        update={"readings": config.readings.model_copy(update={"past_verification": "refuse"})}
    )
    overdue = row(1, verification_due=date(2026, 11, 1))
    result = assess_submission(refusing.readings, [overdue], {"1": "110"}, TODAY)
    assert result.refused and result.outcomes[1].refusal == "verification_overdue"
    assert overdue.problem(refusing.readings, TODAY) == "verification_overdue"
    warned = assess_submission(config.readings, [overdue], {"1": "110"}, TODAY)
    assert warned.ready and warned.outcomes[1].verdict is not None
    assert warned.outcomes[1].verdict.warnings == ["verification_overdue"]


def test_meters_that_take_no_value_refuse_one() -> None:
    rows = [
        row(1, is_heat_meter=True),
        row(2, current=this_month(2, "105", "billing", "accepted")),
        row(3, state="removed"),
        row(4, factory_number=None),
    ]
    problems = {r.id: r.problem(ANY_DAY, TODAY) for r in rows}
    assert problems == {
        1: "heat_meter",
        2: "already_accepted",
        3: "meter_removed",
        4: "no_factory_number",
    }
    for meter_id in problems:
        result = assess_submission(ANY_DAY, rows, {str(meter_id): "120"}, TODAY)
        assert result.refused and result.outcomes[meter_id].refusal == problems[meter_id]


def test_a_meter_not_on_the_account_or_not_an_id_refuses_the_whole_form() -> None:
    rows = [row(1), row(2)]
    for key in ("3", "abc", "-1", "1.0", "٣", "9" * 40):
        result = assess_submission(ANY_DAY, rows, {"1": "110", key: "120"}, TODAY)
        assert result.foreign_meter and result.refused and not result.outcomes


def test_nothing_entered() -> None:
    for values in ({}, {"1": ""}, {"1": "   ", "2": "\t"}):
        assert assess_submission(ANY_DAY, [row(1), row(2)], values, TODAY).nothing_entered


def test_partial_asks_unless_confirmed_and_counts_meters_already_read() -> None:
    rows = [row(1), row(2), row(3, is_heat_meter=True)]
    asked = assess_submission(ANY_DAY, rows, {"1": "110", "2": ""}, TODAY)
    assert not asked.refused and asked.partial == (1, 2) and not asked.ready
    confirmed = assess_submission(ANY_DAY, rows, {"1": "110"}, TODAY, partial_confirmed=True)
    assert confirmed.ready
    assert readings_to_record(confirmed, rows) == [NewReading(1, Decimal("110"), ("partial",))]
    # A "partial" confirmation posted with every meter filled is no evidence of anything.
    whole = assess_submission(
        ANY_DAY, rows, {"1": "110", "2": "111"}, TODAY, partial_confirmed=True
    )
    assert readings_to_record(whole, rows)[0].confirmations == ()
    quiet = ReadingsPolicy(confirm_partial=False)
    assert assess_submission(quiet, rows, {"1": "110"}, TODAY).ready
    # The second meter was read earlier this month: sending the first alone is not partial.
    read = [row(1), row(2, current=this_month(2, "104", "customer", "processing"))]
    assert assess_submission(ANY_DAY, read, {"1": "110"}, TODAY).ready


def test_only_the_confirmations_a_value_needs_are_recorded() -> None:
    rows = [row(1)]
    asked = assess_submission(ANY_DAY, rows, {"1": "90"}, TODAY)
    assert asked.needs_confirmation and asked.outcomes[1].missing == ["replacement_or_rollover"]
    ticked = {1: ["replacement_or_rollover", "unusual_consumption"]}
    result = assess_submission(ANY_DAY, rows, {"1": "90"}, TODAY, confirmed=ticked)
    assert result.ready
    assert readings_to_record(result, rows)[0].confirmations == ("replacement_or_rollover",)
    unusual = assess_submission(ANY_DAY, rows, {"1": "200"}, TODAY)
    assert unusual.outcomes[1].missing == ["unusual_consumption"]


def test_an_unchanged_value_is_not_written_again() -> None:
    rows = [
        row(1, current=this_month(1, "110", "customer", "accepted")),
        row(2, current=this_month(2, "110", "customer", "rejected")),
    ]
    result = assess_submission(ANY_DAY, rows, {"1": "110.000", "2": "110"}, TODAY)
    assert result.ready
    assert [r.meter_id for r in readings_to_record(result, rows)] == [2]


async def test_history_gives_previous_and_average_and_skips_rejected(database_url: str) -> None:
    household = await make_household(
        database_url,
        "melitopol-water",
        [MeterSpec(history=["100", "110", "120", "130"])],
        TODAY,
    )
    meter_id = household.meters[0]
    tenant_id = (await readings_of(database_url, meter_id))[0].tenant_id
    database = Database(database_url)
    try:
        async with database.session() as session:
            # The latest earlier reading was rejected: the rules compare with the one before.
            await upsert_reading(
                session,
                tenant_id=tenant_id,
                meter_id=meter_id,
                period=date(2026, 10, 1),
                value=Decimal("500"),
                taken_on=date(2026, 10, 2),
                source="customer",
                status="rejected",
            )
            await session.commit()
        async with database.session() as session:
            (loaded,) = await load_meter_readings(
                session, tenant_id=tenant_id, account_id=household.account_id, period=PERIOD
            )
    finally:
        await database.dispose()
    assert loaded.previous is not None and loaded.previous.value == Decimal("120")
    assert loaded.average == Decimal("10") and loaded.current is None


async def test_concurrent_submissions_leave_one_row(database_url: str) -> None:
    household = await make_household(
        database_url, "kz-vodokanal", [MeterSpec(history=["10", "20"])], TODAY
    )
    meter_id = household.meters[0]
    tenant_id = (await readings_of(database_url, meter_id))[0].tenant_id
    database = Database(database_url)

    async def submit(value: str) -> None:
        async with database.session() as session:
            await submit_readings(
                session,
                tenant_id=tenant_id,
                customer_id=household.customer_id,
                period=PERIOD,
                taken_on=TODAY,
                readings=[NewReading(meter_id, Decimal(value), ("partial",))],
            )

    try:
        await asyncio.gather(*(submit(f"2{n}.5") for n in range(10)))
    finally:
        await database.dispose()
    (only,) = await current_readings(database_url, meter_id, TODAY)
    assert only.status == "processing" and only.source == "customer"
    assert only.value in {Decimal(f"2{n}.5") for n in range(10)}
    assert only.customer_id == household.customer_id and only.confirmations == "partial"


async def test_an_accepted_billing_reading_is_not_overwritten(database_url: str) -> None:
    household = await make_household(
        database_url,
        "wujiang-water",
        [MeterSpec(history=["10"], current=("15", "billing", "accepted"))],
        TODAY,
    )
    meter_id = household.meters[0]
    before = (await current_readings(database_url, meter_id, TODAY))[0]
    database = Database(database_url)
    try:
        async with database.session() as session:
            await submit_readings(
                session,
                tenant_id=before.tenant_id,
                customer_id=household.customer_id,
                period=PERIOD,
                taken_on=TODAY,
                readings=[NewReading(meter_id, Decimal("99"))],
            )
    finally:
        await database.dispose()
    (after,) = await current_readings(database_url, meter_id, TODAY)
    assert (after.value, after.source, after.status) == (Decimal("15"), "billing", "accepted")


async def test_the_page_loads_the_customers_account_with_its_meters_in_one_go(
    database_url: str,
) -> None:
    metered = await make_household(
        database_url,
        "melitopol-water",
        [MeterSpec(history=["100", "110", "120"]), MeterSpec()],
        TODAY,
    )
    bare = await make_household(database_url, "melitopol-water", [], TODAY)
    stranger = await make_household(
        database_url, "melitopol-water", [MeterSpec()], TODAY, own_customer=True
    )
    tenant_id = (await readings_of(database_url, metered.meters[0]))[0].tenant_id
    database = Database(database_url)

    async def load(account_id: int, customer_id: int = metered.customer_id) -> Any:
        async with database.reads() as session:
            return await load_account_readings(
                session,
                tenant_id=tenant_id,
                customer_id=customer_id,
                account_id=account_id,
                period=PERIOD,
            )

    try:
        found = await load(metered.account_id)
        assert found is not None
        assert (found.id, found.number) == (metered.account_id, metered.account_number)
        assert sorted(row.id for row in found.rows) == sorted(metered.meters)
        with_history = next(row for row in found.rows if row.id == metered.meters[0])
        assert with_history.previous is not None
        assert with_history.previous.value == Decimal("120")
        assert with_history.average == Decimal("10")

        no_meters = await load(bare.account_id)
        assert no_meters is not None and no_meters.rows == []
        # Another customer's account, one that does not exist, an id no row can have.
        assert await load(stranger.account_id) is None
        assert await load(stranger.account_id + 10_000) is None
        assert await load(2**31) is None
    finally:
        await database.dispose()
