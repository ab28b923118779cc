"""Matching typed details with billing accounts: addresses, names, meters, contracts."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from domain import national_ids
from domain.db import Database
from domain.fields import check_field
from domain.models import AccountLink, Customer, utcnow
from domain.registration import accounts_taken, match_account
from tenants.loader import load_presets
from tenants.schema import TenantConfig
from tests.helpers import unique_digits
from tests.web.test_registration_helpers import add_account, tenant_id

CONFIGS = {config.slug: config for config in load_presets()}


def checked(
    config: TenantConfig, step: int, raw: dict[str, str], variant: int = 0
) -> dict[str, str]:
    fields = config.registration.variants[variant].steps[step].fields
    return {f.name: check_field(config, f, raw[f.name], raw) for f in fields if f.name in raw}


async def match(
    database: Database, slug: str, raw: dict[str, str], variant: int = 0
) -> tuple[list[int], dict[str, bool]]:
    config = CONFIGS[slug]
    async with database.session() as session:
        found = await match_account(
            session,
            config=config,
            tenant_id=await tenant_id(database.url, slug),
            fields=config.registration.variants[variant].steps[0].fields,
            values=checked(config, 0, raw, variant),
        )
    return found.account_ids, found.checks


@pytest.mark.parametrize(
    ("house", "building", "typed_house", "typed_building", "matches"),
    [
        ("12/1", "1", "12", "1", True),
        ("12/1", "1", "12/1", "", True),
        ("12/1", None, "12", "1", True),
        ("12", "1", "12", "1", True),
        ("12/1", "1", "12", "", False),
        ("12", None, "12", "", True),
        ("12", None, "12", "1", False),
        ("12а", None, "12 А", "", True),
    ],
)
async def test_house_and_building_match_however_the_fraction_is_split(
    database: Database,
    house: str,
    building: str | None,
    typed_house: str,
    typed_building: str,
    matches: bool,
) -> None:
    account = await add_account(
        database.url,
        "melitopol-water",
        holder_name="Сёмин Пётр",
        street="Гетманская",
        house=house,
        building=building,
        apartment=None,
    )
    raw = {
        "account_number": account.number,
        "street": "ГЕТМАНСКАЯ",
        "house": typed_house,
        "building": typed_building,
        "apartment": "",
        "surname": "Семин",  # ё typed as е
    }
    ids, checks = await match(database, "melitopol-water", raw)
    assert (ids == [account.id]) is matches
    assert checks["surname"] and checks["street"] and checks["account"]


async def test_names_apartments_and_meters(database: Database) -> None:
    serial = unique_digits(8)
    account = await add_account(
        database.url,
        "melitopol-gas",
        holder_name="Коваленко Андрей Петрович",
        street="проспект Строителей",
        house="4",
        apartment="17",
        meter_serials=(unique_digits(8), serial),
    )
    raw = {
        "account_number": account.number,
        "street": "Проспект  строителей",
        "house": "4",
        "apartment": "17",
        "surname": "коваленко",
        "meter_serial": serial,
    }
    assert (await match(database, "melitopol-gas", raw))[0] == [account.id]
    full_name = {**raw, "surname": "Коваленко Андрей Петрович"}
    assert (await match(database, "melitopol-gas", full_name))[0] == [account.id]
    for wrong in ({"surname": "Андрей"}, {"apartment": ""}, {"meter_serial": "12345678"}):
        ids, checks = await match(database, "melitopol-gas", {**raw, **wrong})
        assert ids == []
        [name] = wrong
        assert checks[name] is False
        assert all(ok for field, ok in checks.items() if field != name)


async def test_a_legal_entity_is_found_by_contract_and_bin(database: Database) -> None:
    contract = unique_digits(5)
    bin_ = national_ids.generate_kz_bin(date(2012, 6, 1), serial=int(unique_digits(4)))
    accounts = [
        await add_account(
            database.url,
            "kz-vodokanal",
            number_length=8,
            holder_name="ТОО «Два счёта»",
            holder_national_id=national,
            contract_number=contract,
        )
        for national in (bin_, bin_, "850412300125")
    ]
    raw = {"iin_bin": bin_, "contract_number": contract, "company_name": "x", "email": "a@b.kz"}
    ids, checks = await match(database, "kz-vodokanal", raw, variant=1)
    assert ids == [accounts[0].id, accounts[1].id]
    assert checks == {"account": True, "iin_bin": True}
    nobody = await match(database, "kz-vodokanal", {**raw, "contract_number": unique_digits(5)}, 1)
    assert nobody == ([], {"account": False, "iin_bin": False})


async def test_an_unconfirmed_registration_holds_its_account_for_a_day(database: Database) -> None:
    account = await add_account(database.url, "melitopol-water", holder_name="Тест")
    assert account.id is not None
    tenant = await tenant_id(database.url, "melitopol-water")
    async with database.session() as session:
        customer = Customer(tenant_id=tenant, status="pending")
        session.add(customer)
        await session.flush()
        assert customer.id is not None
        session.add(AccountLink(tenant_id=tenant, customer_id=customer.id, account_id=account.id))
        await session.commit()
        now = utcnow()
        assert await accounts_taken(session, [account.id], now)
        assert not await accounts_taken(session, [account.id], now + timedelta(days=2))
        customer.status = "active"
        session.add(customer)
        await session.commit()
        assert await accounts_taken(session, [account.id], now + timedelta(days=2))
