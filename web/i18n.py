"""Languages at run time: loading catalogs, choosing a locale per request, formatting.

Catalogs are read from the `.po` files directly, so a fresh checkout needs no
compile step; a catalog that cannot be read is logged and replaced by the source
strings, so a translator's typo never takes a page down.
"""

from __future__ import annotations

import gettext as gettext_module
import io
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, format_percent
from babel.support import NullTranslations, Translations

from web.settings import PROJECT_ROOT

SOURCE_LOCALE = "en"
TRANSLATIONS = PROJECT_ROOT / "translations"
LANGUAGE_COOKIE = "lang"

log = logging.getLogger("portal.i18n")

# Chinese written in these regions uses simplified characters.
_SIMPLIFIED_REGIONS = {"cn", "sg", "my"}
_TRADITIONAL_REGIONS = {"tw", "hk", "mo"}


def N_(message: str) -> str:
    """Marks a message for extraction where it is defined; it is translated where shown."""
    return message


def Nn_(singular: str, plural: str) -> tuple[str, str]:
    """Marks a singular/plural pair for extraction; shown with `ngettext(*pair, n)`."""
    return singular, plural


def available_locales(directory: Path = TRANSLATIONS) -> list[str]:
    """The source locale and every locale with a catalog; adding one needs no code."""
    found = {path.parent.parent.name for path in directory.glob("*/LC_MESSAGES/messages.po")}
    return sorted(found | {SOURCE_LOCALE})


def load_catalog(locale: str, directory: Path = TRANSLATIONS) -> NullTranslations:
    path = directory / locale / "LC_MESSAGES" / "messages.po"
    if locale == SOURCE_LOCALE or not path.exists():
        return NullTranslations()
    try:
        first_bad_line = malformed_po_line(path.read_bytes().decode("utf-8"))
        if first_bad_line:
            raise ValueError(f"line {first_bad_line} is not a well-formed .po line")
        with path.open("rb") as handle:
            catalog = read_po(handle, locale=locale, abort_invalid=True)
        compiled = io.BytesIO()
        write_mo(compiled, catalog, use_fuzzy=False)
        compiled.seek(0)
        return Translations(fp=compiled, domain="messages")
    except Exception as error:  # any fault in a catalog falls back to the source strings
        log.error("catalog %s could not be loaded, using source strings: %s", path, error)
        return NullTranslations()


_PO_LINE = re.compile(
    r'^\s*(?:#.*|(?:msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?)\s+"(?:[^"\\]|\\.)*"'
    r'|"(?:[^"\\]|\\.)*")?\s*$'
)


def malformed_po_line(text: str) -> int | None:
    """The first line that is not a comment, keyword or quoted string, if any.

    Babel's reader forgives an unterminated string by cutting its last character,
    which would put a mangled translation on a page; such a catalog is refused instead.
    """
    for number, line in enumerate(text.splitlines(), start=1):
        if not _PO_LINE.match(line):
            return number
    return None


@cache
def catalogs() -> Mapping[str, NullTranslations]:
    return {locale: load_catalog(locale) for locale in available_locales()}


def loaded_locales() -> list[str]:
    """The locales this process serves: those whose catalogs it loaded at first use."""
    return list(catalogs())


# --- negotiation -------------------------------------------------------------

_TAG = re.compile(r"^[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*$|^\*$")


def parse_accept_language(header: str | None) -> list[str]:
    """Language tags by preference; malformed parts are skipped, never an error."""
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header[:1000].split(",")):
        pieces = [piece.strip() for piece in part.split(";")]
        tag = pieces[0]
        if not tag or not _TAG.match(tag):
            continue
        quality = 1.0
        for parameter in pieces[1:]:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = -1.0
        if 0 < quality <= 1:
            weighted.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(weighted)]


def match_locale(tag: str, enabled: Iterable[str]) -> str | None:
    """The enabled locale a language tag asks for: zh, zh-CN, zh-Hans, zh-SG → zh_Hans."""
    subtags = [piece.lower() for piece in re.split(r"[-_]", tag.strip()) if piece]
    if not subtags:
        return None
    language = subtags[0]
    script = next((s for s in subtags[1:] if len(s) == 4 and s.isalpha()), None)
    region = next((s for s in subtags[1:] if len(s) == 2 and s.isalpha()), None)
    if language == "zh" and script is None:
        script = "hant" if region in _TRADITIONAL_REGIONS else "hans"
    for locale in enabled:
        parts = locale.lower().split("_")
        if parts[0] != language:
            continue
        locale_script = next((p for p in parts[1:] if len(p) == 4), None)
        if locale_script is None or script is None or locale_script == script:
            return locale
    return None


def negotiate_locale(
    *,
    enabled: list[str],
    default: str,
    explicit: str | None = None,
    cookie: str | None = None,
    saved_preference: str | None = None,
    accept_language: str | None = None,
) -> str:
    """Pick the locale: switcher choice (query, then cookie) → saved → browser → tenant default."""
    for choice in (explicit, cookie, saved_preference):
        if choice and choice in enabled:
            return choice
    for tag in parse_accept_language(accept_language):
        if tag == "*":
            return default
        matched = match_locale(tag, enabled)
        if matched:
            return matched
    return default


def html_lang(locale: str) -> str:
    """BCP 47 form for `<html lang>`: zh_Hans → zh-Hans."""
    return locale.replace("_", "-")


# --- the per-request translator ---------------------------------------------------

# In a tenant's terminology, a text with a msgctxt is keyed "context|msgid", and a text
# with plural forms is keyed by its singular msgid with the forms separated the same way.
TERMINOLOGY_SEPARATOR = "|"


