"""site amendments

A site's name, district or coordinates are corrected (decision 026): `sites.version` counts
its versions (1 when added), `site_versions` keeps each, with why, when and by whom, and
`site_register` counts the amendments ever made, which tells each catalog process when the
sites it keeps are stale. Existing sites get version 1 as they stand, at their addition, by
nobody known. A downgrade drops all three (amended sites keep their latest values).

Revision ID: e5b8c1d9a374
Revises: c4e1a7d2b9f0
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "e5b8c1d9a374"
down_revision: str | Sequence[str] | None = "c4e1a7d2b9f0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("version", sa.Integer(), nullable=False, server_default="1")
        )
    op.create_table(
        "site_versions",
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.Text(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("district", sa.String(length=100), nullable=False),
        sa.Column("latitude", sa.Numeric(precision=9, scale=6), nullable=False),
        sa.Column("longitude", sa.Numeric(precision=10, scale=6), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
            name=op.f("fk_site_versions_site_id_sites"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("site_id", "version", name=op.f("pk_site_versions")),
    )
    op.execute(
        "INSERT INTO site_versions "
        "(site_id, version, reason, changed_at, changed_by, name, district, latitude, longitude) "
        "SELECT id, 1, NULL, created_at, NULL, name, district, latitude, longitude FROM sites"
    )
    op.create_table(
        "site_register",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("amendments", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_register")),
    )
    op.execute("INSERT INTO site_register (id, amendments) VALUES (1, 0)")


def downgrade() -> None:
    op.drop_table("site_register")
    op.drop_table("site_versions")
    # A plain ALTER (SQLite 3.35+ drops a column in place): a batch would rebuild the table
    # that offers and demands refer to, which SQLite's foreign keys refuse.
    op.drop_column("sites", "version")
