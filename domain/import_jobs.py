"""CSV imports started from the admin UI: the file, its progress and its per-row errors.

The file is kept in the row so that any worker process can run the import and any
other can report its progress.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary
from sqlmodel import Field, SQLModel

from domain.models import utcnow


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
