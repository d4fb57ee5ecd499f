"""Bind an EventConsumer to topics as a faststream batch subscriber with manual commit.

faststream's default ack policy commits before the handler finishes and `ACK` commits even
when it raised; MANUAL lets us commit the batch's offsets only after its DB transaction.
A commit covers everything fetched, so a batch that raised is rewound (`nack`) before the
next one can commit past it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage

from wastex_shared.messaging.consumer import EventConsumer
from wastex_shared.messaging.dead_letter import kafka_text
from wastex_shared.messaging.record_batch import install_tolerant_batch_reader
from wastex_shared.settings import ServiceSettings


async def _text_safe_headers(records: Any, parse: Callable[[Any], Awaitable[Any]]) -> Any:
    """faststream decodes every header value as UTF-8 before any handler runs, so a header
    with no value (Kafka allows it; aiokafka gives None) or bytes that are not UTF-8 failed
    the whole batch unseen. Hand it values that decode; the consumer reads headers as text
    anyway (`header_texts`: none is empty, bad bytes replaced), so nothing it sees changes."""
    batch = records if isinstance(records, tuple) else (records,)
    safe = tuple(
        dataclasses.replace(
            r,
            headers=tuple((k, kafka_text(v).encode()) for k, v in r.headers or ()),
        )
        for r in batch
    )
    return await parse(safe if isinstance(records, tuple) else safe[0])


async def _left_to_the_consumer(message: Any, decode: Callable[[Any], Awaitable[Any]]) -> None:
    """faststream's batch decoder parses every record again and JSON-decodes its body for a
    handler argument ours does not take: `EventConsumer` decodes the raw records itself (and
    parks what does not decode). Skipping it saves that work on every message."""
    return None


def subscribe(
    router: KafkaRouter, consumer: EventConsumer, topics: list[str], settings: ServiceSettings
) -> Any:
    # aiokafka would fail every fetch of a batch it cannot read (a header name that is not
    # UTF-8, a CRC mismatch, a body that does not decompress).
    install_tolerant_batch_reader()

    async def handle(message: KafkaMessage) -> None:
        records = message.raw_message
        try:
            await consumer.handle_batch(records if isinstance(records, tuple) else (records,))
        except Exception:
            # Not done: rewind, or the next batch's commit would cover this one's offsets.
            await message.nack()
            raise
        await message.ack()

    handle.__name__ = f"{consumer.group}_consumer"
    return router.subscriber(
        *topics,
        group_id=consumer.group,
        batch=True,
        ack_policy=AckPolicy.MANUAL,
        auto_offset_reset="earliest",
        max_records=settings.consumer_batch_size,
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
        session_timeout_ms=3000,
        heartbeat_interval_ms=500,
        parser=_text_safe_headers,
        decoder=_left_to_the_consumer,
        title=f"{consumer.group}: {', '.join(topics)}",
        description=f"Idempotent batch consumer; poison goes to {consumer.dlq_topic}",
    )(handle)
