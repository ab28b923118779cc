"""The configuration editor's rules: drafts, the checks that keep sign-in working, going
live (publish and roll back), and what changed between two versions.

A draft is a version saved by the editor that has never been live; only drafts change
in place. Every change is recorded in the audit log in the same transaction.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy import and_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.audit import record_action
from domain.models import Tenant, TenantConfigVersion
from domain.ownership import is_row_id
from domain.staff import StaffUser
from domain.tenancy import make_live, save_version
from tenants.form_fields import error_path
from tenants.schema import TenantConfig

EDITOR_SOURCE = "editor"
NOTE_LENGTH = 200
TARGET = "tenant_config_version"


@dataclass(frozen=True)
class Problem:
    """Why a document cannot be saved or published, at the dotted path of the field.

    `code` is one of the editor's own checks below, or a pydantic error type; the web
    layer words it (for pydantic errors `params["reason"]` holds pydantic's own text).
    """

    path: str
    code: str
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class VersionRow:
    id: int
    version: int
    created_at: datetime
    author: str  # the login of who saved it, "" for presets
    note: str
    source: str
    published_at: datetime | None
    live: bool
    draft: bool


@dataclass(frozen=True)
class Change:
    """One field that differs; None on a side means the field is absent (or empty) there."""

    path: str
    before: Any
    after: Any


# --- reading versions ---------------------------------------------------------------


def is_draft(version: TenantConfigVersion, tenant: Tenant) -> bool:
    return (
        version.source == EDITOR_SOURCE
        and version.published_at is None
        and tenant.published_version != version.version
    )


async def tenant_row(session: AsyncSession, tenant_id: int) -> Tenant:
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise LookupError(tenant_id)
    return tenant


async def list_versions(session: AsyncSession, tenant_id: int) -> list[VersionRow]:
    """Every version of the tenant, newest first, with who saved it."""
    tenant = await tenant_row(session, tenant_id)
    statement = (
        select(TenantConfigVersion, StaffUser.login)
        .outerjoin(StaffUser, col(StaffUser.id) == col(TenantConfigVersion.author_id))
        .where(TenantConfigVersion.tenant_id == tenant_id)
        .order_by(col(TenantConfigVersion.version).desc())
    )
    return [
        VersionRow(
            id=version.id or 0,
            version=version.version,
            created_at=version.created_at,
            author=login or "",
            note=version.note,
            source=version.source,
            published_at=version.published_at,
            live=tenant.published_version == version.version,
            draft=is_draft(version, tenant),
        )
        for version, login in (await session.exec(statement)).all()
    ]


async def find_version(
    session: AsyncSession, tenant_id: int, version_id: int
) -> TenantConfigVersion | None:
    """A version by its id, only if it is this tenant's (another tenant's is "not found")."""
    if not is_row_id(version_id):
        return None
    statement = select(TenantConfigVersion).where(
        TenantConfigVersion.id == version_id, TenantConfigVersion.tenant_id == tenant_id
    )
    return (await session.exec(statement)).first()


async def version_document(
    session: AsyncSession, tenant_id: int, number: int
) -> dict[str, Any] | None:
    """The document of the tenant's version with this number, for previewing it."""
    statement = select(TenantConfigVersion.config).where(
        TenantConfigVersion.tenant_id == tenant_id, TenantConfigVersion.version == number
    )
    document = (await session.exec(statement)).first()
    return dict(document) if isinstance(document, dict) else None


def fingerprint(document: Mapping[str, Any]) -> str:
    """Changes whenever the document does: a form carries it to notice edits made meanwhile."""
    text = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


async def taken_hosts(session: AsyncSession, tenant_id: int, base_domain: str) -> set[str]:
    """The host names other tenants serve now: their own `<slug>.<base>` and their domains."""
    statement = (
        select(Tenant.slug, TenantConfigVersion.config)
        .join(
            TenantConfigVersion,
            and_(
                col(TenantConfigVersion.tenant_id) == col(Tenant.id),
                col(TenantConfigVersion.version) == col(Tenant.published_version),
            ),
        )
        .where(Tenant.id != tenant_id)
    )
    hosts: set[str] = set()
    for slug, document in (await session.exec(statement)).all():
        hosts.add(f"{slug}.{base_domain}".lower())
        domains = document.get("domains") if isinstance(document, dict) else None
        hosts.update(str(domain).lower() for domain in domains or [])
    return hosts


