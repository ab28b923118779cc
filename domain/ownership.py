"""Which accounts and meters a customer may see: only those linked to them, in their tenant.

Every cabinet page goes through these, so an account or meter id typed into a URL or a
form that belongs to someone else finds nothing, exactly like an id that does not exist.
"""

from __future__ import annotations

from sqlmodel import select
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
        select(Account, AccountLink)
        .join(AccountLink, AccountLink.account_id == Account.id)  # type: ignore[arg-type]
        .where(
            AccountLink.customer_id == customer_id,
            AccountLink.tenant_id == tenant_id,
            Account.tenant_id == tenant_id,
        )
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
    row = (
        await session.exec(
            select(Account, AccountLink)
            .join(AccountLink, AccountLink.account_id == Account.id)  # type: ignore[arg-type]
            .where(
                Account.id == account_id,
                Account.tenant_id == tenant_id,
                AccountLink.customer_id == customer_id,
            )
        )
    ).first()
    return (row[0], row[1]) if row else None


async def meters_of(session: AsyncSession, *, tenant_id: int, account_id: int) -> list[Meter]:
    """An account's meters, installed first, then by service and id (a stable order)."""
    meters = (
        await session.exec(
            select(Meter).where(Meter.tenant_id == tenant_id, Meter.account_id == account_id)
        )
    ).all()
    return sorted(meters, key=lambda m: (m.state != "installed", m.service, m.id or 0))
