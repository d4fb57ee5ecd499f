"""licence versions

The licence read model keeps the catalog's version of each licence (decision 017), so an
amendment read before the registration it amends is not overwritten by it. Existing rows
are version 1, as every licence was before amendments.

Revision ID: bec89dba4ed1
Revises: e44fac1db63b
Create Date: 2026-11-27 20:38:38.146231

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "bec89dba4ed1"
down_revision: str | Sequence[str] | None = "e44fac1db63b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("licences", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("licences", schema=None) as batch_op:
        batch_op.drop_column("version")
