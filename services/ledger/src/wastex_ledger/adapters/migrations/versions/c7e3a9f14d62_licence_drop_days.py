"""licence drop days

Each code dropped from a licence keeps two days (decision 023's update of 2026-11-29): the
day the catalog made the version without it (the event's time) and the day the ledger first
read that version. Before, only the day read was kept, so whether a manifest opened in
between was called off depended on the ledger's lag. A drop stored before keeps its one day
as both; a downgrade keeps the day read.

Revision ID: c7e3a9f14d62
Revises: 9b2e4d7a1c58
Create Date: 2026-11-29

"""

import json
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "c7e3a9f14d62"
down_revision: str | Sequence[str] | None = "9b2e4d7a1c58"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LICENCES = sa.table(
    "licences",
    sa.column("licence_id", sa.String()),
    sa.column("codes_dropped", sa.JSON(none_as_null=True)),
)


def _rewrite(day_of: Callable[[Any], Any]) -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(LICENCES.c.licence_id, LICENCES.c.codes_dropped).where(
            LICENCES.c.codes_dropped.is_not(None)
        )
    ).all()
    for licence_id, dropped in rows:
        if isinstance(dropped, str):  # a driver that hands JSON back as text
            dropped = json.loads(dropped)
        connection.execute(
            sa.update(LICENCES)
            .where(LICENCES.c.licence_id == licence_id)
            .values(codes_dropped={code: day_of(days) for code, days in dropped.items()})
        )


def upgrade() -> None:
    _rewrite(lambda day: {"on": day, "read": day})


def downgrade() -> None:
    _rewrite(lambda days: days["read"])
