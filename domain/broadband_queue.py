"""The staff queue of broadband requests: carrying one out on the line, or cancelling it.

Carrying out a request is what the billing side would do on its effective date: a plan
change sets the line's plan; a suspension, resumption or closure sets its status, with
the reason and the date it holds since. Both actions are a compare-and-set on the
request's status, and record their audit entry in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.audit_view import Actor
from domain.broadband import SUBMITTED
from domain.models import Account, BroadbandRequest, BroadbandService, Customer
from domain.ownership import is_row_id

DONE = "done"
CANCELLED = "cancelled"
REASON_MAX = 300
QUEUE_SIZE = 200

# Line status and its reason after each kind of request (a plan change keeps both).
_STATUS_CHANGES: dict[str, tuple[str, str | None]] = {
    "suspend": ("suspended", "voluntary"),
    "resume": ("active", None),
    "close": ("closed", "requested"),
}

Outcome = Literal["done", "cancelled", "stale", "not_found", "no_line"]


@dataclass(frozen=True)
class QueueRow:
    request: BroadbandRequest
    account: Account
    customer: Customer | None


def _rows() -> Any:
    return (
        select(BroadbandRequest, Account, Customer)
        .join(Account, col(Account.id) == BroadbandRequest.account_id)
        .outerjoin(Customer, col(Customer.id) == BroadbandRequest.customer_id)
    )


async def broadband_queue(session: AsyncSession, *, tenant_id: int) -> list[QueueRow]:
    """The tenant's submitted requests, newest first."""
    rows = await session.exec(
        _rows()
        .where(
            BroadbandRequest.tenant_id == tenant_id,
            Account.tenant_id == tenant_id,
            BroadbandRequest.status == SUBMITTED,
        )
        .order_by(col(BroadbandRequest.created_at).desc(), col(BroadbandRequest.id).desc())
        .limit(QUEUE_SIZE)
    )
    return [QueueRow(*row) for row in rows.all()]


async def count_submitted(session: AsyncSession, *, tenant_id: int) -> int:
    count = await session.exec(
        select(func.count())
        .select_from(BroadbandRequest)
        .where(BroadbandRequest.tenant_id == tenant_id, BroadbandRequest.status == SUBMITTED)
    )
    return int(count.one())


async def find_broadband_request(
    session: AsyncSession, *, tenant_id: int, request_id: int
) -> QueueRow | None:
    """One request of this tenant; another tenant's id finds nothing."""
    if not is_row_id(request_id):
        return None
    row = (
        await session.exec(
            _rows()
            .where(
                BroadbandRequest.id == request_id,
                BroadbandRequest.tenant_id == tenant_id,
                Account.tenant_id == tenant_id,
            )
            .execution_options(populate_existing=True)
        )
    ).first()
    return QueueRow(*row) if row else None


def line_facts(service: BroadbandService) -> dict[str, Any]:
    """What the audit entry keeps of a line, before and after."""
    return {
        "plan_key": service.plan_key,
        "status": service.status,
        "status_reason": service.status_reason,
        "status_since": service.status_since.isoformat() if service.status_since else None,
    }


def apply_request(service: BroadbandService, request: BroadbandRequest) -> None:
    """Change the line as the request asks, from its effective date."""
    if request.kind == "plan_change":
        service.plan_key = request.new_plan or service.plan_key
        return
    change = _STATUS_CHANGES.get(request.kind)
    if change is not None:
        service.status, service.status_reason = change
        service.status_since = request.effective_on


async def _claim(
    session: AsyncSession,
    *,
    tenant_id: int,
    request_id: int,
    expected: str,
    status: str,
    note: str | None = None,
) -> bool:
    """Compare-and-set from the status staff saw; only a submitted request moves on."""
    if expected != SUBMITTED:
        return False
    result = await session.exec(
        update(BroadbandRequest)
        .where(
            col(BroadbandRequest.id) == request_id,
            col(BroadbandRequest.tenant_id) == tenant_id,
            col(BroadbandRequest.status) == expected,
        )
        .values(status=status, status_note=note)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0) == 1


async def _unclaimed(session: AsyncSession, tenant_id: int, request_id: int) -> Outcome:
    await session.rollback()
    found = await find_broadband_request(session, tenant_id=tenant_id, request_id=request_id)
    return "not_found" if found is None else "stale"


async def complete_request(
    session: AsyncSession, *, tenant_id: int, request_id: int, expected: str, actor: Actor
) -> Outcome:
    """Mark the request done and apply it to the account's line; commits."""
    if not is_row_id(request_id):
        return "not_found"
    if not await _claim(
        session, tenant_id=tenant_id, request_id=request_id, expected=expected, status=DONE
    ):
        return await _unclaimed(session, tenant_id, request_id)
    row = await find_broadband_request(session, tenant_id=tenant_id, request_id=request_id)
    assert row is not None
    service = (
        await session.exec(
            select(BroadbandService)
            .where(
                BroadbandService.tenant_id == tenant_id,
                BroadbandService.account_id == row.request.account_id,
            )
            .with_for_update()
        )
    ).first()
    if service is None:
        await session.rollback()
        return "no_line"
    before = line_facts(service)
    apply_request(service, row.request)
    session.add(service)
    actor.record(
        session,
        tenant_id=tenant_id,
        action="broadband_request.done",
        target_type="broadband_request",
        target_id=request_id,
        before={"status": expected, **{f"line_{k}": v for k, v in before.items()}},
        after={"status": DONE, **{f"line_{k}": v for k, v in line_facts(service).items()}},
    )
    await session.commit()
    return "done"


async def cancel_request(
    session: AsyncSession,
    *,
    tenant_id: int,
    request_id: int,
    expected: str,
    reason: str,
    actor: Actor,
) -> Outcome:
    """Cancel the request with a reason, shown to the customer and kept in the audit entry;
    commits."""
    if not reason or len(reason) > REASON_MAX:
        raise ValueError("a cancellation needs a reason of at most 300 characters")
    if not is_row_id(request_id):
        return "not_found"
    if not await _claim(
        session,
        tenant_id=tenant_id,
        request_id=request_id,
        expected=expected,
        status=CANCELLED,
        note=reason,
    ):
        return await _unclaimed(session, tenant_id, request_id)
    actor.record(
        session,
        tenant_id=tenant_id,
        action="broadband_request.cancel",
        target_type="broadband_request",
        target_id=request_id,
        before={"status": expected},
        after={"status": CANCELLED, "reason": reason},
    )
    await session.commit()
    return "cancelled"
