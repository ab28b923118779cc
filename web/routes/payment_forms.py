"""What both payment forms share: the amount and purpose fields, their messages, the provider.

The cabinet's form (web/routes/payments.py) and the one without registration
(web/routes/payment_anonymous.py) check the same two fields the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from babel.numbers import get_decimal_symbol
from litestar import Request

from domain.payments import (
    CENT,
    MAX_AMOUNT,
    PaymentInputProblem,
    PaymentProvider,
    Receipts,
    check_purpose,
    parse_amount,
    payment_provider,
)
from tenants.schema import TenantConfig
from web.auth import tenant_id_of, tenant_of
from web.forms import FieldView
from web.i18n import N_, Translator
from web.messages import render_message

FIELD_LABELS = {
    "amount": N_("Amount to pay"),
    "purpose": N_("Purpose of the payment"),
}
AMOUNT_HINT = N_("For example %(sample)s. At most %(limit)s in one payment.")
AMOUNT_PROBLEMS = {
    "empty": N_("Please enter the amount to pay."),
    "not_a_number": N_(
        "Enter the amount as a number without thousands separators, for example %(sample)s."
    ),
    "not_positive": N_("The amount must be greater than zero."),
    "too_many_decimals": N_("The amount can have at most two digits after the decimal point."),
    "too_large": N_("The amount is too large: at most %(limit)s can be paid at once."),
}
PURPOSE_PROBLEMS = {
    "empty": N_("Please choose what you are paying for."),
    "unknown_purpose": N_("Please choose one of the purposes in the list."),
}


def provider_of(request: Request[Any, Any, Any]) -> PaymentProvider:
    portal = request.app.state.portal
    return payment_provider(
        tenant_of(request),
        secret=portal.settings.secret_key,
        tenant_id=tenant_id_of(request),
        database=portal.database,
        clock=lambda: portal.clock(),
    )


def receipts_of(request: Request[Any, Any, Any]) -> Receipts:
    return Receipts(tenant_of(request), render_message)


def plain_amount(translate: Translator, amount: Decimal) -> str:
    """An amount as the payer would type it: no grouping, the locale's decimal mark."""
    return str(amount.quantize(CENT)).replace(".", get_decimal_symbol(translate.babel_locale))


def _amount_sample(translate: Translator) -> str:
    return plain_amount(translate, Decimal("1500.50"))


def amount_view(translate: Translator, value: str, error: str = "") -> FieldView:
    hint = translate.gettext(AMOUNT_HINT) % {
        "sample": _amount_sample(translate),
        "limit": translate.money(MAX_AMOUNT),
    }
    return FieldView(
        name="amount",
        label=translate.pick(FIELD_LABELS, "amount"),
        input_type="text",
        value=value,
        hint=hint,
        error=error,
        inputmode="decimal",
        extra={"maxlength": "20"},
    )


def purpose_view(translate: Translator, value: str, error: str = "") -> FieldView:
    return FieldView(
        name="purpose",
        label=translate.pick(FIELD_LABELS, "purpose"),
        input_type="select",
        value=value,
        error=error,
    )


def purpose_options(config: TenantConfig, locale: str) -> list[tuple[str, str]]:
    return [(p.key, config.text(p.label, locale)) for p in config.payments.purposes]


def check_payment_fields(
    config: TenantConfig, translate: Translator, form: Mapping[str, str]
) -> tuple[Decimal | None, str, dict[str, str]]:
    """The amount and purpose, or a message per field that is wrong."""
    errors: dict[str, str] = {}
    amount: Decimal | None = None
    purpose = ""
    try:
        amount = parse_amount(form.get("amount", "")[:100])
    except PaymentInputProblem as problem:
        errors["amount"] = translate.pick(AMOUNT_PROBLEMS, problem.reason) % {
            "sample": _amount_sample(translate),
            "limit": translate.money(MAX_AMOUNT),
        }
    try:
        purpose = check_purpose(config, form.get("purpose", "")[:100])
    except PaymentInputProblem as problem:
        errors["purpose"] = translate.pick(PURPOSE_PROBLEMS, problem.reason)
    return amount, purpose, errors
