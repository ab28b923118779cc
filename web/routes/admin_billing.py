"""Billing integration in the staff area: API keys and CSV imports with their per-row reports.

Every query is scoped to the host's tenant; another tenant's key or job is answered like
one that does not exist. An uploaded file is checked at once (encoding, delimiter,
columns) and refused with a message if it cannot be imported; otherwise it becomes a job
that runs in the background of this process, and its page shows the progress.
"""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_413_REQUEST_ENTITY_TOO_LARGE

from domain.api_keys import create_api_key, find_api_key, revoke_api_key, tenant_api_keys
from domain.audit import record_action
from domain.billing_import import KINDS
from domain.csv_import import ENCODINGS, MAX_BYTES, CsvProblem, JobContext, read_csv, run_import_job
from domain.fields import clean_text
from domain.import_jobs import (
    ERRORS_KEPT,
    MODES,
    RUNNING,
    ImportJob,
    create_import_job,
    find_import_job,
    recent_import_jobs,
)
from domain.staff import StaffUser
from web.auth import client_address, tenant_id_of, tenant_of
from web.i18n import N_, Translator
from web.rendering import page
from web.routes.api import ROW_MESSAGES_IN_FILES, problem_text
from web.routes.common import i18n, now, posted

KEY_NAME_MAX = 100
# The body may hold the file and a few form fields besides.
UPLOAD_BODY_MAX = MAX_BYTES + 1024 * 1024

KIND_LABELS = {
    "accounts": N_("Accounts"),
    "meters": N_("Meters"),
    "charges": N_("Charges"),
    "payments": N_("Payments"),
    "usage": N_("Broadband usage sessions"),
}
MODE_LABELS = {
    "all": N_("Import nothing if any row has an error"),
    "valid_only": N_("Import the valid rows and list the others"),
}
STATUS_LABELS = {
    "pending": N_("Waiting to start"),
    "running": N_("Running"),
    "done": N_("Finished"),
    "failed": N_("Stopped by an error"),
}
_KEY_ERRORS = {
    "name_empty": N_("Give the key a name, such as the program that will use it."),
    "name_too_long": N_("The name is too long: at most %(limit)d characters."),
}
_UPLOAD_ERRORS = {
    "kind": N_("Choose what the file holds."),
    "mode": N_("Choose what to do with rows that have errors."),
    "no_file": N_("Choose a CSV file to upload."),
    "empty": N_("The file is empty."),
    "too_big": N_("The file is larger than %(limit)d MB. Split it into smaller files."),
    "unknown_encoding": N_(
        "The file's encoding could not be recognised. Choose it under “Encoding”."
    ),
    "not_in_encoding": N_(
        "The file cannot be read as %(encoding)s. Choose another encoding, or “Detect”."
    ),
    "not_text": N_("This is not a CSV text file."),
    "malformed": N_("The file is not valid CSV: a quoted value may be left open."),
    "no_rows": N_("The file has a header row but no data rows."),
}
_COLUMN_ERRORS = {
    "missing": N_("Columns missing: %(names)s."),
    "unknown": N_("Columns not expected (or given twice): %(names)s."),
    "expected": N_(
        "The first row must name the columns. Expected: %(expected)s; required: %(required)s."
    ),
}
ENCODING_LABELS = {"utf-8": "UTF-8", "windows-1251": "Windows-1251", "gbk": "GBK"}

# Jobs running in this process; kept so that they are not garbage-collected mid-run.
_running: set[asyncio.Task[None]] = set()


def require_staff(request: Request[Any, Any, Any]) -> StaffUser:
    # Imported here: web.routes.admin imports this module to mount its handlers.
    from web.routes.admin import require_staff as staff_of_this_tenant

    return staff_of_this_tenant(request)


# --- API keys ------------------------------------------------------------------------------


async def _keys_page(
    request: Request[Any, Any, Any], *, status: int = 200, **context: Any
) -> Template:
    async with request.app.state.portal.database.session() as session:
        keys = await tenant_api_keys(session, tenant_id_of(request))
    page_context: dict[str, Any] = {
        "keys": keys,
        "name": "",
        "name_error": "",
        "created": None,
        "plain_key": "",
        "confirm": None,
        "revoked": None,
        "name_limit": KEY_NAME_MAX,
    }
    page_context.update(context)
    response = page(request, "admin/api_keys.html", status_code=status, **page_context)
    # A page that shows a new key must never be kept by a browser or a proxy.
    response.headers["Cache-Control"] = "no-store"
    return response


@get("/api-keys")
async def api_keys(request: Request[Any, Any, Any]) -> Template:
    require_staff(request)
    revoked = None
    wanted = request.query_params.get("revoked", "")
    if wanted.isdigit():
        async with request.app.state.portal.database.session() as session:
            revoked = await find_api_key(session, tenant_id_of(request), int(wanted))
    return await _keys_page(request, revoked=revoked)


