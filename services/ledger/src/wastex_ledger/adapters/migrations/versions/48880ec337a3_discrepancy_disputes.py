"""discrepancy disputes

When the parties of a discrepancy first named different causes (`gap_disputed_at_us`: the
discrepancy is then DISPUTED until they agree). Existing proposals were kept without the
answer they replaced, so none is known to be disputed. A downgrade drops the column.

Revision ID: 48880ec337a3
Revises: ad2d4604cb90
Create Date: 2026-11-27 23:01:37.925054

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "48880ec337a3"
down_revision: str | Sequence[str] | None = "ad2d4604cb90"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("manifests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("gap_disputed_at_us", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("manifests", schema=None) as batch_op:
        batch_op.drop_column("gap_disputed_at_us")
