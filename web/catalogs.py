"""The translators' catalog commands: extract, update, compile, check and add a locale.

Everything that decides what gets extracted and how catalogs are judged lives here, so
`portal i18n ...`, CI and the tests all run the same code. The running portal reads the
.po files directly; compiled .mo files are only for deployment tools.
"""

from __future__ import annotations

import argparse
import io
import re
import shutil
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.messages.catalog import PYTHON_FORMAT, Catalog, Message
from babel.messages.extract import extract
from babel.messages.mofile import write_mo
from babel.messages.plurals import get_plural
from babel.messages.pofile import PoFileError, read_po, write_po
from jinja2 import TemplateSyntaxError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROJECT = "utility-portal"
DOMAIN = "messages"
# English is the language of the source strings; en.po exists so English can be
# listed like any other locale, and its msgstrs stay empty.
SOURCE_LOCALE = "en"
# The languages the portal promises; `check` fails when one of them has no catalog at all.
SHIPPED_LOCALES = ("kk", "ru", "zh_Hans")

# --- what is extracted, and how ----------------------------------------------

KEYWORDS: dict[str, Any] = {
    "_": None,
    "N_": None,
    "Nn_": (1, 2),
    "gettext": None,
    "lazy_gettext": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "npgettext": ((1, "c"), 2, 3),
}
# `{# Translators: ... #}` and `# Translators: ...` reach the translator as a note.
COMMENT_TAGS = ("Translators:",)
# Mirrors web/rendering.create_environment: with newstyle gettext a literal % in a trans
# block is looked up as %%, so extracting without it would yield msgids nobody asks for.
# `silent` off: a broken template is reported, not skipped.
JINJA_OPTIONS = {
    "extensions": "jinja2.ext.i18n,jinja2.ext.do",
    "trimmed": "true",
    "newstyle_gettext": "true",
    "trim_blocks": "true",
    "lstrip_blocks": "true",
    "silent": "false",
}


@dataclass(frozen=True)
class Source:
    directory: str
    patterns: tuple[str, ...]
    method: str
    options: Mapping[str, str]


SOURCES = (
    # Pages, partials, and email/SMS folders (messages/<name>/subject.txt, body.txt, body.html).
    Source("web/templates", ("**/*.html", "**/*.txt"), "jinja2.ext:babel_extract", JINJA_OPTIONS),
    Source("web", ("**/*.py",), "python", {}),
    Source("domain", ("**/*.py",), "python", {}),
    Source("tenants", ("**/*.py",), "python", {}),
)

# --- layout ------------------------------------------------------------------


def pot_path(root: Path) -> Path:
    return root / "translations" / f"{DOMAIN}.pot"


def po_path(root: Path, locale: str) -> Path:
    return root / "translations" / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def locales(root: Path | None = None) -> list[str]:
    """Every locale with a catalog under translations/; each one is served, so each is shipped."""
    base = (root or PROJECT_ROOT) / "translations"
    if not base.is_dir():
        return []
    root = base.parent
    return sorted(entry.name for entry in base.iterdir() if po_path(root, entry.name).is_file())


# --- results -----------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Problem:
    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path.as_posix()}:{self.line}: {self.message}"


class CatalogError(Exception):
    """A command could not do its job; `problems` says where, when a file is at fault."""

    def __init__(self, message: str, problems: Iterable[Problem] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


# --- extract -----------------------------------------------------------------

MessageKey = tuple[str | None, str, str | None]


def _key(message: Message) -> MessageKey:
    if isinstance(message.id, (list, tuple)):
        return (message.context, message.id[0], message.id[1])
    return (message.context, message.id, None)


def _describe(key: MessageKey) -> str:
    context, msgid, _plural = key
    text = msgid if len(msgid) <= 60 else msgid[:57] + "..."
    return f'"{text}"' + (f" (context {context!r})" if context else "")


def _extract(root: Path) -> tuple[Catalog, list[Problem]]:
    catalog = Catalog(project=PROJECT, domain=DOMAIN, charset="utf-8")
    problems: list[Problem] = []
    for source in SOURCES:
        base = root / source.directory
        files = sorted({path for pattern in source.patterns for path in base.glob(pattern)})
        for path in files:
            relative = path.relative_to(root).as_posix()
            try:
                with path.open("rb") as fileobj:
                    found = list(
                        extract(
                            source.method,
                            fileobj,
                            keywords=KEYWORDS,
                            comment_tags=COMMENT_TAGS,
                            options=source.options,
                            strip_comment_tags=True,
                        )
                    )
            except TemplateSyntaxError as error:
                problems.append(Problem(Path(relative), error.lineno, f"template: {error.message}"))
                continue
            for lineno, msgid, comments, context in found:
                catalog.add(
                    msgid, None, [(relative, lineno)], auto_comments=comments, context=context
                )
    return catalog, problems


def extract_catalog(root: Path | None = None) -> Catalog:
    """A fresh template catalog from the sources; raises CatalogError on a broken template."""
    catalog, problems = _extract(root or PROJECT_ROOT)
    if problems:
        raise CatalogError("cannot extract messages", problems)
    return catalog


def _render(catalog: Catalog, **options: bool) -> bytes:
    buffer = io.BytesIO()
    write_po(buffer, catalog, **options)
    return buffer.getvalue()


def write_pot(root: Path | None = None) -> bool:
    """Write translations/messages.pot; False when nothing but the date would have changed."""
    root = root or PROJECT_ROOT
    catalog = extract_catalog(root)
    path = pot_path(root)
    if path.exists():
        # Keep the old creation date when nothing else moved, so the file is not churned.
        previous = _read_or_raise(path, root)
        fresh_date = catalog.creation_date
        catalog.creation_date = previous.creation_date
        if _render(catalog) == path.read_bytes():
            return False
        catalog.creation_date = fresh_date
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_render(catalog))
    return True


