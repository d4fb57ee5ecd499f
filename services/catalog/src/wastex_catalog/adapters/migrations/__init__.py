"""Alembic migrations of the catalog database."""

from pathlib import Path

LOCATION = Path(__file__).parent
