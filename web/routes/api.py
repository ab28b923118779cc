"""The billing-system API under /api/v1: JSON, authenticated by a tenant's API key.

It is the only part of the app in the OpenAPI schema (served at /api/v1/schema). A key
works on its own tenant's host only; a missing, unknown, revoked or other tenant's key
gets the same 401. Every error is JSON with a stable `code` and a message in the
negotiated language (send `Accept-Language: en` for English).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

import msgspec
from litestar import Request, Response, Router, get, put
from litestar.connection import ASGIConnection
from litestar.dto import AbstractDTO, DTOConfig
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIFormat, OpenAPIType, Reference, Schema
from litestar.params import JSONBody, Parameter
from litestar.typing import FieldDefinition

from domain.api_keys import authenticate_api_key
from domain.billing_export import (
    PAGE_MAX,
    BadCursor,
    Cursor,
    ExportedReading,
    ExportedRequest,
    readings_since,
    requests_since,
)
from domain.billing_import import (
    DATE_TEXT,
    DECIMAL_TEXT,
    KINDS,
    PERIOD_TEXT,
    Column,
    Problem,
    RowKind,
    upsert_batch,
)
from web.auth import tenant_id_of, tenant_of
from web.i18n import N_, Translator
from web.routes.common import i18n, now

log = logging.getLogger("portal.api")

ITEMS_MAX = 10_000
# Item errors listed in one response; `failed` always counts them all.
ERRORS_SHOWN = 1000
BODY_MAX = 25 * 1024 * 1024

# --- messages ------------------------------------------------------------------------------

_API_MESSAGES = {
    "unauthorized": N_(
        "Send a valid API key of this utility in the Authorization header: Bearer <key>."
    ),
    "bad_json": N_("The request body is not valid JSON."),
    "bad_body": N_('The request body must be a JSON object with an "items" array of objects.'),
    "too_many_items": N_("Send at most %(limit)d items in one request."),
    "bad_cursor": N_("This cursor was not given out by this API. Start again without one."),
    "invalid_request": N_("Some parameters of the request are not valid."),
    "not_found": N_("There is nothing at this address."),
    "too_large": N_("The request body is too large."),
    "rejected": N_("The request could not be handled."),
    "internal": N_("Something went wrong on our side; nothing was written. Try again later."),
}

# Why a row (an API item or a CSV row) was refused; shared with the CSV import pages.
ROW_MESSAGES = {
    "required": N_("A value is required."),
    "not_text": N_("The value must be text (a JSON string)."),
    "too_long": N_("The text is too long: at most %(limit)d characters."),
    "bad_choice": N_("Use one of: %(choices)s."),
    "not_a_number": N_(
        "Write a plain number such as 1234.56 or 1234,56: no spaces, thousands separators "
        "or exponent."
    ),
    "too_large": N_("The number is too large."),
    "too_many_decimals": N_("Use at most %(places)d decimal places."),
    "negative": N_("The value cannot be negative."),
    "not_positive": N_("The value must be greater than zero."),
    "too_big": N_("The value cannot be more than %(maximum)s."),
    "not_an_integer": N_("Write a whole number."),
    "bad_flag": N_("Write true or false (or 1 or 0)."),
    "bad_period": N_("Write the month as YYYY-MM, for example 2026-11."),
    "bad_date": N_("Write the date as YYYY-MM-DD, for example 2026-11-21."),
    "bad_moment": N_(
        "Write the date and time as YYYY-MM-DD HH:MM, with seconds and a UTC offset if "
        "needed, for example 2026-11-21 14:30 or 2026-11-21T14:30:00+03:00."
    ),
    "date_out_of_range": N_("The year must be between %(earliest)d and %(latest)d."),
    "ends_before_start": N_("The session cannot end before it starts."),
    "unknown_field": N_("There is no such field; check its spelling."),
    "not_an_object": N_("Each item must be a JSON object."),
    "unknown_account": N_("There is no account with the number %(number)s."),
    "duplicate_key": N_(
        "The same record was already given as item %(first)d; send each record once."
    ),
    "payment_differs": N_(
        "A payment with this provider and reference is already recorded with a different "
        "amount or account. It was left as it is."
    ),
    "wrong_value_count": N_("This row has %(found)d values; the header has %(expected)d."),
}
# The CSV pages say "row" where the API says "item".
ROW_MESSAGES_IN_FILES = {
    **ROW_MESSAGES,
    "duplicate_key": N_(
        "The same record is already in row %(first)d of the file; give each record once."
    ),
}


def problem_text(
    translate: Translator,
    code: str,
    params: Any,
    messages: dict[str, str] = ROW_MESSAGES,
) -> str:
    """A reason code worded in the reader's language; a faulty translation falls back to English."""
    if code not in messages:
        return code
    values = params if isinstance(params, dict) else {}
    try:
        return translate.pick(messages, code) % values
    except (KeyError, ValueError, TypeError):
        try:
            return messages[code] % values
        except (KeyError, ValueError, TypeError):
            return messages[code]


