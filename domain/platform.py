"""The platform operator's work: creating tenants, assigning their domains, managing staff.

Every change is made in one transaction with its audit entry. Checks that compare one
tenant with the others (slugs, host names) run with every tenant row locked, so two
operators cannot hand the same host to two tenants at once.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import phonenumbers
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.audit import record_action
from domain.identifiers import login_key
from domain.models import Tenant, TenantConfigVersion
from domain.ownership import is_row_id
from domain.passwords import hash_password_async
from domain.sessions import SessionStore
from domain.staff import PLATFORM_OPERATOR, TENANT_ADMIN, StaffUser
from domain.tenancy import make_live, published_configs, save_version
from tenants.schema import SLUG_PATTERN, PasswordPolicy, TenantConfig

OPERATOR_SOURCE = "operator"
# Staff passwords open every customer's data: longer than customers' own.
STAFF_PASSWORD_POLICY = PasswordPolicy(min_length=12, require_letters=True, require_digits=True)
MAX_DOMAINS = 20
FULL_NAME_MAX = 200
_LOGIN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}[a-z0-9]$")
_HOST_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# No 0/O, 1/l/I: a generated password is read off a screen and typed elsewhere.
_PASSWORD_LETTERS = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"
_PASSWORD_DIGITS = "23456789"

# A tenant made from scratch shows a neutral building until it uploads a logo of its own.
GENERIC_LOGO = "tenants/generic.svg"


# --- reading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TenantSummary:
    """One line of the operator's tenant list."""

    id: int
    slug: str
    published_version: int | None
    config: TenantConfig | None  # None when its live configuration does not validate
    admins: int


async def tenant_summaries(session: AsyncSession) -> list[TenantSummary]:
    """Every tenant in slug order, with its live configuration and how many admins it has."""
    tenants = (await session.exec(select(Tenant).order_by(col(Tenant.slug)))).all()
    configs = dict(await published_configs(session))
    counts = dict(
        (
            await session.exec(
                select(StaffUser.tenant_id, func.count())
                .where(StaffUser.role == TENANT_ADMIN)
                .group_by(col(StaffUser.tenant_id))
            )
        ).all()
    )
    return [
        TenantSummary(
            id=tenant.id or 0,
            slug=tenant.slug,
            published_version=tenant.published_version,
            config=configs.get(tenant.id or 0),
            admins=int(counts.get(tenant.id, 0)),
        )
        for tenant in tenants
    ]


async def find_tenant(session: AsyncSession, tenant_id: int) -> Tenant | None:
    if not is_row_id(tenant_id):
        return None
    return await session.get(Tenant, tenant_id)


async def live_document(session: AsyncSession, tenant: Tenant) -> dict[str, Any] | None:
    """The tenant's published configuration as stored (a copy to edit)."""
    version = (
        await session.exec(
            select(TenantConfigVersion).where(
                TenantConfigVersion.tenant_id == tenant.id,
                TenantConfigVersion.version == tenant.published_version,
            )
        )
    ).first()
    return dict(version.config) if version else None


async def _lock_tenants(session: AsyncSession) -> None:
    """Hold every tenant row until the commit (in id order, so lockers never deadlock)."""
    await session.exec(select(Tenant.id).order_by(col(Tenant.id)).with_for_update())


# --- host names -----------------------------------------------------------------------------

HostReason = Literal["invalid", "base_domain", "under_base", "taken", "too_many"]


@dataclass(frozen=True)
class HostProblem:
    line: str
    reason: HostReason
    owner: str = ""  # the tenant already using the host, for "taken"


def normalize_hostname(raw: str) -> str | None:
    """A typed host name in the form the host map compares, or None if it is not one."""
    host = raw.strip().lower().rstrip(".")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    labels = host.split(".")
    if len(host) > 253 or len(labels) < 2 or not all(_HOST_LABEL.match(p) for p in labels):
        return None
    if labels[-1].isdigit():  # an IP address is not a tenant's domain
        return None
    return host


