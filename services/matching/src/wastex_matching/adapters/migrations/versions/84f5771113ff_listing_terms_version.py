"""listing terms version

Offers and demands keep the catalog's version of their terms (1 when posted, more once
amended), so a posting read after an amendment of the same listing (another topic) does not
undo it. Existing rows are version 1: every listing was as posted before amendments. A
downgrade drops the columns; the rows keep the terms they have.

Revision ID: 84f5771113ff
Revises: dd7383efbea5
Create Date: 2026-11-28

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "84f5771113ff"
down_revision: str | Sequence[str] | None = "dd7383efbea5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LISTINGS = ("offers", "demands")


def upgrade() -> None:
    for table in LISTINGS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("terms_version", sa.Integer(), server_default="1", nullable=False)
            )


def downgrade() -> None:
    for table in LISTINGS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("terms_version")
