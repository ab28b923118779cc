"""CSV imports started from the admin UI: the file, its progress and its per-row errors.

The file is kept in the row so that any worker process can run the import and any
other can report its progress.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, func, update
from sqlalchemy.orm import defer
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.models import utcnow
from domain.ownership import is_row_id


class ImportJob(SQLModel, table=True):
    __tablename__ = "import_job"
    __table_args__ = (Index("ix_import_job_tenant_created", "tenant_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id")
    kind: str = Field(max_length=20)  # accounts | meters | charges | payments | usage
    filename: str = Field(max_length=200, default="")
    encoding: str = Field(max_length=20, default="")
    # all: a file with any error imports nothing; valid_only: the valid rows are imported.
    mode: str = Field(max_length=20, default="all")
    # pending | running | done | failed
    status: str = Field(max_length=20, default="pending")
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    total_rows: int = 0
    processed_rows: int = 0
    imported_rows: int = 0
    failed_rows: int = 0
    # [{"row": 3, "field": "amount", "message": "..."}], at most a few hundred kept.
    errors: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    created_by: int | None = Field(default=None, foreign_key="staff_user.id")
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None


# How many row problems a job keeps to show; the count of failed rows is always complete.
ERRORS_KEPT = 500
RECENT_JOBS = 20
MODES = ("all", "valid_only")
RUNNING = ("pending", "running")


async def create_import_job(
    session: AsyncSession,
    *,
    tenant_id: int,
    kind: str,
    mode: str,
    filename: str,
    encoding: str,
    content: bytes,
    total_rows: int,
    created_by: int | None,
    now: datetime,
) -> ImportJob:
    """A pending job for an uploaded file whose header was checked; the caller commits."""
    job = ImportJob(
        tenant_id=tenant_id,
        kind=kind,
        mode=mode,
        filename=filename[:200],
        encoding=encoding,
        content=content,
        total_rows=total_rows,
        created_by=created_by,
        created_at=now,
    )
    session.add(job)
    await session.flush()
    return job


def _without_content() -> Any:
    # The file can be 20 MB: pages that show a job (every second while it runs) skip it.
    return defer(ImportJob.content)  # type: ignore[arg-type]


async def find_import_job(session: AsyncSession, tenant_id: int, job_id: int) -> ImportJob | None:
    """The tenant's job by id, without its file; another tenant's job is not found."""
    if not is_row_id(job_id):
        return None
    found = await session.exec(
        select(ImportJob)
        .options(_without_content())
        .where(ImportJob.id == job_id, ImportJob.tenant_id == tenant_id)
    )
    return found.first()


async def recent_import_jobs(session: AsyncSession, tenant_id: int) -> list[ImportJob]:
    found = await session.exec(
        select(ImportJob)
        .options(_without_content())
        .where(ImportJob.tenant_id == tenant_id)
        .order_by(col(ImportJob.created_at).desc(), col(ImportJob.id).desc())
        .limit(RECENT_JOBS)
    )
    return list(found)


async def start_import_job(session: AsyncSession, job_id: int, now: datetime) -> ImportJob | None:
    """Claim a pending job (with its file) for running; None if it is not pending any more."""
    claimed = await session.exec(
        update(ImportJob)
        .where(col(ImportJob.id) == job_id, col(ImportJob.status) == "pending")
        .values(status="running", started_at=now)
    )
    if claimed.rowcount != 1:
        return None
    return await session.get(ImportJob, job_id)


async def record_import_progress(
    session: AsyncSession,
    job: ImportJob,
    *,
    processed: int = 0,
    imported: int = 0,
    failed: int = 0,
    problems: list[dict[str, Any]] | None = None,
    reset: bool = False,
) -> None:
    """Add a chunk's counts and problems to the job (the runner is its only writer)."""
    if reset:
        job.processed_rows = job.imported_rows = job.failed_rows = 0
        job.errors = []
    job.processed_rows += processed
    job.imported_rows += imported
    job.failed_rows += failed
    room = ERRORS_KEPT - len(job.errors)
    if problems and room > 0:
        job.errors = [*job.errors, *problems[:room]]
    await session.exec(
        update(ImportJob)
        .where(col(ImportJob.id) == job.id)
        .values(
            processed_rows=job.processed_rows,
            imported_rows=job.imported_rows,
            failed_rows=job.failed_rows,
            errors=job.errors,
        )
    )


async def finish_import_job(
    session: AsyncSession,
    job: ImportJob,
    *,
    status: str,
    now: datetime,
    imported: int | None = None,
) -> None:
    job.status = status
    job.finished_at = now
    if imported is not None:
        job.imported_rows = imported
    await session.exec(
        update(ImportJob)
        .where(col(ImportJob.id) == job.id)
        .values(status=status, finished_at=now, imported_rows=job.imported_rows)
    )


# A job runs in the process that received its file; one still pending or running after
# this long lost that process (a restart, a crash) and will never finish.
ABANDONED_AFTER = timedelta(hours=1)


async def fail_abandoned_import_jobs(session: AsyncSession, now: datetime) -> int:
    """Mark jobs whose process died as failed, so their page stops showing progress; commits.

    An "import nothing on error" job wrote nothing (its one transaction died with it); a
    "valid rows" job keeps the chunks it committed, which its counts already show.
    """
    result = await session.exec(
        update(ImportJob)
        .where(
            col(ImportJob.status).in_(("pending", "running")),
            func.coalesce(col(ImportJob.started_at), col(ImportJob.created_at))
            < now - ABANDONED_AFTER,
        )
        .values(status="failed", finished_at=now)
    )
    await session.commit()
    return int(result.rowcount or 0)
