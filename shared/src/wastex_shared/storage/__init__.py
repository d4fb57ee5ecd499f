"""Storage plumbing every service shares: engines, the unit of work, outbox and inbox tables."""

from wastex_shared.storage.engine import make_engine, sqlite_url_for, upsert_into
from wastex_shared.storage.tables import messaging_tables
from wastex_shared.storage.unit_of_work import (
    UnitOfWork,
    UnitOfWorkFactory,
    flush_queued,
    write_later,
)

__all__ = [
    "UnitOfWork",
    "UnitOfWorkFactory",
    "flush_queued",
    "make_engine",
    "messaging_tables",
    "sqlite_url_for",
    "upsert_into",
    "write_later",
]
