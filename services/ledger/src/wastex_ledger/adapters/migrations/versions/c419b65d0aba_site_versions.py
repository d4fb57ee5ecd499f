"""site versions

Each site of the ledger's read model keeps its own version (decision 026): an amendment and
the site's addition travel on two topics, and the highest version's name and district are
kept whichever is read first. Sites stored before are version 1: an amendment, the first of
which is version 2, replaces their name and district. A downgrade drops the column.

Revision ID: c419b65d0aba
Revises: c7e3a9f14d62
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "c419b65d0aba"
down_revision: str | Sequence[str] | None = "c7e3a9f14d62"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "sites", sa.Column("version", sa.Integer(), nullable=False, server_default="1")
    )


def downgrade() -> None:
    # A plain ALTER (SQLite 3.35+ drops a column in place), as the catalog's c4e1a7d2b9f0:
    # a batch would rebuild the table, which SQLite's foreign keys refuse once any refers
    # to it.
    op.drop_column("sites", "version")
