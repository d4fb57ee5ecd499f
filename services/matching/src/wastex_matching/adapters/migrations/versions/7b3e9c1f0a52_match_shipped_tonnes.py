"""match shipped tonnes

A CONFIRMED match records the tonnes its shipment left with (`ledger.shipment-dispatched`):
from then on it holds min(tonnes, shipped_tonnes) of its offer, its demand and its
licence's year, and the shortfall goes back (decision 032). Matches stored before hold
their planned tonnes as they did (null). A downgrade drops the column: shipped matches then
hold their planned tonnes again in matching (the catalog keeps what it gave back).

Revision ID: 7b3e9c1f0a52
Revises: 4e2c3bca3fcd
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "7b3e9c1f0a52"
down_revision: str | Sequence[str] | None = "4e2c3bca3fcd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("shipped_tonnes", sa.Numeric(14, 3), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.drop_column("shipped_tonnes")
