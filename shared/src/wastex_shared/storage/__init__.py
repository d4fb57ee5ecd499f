"""Storage plumbing every service shares: engines, the unit of work, outbox and inbox tables,
and a leader lease for work one process per database must do."""

from wastex_shared.storage.engine import (
    dialect_of,
    make_engine,
    sqlite_url_for,
    upsert_into,
    upsert_overwriting,
)
from wastex_shared.storage.lease import Lease
from wastex_shared.storage.sweep import periodic_sweep
from wastex_shared.storage.tables import messaging_tables
from wastex_shared.storage.unit_of_work import (
    UnitOfWork,
    UnitOfWorkFactory,
    flush_queued,
    queued_view,
    write_later,
)

__all__ = [
    "Lease",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "dialect_of",
    "flush_queued",
    "make_engine",
    "messaging_tables",
    "periodic_sweep",
    "queued_view",
    "sqlite_url_for",
    "upsert_into",
    "upsert_overwriting",
    "write_later",
]