# --- what goes in and out --------------------------------------------------------------------


class ApiErrorDetail(msgspec.Struct):
    key: str
    message: str


class ApiError(msgspec.Struct):
    """Every error: a stable code, and a message for people."""

    code: str
    error: str
    details: list[ApiErrorDetail] | None = None


class ItemError(msgspec.Struct):
    """Why one item was refused: its index in `items`, the field ("" for the whole item)."""

    index: int
    field: str
    code: str
    message: str


class BatchResult(msgspec.Struct):
    """What a batch did. Sending the same batch again changes nothing: its items count as
    unchanged. With mode "all" and any item refused, nothing is written (written: false)."""

    mode: Literal["all", "valid_only"]
    written: bool
    received: int
    inserted: int
    updated: int
    unchanged: int
    failed: int
    errors: list[ItemError]
    errors_truncated: bool


class ReadingOut(msgspec.Struct):
    id: int
    account_number: str
    meter_factory_number: str | None
    meter_service: str
    period: Annotated[str, msgspec.Meta(description="The billing month, YYYY-MM.")]
    value: Annotated[str, msgspec.Meta(description="The reading, a decimal number as text.")]
    taken_on: str
    source: Literal["customer", "billing", "staff", "anonymous"]
    status: str
    submitted_at: str


class ReadingPage(msgspec.Struct):
    items: list[ReadingOut]
    next_cursor: Annotated[
        str | None,
        msgspec.Meta(description="Pass as `cursor` to get what changed after this page."),
    ]


class RequestOut(msgspec.Struct):
    """A visit request, a broadband request, or a reading sent without signing in."""

    type: Literal["visit", "broadband", "anonymous_reading"]
    id: int
    kind: str
    status: str
    created_at: str
    changed_at: str
    account_number: str | None
    phone: str | None
    full_name: str | None
    meter_number: str | None
    value: str | None
    visit_date: str | None
    slot: str | None
    notes: str | None
    status_note: str | None
    new_plan: str | None
    effective_on: str | None


class RequestPage(msgspec.Struct):
    items: list[RequestOut]
    next_cursor: str | None


@dataclass
class Batch:
    """The body as it came: items are checked one by one, so one bad item refuses that item
    (with its index and field), not the whole request."""

    items: list[Any]


class ApiProblem(Exception):
    def __init__(self, status: int, code: str, **params: Any) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.params = params


# Exact decimals: a JSON number is read as a Decimal, never through a float.
_DECODER = msgspec.json.Decoder(float_hook=Decimal)


class BatchBody(AbstractDTO[Any]):
    """Reads a batch body leniently and documents it from the domain's row schema.

    A typed body would refuse the whole request at the first bad item; this leaves the
    checking to the domain, which reports every bad item, while the OpenAPI schema still
    says exactly what each item holds.
    """

    config: ClassVar[DTOConfig] = DTOConfig()
    row_kind: ClassVar[RowKind]

    @classmethod
    def generate_field_definitions(cls, model_type: type[Any]) -> Any:
        return iter(())

    @classmethod
    def detect_nested_field(cls, field_definition: FieldDefinition) -> bool:
        return False

    @classmethod
    def create_for_field_definition(
        cls, field_definition: FieldDefinition, handler_id: str, backend_cls: Any = None
    ) -> None:
        return None

    @classmethod
    def create_openapi_schema(
        cls, field_definition: FieldDefinition, handler_id: str, schema_creator: Any
    ) -> Reference | Schema:
        return _batch_schema(cls.row_kind)

    def decode_bytes(self, value: bytes) -> Batch:
        try:
            body = _DECODER.decode(value)
        except (msgspec.DecodeError, RecursionError):
            raise ApiProblem(400, "bad_json") from None
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise ApiProblem(400, "bad_body")
        if len(items) > ITEMS_MAX:
            raise ApiProblem(413, "too_many_items", limit=ITEMS_MAX)
        return Batch(items=items)

    def decode_builtins(self, value: Any) -> Batch:
        raise ApiProblem(400, "bad_body")


