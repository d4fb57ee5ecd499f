"""licences read model

The ledger keeps the recyclers' licences (`catalog.licence-registered` / `-amended`, the
latest version of each) and a manifest the licence its match's tonnes count against: a
shipment no licence allows cannot leave, and a revocation calls off the ones it cuts for
good (decision 023). Manifests opened before have no licence and are not judged; the
consumer group reads the licence topics from their beginning when it first subscribes to
them, so the read model fills itself. A downgrade drops both; after upgrading again the
group's offsets are past the facts: `wastex replay ledger` re-reads them.

Revision ID: b6cef00fe710
Revises: 5ec98e57f3cc
Create Date: 2026-11-28

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "b6cef00fe710"
down_revision: str | Sequence[str] | None = "5ec98e57f3cc"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "licences",
        sa.Column("licence_id", sa.String(length=64), nullable=False),
        sa.Column("enterprise_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.String(length=100), nullable=False),
        sa.Column("waste_codes", sa.JSON(), nullable=False),
        sa.Column("licence_type", sa.String(length=40), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("revoked_on", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("licence_id"),
    )
    op.create_index("ix_licences_enterprise_id", "licences", ["enterprise_id"])
    with op.batch_alter_table("manifests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("licence_id", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_manifests_licence_id", ["licence_id"])


def downgrade() -> None:
    with op.batch_alter_table("manifests", schema=None) as batch_op:
        batch_op.drop_index("ix_manifests_licence_id")
        batch_op.drop_column("licence_id")
    op.drop_index("ix_licences_enterprise_id", table_name="licences")
    op.drop_table("licences")
