"""Normalising, deriving and detecting every identifier kind, with the demo tenants' setups."""

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.identifiers import (
    REASONS,
    InvalidIdentifier,
    Reason,
    derive_legacy_login,
    derive_prefixed,
    detect,
    login_key,
    normalize,
    resolver_for,
)
from tenants.schema import (
    DigitsKind,
    EmailKind,
    Identifier,
    LegacyLoginKind,
    LoginKind,
    NationalIdKind,
    PhoneKind,
    PrefixedKind,
)


def identifier(name: str, **spec: Any) -> Identifier:
    return Identifier.model_validate(
        {"name": name, "label": {"en": name}, "sample": "-", "spec": spec}
    )


def reason(spec: Any, raw: str, **options: Any) -> Reason:
    with pytest.raises(InvalidIdentifier) as caught:
        normalize(spec, raw, **options)
    return caught.value.reason


# The demo tenants' identifiers, as their presets would declare them (SPEC.md, seeds).
WUJIANG = [
    identifier("account", kind="digits", length=11),
    identifier("mobile", kind="phone", region="CN"),
    identifier("resident_id", kind="national_id", scheme="cn_resident_id"),
    identifier("email", kind="email"),
]
MELITOPOL = [
    identifier("account", kind="digits", length=7),
    identifier("login", kind="login", alphabets=["latin", "cyrillic"]),
    identifier("email", kind="email"),
]
LEGACY = LegacyLoginKind(
    kind="legacy_login", letters_prefix="lt", letters_tail=6, digits_prefix="lty", digits_tail=5
)
BEIJING = [
    identifier("contract", kind="digits", length=10, prefix="97"),
    identifier("login", **LEGACY.model_dump()),
]
IVANOVO = [
    identifier("phone", kind="phone", region="RU"),
    identifier("email", kind="email"),
]
VK = PrefixedKind(kind="prefixed", prefix="vk", of="contract")
KZ = [
    identifier("account", kind="digits", length=8),
    identifier("contract", kind="digits", length=4),
    identifier("company_login", **VK.model_dump()),
    identifier("iin_bin", kind="national_id", scheme="kz_iin_bin"),
    identifier("email", kind="email"),
]
ALL_TENANTS = [WUJIANG, MELITOPOL, BEIJING, IVANOVO, KZ]

CONTRACT = DigitsKind(kind="digits", length=10, prefix="97")
KZ_RESOLVE = resolver_for(KZ)


def test_reasons_are_machine_codes_and_errors_are_value_errors() -> None:
    assert set(REASONS) == {
        "empty", "not_digits", "wrong_length", "wrong_prefix", "bad_checksum", "bad_phone",
        "bad_email", "bad_characters", "too_short", "too_long", "bad_format",
    }  # fmt: skip
    error = InvalidIdentifier("bad_checksum")
    assert isinstance(error, ValueError)
    assert error.reason == "bad_checksum"


@pytest.mark.parametrize("spec", [i.spec for tenant in ALL_TENANTS for i in tenant])
@pytest.mark.parametrize("blank", ["", "   ", "\t\n", "\u3000"])
def test_blank_input_is_empty_for_every_kind(spec: Any, blank: str) -> None:
    assert reason(spec, blank, resolve=KZ_RESOLVE) == "empty"


# --- digits -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("9712345678", "9712345678"),
        ("  97 1234 5678 ", "9712345678"),
        ("97-1234-5678", "9712345678"),
        ("９７１２３４５６７８", "9712345678"),  # full-width, from a CJK input method
        ("97–1234\u00a05678", "9712345678"),  # en dash and no-break space
    ],
)
def test_digits_valid(raw: str, stored: str) -> None:
    assert normalize(CONTRACT, raw) == stored


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("- -", "empty"),
        ("97123456a8", "not_digits"),
        ("97.1234.5678", "not_digits"),
        ("٩٧١٢٣٤٥٦٧٨", "not_digits"),  # Arabic-Indic digits are not our digits
        ("971234567", "wrong_length"),
        ("97123456789", "wrong_length"),
        ("9812345678", "wrong_prefix"),
    ],
)
def test_digits_invalid(raw: str, why: Reason) -> None:
    assert reason(CONTRACT, raw) == why


# --- prefixed ("vk" + contract number) ---------------------------------------------


