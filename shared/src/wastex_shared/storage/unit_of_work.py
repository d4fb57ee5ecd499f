"""A unit of work: one DB transaction that carries the state change, its outbox rows and the
inbox mark of the event that caused it, all committed together or not at all.

Outbox rows are queued in memory and written in one statement just before the commit: a
batch of 500 messages costs one INSERT for its events instead of 500 round trips. A
savepoint that rolls back drops the rows queued inside it, so what is written is exactly
what the committed work published.

Writes nothing in the transaction reads back (a projection's upserts) can be queued the same
way (`write_later`) and run when the unit of work flushes them, commits, or leaves a
savepoint: table by table, each table's rows in the order they were queued, each run of rows
for one statement as one executemany. A handler that writes two tables per message thus
costs two statements a batch, not two per message.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any

from sqlalchemy import Executable, delete, insert, select
from sqlalchemy.ext import asyncio as sqlalchemy_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from wastex_shared.envelope import STRUCTURED_CONTENT_TYPE, Envelope, utcnow
from wastex_shared.storage.engine import reader_of
from wastex_shared.storage.tables import MessagingTables

_WRITE_LATER = "wastex_write_later"
_QUEUED_VIEWS = "wastex_queued_views"


def write_later(
    session: sqlalchemy_asyncio.AsyncSession, statement: Executable, values: Mapping[str, object]
) -> None:
    """Queue one row for `statement` in the session's unit of work (see the module doc).

    Only for writes the same transaction does not read back before it commits (or reads
    back through a `queued_view` of its own), to tables that do not reference each other:
    a table's rows may be written before rows queued earlier for another table."""
    _queue(session).append((statement, values))


def queued_view(session: sqlalchemy_asyncio.AsyncSession, name: str) -> dict[str, Any]:
    """A repository's map (by key) of what it queued under `name` in this transaction, so it
    reads its own queued rows without running the queue. Dropped with the queue whenever
    that is dropped unrun (a rollback, a savepoint undone): it never shows a row that will
    not be written, and what was run before stays readable from the database."""
    views: dict[str, dict[str, Any]] = session.info.setdefault(_QUEUED_VIEWS, {})
    return views.setdefault(name, {})


def _drop_queue(session: sqlalchemy_asyncio.AsyncSession) -> None:
    _queue(session).clear()
    session.info.pop(_QUEUED_VIEWS, None)


async def flush_queued(session: sqlalchemy_asyncio.AsyncSession) -> None:
    """Run the rows `write_later` queued in this session, in order: what a repository calls
    before it reads what may be queued."""
    queued = _queue(session)
    if not queued:
        return
    rows, queued[:] = list(queued), []
    by_table: dict[object, list[tuple[Executable, Mapping[str, object]]]] = {}
    for row in rows:
        by_table.setdefault(getattr(row[0], "table", row[0]), []).append(row)
    for table_rows in by_table.values():
        for _, run in itertools.groupby(table_rows, key=lambda row: id(row[0])):
            group = list(run)
            await session.execute(group[0][0], [values for _, values in group])


def _queue(
    session: sqlalchemy_asyncio.AsyncSession,
) -> list[tuple[Executable, Mapping[str, object]]]:
    queued: list[tuple[Executable, Mapping[str, object]]]
    queued = session.info.setdefault(_WRITE_LATER, [])
    return queued