# --- checking a document ---------------------------------------------------------------


@dataclass(frozen=True)
class Checked:
    config: TenantConfig | None  # None when there is any problem
    problems: list[Problem]


def check_document(
    document: Mapping[str, Any], *, slug: str, catalogs: set[str], taken: set[str]
) -> Checked:
    """The schema's checks, and the editor's: those that would break sign-in or another
    tenant's site, each at the path of the field to fix."""
    config, schema = _schema_problems(document)
    own = [
        *_slug_problems(document, slug),
        *_reference_problems(document),
        *_registration_problems(document),
        *_locale_problems(document, catalogs),
        *_host_problems(document, taken),
    ]
    # The schema reports some of the same rules once, for the whole document or section,
    # in English; the editor's precise message replaces it.
    schema = [p for p in schema if not (p.code == "value_error" and _covers(p.path, own))]
    problems = schema + own
    return Checked(config if not problems else None, problems)


def _covers(path: str, problems: list[Problem]) -> bool:
    return any(not path or p.path == path or p.path.startswith(path + ".") for p in problems)


def _schema_problems(document: Mapping[str, Any]) -> tuple[TenantConfig | None, list[Problem]]:
    try:
        return TenantConfig.model_validate(document), []
    except ValidationError as error:
        problems = []
        for detail in error.errors(include_url=False):
            params = {key: str(value) for key, value in (detail.get("ctx") or {}).items()}
            params["reason"] = detail["msg"].removeprefix("Value error, ")
            problems.append(Problem(error_path(detail["loc"]), detail["type"], params))
        return None, problems


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _slug_problems(document: Mapping[str, Any], slug: str) -> list[Problem]:
    if document.get("slug") != slug:
        return [Problem("slug", "slug_changed", {"slug": slug})]
    return []


