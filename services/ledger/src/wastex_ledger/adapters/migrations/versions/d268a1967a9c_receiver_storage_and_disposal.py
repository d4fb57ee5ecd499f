"""receiver storage and disposal

A recycler reports that it stored part of its intake, took it back out of that storage, or
disposed of it (decision 027): the projection keeps two more columns, `received_stored`
(net of what was taken back out) and `received_disposed`. No entry of those kinds exists
before, so every existing row holds 0 in both: exactly what this version would have
written, and nothing is rebuilt.

A downgrade drops the two columns, but only while the journal holds none of the new kinds:
the previous version cannot read such an entry (its kind is unknown to it), and entries are
never deleted, so it refuses rather than leave a journal the previous version breaks on.

Revision ID: d268a1967a9c
Revises: c419b65d0aba
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "d268a1967a9c"
down_revision: str | Sequence[str] | None = "c419b65d0aba"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Frozen here (not read from the live figures module): the columns of this revision.
COLUMNS = ("received_stored", "received_disposed")
#: The entry kinds this revision introduces (`EntryKind` values).
KINDS = ("received_stored", "received_storage_retrieved", "received_disposed")


def upgrade() -> None:
    for name in COLUMNS:
        op.add_column(
            "projection",
            sa.Column(name, sa.BigInteger(), nullable=False, server_default="0"),
        )


def downgrade() -> None:
    entries = sa.table("entries", sa.column("kind"))
    found = op.get_bind().execute(
        sa.select(sa.func.count()).select_from(entries).where(entries.c.kind.in_(KINDS))
    )
    held = int(found.scalar_one())
    if held:
        raise RuntimeError(
            f"the journal holds {held} entries of a receiver's storage or disposal "
            f"({', '.join(KINDS)}), which the previous version cannot read; entries are "
            "never deleted, so the ledger stays at this version"
        )
    # Plain ALTERs (SQLite 3.35+ drops a column in place), as c419b65d0aba.
    for name in reversed(COLUMNS):
        op.drop_column("projection", name)