def _body_of(kind: RowKind) -> type[BatchBody]:
    return type(f"{kind.name.title()}Body", (BatchBody,), {"row_kind": kind, "model_type": Batch})


def _limit(maximum: Decimal | None) -> int | None:
    return None if maximum is None else int(maximum)


def _column_schema(column: Column) -> Schema:
    nullable = [] if column.required else [Schema(type=OpenAPIType.NULL)]
    description = column.description
    if column.type == "decimal":
        places = f"at most {column.scale} decimal places"
        sign = {"any": "", "not_negative": ", not negative", "positive": ", more than 0"}
        description += f" A decimal number ({places}{sign[column.sign]}), as a JSON number or "
        description += 'a string such as "1234.56" (a comma is also taken as the decimal point).'
        number = Schema(type=OpenAPIType.NUMBER, maximum=_limit(column.maximum))
        if column.sign == "not_negative":
            number.minimum = 0
        if column.sign == "positive":
            number.exclusive_minimum = 0
        text = Schema(type=OpenAPIType.STRING, pattern=DECIMAL_TEXT)
        return Schema(one_of=[number, text, *nullable], description=description)
    shapes: dict[str, Schema] = {
        "text": Schema(
            type=OpenAPIType.STRING,
            max_length=column.max_length,
            min_length=1 if column.required else None,
        ),
        "choice": Schema(type=OpenAPIType.STRING, enum=list(column.choices)),
        "integer": Schema(type=OpenAPIType.INTEGER, minimum=0, maximum=_limit(column.maximum)),
        "flag": Schema(type=OpenAPIType.BOOLEAN),
        "period": Schema(type=OpenAPIType.STRING, pattern=PERIOD_TEXT, examples=["2026-11"]),
        "date": Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.DATE, pattern=DATE_TEXT),
        "moment": Schema(
            type=OpenAPIType.STRING,
            format=OpenAPIFormat.DATE_TIME,
            description="ISO 8601; without an offset, the time is in the utility's time zone.",
        ),
    }
    shape = shapes[column.type]
    if not nullable:
        shape.description = " ".join(filter(None, [description, shape.description]))
        return shape
    return Schema(one_of=[shape, *nullable], description=description)


def _batch_schema(kind: RowKind) -> Schema:
    item = Schema(
        type=OpenAPIType.OBJECT,
        properties={column.name: _column_schema(column) for column in kind.columns},
        required=kind.required,
        additional_properties=False,
        title=f"{kind.name.title()}Item",
    )
    return Schema(
        type=OpenAPIType.OBJECT,
        properties={"items": Schema(type=OpenAPIType.ARRAY, items=item, max_items=ITEMS_MAX)},
        required=["items"],
        title=f"{kind.name.title()}Batch",
    )


# --- authentication and errors -----------------------------------------------------------------


