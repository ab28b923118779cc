"""Layouts and check digits of the national IDs tenants ask for: CN resident ID, KZ IIN and BIN."""

from __future__ import annotations

import re
from datetime import date

from stdnum import numdb
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

# Every function here takes the compact form (no spaces or dashes, upper-case X);
# cleaning up what a customer typed is `domain.identifiers`' job.

_TWELVE_DIGITS = re.compile(r"[0-9]{12}")
_ELEVEN_DIGITS = re.compile(r"[0-9]{11}")
_CN_RESIDENT_ID = re.compile(r"[0-9]{17}[0-9X]")
_SIX_DIGITS = re.compile(r"[0-9]{6}")

# --- Kazakhstan: IIN (individuals) and BIN (legal entities) -----------------

_KZ_FIRST_WEIGHTS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
_KZ_SECOND_WEIGHTS = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)

# The seventh IIN digit: the century of birth, odd for men and even for women.
_IIN_CENTURY = {"1": 1800, "2": 1800, "3": 1900, "4": 1900, "5": 2000, "6": 2000}
_IIN_CENTURY_DIGIT = {1800: 1, 1900: 3, 2000: 5}

# BIN: 4 resident legal entity, 5 non-resident, 6 joint individual entrepreneurship;
# then 0 head office, 1 branch, 2 representative office, 3 peasant farm.
_BIN_ENTITY_TYPES = "456"
_BIN_ATTRIBUTES = "0123"


def kz_check_digit(first_eleven: str) -> int | None:
    """The check digit for an IIN or BIN, or None when no number is issued with these digits."""
    if not _ELEVEN_DIGITS.fullmatch(first_eleven):
        raise ValueError("expected exactly eleven ASCII digits")
    digits = [int(character) for character in first_eleven]
    for weights in (_KZ_FIRST_WEIGHTS, _KZ_SECOND_WEIGHTS):
        remainder = sum(d * w for d, w in zip(digits, weights, strict=True)) % 11
        if remainder != 10:
            return remainder
    return None


def has_valid_kz_check_digit(value: str) -> bool:
    """Whether twelve digits end in the check digit their first eleven call for."""
    if not _TWELVE_DIGITS.fullmatch(value):
        return False
    return kz_check_digit(value[:11]) == int(value[11])


def kz_iin_birth_date(value: str) -> date | None:
    """The birth date an IIN encodes, or None if its date or century digit is impossible."""
    if not _TWELVE_DIGITS.fullmatch(value) or value[6] not in _IIN_CENTURY:
        return None
    year = _IIN_CENTURY[value[6]] + int(value[:2])
    try:
        return date(year, int(value[2:4]), int(value[4:6]))
    except ValueError:
        return None


def has_kz_bin_layout(value: str) -> bool:
    """Whether twelve digits read as a BIN: registration month, entity type and attribute."""
    return (
        _TWELVE_DIGITS.fullmatch(value) is not None
        and 1 <= int(value[2:4]) <= 12
        and value[4] in _BIN_ENTITY_TYPES
        and value[5] in _BIN_ATTRIBUTES
    )


def is_valid_kz_iin(value: str) -> bool:
    return kz_iin_birth_date(value) is not None and has_valid_kz_check_digit(value)


def is_valid_kz_bin(value: str) -> bool:
    return has_kz_bin_layout(value) and has_valid_kz_check_digit(value)


def generate_kz_iin(birth: date, female: bool, serial: int) -> str:
    """A valid IIN for demo data, using `serial` or the first later one that can be issued."""
    if birth.year // 100 * 100 not in _IIN_CENTURY_DIGIT:
        raise ValueError("IINs encode births from 1800 to 2099 only")
    century_digit = _IIN_CENTURY_DIGIT[birth.year // 100 * 100] + int(female)
    head = f"{birth.year % 100:02d}{birth.month:02d}{birth.day:02d}{century_digit}"
    return _with_issuable_serial(head, serial, width=4)


def generate_kz_bin(
    registered: date, serial: int, *, entity_type: int = 4, attribute: int = 0
) -> str:
    """A valid BIN for demo data (a resident company's head office unless told otherwise)."""
    if str(entity_type) not in _BIN_ENTITY_TYPES or str(attribute) not in _BIN_ATTRIBUTES:
        raise ValueError("unknown BIN entity type or attribute")
    head = f"{registered.year % 100:02d}{registered.month:02d}{entity_type}{attribute}"
    return _with_issuable_serial(head, serial, width=5)


def _with_issuable_serial(head: str, serial: int, *, width: int) -> str:
    # About one serial in 121 gets remainder 10 in both passes and is never issued;
    # stepping to the next one (wrapping round) keeps demo data deterministic.
    span = 10**width
    if not 0 <= serial < span:
        raise ValueError(f"serial must be between 0 and {span - 1}")
    for step in range(span):
        first_eleven = f"{head}{(serial + step) % span:0{width}d}"
        check = kz_check_digit(first_eleven)
        if check is not None:
            return f"{first_eleven}{check}"
    raise AssertionError("unreachable: consecutive serials cannot all lack a check digit")


# --- China: resident identity card number (GB 11643) -------------------------


def has_valid_cn_check_digit(value: str) -> bool:
    """Whether 17 digits end in the ISO 7064 MOD 11-2 check character they call for."""
    return _CN_RESIDENT_ID.fullmatch(value) is not None and ric.calc_check_digit(value) == value[17]


def cn_resident_id_birth_date(value: str) -> date | None:
    """The birth date a resident ID encodes, or None if it is not a real date."""
    if not _CN_RESIDENT_ID.fullmatch(value):
        return None
    try:
        return ric.get_birth_date(value)
    except ValidationError:
        return None


def is_known_cn_area(area: str) -> bool:
    """Whether six digits are an administrative division code in use at any time."""
    if not _SIX_DIGITS.fullmatch(area):
        return False
    found = {key for _, properties in numdb.get("cn/loc").info(area) for key in properties}
    return "county" in found


def is_valid_cn_resident_id(value: str) -> bool:
    # Not ric.is_valid(): it rejects a division code unless it was in use in the
    # *birth* year, but numbers are assigned at registration — someone born in 1970
    # who got an 18-digit number in Wujiang in 1999 carries 320584 (in use
    # 1992–2012) — and it raises KeyError for an unknown county in a known province.
    return (
        cn_resident_id_birth_date(value) is not None
        and is_known_cn_area(value[:6])
        and has_valid_cn_check_digit(value)
    )


def generate_cn_resident_id(birth: date, sequence: int, area: str = "320509") -> str:
    """A valid resident ID for demo data (320509: Wujiang district, Suzhou; odd sequence: a man)."""
    if not is_known_cn_area(area):
        raise ValueError(f"{area!r} is not a known division code")
    if not 0 <= sequence <= 999:
        raise ValueError("sequence must be between 0 and 999")
    first_seventeen = f"{area}{birth.year:04d}{birth.month:02d}{birth.day:02d}{sequence:03d}"
    # calc_check_digit ignores the last character of what it is given.
    return first_seventeen + ric.calc_check_digit(first_seventeen + "X")
