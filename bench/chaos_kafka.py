"""Kafka as the reliability suite sees it: which consumer group reads which topics, where
each partition really ends, how far each group has committed, and what the DLQs hold.

tansu's ListOffsets (`end_offsets`) under-reports after batched sends and after a restart
on s3 storage (measured: 804 for a partition holding 1,429 records), so log ends here come
from reading: a group-less `LogTail` follows every partition and remembers the offset after
the last record it saw. Lag = that end − the group's committed offset.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from wastex_shared.messaging.dead_letter import header_texts, kafka_text
from wastex_shared.topics import CATALOG_DLQ, LEDGER_DLQ, MATCHING_DLQ, all_topics


def consumer_groups() -> dict[str, dict[str, list[str]]]:
    """service → consumer group → topics, read from the services' own wiring."""
    from wastex_catalog.entrypoints.kafka import INGEST_TOPICS, LIFECYCLE_TOPICS
    from wastex_catalog.settings import CatalogSettings
    from wastex_ledger.entrypoints.kafka import GROUP as LEDGER_GROUP
    from wastex_ledger.entrypoints.kafka import TOPICS as LEDGER_TOPICS
    from wastex_matching.entrypoints.kafka import CATALOG_TOPICS
    from wastex_matching.settings import MatchingSettings

    catalog_group = CatalogSettings().consumer_group
    return {
        "catalog": {
            catalog_group: list(INGEST_TOPICS),
            f"{catalog_group}.matching": list(LIFECYCLE_TOPICS),
        },
        "matching": {MatchingSettings().service: list(CATALOG_TOPICS)},
        "ledger": {LEDGER_GROUP: list(LEDGER_TOPICS)},
    }


DLQ_TOPICS = {
    "catalog": CATALOG_DLQ.name,
    "matching": MATCHING_DLQ.name,
    "ledger": LEDGER_DLQ.name,
}
PARTITIONS = {topic.name: topic.partitions for topic in all_topics()}


def partitions_of(topics: Iterable[str]) -> list[TopicPartition]:
    return [TopicPartition(t, p) for t in topics for p in range(PARTITIONS[t])]


@dataclass
class DeadLetter:
    group_topic: str
    offset: int
    key: str
    error_type: str
    error: str
    original_topic: str
    original_partition: int
    original_offset: int
    event_id: str | None
    source: str | None


@dataclass
class LogTail:
    """Follows every partition of `topics` from offset 0 and knows where each one ends."""

    bootstrap: str
    topics: list[str]
    ends: dict[TopicPartition, int] = field(default_factory=dict)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    _consumer: AIOKafkaConsumer | None = None
    _task: asyncio.Task[None] | None = None
    #: Fetch rounds so far (empty or not).
    _rounds: int = 0

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=5000,
            # tansu on s3 storage answers a fetch with a short wait before it has read the
            # log, with nothing: a longer wait lets it answer with what is there.
            fetch_max_wait_ms=500,
        )
        await self._consumer.start()
        tps = partitions_of(self.topics)
        self._consumer.assign(tps)
        await self._consumer.seek_to_beginning(*tps)
        self._task = asyncio.create_task(self._follow(), name="log-tail")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                await self._consumer.stop()

    async def _follow(self) -> None:
        assert self._consumer is not None
        dlq_topics = set(DLQ_TOPICS.values())
        while True:
            try:
                fetched = await self._consumer.getmany(timeout_ms=300)
            except asyncio.CancelledError:
                raise
            except Exception:
                await asyncio.sleep(0.5)  # the broker is restarting; aiokafka reconnects
                continue
            finally:
                self._rounds += 1
            for tp, records in fetched.items():
                if records:
                    self.ends[tp] = max(self.ends.get(tp, 0), records[-1].offset + 1)
                if tp.topic in dlq_topics:
                    self.dead_letters.extend(_dead_letter(r) for r in records)

    def _read_to_highwater(self) -> bool:
        """Every partition read up to the high watermark of its last fetch response."""
        assert self._consumer is not None
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            if highwater is None or self.ends.get(tp, 0) < highwater:
                return False
        return True

    async def caught_up(self, timeout: float = 30.0) -> None:
        """Wait until, after this call, fetches came back and every partition has been read
        up to the high watermark they carried: `ends` are current."""
        deadline = time.monotonic() + timeout
        start = self._rounds
        while time.monotonic() < deadline:
            if self._rounds >= start + 2 and self._read_to_highwater():
                return
            await asyncio.sleep(0.05)

    def end(self, tp: TopicPartition) -> int:
        """Where `tp` ends: the offset after the last record read, or the high watermark a
        fetch response gave if that is further (records not read yet are not consumed)."""
        highwater = self._consumer.highwater(tp) if self._consumer is not None else None
        return max(self.ends.get(tp, 0), highwater or 0)


