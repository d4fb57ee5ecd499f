"""demand awaits renewal

A demand whose holder's licences run out on their term before its window ends (a lapse,
not a revocation) stays on the market for the catalog's grace days after it, waiting for a
renewal (decision 034): the last such day is kept (`Demand.awaits_renewal_until`). Existing
demands have none: theirs is set at their holder's next licence change. A downgrade drops
the column (such a demand then expires after its last licensed day, as before).

Revision ID: b7d3e9a1c2f4
Revises: e5b8c1d9a374
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "b7d3e9a1c2f4"
down_revision: str | Sequence[str] | None = "e5b8c1d9a374"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("demands", schema=None) as batch_op:
        batch_op.add_column(sa.Column("awaits_renewal_until", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("demands", schema=None) as batch_op:
        batch_op.drop_column("awaits_renewal_until")
