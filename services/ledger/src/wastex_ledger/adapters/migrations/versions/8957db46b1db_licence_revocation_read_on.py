"""the day the ledger first read a licence's revocation

A revocation's grace days count from its first day or from the day the ledger read it,
whichever is later (decision 023): a ledger catching up on a backlog still gives a
successor's registration, on the other licence topic, its grace days to be read.
Revocations stored before count as read on their first day, as before.

Revision ID: 8957db46b1db
Revises: e13cb6ab9569
Create Date: 2026-11-28

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "8957db46b1db"
down_revision: str | Sequence[str] | None = "e13cb6ab9569"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("licences", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revocation_read_on", sa.Date(), nullable=True))
    op.execute(
        "UPDATE licences SET revocation_read_on = revoked_on WHERE revoked_on IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("licences", schema=None) as batch_op:
        batch_op.drop_column("revocation_read_on")
