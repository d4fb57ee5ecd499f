"""Read a topic from offset 0 to its current end, without a consumer group (replay, DLQ tools)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

#: Fail once no record arrived for this long and the end was still not reached: a broker
#: that stalls (paused, a partition's leader moving) must fail the read, not end it early
#: (a replay would rebuild from part of the history as if it were all of it).
STALL_MS = 30_000


class IncompleteRead(RuntimeError):
    """The broker stopped answering before every partition was read to its end."""


async def read_topic(
    bootstrap: str, *topics: str, batch: int = 1000, stall_ms: int = STALL_MS
) -> AsyncIterator[Any]:
    """Every record of `topics`, from offset 0 to each partition's end as the read began
    to see it; `IncompleteRead` when no record came for `stall_ms` before the end."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=batch,
    )
    try:
        await consumer.start()
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(
                consumer.partitions_for_topic(topic) or await _partitions(consumer, topic)
            )
        ]
        if not partitions:
            return
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        # Not ListOffsets (`end_offsets`): tansu under-reports it after batched sends. The
        # end is the high watermark every fetch response carries.
        idle = 0
        while True:
            behind = [tp for tp in partitions if not await _at_end(consumer, tp)]
            if not behind:
                return
            if idle >= stall_ms:
                names = ", ".join(f"{tp.topic}-{tp.partition}" for tp in behind)
                raise IncompleteRead(
                    f"the broker sent nothing for {stall_ms / 1000:g} s before the end of {names}"
                )
            fetched = await consumer.getmany(*partitions, timeout_ms=200)
            if not fetched:
                idle += 200
                continue
            idle = 0
            for tp in partitions:
                for record in fetched.get(tp, []):
                    yield record
    finally:
        await consumer.stop()


async def _at_end(consumer: AIOKafkaConsumer, tp: TopicPartition) -> bool:
    """Read up to the partition's end as the last fetch response gave it (none yet: no)."""
    highwater = consumer.highwater(tp)
    return highwater is not None and bool(await consumer.position(tp) >= highwater)


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(topic) or set()