# --- read ----------------------------------------------------------------------


def read_catalog(path: Path, root: Path) -> tuple[Catalog | None, list[Problem]]:
    """Parse a .po/.pot file; a fault in it comes back as a Problem, never as a traceback."""
    relative = _relative(path, root)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        return None, [Problem(relative, line, "not valid UTF-8")]
    current_line = 0

    def numbered(lines: list[str]) -> Iterator[str]:
        nonlocal current_line
        for line in lines:
            current_line += 1
            yield line

    try:
        catalog = read_po(numbered(text.splitlines()), abort_invalid=True)
    except PoFileError as error:
        return None, [Problem(relative, error.lineno + 1, _po_fault(str(error), error.lineno))]
    # A .po file is hand-edited input; whatever else the parser trips on is reported too.
    except Exception as error:
        return None, [Problem(relative, current_line, f"cannot be read: {error}")]
    return catalog, []


def _po_fault(text: str, lineno: int) -> str:
    fault = text.removesuffix(f" on {lineno}")
    if fault.startswith("msg has more translations"):
        return "more plural forms (msgstr[n]) than the header's nplurals"
    return f"syntax error: {fault}"


def _read_or_raise(path: Path, root: Path) -> Catalog:
    if not path.exists():
        raise CatalogError(f"{_relative(path, root)} does not exist; run `portal i18n extract`")
    catalog, problems = read_catalog(path, root)
    if catalog is None:
        raise CatalogError(f"cannot read {_relative(path, root)}", problems)
    return catalog


def _relative(path: Path, root: Path) -> Path:
    return path.relative_to(root) if path.is_relative_to(root) else path


# --- update, compile, add a locale -------------------------------------------


def update_locales(root: Path | None = None) -> list[Path]:
    """Bring every locale's .po in line with messages.pot; changed strings come back fuzzy."""
    root = root or PROJECT_ROOT
    template = _read_or_raise(pot_path(root), root)
    written = []
    for locale in locales(root):
        path = po_path(root, locale)
        catalog = _read_or_raise(path, root)
        _drop_stale_previous_ids(catalog)
        # Fuzzy guesses are for translators to review; English has nothing to guess.
        catalog.update(template, no_fuzzy_matching=locale == SOURCE_LOCALE)
        path.write_bytes(_render(catalog, ignore_obsolete=True, include_previous=True))
        written.append(path)
    return written


def _drop_stale_previous_ids(catalog: Catalog) -> None:
    """Babel reads a fuzzy entry's `#| msgid` lines back as ordinary comments ("| msgid …"),
    which would then stay on the entry as `# | msgid` for ever; the next update writes
    fresh ones where a guess is still fuzzy."""
    for message in catalog:
        message.user_comments = [c for c in message.user_comments if not c.startswith("|")]


def compile_locales(root: Path | None = None) -> list[Path]:
    """Write messages.mo beside each .po for deployment tools; fuzzy entries are left out."""
    root = root or PROJECT_ROOT
    written = []
    for locale in locales(root):
        path = po_path(root, locale)
        catalog = _read_or_raise(path, root)
        target = path.with_suffix(".mo")
        with target.open("wb") as fileobj:
            write_mo(fileobj, catalog, use_fuzzy=False)
        written.append(target)
    return written


def add_locale(code: str, root: Path | None = None) -> Path:
    """Create translations/<code>/LC_MESSAGES/messages.po from the .pot, plural header included."""
    root = root or PROJECT_ROOT
    try:
        name = str(Locale.parse(code.replace("-", "_")))
    except (ValueError, UnknownLocaleError) as error:
        raise CatalogError(f"{code!r} is not a locale Babel knows ({error})") from None
    path = po_path(root, name)
    if path.exists():
        raise CatalogError(f"{_relative(path, root)} already exists; use `portal i18n update`")
    template = _read_or_raise(pot_path(root), root)
    catalog = Catalog(locale=name, domain=DOMAIN, project=PROJECT, charset="utf-8", fuzzy=False)
    catalog.update(template, no_fuzzy_matching=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_render(catalog))
    return path


