"""The one typed schema for everything that differs between utilities.

Presets under `tenants/presets/` and every version saved by the configuration
editor are validated against these models; code asks a `TenantConfig` what to
do and never looks at a tenant's slug to decide.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from babel.numbers import list_currencies
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

LOCALE_PATTERN = r"^[a-z]{2,3}(_[A-Z][a-z]{3})?(_[A-Z]{2})?$"
SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
NAME_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"

LocaleCode = Annotated[str, StringConstraints(pattern=LOCALE_PATTERN)]
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
Colour = Annotated[str, StringConstraints(pattern=r"^#[0-9a-fA-F]{6}$")]
Hostname = Annotated[
    str,
    StringConstraints(
        to_lower=True,
        max_length=253,
        pattern=r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$",
    ),
]


class Strict(BaseModel):
    """Every section forbids unknown keys, so a typo in a preset is an error, not a no-op."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Localized(BaseModel):
    """Text in several locales; `get` falls back to the given default, then English."""

    model_config = ConfigDict(frozen=True)

    texts: dict[LocaleCode, Annotated[str, StringConstraints(min_length=1)]]

    @model_validator(mode="before")
    @classmethod
    def _from_plain_mapping(cls, value: object) -> object:
        if isinstance(value, dict) and "texts" not in value:
            return {"texts": value}
        return value

    @field_validator("texts")
    @classmethod
    def _not_empty(cls, texts: dict[str, str]) -> dict[str, str]:
        if not texts:
            raise ValueError("needs text in at least one locale")
        return texts

    def get(self, locale: str, fallback: str = "en") -> str:
        for candidate in (locale, fallback, "en"):
            if candidate in self.texts:
                return self.texts[candidate]
        return next(iter(self.texts.values()))


# --- identifier kinds -------------------------------------------------------


class DigitsKind(Strict):
    """A number of fixed length ("97" + 8 digits) or of a length within bounds (contracts)."""

    kind: Literal["digits"]
    length: int | None = Field(default=None, ge=1, le=40)
    min_length: int | None = Field(default=None, ge=1, le=40)
    max_length: int | None = Field(default=None, ge=1, le=40)
    prefix: Annotated[str, StringConstraints(pattern=r"^[0-9]*$")] = ""

    @model_validator(mode="after")
    def _length_given_once(self) -> DigitsKind:
        fixed = self.length is not None
        ranged = self.min_length is not None or self.max_length is not None
        if fixed == ranged:
            raise ValueError("give either length, or min_length and max_length")
        if ranged and (self.min_length is None or self.max_length is None):
            raise ValueError("min_length and max_length go together")
        low, high = self.bounds
        if low > high:
            raise ValueError("min_length is greater than max_length")
        if len(self.prefix) >= low:
            raise ValueError("prefix must be shorter than the length")
        return self

    @property
    def bounds(self) -> tuple[int, int]:
        """The shortest and longest allowed number of digits, prefix included."""
        if self.length is not None:
            return self.length, self.length
        assert self.min_length is not None and self.max_length is not None
        return self.min_length, self.max_length


class PrefixedKind(Strict):
    """A login made of a fixed prefix and another identifier ("vk" + contract number)."""

    kind: Literal["prefixed"]
    prefix: Annotated[str, StringConstraints(pattern=r"^[a-z]+$")]
    of: Name


class LegacyLoginKind(Strict):
    """A login derived from an old account name: one rule if it had letters, another if not."""

    kind: Literal["legacy_login"]
    letters_prefix: Annotated[str, StringConstraints(pattern=r"^[a-z]+$")]
    letters_tail: int = Field(ge=1, le=20)
    digits_prefix: Annotated[str, StringConstraints(pattern=r"^[a-z]+$")]
    digits_tail: int = Field(ge=1, le=20)
    pad: Annotated[str, StringConstraints(min_length=1, max_length=1)] = "0"


class PhoneKind(Strict):
    """A phone number, parsed in the given region and stored as E.164."""

    kind: Literal["phone"]
    region: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]


class EmailKind(Strict):
    kind: Literal["email"]


class LoginKind(Strict):
    """A login the customer chooses; unique after NFKC normalisation and case folding."""

    kind: Literal["login"]
    alphabets: list[Literal["latin", "cyrillic"]] = Field(min_length=1)
    min_length: int = Field(default=3, ge=1)
    max_length: int = Field(default=32, le=64)


class NationalIdKind(Strict):
    kind: Literal["national_id"]
    scheme: Literal["cn_resident_id", "kz_iin", "kz_bin", "kz_iin_bin"]


