"""indexes for tenant-scoped cabinet queries: readings by meter, links by customer

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 03:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_reading_tenant_meter_period", "reading", ["tenant_id", "meter_id", "period"]
    )
    op.create_index("ix_account_link_tenant_customer", "account_link", ["tenant_id", "customer_id"])


def downgrade() -> None:
    op.drop_index("ix_account_link_tenant_customer", table_name="account_link")
    op.drop_index("ix_reading_tenant_meter_period", table_name="reading")
