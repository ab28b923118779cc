"""Forms built from the tenant's configured fields: checks, messages in the user's language.

A handler reads the posted values, calls `check_fields`, and on any problem renders
the same page again with `views` carrying each field's value (passwords excepted)
and its message, so nothing typed is lost and every message sits next to its field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from domain.fields import FieldProblem, Problem, check_field
from tenants.schema import FormField, TenantConfig
from web.i18n import N_, Translator

# Each reason, as one whole sentence with named placeholders (STYLE 10).
PROBLEM_MESSAGES: dict[str, str] = {
    "empty": N_("Please fill in “%(label)s”."),
    "not_digits": N_("“%(label)s” may contain digits only, for example %(sample)s."),
    "wrong_length": N_("“%(label)s” has the wrong number of characters; for example: %(sample)s."),
    "wrong_prefix": N_("“%(label)s” does not start the way it should; for example: %(sample)s."),
    "bad_checksum": N_("“%(label)s” has a typing mistake: its check digit does not match."),
    "bad_phone": N_("“%(label)s” is not a valid phone number; for example: %(sample)s."),
    "bad_email": N_("“%(label)s” is not a valid email address; for example: %(sample)s."),
    "bad_characters": N_(
        "“%(label)s” contains characters that are not allowed; for example: %(sample)s."
    ),
    "too_short": N_("“%(label)s” is too short; for example: %(sample)s."),
    "too_long": N_("“%(label)s” is too long."),
    "bad_format": N_("“%(label)s” is not in the expected form; for example: %(sample)s."),
    "password_too_short": N_("The password must be at least %(min_length)s characters long."),
    "password_needs_letters": N_("The password must contain letters."),
    "password_needs_digits": N_("The password must contain digits."),
    "password_too_long": N_("The password is too long."),
    "passwords_differ": N_("The two passwords are not the same."),
    "must_accept": N_("Please tick this box to go on."),
}

# Labels of field types, used when the configuration gives a field no label of its own.
TYPE_LABELS: dict[str, str] = {
    "text": N_("Text"),
    "person_name": N_("Full name"),
    "street": N_("Street"),
    "house": N_("House"),
    "building": N_("Building"),
    "apartment": N_("Apartment"),
    "password": N_("Password"),
    "password_repeat": N_("Repeat the password"),
    "checkbox": N_("I agree"),
    "meter_serial": N_("Meter serial number"),
}

_AUTOCOMPLETE = {
    "password": "new-password",
    "password_repeat": "new-password",
    "person_name": "name",
    "street": "address-line1",
}
_INPUT_TYPES = {"password": "password", "password_repeat": "password", "checkbox": "checkbox"}


@dataclass
class FieldView:
    """What a template needs to draw one field."""

    name: str
    label: str
    input_type: str
    value: str = ""
    required: bool = True
    hint: str = ""
    sample: str = ""
    error: str = ""
    autocomplete: str = "off"
    inputmode: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def field_label(config: TenantConfig, form_field: FormField, i18n: Translator) -> str:
    if form_field.label is not None:
        return config.text(form_field.label, i18n.locale)
    if form_field.identifier is not None:
        return config.text(config.identifier(form_field.identifier).label, i18n.locale)
    return i18n.gettext(TYPE_LABELS.get(form_field.type, "Text"))


def field_sample(config: TenantConfig, form_field: FormField) -> str:
    if form_field.sample:
        return form_field.sample
    if form_field.identifier is not None:
        return config.identifier(form_field.identifier).sample
    return ""


def field_hint(config: TenantConfig, form_field: FormField, i18n: Translator) -> str:
    if form_field.hint is not None:
        return config.text(form_field.hint, i18n.locale)
    if form_field.identifier is not None:
        return config.text(config.identifier(form_field.identifier).hint, i18n.locale)
    if form_field.type == "password":
        return password_rule(config, i18n)
    return ""


def password_rule(config: TenantConfig, i18n: Translator) -> str:
    policy = config.password_policy
    if policy.require_letters and policy.require_digits:
        text = i18n.gettext("At least %(min_length)s characters, with both letters and digits.")
    else:
        text = i18n.gettext("At least %(min_length)s characters.")
    return text % {"min_length": policy.min_length}


def problem_message(
    config: TenantConfig,
    form_field: FormField | None,
    reason: str,
    i18n: Translator,
    *,
    label: str = "",
    sample: str = "",
) -> str:
    template = i18n.gettext(PROBLEM_MESSAGES.get(reason, PROBLEM_MESSAGES["bad_format"]))
    if form_field is not None:
        label = label or field_label(config, form_field, i18n)
        sample = sample or field_sample(config, form_field)
    return template % {
        "label": label,
        "sample": sample or "—",
        "min_length": config.password_policy.min_length,
    }


def _inputmode(config: TenantConfig, form_field: FormField) -> str:
    if form_field.identifier is None:
        return ""
    kind = config.identifier(form_field.identifier).spec.kind
    return {"digits": "numeric", "phone": "tel", "email": "email", "national_id": "text"}.get(
        kind, ""
    )


def _autocomplete(config: TenantConfig, form_field: FormField) -> str:
    if form_field.identifier is not None:
        kind = config.identifier(form_field.identifier).spec.kind
        return {"phone": "tel", "email": "email"}.get(kind, "off")
    return _AUTOCOMPLETE.get(form_field.type, "off")


def view_of(
    config: TenantConfig,
    form_field: FormField,
    i18n: Translator,
    value: str = "",
    error: str = "",
) -> FieldView:
    input_type = _INPUT_TYPES.get(form_field.type, "text")
    if form_field.identifier is not None:
        kind = config.identifier(form_field.identifier).spec.kind
        input_type = {"email": "email", "phone": "tel"}.get(kind, "text")
    return FieldView(
        name=form_field.name,
        label=field_label(config, form_field, i18n),
        input_type=input_type,
        # A password is never sent back to the browser.
        value="" if input_type == "password" else value,
        required=form_field.required,
        hint=field_hint(config, form_field, i18n),
        sample=field_sample(config, form_field) if input_type != "password" else "",
        error=error,
        autocomplete=_autocomplete(config, form_field),
        inputmode=_inputmode(config, form_field),
    )


@dataclass
class CheckedForm:
    values: dict[str, str]
    problems: dict[str, Problem]

    @property
    def ok(self) -> bool:
        return not self.problems


def check_fields(
    config: TenantConfig, fields: Iterable[FormField], posted: Mapping[str, str]
) -> CheckedForm:
    values: dict[str, str] = {}
    problems: dict[str, Problem] = {}
    for form_field in fields:
        try:
            values[form_field.name] = check_field(
                config, form_field, posted.get(form_field.name), posted
            )
        except FieldProblem as problem:
            problems[form_field.name] = problem.reason
    return CheckedForm(values, problems)


def views(
    config: TenantConfig,
    fields: Iterable[FormField],
    i18n: Translator,
    posted: Mapping[str, str] | None = None,
    problems: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
) -> list[FieldView]:
    """Field views with the posted values kept and each problem (or ready message) attached."""
    posted = posted or {}
    problems = problems or {}
    errors = errors or {}
    result = []
    for form_field in fields:
        message = errors.get(form_field.name, "")
        if not message and form_field.name in problems:
            message = problem_message(config, form_field, problems[form_field.name], i18n)
        result.append(view_of(config, form_field, i18n, posted.get(form_field.name, ""), message))
    return result


def posted_strings(data: Mapping[str, Any]) -> dict[str, str]:
    """Form data as plain strings: a repeated field keeps its first value, files are ignored."""
    result: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, list):
            value = value[0] if value else ""
        if isinstance(value, str):
            result[str(key)[:64]] = value[:2000]
    return result
