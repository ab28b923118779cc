"""The configuration editor under /admin/config.

Drafts edited page by page through forms generated from the schema (tenants.form_fields),
checks with the message next to the field, a preview of the whole site for the admin
alone, publish, roll back, and the differences between any two versions.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from babel.core import UnknownLocaleError
from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.config_editor import (
    NOTE_LENGTH,
    Checked,
    Problem,
    check_document,
    diff,
    find_version,
    fingerprint,
    is_draft,
    list_versions,
    publish,
    roll_back,
    save_draft,
    start_draft,
    taken_hosts,
    tenant_row,
)
from domain.fields import clean_text
from domain.models import TenantConfigVersion
from domain.staff import StaffUser
from tenants.form_fields import (
    REMOVE,
    Edit,
    Node,
    add_item,
    describe,
    read_section,
    section_of,
    sections,
    without_removed,
)
from tenants.schema import LOCALE_PATTERN, NAME_PATTERN, SLUG_PATTERN
from web.auth import client_address, safe_next, secure_cookies, tenant_id_of, tenant_of
from web.gateway import PREVIEW_COOKIE
from web.i18n import N_, Nn_, Translator, language_autonym, loaded_locales
from web.rendering import page
from web.routes.common import i18n, now, posted
from web.routes.config_labels import LABELS, SECTION_LABELS

# --- messages ------------------------------------------------------------------------

_PROBLEMS = {
    # The editor's own checks (domain.config_editor).
    "slug_changed": N_("The site's short name (“%(slug)s”) cannot be changed in the editor."),
    "undeclared_identifier": N_(
        "“%(name)s” is not a declared identifier. Declare it under Identifiers, or name "
        "one that is declared."
    ),
    "login_not_collected": N_(
        "The login is made from “%(name)s”, but no field of this kind of registrant asks for it."
    ),
    "no_sign_in_after_registration": N_(
        "Customers who register as “%(variant)s” could not sign in afterwards: none of its "
        "fields asks for an identifier used for signing in."
    ),
    "no_catalog": N_(
        "“%(locale)s” has no translation catalog, so the site cannot be shown in it. "
        "Take it out of the enabled languages."
    ),
    "default_not_enabled": N_("The default language “%(locale)s” must be one of the enabled ones."),
    "domain_taken": N_("“%(domain)s” is already used by another site."),
    "bad_pair": N_("Write each line as “text = replacement”; this one has no “=”: %(line)s"),
    # Pydantic's error types.
    "missing": N_("Fill this in."),
    "string_too_short": N_("Write at least %(min_length)s characters."),
    "string_too_long": N_("Write at most %(max_length)s characters."),
    "string_pattern_mismatch": N_("This is not in the expected form."),
    "int_parsing": N_("Enter a whole number."),
    "int_type": N_("Enter a whole number."),
    "int_from_float": N_("Enter a whole number."),
    "decimal_parsing": N_("Enter a number, for example 2.5."),
    "decimal_type": N_("Enter a number, for example 2.5."),
    "greater_than_equal": N_("Enter %(ge)s or more."),
    "greater_than": N_("Enter a number greater than %(gt)s."),
    "less_than_equal": N_("Enter %(le)s or less."),
    "less_than": N_("Enter a number less than %(lt)s."),
    "literal_error": N_("Choose one of the options offered."),
    "date_parsing": N_("Enter a date as YYYY-MM-DD, for example 2026-12-31."),
    "date_from_datetime_parsing": N_("Enter a date as YYYY-MM-DD, for example 2026-12-31."),
    "union_tag_invalid": N_("Choose one of the kinds offered."),
    "extra_forbidden": N_("This setting is not part of the configuration."),
}
_FILL_IN = N_("Fill this in.")
_TOO_FEW = Nn_("Give at least %(num)d entry.", "Give at least %(num)d entries.")
# Anything else, with pydantic's (English) reason, e.g. a rule the schema checks itself.
_OTHER = N_("This value is not accepted: %(reason)s")
# The forms the schema's patterns ask for; any other pattern gets the general message.
_PATTERNS = {
    NAME_PATTERN: N_("Use lower-case Latin letters, digits and “_”, starting with a letter."),
    LOCALE_PATTERN: N_("Give a language code such as ru, en or zh_Hans."),
    SLUG_PATTERN: N_("Use lower-case Latin letters, digits and hyphens."),
    r"^#[0-9a-fA-F]{6}$": N_("Give a colour as # and six hexadecimal digits, e.g. #1f5f8b."),
    r"^[A-Z]{2}$": N_("Give a two-letter code in capitals, for example RU."),
    r"^[0-9]*$": N_("Use digits only."),
    r"^[a-z]+$": N_("Use lower-case Latin letters only."),
    r"^\d{2}:\d{2}$": N_("Give a time as HH:MM, for example 09:30."),
    r"^\d{1,2}:\d{2}[–-]\d{1,2}:\d{2}$": N_("Give hours as from–to, for example 8:30–18:30."),
}
_STILL_USED = N_("“%(name)s” is still used in: %(sections)s. Stop using it there first.")
_OUTCOMES = {
    "not_draft": N_(
        "This version is no longer a draft: it has been published. Nothing was changed; "
        "start a new draft from it to make changes."
    ),
    "is_draft": N_("This draft has never been live: publish it instead."),
    "already_live": N_("This version is already the live one. Nothing was changed."),
    "conflict": N_(
        "This draft was changed by someone else while you had it open. Nothing was saved. "
        "Check the values below: saving again replaces their changes on this page."
    ),
    "conflict_live": N_(
        "This draft was changed by someone else while you had it open. Nothing was "
        "published: review it and publish again."
    ),
    "invalid": N_("This version has problems, listed below. Nothing was changed."),
    "no_preview": N_("This version cannot be previewed: it is live already, or it has problems."),
}
_DONE = {
    "publish": N_("Version %(number)s is live. Every part of the site shows it within seconds."),
    "rollback": N_(
        "Version %(number)s is live again. Every part of the site shows it within seconds."
    ),
}


def require_staff(request: Request[Any, Any, Any]) -> StaffUser:
    # Imported here: web.routes.admin imports this module to mount its handlers.
    from web.routes.admin import require_staff as staff_of_this_tenant

    return staff_of_this_tenant(request)


def problem_message(translate: Translator, problem: Problem) -> str:
    params = dict(problem.params)
    if problem.code == "too_short":
        count = int(params.get("min_length", "1") or 1)
        return translate.ngettext(*_TOO_FEW, count) % {"num": count}
    template = _PROBLEMS.get(problem.code, _OTHER)
    if problem.code == "string_pattern_mismatch":
        template = _PATTERNS.get(params.get("pattern", ""), template)
    elif problem.code == "string_too_short" and params.get("min_length") == "1":
        template = _FILL_IN
    try:
        return translate.gettext(template) % params
    except (KeyError, ValueError, TypeError):
        return translate.gettext(_OTHER) % {"reason": params.get("reason", problem.code)}


def label(translate: Translator, node: Node) -> str:
    text = LABELS.get(f"{node.owner}.{node.name}") or LABELS.get(node.name)
    return translate.gettext(text) if text else node.name.replace("_", " ").capitalize()


def section_label(translate: Translator, section: str) -> str:
    text = SECTION_LABELS.get(section) or LABELS.get(section)
    return translate.gettext(text) if text else section.replace("_", " ").capitalize()


def show(value: Any) -> str:
    """A value in a diff: lists on one line, absent as a dash."""
    if value is None:
        return "—"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- shared steps ---------------------------------------------------------------------


async def _version(
    session: AsyncSession, request: Request[Any, Any, Any], version_id: int
) -> TenantConfigVersion:
    version = await find_version(session, tenant_id_of(request), version_id)
    if version is None:
        raise NotFoundException()
    return version


async def _check(
    session: AsyncSession, request: Request[Any, Any, Any], document: dict[str, Any]
) -> Checked:
    portal = request.app.state.portal
    taken = await taken_hosts(session, tenant_id_of(request), portal.settings.base_domain)
    return check_document(
        document, slug=tenant_of(request).slug, catalogs=set(loaded_locales()), taken=taken
    )


async def _form_values(request: Request[Any, Any, Any]) -> dict[str, list[str]]:
    """Every posted value, repeated names kept (a group of checkboxes posts several)."""
    values: dict[str, list[str]] = {}
    for key, value in (await request.form()).multi_items():
        if isinstance(value, str) and len(values) < 5000:
            values.setdefault(str(key)[:300], []).append(value[:10000])
    return values


def _sections(translate: Translator) -> list[tuple[str, str]]:
    return [(key, section_label(translate, key)) for key in sections()]


def _elsewhere(translate: Translator, problems: Iterable[Problem]) -> list[dict[str, str]]:
    return [
        {
            "section": section_of(problem.path),
            "section_label": section_label(translate, section_of(problem.path)),
            "path": problem.path,
            "message": problem_message(translate, problem),
        }
        for problem in problems
    ]


# --- the list of versions -----------------------------------------------------------


@get("/config")
async def config_versions(request: Request[Any, Any, Any]) -> Template:
    require_staff(request)
    translate = i18n(request)
    async with request.app.state.portal.database.session() as session:
        versions = await list_versions(session, tenant_id_of(request))
    done = request.query_params.get("done", "")
    number = request.query_params.get("version", "")
    message = ""
    if done in _DONE and number.isdigit():
        message = translate.gettext(_DONE[done]) % {"number": number}
    return page(
        request,
        "admin/config/index.html",
        versions=versions,
        live=next((v for v in versions if v.live), None),
        message=message,
        note_length=NOTE_LENGTH,
    )


@post("/config/drafts")
async def new_draft(request: Request[Any, Any, Any]) -> Redirect:
    staff = require_staff(request)
    form = await posted(request)
    origin_id = form.get("from", "")
    if not origin_id.isdigit():
        raise NotFoundException()
    async with request.app.state.portal.database.session() as session:
        origin = await _version(session, request, int(origin_id))
        draft = await start_draft(
            session,
            tenant_id=tenant_id_of(request),
            origin=origin,
            staff=staff,
            note=clean_text(form.get("note", ""))[:NOTE_LENGTH],
            address=client_address(request),
        )
    return Redirect(f"/admin/config/versions/{draft.id}", status_code=303)


# --- one version: its sections, its problems, and what can be done with it -------------


async def _version_page(
    request: Request[Any, Any, Any], version_id: int, *, outcome: str = "", status: int = 200
) -> Template:
    translate = i18n(request)
    async with request.app.state.portal.database.session() as session:
        version = await _version(session, request, version_id)
        tenant = await tenant_row(session, tenant_id_of(request))
        checked = await _check(session, request, version.config)
        author = await session.get(StaffUser, version.author_id) if version.author_id else None
    return page(
        request,
        "admin/config/version.html",
        author=author.login if author else "",
        status_code=status,
        version=version,
        draft=is_draft(version, tenant),
        live=tenant.published_version == version.version,
        problems=_elsewhere(translate, checked.problems),
        sections=_sections(translate),
        fingerprint=fingerprint(version.config),
        previewing=request.scope["state"].get("config_preview") == version.version,
        error=translate.gettext(_OUTCOMES[outcome]) if outcome else "",
        note_length=NOTE_LENGTH,
    )


@get("/config/versions/{version_id:int}")
async def config_version(request: Request[Any, Any, Any], version_id: FromPath[int]) -> Template:
    require_staff(request)
    return await _version_page(request, version_id)


async def _go_live(
    request: Request[Any, Any, Any], version_id: int, action: str
) -> Template | Redirect:
    staff = require_staff(request)
    seen = (await posted(request)).get("fingerprint", "")
    portal = request.app.state.portal
    async with portal.database.session() as session:
        version = await _version(session, request, version_id)
        if (await _check(session, request, version.config)).problems:
            outcome: str = "invalid"
        else:
            change = publish if action == "publish" else roll_back
            outcome = await change(
                session,
                tenant_id=tenant_id_of(request),
                version_id=version_id,
                seen=seen,
                staff=staff,
                now=now(request),
                address=client_address(request),
            )
    if outcome == "not_found":
        raise NotFoundException()
    if outcome != "done":
        if outcome == "conflict":
            outcome = "conflict_live"
        return await _version_page(
            request, version_id, outcome=outcome, status=400 if outcome == "invalid" else 409
        )
    await portal.reload_tenants()
    response = Redirect(f"/admin/config?done={action}&version={version.version}", status_code=303)
    response.delete_cookie(PREVIEW_COOKIE, path="/")
    return response


@post("/config/versions/{version_id:int}/publish")
async def publish_version(
    request: Request[Any, Any, Any], version_id: FromPath[int]
) -> Template | Redirect:
    return await _go_live(request, version_id, "publish")


@post("/config/versions/{version_id:int}/rollback")
async def roll_back_version(
    request: Request[Any, Any, Any], version_id: FromPath[int]
) -> Template | Redirect:
    return await _go_live(request, version_id, "rollback")


@post("/config/versions/{version_id:int}/preview")
async def start_preview(
    request: Request[Any, Any, Any], version_id: FromPath[int]
) -> Template | Redirect:
    require_staff(request)
    portal = request.app.state.portal
    async with portal.database.session() as session:
        version = await _version(session, request, version_id)
    if await portal.preview_config(tenant_of(request).slug, version.version) is None:
        return await _version_page(request, version_id, outcome="no_preview", status=400)
    response = Redirect("/", status_code=303)
    # Host-only and for this browser session; honoured only for staff of this tenant.
    response.set_cookie(
        PREVIEW_COOKIE,
        str(version.version),
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
    )
    return response


@post("/config/preview/stop")
async def stop_preview(request: Request[Any, Any, Any]) -> Redirect:
    target = safe_next((await posted(request)).get("next"), "/admin/config")
    response = Redirect(target, status_code=303)
    response.delete_cookie(PREVIEW_COOKIE, path="/")
    return response


# --- one section of one version: the generated form --------------------------------------


def _section_page(
    request: Request[Any, Any, Any],
    version: TenantConfigVersion,
    section: str,
    *,
    editable: bool,
    edit: Edit | None = None,
    seen: str = "",
    problems: list[tuple[str, Problem]] | None = None,
    removed_names: dict[str, str] | None = None,
    outcome: str = "",
    status: int = 200,
) -> Template:
    """The page of one section; `problems` are (path on the page, problem)."""
    translate = i18n(request)
    problems = problems or []
    document = edit.document if edit is not None else version.config
    nodes = describe(document, section, edit.removed if edit else ())
    paths = _node_paths(nodes)
    errors: dict[str, list[str]] = {}
    top: list[str] = []
    elsewhere: list[Problem] = []
    for path, problem in problems:
        if problem.path and section_of(problem.path) != section:
            elsewhere.append(problem)
            continue
        target = _nearest(path, paths)
        (errors.setdefault(target, []) if target else top).append(
            problem_message(translate, problem)
        )
    for removed_path, name in (removed_names or {}).items():
        used = sorted(
            {
                section_label(translate, section_of(p.path))
                for _, p in problems
                if p.code == "undeclared_identifier" and p.params.get("name") == name
            }
        )
        if used:
            errors.setdefault(f"{removed_path}.{REMOVE}", []).append(
                translate.gettext(_STILL_USED) % {"name": name, "sections": ", ".join(used)}
            )
    query = request.query_params
    return page(
        request,
        "admin/config/section.html",
        status_code=status,
        version=version,
        section=section,
        section_title=section_label(translate, section),
        sections=_sections(translate),
        nodes=nodes,
        errors=errors,
        top_errors=top,
        elsewhere=_elsewhere(translate, elsewhere),
        editable=editable,
        fingerprint=seen or fingerprint(version.config),
        saved="saved" in query,
        unchanged="unchanged" in query,
        error=translate.gettext(_OUTCOMES[outcome]) if outcome else "",
        failed=bool(problems),
        label=lambda node: label(translate, node),
        language=language_autonym_or_code,
        readonly_paths={"slug"},
    )


def language_autonym_or_code(code: str) -> str:
    try:
        return f"{language_autonym(code)} ({code})"
    except (ValueError, UnknownLocaleError):  # a code Babel does not know is shown as is
        return code


def _node_paths(nodes: Iterable[Node]) -> set[str]:
    paths: set[str] = set()
    for node in nodes:
        paths.add(node.path)
        paths.update(_node_paths(node.children))
    return paths


def _nearest(path: str, paths: set[str]) -> str:
    """The closest field on the page to a problem's path ("readings.window_days.2" →
    "readings.window_days"); "" when only the page as a whole fits."""
    parts = path.split(".") if path else []
    while parts:
        candidate = ".".join(parts)
        if candidate in paths:
            return candidate
        parts.pop()
    return ""


def _section_or_404(section: str) -> str:
    if section not in sections():
        raise NotFoundException()
    return section


@get("/config/versions/{version_id:int}/sections/{section:str}")
async def config_section(
    request: Request[Any, Any, Any], version_id: FromPath[int], section: FromPath[str]
) -> Template:
    require_staff(request)
    _section_or_404(section)
    async with request.app.state.portal.database.session() as session:
        version = await _version(session, request, version_id)
        tenant = await tenant_row(session, tenant_id_of(request))
    return _section_page(request, version, section, editable=is_draft(version, tenant))


@post("/config/versions/{version_id:int}/sections/{section:str}")
async def save_section(
    request: Request[Any, Any, Any], version_id: FromPath[int], section: FromPath[str]
) -> Template | Redirect:
    staff = require_staff(request)
    _section_or_404(section)
    form = await _form_values(request)
    seen = (form.get("_fingerprint") or [""])[0]
    async with request.app.state.portal.database.session() as session:
        version = await _version(session, request, version_id)
        if not is_draft(version, await tenant_row(session, tenant_id_of(request))):
            return _section_page(
                request, version, section, editable=False, outcome="not_draft", status=409
            )
        edit = read_section(form, version.config, section)
        if "_add" in form or "_refresh" in form:
            # Add an item, or show the fields of a newly chosen kind: nothing is saved yet.
            add_item(edit.document, (form.get("_add") or [""])[0])
            return _section_page(request, version, section, editable=True, edit=edit, seen=seen)
        document, page_path = without_removed(edit)
        checked = await _check(session, request, document)
        problems = [(path, Problem(path, code, params)) for path, code, params in edit.problems]
        problems += [(page_path(p.path), p) for p in checked.problems]
        if problems or checked.config is None:
            removed_names = {
                path: str(_item_name(edit.document, path)) for path in sorted(edit.removed)
            }
            return _section_page(
                request,
                version,
                section,
                editable=True,
                edit=edit,
                seen=seen,
                problems=problems,
                removed_names=removed_names,
                status=400,
            )
        saved = await save_draft(
            session,
            tenant_id=tenant_id_of(request),
            version_id=version_id,
            document=checked.config.model_dump(mode="json"),
            seen=seen,
            staff=staff,
            address=client_address(request),
        )
        if saved.outcome in ("conflict", "not_draft"):
            await session.refresh(version)
            return _section_page(
                request,
                version,
                section,
                editable=saved.outcome == "conflict",
                edit=edit if saved.outcome == "conflict" else None,
                outcome=saved.outcome,
                status=409,
            )
    if saved.outcome == "not_found":
        raise NotFoundException()
    return Redirect(
        f"/admin/config/versions/{version_id}/sections/{section}?{saved.outcome}=1",
        status_code=303,
    )


def _item_name(document: dict[str, Any], path: str) -> str:
    value: Any = document
    for part in path.split("."):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict):
            value = value.get(part)
    return str(value.get("name") or value.get("key") or "") if isinstance(value, dict) else ""


# --- differences between two versions ------------------------------------------------------


@get("/config/diff")
async def config_diff(request: Request[Any, Any, Any]) -> Template:
    require_staff(request)
    async with request.app.state.portal.database.session() as session:
        versions = await list_versions(session, tenant_id_of(request))
        live = next((v for v in versions if v.live), versions[-1])
        chosen = []
        for name, default in (("from", live.id), ("to", versions[0].id)):
            raw = request.query_params.get(name, "")
            chosen.append(await _version(session, request, int(raw) if raw.isdigit() else default))
    before, after = chosen
    changes = [
        {"path": c.path, "before": show(c.before), "after": show(c.after)}
        for c in diff(before.config, after.config)
    ]
    return page(
        request,
        "admin/config/diff.html",
        versions=versions,
        before=before,
        after=after,
        changes=changes,
    )


handlers: list[Any] = [
    config_versions,
    new_draft,
    config_version,
    publish_version,
    roll_back_version,
    start_preview,
    stop_preview,
    config_section,
    save_section,
    config_diff,
]