def _identifier_references(document: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(path, name) of every place that names a declared identifier."""
    yield "account_identifier", document.get("account_identifier")
    for name in _list(_dict(document.get("sign_in")).get("identifiers")):
        yield "sign_in.identifiers", name
    for index, identifier in enumerate(_list(document.get("identifiers"))):
        spec = _dict(_dict(identifier).get("spec"))
        if spec.get("kind") == "prefixed":
            yield f"identifiers.{index}.spec.of", spec.get("of")
    registration = _dict(document.get("registration"))
    yield "registration.account_lookup_phone", registration.get("account_lookup_phone")
    for v, variant in enumerate(_list(registration.get("variants"))):
        for key in ("login_identifier", "login_from"):
            yield f"registration.variants.{v}.{key}", _dict(variant).get(key)
        for s, step in enumerate(_list(_dict(variant).get("steps"))):
            for f, form_field in enumerate(_list(_dict(step).get("fields"))):
                path = f"registration.variants.{v}.steps.{s}.fields.{f}.identifier"
                yield path, _dict(form_field).get("identifier")
    for r, recovery in enumerate(_list(document.get("recovery"))):
        for name in _list(_dict(recovery).get("start_identifiers")):
            yield f"recovery.{r}.start_identifiers", name
        for f, form_field in enumerate(_list(_dict(recovery).get("confirm_fields"))):
            yield f"recovery.{r}.confirm_fields.{f}.identifier", _dict(form_field).get("identifier")


def declared_identifiers(document: Mapping[str, Any]) -> set[str]:
    return {
        str(_dict(identifier).get("name"))
        for identifier in _list(document.get("identifiers"))
        if _dict(identifier).get("name")
    }


def _reference_problems(document: Mapping[str, Any]) -> list[Problem]:
    declared = declared_identifiers(document)
    return [
        Problem(path, "undeclared_identifier", {"name": str(name)})
        for path, name in _identifier_references(document)
        if isinstance(name, str) and name and name not in declared
    ]


def _registration_problems(document: Mapping[str, Any]) -> list[Problem]:
    """Each way to register leaves the customer an identifier to sign in with."""
    sign_in = {str(n) for n in _list(_dict(document.get("sign_in")).get("identifiers"))}
    problems = []
    for index, raw in enumerate(_list(_dict(document.get("registration")).get("variants"))):
        variant = _dict(raw)
        collected = {
            _dict(f).get("identifier")
            for step in _list(variant.get("steps"))
            for f in _list(_dict(step).get("fields"))
        } - {None}
        path = f"registration.variants.{index}"
        login_from = variant.get("login_from")
        if variant.get("login_identifier") and login_from and login_from not in collected:
            problems.append(
                Problem(f"{path}.login_from", "login_not_collected", {"name": login_from})
            )
        derived = variant.get("login_identifier") in sign_in and login_from in collected
        if not (collected & sign_in or derived):
            problems.append(
                Problem(path, "no_sign_in_after_registration", {"variant": str(variant.get("key"))})
            )
    return problems


def _locale_problems(document: Mapping[str, Any], catalogs: set[str]) -> list[Problem]:
    locales = _dict(document.get("locales"))
    enabled = [code for code in _list(locales.get("enabled")) if isinstance(code, str)]
    problems = [
        Problem("locales.enabled", "no_catalog", {"locale": code})
        for code in enabled
        if code not in catalogs
    ]
    default = locales.get("default")
    if isinstance(default, str) and default and enabled and default not in enabled:
        problems.append(Problem("locales.default", "default_not_enabled", {"locale": default}))
    return problems


def _host_problems(document: Mapping[str, Any], taken: set[str]) -> list[Problem]:
    return [
        Problem("domains", "domain_taken", {"domain": str(domain)})
        for domain in _list(document.get("domains"))
        if str(domain).lower() in taken
    ]


# --- changing versions -----------------------------------------------------------------


def _audit(
    session: AsyncSession,
    *,
    tenant_id: int,
    staff: StaffUser,
    action: str,
    version: int,
    before: dict[str, Any],
    after: dict[str, Any],
    address: str,
) -> None:
    record_action(
        session,
        tenant_id=tenant_id,
        staff_id=staff.id,
        actor=staff.login,
        action=action,
        target_type=TARGET,
        target_id=version,
        before=before,
        after=after,
        address=address,
    )


async def start_draft(
    session: AsyncSession,
    *,
    tenant_id: int,
    origin: TenantConfigVersion,
    staff: StaffUser,
    note: str,
    address: str,
) -> TenantConfigVersion:
    """A new draft holding a copy of `origin` (the live version or any earlier one)."""
    tenant = await tenant_row(session, tenant_id)
    draft = await save_version(
        session,
        tenant,
        copy.deepcopy(dict(origin.config)),
        source=EDITOR_SOURCE,
        author_id=staff.id,
        note=note[:NOTE_LENGTH],
    )
    _audit(
        session,
        tenant_id=tenant_id,
        staff=staff,
        action="config.draft",
        version=draft.version,
        before={"from_version": origin.version},
        after={"version": draft.version, "note": draft.note},
        address=address,
    )
    await session.commit()
    await session.refresh(draft)
    return draft


SaveOutcome = Literal["saved", "unchanged", "not_found", "not_draft", "conflict"]


@dataclass(frozen=True)
class Saved:
    outcome: SaveOutcome
    changes: list[Change] = field(default_factory=list)


async def save_draft(
    session: AsyncSession,
    *,
    tenant_id: int,
    version_id: int,
    document: dict[str, Any],
    seen: str,
    staff: StaffUser,
    address: str,
) -> Saved:
    """Replace a draft's document with a checked one, unless it changed since `seen`."""
    version = await _locked_version(session, tenant_id, version_id)
    if version is None:
        return Saved("not_found")
    if not is_draft(version, await tenant_row(session, tenant_id)):
        return Saved("not_draft")
    if fingerprint(version.config) != seen:
        return Saved("conflict")
    changes = diff(version.config, document)
    if not changes:
        return Saved("unchanged")
    version.config = document
    session.add(version)
    _audit(
        session,
        tenant_id=tenant_id,
        staff=staff,
        action="config.save",
        version=version.version,
        before={change.path: change.before for change in changes},
        after={change.path: change.after for change in changes},
        address=address,
    )
    await session.commit()
    return Saved("saved", changes)


async def _locked_version(
    session: AsyncSession, tenant_id: int, version_id: int
) -> TenantConfigVersion | None:
    if not is_row_id(version_id):
        return None
    statement = (
        select(TenantConfigVersion)
        .where(TenantConfigVersion.id == version_id, TenantConfigVersion.tenant_id == tenant_id)
        .with_for_update()
    )
    return (await session.exec(statement)).first()


LiveOutcome = Literal["done", "not_found", "already_live", "not_draft", "is_draft", "conflict"]


async def publish(
    session: AsyncSession,
    *,
    tenant_id: int,
    version_id: int,
    seen: str,
    staff: StaffUser,
    now: datetime,
    address: str,
) -> LiveOutcome:
    """Make a checked draft the live configuration."""
    return await _go_live(session, tenant_id, version_id, seen, staff, now, address, "publish")


async def roll_back(
    session: AsyncSession,
    *,
    tenant_id: int,
    version_id: int,
    seen: str,
    staff: StaffUser,
    now: datetime,
    address: str,
) -> LiveOutcome:
    """Serve an earlier, checked version again (a preset, or one published before)."""
    return await _go_live(session, tenant_id, version_id, seen, staff, now, address, "rollback")


async def _go_live(
    session: AsyncSession,
    tenant_id: int,
    version_id: int,
    seen: str,
    staff: StaffUser,
    now: datetime,
    address: str,
    action: Literal["publish", "rollback"],
) -> LiveOutcome:
    tenant_query = select(Tenant).where(Tenant.id == tenant_id).with_for_update()
    tenant = (await session.exec(tenant_query)).one()
    version = await _locked_version(session, tenant_id, version_id)
    if version is None:
        return "not_found"
    if tenant.published_version == version.version:
        return "already_live"
    draft = is_draft(version, tenant)
    if action == "publish" and not draft:
        return "not_draft"
    if action == "rollback" and draft:
        return "is_draft"
    if fingerprint(version.config) != seen:
        return "conflict"
    before = tenant.published_version
    make_live(tenant, version, now)
    session.add(tenant)
    session.add(version)
    _audit(
        session,
        tenant_id=tenant_id,
        staff=staff,
        action=f"config.{action}",
        version=version.version,
        before={"published_version": before},
        after={"published_version": version.version},
        address=address,
    )
    await session.commit()
    return "done"


# --- comparing versions ----------------------------------------------------------------


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    """Every field whose value differs, by dotted path, in the order of the documents."""
    old, new = _flatten(before), _flatten(after)
    paths = list(new) + [path for path in old if path not in new]
    return [Change(p, old.get(p), new.get(p)) for p in paths if old.get(p) != new.get(p)]


def _flatten(value: Any, path: str = "") -> dict[str, Any]:
    """Leaves by path; a Localized's "texts" level is skipped, lists of plain values are
    one leaf (so adding a module is one change), and absent means None."""
    if isinstance(value, dict):
        if set(value) == {"texts"} and isinstance(value["texts"], dict):
            value = value["texts"]
        leaves: dict[str, Any] = {}
        for key, item in value.items():
            leaves.update(_flatten(item, f"{path}.{key}" if path else str(key)))
        return leaves
    if isinstance(value, list) and any(isinstance(item, dict | list) for item in value):
        leaves = {}
        for index, item in enumerate(value):
            leaves.update(_flatten(item, f"{path}.{index}"))
        return leaves
    if value is None or value == []:
        return {}
    return {path: value}
