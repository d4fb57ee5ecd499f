"""site enterprise version

Each site of the ledger's read model keeps the version of its enterprise whose industry and
registered district it carries (decision 025): a registration read after a site fact that
already carries an amendment no longer takes the site back to the registered values.
Existing sites carry their enterprise's latest values (the amendments read so far were
copied to them), so they take its version; a site whose enterprise is not known, 1. A
downgrade drops the column.

Revision ID: 9b2e4d7a1c58
Revises: 3d9b6f0e2a51
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "9b2e4d7a1c58"
down_revision: str | Sequence[str] | None = "3d9b6f0e2a51"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("enterprise_version", sa.Integer(), nullable=False, server_default="1")
        )
    op.execute(
        "UPDATE sites SET enterprise_version = (SELECT e.version FROM enterprises e"
        " WHERE e.enterprise_id = sites.enterprise_id)"
        " WHERE EXISTS (SELECT 1 FROM enterprises e WHERE e.enterprise_id = sites.enterprise_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_column("enterprise_version")