async def require_api_key(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """A guard: runs before the body is read, so a caller without a key costs nothing."""
    request: Request[Any, Any, Any] = connection  # type: ignore[assignment]
    tenant_id = tenant_id_of(request)
    scheme, _space, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ApiProblem(401, "unauthorized")
    async with request.app.state.portal.database.session() as session:
        found = await authenticate_api_key(
            session, tenant_id=tenant_id, key=key.strip(), now=now(request)
        )
    if found is None:
        raise ApiProblem(401, "unauthorized")


def _error(request: Request[Any, Any, Any], status: int, code: str, **params: Any) -> Response[Any]:
    translate: Translator = request.scope.get("state", {}).get("i18n") or Translator("en")
    text = problem_text(translate, code, params, _API_MESSAGES)
    details = params.get("details")
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    return Response(
        ApiError(code=code, error=text, details=details), status_code=status, headers=headers
    )


def _on_problem(request: Request[Any, Any, Any], problem: ApiProblem) -> Response[Any]:
    return _error(request, problem.status, problem.code, **problem.params)


def _on_invalid(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    extra = exc.extra if isinstance(exc.extra, list) else []
    details = [
        ApiErrorDetail(key=str(item.get("key", "")), message=str(item.get("message", "")))
        for item in extra
        if isinstance(item, dict)
    ]
    return _error(request, 400, "invalid_request", details=details or None)


def _on_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    codes = {404: "not_found", 413: "too_large"}
    return _error(request, exc.status_code, codes.get(exc.status_code, "rejected"))


def _on_crash(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("billing API error on %s", request.url.path, exc_info=exc)
    return _error(request, 500, "internal")


# --- importing ------------------------------------------------------------------------------

Mode = Annotated[
    Literal["all", "valid_only"],
    Parameter(
        description='"all" (the default): if any item is refused, nothing is written. '
        '"valid_only": the valid items are written and the others reported.'
    ),
]

_ERRORS = {
    400: ResponseSpec(data_container=ApiError, description="The body or a parameter is not valid."),
    401: ResponseSpec(data_container=ApiError, description="No valid key of this utility."),
    413: ResponseSpec(data_container=ApiError, description="More than 10,000 items."),
}
_EXPORT_ERRORS = {
    400: ResponseSpec(data_container=ApiError, description="A bad cursor or limit."),
    401: _ERRORS[401],
}
_BATCH_ERRORS = {
    **_ERRORS,
    422: ResponseSpec(
        data_container=BatchResult,
        description='Mode "all" and some items were refused: nothing was written.',
    ),
}


async def _upsert(
    request: Request[Any, Any, Any], kind: RowKind, data: Batch, mode: str
) -> Response[BatchResult]:
    translate = i18n(request)
    async with request.app.state.portal.database.session() as session:
        outcome = await upsert_batch(
            session,
            tenant_id=tenant_id_of(request),
            kind=kind,
            rows=list(enumerate(data.items)),
            timezone=tenant_of(request).timezone,
            valid_only=mode == "valid_only",
            now=now(request),
        )
        if outcome.written:
            await session.commit()
    counts = outcome.counts
    result = BatchResult(
        mode="valid_only" if mode == "valid_only" else "all",
        written=outcome.written,
        received=len(data.items),
        inserted=counts.inserted,
        updated=counts.updated,
        unchanged=counts.unchanged,
        failed=counts.failed,
        errors=[_item_error(problem, translate) for problem in outcome.problems[:ERRORS_SHOWN]],
        errors_truncated=len(outcome.problems) > ERRORS_SHOWN,
    )
    return Response(result, status_code=200 if outcome.written else 422)


def _item_error(problem: Problem, translate: Translator) -> ItemError:
    return ItemError(
        index=problem.row,
        field=problem.field,
        code=problem.code,
        message=problem_text(translate, problem.code, problem.params),
    )


_UPSERT_NOTE = (
    "Send up to 10,000 items; each is inserted or updated by its natural key, so sending "
    "the same batch again is safe. A field left out of an item keeps its stored value; "
    "a field given as null is reset to its default. Items are checked one by one: the "
    "response lists each refused item with its index, field, code and message."
)


@put(
    "/accounts",
    dto=_body_of(KINDS["accounts"]),
    return_dto=None,
    summary="Insert or update accounts",
    description="Accounts by their number. " + _UPSERT_NOTE,
    responses=_BATCH_ERRORS,
)
async def put_accounts(
    request: Request[Any, Any, Any], data: JSONBody[Batch], mode: Mode = "all"
) -> Response[BatchResult]:
    return await _upsert(request, KINDS["accounts"], data, mode)


@put(
    "/meters",
    dto=_body_of(KINDS["meters"]),
    return_dto=None,
    summary="Insert or update meters",
    description="Meters by account number and factory number. " + _UPSERT_NOTE,
    responses=_BATCH_ERRORS,
)
async def put_meters(
    request: Request[Any, Any, Any], data: JSONBody[Batch], mode: Mode = "all"
) -> Response[BatchResult]:
    return await _upsert(request, KINDS["meters"], data, mode)


@put(
    "/charges",
    dto=_body_of(KINDS["charges"]),
    return_dto=None,
    summary="Insert or update charges",
    description="Bill lines by account number, period and service. " + _UPSERT_NOTE,
    responses=_BATCH_ERRORS,
)
async def put_charges(
    request: Request[Any, Any, Any], data: JSONBody[Batch], mode: Mode = "all"
) -> Response[BatchResult]:
    return await _upsert(request, KINDS["charges"], data, mode)


@put(
    "/payments",
    dto=_body_of(KINDS["payments"]),
    return_dto=None,
    summary="Record payments",
    description="Payments by provider and reference; each is credited once. A payment "
    "already recorded keeps its amount and account: sending it with another one is "
    "refused (code payment_differs). " + _UPSERT_NOTE,
    responses=_BATCH_ERRORS,
)
async def put_payments(
    request: Request[Any, Any, Any], data: JSONBody[Batch], mode: Mode = "all"
) -> Response[BatchResult]:
    return await _upsert(request, KINDS["payments"], data, mode)


@put(
    "/usage-sessions",
    dto=_body_of(KINDS["usage"]),
    return_dto=None,
    summary="Insert or update broadband usage sessions",
    description="Sessions by account number and start time. " + _UPSERT_NOTE,
    responses=_BATCH_ERRORS,
)
async def put_usage_sessions(
    request: Request[Any, Any, Any], data: JSONBody[Batch], mode: Mode = "all"
) -> Response[BatchResult]:
    return await _upsert(request, KINDS["usage"], data, mode)


# --- exporting ------------------------------------------------------------------------------

CursorParam = Annotated[
    str | None,
    Parameter(
        max_length=200,
        description="The next_cursor of the previous page; leave out to start from the beginning.",
    ),
]
Limit = Annotated[int, Parameter(ge=1, le=PAGE_MAX, description="Items per page.")]
_EXPORT_NOTE = (
    "Oldest change first. Keep the next_cursor of each page and pass it on the next call: "
    "you get what changed after that page, and a row changed again appears again. Changes "
    "of the last few seconds appear on a later call, so no page skips a row still being "
    "written. An empty page means you are up to date."
)


def _cursor(text: str | None) -> Cursor | None:
    if not text:
        return None
    try:
        return Cursor.decode(text)
    except BadCursor:
        raise ApiProblem(400, "bad_cursor") from None


def _text_of(value: Any) -> str | None:
    return None if value is None else str(value)


def _reading_out(reading: ExportedReading) -> ReadingOut:
    return ReadingOut(
        id=reading.id,
        account_number=reading.account_number,
        meter_factory_number=reading.meter_factory_number,
        meter_service=reading.meter_service,
        period=f"{reading.period:%Y-%m}",
        value=str(reading.value),
        taken_on=reading.taken_on.isoformat(),
        source=reading.source,  # type: ignore[arg-type]
        status=reading.status,
        submitted_at=reading.submitted_at.isoformat(),
    )


def _request_out(item: ExportedRequest) -> RequestOut:
    return RequestOut(
        type=item.type,  # type: ignore[arg-type]
        id=item.id,
        kind=item.kind,
        status=item.status,
        created_at=item.created_at.isoformat(),
        changed_at=item.changed_at.isoformat(),
        account_number=item.account_number,
        phone=item.phone,
        full_name=item.full_name,
        meter_number=item.meter_number,
        value=_text_of(item.value),
        visit_date=_text_of(item.visit_date),
        slot=item.slot,
        notes=item.notes,
        status_note=item.status_note,
        new_plan=item.new_plan,
        effective_on=_text_of(item.effective_on),
    )


@get(
    "/readings",
    summary="Meter readings since a cursor",
    description="Readings as submitted (or submitted again). " + _EXPORT_NOTE,
    responses=_EXPORT_ERRORS,
)
async def get_readings(
    request: Request[Any, Any, Any], cursor: CursorParam = None, limit: Limit = 100
) -> ReadingPage:
    position = _cursor(cursor)
    async with request.app.state.portal.database.session() as session:
        items, following = await readings_since(
            session, tenant_id=tenant_id_of(request), cursor=position, limit=limit, now=now(request)
        )
    return ReadingPage(
        items=[_reading_out(item) for item in items],
        next_cursor=following.encode() if following else None,
    )


@get(
    "/requests",
    summary="Requests since a cursor",
    description="Visit requests, broadband requests and readings sent without signing in, "
    "as created or changed. " + _EXPORT_NOTE,
    responses=_EXPORT_ERRORS,
)
async def get_requests(
    request: Request[Any, Any, Any], cursor: CursorParam = None, limit: Limit = 100
) -> RequestPage:
    position = _cursor(cursor)
    async with request.app.state.portal.database.session() as session:
        items, following = await requests_since(
            session, tenant_id=tenant_id_of(request), cursor=position, limit=limit, now=now(request)
        )
    return RequestPage(
        items=[_request_out(item) for item in items],
        next_cursor=following.encode() if following else None,
    )


routes: list[Any] = [
    Router(
        path="/api/v1",
        route_handlers=[
            put_accounts,
            put_meters,
            put_charges,
            put_payments,
            put_usage_sessions,
            get_readings,
            get_requests,
        ],
        include_in_schema=True,
        security=[{"apiKey": []}],
        guards=[require_api_key],
        exception_handlers={
            ApiProblem: _on_problem,
            ValidationException: _on_invalid,
            # The app answers these with pages; the API answers every error with JSON.
            NotFoundException: _on_http,
            HTTPException: _on_http,
            Exception: _on_crash,
        },
        request_max_body_size=BODY_MAX,
        tags=["Billing"],
    )
]
