"""No English source text on a page served in another language; the status view agrees.

Every msgid of translations/messages.pot is looked for in what a reader gets: the
page's text and the attributes read aloud (alt, title, aria-label, placeholder).
"""

from __future__ import annotations

import re
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from tenants.loader import load_presets
from tests.conftest import tenant_url
from web.catalogs import PROJECT_ROOT, SHIPPED_LOCALES, po_path, pot_path
from web.translation_status import locale_status

PRESETS = {config.slug: config for config in load_presets()}
PAGES = ["/", "/contact", "/no/such/page"]
TENANT_PAGES = [
    (slug, locale, path)
    for slug, config in sorted(PRESETS.items())
    for locale in config.locales.enabled
    if locale != "en"
    for path in PAGES
]
PLATFORM_PAGES = [
    (locale, url, status)
    for locale in SHIPPED_LOCALES
    for url, status in (
        ("http://localhost/", 200),
        ("http://localhost/_i18n/status", 200),
        ("http://nowhere.localhost/", 404),
    )
]
# Printf-style and brace placeholders stand for any text on the page.
PLACEHOLDER = re.compile(r"%\([^)]*\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]|%[sd]|\{[^{}]*\}")
SPOKEN_ATTRIBUTES = {"alt", "title", "aria-label", "placeholder"}


def _read(path: Path) -> Catalog:
    with path.open("rb") as fileobj:
        return read_po(fileobj)


@cache
def english_sources(locale: str) -> dict[str, re.Pattern[str]]:
    """Every source text worth looking for in `locale`, with the pattern that finds it."""
    translations = {}
    for message in _read(po_path(PROJECT_ROOT, locale)):
        if message.id and not message.context:
            forms = message.string if isinstance(message.string, tuple) else (message.string,)
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            translations.update({msgid: set(forms) for msgid in ids})
    patterns = {}
    for message in _read(pot_path(PROJECT_ROOT)):
        for msgid in message.id if isinstance(message.id, tuple) else (message.id,):
            pieces = [piece.replace("%%", "%") for piece in PLACEHOLDER.split(msgid)]
            # "%(translated)s of %(total)s" would match any English-looking sentence.
            if len("".join(pieces).strip()) < 4 or msgid in translations.get(msgid, ()):
                continue
            pieces = [re.escape(piece) for piece in pieces]
            patterns[msgid] = re.compile(r"(?<!\w)" + ".+?".join(pieces) + r"(?!\w)")
    return patterns


class _Reader(HTMLParser):
    """What a reader sees or hears: text outside script and style, and spoken attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.hidden += 1
        self.parts += [value for name, value in attrs if name in SPOKEN_ATTRIBUTES and value]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def readable_text(html: str) -> str:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return " ".join(" ".join(reader.parts).split())


def english_in(text: str, locale: str) -> list[str]:
    return [msgid for msgid, pattern in english_sources(locale).items() if pattern.search(text)]


def test_the_finder_sees_text_and_spoken_attributes() -> None:
    page = (
        '<nav aria-label="Language"><script>var a = "Opening hours";</script></nav>'
        "<p>Показания принимаются с 20 по 25 число. Readings are accepted from day 20 "
        "to day 25 of each month.</p><p>Phones: 1</p>"
    )

    assert sorted(english_in(readable_text(page), "ru")) == [
        "Language",
        "Phones",
        "Readings",
        "Readings are accepted from day %(first)s to day %(last)s of each month.",
    ]


@pytest.mark.parametrize(("slug", "locale", "path"), TENANT_PAGES)
async def test_tenant_page_has_no_english_source_text(
    client: httpx.AsyncClient, slug: str, locale: str, path: str
) -> None:
    separator = "&" if "?" in path else "?"
    response = await client.get(tenant_url(slug, f"{path}{separator}lang={locale}"))

    assert response.status_code == (404 if path == "/no/such/page" else 200)
    assert response.headers["content-language"] == locale.replace("_", "-")
    assert english_in(readable_text(response.text), locale) == []


@pytest.mark.parametrize(("locale", "url", "status"), PLATFORM_PAGES)
async def test_platform_page_has_no_english_source_text(
    client: httpx.AsyncClient, locale: str, url: str, status: int
) -> None:
    response = await client.get(f"{url}?lang={locale}")

    assert response.status_code == status
    assert response.headers["content-language"] == locale.replace("_", "-")
    assert english_in(readable_text(response.text), locale) == []


# --- the status view ----------------------------------------------------------------


class _Rows(HTMLParser):
    """The cells of every table row carrying data-locale, by locale."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: dict[str, list[str]] = {}
        self.row: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        locale = dict(attrs).get("data-locale")
        if tag == "tr" and locale:
            self.row = self.rows.setdefault(locale, [])
        elif tag in ("th", "td") and self.row is not None:
            self.row.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self.row = None

    def handle_data(self, data: str) -> None:
        if self.row:
            self.row[-1] += data


