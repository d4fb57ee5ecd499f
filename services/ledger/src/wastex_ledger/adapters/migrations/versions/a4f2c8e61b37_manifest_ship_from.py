"""manifest ship from

A manifest keeps the first day of its match's shipping window (`ship_from`, from
`matching.match-confirmed`'s `windowFrom`): its shipment may not leave before it (decision
037). Manifests opened before have none and may leave any day, as before. A downgrade drops
the column.

Revision ID: a4f2c8e61b37
Revises: 5d1e0c7b9a24
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "a4f2c8e61b37"
down_revision: str | Sequence[str] | None = "5d1e0c7b9a24"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("manifests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ship_from", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("manifests", schema=None) as batch_op:
        batch_op.drop_column("ship_from")
