"""Alembic migrations of the matching database."""

from pathlib import Path

LOCATION = Path(__file__).parent