# --- check ---------------------------------------------------------------------


def check(root: Path | None = None, *, use_msgfmt: bool = True) -> list[Problem]:
    """Every reason the committed catalogs are not fit to ship, sorted by file and line."""
    root = root or PROJECT_ROOT
    fresh, problems = _extract(root)
    template: Catalog | None = None
    pot = pot_path(root)
    if not pot.exists():
        problems.append(Problem(_relative(pot, root), 1, "missing; run `portal i18n extract`"))
    else:
        template, read_problems = read_catalog(pot, root)
        problems += read_problems
        if template is not None:
            unreadable = {problem.path.as_posix() for problem in problems}
            problems += _stale_template(fresh, template, _relative(pot, root), unreadable)
    present = locales(root)
    for locale in SHIPPED_LOCALES:
        if locale not in present:
            path = _relative(po_path(root, locale), root)
            fault = f"missing: {locale} is a shipped language and has no catalog"
            problems.append(Problem(path, 1, f"{fault}; run `portal i18n add-locale {locale}`"))
    for locale in present:
        problems += _check_locale(root, locale, template)
    msgfmt = shutil.which("msgfmt") if use_msgfmt else None
    if msgfmt:
        for locale in present:
            problems += _run_msgfmt(msgfmt, root, po_path(root, locale))
    return sorted(set(problems))


def _stale_template(
    fresh: Catalog, committed: Catalog, pot: Path, unreadable: set[str]
) -> list[Problem]:
    # Only what is translated counts; dates and source locations may drift freely.
    fresh_messages = {_key(message): message for message in fresh if message.id}
    # A template that failed to extract is already reported; its strings are not "gone".
    committed_messages = {
        _key(message): message
        for message in committed
        if message.id and not {filename for filename, _ in message.locations} <= unreadable
    }
    problems = []
    for key in fresh_messages.keys() - committed_messages.keys():
        filename, lineno = fresh_messages[key].locations[0]
        problems.append(
            Problem(
                Path(filename),
                lineno or 1,
                f"{_describe(key)} is missing from {pot.as_posix()}; run `portal i18n extract`",
            )
        )
    for key in committed_messages.keys() - fresh_messages.keys():
        problems.append(
            Problem(
                pot,
                committed_messages[key].lineno or 1,
                f"{_describe(key)} is no longer in the source; run `portal i18n extract`",
            )
        )
    return problems


def _check_locale(root: Path, locale: str, template: Catalog | None) -> list[Problem]:
    path = po_path(root, locale)
    relative = _relative(path, root)
    catalog, problems = read_catalog(path, root)
    if catalog is None:
        return problems
    try:
        expected_plurals = get_plural(locale).num_plurals
    except (ValueError, UnknownLocaleError):
        return [Problem(relative, 1, f"{locale!r} is not a locale Babel knows")]
    if catalog.num_plurals != expected_plurals:
        problems.append(
            Problem(
                relative,
                _header_line(path, "Plural-Forms:"),
                f"Plural-Forms says nplurals={catalog.num_plurals}, "
                f"but {locale} has {expected_plurals} plural forms",
            )
        )
    complete = locale != SOURCE_LOCALE
    for message in catalog:
        if not message.id:
            continue
        line = message.lineno or 1
        if complete:
            problems += [Problem(relative, line, fault) for fault in _completeness(message)]
        problems += [Problem(relative, line, fault) for fault in _placeholder_faults(message)]
    if template is not None and complete:
        present = {_key(message) for message in catalog if message.id}
        for key in sorted({_key(m) for m in template if m.id} - present, key=str):
            problems.append(
                Problem(relative, 1, f"{_describe(key)} is missing; run `portal i18n update`")
            )
    return problems


def _completeness(message: Message) -> list[str]:
    faults = []
    key = _describe(_key(message))
    if message.fuzzy:
        faults.append(f"fuzzy: {key} needs review (then remove the fuzzy flag)")
    if isinstance(message.string, (list, tuple)):
        for index, form in enumerate(message.string):
            if not form:
                faults.append(f"untranslated: msgstr[{index}] of {key} is missing or empty")
    elif not message.string:
        faults.append(f"untranslated: {key}")
    return faults


_BRACE_FIELD = re.compile(r"\{([^{}]*)\}")
Placeholders = tuple[frozenset[str], tuple[str, ...]]


