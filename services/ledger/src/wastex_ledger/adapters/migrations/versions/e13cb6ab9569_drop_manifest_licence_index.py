"""drop the manifests' licence index

The revocation sweep finds its manifests by recycler (decision 023's review), so no query
reads manifests by licence: the index cost every manifest insert for nothing.

Revision ID: e13cb6ab9569
Revises: b6cef00fe710
Create Date: 2026-11-28

"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "e13cb6ab9569"
down_revision: str | Sequence[str] | None = "b6cef00fe710"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("manifests", schema=None) as batch_op:
        batch_op.drop_index("ix_manifests_licence_id")


def downgrade() -> None:
    with op.batch_alter_table("manifests", schema=None) as batch_op:
        batch_op.create_index("ix_manifests_licence_id", ["licence_id"])
