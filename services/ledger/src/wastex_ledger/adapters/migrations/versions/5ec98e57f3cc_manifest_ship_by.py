"""manifest ship by

A manifest keeps the last day of its match's shipping window (`ship_by`, from
`matching.match-confirmed`): still CREATED after it, it is overdue. Manifests opened before
have none (never overdue). A downgrade drops the column.

Revision ID: 5ec98e57f3cc
Revises: 1f5bc4151150
Create Date: 2026-11-27

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "5ec98e57f3cc"
down_revision: str | Sequence[str] | None = "1f5bc4151150"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("manifests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ship_by", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("manifests", schema=None) as batch_op:
        batch_op.drop_column("ship_by")