@pytest.mark.parametrize("raw", ["vk2666", "VK2666", "Vk 2666", " vk-2666 ", "ｖｋ２６６６"])
def test_prefixed_valid(raw: str) -> None:
    assert normalize(VK, raw, resolve=KZ_RESOLVE) == "vk2666"


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("2666", "wrong_prefix"),
        ("xk2666", "wrong_prefix"),
        ("vk", "too_short"),
        ("vk  ", "too_short"),
        ("vk266", "wrong_length"),  # the contract number's own rule
        ("vk26a6", "not_digits"),
    ],
)
def test_prefixed_invalid(raw: str, why: Reason) -> None:
    assert reason(VK, raw, resolve=KZ_RESOLVE) == why


def test_prefixed_needs_to_know_what_it_derives_from() -> None:
    with pytest.raises(LookupError):
        normalize(VK, "vk2666")
    with pytest.raises(LookupError):
        normalize(VK, "vk2666", resolve=resolver_for(KZ[:1]))
    looping = PrefixedKind(kind="prefixed", prefix="vk", of="self")
    with pytest.raises(LookupError):
        normalize(looping, "vkvk1", resolve=lambda name: looping)


def test_derive_prefixed() -> None:
    three_digit_contracts = PrefixedKind(kind="prefixed", prefix="vk", of="contract")
    assert derive_prefixed(three_digit_contracts, "123") == "vk123"  # seed 004's example
    with pytest.raises(InvalidIdentifier):
        derive_prefixed(three_digit_contracts, "")


# --- legacy login (beijing-unicom, seed 002) ---------------------------------------


@pytest.mark.parametrize(
    ("old_account", "login"),
    [
        # With letters: "lt" + the last six characters once "-" is gone.
        ("abc-12345", "ltc12345"),  # abc12345 → c12345
        ("zhangsan", "ltangsan"),
        ("ABC-DEF-1", "ltbcdef1"),  # ABCDEF1 → BCDEF1, lower-cased
        ("ab1", "ltab1000"),  # shorter than six: zeros on the right
        ("a", "lta00000"),
        # All digits: "lty" + the last five digits.
        ("12-34", "lty12340"),  # 1234 → 12340
        ("010-12345678", "lty45678"),
        ("62001234", "lty01234"),
        ("7", "lty70000"),
    ],
)
def test_derive_legacy_login(old_account: str, login: str) -> None:
    assert derive_legacy_login(old_account, LEGACY) == login
    assert normalize(LEGACY, login) == login


def test_derive_legacy_login_with_another_pad() -> None:
    spec = LEGACY.model_copy(update={"pad": "X"})
    assert derive_legacy_login("ab1", spec) == "ltab1xxx"
    assert normalize(spec, "LTAB1XXX") == "ltab1xxx"


@pytest.mark.parametrize(
    ("old_account", "why"),
    [
        ("", "empty"),
        ("--", "empty"),
        ("ab c", "bad_characters"),
        ("张三", "bad_characters"),
        ("a_b", "bad_characters"),
    ],
)
def test_derive_legacy_login_refuses(old_account: str, why: Reason) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        derive_legacy_login(old_account, LEGACY)
    assert caught.value.reason == why


@pytest.mark.parametrize(
    ("raw", "stored"),
    [("LTC12345", "ltc12345"), (" lty12340 ", "lty12340"), ("lty1234a", "lty1234a")],
)
def test_legacy_login_valid(raw: str, stored: str) -> None:
    # "lty1234a" is "lt" + six characters, which an old account "y1234a" became.
    assert normalize(LEGACY, raw) == stored


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("lt12", "wrong_length"),
        ("ltc1234567", "wrong_length"),
        ("zz123456", "wrong_prefix"),
        ("lt-c12345", "bad_characters"),
        ("ltc 2345", "bad_characters"),
        ("9712345678", "wrong_prefix"),
    ],
)
def test_legacy_login_invalid(raw: str, why: Reason) -> None:
    assert reason(LEGACY, raw) == why


def test_legacy_login_digit_rule_wants_digits() -> None:
    spec = LegacyLoginKind(
        kind="legacy_login", letters_prefix="a", letters_tail=3, digits_prefix="d", digits_tail=3
    )
    assert normalize(spec, "d123") == "d123"
    assert reason(spec, "d12x") == "not_digits"


# --- phone ----------------------------------------------------------------------------

RU_PHONE = PhoneKind(kind="phone", region="RU")
CN_PHONE = PhoneKind(kind="phone", region="CN")


