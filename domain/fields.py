"""Checking one typed value of a configured form field; the web layer translates the reasons.

Every registration and recovery form is built from `FormField`s in the tenant's
configuration, so this is the one place that decides what a valid street, house,
name or password is. `check_field` returns the normalised value or raises
`FieldProblem` with a reason code (never a sentence: sentences are translated).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Literal

from domain.identifiers import InvalidIdentifier, Reason, login_key, normalize, resolver_for
from tenants.schema import FormField, LoginKind, PasswordPolicy, TenantConfig

# An identifier's reasons pass through unchanged; the rest are about other fields.
Problem = Literal[
    Reason,
    "password_too_short",
    "password_needs_letters",
    "password_needs_digits",
    "password_too_long",
    "passwords_differ",
    "must_accept",
]

TEXT_MAX = 300
NAME_MAX = 100
PASSWORD_MAX = 128
# A name: letters of any script, with the spaces, hyphens, apostrophes and dots names use.
_NAME = re.compile(r"^[^\W\d_]+(?:[ .'’\-·][^\W\d_]*)*\.?$")
# A house number as printed on a Ukrainian or Russian address: 12, 12а, 12/1, 12-Б.
_HOUSE = re.compile(r"^\d{1,5}(?:[ /\-]?[0-9A-Za-zА-Яа-яЁёІіЇїЄєҐґ]{1,4})?$")
_SHORT_PART = re.compile(r"^[0-9A-Za-zА-Яа-яЁёІіЇїЄєҐґ]{1,6}$")
_SERIAL = re.compile(r"^[0-9A-Za-z]{4,20}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class FieldProblem(ValueError):
    def __init__(self, reason: Problem) -> None:
        super().__init__(reason)
        self.reason: Problem = reason


def clean_text(raw: str) -> str:
    """NFKC, collapsed spaces, no control characters: what we compare and store."""
    text = unicodedata.normalize("NFKC", raw)
    text = _CONTROL.sub("", text)
    return " ".join(text.split())


def password_problem(password: str, policy: PasswordPolicy) -> Problem | None:
    if not password:
        return "empty"
    if len(password) > PASSWORD_MAX:
        return "password_too_long"
    if len(password) < policy.min_length:
        return "password_too_short"
    if policy.require_letters and not any(ch.isalpha() for ch in password):
        return "password_needs_letters"
    if policy.require_digits and not any(ch.isdigit() for ch in password):
        return "password_needs_digits"
    return None


def check_field(
    config: TenantConfig, field: FormField, raw: str | None, others: Mapping[str, str]
) -> str:
    """The normalised value of one field; `others` holds the form's raw values (for repeats)."""
    value = raw if raw is not None else ""
    if field.type == "checkbox":
        checked = value.lower() in {"on", "1", "true", "yes"}
        if field.required and not checked:
            raise FieldProblem("must_accept")
        return "1" if checked else ""
    if field.type in ("password", "password_repeat"):
        return _check_password(config, field, value, others)
    text = clean_text(value)
    if not text:
        if field.required:
            raise FieldProblem("empty")
        return ""
    if field.type == "identifier":
        assert field.identifier is not None
        spec = config.identifier(field.identifier).spec
        try:
            normalised = normalize(spec, text, resolve=resolver_for(config.identifiers))
        except InvalidIdentifier as problem:
            raise FieldProblem(problem.reason) from None
        return login_key(normalised) if isinstance(spec, LoginKind) else normalised
    if field.type == "person_name":
        if len(text) > NAME_MAX:
            raise FieldProblem("too_long")
        if not _NAME.match(text):
            raise FieldProblem("bad_characters")
        return text
    if field.type == "house":
        if not _HOUSE.match(text):
            raise FieldProblem("bad_format")
        return text.upper().replace(" ", "")
    if field.type in ("building", "apartment"):
        if not _SHORT_PART.match(text):
            raise FieldProblem("bad_format")
        return text.upper()
    if field.type == "meter_serial":
        compact = re.sub(r"[\s\-]", "", text)
        if not _SERIAL.match(compact):
            raise FieldProblem("bad_format")
        return compact.upper()
    # text and street
    if len(text) > TEXT_MAX:
        raise FieldProblem("too_long")
    return text


def _check_password(
    config: TenantConfig, field: FormField, value: str, others: Mapping[str, str]
) -> str:
    if field.type == "password_repeat":
        if not value:
            raise FieldProblem("empty")
        original = next(
            (others.get(f.name, "") for f in _siblings(config, field) if f.type == "password"),
            others.get("password", ""),
        )
        if value != original:
            raise FieldProblem("passwords_differ")
        return value
    problem = password_problem(value, config.password_policy)
    if problem is not None:
        raise FieldProblem(problem)
    return value


def _siblings(config: TenantConfig, field: FormField) -> list[FormField]:
    for variant in config.registration.variants:
        for step in variant.steps:
            if field in step.fields:
                return list(step.fields)
    return []


def compare_key(value: str) -> str:
    """How values are compared with billing data: case-folded, ё as е, no spaces or dots."""
    text = clean_text(value).casefold().replace("ё", "е")
    return re.sub(r"[\s.\-’']", "", text)
