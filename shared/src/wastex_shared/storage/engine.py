"""Async engines for PostgreSQL (asyncpg) and the embedded SQLite default (aiosqlite)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

#: Execution option: this engine's transactions only read (`UnitOfWorkFactory.reading`).
READ_ONLY = "wastex_read_only"


def sqlite_url_for(data_dir: Path, service: str) -> str:
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite+aiosqlite:///{data_dir / f'{service}.db'}"


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        _configure_sqlite(engine)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True, **kwargs)


def upsert_into(dialect: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT in the database's own dialect, the kind with `on_conflict_do_update`
    (PostgreSQL and SQLite spell the upsert alike)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table)


def _configure_sqlite(engine: AsyncEngine) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT; take BEGIN over ourselves
    # (the recipe in SQLAlchemy's SQLite dialect docs). WAL lets readers run beside the writer.
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front, so two writers queue instead of deadlocking.
        # A transaction that only reads begins DEFERRED: under WAL it reads a consistent
        # snapshot beside the writer instead of queueing behind it for a lock it never needs.
        reading = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN DEFERRED" if reading else "BEGIN IMMEDIATE")
