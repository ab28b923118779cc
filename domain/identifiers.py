"""The rules for every identifier kind a tenant can declare: normalising, deriving and detecting."""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from typing import Literal, get_args

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from domain import national_ids
from tenants.schema import (
    DigitsKind,
    EmailKind,
    Identifier,
    IdentifierKind,
    LegacyLoginKind,
    LoginKind,
    NationalIdKind,
    PhoneKind,
    PrefixedKind,
)

Reason = Literal[
    "empty",
    "not_digits",
    "wrong_length",
    "wrong_prefix",
    "bad_checksum",
    "bad_phone",
    "bad_email",
    "bad_characters",
    "too_short",
    "too_long",
    "bad_format",
]
REASONS: tuple[Reason, ...] = get_args(Reason)

# Looks up the spec of a declared identifier by name (for PrefixedKind.of).
Resolver = Callable[[str], IdentifierKind]


class InvalidIdentifier(ValueError):
    """A value is not valid for an identifier kind; the web layer translates `reason`."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(reason)
        self.reason: Reason = reason


# Customers paste numbers grouped with spaces or dashes; NFKC has already turned
# full-width forms and the ideographic space into ASCII ones.
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—−]+")
_DIGITS = re.compile(r"[0-9]+")
_PHONE_CHARACTERS = re.compile(r"[0-9+\s().\-‐‑‒–—−]+")

_LATIN = frozenset(string.ascii_letters)
_CYRILLIC = frozenset(
    "АБВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯабвгдежзийклмнопрстуфхцчшщъыьэюяЁё"
    "ӘәҒғҚқҢңӨөҰұҮүҺһІі"  # Kazakh
    "ЄєЇїҐґ"  # Ukrainian: Melitopol customers may write their names the Ukrainian way
)
_ALPHABETS = {"latin": _LATIN, "cyrillic": _CYRILLIC}
_LOGIN_PUNCTUATION = frozenset("._-")
_ASCII_DIGITS = frozenset(string.digits)
_LOWER_ALPHANUMERIC = frozenset(string.ascii_lowercase + string.digits)


def normalize(spec: IdentifierKind, raw: str, *, resolve: Resolver | None = None) -> str:
    """The canonical stored form of `raw`, or InvalidIdentifier saying why there is none.

    `resolve` finds the spec a PrefixedKind derives from; it is needed only for those.
    """
    return _normalize(spec, raw, resolve, frozenset())


def _normalize(
    spec: IdentifierKind, raw: str, resolve: Resolver | None, seen: frozenset[str]
) -> str:
    # NFKC first: phone keyboards and CJK input methods produce full-width digits and
    # letters that customers cannot tell apart from ASCII ones.
    text = unicodedata.normalize("NFKC", raw).strip()
    if not text:
        raise InvalidIdentifier("empty")
    match spec:
        case DigitsKind():
            return _digits(spec, text)
        case PrefixedKind():
            return _prefixed(spec, text, resolve, seen)
        case LegacyLoginKind():
            return _legacy_login(spec, text)
        case PhoneKind():
            return _phone(spec, text)
        case EmailKind():
            return _email(text)
        case LoginKind():
            return _login(spec, text)
        case NationalIdKind():
            return _national_id(spec, text)
    raise TypeError(f"unknown identifier spec {spec!r}")


def _without_separators(text: str) -> str:
    value = _SEPARATORS.sub("", text)
    if not value:
        raise InvalidIdentifier("empty")
    return value


def _digits(spec: DigitsKind, text: str) -> str:
    value = _without_separators(text)
    if not _DIGITS.fullmatch(value):
        raise InvalidIdentifier("not_digits")
    shortest, longest = spec.bounds
    if not shortest <= len(value) <= longest:
        raise InvalidIdentifier("wrong_length")
    if not value.startswith(spec.prefix):
        raise InvalidIdentifier("wrong_prefix")
    return value


def _prefixed(spec: PrefixedKind, text: str, resolve: Resolver | None, seen: frozenset[str]) -> str:
    head, tail = text[: len(spec.prefix)], text[len(spec.prefix) :]
    if head.lower() != spec.prefix:
        raise InvalidIdentifier("wrong_prefix")
    if resolve is None:
        raise LookupError(f"cannot check the tail of a '{spec.prefix}' login without resolve")
    if spec.of in seen:
        raise LookupError(f"identifier '{spec.of}' is derived from itself")
    if not tail.strip():
        raise InvalidIdentifier("too_short")
    return derive_prefixed(spec, _normalize(resolve(spec.of), tail, resolve, seen | {spec.of}))


def derive_prefixed(spec: PrefixedKind, tail_normalized: str) -> str:
    """The login made of the prefix and an already normalised identifier ("vk" + "123")."""
    if not tail_normalized:
        raise InvalidIdentifier("too_short")
    return spec.prefix + tail_normalized


def _legacy_login(spec: LegacyLoginKind, text: str) -> str:
    value = text.lower()
    pad = frozenset(spec.pad.lower())
    rules = (
        (spec.letters_prefix, spec.letters_tail, _LOWER_ALPHANUMERIC | pad),
        (spec.digits_prefix, spec.digits_tail, _ASCII_DIGITS | pad),
    )
    if not set(value) <= _LOWER_ALPHANUMERIC | pad:
        raise InvalidIdentifier("bad_characters")
    candidates = [rule for rule in rules if value.startswith(rule[0])]
    if not candidates:
        raise InvalidIdentifier("wrong_prefix")
    for prefix, tail_length, allowed in candidates:
        tail = value[len(prefix) :]
        if len(tail) == tail_length and set(tail) <= allowed:
            return value
    if all(len(value) - len(prefix) != length for prefix, length, _ in candidates):
        raise InvalidIdentifier("wrong_length")
    raise InvalidIdentifier("not_digits")


def derive_legacy_login(old_account: str, spec: LegacyLoginKind) -> str:
    """The login an old broadband account became: prefix + its last characters, padded right."""
    account = unicodedata.normalize("NFKC", old_account).strip().replace("-", "")
    if not account:
        raise InvalidIdentifier("empty")
    if not (account.isascii() and account.isalnum()):
        raise InvalidIdentifier("bad_characters")
    if account.isdigit():
        prefix, length = spec.digits_prefix, spec.digits_tail
    else:
        prefix, length = spec.letters_prefix, spec.letters_tail
    return (prefix + account[-length:].ljust(length, spec.pad)).lower()


def _phone(spec: PhoneKind, text: str) -> str:
    # phonenumbers would read letters as a keypad ("8-800-FLOWERS"), so a login
    # typed into the sign-in field could pass for a number; only phone characters.
    if not _PHONE_CHARACTERS.fullmatch(text):
        raise InvalidIdentifier("bad_phone")
    try:
        number = phonenumbers.parse(text, spec.region)
    except phonenumbers.NumberParseException:
        raise InvalidIdentifier("bad_phone") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidIdentifier("bad_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _email(text: str) -> str:
    try:
        # Lower-cased whole: RFC 5321 lets a local part be case-sensitive, but no mailbox
        # provider our customers use treats it so, and a sign-in must not depend on it.
        return validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise InvalidIdentifier("bad_email") from None


def _login(spec: LoginKind, text: str) -> str:
    letters = frozenset().union(*(_ALPHABETS[name] for name in spec.alphabets))
    if not set(text) <= letters | _ASCII_DIGITS | _LOGIN_PUNCTUATION:
        raise InvalidIdentifier("bad_characters")
    if text[0] not in letters:
        raise InvalidIdentifier("bad_format")
    if len(text) < spec.min_length:
        raise InvalidIdentifier("too_short")
    if len(text) > spec.max_length:
        raise InvalidIdentifier("too_long")
    # Kept as typed so the customer sees their own capitalisation; see login_key.
    return text


def login_key(value: str) -> str:
    """The form two logins are compared in: "Иван" and "иван" are the same login."""
    # NFKC again after casefold: folding can leave a string that is not NFKC-normal.
    folded = unicodedata.normalize("NFKC", value).strip().casefold()
    return unicodedata.normalize("NFKC", folded)


def _national_id(spec: NationalIdKind, text: str) -> str:
    value = _without_separators(text).upper()
    if spec.scheme == "cn_resident_id":
        has_layout = _has_cn_layout(value)
        has_check_digit = national_ids.has_valid_cn_check_digit(value)
    else:
        has_layout = _has_kz_layout(value, spec.scheme)
        has_check_digit = national_ids.has_valid_kz_check_digit(value)
    if not has_layout:
        raise InvalidIdentifier("bad_format")
    if not has_check_digit:
        raise InvalidIdentifier("bad_checksum")
    return value


def _has_cn_layout(value: str) -> bool:
    """Raise for wrong characters or length; otherwise say whether date and area are real."""
    if not set(value) <= _ASCII_DIGITS | {"X"}:
        raise InvalidIdentifier("not_digits")
    if len(value) != 18:
        raise InvalidIdentifier("wrong_length")
    if "X" in value[:17]:
        raise InvalidIdentifier("not_digits")
    birth = national_ids.cn_resident_id_birth_date(value)
    return birth is not None and national_ids.is_known_cn_area(value[:6])


def _has_kz_layout(value: str, scheme: str) -> bool:
    """Raise for wrong characters or length; otherwise say whether it reads as `scheme` asks."""
    if not _DIGITS.fullmatch(value):
        raise InvalidIdentifier("not_digits")
    if len(value) != 12:
        raise InvalidIdentifier("wrong_length")
    # The fifth digit keeps the two apart: a day never starts with 4, 5 or 6, a BIN's type does.
    is_iin = national_ids.kz_iin_birth_date(value) is not None
    is_bin = national_ids.has_kz_bin_layout(value)
    return {"kz_iin": is_iin, "kz_bin": is_bin}.get(scheme, is_iin or is_bin)


def resolver_for(identifiers: Iterable[Identifier]) -> Resolver:
    """Look up declared identifiers' specs by name; an unknown name raises KeyError."""
    specs = {identifier.name: identifier.spec for identifier in identifiers}
    return specs.__getitem__


def detect(
    identifiers: Sequence[Identifier], raw: str, *, resolve: Resolver | None = None
) -> list[tuple[str, str]]:
    """Which identifiers `raw` is valid for, as (name, normalised value), in declared order.

    For the one sign-in field that takes any of a tenant's kinds. Pass `resolve`
    (e.g. `resolver_for(config.identifiers)`) when a prefixed identifier derives from
    one that is not among `identifiers`.
    """
    resolve = resolve or resolver_for(identifiers)
    matches: list[tuple[str, str]] = []
    for identifier in identifiers:
        try:
            matches.append((identifier.name, normalize(identifier.spec, raw, resolve=resolve)))
        except InvalidIdentifier:
            continue
    return matches