@pytest.mark.parametrize(
    ("spec", "raw", "stored"),
    [
        (RU_PHONE, "89109845003", "+79109845003"),  # as typed in seed 003's screenshot
        (RU_PHONE, "+7 (910) 984-50-03", "+79109845003"),
        (RU_PHONE, "8 (4932) 93-01-08", "+74932930108"),  # the contact centre's number
        (CN_PHONE, "139 1234 5678", "+8613912345678"),
        (CN_PHONE, "１３９１２３４５６７８", "+8613912345678"),
        (PhoneKind(kind="phone", region="KZ"), "8 701 123 4567", "+77011234567"),
    ],
)
def test_phone_valid(spec: PhoneKind, raw: str, stored: str) -> None:
    assert normalize(spec, raw) == stored


@pytest.mark.parametrize(
    ("spec", "raw"),
    [
        (CN_PHONE, "63631616"),  # the hotline without its area code
        (RU_PHONE, "12345"),
        (RU_PHONE, "8-800-FLOWERS"),
        (RU_PHONE, "pavelch@rambler.ru"),
        (RU_PHONE, "+"),
        (RU_PHONE, "9" * 300),
    ],
)
def test_phone_invalid(spec: PhoneKind, raw: str) -> None:
    assert reason(spec, raw) == "bad_phone"


# --- email ----------------------------------------------------------------------------

EMAIL = EmailKind(kind="email")


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("pavelch@rambler.ru", "pavelch@rambler.ru"),
        ("  Pavelch@Rambler.RU ", "pavelch@rambler.ru"),  # one address, however it is typed
        ("user＠example.com", "user@example.com"),  # full-width at sign
    ],
)
def test_email_valid(raw: str, stored: str) -> None:
    assert normalize(EMAIL, raw) == stored


@pytest.mark.parametrize("raw", ["pavelch", "a@b", "a@@b.com", "a b@c.com", "x@example.test"])
def test_email_invalid(raw: str) -> None:
    assert reason(EMAIL, raw) == "bad_email"


# --- login ----------------------------------------------------------------------------

ANY_LOGIN = LoginKind(kind="login", alphabets=["latin", "cyrillic"])
LATIN_LOGIN = LoginKind(kind="login", alphabets=["latin"], min_length=4, max_length=8)


@pytest.mark.parametrize(
    "raw",
    ["Ivanov", "Иванов", "Пётр.Сидоров", "Әсем_Құрманова", "ҒҢӨҰҮҺІ", "user-2016", "Ёжик"],
)
def test_login_valid_keeps_case(raw: str) -> None:
    assert normalize(ANY_LOGIN, raw) == raw


def test_login_is_nfkc_normalised() -> None:
    assert normalize(ANY_LOGIN, " Ｉｖａｎ１ ") == "Ivan1"
    decomposed_yo = "Пе\u0308тр"  # е + combining diaeresis
    assert normalize(ANY_LOGIN, decomposed_yo) == "Пётр"


@pytest.mark.parametrize(
    ("spec", "raw", "why"),
    [
        (ANY_LOGIN, "1ivan", "bad_format"),
        (ANY_LOGIN, "_ivan", "bad_format"),
        (ANY_LOGIN, "ivan petrov", "bad_characters"),
        (ANY_LOGIN, "ivan@mail", "bad_characters"),
        (ANY_LOGIN, "αλέξης", "bad_characters"),
        (ANY_LOGIN, "ivan٣", "bad_characters"),
        (ANY_LOGIN, "iv", "too_short"),
        (ANY_LOGIN, "i" * 33, "too_long"),
        (LATIN_LOGIN, "Иванов", "bad_characters"),
        (LATIN_LOGIN, "abc", "too_short"),
        (LATIN_LOGIN, "abcdefghi", "too_long"),
    ],
)
def test_login_invalid(spec: LoginKind, raw: str, why: Reason) -> None:
    assert reason(spec, raw) == why


def test_login_key_ignores_case_and_width() -> None:
    assert login_key("Иванов") == login_key("иВАНОВ") == "иванов"
    assert login_key("Ｓｔｒａßｅ") == login_key("STRASSE") == "strasse"
    assert login_key("Ёж") != login_key("Еж")


# --- national ids ------------------------------------------------------------------

