"""demand licensed until

A demand whose holder's licences stop covering it before its window ends (a licence
amended or revoked since it was posted) keeps the last day they cover one of its codes,
and expires after it (`Demand.licensed_until`). Existing demands have none: theirs is set at
their holder's next licence change. A downgrade drops the column (such a demand then stays
on the market to its window's end, as the previous version had it).

Revision ID: 66087a9816ba
Revises: 5b2c41d7e0a3
Create Date: 2026-11-27

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "66087a9816ba"
down_revision: str | Sequence[str] | None = "5b2c41d7e0a3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("demands", schema=None) as batch_op:
        batch_op.add_column(sa.Column("licensed_until", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("demands", schema=None) as batch_op:
        batch_op.drop_column("licensed_until")
