"""enterprise versions

The enterprises read model keeps the version of each enterprise (an amendment and its
registration travel on two topics; the highest version wins, decision 025). Rows stored
before are version 1: an amendment, the first of which is version 2, replaces them. A
downgrade drops the column.

Revision ID: 3d9b6f0e2a51
Revises: 78f529e18ba4
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "3d9b6f0e2a51"
down_revision: str | Sequence[str] | None = "78f529e18ba4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("enterprises", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("enterprises", schema=None) as batch_op:
        batch_op.drop_column("version")
