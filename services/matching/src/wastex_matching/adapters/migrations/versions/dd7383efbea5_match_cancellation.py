"""match cancellation

A CONFIRMED match whose shipment a party called off in the ledger before it left is
CANCELLED, with the party and its reason. A downgrade turns CANCELLED matches into REJECTED
ones with that party and reason (the previous version's nearest terminal state: it gives
the tonnes back alike) and drops the columns.

Revision ID: dd7383efbea5
Revises: c8750f88a0fa
Create Date: 2026-11-27

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "dd7383efbea5"
down_revision: str | Sequence[str] | None = "c8750f88a0fa"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cancelled_by", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("cancel_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    op.execute(
        "UPDATE matches SET status = 'REJECTED', rejected_by = cancelled_by,"
        " rejection_reason = cancel_reason WHERE status = 'CANCELLED'"
    )
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.drop_column("cancel_reason")
        batch_op.drop_column("cancelled_by")