IdentifierKind = Annotated[
    DigitsKind
    | PrefixedKind
    | LegacyLoginKind
    | PhoneKind
    | EmailKind
    | LoginKind
    | NationalIdKind,
    Field(discriminator="kind"),
]


class Identifier(Strict):
    """An identifier the tenant declares: what it is called, what it looks like, a sample."""

    name: Name
    label: Localized
    sample: str = Field(min_length=1)
    hint: Localized | None = None
    spec: IdentifierKind


# --- sign-in, registration, recovery --------------------------------------


class SignIn(Strict):
    identifiers: list[Name] = Field(min_length=1)
    label: Localized | None = None
    remember_me: bool = True


FieldType = Literal[
    "identifier",  # validated by the declared identifier named in `identifier`
    "text",
    "person_name",
    "street",
    "house",
    "building",
    "apartment",
    "password",
    "password_repeat",
    "checkbox",
    "meter_serial",
]


class FormField(Strict):
    """One input of a registration or recovery step."""

    name: Name
    type: FieldType
    identifier: Name | None = None
    required: bool = True
    label: Localized | None = None
    hint: Localized | None = None
    sample: str | None = None
    # The value must equal what billing data holds for the account (check-then-create, activation).
    match_record: bool = False

    @model_validator(mode="after")
    def _identifier_named(self) -> FormField:
        if (self.type == "identifier") != (self.identifier is not None):
            raise ValueError("fields of type 'identifier' (and only those) name an identifier")
        return self


class RegistrationStep(Strict):
    key: Name
    title: Localized | None = None
    fields: list[FormField] = Field(min_length=1)


class RegistrationVariant(Strict):
    """One kind of registrant (individual, legal entity); most tenants have exactly one."""

    key: Name
    label: Localized | None = None
    steps: list[RegistrationStep] = Field(min_length=1)
    # Where the login comes from, when the customer does not choose one.
    login_from: Name | None = None
    login_identifier: Name | None = None


RegistrationFlow = Literal[
    "activation_with_approval",
    "check_then_create",
    "contact_first",
    "individual_or_legal",
    "pre_provisioned",
]


class InitialPassword(Strict):
    """Pre-provisioned accounts: a published initial password, valid until a date."""

    value: Annotated[str, StringConstraints(min_length=4, max_length=64)]
    valid_until: date
    must_change: bool = True


class Registration(Strict):
    flow: RegistrationFlow
    variants: list[RegistrationVariant] = Field(default_factory=list)
    confirm_by: Literal["email_link", "sms_code", "staff_approval"] | None = None
    agreement: Localized | None = None
    # Shown beside the form, e.g. "companies come to the counter".
    notice: Localized | None = None
    # "Get my account number": holder name + this phone identifier → the number, by SMS.
    account_lookup: bool = False
    account_lookup_phone: Name | None = None
    initial_password: InitialPassword | None = None

    @model_validator(mode="after")
    def _shape_matches_flow(self) -> Registration:
        if self.flow == "pre_provisioned":
            if self.variants:
                raise ValueError("pre-provisioned accounts have no registration form")
            if self.initial_password is None:
                raise ValueError("pre-provisioned accounts need initial_password")
        elif not self.variants:
            raise ValueError(f"flow '{self.flow}' needs at least one variant")
        if self.flow == "individual_or_legal" and len(self.variants) < 2:
            raise ValueError("flow 'individual_or_legal' needs two variants")
        if self.flow == "check_then_create" and any(len(v.steps) < 2 for v in self.variants):
            raise ValueError("flow 'check_then_create' needs a check step and a create step")
        if self.account_lookup and self.account_lookup_phone is None:
            raise ValueError("account_lookup needs account_lookup_phone")
        return self


class PasswordPolicy(Strict):
    min_length: int = Field(default=8, ge=6, le=128)
    require_letters: bool = True
    require_digits: bool = True


class Recovery(Strict):
    method: Literal["email_link", "sms_code"]
    # What the customer types to start: any of these identifiers (default: the sign-in ones).
    start_identifiers: list[Name] = Field(default_factory=list)
    # Fields asked for, together with the one-time string, on the email-link form.
    confirm_fields: list[FormField] = Field(default_factory=list)
    resend_after_seconds: int = Field(default=180, ge=10, le=3600)


# --- features -------------------------------------------------------------

Module = Literal[
    "accounts",
    "account_linking",
    "bills",
    "statements",
    "charges_breakdown",
    "reconciliation",
    "payments",
    "anonymous_payment",
    "readings",
    "anonymous_readings",
    "visit_requests",
    "broadband",
    "benefits",
    "subsidies",
    "subscriptions",
    "contact_centre",
]


