"""waiting reports

A report read from Kafka that names a site the ledger does not know yet waits for the
site's fact in `waiting_reports` (decision 029) instead of being parked UNKNOWN_SITE. No
report waits before this version: the table starts empty.

A downgrade drops the table, but only while no report waits: the previous version knows
nothing of them, and each one's message was consumed and marked handled, so dropping them
would lose them. It refuses; let the reports be booked (their sites' facts) or parked (the
wait running out) first, or re-send them after the downgrade.

Revision ID: 4acfd723d67d
Revises: d268a1967a9c
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "4acfd723d67d"
down_revision: str | Sequence[str] | None = "d268a1967a9c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "waiting_reports",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("envelope", sa.LargeBinary(), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("kafka_partition", sa.Integer(), nullable=False),
        sa.Column("kafka_offset", sa.BigInteger(), nullable=False),
        sa.Column("kafka_key", sa.String(length=200), nullable=False),
        sa.Column("headers", sa.Text(), nullable=False),
        sa.Column("parked_id", sa.String(length=64), nullable=False),
        sa.Column("authenticated", sa.String(length=200), nullable=True),
        sa.Column("arrived_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("reference"),
    )
    op.create_index(
        "ix_waiting_reports_arrived_at_us", "waiting_reports", ["arrived_at_us"], unique=False
    )
    op.create_index("ix_waiting_reports_site_id", "waiting_reports", ["site_id"], unique=False)


def downgrade() -> None:
    waiting = sa.table("waiting_reports", sa.column("id"))
    found = op.get_bind().execute(sa.select(sa.func.count()).select_from(waiting))
    held = int(found.scalar_one())
    if held:
        raise RuntimeError(
            f"{held} reports wait for their site; the previous version cannot keep them and "
            "their messages were consumed, so the ledger stays at this version until they "
            "are booked or parked"
        )
    op.drop_index("ix_waiting_reports_site_id", table_name="waiting_reports")
    op.drop_index("ix_waiting_reports_arrived_at_us", table_name="waiting_reports")
    op.drop_table("waiting_reports")