@post("/api-keys")
async def create_key(request: Request[Any, Any, Any]) -> Template:
    staff = require_staff(request)
    translate = i18n(request)
    typed = (await posted(request)).get("name", "")
    name = clean_text(typed)
    problem = ""
    if not name:
        problem = translate.pick(_KEY_ERRORS, "name_empty")
    elif len(name) > KEY_NAME_MAX:
        problem = translate.pick(_KEY_ERRORS, "name_too_long") % {"limit": KEY_NAME_MAX}
    if problem:
        return await _keys_page(request, status=400, name=typed[:300], name_error=problem)
    tenant_id = tenant_id_of(request)
    async with request.app.state.portal.database.session() as session:
        key, plain = await create_api_key(
            session, tenant_id=tenant_id, name=name, created_by=staff.id, now=now(request)
        )
        record_action(
            session,
            tenant_id=tenant_id,
            staff_id=staff.id,
            actor=staff.login,
            action="api_key.create",
            target_type="api_key",
            target_id=key.id,
            after={"name": key.name, "prefix": key.prefix},
            address=client_address(request),
        )
        await session.commit()
    # Shown on this response only: the key is stored as a digest and can never be shown again.
    return await _keys_page(request, created=key, plain_key=plain)


@get("/api-keys/{key_id:int}/revoke")
async def confirm_revoke(request: Request[Any, Any, Any], key_id: FromPath[int]) -> Template:
    require_staff(request)
    async with request.app.state.portal.database.session() as session:
        key = await find_api_key(session, tenant_id_of(request), key_id)
    if key is None:
        raise NotFoundException()
    return await _keys_page(request, confirm=key)


@post("/api-keys/{key_id:int}/revoke")
async def revoke_key(request: Request[Any, Any, Any], key_id: FromPath[int]) -> Redirect:
    staff = require_staff(request)
    tenant_id = tenant_id_of(request)
    async with request.app.state.portal.database.session() as session:
        key = await find_api_key(session, tenant_id, key_id)
        if key is None:
            raise NotFoundException()
        if await revoke_api_key(session, key, now(request)):
            record_action(
                session,
                tenant_id=tenant_id,
                staff_id=staff.id,
                actor=staff.login,
                action="api_key.revoke",
                target_type="api_key",
                target_id=key.id,
                before={"name": key.name, "prefix": key.prefix, "revoked": False},
                after={"name": key.name, "prefix": key.prefix, "revoked": True},
                address=client_address(request),
            )
            await session.commit()
    return Redirect(f"/admin/api-keys?revoked={key_id}", status_code=303)


# --- CSV imports -----------------------------------------------------------------------------


def _choices(translate: Translator) -> dict[str, Any]:
    return {
        "kinds": [(kind, translate.pick(KIND_LABELS, kind)) for kind in KINDS],
        "modes": [(mode, translate.pick(MODE_LABELS, mode)) for mode in MODES],
        "encodings": list(ENCODING_LABELS.items()),
        "columns": {kind: [c.name for c in rows.columns] for kind, rows in KINDS.items()},
        "required": {kind: rows.required for kind, rows in KINDS.items()},
        "limit_mb": MAX_BYTES // 2**20,
    }


def _job_row(job: ImportJob, translate: Translator) -> dict[str, Any]:
    return {
        "job": job,
        "kind": translate.pick(KIND_LABELS, job.kind),
        "mode": translate.pick(MODE_LABELS, job.mode),
        "status": translate.pick(STATUS_LABELS, job.status),
        "running": job.status in RUNNING,
        "encoding": ENCODING_LABELS.get(job.encoding, job.encoding),
    }


