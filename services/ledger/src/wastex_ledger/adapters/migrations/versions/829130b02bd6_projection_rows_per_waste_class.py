"""projection rows per waste class

The code-less scope kinds (city, enterprise, district, district × industry, industry) keep
one row per waste class from now on (`domain.scope`): their rows are rebuilt from the
journal, the ledger's own record, with this version's keys. The rows of the kinds that name
a code are unchanged. The projection is derived data: nothing else is touched. A downgrade
folds each scope's class rows back into one (summing is exact: the classes split the same
entries).

Revision ID: 829130b02bd6
Revises: e26e26832241
Create Date: 2026-11-27 17:52:44.832386

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from wastex_ledger.adapters.repository import entry_from_row, figures_to_row
from wastex_ledger.adapters.tables import entries
from wastex_ledger.domain.figures import Figures
from wastex_ledger.domain.scope import CLASS_TAGS, CLASSED_KINDS, SEPARATOR
from wastex_ledger.service import projection_deltas

# revision identifiers, used by Alembic.
revision: str = "829130b02bd6"
down_revision: str | Sequence[str] | None = "e26e26832241"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHUNK = 20_000

#: The projection's figure columns at this revision. Frozen here, not read from the live
#: `figures.COLUMNS`: columns later revisions add do not exist yet when this one runs.
COLUMNS = (
    "generated",
    "in_plant_current",
    "in_plant_prior",
    "transferred_out_current",
    "transferred_out_prior",
    "stored",
    "disposed_current",
    "disposed_prior",
    "opening_stock",
    "transferred_in",
    "received_utilised",
    "transfers",
    "transport_co2e_kg",
    "avoided_co2e_kg",
)
projection = sa.table(
    "projection",
    *(sa.column(name) for name in ("scope_kind", "scope_value", "period", *COLUMNS)),
)


def _row(figures: Figures) -> dict[str, int]:
    row = figures_to_row(figures)
    return {name: row[name] for name in COLUMNS}


def upgrade() -> None:
    bind = op.get_bind()
    classed = sorted(str(kind) for kind in CLASSED_KINDS)
    totals: dict[tuple[str, str, str], Figures] = {}
    # Streamed in chunks; options on the statement (on the connection they would stay).
    result = bind.execute(sa.select(entries).execution_options(yield_per=CHUNK))
    for chunk in result.mappings().partitions(CHUNK):
        deltas = projection_deltas([entry_from_row(row) for row in chunk])
        for key, delta in deltas.items():
            if key[0] in classed:
                totals[key] = totals.get(key, Figures()) + delta
    bind.execute(sa.delete(projection).where(projection.c.scope_kind.in_(classed)))
    rows = [
        {"scope_kind": kind, "scope_value": value, "period": period, **_row(figures)}
        for (kind, value, period), figures in sorted(totals.items())
    ]
    for start in range(0, len(rows), CHUNK):
        bind.execute(sa.insert(projection), rows[start : start + CHUNK])


def downgrade() -> None:
    bind = op.get_bind()
    classed = sorted(str(kind) for kind in CLASSED_KINDS)
    tags = tuple(f"{SEPARATOR}{tag}" for tag in CLASS_TAGS.values())
    totals: dict[tuple[str, str, str], dict[str, int]] = {}
    found = bind.execute(sa.select(projection).where(projection.c.scope_kind.in_(classed)))
    for row in found.mappings():
        value = str(row["scope_value"])
        tag = next((t for t in tags if value.endswith(t)), "")
        key = (row["scope_kind"], value[: len(value) - len(tag)], row["period"])
        summed = totals.setdefault(key, dict.fromkeys(COLUMNS, 0))
        for name in COLUMNS:
            summed[name] += int(row[name] or 0)
    bind.execute(sa.delete(projection).where(projection.c.scope_kind.in_(classed)))
    rows = [
        {"scope_kind": kind, "scope_value": value, "period": period, **columns}
        for (kind, value, period), columns in sorted(totals.items())
    ]
    for start in range(0, len(rows), CHUNK):
        bind.execute(sa.insert(projection), rows[start : start + CHUNK])