def _placeholders(text: str) -> Placeholders:
    """Named placeholders (order free) and positional ones (order fixed) in `text`."""
    named = set()
    positional = []
    for match in PYTHON_FORMAT.finditer(text):
        name, _flags, conversion = match.groups()
        if conversion == "%":
            continue
        if name is None:
            positional.append(match.group(0))
        else:
            named.add(match.group(0))
    for match in _BRACE_FIELD.finditer(text.replace("{{", "").replace("}}", "")):
        named.add(match.group(0))
    return frozenset(named), tuple(positional)


def _placeholder_faults(message: Message) -> list[str]:
    if isinstance(message.id, (list, tuple)):
        singular, plural = _placeholders(message.id[0]), _placeholders(message.id[1])
        # Any form may be used for any number (ru's first form also serves 21), so every
        # form carries every placeholder.
        expected: Placeholders = (singular[0] | plural[0], plural[1])
        forms = [(f"msgstr[{i}]", str(s)) for i, s in enumerate(message.string or ())]
    else:
        expected = _placeholders(message.id)
        forms = [("msgstr", str(message.string))]
    faults = []
    for label, text in forms:
        if not text:
            continue
        named, positional = _placeholders(text)
        details = []
        if missing := expected[0] - named:
            details.append("missing " + ", ".join(sorted(missing)))
        if unexpected := named - expected[0]:
            details.append("unexpected " + ", ".join(sorted(unexpected)))
        if positional != expected[1]:
            details.append(
                f"positional {' '.join(expected[1]) or 'none'} expected in that order, "
                f"found {' '.join(positional) or 'none'}"
            )
        if details:
            faults.append(
                f"placeholders in {label} differ from the source {_describe(_key(message))}: "
                + "; ".join(details)
            )
    return faults


def _header_line(path: Path, field: str) -> int:
    for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if line.startswith(f'"{field}'):
            return number
    return 1


_MSGFMT_LINE = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?:\d+:)?\s*(?P<fault>.*)$")


def _run_msgfmt(msgfmt: str, root: Path, path: Path) -> list[Problem]:
    relative = _relative(path, root)
    result = subprocess.run(
        [msgfmt, "--check", "--check-format", "-o", "/dev/null", relative.as_posix()],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode == 0:
        return []
    problems = []
    for output_line in result.stderr.splitlines():
        match = _MSGFMT_LINE.match(output_line)
        if match and Path(match["path"]) == relative:
            problems.append(Problem(relative, int(match["line"]), f"msgfmt: {match['fault']}"))
    if not problems:
        summary = result.stderr.strip().splitlines()[-1:] or [f"exit status {result.returncode}"]
        problems.append(Problem(relative, 1, f"msgfmt: {summary[0]}"))
    return problems


# --- command line ----------------------------------------------------------------


def configure_cli(subparsers: Any) -> argparse.ArgumentParser:
    """Add `i18n` and its actions to the portal's argparse sub-commands."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "i18n", help="translation catalogs", description="Translation catalog commands."
    )
    parser.add_argument(
        "--root", type=Path, default=None, help="project directory (default: this checkout)"
    )
    actions = parser.add_subparsers(dest="i18n_action", required=True, metavar="ACTION")
    actions.add_parser("extract", help="write translations/messages.pot from the sources")
    actions.add_parser("update", help="merge messages.pot into every locale's messages.po")
    actions.add_parser("compile", help="write messages.mo beside each messages.po")
    actions.add_parser("check", help="fail on a stale .pot or an incomplete or broken .po")
    add = actions.add_parser("add-locale", help="start a catalog for a new language")
    add.add_argument("code", help="locale code, e.g. uz or zh_Hant")
    return parser


def run_cli(args: argparse.Namespace) -> int:
    """Run the `i18n` action chosen on the command line; returns the exit status."""
    root: Path = (getattr(args, "root", None) or PROJECT_ROOT).resolve()
    try:
        if args.i18n_action == "extract":
            changed = write_pot(root)
            state = "written" if changed else "unchanged"
            print(f"{_relative(pot_path(root), root).as_posix()}: {state}")
        elif args.i18n_action == "update":
            for path in update_locales(root):
                print(f"{_relative(path, root).as_posix()}: updated")
        elif args.i18n_action == "compile":
            for path in compile_locales(root):
                print(f"{_relative(path, root).as_posix()}: compiled")
        elif args.i18n_action == "check":
            problems = check(root)
            for problem in problems:
                print(problem)
            print(f"{len(problems)} problem(s)" if problems else "catalogs are in order")
            return 1 if problems else 0
        elif args.i18n_action == "add-locale":
            path = add_locale(args.code, root)
            print(f"{_relative(path, root).as_posix()}: created; translate it, then commit it")
        else:
            raise CatalogError(f"unknown action {args.i18n_action!r}")
    except CatalogError as error:
        for problem in error.problems:
            print(problem)
        print(f"error: {error}")
        return 1
    return 0
