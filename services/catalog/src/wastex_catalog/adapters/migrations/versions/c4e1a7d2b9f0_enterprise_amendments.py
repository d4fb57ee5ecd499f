"""enterprise amendments

An admin corrects an enterprise's name, industry or registered district (decision 025):
`enterprises.version` counts its versions (1 when registered), and `enterprise_versions`
keeps each, with why, when and by whom. Existing enterprises get version 1 as they stand,
at their registration, by nobody known. A downgrade drops both (amended enterprises keep
their latest names).

Revision ID: c4e1a7d2b9f0
Revises: 66087a9816ba
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "c4e1a7d2b9f0"
down_revision: str | Sequence[str] | None = "66087a9816ba"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("enterprises", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("version", sa.Integer(), nullable=False, server_default="1")
        )
    op.create_table(
        "enterprise_versions",
        sa.Column("enterprise_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.Text(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("industry", sa.String(length=5), nullable=False),
        sa.Column("district", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_enterprise_versions_enterprise_id_enterprises"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("enterprise_id", "version", name=op.f("pk_enterprise_versions")),
    )
    op.execute(
        "INSERT INTO enterprise_versions "
        "(enterprise_id, version, reason, changed_at, changed_by, name, industry, district) "
        "SELECT id, 1, NULL, created_at, NULL, name, industry, district FROM enterprises"
    )


def downgrade() -> None:
    op.drop_table("enterprise_versions")
    # A plain ALTER (SQLite 3.35+ drops a column in place): a batch would rebuild the table
    # that sites and licences refer to, which SQLite's foreign keys refuse.
    op.drop_column("enterprises", "version")
