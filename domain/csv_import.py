"""CSV files of billing rows uploaded by staff: decoding, the header check, and running the import.

A file is checked as a whole before a job is made of it (its encoding, delimiter and
columns), so a wrong file is refused at once with one clear message. The job then runs
in chunks, recording its progress after each one: with mode "all" every row is checked
first and the rows are written in one transaction only if none has a problem; with mode
"valid_only" each chunk's valid rows are written and committed as it goes.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from domain.audit import record_action
from domain.billing_import import (
    CHUNK_ROWS,
    KINDS,
    BatchState,
    ChunkPlan,
    Problem,
    RowKind,
    plan_chunk,
    write_plan,
)
from domain.db import Database
from domain.import_jobs import (
    ImportJob,
    finish_import_job,
    record_import_progress,
    start_import_job,
)

log = logging.getLogger("portal.imports")

# What the admin may choose; "" asks for detection.
ENCODINGS = ("utf-8", "windows-1251", "gbk")
MAX_BYTES = 20 * 1024 * 1024
DELIMITERS = (",", ";")
# GB2312's first level: the 3,755 commonest characters, lead bytes B0-D7. Real Chinese text
# is mostly made of them; Cyrillic text misread as GBK mostly is not.
_COMMON_HANZI_LEADS = range(0xB0, 0xD8)


class CsvProblem(ValueError):
    """Why a file cannot be imported at all: a reason code and its values."""

    def __init__(self, code: str, **params: str | int) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class CsvFile:
    """A decoded file whose header fits its kind of rows."""

    text: str
    encoding: str
    delimiter: str
    columns: list[str]
    rows: int


def _looks_chinese(text: str) -> bool:
    wide = [char for char in text if ord(char) > 0x7F]
    if not wide:
        return True
    common = 0
    for char in wide:
        try:
            encoded = char.encode("gb2312")
        except UnicodeEncodeError:
            continue
        if encoded[0] in _COMMON_HANZI_LEADS:
            common += 1
    return common >= 0.6 * len(wide)


def decode(content: bytes, encoding: str = "") -> tuple[str, str]:
    """The text and the encoding it was read with: the one chosen, or else UTF-8 (with or
    without a byte order mark), GBK if it reads as Chinese, Windows-1251."""
    if encoding:
        if encoding not in ENCODINGS:
            raise CsvProblem("unknown_encoding")
        try:
            codec = "utf-8-sig" if encoding == "utf-8" else encoding
            return content.decode(codec), encoding
        except UnicodeDecodeError:
            raise CsvProblem("not_in_encoding", encoding=encoding) from None
    try:
        return content.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = content.decode("gbk")
        if _looks_chinese(text):
            return text, "gbk"
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("windows-1251"), "windows-1251"
    except UnicodeDecodeError:
        raise CsvProblem("unknown_encoding") from None


def _delimiter(header: str) -> str:
    """The header's delimiter: whichever of , and ; it has more of (names contain neither)."""
    return max(DELIMITERS, key=header.count)


def _reader(text: str, delimiter: str) -> Any:
    """A csv.reader (its type is private to the csv module)."""
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)


