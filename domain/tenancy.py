"""Tenants in the database: installing presets and reading the published configurations."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.models import Tenant, TenantConfigVersion
from tenants.loader import ConfigError, validate_config
from tenants.schema import TenantConfig

PRESET_SOURCE = "preset"

log = logging.getLogger("portal.tenancy")


async def install_presets(session: AsyncSession, presets: Sequence[TenantConfig]) -> list[str]:
    """Create missing tenants from presets; refresh those still running an older preset.

    A tenant whose live configuration came from the configuration editor keeps it:
    a preset only seeds a tenant, it never overwrites a utility's own edits.
    Returns the slugs of the tenants created.
    """
    created: list[str] = []
    for preset in presets:
        document = preset.model_dump(mode="json")
        tenant = (await session.exec(select(Tenant).where(Tenant.slug == preset.slug))).first()
        if tenant is None:
            tenant = Tenant(slug=preset.slug)
            session.add(tenant)
            await session.flush()
            created.append(preset.slug)
        live = await _published_version(session, tenant)
        if live is not None and (live.source != PRESET_SOURCE or live.config == document):
            continue
        next_version = (live.version + 1) if live else 1
        session.add(
            TenantConfigVersion(
                tenant_id=tenant.id or 0,
                version=next_version,
                config=document,
                source=PRESET_SOURCE,
            )
        )
        tenant.published_version = next_version
        session.add(tenant)
    await session.commit()
    return created


async def _published_version(session: AsyncSession, tenant: Tenant) -> TenantConfigVersion | None:
    if tenant.published_version is None:
        return None
    statement = select(TenantConfigVersion).where(
        TenantConfigVersion.tenant_id == tenant.id,
        TenantConfigVersion.version == tenant.published_version,
    )
    return (await session.exec(statement)).first()


async def published_configs(session: AsyncSession) -> list[tuple[int, TenantConfig]]:
    """Every tenant's live configuration with the tenant's id, in slug order."""
    statement = (
        select(Tenant.id, TenantConfigVersion.config)
        .join(
            TenantConfigVersion,
            and_(
                col(TenantConfigVersion.tenant_id) == col(Tenant.id),
                col(TenantConfigVersion.version) == col(Tenant.published_version),
            ),
        )
        .order_by(Tenant.slug)
    )
    configs: list[tuple[int, TenantConfig]] = []
    for tenant_id, document in (await session.exec(statement)).all():
        try:
            assert tenant_id is not None
            configs.append((tenant_id, validate_config(document, f"tenant {tenant_id}")))
        except ConfigError as error:
            # A stored version that no longer validates (after a schema change) must not
            # take every other tenant down; that one tenant answers 404 until it is fixed.
            log.error(
                "tenant %s: live configuration is invalid and is not served: %s", tenant_id, error
            )
    return configs


async def published_signature(session: AsyncSession) -> tuple[tuple[int, int | None], ...]:
    """Which version each tenant serves: a cheap question asked every few seconds by
    every process, which reloads its configurations when the answer changes."""
    statement = select(Tenant.id, Tenant.published_version).order_by(col(Tenant.id))
    return tuple(
        (tenant_id or 0, version) for tenant_id, version in (await session.exec(statement)).all()
    )


async def save_version(
    session: AsyncSession,
    tenant: Tenant,
    document: dict[str, Any],
    *,
    source: str,
    author_id: int | None = None,
    note: str = "",
) -> TenantConfigVersion:
    """Add the tenant's next configuration version (not yet live); the caller commits.

    The tenant's row is locked first, so two editors saving at once get consecutive
    numbers rather than a clash (SQLite serialises writers anyway).
    """
    await session.exec(select(Tenant).where(Tenant.id == tenant.id).with_for_update())
    newest = (
        await session.exec(
            select(func.max(TenantConfigVersion.version)).where(
                TenantConfigVersion.tenant_id == tenant.id
            )
        )
    ).one()
    version = TenantConfigVersion(
        tenant_id=tenant.id or 0,
        version=(newest or 0) + 1,
        config=document,
        source=source,
        author_id=author_id,
        note=note[:200],
    )
    session.add(version)
    await session.flush()
    return version


def make_live(tenant: Tenant, version: TenantConfigVersion, now: datetime) -> None:
    """Serve this version from now on (publishing a draft or rolling back); the caller commits.

    Every process notices within seconds through `published_signature`.
    """
    tenant.published_version = version.version
    version.published_at = now
