"""Read a topic from offset 0 to its current end, without a consumer group (replay, DLQ tools)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

#: Stop once no record arrived for this long, even if the end was never reached.
IDLE_MS = 1500


async def read_topic(bootstrap: str, *topics: str, batch: int = 1000) -> AsyncIterator[Any]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=batch,
    )
    await consumer.start()
    try:
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
        while idle < IDLE_MS:
            if all([await _at_end(consumer, tp) for tp in partitions]):
                return
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
