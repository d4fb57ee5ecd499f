"""Async engines for PostgreSQL (asyncpg) and the embedded SQLite default (aiosqlite)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from sqlalchemy import Table, event, exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.util import await_only

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
    engine = create_async_engine(url, pool_size=10, max_overflow=10, **kwargs)
    _ping_on_checkout(engine)
    return engine


def reader_of(engine: AsyncEngine) -> AsyncEngine:
    """`engine` for units of work that only read.

    On PostgreSQL in autocommit: under READ COMMITTED every statement reads its own snapshot
    anyway, so a read-only transaction bought nothing but its BEGIN and ROLLBACK, two of the
    three round trips of a one-query read. On SQLite a reading transaction begins DEFERRED
    (see `_configure_sqlite`): a consistent WAL snapshot that takes no write lock."""
    options: dict[str, Any] = {READ_ONLY: True}
    if engine.dialect.name == "postgresql":
        options["isolation_level"] = "AUTOCOMMIT"
    return engine.execution_options(**options)


def _ping_on_checkout(engine: AsyncEngine) -> None:
    """A pooled connection is checked with one `;` before use; a dead one (PostgreSQL
    restarted, the backend terminated) is replaced, as `pool_pre_ping` does. That option's
    asyncpg ping runs in a transaction of its own (for pgbouncer's transaction mode, which
    wastex does not use): three round trips before every unit of work instead of one."""

    @event.listens_for(engine.sync_engine.pool, "checkout")
    def ping(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        try:
            await_only(record.driver_connection.fetchrow(";"))
        except Exception as error:
            # The pool drops this connection and checks out a fresh one (three tries).
            raise exc.DisconnectionError(f"pooled connection failed its ping: {error}") from error


def upsert_into(dialect: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT in the database's own dialect, the kind with `on_conflict_do_update`
    (PostgreSQL and SQLite spell the upsert alike)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table)


def dialect_of(session: AsyncSession) -> str:
    """The kind of database the session is on ("postgresql" or "sqlite")."""
    return session.get_bind().dialect.name


@functools.cache
def upsert_overwriting(dialect: str, table: Table, key: str, columns: tuple[str, ...]) -> Any:
    """INSERT, or where a row with the same `key` exists, overwrite its `columns` with the
    new row's. Built once per table, key and columns: rows queued for it with `write_later`
    run as one batch (they group by statement object) and its cache key costs nothing."""
    statement = upsert_into(dialect, table)
    return statement.on_conflict_do_update(
        index_elements=[table.c[key]], set_={name: statement.excluded[name] for name in columns}
    )


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
        # SQLite's own lower() folds A–Z only; PostgreSQL's folds every cased letter (Ö,
        # full-width Ｔ), so a search with "case ignored" answered differently on each.
        dbapi_connection.create_function("lower", 1, _lower, deterministic=True)

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front, so two writers queue instead of deadlocking.
        # A transaction that only reads begins DEFERRED: under WAL it reads a consistent
        # snapshot beside the writer instead of queueing behind it for a lock it never needs.
        reading = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN DEFERRED" if reading else "BEGIN IMMEDIATE")


def _lower(value: object) -> object:
    """SQLite's `lower()` as PostgreSQL's: every letter with a case, not only ASCII's."""
    return value.lower() if isinstance(value, str) else value