class ReadingsPolicy(Strict):
    # Days of the month (tenant time zone) when readings are accepted; empty means any day.
    window_days: list[Annotated[int, Field(ge=1, le=31)]] = Field(default_factory=list)
    advice: Localized | None = None
    refuse_without_factory_number: bool = True
    refuse_removed: bool = True
    past_verification: Literal["refuse", "warn", "allow"] = "warn"
    lower_than_previous: Literal["refuse", "confirm_replacement"] = "confirm_replacement"
    # Ask for confirmation when consumption exceeds this multiple of the meter's average.
    outlier_factor: Decimal = Field(default=Decimal(3), gt=1)
    confirm_partial: bool = True


class PaymentPurpose(Strict):
    key: Name
    label: Localized


class Payments(Strict):
    provider: Literal["sandbox"] = "sandbox"
    purposes: list[PaymentPurpose] = Field(default_factory=list)


class AccountLinking(Strict):
    proof: Literal["meter_last4", "holder_surname", "none"] = "meter_last4"
    nicknames: bool = True


class OpeningHours(Strict):
    days: Localized
    hours: Annotated[str, StringConstraints(pattern=r"^\d{1,2}:\d{2}[–-]\d{1,2}:\d{2}$")]


class ContactCentre(Strict):
    address: Localized | None = None
    hours: list[OpeningHours] = Field(default_factory=list)
    phones: list[str] = Field(default_factory=list)
    hotline: str | None = None
    email: str | None = None


class VisitRequests(Strict):
    kinds: list[Literal["meter_acceptance", "meter_check"]] = Field(default_factory=list)
    # ISO weekdays (1 = Monday) when visits happen, and the slots offered.
    working_days: list[Annotated[int, Field(ge=1, le=7)]] = Field(
        default_factory=lambda: [1, 2, 3, 4, 5]
    )
    slots: list[Annotated[str, StringConstraints(pattern=r"^\d{2}:\d{2}$")]] = Field(
        default_factory=list
    )


class BroadbandPlan(Strict):
    key: Name
    label: Localized
    kind: Literal["unlimited_monthly", "limited_monthly", "half_year", "year"]
    fee: Decimal = Field(ge=0)
    included_hours: int | None = None


class Broadband(Strict):
    plans: list[BroadbandPlan] = Field(min_length=1)
    suspension_fee: Decimal = Field(ge=0)
    payment_modes: list[Literal["prepaid_cash", "postpaid_bank"]] = Field(min_length=1)
    # Months unpaid after which a suspended service is closed.
    close_after_unpaid_months: int = Field(default=2, ge=1)


class Branding(Strict):
    name: Localized
    short_name: Localized | None = None
    primary_colour: Colour
    accent_colour: Colour
    logo: Annotated[str, StringConstraints(pattern=r"^[a-z0-9/_.-]+\.(svg|png)$")]


class Locales(Strict):
    enabled: list[LocaleCode] = Field(min_length=1)
    default: LocaleCode

    @model_validator(mode="after")
    def _default_enabled(self) -> Locales:
        if self.default not in self.enabled:
            raise ValueError(f"default locale '{self.default}' is not among the enabled ones")
        if len(set(self.enabled)) != len(self.enabled):
            raise ValueError("a locale is listed twice")
        return self