def check_domains(
    lines: Iterable[str],
    *,
    slug: str,
    base_domain: str,
    others: Sequence[TenantConfig],
) -> tuple[list[str], list[HostProblem]]:
    """The custom domains typed one per line, cleaned and without repeats, and a problem for
    each line that cannot be this tenant's: not a host name, the portal's own, or taken."""
    base = base_domain.lower()
    slug_hosts = {f"{other.slug}.{base}": other.slug for other in others if other.slug != slug}
    owners = {
        domain: other.slug for other in others if other.slug != slug for domain in other.domains
    }
    domains: list[str] = []
    problems: list[HostProblem] = []
    for line in lines:
        typed = line.strip()
        if not typed:
            continue
        host = normalize_hostname(typed)
        if typed.lower().rstrip(".") == base or host == base:
            problems.append(HostProblem(typed, "base_domain"))
        elif host is None:
            problems.append(HostProblem(typed, "invalid"))
        elif host in slug_hosts or host in owners:
            problems.append(HostProblem(typed, "taken", slug_hosts.get(host) or owners[host]))
        elif host.endswith("." + base):
            problems.append(HostProblem(typed, "under_base"))
        elif host not in domains:
            domains.append(host)
    if len(domains) > MAX_DOMAINS:
        problems.append(HostProblem("", "too_many"))
    return domains, problems


@dataclass(frozen=True)
class DomainsChange:
    outcome: Literal["changed", "unchanged", "problems", "not_found"]
    problems: list[HostProblem] = field(default_factory=list)
    version: int | None = None


async def set_domains(
    session: AsyncSession,
    tenant_id: int,
    lines: Iterable[str],
    *,
    base_domain: str,
    actor: StaffUser,
    address: str,
    now: datetime,
) -> DomainsChange:
    """Publish a copy of the tenant's live configuration with these custom domains."""
    await _lock_tenants(session)
    tenant = await find_tenant(session, tenant_id)
    if tenant is None:
        return DomainsChange("not_found")
    document = await live_document(session, tenant)
    if document is None:
        return DomainsChange("not_found")
    others = [config for _, config in await published_configs(session)]
    domains, problems = check_domains(
        lines, slug=tenant.slug, base_domain=base_domain, others=others
    )
    if problems:
        await session.rollback()
        return DomainsChange("problems", problems)
    before = list(document.get("domains") or [])
    if before == domains:
        await session.rollback()
        return DomainsChange("unchanged")
    document["domains"] = domains
    TenantConfig.model_validate(document)  # the rest was valid; nothing else changed
    previous = tenant.published_version
    version = await save_version(
        session, tenant, document, source=OPERATOR_SOURCE, author_id=actor.id, note="Domains"
    )
    make_live(tenant, version, now)
    session.add(tenant)
    record_action(
        session,
        tenant_id=tenant.id,
        staff_id=actor.id,
        actor=actor.login,
        action="tenant.domains",
        target_type="tenant",
        target_id=tenant.slug,
        before={"domains": before, "version": previous},
        after={"domains": domains, "version": version.version},
        address=address,
    )
    await session.commit()
    return DomainsChange("changed", version=version.version)


# --- creating tenants -----------------------------------------------------------------------

SlugReason = Literal["invalid", "taken", "host_taken"]


def slug_problem(slug: str) -> SlugReason | None:
    return None if re.match(SLUG_PATTERN, slug) else "invalid"


def preset_document(preset: TenantConfig, slug: str) -> dict[str, Any]:
    """A preset under a new slug, without its custom domains (they belong to its own tenant)."""
    document = preset.model_dump(mode="json")
    document["slug"] = slug
    document["domains"] = []
    return document


@dataclass(frozen=True)
class ScratchTenant:
    """What an operator types to start a tenant from nothing."""

    slug: str
    utility: str
    name: str
    locale: str
    currency: str
    timezone: str
    country: str


def country_problem(country: str) -> bool:
    """Whether this is not a region whose phone numbers can be read (the schema's `country`)."""
    return country not in phonenumbers.SUPPORTED_REGIONS


