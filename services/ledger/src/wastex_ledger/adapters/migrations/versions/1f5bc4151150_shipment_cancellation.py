"""shipment cancellation

A shipment not yet dispatched can be called off by either party (`CANCELLED`): who, why
and when, in three nullable columns. Existing manifests have none. A downgrade turns
CANCELLED manifests back into CREATED ones, the only state the previous version knows
before dispatch (it could dispatch them again, though matching cancelled their matches),
and drops the columns.

Revision ID: 1f5bc4151150
Revises: 48880ec337a3
Create Date: 2026-11-27 23:12:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "1f5bc4151150"
down_revision: str | Sequence[str] | None = "48880ec337a3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("manifests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cancelled_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("cancel_reason", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("cancelled_at_us", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.execute("UPDATE manifests SET status = 'CREATED' WHERE status = 'CANCELLED'")
    with op.batch_alter_table("manifests", schema=None) as batch_op:
        batch_op.drop_column("cancelled_at_us")
        batch_op.drop_column("cancel_reason")
        batch_op.drop_column("cancelled_by")
