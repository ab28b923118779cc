"""Which accounts and meters a customer may see: only those linked to them, in their tenant.

Every cabinet page goes through these, so an account or meter id typed into a URL or a
form that belongs to someone else finds nothing, exactly like an id that does not exist.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.models import Account, AccountLink, Meter

# Row ids are 32-bit integers (INTEGER primary keys: PostgreSQL's int4). A larger number
# typed into a URL or a form is no row at all, and must not reach the database, which would
# refuse to compare it with the column (a 500, not a 404).
_ROW_ID_LIMIT = 2**31


def is_row_id(value: int) -> bool:
    return 0 < value < _ROW_ID_LIMIT


async def linked_accounts(
    session: AsyncSession, *, tenant_id: int, customer_id: int
) -> list[tuple[Account, AccountLink]]:
    """The customer's accounts with their links (nicknames), in account-number order."""
    rows = await session.exec(
        _LINKED_ACCOUNTS, params={"tenant_id": tenant_id, "customer_id": customer_id}
    )
    # Sorted here, not in SQL: an ORDER BY account.number lures SQLite into walking every
    # account of the tenant in number order instead of starting from the customer's links.
    return sorted(rows.all(), key=lambda row: row[0].number)


async def linked_account(
    session: AsyncSession, *, tenant_id: int, customer_id: int, account_id: int
) -> tuple[Account, AccountLink] | None:
    """One of the customer's accounts, or None when it is not theirs or does not exist."""
    if not is_row_id(account_id):
        return None
    params = {"tenant_id": tenant_id, "customer_id": customer_id, "account_id": account_id}
    row = (await session.exec(_LINKED_ACCOUNT, params=params)).first()
    return (row[0], row[1]) if row else None


async def meters_of(session: AsyncSession, *, tenant_id: int, account_id: int) -> list[Meter]:
    """An account's meters, installed first, then by service and id (a stable order)."""
    params = {"tenant_id": tenant_id, "account_id": account_id}
    meters = (await session.exec(_METERS_OF, params=params)).all()
    return sorted(meters, key=meter_order)


def meter_order(meter: Meter) -> tuple[bool, str, int]:
    """Installed meters first, then by service and id: the order every page lists them in."""
    return (meter.state != "installed", meter.service, meter.id or 0)


# The statements every cabinet page runs, built once (building one costs more CPU than
# running it); the values are bound on each use.
_TENANT: Any = bindparam("tenant_id")
_LINKED: Any = select(Account, AccountLink).join(
    AccountLink, col(AccountLink.account_id) == col(Account.id)
)
_LINKED_ACCOUNTS: Any = _LINKED.where(
    col(AccountLink.customer_id) == bindparam("customer_id"),
    col(AccountLink.tenant_id) == _TENANT,
    col(Account.tenant_id) == _TENANT,
)
_LINKED_ACCOUNT: Any = _LINKED.where(
    col(Account.id) == bindparam("account_id"),
    col(Account.tenant_id) == _TENANT,
    col(AccountLink.customer_id) == bindparam("customer_id"),
)
_METERS_OF: Any = select(Meter).where(
    col(Meter.tenant_id) == _TENANT, col(Meter.account_id) == bindparam("account_id")
)
