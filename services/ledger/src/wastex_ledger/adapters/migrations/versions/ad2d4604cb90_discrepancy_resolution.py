"""discrepancy resolution

A manifest's weight discrepancy can be resolved by its two parties (decision 016): six
nullable columns hold the cause, the notes and who proposed and agreed when. Existing
manifests have none. A downgrade drops them and turns RESOLVED manifests back into open
discrepancies, the only state the previous version knows for a gap over the tolerance.

Revision ID: ad2d4604cb90
Revises: 829130b02bd6
Create Date: 2026-11-27 20:26:38.015070

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "ad2d4604cb90"
down_revision: str | Sequence[str] | None = "829130b02bd6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("manifests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("gap_cause", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("gap_note", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("gap_proposed_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("gap_proposed_at_us", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("gap_agreed_note", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("gap_agreed_at_us", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.execute("UPDATE manifests SET status = 'DISCREPANCY' WHERE status = 'RESOLVED'")
    with op.batch_alter_table("manifests", schema=None) as batch_op:
        batch_op.drop_column("gap_agreed_at_us")
        batch_op.drop_column("gap_agreed_note")
        batch_op.drop_column("gap_proposed_at_us")
        batch_op.drop_column("gap_proposed_by")
        batch_op.drop_column("gap_note")
        batch_op.drop_column("gap_cause")
