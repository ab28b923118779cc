"""A broken catalog never takes a page down: the portal falls back to the source strings."""

from __future__ import annotations

from pathlib import Path

import pytest

from web.i18n import available_locales, load_catalog

RUSSIAN_PLURALS = (
    "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : "
    "n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);"
)
GOOD = f"""msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"
"Plural-Forms: {RUSSIAN_PLURALS}\\n"

msgid "Hotline"
msgstr "Горячая линия"
"""


def _write(root: Path, locale: str, text: str) -> None:
    folder = root / locale / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "messages.po").write_text(text, encoding="utf-8")


def test_a_valid_catalog_translates(tmp_path: Path) -> None:
    _write(tmp_path, "ru", GOOD)
    assert load_catalog("ru", tmp_path).gettext("Hotline") == "Горячая линия"
    assert available_locales(tmp_path) == ["en", "ru"]


@pytest.mark.parametrize(
    "broken",
    [
        GOOD.replace('msgstr "Горячая линия"', 'msgstr "Горячая линия'),  # unterminated string
        GOOD + 'msgid "A"\nmsgid_plural "As"\nmsgstr[0] "x"\nmsgstr[7] "y"\n',  # wrong plural index
        "\x00\x01 not a catalog at all",
    ],
)
def test_a_broken_catalog_falls_back_to_the_source(
    tmp_path: Path, broken: str, caplog: pytest.LogCaptureFixture
) -> None:
    _write(tmp_path, "ru", broken)
    catalog = load_catalog("ru", tmp_path)
    assert catalog.gettext("Hotline") in {"Hotline", "Горячая линия"}
    assert catalog.ngettext("A", "As", 5) in {"As", "y", "x"}


def test_unterminated_string_is_logged_and_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _write(tmp_path, "ru", GOOD.replace('msgstr "Горячая линия"', 'msgstr "Горячая линия'))
    assert load_catalog("ru", tmp_path).gettext("Hotline") == "Hotline"
    assert any("could not be loaded" in record.getMessage() for record in caplog.records)
