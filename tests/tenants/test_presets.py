"""The six demo tenant presets: valid against the schema, complete in every locale, and
faithful to the facts in SPEC.md and the seed manuals."""

from __future__ import annotations

import copy
import re
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import date, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel
from stdnum.cn import ric

from tenants.schema import (
    DigitsKind,
    EmailKind,
    Identifier,
    LegacyLoginKind,
    Localized,
    LoginKind,
    NationalIdKind,
    PhoneKind,
    PrefixedKind,
    TenantConfig,
)

ROOT = Path(__file__).resolve().parents[2]
PRESETS = ROOT / "tenants" / "presets"
STATIC = ROOT / "static"

SLUGS = [
    "wujiang-water",
    "melitopol-water",
    "melitopol-gas",
    "beijing-unicom",
    "ivanovo-water",
    "kz-vodokanal",
]

WHITE = "#ffffff"


def load_raw(slug: str) -> dict[str, Any]:
    with (PRESETS / f"{slug}.toml").open("rb") as fh:
        return tomllib.load(fh)


def load(slug: str) -> TenantConfig:
    return TenantConfig.model_validate(load_raw(slug))


@pytest.fixture(params=SLUGS)
def slug(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def config(slug: str) -> TenantConfig:
    return load(slug)


# --- helpers ------------------------------------------------------------------


def iter_localized(value: object, path: str = "config") -> Iterator[tuple[str, Localized]]:
    """Every Localized value reachable from `value`, with a readable path to it."""
    if isinstance(value, Localized):
        yield path, value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from iter_localized(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from iter_localized(item, f"{path}[{key!r}]")
    elif isinstance(value, list | tuple | set | frozenset):
        for index, item in enumerate(value):
            yield from iter_localized(item, f"{path}[{index}]")


def missing_locales(config: TenantConfig) -> list[str]:
    enabled = set(config.locales.enabled)
    problems = []
    for path, localized in iter_localized(config):
        missing = enabled - set(localized.texts)
        if missing:
            problems.append(f"{path}: missing {sorted(missing)}")
        blank = [locale for locale, text in localized.texts.items() if not text.strip()]
        if blank:
            problems.append(f"{path}: blank text for {blank}")
    return problems


def relative_luminance(colour: str) -> float:
    def channel(hex_pair: str) -> float:
        c = int(hex_pair, 16) / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(colour[i : i + 2]) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: str, b: str) -> float:
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def kz_iin_bin_valid(number: str) -> bool:
    if not re.fullmatch(r"\d{12}", number):
        return False
    digits = [int(c) for c in number]
    check = sum(d * w for d, w in zip(digits[:11], range(1, 12), strict=True)) % 11
    if check == 10:
        weights = [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2]
        check = sum(d * w for d, w in zip(digits[:11], weights, strict=True)) % 11
        if check == 10:
            return False
    return check == digits[11]


def sample_is_valid(identifier: Identifier, value: str, config: TenantConfig) -> bool:
    """A deliberately independent re-implementation of what each identifier kind accepts."""
    spec = identifier.spec
    if isinstance(spec, DigitsKind):
        low, high = spec.bounds
        return (
            value.isascii()
            and value.isdigit()
            and low <= len(value) <= high
            and value.startswith(spec.prefix)
        )
    if isinstance(spec, PrefixedKind):
        base = config.identifier(spec.of)
        return value.startswith(spec.prefix) and sample_is_valid(
            base, value[len(spec.prefix) :], config
        )
    if isinstance(spec, LegacyLoginKind):
        if value.startswith(spec.digits_prefix):
            tail = value[len(spec.digits_prefix) :]
            return len(tail) == spec.digits_tail and tail.isdigit()
        if value.startswith(spec.letters_prefix):
            tail = value[len(spec.letters_prefix) :]
            return len(tail) == spec.letters_tail and tail.isalnum() and tail.isascii()
        return False
    if isinstance(spec, PhoneKind):
        try:
            parsed = phonenumbers.parse(value, spec.region)
        except phonenumbers.NumberParseException:
            return False
        return phonenumbers.is_valid_number(parsed)
    if isinstance(spec, EmailKind):
        try:
            validate_email(value, check_deliverability=False)
        except EmailNotValidError:
            return False
        return True
    if isinstance(spec, LoginKind):
        letters = {
            "latin": r"A-Za-z",
            "cyrillic": r"\u0400-\u04FF",
        }
        allowed = "".join(letters[a] for a in spec.alphabets)
        return (
            spec.min_length <= len(value) <= spec.max_length
            and re.fullmatch(rf"[{allowed}0-9._-]+", value) is not None
        )
    if isinstance(spec, NationalIdKind):
        if spec.scheme == "cn_resident_id":
            return ric.is_valid(value)
        return kz_iin_bin_valid(value)
    raise AssertionError(f"no sample check for {spec!r}")


# --- every preset ---------------------------------------------------------------


def test_exactly_the_six_demo_tenants() -> None:
    assert sorted(p.stem for p in PRESETS.glob("*.toml")) == sorted(SLUGS)


def test_validates_and_slug_matches_file_stem(slug: str, config: TenantConfig) -> None:
    assert config.slug == slug


def test_every_localized_text_covers_every_enabled_locale(config: TenantConfig) -> None:
    assert missing_locales(config) == []


def test_localized_walker_reaches_nested_texts(config: TenantConfig) -> None:
    paths = [path for path, _ in iter_localized(config)]
    assert "config.branding.name" in paths
    if config.registration.variants:
        assert any(".registration.variants[0].steps[0].fields[" in p for p in paths)
    assert any(p.startswith("config.contact_centre.") for p in paths)


def test_localized_walker_reports_a_missing_locale() -> None:
    raw = copy.deepcopy(load_raw("kz-vodokanal"))
    hint = raw["recovery"][0]["confirm_fields"][-1]["hint"]
    del hint["kk"]
    problems = missing_locales(TenantConfig.model_validate(raw))
    assert problems == ["config.recovery[0].confirm_fields[3].hint: missing ['kk']"]


def test_branding_colours_meet_wcag_aa_with_white_text(config: TenantConfig) -> None:
    assert contrast_ratio(config.branding.primary_colour, WHITE) >= 4.5
    assert contrast_ratio(config.branding.accent_colour, WHITE) >= 4.5
    assert config.branding.primary_colour.lower() != config.branding.accent_colour.lower()


def test_contrast_ratio_matches_known_values() -> None:
    assert contrast_ratio("#000000", WHITE) == pytest.approx(21.0)
    assert contrast_ratio(WHITE, WHITE) == pytest.approx(1.0)
    assert contrast_ratio("#767676", WHITE) == pytest.approx(4.54, abs=0.01)


def test_primary_colours_are_distinct_between_tenants() -> None:
    colours = [load(s).branding.primary_colour.lower() for s in SLUGS]
    assert len(set(colours)) == len(colours)


def test_logo_is_a_small_accessible_svg_in_the_primary_colour(
    slug: str, config: TenantConfig
) -> None:
    assert config.branding.logo == f"tenants/{slug}.svg"
    path = STATIC / config.branding.logo
    data = path.read_bytes()
    assert len(data) < 1536
    root = ET.fromstring(data)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg"
    assert root.get("viewBox") == "0 0 48 48"
    assert root.get("role") == "img"
    title = root.find(f"{ns}title")
    assert title is not None and title.text
    assert config.name(config.locales.default) in title.text
    assert config.branding.primary_colour.lower() in data.decode().lower()
    assert b"<script" not in data


def test_locales_and_region(slug: str, config: TenantConfig) -> None:
    expected = {
        "wujiang-water": (["zh_Hans", "en"], "zh_Hans", "CNY", "Asia/Shanghai", "CN", "water"),
        "melitopol-water": (["ru", "en"], "ru", "UAH", "Europe/Zaporozhye", "UA", "water"),
        "melitopol-gas": (["ru", "en"], "ru", "UAH", "Europe/Zaporozhye", "UA", "gas"),
        "beijing-unicom": (["zh_Hans", "en"], "zh_Hans", "CNY", "Asia/Shanghai", "CN", "broadband"),
        "ivanovo-water": (["ru", "en"], "ru", "RUB", "Europe/Moscow", "RU", "water"),
        "kz-vodokanal": (["ru", "kk", "en"], "ru", "KZT", "Asia/Almaty", "KZ", "water"),
    }[slug]
    enabled, default, currency, timezone, country, utility = expected
    assert config.locales.enabled == enabled
    assert config.locales.default == default
    assert (config.currency, config.timezone, config.country, config.utility) == (
        currency,
        timezone,
        country,
        utility,
    )


def test_identifier_samples_are_valid(config: TenantConfig) -> None:
    for identifier in config.identifiers:
        assert sample_is_valid(identifier, identifier.sample, config), identifier.name


def test_form_field_samples_are_valid(config: TenantConfig) -> None:
    for form_field in config._all_fields():
        if form_field.identifier and form_field.sample:
            identifier = config.identifier(form_field.identifier)
            assert sample_is_valid(identifier, form_field.sample, config), form_field.name


def test_field_names_are_unique_within_a_step(config: TenantConfig) -> None:
    for variant in config.registration.variants:
        for step in variant.steps:
            names = [f.name for f in step.fields]
            assert len(names) == len(set(names)), (variant.key, step.key)


def test_terminology_names_the_account_identifier(slug: str, config: TenantConfig) -> None:
    assert set(config.terminology) <= set(config.locales.enabled)
    expected = {
        "wujiang-water": {"zh_Hans": "户号"},
        "melitopol-water": {"ru": "Лицевой счёт"},
        "melitopol-gas": {"ru": "Лицевой счёт"},
        "beijing-unicom": {"zh_Hans": "合同号"},
        "ivanovo-water": {"ru": "Лицевой счёт"},
        "kz-vodokanal": {"ru": "Лицевой счёт", "kk": "Дербес шот"},
    }[slug]
    for locale, term in expected.items():
        assert config.terminology[locale]["Account number"] == term


def test_account_identifier_is_a_digits_identifier(slug: str, config: TenantConfig) -> None:
    expected = {
        "wujiang-water": "account_number",
        "melitopol-water": "account_number",
        "melitopol-gas": "account_number",
        "beijing-unicom": "contract_number",
        "ivanovo-water": "account_number",
        "kz-vodokanal": "personal_account",
    }[slug]
    assert config.account_identifier == expected
    assert isinstance(config.identifier(expected).spec, DigitsKind)


def test_every_tenant_has_a_contact_centre(config: TenantConfig) -> None:
    assert "contact_centre" in config.modules
    centre = config.contact_centre
    assert centre.address is not None
    assert centre.hours
    assert centre.phones or centre.hotline


def test_registration_variants_are_named_as_agreed(config: TenantConfig) -> None:
    keys = [v.key for v in config.registration.variants]
    if config.registration.flow == "individual_or_legal":
        assert keys == ["individual", "legal"]
    elif config.registration.flow != "pre_provisioned":
        assert keys == ["individual"]


# --- tenant facts from SPEC.md and the seeds ----------------------------------------


def fields_of(config: TenantConfig, variant: str, step: str) -> list[str]:
    for v in config.registration.variants:
        if v.key == variant:
            for s in v.steps:
                if s.key == step:
                    return [f.name for f in s.fields]
    raise KeyError((variant, step))


def test_wujiang_water() -> None:
    config = load("wujiang-water")
    account = config.identifier("account_number")
    assert account.spec == DigitsKind(kind="digits", length=11)
    assert len(account.sample) == 11
    assert config.identifier("resident_id").spec.scheme == "cn_resident_id"  # type: ignore[union-attr]
    assert config.identifier("mobile").spec == PhoneKind(kind="phone", region="CN")
    assert config.sign_in.identifiers == ["account_number"]

    registration = config.registration
    assert registration.flow == "activation_with_approval"
    assert registration.confirm_by == "staff_approval"
    assert registration.account_lookup
    assert registration.agreement is not None
    agreement = registration.agreement.texts["zh_Hans"]
    assert "个人用户网上营业厅注册协议" in agreement
    for clause in "一二三四五六七":
        assert f"{clause}、" in agreement
    assert "7." in registration.agreement.texts["en"]
    assert registration.notice is not None
    for text in registration.notice.texts.values():
        assert "63631616" in text
    assert "税务登记证" in registration.notice.texts["zh_Hans"]

    (variant,) = registration.variants
    (step,) = variant.steps
    fields = {f.name: f for f in step.fields}
    assert list(fields) == ["account_number", "holder_name", "resident_id", "mobile", "email"]
    assert fields["holder_name"].type == "person_name"
    assert fields["account_number"].match_record
    assert fields["holder_name"].match_record
    assert fields["resident_id"].match_record
    assert fields["holder_name"].hint is not None
    assert "开户时登记" in fields["holder_name"].hint.texts["zh_Hans"]
    assert "法人代表" in fields["resident_id"].hint.texts["zh_Hans"]  # type: ignore[union-attr]

    assert [r.method for r in config.recovery] == ["sms_code"]
    assert set(config.modules) == {
        "accounts",
        "bills",
        "payments",
        "readings",
        "statements",
        "charges_breakdown",
        "contact_centre",
    }
    assert config.contact_centre.hotline == "63631616"
    assert any(h.hours == "0:00–23:59" for h in config.contact_centre.hours)
    assert config.name("zh_Hans") == "吴江华衍水务"


def test_melitopol_water() -> None:
    config = load("melitopol-water")
    assert config.sign_in.identifiers == ["login", "email"]
    assert "account_number" not in config.sign_in.identifiers
    login = config.identifier("login").spec
    assert isinstance(login, LoginKind)
    assert set(login.alphabets) == {"latin", "cyrillic"}
    assert sample_is_valid(config.identifier("login"), "Иванов72", config)
    assert sample_is_valid(config.identifier("login"), "ivanov72", config)

    assert config.registration.flow == "check_then_create"
    assert config.registration.confirm_by == "email_link"
    assert fields_of(config, "individual", "check") == [
        "account_number",
        "street",
        "house",
        "building",
        "apartment",
        "surname",
    ]
    assert fields_of(config, "individual", "create") == [
        "login",
        "password",
        "password_repeat",
        "email",
    ]
    check = {f.name: f for f in config.registration.variants[0].steps[0].fields}
    assert all(f.match_record for f in check.values())
    assert not check["building"].required
    assert not check["apartment"].required
    assert "12/1" in check["building"].hint.texts["ru"]  # type: ignore[union-attr]
    assert "нов" in check["street"].hint.texts["ru"]  # type: ignore[union-attr]

    assert config.password_policy.require_letters
    assert config.password_policy.require_digits
    assert config.readings.window_days == []
    assert config.readings.advice is not None
    assert "25" in config.readings.advice.texts["ru"]
    assert "same day" in config.readings.advice.texts["en"]
    assert {"benefits", "subsidies", "readings"} <= set(config.modules)


@pytest.mark.parametrize("slug", ["melitopol-water", "melitopol-gas"])
def test_melitopol_every_field_has_a_hint_and_a_sample(slug: str) -> None:
    config = load(slug)
    for form_field in config._all_fields():
        assert form_field.hint is not None, form_field.name
        assert form_field.sample, form_field.name


def test_melitopol_gas() -> None:
    config = load("melitopol-gas")
    water = load("melitopol-water")
    assert config.readings.window_days == [1, 2, 3, 4, 5]
    assert config.name("ru") == "«Газ Мелитополя»"
    check = {f.name: f for f in config.registration.variants[0].steps[0].fields}
    assert check["meter_serial"].type == "meter_serial"
    assert check["meter_serial"].match_record
    # Same shape as the water utility otherwise.
    assert fields_of(config, "individual", "check") == [
        *fields_of(water, "individual", "check"),
        "meter_serial",
    ]
    assert fields_of(config, "individual", "create") == fields_of(water, "individual", "create")
    assert config.sign_in.identifiers == water.sign_in.identifiers
    assert config.registration.flow == water.registration.flow
    assert set(config.modules) == set(water.modules)
    assert config.timezone == water.timezone


def test_beijing_unicom() -> None:
    config = load("beijing-unicom")
    registration = config.registration
    assert registration.flow == "pre_provisioned"
    assert registration.variants == []
    assert registration.initial_password is not None
    assert registration.initial_password.valid_until == date(2027, 2, 28)
    assert registration.initial_password.must_change

    contract = config.identifier("contract_number")
    assert contract.spec == DigitsKind(kind="digits", length=10, prefix="97")
    assert contract.sample == "9712345678"
    assert config.identifier("login").spec == LegacyLoginKind(
        kind="legacy_login",
        letters_prefix="lt",
        letters_tail=6,
        digits_prefix="lty",
        digits_tail=5,
        pad="0",
    )
    assert set(config.sign_in.identifiers) == {"login", "contract_number"}
    assert set(config.modules) == {"bills", "payments", "broadband", "contact_centre"}

    broadband = config.broadband
    assert broadband is not None
    kinds = [plan.kind for plan in broadband.plans]
    assert sorted(kinds) == sorted(["unlimited_monthly", "limited_monthly", "half_year", "year"])
    for plan in broadband.plans:
        assert plan.fee > 0
        assert (plan.included_hours is not None) == (plan.kind == "limited_monthly")
    fees = {plan.kind: plan.fee for plan in broadband.plans}
    assert fees["limited_monthly"] < fees["unlimited_monthly"]
    assert fees["unlimited_monthly"] * 6 >= fees["half_year"]
    assert fees["half_year"] * 2 >= fees["year"]
    assert Decimal(0) < broadband.suspension_fee < fees["unlimited_monthly"]
    assert set(broadband.payment_modes) == {"prepaid_cash", "postpaid_bank"}
    assert broadband.close_after_unpaid_months == 2

    assert config.contact_centre.hotline == "10010"
    assert [h.hours for h in config.contact_centre.hours] == ["8:30–18:00"]
    assert config.terminology["zh_Hans"]["Account number"] == "合同号"


def test_ivanovo_water() -> None:
    config = load("ivanovo-water")
    assert config.sign_in.identifiers == ["phone", "email"]
    assert config.identifier("phone").spec == PhoneKind(kind="phone", region="RU")
    assert config.identifier("account_number").sample == "62432"

    assert config.registration.flow == "contact_first"
    assert config.registration.confirm_by == "sms_code"
    assert fields_of(config, "individual", "contact") == [
        "phone",
        "email",
        "password",
        "password_repeat",
    ]
    (recovery,) = config.recovery
    assert recovery.method == "sms_code"
    assert recovery.resend_after_seconds == 180

    assert config.account_linking is not None
    assert config.account_linking.proof == "meter_last4"
    assert config.account_linking.nicknames

    purposes = {p.key: p.label.texts["ru"] for p in config.payments.purposes}
    assert purposes == {
        "water": "Вода",
        "temporary_water": "Временный водопровод",
        "court_fees": "Судебные",
        "heating": "Отопление",
    }

    visits = config.visit_requests
    assert visits is not None
    assert set(visits.kinds) == {"meter_acceptance", "meter_check"}
    assert visits.working_days == [1, 2, 3, 4, 5, 6]
    assert visits.slots
    # Every slot starts within the opening hours of every working day (Sat 9:00–17:30).
    for slot in visits.slots:
        assert time(9, 0) <= time.fromisoformat(slot) <= time(17, 30), slot
        assert slot.endswith(":00")

    centre = config.contact_centre
    assert centre.address is not None
    assert centre.address.texts["ru"] == "Ленинский район, Иваново, 153038, Строителей проспект, 4а"
    assert centre.phones == ["+7 (4932) 93-01-08", "+7 (4932) 56-13-30"]
    assert [(h.days.texts["ru"], h.hours) for h in centre.hours] == [
        ("Пн–Пт", "8:30–18:30"),
        ("Сб", "9:00–17:30"),
    ]
    for phone in centre.phones:
        assert phonenumbers.is_valid_number(phonenumbers.parse(phone, "RU"))

    assert set(config.modules) == {
        "accounts",
        "account_linking",
        "readings",
        "anonymous_readings",
        "payments",
        "anonymous_payment",
        "visit_requests",
        "contact_centre",
        "bills",
    }


def test_kz_vodokanal() -> None:
    config = load("kz-vodokanal")
    account = config.identifier("personal_account")
    assert account.spec == DigitsKind(kind="digits", length=8)
    assert account.sample == "04008220"
    assert config.identifier("legal_login").spec == PrefixedKind(
        kind="prefixed", prefix="vk", of="contract_number"
    )
    contract = config.identifier("contract_number")
    assert isinstance(contract.spec, DigitsKind)
    assert contract.sample == "2666"
    login = config.identifier("legal_login")
    # The spec's example: contract 123 → vk123; the seed's contract №2666 → vk2666.
    assert sample_is_valid(contract, "123", config)
    assert sample_is_valid(login, "vk123", config)
    assert login.sample == "vk2666"
    assert config.identifier("iin_bin").spec == NationalIdKind(
        kind="national_id", scheme="kz_iin_bin"
    )
    assert kz_iin_bin_valid(config.identifier("iin_bin").sample)
    assert config.sign_in.identifiers == ["personal_account", "legal_login"]
    assert config.sign_in.remember_me

    registration = config.registration
    assert registration.flow == "individual_or_legal"
    assert registration.confirm_by == "email_link"
    individual, legal = registration.variants
    assert individual.login_identifier == "personal_account"
    assert legal.login_from == "contract_number"
    assert legal.login_identifier == "legal_login"
    assert fields_of(config, "individual", "register") == [
        "personal_account",
        "iin",
        "email",
        "password",
        "password_repeat",
    ]
    assert fields_of(config, "legal", "register") == [
        "company_name",
        "email",
        "password",
        "password_repeat",
        "iin_bin",
        "contract_number",
        "invoices_by_email",
    ]
    invoices = legal.steps[0].fields[-1]
    assert invoices.type == "checkbox"
    assert not invoices.required

    (recovery,) = config.recovery
    assert recovery.method == "email_link"
    assert [f.name for f in recovery.confirm_fields] == [
        "iin_bin",
        "account_or_contract",
        "login",
        "check_string",
    ]

    readings = config.readings
    assert readings.refuse_without_factory_number
    assert readings.refuse_removed
    assert readings.confirm_partial

    assert set(config.modules) == {
        "accounts",
        "readings",
        "statements",
        "charges_breakdown",
        "reconciliation",
        "payments",
        "subscriptions",
        "contact_centre",
    }
    assert config.identifier("iin_bin").label.texts["kk"] == "ЖСН / БСН"
    assert config.terminology["kk"]["Account number"] == "Дербес шот"


def test_kz_iin_bin_checksum_helper() -> None:
    assert kz_iin_bin_valid("850412300125")
    assert kz_iin_bin_valid("040640001234")
    assert not kz_iin_bin_valid("850412300126")
    assert not kz_iin_bin_valid("85041230012")
