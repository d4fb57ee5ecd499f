"""enterprise versions

The enterprises read model keeps the catalog's version of each enterprise (an amendment and
its registration travel on two topics; the highest version wins, decision 025); rows stored
before are version 1. The sites' `industry`, a copy of their enterprise's that nothing here
reads and an amendment would leave stale, is dropped. A downgrade restores both as they were
(the sites' industry empty).

Revision ID: 5a7c2e9d4b13
Revises: 84f5771113ff
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "5a7c2e9d4b13"
down_revision: str | Sequence[str] | None = "84f5771113ff"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("enterprises", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_column("industry")


def downgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("industry", sa.String(length=16), nullable=False, server_default="")
        )
    with op.batch_alter_table("enterprises", schema=None) as batch_op:
        batch_op.drop_column("version")
