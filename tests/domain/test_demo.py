"""Demo data agrees with each tenant's own rules: identifier formats, checksums, money."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from domain.db import create_sync_engine
from domain.identifiers import normalize, resolver_for
from domain.migrate import upgrade
from domain.models import (
    Account,
    AccountLink,
    Charge,
    Customer,
    CustomerIdentifier,
    Meter,
    Payment,
    Reading,
    Tenant,
)
from domain.national_ids import is_valid_cn_resident_id, is_valid_kz_iin
from tenants.loader import load_presets
from tenants.schema import NationalIdKind, TenantConfig
from tests.conftest import seed

PRESETS = {config.slug: config for config in load_presets()}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """A database holding the demo data alone: the shared one also holds what other tests add."""
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.sqlite3'}"
    upgrade(url)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, seed(url)).result()
    engine = create_sync_engine(url)
    yield engine
    engine.dispose()


def _tenant_id(session: Session, slug: str) -> int:
    tenant = session.exec(select(Tenant).where(Tenant.slug == slug)).one()
    assert tenant.id is not None
    return tenant.id


@pytest.mark.parametrize("slug", sorted(PRESETS))
def test_identifiers_follow_the_tenant_rules(engine: Engine, slug: str) -> None:
    config: TenantConfig = PRESETS[slug]
    resolve = resolver_for(config.identifiers)
    with Session(engine) as session:
        tenant_id = _tenant_id(session, slug)
        accounts = session.exec(select(Account).where(Account.tenant_id == tenant_id)).all()
        assert len(accounts) >= 3
        account_kind = config.identifier(config.account_identifier).spec
        for account in accounts:
            assert normalize(account_kind, account.number, resolve=resolve) == account.number
            if account.holder_national_id:
                assert is_valid_cn_resident_id(account.holder_national_id) or is_valid_kz_iin(
                    account.holder_national_id
                )
        identifiers = session.exec(
            select(CustomerIdentifier).where(CustomerIdentifier.tenant_id == tenant_id)
        ).all()
        assert identifiers, "every tenant has customers who can sign in"
        for row in identifiers:
            spec = config.identifier(row.name).spec
            assert normalize(spec, row.value, resolve=resolve).casefold() == row.value.casefold()
            assert row.name in config.sign_in.identifiers


@pytest.mark.parametrize("slug", sorted(PRESETS))
def test_national_ids_on_record_have_valid_checksums(engine: Engine, slug: str) -> None:
    schemes = {
        i.spec.scheme for i in PRESETS[slug].identifiers if isinstance(i.spec, NationalIdKind)
    }
    with Session(engine) as session:
        ids = [
            a.holder_national_id
            for a in session.exec(
                select(Account).where(Account.tenant_id == _tenant_id(session, slug))
            ).all()
        ]
    if not schemes:
        assert all(value is None for value in ids)
    for value in ids:
        if "cn_resident_id" in schemes:
            assert value is not None and is_valid_cn_resident_id(value)
        if schemes & {"kz_iin", "kz_iin_bin"}:
            assert value is not None and is_valid_kz_iin(value)


@pytest.mark.parametrize("slug", sorted(PRESETS))
def test_history_is_consistent(engine: Engine, slug: str) -> None:
    with Session(engine) as session:
        tenant_id = _tenant_id(session, slug)
        charges = session.exec(select(Charge).where(Charge.tenant_id == tenant_id)).all()
        payments = session.exec(select(Payment).where(Payment.tenant_id == tenant_id)).all()
        readings = session.exec(select(Reading).where(Reading.tenant_id == tenant_id)).all()
        meters = session.exec(select(Meter).where(Meter.tenant_id == tenant_id)).all()
        links = session.exec(select(AccountLink).where(AccountLink.tenant_id == tenant_id)).all()
        customers = session.exec(select(Customer).where(Customer.tenant_id == tenant_id)).all()
    assert charges and payments and links and customers
    for money in [c.amount for c in charges] + [p.amount for p in payments]:
        assert isinstance(money, Decimal) and money == money.quantize(Decimal("0.01"))
    if PRESETS[slug].utility != "broadband":
        assert meters and readings
        by_meter: dict[int, list[Reading]] = defaultdict(list)
        for reading in readings:
            by_meter[reading.meter_id].append(reading)
        for series in by_meter.values():
            values = [r.value for r in sorted(series, key=lambda r: r.period)]
            assert values == sorted(values), "readings never go down"
        # The seeds' awkward cases are in the demo: a removed meter, one with no factory number.
        assert any(m.state == "removed" for m in meters)
        assert any(m.factory_number is None for m in meters)
    # Some accounts owe money and some have paid ahead, so both show in the cabinet.
    owed: dict[int, Decimal] = defaultdict(Decimal)
    for charge in charges:
        owed[charge.account_id] += charge.amount
    for payment in payments:
        owed[payment.account_id] -= payment.amount
    assert any(v > 0 for v in owed.values()) and any(v < 0 for v in owed.values())
