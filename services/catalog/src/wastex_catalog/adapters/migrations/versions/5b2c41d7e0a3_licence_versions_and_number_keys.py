"""licence versions and number keys

Each licence keeps its versions (`licence_versions`: what a registration, amendment or
revocation left, why, when and by whom), and licence numbers are unique as `number_key`
compares them (NFKC, no whitespace, case folded).

Existing licences get one version, as they stand: REGISTERED at their creation when never
changed, else AMENDED or REVOKED (with the revocation's reason) at this migration, by nobody
known; earlier versions were never kept. Two existing numbers with the same key keep both
licences: the later one's key gets its id appended. A downgrade drops both.

Revision ID: 5b2c41d7e0a3
Revises: 9970e9174d99
Create Date: 2026-11-27 22:49:54.748815

"""

from collections.abc import Sequence
from datetime import UTC, datetime
from unicodedata import normalize

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "5b2c41d7e0a3"
down_revision: str | Sequence[str] | None = "9970e9174d99"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _number_key(number: str) -> str:
    # As `domain.licence.number_key` reads today; kept here so the migration never changes.
    return "".join(normalize("NFKC", number).split()).casefold()


def upgrade() -> None:
    with op.batch_alter_table("licences", schema=None) as batch_op:
        batch_op.add_column(sa.Column("number_key", sa.Text(), nullable=True))

    licences = sa.table(
        "licences",
        sa.column("id", sa.String()),
        sa.column("number", sa.String()),
        sa.column("number_key", sa.String()),
        sa.column("waste_codes", sa.JSON()),
        sa.column("annual_capacity_tonnes", sa.Numeric(14, 3)),
        sa.column("valid_from", sa.Date()),
        sa.column("valid_until", sa.Date()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("revoked_on", sa.Date()),
        sa.column("revocation_reason", sa.String()),
        sa.column("version", sa.Integer()),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(licences).order_by(licences.c.created_at, licences.c.id))
    existing = rows.mappings().all()
    keys: set[str] = set()
    for row in existing:
        key = _number_key(row["number"])
        if key in keys:
            key = f"{key}#{row['id']}"
        keys.add(key)
        bind.execute(sa.update(licences).where(licences.c.id == row["id"]).values(number_key=key))
    # Before the versions table refers to it: SQLite's batch mode rebuilds the table.
    with op.batch_alter_table("licences", schema=None) as batch_op:
        batch_op.alter_column("number_key", existing_type=sa.Text(), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_licences_number_key"), ["number_key"])

    versions = op.create_table(
        "licence_versions",
        sa.Column("licence_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("change", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.Text(), nullable=True),
        sa.Column("waste_codes", sa.JSON(), nullable=False),
        sa.Column("annual_capacity_tonnes", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("revoked_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["licence_id"],
            ["licences.id"],
            name=op.f("fk_licence_versions_licence_id_licences"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("licence_id", "version", name=op.f("pk_licence_versions")),
    )
    now = datetime.now(UTC)
    for row in existing:
        changed = row["revoked_on"] is not None or row["version"] > 1
        bind.execute(
            sa.insert(versions).values(
                licence_id=row["id"],
                version=row["version"],
                change=(
                    "REVOKED"
                    if row["revoked_on"] is not None
                    else "AMENDED"
                    if changed
                    else "REGISTERED"
                ),
                reason=row["revocation_reason"],
                changed_at=now if changed else row["created_at"],
                changed_by=None,
                waste_codes=row["waste_codes"],
                annual_capacity_tonnes=row["annual_capacity_tonnes"],
                valid_from=row["valid_from"],
                valid_until=row["valid_until"],
                revoked_on=row["revoked_on"],
            )
        )


def downgrade() -> None:
    op.drop_table("licence_versions")
    with op.batch_alter_table("licences", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_licences_number_key"), type_="unique")
        batch_op.drop_column("number_key")