def scratch_document(wanted: ScratchTenant, labels: Mapping[str, str]) -> dict[str, Any]:
    """The smallest useful configuration: customers sign in with their account number and
    ask to be activated (account number, holder's name, mobile); staff approve each request
    and the initial password goes out by SMS. `labels` are the field labels in its locale
    ("account_number", "holder_name", "mobile")."""

    def text(key: str) -> dict[str, str]:
        return {wanted.locale: labels[key]}

    example = phonenumbers.example_number_for_type(
        wanted.country, phonenumbers.PhoneNumberType.MOBILE
    )
    phone_sample = (
        phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        if example
        else "+1 201 555 0123"
    )
    return {
        "slug": wanted.slug,
        "utility": wanted.utility,
        "currency": wanted.currency,
        "timezone": wanted.timezone,
        "country": wanted.country,
        "account_identifier": "account_number",
        "modules": ["bills", "readings", "payments", "contact_centre"],
        "branding": {
            "name": {wanted.locale: wanted.name},
            "primary_colour": "#1f4e79",
            "accent_colour": "#9a3412",
            "logo": GENERIC_LOGO,
        },
        "locales": {"enabled": [wanted.locale], "default": wanted.locale},
        "identifiers": [
            {
                "name": "account_number",
                "label": text("account_number"),
                "sample": "12345678",
                "spec": {"kind": "digits", "min_length": 4, "max_length": 20},
            },
            {
                "name": "mobile",
                "label": text("mobile"),
                "sample": phone_sample,
                "spec": {"kind": "phone", "region": wanted.country},
            },
        ],
        "sign_in": {"identifiers": ["account_number"]},
        "registration": {
            "flow": "activation_with_approval",
            "confirm_by": "staff_approval",
            "variants": [
                {
                    "key": "individual",
                    "steps": [
                        {
                            "key": "activation",
                            "fields": [
                                {
                                    "name": "account_number",
                                    "type": "identifier",
                                    "identifier": "account_number",
                                    "match_record": True,
                                },
                                {
                                    "name": "holder_name",
                                    "type": "person_name",
                                    "label": text("holder_name"),
                                    "match_record": True,
                                },
                                {"name": "mobile", "type": "identifier", "identifier": "mobile"},
                            ],
                        }
                    ],
                }
            ],
        },
        "recovery": [{"method": "sms_code", "start_identifiers": ["account_number"]}],
    }


@dataclass(frozen=True)
class TenantCreation:
    outcome: Literal["created", "slug_taken", "host_taken"]
    tenant: Tenant | None = None
    owner: str = ""  # for "host_taken": the tenant whose custom domain the slug host is


async def create_tenant(
    session: AsyncSession,
    config: TenantConfig,
    *,
    base_domain: str,
    actor: StaffUser,
    address: str,
    now: datetime,
    origin: str,
) -> TenantCreation:
    """A new tenant serving `config` (version 1, live at once); `origin` says where the
    configuration came from ("preset:<slug>" or "scratch") for the audit log."""
    await _lock_tenants(session)
    taken = (await session.exec(select(Tenant.id).where(Tenant.slug == config.slug))).first()
    if taken is not None:
        await session.rollback()
        return TenantCreation("slug_taken")
    host = f"{config.slug}.{base_domain.lower()}"
    for _, other in await published_configs(session):
        if host in other.domains:
            await session.rollback()
            return TenantCreation("host_taken", owner=other.slug)
    tenant = Tenant(slug=config.slug)
    session.add(tenant)
    try:
        await session.flush()
    except IntegrityError:  # created by another operator since the check
        await session.rollback()
        return TenantCreation("slug_taken")
    version = await save_version(
        session,
        tenant,
        config.model_dump(mode="json"),
        source=OPERATOR_SOURCE,
        author_id=actor.id,
        note=f"Created from {origin}",
    )
    make_live(tenant, version, now)
    session.add(tenant)
    record_action(
        session,
        tenant_id=None,
        staff_id=actor.id,
        actor=actor.login,
        action="tenant.create",
        target_type="tenant",
        target_id=config.slug,
        after={"slug": config.slug, "origin": origin, "version": version.version},
        address=address,
    )
    await session.commit()
    return TenantCreation("created", tenant)


# --- staff --------------------------------------------------------------------------------

LoginReason = Literal["empty", "invalid", "taken"]


def login_problem(login: str) -> LoginReason | None:
    if not login:
        return "empty"
    return None if _LOGIN.match(login_key(login)) else "invalid"


def generate_password() -> str:
    """16 letters and digits in groups of four, e.g. "k7Qm-2xPa-9hTe-4bWn"."""
    alphabet = _PASSWORD_LETTERS + _PASSWORD_DIGITS
    while True:
        raw = "".join(secrets.choice(alphabet) for _ in range(16))
        if any(c.isdigit() for c in raw) and any(c.isalpha() for c in raw):
            return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


