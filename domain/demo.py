"""Demo data: believable customers, accounts, meters, readings, charges and payments per tenant.

Every value is generated from the tenant's configuration (its identifier kinds,
country, currency, utility), so a new preset gets demo data without new code.
The generator is seeded by the tenant's slug: the same demo every time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import phonenumbers
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain import national_ids
from domain.broadband_demo import BroadbandDemo, DemoLine
from domain.identifiers import login_key
from domain.models import (
    Account,
    AccountLink,
    BroadbandRequest,
    Charge,
    Customer,
    CustomerIdentifier,
    Meter,
    Payment,
    Reading,
)
from domain.passwords import hash_password_async
from domain.staff import PLATFORM_OPERATOR, StaffUser
from tenants.schema import (
    DigitsKind,
    EmailKind,
    Identifier,
    LegacyLoginKind,
    LoginKind,
    NationalIdKind,
    PhoneKind,
    PrefixedKind,
    TenantConfig,
)

DEMO_PASSWORD = "Demo2026pass"
# Every demo tenant has a tenant admin at /admin with this login and DEMO_PASSWORD.
DEMO_STAFF_LOGIN = "admin"
# One platform operator, who signs in at /admin on any tenant's host.
DEMO_OPERATOR_LOGIN = "operator"
MONTHS_OF_HISTORY = 6
ACCOUNTS_PER_TENANT = 6
CENT = Decimal("0.01")

# name pools by country: (family name, given name)
_PEOPLE = {
    "CN": [("王", "秀英"), ("李", "伟"), ("张", "敏"), ("刘", "洋"), ("陈", "静"), ("杨", "磊")],
    "KZ": [
        ("Ахметов", "Ерлан"),
        ("Жумабаева", "Айгуль"),
        ("Сериков", "Данияр"),
        ("Нурланова", "Динара"),
        ("Касымов", "Арман"),
        ("Омарова", "Сауле"),
    ],
    "default": [
        ("Иванов", "Сергей"),
        ("Петренко", "Ольга"),
        ("Смирнова", "Анна"),
        ("Коваленко", "Андрей"),
        ("Кузнецов", "Дмитрий"),
        ("Морозова", "Елена"),
    ],
}
_LATIN = {
    "Иванов": "ivanov",
    "Петренко": "petrenko",
    "Смирнова": "smirnova",
    "Коваленко": "kovalenko",
    "Кузнецов": "kuznetsov",
    "Морозова": "morozova",
    "Ахметов": "akhmetov",
    "Жумабаева": "zhumabaeva",
    "Сериков": "serikov",
    "Нурланова": "nurlanova",
    "Касымов": "kasymov",
    "Омарова": "omarova",
    "王": "wang",
    "李": "li",
    "张": "zhang",
    "刘": "liu",
    "陈": "chen",
    "杨": "yang",
}
_STREETS = {
    "CN": ["松陵镇中山北路", "鲈乡南路", "开平路"],
    "KZ": ["проспект Абая", "улица Толе би", "улица Жандосова"],
    "default": ["улица Гагарина", "проспект Строителей", "улица Ломоносова"],
}
# Monthly consumption means by service, and tariffs by currency (per unit of volume).
_MEAN_USE = {"cold_water": 6, "hot_water": 3, "gas": 40, "sewerage": 9}
_TARIFFS = {
    "CNY": {"cold_water": "3.30", "hot_water": "3.30", "sewerage": "1.35"},
    "UAH": {"cold_water": "15.66", "hot_water": "15.66", "gas": "7.99", "sewerage": "12.30"},
    "RUB": {"cold_water": "46.19", "hot_water": "46.19", "sewerage": "35.42"},
    "KZT": {"cold_water": "197.02", "hot_water": "197.02", "sewerage": "204.50"},
}
_VAT = {"CNY": "9", "UAH": "20", "RUB": "20", "KZT": "12"}


@dataclass(frozen=True)
class DemoSignIn:
    slug: str
    identifier: Identifier
    value: str
    password: str
    note: str = ""


def month_start(day: date, months_back: int = 0) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 - months_back, 12)
    return date(year, month + 1, 1)


class DemoGenerator:
    """Generates one tenant's demo rows; identifiers follow the tenant's declared kinds."""

    def __init__(self, config: TenantConfig, tenant_id: int, today: date) -> None:
        self.config = config
        self.tenant_id = tenant_id
        self.today = today
        self.rng = random.Random(config.slug)
        self.people = _PEOPLE.get(config.country, _PEOPLE["default"])
        self.streets = _STREETS.get(config.country, _STREETS["default"])

    # --- identifiers ------------------------------------------------------------

    def value_for(
        self, identifier: Identifier, index: int, person: tuple[str, str], known: dict[str, str]
    ) -> str:
        spec = identifier.spec
        if identifier.name in known:
            return known[identifier.name]
        if isinstance(spec, DigitsKind):
            length = spec.bounds[1] if spec.length is None else spec.length
            body = length - len(spec.prefix)
            return spec.prefix + "".join(self.rng.choice("0123456789") for _ in range(body))
        if isinstance(spec, PrefixedKind):
            return spec.prefix + known[spec.of]
        if isinstance(spec, LegacyLoginKind):
            return (
                spec.digits_prefix
                + f"{self.rng.randrange(10**spec.digits_tail):0{spec.digits_tail}d}"
            )
        if isinstance(spec, PhoneKind):
            return self._phone(spec.region, index)
        if isinstance(spec, EmailKind):
            return f"{_LATIN.get(person[0], 'customer')}{index + 1}@example.com"
        if isinstance(spec, LoginKind):
            # Every other login in Cyrillic where the tenant allows it, to show both work.
            if "cyrillic" in spec.alphabets and index % 2 == 1:
                return person[0]
            return f"{_LATIN.get(person[0], 'user')}{index + 1}"
        if isinstance(spec, NationalIdKind):
            return self._national_id(spec.scheme, index)
        raise TypeError(f"no demo generator for {spec!r}")

    def _phone(self, region: str, index: int) -> str:
        example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        if example is None:
            raise ValueError(f"no example mobile number for region {region}")
        national = str(example.national_number)
        for attempt in range(100):
            tail = f"{(index * 7919 + attempt * 31 + 1234) % 10000:04d}"
            candidate = phonenumbers.parse(national[:-4] + tail, region)
            if phonenumbers.is_valid_number(candidate):
                return phonenumbers.format_number(candidate, phonenumbers.PhoneNumberFormat.E164)
        return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)

    def _national_id(self, scheme: str, index: int) -> str:
        birth = date(
            1950 + self.rng.randrange(50), 1 + self.rng.randrange(12), 1 + self.rng.randrange(28)
        )
        if scheme == "cn_resident_id":
            return national_ids.generate_cn_resident_id(birth, sequence=100 + index)
        if scheme == "kz_bin":
            return national_ids.generate_kz_bin(date(2005 + index, 3, 1), serial=1000 + index)
        return national_ids.generate_kz_iin(birth, female=index % 2 == 1, serial=1000 + index)

    # --- rows -------------------------------------------------------------------

    def account(self, index: int, person: tuple[str, str], number: str) -> Account:
        family, given = person
        holder = f"{family}{given}" if self.config.country == "CN" else f"{family} {given}"
        national = next(
            (i for i in self.config.identifiers if isinstance(i.spec, NationalIdKind)), None
        )
        phone = next((i for i in self.config.identifiers if isinstance(i.spec, PhoneKind)), None)
        return Account(
            tenant_id=self.tenant_id,
            number=number,
            holder_name=holder,
            holder_national_id=self._national_id(national.spec.scheme, index) if national else None,  # type: ignore[union-attr]
            holder_phone=self._phone(phone.spec.region, index) if phone else None,  # type: ignore[union-attr]
            street=self.streets[index % len(self.streets)],
            house=str(4 + index * 3) + ("/1" if index == 2 else ""),
            building="1" if index == 2 else None,
            apartment=str(10 + index * 7),
        )

    def meters(self, account_id: int, index: int) -> list[Meter]:
        services = {"water": ["cold_water", "hot_water"], "gas": ["gas"]}.get(
            self.config.utility, []
        )
        meters = []
        for position, service in enumerate(services):
            removed = (
                index == 3 and position == len(services) - 1
            )  # a removed meter, as in seed 004
            no_number = index == 4 and position == 0  # and one without a factory number
            meters.append(
                Meter(
                    tenant_id=self.tenant_id,
                    account_id=account_id,
                    service=service,
                    factory_number=None if no_number else f"{self.rng.randrange(10**7, 10**8)}",
                    state="removed" if removed else "installed",
                    verification_due=self.today + timedelta(days=self.rng.randrange(-60, 1500)),
                    decimals=3,
                )
            )
        if meters and index == 0:
            # The first customer's first meter is due for verification: the rule shows.
            meters[0].verification_due = self.today - timedelta(days=20)
        if meters and index == 1:
            # An earlier meter, replaced and removed, stays on the account as in seed 004.
            meters.append(
                Meter(
                    tenant_id=self.tenant_id,
                    account_id=account_id,
                    service=services[0],
                    factory_number=f"{self.rng.randrange(10**7, 10**8)}",
                    state="removed",
                    verification_due=self.today - timedelta(days=400),
                    decimals=3,
                )
            )
        if meters and index == 2 and self.config.has("reconciliation"):
            # Legal entities with a heat meter send its daily printout instead of a reading.
            meters.append(
                Meter(
                    tenant_id=self.tenant_id,
                    account_id=account_id,
                    service="heat",
                    factory_number=f"{self.rng.randrange(10**7, 10**8)}",
                    verification_due=self.today + timedelta(days=700),
                    decimals=3,
                    is_heat_meter=True,
                )
            )
        return meters

    def history(self, account_id: int, meters: list[Meter]) -> tuple[list[Reading], list[Charge]]:
        tariffs = _TARIFFS.get(self.config.currency, _TARIFFS["RUB"])
        vat = Decimal(_VAT.get(self.config.currency, "0"))
        readings: list[Reading] = []
        charges: list[Charge] = []
        totals: dict[tuple[date, str], Decimal] = {}
        for meter in meters:
            if meter.is_heat_meter or (meter.state == "removed" and meter.factory_number):
                continue  # no history: billed by printout, or replaced before it
            value = Decimal(self.rng.randrange(100, 900))
            for back in range(MONTHS_OF_HISTORY, 0, -1):
                period = month_start(self.today, back)
                use = Decimal(max(1, round(self.rng.gauss(_MEAN_USE[meter.service], 1.5))))
                use += Decimal(self.rng.randrange(1000)) / 1000
                value += use
                if meter.state == "installed" and meter.factory_number and not meter.is_heat_meter:
                    readings.append(
                        Reading(
                            tenant_id=self.tenant_id,
                            meter_id=meter.id or 0,
                            period=period,
                            value=value,
                            taken_on=period + timedelta(days=self.rng.randrange(0, 5)),
                            source="customer" if back % 2 else "billing",
                            status="accepted",
                        )
                    )
                totals[(period, meter.service)] = (
                    totals.get((period, meter.service), Decimal(0)) + use
                )
                if self.config.utility == "water":
                    key = (period, "sewerage")
                    totals[key] = totals.get(key, Decimal(0)) + use
        for (period, service), volume in sorted(totals.items()):
            tariff = Decimal(tariffs.get(service, "10"))
            amount = (volume * tariff * (1 + vat / 100)).quantize(CENT, ROUND_HALF_UP)
            charges.append(
                Charge(
                    tenant_id=self.tenant_id,
                    account_id=account_id,
                    period=period,
                    service=service,
                    recipient=self.config.name(self.config.locales.default),
                    tariff_group="3",
                    volume=volume,
                    tariff=tariff,
                    vat_percent=vat,
                    amount=amount,
                )
            )
        charges.extend(self.allowances(account_id, charges))
        return readings, charges

    def allowances(self, account_id: int, charges: list[Charge]) -> list[Charge]:
        """Benefits and subsidies as negative lines, where the tenant shows them."""
        kinds = [
            kind
            for kind, module in (("benefit", "benefits"), ("subsidy", "subsidies"))
            if self.config.has(module)  # type: ignore[arg-type]
        ]
        if not kinds or account_id % 2:
            return []
        by_period: dict[date, Decimal] = {}
        for charge in charges:
            by_period[charge.period] = by_period.get(charge.period, Decimal(0)) + charge.amount
        share = {"benefit": Decimal("0.25"), "subsidy": Decimal("0.10")}
        return [
            Charge(
                tenant_id=self.tenant_id,
                account_id=account_id,
                period=period,
                service=kind,
                recipient=self.config.name(self.config.locales.default),
                volume=Decimal(0),
                tariff=Decimal(0),
                vat_percent=Decimal(0),
                amount=-(total * share[kind]).quantize(CENT, ROUND_HALF_UP),
            )
            for period, total in sorted(by_period.items())
            for kind in kinds
        ]

    def broadband(self, account_id: int, index: int) -> DemoLine:
        """The account's broadband line, its sessions, charges and payments (seed 002)."""
        return self._broadband_demo().line(account_id, index)

    def broadband_requests(
        self, account_id: int, customer_id: int, index: int
    ) -> list[BroadbandRequest]:
        return self._broadband_demo().requests(account_id, customer_id, index)

    def _broadband_demo(self) -> BroadbandDemo:
        vat = Decimal(_VAT.get(self.config.currency, "0"))
        return BroadbandDemo(self.config, self.tenant_id, self.today, vat)

    def payments(self, account_id: int, charges: list[Charge], index: int) -> list[Payment]:
        by_period: dict[date, Decimal] = {}
        for charge in charges:
            by_period[charge.period] = by_period.get(charge.period, Decimal(0)) + charge.amount
        payments = []
        for number, (period, due) in enumerate(sorted(by_period.items())):
            last = number == len(by_period) - 1
            if last and index % 3 == 0:
                continue  # leaves a debt on some accounts
            amount = due + (Decimal(50) if last and index % 3 == 1 else 0)  # an overpayment
            paid = datetime.combine(period + timedelta(days=40), datetime.min.time(), tzinfo=UTC)
            payments.append(
                Payment(
                    tenant_id=self.tenant_id,
                    account_id=account_id,
                    paid_at=paid,
                    amount=amount,
                    purpose="",
                    provider="billing",
                    reference=f"demo-{account_id}-{period:%Y%m}",
                )
            )
        return payments


