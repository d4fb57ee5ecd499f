"""Alembic environment of the ledger database, run from code (wastex_shared.storage.migrate)."""

from wastex_ledger.adapters.tables import metadata
from wastex_shared.storage.migrate import run_migrations

run_migrations(metadata)
