"""The outbox relay: publishes committed outbox rows in id order, then stamps them sent.

Publishing twice is allowed (consumers are idempotent); losing is not, so a row is marked
sent only after the broker acknowledged it (acks=all). A row the producer refuses for good
(larger than a request may be) is left unsent and logged, and the rows after it go on: one
such row must not hold back every event the service writes after it.

Rows sent are kept a while (`KEEP_SENT`: what went out lately can be looked at in the
database) and then deleted, an hour apart, in chunks: the broker keeps what consumers read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError
from sqlalchemy import delete, select, update

from wastex_shared.envelope import utcnow
from wastex_shared.storage.unit_of_work import UnitOfWorkFactory

log = logging.getLogger(__name__)

#: Batches acknowledged but not yet stamped before publishing waits for stamping to catch up.
_MAX_UNSTAMPED_BATCHES = 4
#: How long a sent row stays in the outbox, and how often the ones older are deleted.
KEEP_SENT = timedelta(days=7)
PRUNE_EVERY_SECONDS = 3600.0
#: Rows one delete statement takes (a short transaction, whatever the backlog).
_PRUNE_CHUNK = 5000


def make_producer(bootstrap: str) -> AIOKafkaProducer:
    # No idempotent or transactional producer: correctness comes from outbox + inbox.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=2,
        max_request_size=2 * 1024 * 1024,
        request_timeout_ms=15_000,
    )


class OutboxRelay:
    """Publishes unsent rows and stamps them sent, the two side by side.

    Stamping is a write: on SQLite it waits for the write lock behind consumer batches. Done
    in line it held back the next rows (a matching round's proposals waited up to a second).
    So the publishing loop goes on while a second loop stamps what the broker acknowledged;
    rows acknowledged but not yet stamped are skipped by the next look for unsent rows. A
    crash in between only publishes those rows again, which consumers tolerate.
    """

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        producer: AIOKafkaProducer,
        batch_size: int = 500,
        idle_poll_seconds: float = 0.5,
    ) -> None:
        self._uow = uow_factory
        self._producer = producer
        self._batch_size = batch_size
        self._idle = idle_poll_seconds
        self.published = 0
        #: Ids the broker acknowledged that are not stamped sent yet.
        self._unstamped: set[int] = set()
        #: Ids the producer refused for good: left unsent (an operator's business), not
        #: tried again by this process.
        self.refused: set[int] = set()
        self._stamp_wanted = asyncio.Event()
        self._stamped = asyncio.Event()

    async def run(self) -> None:
        side_tasks = [
            asyncio.create_task(self._stamp_forever(), name="outbox-stamp"),
            asyncio.create_task(self._retrying(self._prune_once), name="outbox-prune"),
        ]
        try:
            await self._retrying(self._publish_forever_once)
        finally:
            for task in side_tasks:
                task.cancel()
            for task in side_tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def prune_sent(self, keep: timedelta = KEEP_SENT) -> int:
        """Delete rows sent longer than `keep` ago, a chunk a transaction; how many."""
        outbox = self._uow.tables.outbox
        cutoff = utcnow() - keep
        pruned = 0
        while True:
            chunk = (
                select(outbox.c.id)
                .where(outbox.c.sent_at < cutoff)
                .order_by(outbox.c.sent_at)
                .limit(_PRUNE_CHUNK)
            )
            async with self._uow() as uow:
                result = await uow.session.execute(delete(outbox).where(outbox.c.id.in_(chunk)))
                await uow.commit()
            deleted = int(getattr(result, "rowcount", 0) or 0)
            pruned += deleted
            if deleted < _PRUNE_CHUNK:
                return pruned

    async def _prune_once(self) -> None:
        if pruned := await self.prune_sent():
            log.info("outbox: deleted %d rows sent more than %s ago", pruned, KEEP_SENT)
        await asyncio.sleep(PRUNE_EVERY_SECONDS)

    async def drain_once(self) -> int:
        """Publish one batch of unsent rows and stamp them; return how many were published."""
        sent = await self.publish_once()
        await self.stamp_sent()
        return sent

    async def publish_once(self) -> int:
        """Publish one batch of unsent, unacknowledged rows; return how many."""
        outbox = self._uow.tables.outbox
        # Copied before the read: a row stamped (and dropped from the set) while it runs was
        # stamped before this read's snapshot, or is still in the copy. Checking the live set
        # after the read would miss a row stamped in between and publish it again.
        unstamped = self._unstamped | self.refused
        async with self._uow.reading() as uow:
            result = await uow.session.execute(
                select(
                    outbox.c.id, outbox.c.topic, outbox.c.key, outbox.c.payload, outbox.c.headers
                )
                .where(outbox.c.sent_at.is_(None))
                .order_by(outbox.c.id)
                .limit(self._batch_size + len(unstamped))
            )
            rows = [row for row in result.all() if row.id not in unstamped]
            await uow.rollback()  # end the read transaction while sending
        rows = rows[: self._batch_size]
        if not rows:
            return 0
        futures: list[asyncio.Future[Any]] = []
        sending: list[tuple[int, str]] = []
        for row in rows:
            headers = [(k, v.encode()) for k, v in json.loads(row.headers).items()]
            try:
                future = await self._producer.send(
                    row.topic, value=row.payload, key=row.key.encode(), headers=headers
                )
            except MessageSizeTooLargeError as exc:
                self._refuse(row.id, row.topic, exc)
                continue
            futures.append(future)
            sending.append((row.id, row.topic))
        outcomes = zip(sending, await asyncio.gather(*futures, return_exceptions=True), strict=True)
        failures: list[BaseException] = []
        for (row_id, topic), got in outcomes:
            if isinstance(got, MessageSizeTooLargeError):  # the broker's limit is lower
                self._refuse(row_id, topic, got)
            elif isinstance(got, BaseException):
                failures.append(got)
            else:
                self._unstamped.add(row_id)
                self.published += 1
        self._stamp_wanted.set()
        if failures:
            raise failures[0]  # the broker or the network: the rest again after a pause
        return len(rows)

    def _refuse(self, row_id: int, topic: str, error: Exception) -> None:
        log.error("outbox row %s for %s refused for good, left unsent: %s", row_id, topic, error)
        self.refused.add(row_id)

    async def stamp_sent(self) -> None:
        """Stamp every acknowledged row sent (one statement)."""
        ids = sorted(self._unstamped)
        if not ids:
            return
        outbox = self._uow.tables.outbox
        async with self._uow() as uow:
            await uow.session.execute(
                update(outbox).where(outbox.c.id.in_(ids)).values(sent_at=utcnow())
            )
            await uow.commit()
        self._unstamped.difference_update(ids)

    async def _publish_forever_once(self) -> None:
        if len(self._unstamped) > _MAX_UNSTAMPED_BATCHES * self._batch_size:
            await self._wait(self._stamped)  # stamping fell behind: let it catch up
            return
        if await self.publish_once() == 0:
            await self._wait(self._uow.outbox_signal)

    async def _stamp_forever(self) -> None:
        async def once() -> None:
            await self._stamp_wanted.wait()
            self._stamp_wanted.clear()
            try:
                await self.stamp_sent()
            except BaseException:
                self._stamp_wanted.set()  # what was not stamped still wants it
                raise
            self._stamped.set()

        await self._retrying(once)

    async def _retrying(self, step: Callable[[], Awaitable[None]]) -> None:
        backoff = 0.1
        while True:
            try:
                await step()
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay failed; retrying in %.1fs", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _wait(self, signal: asyncio.Event) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(signal.wait(), timeout=self._idle)
        signal.clear()
