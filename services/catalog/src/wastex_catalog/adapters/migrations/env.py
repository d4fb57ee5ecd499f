"""Alembic environment of the catalog database, run from code (wastex_shared.storage.migrate)."""

from wastex_catalog.adapters.tables import metadata
from wastex_shared.storage.migrate import run_migrations

run_migrations(metadata)
