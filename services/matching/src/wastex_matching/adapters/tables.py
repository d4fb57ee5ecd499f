"""The matching database: its own tables, plus the shared outbox and inbox.

A registry of its own keeps these tables out of other services' metadata, so each service
migrates and owns exactly its tables.
"""

from __future__ import annotations

from sqlalchemy.orm import registry
from sqlmodel import SQLModel

from wastex_shared.storage import messaging_tables


class MatchingTable(SQLModel, registry=registry()):
    """Base of every matching table."""


metadata = MatchingTable.metadata
messaging = messaging_tables(metadata)