def _login_identifiers(config: TenantConfig, kind: str) -> list[Identifier]:
    """The sign-in identifiers a customer of this kind holds."""
    variant_logins = {
        v.key: v.login_identifier for v in config.registration.variants if v.login_identifier
    }
    foreign = {name for key, name in variant_logins.items() if key != kind}
    return [i for i in config.sign_in_identifiers() if i.name not in foreign]


async def load_demo_tenant(
    session: AsyncSession, tenant_id: int, config: TenantConfig, today: date, password_hash: str
) -> list[DemoSignIn]:
    """Load one tenant's demo rows unless it already has accounts; returns printable sign-ins."""
    existing = (
        await session.exec(
            select(func.count()).select_from(Account).where(Account.tenant_id == tenant_id)
        )
    ).one()
    if existing:
        return []
    generator = DemoGenerator(config, tenant_id, today)
    account_identifier = config.identifier(config.account_identifier)
    has_legal = any(v.key == "legal" for v in config.registration.variants)
    sign_ins: list[DemoSignIn] = []
    initial_hash: str | None = None
    for index in range(ACCOUNTS_PER_TENANT):
        person = generator.people[index % len(generator.people)]
        number = generator.value_for(account_identifier, index, person, {})
        account = generator.account(index, person, number)
        session.add(account)
        await session.flush()
        assert account.id is not None
        meters = generator.meters(account.id, index)
        session.add_all(meters)
        await session.flush()
        if config.has("broadband"):
            line = generator.broadband(account.id, index)
            readings: list[Reading] = []
            charges, payments = line.charges, line.payments
            session.add_all([line.service, *line.sessions])
        else:
            readings, charges = generator.history(account.id, meters)
            payments = generator.payments(account.id, charges, index)
        session.add_all([*readings, *charges, *payments])
        # The first three accounts belong to registered customers; the rest wait to be claimed.
        # Pre-provisioned tenants (beijing-unicom) have a customer on every account: the
        # first chose a password, the others still hold the published initial one.
        initial = config.registration.initial_password
        if index < 3 or initial is not None:
            kind = "legal" if has_legal and index == 2 else "individual"
            if initial is None or index == 0:
                customer, entries = await _register_customer(
                    session, generator, config, account, index, person, kind, password_hash
                )
            else:
                initial_hash = initial_hash or await hash_password_async(initial.value)
                customer, entries = await _register_customer(
                    session, generator, config, account, index, person, kind, initial_hash
                )
                customer.must_change_password = initial.must_change
                customer.initial_password_valid_until = initial.valid_until
                entries = [
                    DemoSignIn(
                        e.slug, e.identifier, e.value, initial.value, note="initial password"
                    )
                    for e in entries
                ]
            sign_ins.extend(entries)
            if config.has("broadband"):
                session.add_all(generator.broadband_requests(account.id, customer.id or 0, index))
    session.add(
        StaffUser(
            tenant_id=tenant_id,
            login=DEMO_STAFF_LOGIN,
            full_name="Demo admin",
            password_hash=password_hash,
            role="tenant_admin",
        )
    )
    await session.commit()
    return sign_ins