def terminology_key(message: str, context: str | None = None) -> str:
    """The key a tenant's terminology uses for a text: its msgid, after its context if any."""
    return f"{context}{TERMINOLOGY_SEPARATOR}{message}" if context else message


@cache
def plural_rule(locale: str) -> tuple[int, Callable[[int], int]]:
    """How many plural forms the locale has, and which one (msgstr[n]) a number takes."""
    rule = get_plural(locale)
    return rule.num_plurals, gettext_module.c2py(rule.plural_expr)


@dataclass
class Translator:
    """Everything a template needs to speak one locale for one tenant.

    Each text comes from the first that has it: the tenant's terminology for the
    locale, the locale's catalog, the English source.
    """

    locale: str
    catalog: NullTranslations = field(default_factory=NullTranslations)
    terminology: Mapping[str, str] = field(default_factory=dict)
    currency: str = "USD"
    timezone: str = "UTC"
    # Demo mode's "show message ids": every text is followed by the key it was looked up by.
    show_msgids: bool = False

    def gettext(self, message: str) -> str:
        text = self.terminology.get(message) or self.catalog.gettext(message)
        return self._marked(text, message)

    def pick(self, messages: Mapping[str, str], key: str) -> str:
        """`messages[key]` translated. (`gettext(messages["key"])` would have the extractor
        take the literal key for a message.)"""
        return self.gettext(messages[key])

    def ngettext(self, singular: str, plural: str, count: int) -> str:
        text = self._tenant_plural(singular, count) or self.catalog.ngettext(
            singular, plural, count
        )
        return self._marked(text, singular)

    def pgettext(self, context: str, message: str) -> str:
        key = terminology_key(message, context)
        text = self.terminology.get(key) or str(self.catalog.pgettext(context, message))
        return self._marked(text, key)

    def _tenant_plural(self, singular: str, count: int) -> str | None:
        # One form serves every number; otherwise the tenant gives as many as the locale has.
        value = self.terminology.get(singular)
        if not value:
            return None
        forms = value.split(TERMINOLOGY_SEPARATOR)
        if len(forms) == 1:
            return forms[0]
        expected, form_for = plural_rule(self.locale)
        if len(forms) != expected:
            log.warning(
                "terminology for %r in %s has %d forms, the language needs %d; using the catalog",
                singular,
                self.locale,
                len(forms),
                expected,
            )
            return None
        return forms[form_for(count)]

    def _marked(self, text: str, key: str) -> str:
        return f"{text} ⟦{key}⟧" if self.show_msgids else text

    @property
    def babel_locale(self) -> Locale:
        return babel_locale(self.locale)

    def money(self, amount: Decimal) -> str:
        return _formatted_money(amount, self.currency, self.locale)

    def number(self, value: Decimal | int | float, decimals: int | None = None) -> str:
        return _formatted_number(value, decimals, self.locale)

    def input_number(self, value: Decimal, decimals: int) -> str:
        """A value to put back in an input: the locale's decimal sign, no grouping."""
        return _formatted_number(value, decimals, self.locale, grouped=False)

    def date(self, value: date, format: str = "medium") -> str:
        return _formatted_date(value, format, self.locale)

    def datetime(self, value: datetime, format: str = "medium") -> str:
        return format_datetime(
            value, format=format, tzinfo=ZoneInfo(self.timezone), locale=self.babel_locale
        )

    def percent(self, share: Decimal | float) -> str:
        """A share (0.5) as the locale writes a percentage: 50%, 50 %, 50%."""
        return _formatted_percent(share, self.locale)

    def language_name(self, locale: str) -> str:
        """A language named in itself, as a switcher should show it: 中文, Русский, Қазақ тілі."""
        return language_autonym(locale)


@cache
def babel_locale(locale: str) -> Locale:
    return Locale.parse(locale)


# Babel parses the pattern and looks the locale's symbols up on every call, and a page
# shows the same amounts, tariffs and dates again and again: the texts are kept. Equal
# values of one type format alike (1.5 and 1.50 both round to the pattern), so the value
# is a fair key.
@lru_cache(maxsize=4096, typed=True)
def _formatted_money(amount: Decimal, currency: str, locale: str) -> str:
    return format_currency(amount, currency, locale=babel_locale(locale))


@lru_cache(maxsize=4096, typed=True)
def _formatted_number(
    value: Decimal | int | float, decimals: int | None, locale: str, *, grouped: bool = True
) -> str:
    if decimals is None:
        return format_decimal(value, locale=babel_locale(locale))
    pattern = ("#,##0" if grouped else "0") + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, format=pattern, locale=babel_locale(locale))


@lru_cache(maxsize=1024, typed=True)
def _formatted_percent(share: Decimal | float, locale: str) -> str:
    return format_percent(share, locale=babel_locale(locale))


@lru_cache(maxsize=4096)
def _formatted_date(value: date, format: str, locale: str) -> str:
    return format_date(value, format=format, locale=babel_locale(locale))


@cache
def language_autonym(locale: str) -> str:
    name = str(Locale.parse(locale).get_display_name(locale) or locale)
    return name[:1].upper() + name[1:]


def translator_for(
    locale: str,
    *,
    terminology: Mapping[str, Mapping[str, str]] | None = None,
    currency: str = "USD",
    timezone: str = "UTC",
    show_msgids: bool = False,
) -> Translator:
    return Translator(
        locale=locale,
        catalog=catalogs().get(locale, gettext_module.NullTranslations()),  # type: ignore[arg-type]
        terminology=(terminology or {}).get(locale, {}),
        currency=currency,
        timezone=timezone,
        show_msgids=show_msgids,
    )
