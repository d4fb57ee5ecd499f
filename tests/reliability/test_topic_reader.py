"""Replay and `wastex dlq` read topics from offset 0 to the end: every record, even when
the broker under-reports its end offsets (tansu does after batched sends)."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from wastex_cli.dlq import read_all
from wastex_shared.messaging.admin import ensure_topics
from wastex_shared.messaging.topic_reader import read_topic
from wastex_shared.topics import Topic

RECORDS = 5000


async def _batched_topic(bootstrap: str) -> str:
    name = f"reliability.reader.{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, [Topic(name, 3)])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        sends = [await producer.send(name, b"x", key=str(i % 7).encode()) for i in range(RECORDS)]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()
    return name


async def _reported_end(bootstrap: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in range(3)])
        return sum(ends.values())
    finally:
        await consumer.stop()


async def test_read_topic_reads_every_record_of_a_batched_topic(kafka_bootstrap: str) -> None:
    topic = await _batched_topic(kafka_bootstrap)
    reported = await _reported_end(kafka_bootstrap, topic)

    read = [record async for record in read_topic(kafka_bootstrap, topic, batch=100)]

    assert len(read) == RECORDS, (
        f"read_topic stopped after {len(read)} of {RECORDS} records "
        f"(the broker reports end offsets summing to {reported})"
    )


async def test_wastex_dlq_reads_every_record_of_a_batched_topic(kafka_bootstrap: str) -> None:
    topic = await _batched_topic(kafka_bootstrap)

    read = [record async for record in read_all(kafka_bootstrap, topic)]

    assert len(read) == RECORDS