class UnitOfWork:
    def __init__(
        self,
        session: AsyncSession,
        tables: MessagingTables,
        on_commit: Callable[[], None],
        *,
        read_only: bool = False,
    ):
        self.session = session
        self._tables = tables
        self._on_commit = on_commit
        self._outbox: list[dict[str, object]] = []
        self._after_commit: list[Callable[[], None]] = []
        #: Ids `forget` took out of the inbox: `mark_all_seen` leaves them out.
        self._forgotten: list[str] = []
        self.read_only = read_only

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call `callback` once this unit of work has committed (not if it rolls back):
        for waking a task that must see what was written."""
        self._after_commit.append(callback)

    async def __aenter__(self) -> UnitOfWork:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            await self.rollback()
        await self.session.close()

    async def commit(self) -> None:
        if self.read_only:
            raise RuntimeError("a unit of work opened for reading cannot commit")
        await self.flush_writes()
        published, self._outbox = self._outbox, []
        if published:
            await self.session.execute(insert(self._tables.outbox), published)
        await self.session.commit()
        if published:
            self._on_commit()
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    async def rollback(self) -> None:
        self._outbox.clear()
        self._after_commit.clear()
        self._forgotten.clear()
        _drop_queue(self.session)
        await self.session.rollback()

    async def flush_writes(self) -> None:
        """Run the rows queued by `write_later`, in order."""
        await flush_queued(self.session)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """Undo only this block on error (one message of a batch), keeping the rest."""
        await self.flush_writes()  # what came before is not this block's to lose
        nested = await self.session.begin_nested()
        queued, callbacks = len(self._outbox), len(self._after_commit)
        forgotten = len(self._forgotten)
        try:
            yield
            await self.flush_writes()  # inside: a failing write is this block's alone
        except BaseException:
            del self._outbox[queued:]
            del self._after_commit[callbacks:]
            del self._forgotten[forgotten:]
            _drop_queue(self.session)
            await nested.rollback()
            raise
        else:
            await nested.commit()

    async def publish(
        self, topic: str, event: Envelope, headers: dict[str, str] | None = None
    ) -> None:
        """Queue `event` in the outbox, a structured-mode CloudEvent; it leaves only if this
        unit of work commits."""
        headers = {"content-type": STRUCTURED_CONTENT_TYPE, **(headers or {})}
        await self.publish_raw(topic, event.key, event.id, event.to_json(), headers)

    async def publish_raw(
        self,
        topic: str,
        key: str,
        event_id: str,
        payload: bytes,
        headers: dict[str, str] | None = None,
    ) -> None:
        self._outbox.append(
            {
                "event_id": event_id,
                "topic": topic,
                "key": key,
                "payload": payload,
                "headers": json.dumps(headers or {}),
                "created_at": utcnow(),
            }
        )

    async def seen(self, event_id: str) -> bool:
        inbox = self._tables.inbox
        found = await self.session.execute(
            select(inbox.c.event_id).where(inbox.c.event_id == event_id)
        )
        return found.first() is not None

    async def seen_among(self, event_ids: Sequence[str]) -> set[str]:
        """Which of `event_ids` the inbox already holds (one query)."""
        if not event_ids:
            return set()
        inbox = self._tables.inbox
        found = await self.session.execute(
            select(inbox.c.event_id).where(inbox.c.event_id.in_(set(event_ids)))
        )
        return set(found.scalars())

    async def mark_all_seen(self, marks: Sequence[tuple[str, str]]) -> None:
        """Record (event id, event type) pairs as handled (one statement), but not an id
        `forget` took out in this unit of work: a consumer marks its batch at the end, after
        a handler kept a message of it and then parked it (`park_kept`)."""
        marks = [mark for mark in marks if mark[0] not in self._forgotten]
        if not marks:
            return
        now = utcnow()
        await self.session.execute(
            insert(self._tables.inbox),
            [{"event_id": i, "event_type": t, "processed_at": now} for i, t in marks],
        )

    async def forget(self, event_id: str) -> None:
        """Take `event_id` out of the inbox: a message kept for later and then parked may be
        sent again under its id."""
        inbox = self._tables.inbox
        await self.session.execute(delete(inbox).where(inbox.c.event_id == event_id))
        self._forgotten.append(event_id)

    async def mark_seen(self, event_id: str, event_type: str) -> None:
        await self.session.execute(
            insert(self._tables.inbox).values(
                event_id=event_id, event_type=event_type, processed_at=utcnow()
            )
        )


class UnitOfWorkFactory:
    """Hands out units of work on one engine; wakes the outbox relay after each commit."""

    def __init__(self, engine: AsyncEngine, tables: MessagingTables) -> None:
        self.engine = engine
        self.tables = tables
        self.outbox_signal = asyncio.Event()
        self._reader = reader_of(engine)

    def __call__(self) -> UnitOfWork:
        session = AsyncSession(self.engine, expire_on_commit=False)
        return UnitOfWork(session, self.tables, self.outbox_signal.set)

    def reading(self) -> UnitOfWork:
        """A unit of work that only reads (it cannot commit). On SQLite it does not take the
        write lock, so a query, the relay's look for unsent rows or a matching round's read
        of the market runs beside a consumer's batch instead of waiting for it. On
        PostgreSQL it runs in autocommit: each statement reads committed data as of its start,
        as it would in a READ COMMITTED transaction (`reader_of`)."""
        session = AsyncSession(self._reader, expire_on_commit=False)
        return UnitOfWork(session, self.tables, self.outbox_signal.set, read_only=True)
