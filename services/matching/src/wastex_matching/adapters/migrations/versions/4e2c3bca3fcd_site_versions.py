"""site versions

The sites read model keeps the catalog's version of each site (an amendment and the site's
addition travel on two topics; the highest version wins, decision 026); rows stored before
are version 1. A downgrade drops the column.

Revision ID: 4e2c3bca3fcd
Revises: 5a7c2e9d4b13
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "4e2c3bca3fcd"
down_revision: str | Sequence[str] | None = "5a7c2e9d4b13"
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