async def _imports_page(
    request: Request[Any, Any, Any],
    *,
    status: int = 200,
    chosen: dict[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
) -> Template:
    translate = i18n(request)
    async with request.app.state.portal.database.session() as session:
        jobs = await recent_import_jobs(session, tenant_id_of(request))
    return page(
        request,
        "admin/imports.html",
        status_code=status,
        jobs=[_job_row(job, translate) for job in jobs],
        chosen=chosen or {"kind": "", "encoding": "", "mode": "all"},
        errors=errors or {},
        **_choices(translate),
    )


@get("/imports")
async def imports(request: Request[Any, Any, Any]) -> Template:
    require_staff(request)
    if request.query_params.get("too_big"):
        message = i18n(request).pick(_UPLOAD_ERRORS, "too_big") % {"limit": MAX_BYTES // 2**20}
        return await _imports_page(request, errors={"file": [message]})
    return await _imports_page(request)


def _upload_too_big(request: Request[Any, Any, Any], _exc: Exception) -> Redirect:
    """A body far over the limit is refused before the handler sees it: say so on the form."""
    return Redirect("/admin/imports?too_big=1", status_code=303)


def _file_problem(translate: Translator, problem: CsvProblem) -> list[str]:
    if problem.code != "wrong_columns":
        return [translate.pick(_UPLOAD_ERRORS, problem.code) % problem.params]
    lines = [
        translate.pick(_COLUMN_ERRORS, part) % {"names": problem.params[part]}
        for part in ("missing", "unknown")
        if problem.params[part]
    ]
    lines.append(translate.pick(_COLUMN_ERRORS, "expected") % problem.params)
    return lines


@post(
    "/imports",
    request_max_body_size=UPLOAD_BODY_MAX,
    exception_handlers={HTTP_413_REQUEST_ENTITY_TOO_LARGE: _upload_too_big},
)
async def upload(request: Request[Any, Any, Any]) -> Template | Redirect:
    staff = require_staff(request)
    translate = i18n(request)
    form = await request.form()
    kind = str(form.get("kind", ""))
    encoding = str(form.get("encoding", ""))
    mode = str(form.get("mode", ""))
    upload = form.get("file")
    chosen = {"kind": kind, "encoding": encoding, "mode": mode}
    errors: dict[str, list[str]] = {}
    if kind not in KINDS:
        errors["kind"] = [translate.pick(_UPLOAD_ERRORS, "kind")]
    if mode not in MODES:
        errors["mode"] = [translate.pick(_UPLOAD_ERRORS, "mode")]
    if encoding not in ENCODINGS:
        chosen["encoding"] = encoding = ""
    content = b""
    filename = ""
    if not isinstance(upload, UploadFile) or not upload.filename:
        errors["file"] = [translate.pick(_UPLOAD_ERRORS, "no_file")]
    else:
        filename = upload.filename.replace("\\", "/").rsplit("/", 1)[-1]
        content = await upload.read(MAX_BYTES + 1)
    parsed = None
    if not errors:
        try:
            # Decoding and counting 20 MB takes a moment: not on the event loop.
            parsed = await asyncio.to_thread(read_csv, content, KINDS[kind], encoding)
        except CsvProblem as problem:
            field = (
                "encoding" if problem.code in ("unknown_encoding", "not_in_encoding") else "file"
            )
            errors[field] = _file_problem(translate, problem)
    if errors or parsed is None:
        return await _imports_page(request, status=400, chosen=chosen, errors=errors)
    tenant_id = tenant_id_of(request)
    async with request.app.state.portal.database.session() as session:
        job = await create_import_job(
            session,
            tenant_id=tenant_id,
            kind=kind,
            mode=mode,
            filename=clean_text(filename)[:200],
            encoding=parsed.encoding,
            content=content,
            total_rows=parsed.rows,
            created_by=staff.id,
            now=now(request),
        )
        await session.commit()
    assert job.id is not None
    portal = request.app.state.portal
    context = JobContext(
        timezone=tenant_of(request).timezone,
        actor=staff.login,
        address=client_address(request),
        clock=lambda: portal.clock(),
    )
    task = asyncio.create_task(
        run_import_job(portal.database, job.id, context), name=f"import-job-{job.id}"
    )
    _running.add(task)
    task.add_done_callback(_running.discard)
    return Redirect(f"/admin/imports/{job.id}", status_code=303)


def _problems(job: ImportJob, translate: Translator) -> list[dict[str, Any]]:
    return [
        {
            "row": problem.get("row", ""),
            "field": problem.get("field", ""),
            "message": problem_text(
                translate,
                str(problem.get("code", "")),
                problem.get("params"),
                ROW_MESSAGES_IN_FILES,
            ),
        }
        for problem in job.errors
        if isinstance(problem, dict)
    ]


@get("/imports/{job_id:int}")
async def import_job(request: Request[Any, Any, Any], job_id: FromPath[int]) -> Template:
    """The job's page; an htmx poll gets just its progress, and a reload once it has ended."""
    require_staff(request)
    translate = i18n(request)
    async with request.app.state.portal.database.session() as session:
        job = await find_import_job(session, tenant_id_of(request), job_id)
    if job is None:
        raise NotFoundException()
    row = _job_row(job, translate)
    polled = request.headers.get("hx-request") == "true"
    response = page(
        request,
        "admin/_import_progress.html" if polled else "admin/import.html",
        item=row,
        problems=[] if polled else _problems(job, translate),
        truncated=len(job.errors) >= ERRORS_KEPT,
    )
    if polled and not row["running"]:
        # The report under the progress is only on the full page.
        response.headers["HX-Refresh"] = "true"
    response.headers["Vary"] = "HX-Request"
    return response


handlers: list[Any] = [
    api_keys,
    create_key,
    confirm_revoke,
    revoke_key,
    imports,
    upload,
    import_job,
]
