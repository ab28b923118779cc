"""`portal i18n check` catches each fault it claims to, on catalog trees built in tmp_path."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po, write_po

from web import catalogs
from web.catalogs import Problem

PAGE = """\
<h1>{% trans %}
  Meter readings
{% endtrans %}</h1>
<p>{% trans count=readings|length %}
  You submitted one reading.
{% pluralize %}
  You submitted {{ count }} readings.
{% endtrans %}</p>
<p>{{ _("Hello, %(name)s!")|format(name=user.name) }}</p>
"""
SUBJECT = "{% trans %}Reading received{% endtrans %}\n"
BILLING = """\
def describe(_, pgettext, amount):
    return _("Amount due: {amount}").format(amount=amount), pgettext("meter", "Reading")
"""

TRANSLATIONS: dict[str, dict[str, str | tuple[str, ...]]] = {
    "ru": {
        "Meter readings": "Показания счётчиков",
        "You submitted one reading.": (
            "Вы передали %(count)s показание.",
            "Вы передали %(count)s показания.",
            "Вы передали %(count)s показаний.",
        ),
        "Hello, %(name)s!": "Здравствуйте, %(name)s!",
        "Reading received": "Показания получены",
        "Amount due: {amount}": "К оплате: {amount}",
        "Reading": "Показание",
    },
    "kk": {
        "Meter readings": "Есептегіш көрсеткіштері",
        "You submitted one reading.": (
            "Сіз %(count)s көрсеткіш жібердіңіз.",
            "Сіз %(count)s көрсеткіш жібердіңіз.",
        ),
        "Hello, %(name)s!": "Сәлеметсіз бе, %(name)s!",
        "Reading received": "Көрсеткіштер қабылданды",
        "Amount due: {amount}": "Төлеуге: {amount}",
        "Reading": "Көрсеткіш",
    },
    "zh_Hans": {
        "Meter readings": "仪表读数",
        "You submitted one reading.": ("您已提交 %(count)s 条读数。",),
        "Hello, %(name)s!": "您好，%(name)s！",
        "Reading received": "已收到读数",
        "Amount due: {amount}": "应付金额：{amount}",
        "Reading": "读数",
    },
}

PAGE_PATH = Path("web/templates/readings/index.html")
RU = Path("translations/ru/LC_MESSAGES/messages.po")
KK = Path("translations/kk/LC_MESSAGES/messages.po")
ZH = Path("translations/zh_Hans/LC_MESSAGES/messages.po")
POT = Path("translations/messages.pot")


def translate(root: Path, locale: str, strings: dict[str, str | tuple[str, ...]]) -> None:
    path = catalogs.po_path(root, locale)
    with path.open("rb") as fileobj:
        catalog = read_po(fileobj)
    for message in catalog:
        if message.id:
            singular = message.id if isinstance(message.id, str) else message.id[0]
            message.string = strings[singular]
    with path.open("wb") as fileobj:
        write_po(fileobj, catalog)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A small project with every shipped locale fully translated."""
    for relative, text in {
        PAGE_PATH: PAGE,
        Path("web/templates/messages/reading_received/subject.txt"): SUBJECT,
        Path("domain/billing.py"): BILLING,
    }.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text, encoding="utf-8")
    catalogs.write_pot(tmp_path)
    for locale in ("en", "ru", "kk", "zh_Hans"):
        catalogs.add_locale(locale, tmp_path)
    for locale, strings in TRANSLATIONS.items():
        translate(tmp_path, locale, strings)
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(path: Path, text: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, start=1) if text in line)


def problems_at(problems: list[Problem], path: Path, line: int) -> list[str]:
    return [problem.message for problem in problems if (problem.path, problem.line) == (path, line)]


def test_clean_tree_passes(root: Path) -> None:
    assert catalogs.check(root) == []


