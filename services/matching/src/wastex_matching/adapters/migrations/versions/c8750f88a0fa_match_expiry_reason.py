"""match expiry reason

An EXPIRED match says why (decision 017): its shipping window ended, or its licence was
amended or revoked and no longer allows it. Matches expired before have none.

Revision ID: c8750f88a0fa
Revises: bec89dba4ed1
Create Date: 2026-11-27

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "c8750f88a0fa"
down_revision: str | Sequence[str] | None = "bec89dba4ed1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expiry_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.drop_column("expiry_reason")
