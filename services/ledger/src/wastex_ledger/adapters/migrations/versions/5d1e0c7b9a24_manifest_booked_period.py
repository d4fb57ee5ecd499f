"""the month a carried shipment's receipt was booked to

A shipment received after the year it was dispatched to closed is booked to the month of
receipt (decision 036); every balance check of its supplier reads such shipments. They were
found by joining all the supplier's manifests to its entries (which have no index by
manifest): a scan of the enterprise's whole history on every report. The manifest now keeps
the month, under a partial index.

Revision ID: 5d1e0c7b9a24
Revises: 4acfd723d67d
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "5d1e0c7b9a24"
down_revision: str | Sequence[str] | None = "4acfd723d67d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CARRIED = sa.text("booked_period IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("manifests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("booked_period", sa.String(length=7), nullable=True))
        batch_op.create_index(
            "ix_manifests_carried",
            ["supplier_enterprise_id"],
            sqlite_where=CARRIED,
            postgresql_where=CARRIED,
        )
    # Receipts booked so before this revision: the supplier's entry names the month.
    op.execute(
        """
        UPDATE manifests SET booked_period = (
            SELECT e.period FROM entries e
            WHERE e.manifest_id = manifests.id
              AND e.enterprise_id = manifests.supplier_enterprise_id
              AND e.kind = 'transferred_out'
              AND e.period <> manifests.period
            LIMIT 1
        )
        WHERE manifests.received_kilograms IS NOT NULL
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("manifests", schema=None) as batch_op:
        batch_op.drop_index("ix_manifests_carried")
        batch_op.drop_column("booked_period")