CN_ID = NationalIdKind(kind="national_id", scheme="cn_resident_id")
IIN = NationalIdKind(kind="national_id", scheme="kz_iin")
BIN = NationalIdKind(kind="national_id", scheme="kz_bin")
IIN_BIN = NationalIdKind(kind="national_id", scheme="kz_iin_bin")


@pytest.mark.parametrize(
    ("spec", "raw", "stored"),
    [
        (CN_ID, "11010519491231002X", "11010519491231002X"),
        (CN_ID, "110105 19491231 002x", "11010519491231002X"),
        (CN_ID, "１１０１０５１９４９１２３１００２ｘ", "11010519491231002X"),
        (IIN, "791028 302728", "791028302728"),
        (BIN, "940140-000385", "940140000385"),
        (IIN_BIN, "791028302728", "791028302728"),
        (IIN_BIN, "940140000385", "940140000385"),
    ],
)
def test_national_id_valid(spec: NationalIdKind, raw: str, stored: str) -> None:
    assert normalize(spec, raw) == stored


@pytest.mark.parametrize(
    ("spec", "raw", "why"),
    [
        (CN_ID, "1101051949123100ZX", "not_digits"),
        (CN_ID, "1101051949123100X2", "not_digits"),
        (CN_ID, "11010519491231002", "wrong_length"),
        (CN_ID, "110105194912310021", "bad_checksum"),
        (CN_ID, "110105194902300020", "bad_format"),  # 30 February
        (CN_ID, "000000194912310027", "bad_format"),  # no such division
        (IIN, "79102830272X", "not_digits"),
        (IIN, "79102830272", "wrong_length"),
        (IIN, "791028302729", "bad_checksum"),
        (IIN, "940140000385", "bad_format"),  # a BIN
        (BIN, "791028302728", "bad_format"),  # an IIN
        (BIN, "940140000386", "bad_checksum"),
        (IIN_BIN, "791328302728", "bad_format"),
        (IIN_BIN, "791028302720", "bad_checksum"),
    ],
)
def test_national_id_invalid(spec: NationalIdKind, raw: str, why: Reason) -> None:
    assert reason(spec, raw) == why


# --- detection in the sign-in field ----------------------------------------------


@pytest.mark.parametrize(
    ("tenant", "raw", "found"),
    [
        (BEIJING, "97 1234 5678", [("contract", "9712345678")]),
        (BEIJING, "LTC12345", [("login", "ltc12345")]),
        (BEIJING, "lty12340", [("login", "lty12340")]),
        (IVANOVO, "8 910 984-50-03", [("phone", "+79109845003")]),
        (IVANOVO, "pavelch@rambler.ru", [("email", "pavelch@rambler.ru")]),
        (KZ, "04008220", [("account", "04008220")]),  # seed 004's login
        (KZ, "VK2666", [("company_login", "vk2666")]),
        (KZ, "791028302728", [("iin_bin", "791028302728")]),
        (MELITOPOL, "Иванов", [("login", "Иванов")]),
        (MELITOPOL, "1234567", [("account", "1234567")]),
    ],
)
def test_detect_one_kind(tenant: list[Identifier], raw: str, found: list[tuple[str, str]]) -> None:
    assert detect(tenant, raw) == found


def test_detect_reports_every_reading_in_declared_order() -> None:
    # An 11-digit account number that is also a Chinese mobile number: the caller decides.
    assert detect(WUJIANG, "13912345678") == [
        ("account", "13912345678"),
        ("mobile", "+8613912345678"),
    ]
    assert detect(list(reversed(WUJIANG)), "13912345678") == [
        ("mobile", "+8613912345678"),
        ("account", "13912345678"),
    ]


def test_detect_among_sign_in_identifiers_resolves_from_all() -> None:
    sign_in = [KZ[0], KZ[2]]  # account, company_login: the contract itself does not sign in
    assert detect(sign_in, "vk2666", resolve=KZ_RESOLVE) == [("company_login", "vk2666")]
    with pytest.raises(LookupError):
        detect(sign_in, "vk2666")  # a wiring mistake, not bad input


@pytest.mark.parametrize(
    "garbage", ["", " ", "\x00", "@", "+", "vk", "lt", "97", "X" * 5000, "🙂", "\u202e12"]
)
def test_detect_garbage_finds_nothing(garbage: str) -> None:
    for tenant in ALL_TENANTS:
        assert detect(tenant, garbage, resolve=KZ_RESOLVE) == []


# --- properties ------------------------------------------------------------------