async def staff_of(session: AsyncSession, tenant_id: int | None) -> list[StaffUser]:
    """A tenant's admins, or (tenant_id None) the platform operators, by login."""
    statement = select(StaffUser).order_by(col(StaffUser.login))
    if tenant_id is None:
        statement = statement.where(
            col(StaffUser.tenant_id).is_(None), StaffUser.role == PLATFORM_OPERATOR
        )
    else:
        statement = statement.where(
            StaffUser.tenant_id == tenant_id, StaffUser.role == TENANT_ADMIN
        )
    return list((await session.exec(statement)).all())


async def find_staff_member(session: AsyncSession, staff_id: int) -> StaffUser | None:
    if not is_row_id(staff_id):
        return None
    return await session.get(StaffUser, staff_id)


def _staff_facts(staff: StaffUser) -> dict[str, Any]:
    return {"login": staff.login, "full_name": staff.full_name, "role": staff.role}


async def add_staff(
    session: AsyncSession,
    *,
    tenant_id: int | None,
    login: str,
    full_name: str,
    password: str,
    password_origin: Literal["typed", "generated"],
    actor: StaffUser,
    address: str,
) -> StaffUser | None:
    """A tenant admin (or, with tenant_id None, a platform operator); None if the login is
    already one of theirs."""
    key = login_key(login)
    clash = select(StaffUser.id).where(StaffUser.login == key)
    clash = (
        clash.where(col(StaffUser.tenant_id).is_(None))
        if tenant_id is None
        else clash.where(StaffUser.tenant_id == tenant_id)
    )
    if (await session.exec(clash)).first() is not None:
        return None
    staff = StaffUser(
        tenant_id=tenant_id,
        login=key,
        full_name=full_name[:FULL_NAME_MAX],
        password_hash=await hash_password_async(password),
        role=TENANT_ADMIN if tenant_id is not None else PLATFORM_OPERATOR,
    )
    session.add(staff)
    try:
        await session.flush()
    except IntegrityError:  # added by another operator since the check
        await session.rollback()
        return None
    record_action(
        session,
        tenant_id=tenant_id,
        staff_id=actor.id,
        actor=actor.login,
        action="staff.create",
        target_type="staff_user",
        target_id=staff.id,
        after={**_staff_facts(staff), "status": staff.status, "password": password_origin},
        address=address,
    )
    await session.commit()
    return staff


async def set_staff_status(
    session: AsyncSession,
    staff: StaffUser,
    status: Literal["active", "locked"],
    *,
    actor: StaffUser,
    address: str,
) -> bool:
    """Lock or unlock a staff member; False if they already were."""
    if staff.status == status:
        return False
    before = staff.status
    staff.status = status
    session.add(staff)
    record_action(
        session,
        tenant_id=staff.tenant_id,
        staff_id=actor.id,
        actor=actor.login,
        action="staff.lock" if status == "locked" else "staff.unlock",
        target_type="staff_user",
        target_id=staff.id,
        before={**_staff_facts(staff), "status": before},
        after={**_staff_facts(staff), "status": status},
        address=address,
    )
    await session.commit()
    return True


async def reset_staff_password(
    session: AsyncSession,
    staff: StaffUser,
    password: str,
    *,
    password_origin: Literal["typed", "generated"],
    actor: StaffUser,
    address: str,
) -> None:
    staff.password_hash = await hash_password_async(password)
    session.add(staff)
    record_action(
        session,
        tenant_id=staff.tenant_id,
        staff_id=actor.id,
        actor=actor.login,
        action="staff.password_reset",
        target_type="staff_user",
        target_id=staff.id,
        after={**_staff_facts(staff), "password": password_origin},
        address=address,
    )
    await session.commit()


async def end_staff_sessions(
    store: SessionStore, staff: StaffUser, tenant_ids: Iterable[int], *, keep_token: str | None
) -> int:
    """Sign a staff member out everywhere: on their tenant's host, or an operator on every
    tenant's host (they may have signed in on any)."""
    assert staff.id is not None
    hosts = [staff.tenant_id] if staff.tenant_id is not None else list(tenant_ids)
    ended = 0
    for tenant_id in hosts:
        ended += await store.revoke_all(
            tenant_id=tenant_id, staff_id=staff.id, keep_token=keep_token
        )
    return ended