def read_csv(content: bytes, kind: RowKind, encoding: str = "") -> CsvFile:
    """Decode the file and check its header against the kind's columns; raises CsvProblem."""
    if not content.strip():
        raise CsvProblem("empty")
    if len(content) > MAX_BYTES:
        raise CsvProblem("too_big", limit=MAX_BYTES // (1024 * 1024))
    text, used = decode(content, encoding)
    if "\x00" in text:
        raise CsvProblem("not_text")
    first_line = text.lstrip("\ufeff").split("\n", 1)[0]
    delimiter = _delimiter(first_line)
    reader = _reader(text, delimiter)
    try:
        header = next(reader)
        rows = sum(1 for record in reader if record)
    except csv.Error:
        raise CsvProblem("malformed") from None
    columns = [name.strip().lstrip("\ufeff").lower() for name in header]
    expected = [column.name for column in kind.columns]
    missing = [name for name in kind.required if name not in columns]
    unknown = [name for name in columns if name not in expected]
    repeated = sorted({name for name in columns if columns.count(name) > 1})
    if missing or unknown or repeated or not columns:
        raise CsvProblem(
            "wrong_columns",
            missing=", ".join(missing),
            unknown=", ".join(unknown or repeated),
            expected=", ".join(expected),
            required=", ".join(kind.required),
        )
    if rows == 0:
        raise CsvProblem("no_rows")
    return CsvFile(text=text, encoding=used, delimiter=delimiter, columns=columns, rows=rows)


def records(parsed: CsvFile) -> Iterator[tuple[int, dict[str, str] | Problem]]:
    """Each data row as (its first line in the file, its values by column), or a Problem when
    it has more or fewer values than the header. Blank lines are skipped."""
    reader = _reader(parsed.text, parsed.delimiter)
    next(reader)
    width = len(parsed.columns)
    line = reader.line_num + 1
    for record in reader:
        if record:
            if len(record) != width:
                yield (
                    line,
                    Problem(
                        line, "", "wrong_value_count", {"found": len(record), "expected": width}
                    ),
                )
            else:
                yield line, dict(zip(parsed.columns, record, strict=True))
        line = reader.line_num + 1


# --- running a job ----------------------------------------------------------------------------


@dataclass(frozen=True)
class JobContext:
    """Who started the job and how the rows are read: kept for the audit entry at the end."""

    timezone: str
    actor: str
    address: str
    clock: Callable[[], datetime]


def _chunks(parsed: CsvFile) -> Iterator[tuple[list[tuple[int, dict[str, str]]], list[Problem]]]:
    rows: list[tuple[int, dict[str, str]]] = []
    problems: list[Problem] = []
    for line, record in records(parsed):
        if isinstance(record, Problem):
            problems.append(record)
        else:
            rows.append((line, record))
        if len(rows) + len(problems) >= CHUNK_ROWS:
            yield rows, problems
            rows, problems = [], []
    if rows or problems:
        yield rows, problems


async def _check_pass(
    database: Database,
    job: ImportJob,
    parsed: CsvFile,
    kind: RowKind,
    context: JobContext,
    *,
    write: bool,
) -> int:
    """One pass over the file, a chunk per transaction; returns the rows that failed.

    With `write`, each chunk's valid rows are written in the chunk's transaction.
    """
    zone = ZoneInfo(context.timezone)
    state = BatchState()
    failed = 0
    for rows, bad_rows in _chunks(parsed):
        async with database.session() as session:
            plan: ChunkPlan = await plan_chunk(
                session,
                tenant_id=job.tenant_id,
                kind=kind,
                rows=rows,
                zone=zone,
                state=state,
                now=context.clock(),
            )
            if write:
                await write_plan(session, plan)
            problems = sorted([*bad_rows, *plan.problems], key=lambda problem: problem.row)
            failed += plan.counts.failed + len(bad_rows)
            await record_import_progress(
                session,
                job,
                processed=len(rows) + len(bad_rows),
                imported=plan.counts.accepted if write else 0,
                failed=plan.counts.failed + len(bad_rows),
                problems=[_stored(problem) for problem in problems],
            )
            await session.commit()
    return failed


async def _write_all(
    database: Database, job: ImportJob, parsed: CsvFile, kind: RowKind, context: JobContext
) -> bool:
    """Every row in one transaction, with the job's end; False (and nothing written) if a row
    turned out bad meanwhile (say, an account was removed after the check)."""
    zone = ZoneInfo(context.timezone)
    state = BatchState()
    written = 0
    async with database.session() as session:
        for rows, bad_rows in _chunks(parsed):
            plan = await plan_chunk(
                session,
                tenant_id=job.tenant_id,
                kind=kind,
                rows=rows,
                zone=zone,
                state=state,
                now=context.clock(),
            )
            if bad_rows or plan.problems:
                await session.rollback()
                return False
            await write_plan(session, plan)
            written += plan.counts.accepted
        await finish_import_job(session, job, status="done", imported=written, now=context.clock())
        _audit(session, job, context)
        await session.commit()
    return True


def _stored(problem: Problem) -> dict[str, Any]:
    return {
        "row": problem.row,
        "field": problem.field,
        "code": problem.code,
        "params": dict(problem.params),
    }


def _audit(session: AsyncSession, job: ImportJob, context: JobContext) -> None:
    record_action(
        session,
        tenant_id=job.tenant_id,
        staff_id=job.created_by,
        actor=context.actor,
        action="import.run",
        target_type="import_job",
        target_id=job.id,
        after={
            "kind": job.kind,
            "mode": job.mode,
            "filename": job.filename,
            "status": job.status,
            "total_rows": job.total_rows,
            "imported_rows": job.imported_rows,
            "failed_rows": job.failed_rows,
        },
        address=context.address,
    )


async def run_import_job(database: Database, job_id: int, context: JobContext) -> None:
    """Run a pending job to its end. Any error ends it as "failed": with mode "all" nothing
    was written; with "valid_only" the chunks committed before it stay."""
    async with database.session() as session:
        job = await start_import_job(session, job_id, now=context.clock())
        await session.commit()
    if job is None:
        return
    try:
        kind = KINDS[job.kind]
        parsed = await asyncio.to_thread(read_csv, job.content, kind, job.encoding)
        if job.mode == "valid_only":
            await _check_pass(database, job, parsed, kind, context, write=True)
        elif await _check_pass(database, job, parsed, kind, context, write=False) == 0:
            if await _write_all(database, job, parsed, kind, context):
                return
            # Rows went bad between the check and the write: check again to say which.
            async with database.session() as session:
                await record_import_progress(session, job, reset=True)
                await session.commit()
            await _check_pass(database, job, parsed, kind, context, write=False)
        async with database.session() as session:
            await finish_import_job(session, job, status="done", now=context.clock())
            _audit(session, job, context)
            await session.commit()
    except Exception:
        log.exception("import job %s failed", job_id)
        async with database.session() as session:
            await finish_import_job(session, job, status="failed", now=context.clock())
            _audit(session, job, context)
            await session.commit()
