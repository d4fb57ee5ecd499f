"""Alembic environment of the matching database, run from code (wastex_shared.storage.migrate)."""

from wastex_matching.adapters.tables import metadata
from wastex_shared.storage.migrate import run_migrations

run_migrations(metadata)