ALL_SPECS = [i.spec for tenant in ALL_TENANTS for i in tenant] + [LATIN_LOGIN, IIN, BIN]

plausible = st.one_of(
    st.text(),
    st.from_regex(r"\s*(97|vk|VK|lt|lty|LT|\+7|8)?[0-9 \-]{0,14}\s*", fullmatch=True),
    st.from_regex(r"[a-zA-Zа-яА-ЯёЁәӘ][a-zA-Zа-яё0-9._\-]{0,40}", fullmatch=True),
    st.emails(),
    st.text(alphabet="0123456789Xx -０１２３４５６７８９", max_size=22),
)


@given(spec=st.sampled_from(ALL_SPECS), raw=plausible)
def test_normalize_is_idempotent(spec: Any, raw: str) -> None:
    try:
        once = normalize(spec, raw, resolve=KZ_RESOLVE)
    except InvalidIdentifier as error:
        assert error.reason in REASONS
        return
    assert normalize(spec, once, resolve=KZ_RESOLVE) == once


grouped_numbers = st.sampled_from(
    [
        (CONTRACT, "97", 8, lambda number: number),
        (KZ[0].spec, "", 8, lambda number: number),
        # Every 89xx xxx xx xx is a Russian mobile number, every 13x xxxx xxxx a Chinese one.
        (RU_PHONE, "89", 9, lambda number: "+7" + number[1:]),
        (CN_PHONE, "13", 9, lambda number: "+86" + number),
    ]
)


@given(
    kind=grouped_numbers,
    digits=st.text(alphabet="0123456789", min_size=9, max_size=9),
    separators=st.lists(
        st.sampled_from([" ", "-", "", "\u00a0", "\u3000"]), min_size=11, max_size=11
    ),
)
def test_grouped_numbers_normalise_to_one_form(
    kind: tuple[Any, str, int, Callable[[str], str]], digits: str, separators: list[str]
) -> None:
    spec, prefix, length, stored_form = kind
    number = prefix + digits[:length]
    raw = "".join(
        digit + separator
        for digit, separator in zip(number, separators[: len(number)], strict=True)
    )
    once = normalize(spec, raw)
    assert once == stored_form(number)
    assert normalize(spec, once) == once


legacy_specs = st.builds(
    LegacyLoginKind,
    kind=st.just("legacy_login"),
    letters_prefix=st.from_regex(r"[a-z]{1,4}", fullmatch=True),
    letters_tail=st.integers(1, 20),
    digits_prefix=st.from_regex(r"[a-z]{1,4}", fullmatch=True),
    digits_tail=st.integers(1, 20),
    pad=st.sampled_from("0123456789abcxyzXZ"),
)
old_accounts = st.from_regex(r"[A-Za-z0-9\-]{0,30}", fullmatch=True).filter(
    lambda account: account.replace("-", "") != ""
)


@given(spec=legacy_specs, old_account=old_accounts)
def test_derived_logins_always_match_their_spec(spec: LegacyLoginKind, old_account: str) -> None:
    login = derive_legacy_login(old_account, spec)
    assert normalize(spec, login) == login
    account = old_account.replace("-", "")
    if account.isdigit():
        prefix, length = spec.digits_prefix, spec.digits_tail
    else:
        prefix, length = spec.letters_prefix, spec.letters_tail
    kept = account[-length:].lower()
    assert login == prefix + kept + spec.pad.lower() * (length - len(kept))


@given(tenant=st.sampled_from(ALL_TENANTS), raw=plausible)
def test_detect_never_raises_and_agrees_with_normalize(tenant: list[Identifier], raw: str) -> None:
    found = detect(tenant, raw)
    names = [name for name, _ in found]
    assert names == [i.name for i in tenant if i.name in names]  # declared order
    for name, value in found:
        spec = next(i.spec for i in tenant if i.name == name)
        assert normalize(spec, raw, resolve=resolver_for(tenant)) == value


@given(st.text())
def test_login_key_is_idempotent(value: str) -> None:
    assert login_key(login_key(value)) == login_key(value)


def test_digits_within_bounds() -> None:
    spec = DigitsKind(kind="digits", min_length=1, max_length=8)
    assert normalize(spec, "123") == "123"
    assert normalize(spec, "2666") == "2666"
    with pytest.raises(InvalidIdentifier) as raised:
        normalize(spec, "123456789")
    assert raised.value.reason == "wrong_length"