def test_clean_tree_passes_after_strings_move(root: Path) -> None:
    edit(root / PAGE_PATH, "<h1>", "<!-- a new first line -->\n<h1>")

    assert catalogs.check(root) == []
    # The committed template keeps its (now old) locations for translators.
    assert f"#: {PAGE_PATH.as_posix()}:1\n" in (root / POT).read_text(encoding="utf-8")


def test_new_source_string_makes_pot_stale(root: Path) -> None:
    edit(root / PAGE_PATH, "<h1>", "<p>{% trans %}Pay now{% endtrans %}</p>\n<h1>")

    problems = catalogs.check(root)

    assert problems == [
        Problem(
            PAGE_PATH,
            1,
            '"Pay now" is missing from translations/messages.pot; run `portal i18n extract`',
        )
    ]


def test_removed_source_string_makes_pot_stale(root: Path) -> None:
    edit(root / PAGE_PATH, '<p>{{ _("Hello, %(name)s!")|format(name=user.name) }}</p>', "")

    problems = catalogs.check(root)

    line = line_of(root / POT, 'msgid "Hello, %(name)s!"')
    assert problems_at(problems, POT, line) == [
        '"Hello, %(name)s!" is no longer in the source; run `portal i18n extract`'
    ]


def test_untranslated_entry(root: Path) -> None:
    edit(root / KK, 'msgstr "Есептегіш көрсеткіштері"', 'msgstr ""')

    problems = catalogs.check(root)

    line = line_of(root / KK, 'msgid "Meter readings"')
    assert problems_at(problems, KK, line) == ['untranslated: "Meter readings"']


def test_untranslated_plural_form(root: Path) -> None:
    edit(root / RU, 'msgstr[2] "Вы передали %(count)s показаний."', 'msgstr[2] ""')

    problems = catalogs.check(root, use_msgfmt=False)

    line = line_of(root / RU, 'msgid "You submitted one reading."')
    assert problems_at(problems, RU, line) == [
        'untranslated: msgstr[2] of "You submitted one reading." is missing or empty'
    ]


def test_string_missing_from_locale(root: Path) -> None:
    edit(root / PAGE_PATH, "<h1>", "<p>{% trans %}Pay now{% endtrans %}</p>\n<h1>")
    catalogs.write_pot(root)  # extracted, but `update` not run yet

    problems = catalogs.check(root)

    assert Problem(ZH, 1, '"Pay now" is missing; run `portal i18n update`') in problems
    assert [problem.path for problem in problems] == [KK, RU, ZH]


@pytest.mark.parametrize("locale", ["zh_Hans", "ru", "kk"])
def test_shipped_locale_without_a_catalog(root: Path, locale: str) -> None:
    shutil.rmtree(root / "translations" / locale)

    problems = catalogs.check(root)

    assert locale in catalogs.SHIPPED_LOCALES
    assert problems == [
        Problem(
            catalogs.po_path(Path(), locale),
            1,
            f"missing: {locale} is a shipped language and has no catalog; "
            f"run `portal i18n add-locale {locale}`",
        )
    ]


def test_only_shipped_locales_are_required(root: Path) -> None:
    # English is the source language: its catalog is a convenience, not a promise.
    shutil.rmtree(root / "translations" / "en")

    assert catalogs.check(root) == []


def test_fuzzy_entry(root: Path) -> None:
    edit(root / ZH, 'msgid "Meter readings"', '#, fuzzy\nmsgid "Meter readings"')

    problems = catalogs.check(root)

    line = line_of(root / ZH, 'msgid "Meter readings"')
    assert problems_at(problems, ZH, line) == [
        'fuzzy: "Meter readings" needs review (then remove the fuzzy flag)'
    ]


