"""the codes a licence's later version no longer lists

An amendment that drops a code from a recycler's licence cuts that code's shipments not yet
dispatched as a revocation does, after the same grace days, counted from the day the ledger
first read a version without the code (decision 023's update). Licences stored before have
none recorded: their earlier codes are not known, so nothing they dropped before is cut.

Revision ID: 78f529e18ba4
Revises: 8957db46b1db
Create Date: 2026-11-28

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "78f529e18ba4"
down_revision: str | Sequence[str] | None = "8957db46b1db"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("licences", schema=None) as batch_op:
        batch_op.add_column(sa.Column("codes_dropped", sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("licences", schema=None) as batch_op:
        batch_op.drop_column("codes_dropped")