def status_rows(html: str) -> dict[str, list[str]]:
    parser = _Rows()
    parser.feed(html)
    return {
        locale: [" ".join(cell.split()) for cell in cells] for locale, cells in parser.rows.items()
    }


async def test_status_view_shows_every_shipped_locale_complete(client: httpx.AsyncClient) -> None:
    response = await client.get("http://localhost/_i18n/status?lang=en")

    assert response.status_code == 200
    body = response.text
    total = sum(1 for message in _read(pot_path(PROJECT_ROOT)) if message.id)
    rows = status_rows(body)
    assert set(SHIPPED_LOCALES) <= set(rows)
    for locale in SHIPPED_LOCALES:
        _language, translated, share, fuzzy, missing = rows[locale]
        # The page formats numbers for the reader: English groups thousands with a comma.
        assert (translated, share, fuzzy, missing) == (f"{total:,} of {total:,}", "100%", "0", "0")
    assert body.count("Every text is translated.") == len(rows)
    assert "<caption>Translated texts by language</caption>" in body
    assert '<th scope="col">Share translated</th>' in body
    assert 'scope="row"' in body


async def test_status_view_speaks_the_chosen_language(client: httpx.AsyncClient) -> None:
    response = await client.get("http://localhost/_i18n/status?lang=ru")

    assert "<h1>Состояние перевода</h1>" in response.text
    # Russian puts a no-break space before the percent sign.
    assert "<td>100\xa0%</td>" in response.text
    assert status_rows(response.text)["kk"][2] == "100 %"


@pytest.mark.parametrize("slug", sorted(PRESETS))
async def test_status_view_is_not_on_tenant_hosts(client: httpx.AsyncClient, slug: str) -> None:
    response = await client.get(tenant_url(slug, "/_i18n/status"))

    assert response.status_code == 404
    assert "Translation status" not in response.text


def test_status_counts_fuzzy_and_missing_texts_with_their_locations() -> None:
    template = Catalog()
    template.add("Meter readings", locations=[("web/templates/home.html", 26)])
    template.add(("One reading", "%(count)s readings"), locations=[("web/a.html", 3)])
    template.add("Missing", context="translation state", locations=[("web/b.html", 7)])
    template.add("Pay online.", locations=[("web/templates/home.html", 14)])
    catalog = Catalog(locale="ru")
    catalog.add("Meter readings", "Показания счётчиков")
    catalog.add(("One reading", "%(count)s readings"), ("%(count)s показание", "", ""))
    catalog.add("Missing", "Нет перевода", context="translation state", flags=["fuzzy"])

    status = locale_status("ru", template, catalog)

    assert (status.total, status.translated, status.fuzzy, status.missing) == (4, 1, 1, 2)
    assert str(status.share) == "0.25"
    assert [
        (text.msgid, text.plural, text.context, text.locations, text.fuzzy)
        for text in status.pending
    ] == [
        ("One reading", "%(count)s readings", None, ("web/a.html:3",), False),
        ("Missing", None, "translation state", ("web/b.html:7",), True),
        ("Pay online.", None, None, ("web/templates/home.html:14",), False),
    ]


def test_status_share_is_rounded_down_so_only_complete_is_100_percent() -> None:
    template = Catalog()
    for number in range(300):
        template.add(f"Text {number}")
    catalog = Catalog(locale="kk")
    for number in range(299):
        catalog.add(f"Text {number}", f"Мәтін {number}")

    status = locale_status("kk", template, catalog)

    assert str(status.share) == "0.99"
    assert locale_status("kk", template, None).has_catalog is False
