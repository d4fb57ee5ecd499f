"""Alembic migrations of the ledger database."""

from pathlib import Path

LOCATION = Path(__file__).parent
