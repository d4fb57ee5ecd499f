"""licence amendments and revocation

Licences can be amended and revoked (decision 017): the day a revocation takes effect, its
reason, and a version every change raises. Existing licences are version 1, not revoked. A
downgrade ends a revoked licence the day before its revocation (the previous version knows
validity only; one revoked before it began keeps one day and no code) and drops the columns.

Revision ID: 9970e9174d99
Revises: 3bf29fe499d6
Create Date: 2026-11-27 20:36:02.001182

"""

from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "9970e9174d99"
down_revision: str | Sequence[str] | None = "3bf29fe499d6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("licences", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revoked_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("revocation_reason", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))


def downgrade() -> None:
    licences = sa.table(
        "licences",
        sa.column("id", sa.String()),
        sa.column("valid_from", sa.Date()),
        sa.column("valid_until", sa.Date()),
        sa.column("waste_codes", sa.JSON()),
        sa.column("revoked_on", sa.Date()),
    )
    bind = op.get_bind()
    revoked = bind.execute(
        sa.select(
            licences.c.id, licences.c.valid_from, licences.c.valid_until, licences.c.revoked_on
        ).where(licences.c.revoked_on.is_not(None))
    ).all()
    for ident, valid_from, valid_until, revoked_on in revoked:
        last_day = min(valid_until, revoked_on - timedelta(days=1))
        values: dict[str, object] = {"valid_until": last_day}
        if last_day < valid_from:
            # Revoked before it began: the previous version refuses an inverted validity, so
            # the licence keeps one day and lists no code (it never covers anything).
            values.update(valid_from=last_day, waste_codes=[])
        bind.execute(sa.update(licences).where(licences.c.id == ident).values(**values))
    with op.batch_alter_table("licences", schema=None) as batch_op:
        batch_op.drop_column("version")
        batch_op.drop_column("revocation_reason")
        batch_op.drop_column("revoked_on")