class TenantConfig(Strict):
    slug: Annotated[str, StringConstraints(pattern=SLUG_PATTERN)]
    utility: Literal["water", "gas", "broadband", "heating", "electricity"]
    branding: Branding
    locales: Locales
    currency: str
    timezone: str
    # Region used to read phone numbers typed without a country code.
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
    domains: list[Hostname] = Field(default_factory=list)
    identifiers: list[Identifier] = Field(min_length=1)
    # Which declared identifier is the number of a billing account (户号, лицевой счёт).
    account_identifier: Name
    sign_in: SignIn
    registration: Registration
    password_policy: PasswordPolicy = PasswordPolicy()
    recovery: list[Recovery] = Field(default_factory=list)
    modules: list[Module] = Field(default_factory=list)
    readings: ReadingsPolicy = ReadingsPolicy()
    payments: Payments = Payments()
    account_linking: AccountLinking | None = None
    visit_requests: VisitRequests | None = None
    broadband: Broadband | None = None
    contact_centre: ContactCentre = ContactCentre()
    # Per-locale overrides of chosen messages: {"ru": {"Account number": "Лицевой счёт"}}.
    terminology: dict[LocaleCode, dict[str, str]] = Field(default_factory=dict)

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, code: str) -> str:
        if code not in list_currencies():
            raise ValueError(f"'{code}' is not an ISO 4217 currency code")
        return code

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"'{name}' is not a known time zone") from None
        return name

    @model_validator(mode="after")
    def _references_resolve(self) -> TenantConfig:
        declared = {identifier.name for identifier in self.identifiers}
        if len(declared) != len(self.identifiers):
            raise ValueError("an identifier name is declared twice")
        if self.account_identifier not in declared:
            raise ValueError(
                f"account_identifier '{self.account_identifier}' is not a declared identifier"
            )
        for name in self.sign_in.identifiers:
            if name not in declared:
                raise ValueError(f"sign_in names identifier '{name}', which is not declared")
        for identifier in self.identifiers:
            if isinstance(identifier.spec, PrefixedKind) and identifier.spec.of not in declared:
                raise ValueError(
                    f"identifier '{identifier.name}' is derived from '{identifier.spec.of}', "
                    "which is not declared"
                )
        for recovery in self.recovery:
            for name in recovery.start_identifiers:
                if name not in declared:
                    raise ValueError(
                        f"recovery starts with identifier '{name}', which is not declared"
                    )
        lookup_phone = self.registration.account_lookup_phone
        if lookup_phone is not None and (
            lookup_phone not in declared
            or not isinstance(self.identifier(lookup_phone).spec, PhoneKind)
        ):
            raise ValueError(
                f"account_lookup_phone '{lookup_phone}' is not a declared phone identifier"
            )
        for form_field in self._all_fields():
            if form_field.identifier is not None and form_field.identifier not in declared:
                raise ValueError(
                    f"field '{form_field.name}' names identifier '{form_field.identifier}', "
                    "which is not declared"
                )
        self._registration_can_finish()
        for text_locale in self.branding.name.texts:
            if not re.match(LOCALE_PATTERN, text_locale):
                raise ValueError(f"'{text_locale}' is not a locale code")
        if self.locales.default not in self.branding.name.texts:
            raise ValueError("branding.name needs a text in the default locale")
        if "broadband" in self.modules and self.broadband is None:
            raise ValueError("module 'broadband' is enabled but the broadband section is missing")
        if "visit_requests" in self.modules and not (
            self.visit_requests and self.visit_requests.kinds
        ):
            raise ValueError("module 'visit_requests' is enabled but no visit kinds are configured")
        if "account_linking" in self.modules and self.account_linking is None:
            raise ValueError("module 'account_linking' is enabled but account_linking is missing")
        return self

    def _registration_can_finish(self) -> None:
        """A flow's last step must ask for what the flow confirms, or nobody could finish it."""
        needed = {"email_link": "email", "sms_code": "phone"}.get(
            self.registration.confirm_by or ""
        )
        if needed is None:
            return
        kinds = {identifier.name: identifier.spec.kind for identifier in self.identifiers}
        for variant in self.registration.variants:
            last = variant.steps[-1].fields
            asked = {kinds.get(f.identifier or "") for f in last}
            if needed not in asked:
                raise ValueError(
                    f"registration variant '{variant.key}' is confirmed by "
                    f"{self.registration.confirm_by} but its last step asks for no {needed} field"
                )
            if not any(f.type == "password" for f in last):
                raise ValueError(
                    f"registration variant '{variant.key}': its last step asks for no password"
                )

    def _all_fields(self) -> list[FormField]:
        fields = [f for r in self.recovery for f in r.confirm_fields]
        for variant in self.registration.variants:
            for step in variant.steps:
                fields.extend(step.fields)
        return fields

    # --- questions the web layer asks --------------------------------------

    def has(self, module: Module) -> bool:
        return module in self.modules

    def identifier(self, name: str) -> Identifier:
        for identifier in self.identifiers:
            if identifier.name == name:
                return identifier
        raise KeyError(name)

    def sign_in_identifiers(self) -> list[Identifier]:
        return [self.identifier(name) for name in self.sign_in.identifiers]

    def recovery_by(self, method: str) -> Recovery | None:
        return next((r for r in self.recovery if r.method == method), None)

    def recovery_start_identifiers(self, recovery: Recovery) -> list[Identifier]:
        names = recovery.start_identifiers or self.sign_in.identifiers
        return [self.identifier(name) for name in names]

    def variant(self, key: str) -> RegistrationVariant | None:
        return next((v for v in self.registration.variants if v.key == key), None)

    def name(self, locale: str) -> str:
        return self.branding.name.get(locale, self.locales.default)

    def text(self, localized: Localized | None, locale: str) -> str:
        return localized.get(locale, self.locales.default) if localized else ""

    def hostnames(self, base_domain: str) -> list[str]:
        return [f"{self.slug}.{base_domain}".lower(), *self.domains]
