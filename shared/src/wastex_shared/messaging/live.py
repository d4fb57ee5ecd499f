"""Live feeds for GraphQL subscriptions: Kafka → an in-process asyncio pub/sub hub.

Each process reads the topics it pushes (its `main.LIVE_TOPICS`: in matching, matches
proposed and changed and offers posted and changed; in the ledger, manifests moving) with
its own group-less consumer from the *latest* offset, so every process sees every event and
none commits offsets; events older than the process
start are dropped (a reader restarting mid-run must not replay history to live clients).
A reader that fails and reconnects goes on from where it was, in memory: the events
published meanwhile are still pushed. It waits longer before each reconnect while it reads
nothing, and the shortest again once it has read (`Reconnects`).
A broker restart or outage is no failure of the reader: its consumer retries the broker and
goes on from where it was, so what the services publish once the broker is back (their
outboxes kept what they did meanwhile) is pushed to the subscriptions still open
(tests/reliability/test_subscriptions_across_broker_restart.py). A reader that does fail
as the broker goes away keeps its place while it cannot reach it: only reconnects that got
positioned and read nothing count towards giving its place up (`STALLED_RECONNECTS`; a
batch no reader can take), not failures to reach the broker
(tests/reliability/test_live_feed_across_broker_outage.py).
An event the log holds twice (the outbox relay publishes a row again when the broker's
acknowledgement was lost, as in a broker restart mid-send) is pushed once: the feed remembers
the ids of the last `RECENT_IDS` events it pushed.
Subscribers get a bounded queue each: a slow client loses its oldest events rather than
slowing the feed or the other clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from wastex_shared.envelope import Envelope, utcnow

log = logging.getLogger(__name__)

#: Events a subscriber may fall behind by before the oldest are dropped.
QUEUE_SIZE = 1000
#: Events pushed whose ids the feed remembers, to push a repeat of one no more (a relay's
#: repeat follows its first copy by the rows in flight when the broker went away).
RECENT_IDS = 10_000
#: Reconnects that got positioned and read nothing before the feed gives up where it was and
#: reads from the end (failures to reach the broker do not count).
STALLED_RECONNECTS = 3


class LiveHub:
    """Fan-out of envelopes by topic to any number of in-process subscribers."""

    def __init__(self, queue_size: int = QUEUE_SIZE) -> None:
        self._queue_size = queue_size
        self._subscribers: dict[str, set[asyncio.Queue[Envelope]]] = {}
        self.published = 0
        #: Events a subscriber too slow to read them lost (its queue full: the oldest goes).
        self.dropped = 0
        #: Subscriptions open now (one may listen on several topics).
        self.open = 0

    def subscribers(self, topic: str) -> int:
        return len(self._subscribers.get(topic, ()))

    def publish(self, topic: str, envelope: Envelope) -> None:
        """Hand `envelope` to every subscriber of `topic`; never blocks."""
        self.published += 1
        for queue in self._subscribers.get(topic, ()):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                self.dropped += 1
            queue.put_nowait(envelope)

    @contextlib.asynccontextmanager
    async def subscription(
        self, *topics: str, until: float = math.inf
    ) -> AsyncIterator[AsyncIterator[Envelope]]:
        """Subscribe to `topics` on entry (events from then on are kept, in the order they
        came), unsubscribe on exit. The events stop at `until` (seconds since the epoch: a
        token's expiry), idle or not."""
        queue: asyncio.Queue[Envelope] = asyncio.Queue(self._queue_size)
        for topic in topics:
            self._subscribers.setdefault(topic, set()).add(queue)
        self.open += 1

        async def events() -> AsyncIterator[Envelope]:
            while (left := until - time.time()) > 0:
                try:
                    yield await asyncio.wait_for(queue.get(), None if math.isinf(left) else left)
                except TimeoutError:
                    return

        try:
            yield events()
        finally:
            self.open -= 1
            for topic in topics:
                self._subscribers[topic].discard(queue)


class RecentIds:
    """The last `limit` event ids seen, the oldest forgotten first."""

    def __init__(self, limit: int = RECENT_IDS) -> None:
        self._limit = limit
        self._ids: OrderedDict[str, None] = OrderedDict()

    def first_sight(self, event_id: str) -> bool:
        """Whether `event_id` is not among the last seen; remembered from now on."""
        if event_id in self._ids:
            return False
        self._ids[event_id] = None
        if len(self._ids) > self._limit:
            self._ids.popitem(last=False)
        return True


@dataclass(frozen=True)
class Retry:
    #: Seconds to wait before connecting again.
    wait: float
    #: Whether to give up the positions kept and read from the end.
    from_the_end: bool


class Reconnects:
    """The live feed's reconnecting rule. The wait doubles from `first` to `longest` while
    the feed reads nothing, and is back to `first` once it has read again (else a few
    failures over a process's life would make every later one wait the longest). After
    `give_up_after` failures in a row that read nothing once positioned the feed gives up
    its place: a batch no reader can take (corrupt, an unknown codec) would fail every
    reconnect at the same place, and live subscribers are better served by what comes next
    than by nothing."""

    def __init__(
        self, first: float = 0.2, longest: float = 5.0, give_up_after: int = STALLED_RECONNECTS
    ) -> None:
        self._first = first
        self._longest = longest
        self._give_up_after = give_up_after
        self._wait = first
        self._stalled = 0

    def failed(self, *, positioned: bool, progressed: bool) -> Retry:
        """The reader failed, having read (`progressed`) or not since it last connected.
        Only a reader `positioned` (connected, assigned its partitions) that read nothing
        counts towards giving up: one that could not reach the broker (down, restarting)
        is not stuck on a batch, and must keep its place for what is published meanwhile."""
        if progressed:
            self._wait, self._stalled = self._first, 0
        elif positioned:
            self._stalled += 1
        from_the_end = self._stalled >= self._give_up_after
        if from_the_end:
            self._stalled = 0
        retry = Retry(self._wait, from_the_end)
        self._wait = min(self._wait * 2, self._longest)
        return retry


class KafkaLiveFeed:
    """Reads `topics` from their end with no consumer group and publishes to `hub`."""

    def __init__(
        self,
        bootstrap: str,
        topics: Sequence[str],
        hub: LiveHub,
        started_at: datetime | None = None,
        fetch_max_wait_ms: int = 500,
    ) -> None:
        self._bootstrap = bootstrap
        self._topics = list(topics)
        self._hub = hub
        self._fetch_max_wait_ms = fetch_max_wait_ms
        self.started_at = started_at or utcnow()
        #: Set once the reader is positioned at the end of every partition.
        self.ready = asyncio.Event()
        #: The next offset to read of each partition, kept across reconnects.
        self._positions: dict[TopicPartition, int] = {}
        self._pushed = RecentIds()

    async def run(self) -> None:
        reconnects = Reconnects()
        while True:
            before = dict(self._positions)
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception:
                retry = reconnects.failed(
                    positioned=self.ready.is_set(), progressed=self._positions != before
                )
                log.exception("live feed failed; reconnecting in %.1fs", retry.wait)
                self.ready.clear()
                if retry.from_the_end:
                    log.warning("live feed made no progress; going on from the end")
                    self._positions.clear()
                await asyncio.sleep(retry.wait)

    async def _consume(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            fetch_max_wait_ms=self._fetch_max_wait_ms,
        )
        await consumer.start()
        try:
            partitions = await self._partitions(consumer)
            consumer.assign(partitions)
            new = [tp for tp in partitions if tp not in self._positions]
            if new:
                await consumer.seek_to_end(*new)
            for tp in partitions:
                if tp in self._positions:
                    consumer.seek(tp, self._positions[tp])
                # Resolve the lazy seek now, so `ready` means positioned.
                self._positions[tp] = await consumer.position(tp)
            self.ready.set()
            while True:
                batches = await consumer.getmany(timeout_ms=500)
                for tp, records in batches.items():
                    for record in records:
                        self._forward(record)
                        self._positions[tp] = record.offset + 1
        finally:
            await consumer.stop()

    async def _partitions(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        partitions: list[TopicPartition] = []
        for topic in self._topics:
            found = consumer.partitions_for_topic(topic)
            if not found:
                await consumer._client.force_metadata_update()
                found = consumer.partitions_for_topic(topic) or set()
            partitions.extend(TopicPartition(topic, p) for p in sorted(found))
        return partitions

    def _forward(self, record: Any) -> None:
        if not self._hub.subscribers(record.topic):
            return  # no one listens: not worth decoding (a busy market posts hundreds a second)
        try:
            envelope = Envelope.from_json(record.value)
        except (ValidationError, ValueError, TypeError):
            return  # not ours to judge: the service's own consumer dead-letters poison
        if envelope.time < self.started_at or not self._pushed.first_sight(envelope.id):
            return
        self._hub.publish(record.topic, envelope)