def _dead_letter(record: Any) -> DeadLetter:
    headers = header_texts(record.headers)
    event_id = source = None
    with contextlib.suppress(Exception):
        body = json.loads(record.value)
        event_id, source = str(body.get("id")), str(body.get("source"))
    return DeadLetter(
        group_topic=record.topic,
        offset=record.offset,
        key=kafka_text(record.key),
        error_type=headers.get("x-error-type", ""),
        error=headers.get("x-error", ""),
        original_topic=headers.get("x-original-topic", ""),
        original_partition=int(headers.get("x-original-partition", "-1") or -1),
        original_offset=int(headers.get("x-original-offset", "-1") or -1),
        event_id=event_id,
        source=source,
    )


class Offsets:
    """Committed offsets of the services' consumer groups (OffsetFetch, no group join)."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self._consumers: dict[str, AIOKafkaConsumer] = {}

    async def committed(self, group: str, topics: list[str]) -> dict[TopicPartition, int]:
        consumer = self._consumers.get(group)
        if consumer is None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap, group_id=group, enable_auto_commit=False
            )
            await consumer.start()
            self._consumers[group] = consumer
        tps = partitions_of(topics)
        found = await consumer._coordinator.fetch_committed_offsets(set(tps))
        return {tp: max(0, int(found[tp].offset)) if tp in found else 0 for tp in tps}

    async def close(self) -> None:
        for consumer in self._consumers.values():
            with contextlib.suppress(Exception):
                await consumer.stop()
        self._consumers.clear()

    async def reset(self) -> None:
        """Forget connections (after a broker restart)."""
        await self.close()


def watched_topics() -> list[str]:
    topics = {t for groups in consumer_groups().values() for ts in groups.values() for t in ts}
    return sorted(topics | set(DLQ_TOPICS.values()))


def dlq_by_reason(dead_letters: list[DeadLetter]) -> dict[str, dict[str, int]]:
    """DLQ topic → reason code → how many (duplicates of one parked position counted once)."""
    seen: set[tuple[str, str, int, int]] = set()
    counts: dict[str, Counter[str]] = {}
    for letter in dead_letters:
        position = (
            letter.group_topic,
            letter.original_topic,
            letter.original_partition,
            letter.original_offset,
        )
        if position in seen:
            continue
        seen.add(position)
        counts.setdefault(letter.group_topic, Counter())[letter.error_type] += 1
    return {topic: dict(counter) for topic, counter in counts.items()}


class Producer:
    """Sends ingest messages, retrying one message (same id) until the broker takes it."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self._producer: AIOKafkaProducer | None = None
        self.retries = 0

    async def _ensure(self) -> AIOKafkaProducer:
        if self._producer is None:
            self._producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap,
                acks="all",
                request_timeout_ms=5000,
                max_request_size=4 * 1024 * 1024,
            )
            await self._producer.start()
        return self._producer

    async def send(
        self,
        topic: str,
        value: bytes,
        key: str,
        headers: list[tuple[str, bytes]],
        deadline_s: float = 120.0,
    ) -> None:
        deadline = time.monotonic() + deadline_s
        while True:
            try:
                producer = await self._ensure()
                await producer.send_and_wait(topic, value, key=key.encode(), headers=headers)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                self.retries += 1
                if time.monotonic() > deadline:
                    raise
                await self._reset()
                await asyncio.sleep(0.5)

    async def _reset(self) -> None:
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await self._producer.stop()
        self._producer = None

    async def close(self) -> None:
        await self._reset()