async def _register_customer(
    session: AsyncSession,
    generator: DemoGenerator,
    config: TenantConfig,
    account: Account,
    index: int,
    person: tuple[str, str],
    kind: str,
    password_hash: str,
) -> tuple[Customer, list[DemoSignIn]]:
    known = {config.account_identifier: account.number}
    for identifier in config.identifiers:
        if isinstance(identifier.spec, DigitsKind) and identifier.name not in known:
            known[identifier.name] = generator.value_for(identifier, index, person, known)
    if kind == "legal":
        account.kind = "legal"
        account.contract_number = known.get("contract_number")
    values = {
        identifier.name: generator.value_for(identifier, index, person, known)
        for identifier in config.identifiers
    }
    email = next(
        (values[i.name] for i in config.identifiers if isinstance(i.spec, EmailKind)), None
    )
    phone = next(
        (values[i.name] for i in config.identifiers if isinstance(i.spec, PhoneKind)), None
    )
    customer = Customer(
        tenant_id=generator.tenant_id,
        kind=kind,
        full_name=account.holder_name,
        company_name=f"ТОО «Демо-{index + 1}»" if kind == "legal" else None,
        email=email,
        phone=phone or account.holder_phone,
        password_hash=password_hash,
    )
    session.add(customer)
    await session.flush()
    assert customer.id is not None
    session.add(
        AccountLink(
            tenant_id=generator.tenant_id,
            customer_id=customer.id,
            account_id=account.id or 0,
            nickname=None,
        )
    )
    sign_in_ids = _login_identifiers(config, kind)
    for identifier in sign_in_ids:
        value = values[identifier.name]
        if isinstance(identifier.spec, LoginKind):
            value = login_key(value)
        session.add(
            CustomerIdentifier(
                tenant_id=generator.tenant_id,
                customer_id=customer.id,
                name=identifier.name,
                value=value,
            )
        )
    if index > 1 and kind != "legal":
        return customer, []
    has_legal = any(variant.key == "legal" for variant in config.registration.variants)
    first = sign_in_ids[0]
    return customer, [
        DemoSignIn(
            config.slug, first, values[first.name], DEMO_PASSWORD, note=kind if has_legal else ""
        )
    ]


async def load_demo_data(
    session: AsyncSession, tenants: list[tuple[int, TenantConfig]], today: date | None = None
) -> list[DemoSignIn]:
    today = today or date.today()
    # One hash for every demo customer: argon2 is slow on purpose.
    password_hash = await hash_password_async(DEMO_PASSWORD)
    sign_ins: list[DemoSignIn] = []
    for tenant_id, config in tenants:
        sign_ins.extend(await load_demo_tenant(session, tenant_id, config, today, password_hash))
    # `portal serve` calls this for the tenants it created; the operator is made only once.
    operator = select(StaffUser.id).where(
        col(StaffUser.tenant_id).is_(None), StaffUser.login == DEMO_OPERATOR_LOGIN
    )
    if not tenants or (await session.exec(operator)).first() is not None:
        return sign_ins
    session.add(
        StaffUser(
            tenant_id=None,
            login=DEMO_OPERATOR_LOGIN,
            full_name="Demo platform operator",
            password_hash=password_hash,
            role=PLATFORM_OPERATOR,
        )
    )
    await session.commit()
    return sign_ins
