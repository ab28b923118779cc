"""How far each language's translation has come: the numbers behind /_i18n/status.

`locale_status` judges one catalog against the template and touches no files;
`translation_status` reads translations/ and asks it about every language.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path

from babel.messages.catalog import Catalog, Message

from web.catalogs import (
    PROJECT_ROOT,
    SHIPPED_LOCALES,
    SOURCE_LOCALE,
    CatalogError,
    locales,
    po_path,
    pot_path,
    read_catalog,
)


@dataclass(frozen=True)
class PendingText:
    """A source text a language cannot show yet, and where translators meet it."""

    msgid: str
    plural: str | None
    context: str | None
    locations: tuple[str, ...]
    # A fuzzy entry holds a guess a translator must confirm; until then English is shown.
    fuzzy: bool


@dataclass(frozen=True)
class LocaleStatus:
    locale: str
    total: int
    translated: int
    fuzzy: int
    pending: tuple[PendingText, ...]
    has_catalog: bool = True
    # Why the catalog could not be read (file:line: fault); its pages are then in English.
    error: str | None = None

    @property
    def missing(self) -> int:
        """Texts with no translation at all (neither translated nor a fuzzy guess)."""
        return self.total - self.translated - self.fuzzy

    @property
    def share(self) -> Decimal:
        """The translated share, rounded down to a whole percent: 100% means complete."""
        if not self.total:
            return Decimal(1)
        return (Decimal(self.translated) / self.total).quantize(Decimal("0.01"), ROUND_FLOOR)


MessageKey = tuple[str | None, str]


def _key(message: Message) -> MessageKey:
    msgid = message.id[0] if isinstance(message.id, (list, tuple)) else message.id
    return (message.context, msgid)


def _is_translated(message: Message) -> bool:
    if isinstance(message.string, (list, tuple)):
        return bool(message.string) and all(message.string)
    return bool(message.string)


def _pending(message: Message, fuzzy: bool) -> PendingText:
    if isinstance(message.id, (list, tuple)):
        msgid, plural = str(message.id[0]), str(message.id[1])
    else:
        msgid, plural = str(message.id), None
    return PendingText(
        msgid=msgid,
        plural=plural,
        context=message.context,
        locations=tuple(
            f"{filename}:{lineno}" if lineno else filename for filename, lineno in message.locations
        ),
        fuzzy=fuzzy,
    )


def locale_status(locale: str, template: Catalog, catalog: Catalog | None) -> LocaleStatus:
    """One language's numbers: `catalog` measured against every text in `template`."""
    translations = {_key(message): message for message in catalog or () if message.id}
    translated = fuzzy = 0
    pending = []
    for source in template:
        if not source.id:
            continue
        entry = translations.get(_key(source))
        if entry is not None and _is_translated(entry) and not entry.fuzzy:
            translated += 1
            continue
        is_fuzzy = entry is not None and entry.fuzzy
        fuzzy += is_fuzzy
        # Locations come from the template, which is the freshest account of the sources.
        pending.append(_pending(source, is_fuzzy))
    return LocaleStatus(
        locale=locale,
        total=translated + len(pending),
        translated=translated,
        fuzzy=fuzzy,
        pending=tuple(pending),
        has_catalog=catalog is not None,
    )


def translation_status(root: Path | None = None) -> list[LocaleStatus]:
    """Every translated language's status, shipped ones included even without a catalog."""
    root = root or PROJECT_ROOT
    pot = pot_path(root)
    if not pot.exists():
        raise CatalogError(f"{pot} does not exist; run `portal i18n extract`")
    template, problems = read_catalog(pot, root)
    if template is None:
        raise CatalogError(f"cannot read {pot}", problems)
    statuses = []
    for locale in sorted((set(locales(root)) | set(SHIPPED_LOCALES)) - {SOURCE_LOCALE}):
        path = po_path(root, locale)
        if not path.exists():
            statuses.append(locale_status(locale, template, None))
            continue
        catalog, problems = read_catalog(path, root)
        status = locale_status(locale, template, catalog)
        if catalog is None:
            # The portal serves English for a catalog it cannot read; say why.
            error = "; ".join(str(problem) for problem in problems)
            status = replace(status, has_catalog=True, error=error)
        statuses.append(status)
    return statuses