def test_changed_source_string_comes_back_fuzzy_after_update(root: Path) -> None:
    edit(root / PAGE_PATH, "Meter readings", "Your meter readings")
    catalogs.write_pot(root)
    catalogs.update_locales(root)

    problems = catalogs.check(root)

    line = line_of(root / RU, 'msgid "Your meter readings"')
    assert problems_at(problems, RU, line) == [
        'fuzzy: "Your meter readings" needs review (then remove the fuzzy flag)'
    ]
    # English keeps empty strings and never gets fuzzy guesses.
    assert "fuzzy" not in (root / catalogs.po_path(root, "en")).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("source", "translation", "fault"),
    [
        (
            "Здравствуйте, %(name)s!",
            "Здравствуйте, %(imya)s!",
            "missing %(name)s; unexpected %(imya)s",
        ),
        ("Здравствуйте, %(name)s!", "Здравствуйте!", "missing %(name)s"),
        ("К оплате: {amount}", "К оплате: {summa}", "missing {amount}; unexpected {summa}"),
    ],
)
def test_placeholder_mismatch_in_singular(
    root: Path, source: str, translation: str, fault: str
) -> None:
    edit(root / RU, f'msgstr "{source}"', f'msgstr "{translation}"')

    problems = catalogs.check(root, use_msgfmt=False)

    msgid = "Hello, %(name)s!" if "name" in fault else "Amount due: {amount}"
    line = line_of(root / RU, f'msgid "{msgid}"')
    assert problems_at(problems, RU, line) == [
        f'placeholders in msgstr differ from the source "{msgid}": {fault}'
    ]


def test_placeholder_mismatch_in_plural_form(root: Path) -> None:
    # The first Russian form also serves 21, 31, ..., so it must keep the number.
    edit(
        root / RU,
        'msgstr[0] "Вы передали %(count)s показание."',
        'msgstr[0] "Вы передали одно показание."',
    )

    problems = catalogs.check(root, use_msgfmt=False)

    line = line_of(root / RU, 'msgid "You submitted one reading."')
    assert problems_at(problems, RU, line) == [
        'placeholders in msgstr[0] differ from the source "You submitted one reading.": '
        "missing %(count)s"
    ]


def test_wrong_plural_count_in_header(root: Path) -> None:
    edit(root / RU, '"Plural-Forms: nplurals=3;', '"Plural-Forms: nplurals=2;')
    edit(root / RU, 'msgstr[2] "Вы передали %(count)s показаний."\n', "")

    problems = catalogs.check(root, use_msgfmt=False)

    line = line_of(root / RU, '"Plural-Forms:')
    assert problems == [
        Problem(RU, line, "Plural-Forms says nplurals=2, but ru has 3 plural forms"),
    ]


def test_more_plural_forms_than_header_allows(root: Path) -> None:
    edit(
        root / KK,
        'msgstr[1] "Сіз %(count)s көрсеткіш жібердіңіз."',
        'msgstr[1] "Сіз %(count)s көрсеткіш жібердіңіз."\nmsgstr[2] "Сіз %(count)s көрсеткіш."',
    )

    problems = catalogs.check(root, use_msgfmt=False)

    line = line_of(root / KK, 'msgid "You submitted one reading."')
    assert problems == [
        Problem(KK, line, "more plural forms (msgstr[n]) than the header's nplurals")
    ]


def test_syntax_error_names_file_and_line(root: Path) -> None:
    edit(root / RU, 'msgstr "Показания счётчиков"', 'msgstr "Показания счётчиков"\nmsgtsr "x"')

    problems = catalogs.check(root, use_msgfmt=False)

    line = line_of(root / RU, "msgtsr")
    assert problems == [
        Problem(RU, line, "syntax error: Unknown or misformatted keyword"),
    ]


