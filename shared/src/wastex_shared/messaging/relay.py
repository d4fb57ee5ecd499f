"""The outbox relay: publishes committed outbox rows in id order, then stamps them sent.

Publishing twice is allowed (consumers are idempotent); losing is not, so a row is marked
sent only after the broker acknowledged it (acks=all).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from aiokafka import AIOKafkaProducer
from sqlalchemy import select, update

from wastex_shared.envelope import utcnow
from wastex_shared.storage.unit_of_work import UnitOfWorkFactory

log = logging.getLogger(__name__)


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

    async def run(self) -> None:
        backoff = 0.1
        while True:
            try:
                sent = await self.drain_once()
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay failed; retrying in %.1fs", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if sent == 0:
                await self._wait_for_work()

    async def _wait_for_work(self) -> None:
        signal = self._uow.outbox_signal
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(signal.wait(), timeout=self._idle)
        signal.clear()

    async def drain_once(self) -> int:
        """Publish one batch of unsent rows; return how many were published."""
        outbox = self._uow.tables.outbox
        async with self._uow.reading() as uow:
            result = await uow.session.execute(
                select(
                    outbox.c.id, outbox.c.topic, outbox.c.key, outbox.c.payload, outbox.c.headers
                )
                .where(outbox.c.sent_at.is_(None))
                .order_by(outbox.c.id)
                .limit(self._batch_size)
            )
            rows = result.all()
            await uow.rollback()  # end the read transaction while sending
        if not rows:
            return 0
        futures: list[asyncio.Future[Any]] = []
        for row in rows:
            headers = [(k, v.encode()) for k, v in json.loads(row.headers).items()]
            futures.append(
                await self._producer.send(
                    row.topic, value=row.payload, key=row.key.encode(), headers=headers
                )
            )
        await asyncio.gather(*futures)
        async with self._uow() as uow:
            await uow.session.execute(
                update(outbox)
                .where(outbox.c.id.in_([row.id for row in rows]))
                .values(sent_at=utcnow())
            )
            await uow.commit()
        self.published += len(rows)
        return len(rows)