def test_cli_prints_path_line_and_fault_without_traceback(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(root / RU, 'msgstr "Показания счётчиков"', 'msgstr "Показания счётчиков"\nmsgtsr "x"')
    parser = argparse.ArgumentParser(prog="portal")
    catalogs.configure_cli(parser.add_subparsers(dest="command"))

    status = catalogs.run_cli(parser.parse_args(["i18n", "--root", str(root), "check"]))

    output = capsys.readouterr()
    line = line_of(root / RU, "msgtsr")
    assert status == 1
    assert f"{RU.as_posix()}:{line}: syntax error: Unknown or misformatted keyword" in output.out
    assert "Traceback" not in output.out + output.err


def test_cli_check_succeeds_on_clean_tree(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="portal")
    catalogs.configure_cli(parser.add_subparsers(dest="command"))

    status = catalogs.run_cli(parser.parse_args(["i18n", "--root", str(root), "check"]))

    assert status == 0
    assert capsys.readouterr().out == "catalogs are in order\n"


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="GNU gettext's msgfmt not installed")
def test_msgfmt_finds_what_babel_reads_past(root: Path) -> None:
    # Babel accepts a string whose closing quote is missing; msgfmt does not.
    edit(root / KK, 'msgstr "Көрсеткіш"', 'msgstr "Көрсеткіш')

    problems = catalogs.check(root)

    line = line_of(root / KK, 'msgid "Reading"') + 1
    # msgfmt counts the newline that ends the broken string, so it may name the next line.
    assert [
        problem.message
        for problem in problems
        if problem.path == KK and problem.line in (line, line + 1)
    ] == ["msgfmt: end-of-line within string"]


def test_broken_template_is_reported_not_raised(root: Path) -> None:
    edit(root / PAGE_PATH, "{% endtrans %}</h1>", "</h1>")

    problems = catalogs.check(root)

    # Jinja notices the missing endtrans where the next trans block opens, on line 4; the
    # strings of the broken file are not also reported as gone from the source.
    assert problems == [
        Problem(PAGE_PATH, 4, "template: trans blocks can't be nested; did you mean `endtrans`?")
    ]


@pytest.mark.parametrize(
    ("code", "header"),
    [
        ("ru", "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 :"),
        ("kk", "nplurals=2; plural=(n != 1);"),
        ("zh_Hans", "nplurals=1; plural=0;"),
        ("uz", "nplurals=2; plural=(n != 1);"),
    ],
)
def test_add_locale_writes_plural_header(tmp_path: Path, code: str, header: str) -> None:
    (tmp_path / PAGE_PATH).parent.mkdir(parents=True)
    (tmp_path / PAGE_PATH).write_text(PAGE, encoding="utf-8")
    catalogs.write_pot(tmp_path)

    path = catalogs.add_locale(code, tmp_path)

    text = path.read_text(encoding="utf-8")
    assert path == tmp_path / "translations" / code / "LC_MESSAGES" / "messages.po"
    assert f'"Plural-Forms: {header}' in text
    assert f'"Language: {code}\\n"' in text
    assert '#, fuzzy\nmsgid ""' not in text
    # The new catalog holds every string, waiting for its translation.
    relative = path.relative_to(tmp_path)
    assert {p.message for p in catalogs.check(tmp_path) if p.path == relative} == {
        'untranslated: "Meter readings"',
        'untranslated: "Hello, %(name)s!"',
        *(
            f'untranslated: msgstr[{n}] of "You submitted one reading." is missing or empty'
            for n in range(int(header.split("=")[1].split(";")[0]))
        ),
    }


def test_add_locale_refuses_unknown_or_existing_locale(root: Path) -> None:
    with pytest.raises(catalogs.CatalogError, match="not a locale Babel knows"):
        catalogs.add_locale("xx_NOPE", root)
    with pytest.raises(catalogs.CatalogError, match="already exists"):
        catalogs.add_locale("ru", root)


def test_compile_writes_mo_beside_each_po(root: Path) -> None:
    written = catalogs.compile_locales(root)

    assert sorted(path.relative_to(root) for path in written) == [
        path.with_suffix(".mo") for path in sorted([catalogs.po_path(Path(), "en"), KK, RU, ZH])
    ]
    with (root / RU.with_suffix(".mo")).open("rb") as fileobj:
        compiled = read_mo(fileobj)
    assert compiled.get("Meter readings").string == "Показания счётчиков"
