"""Create every topic with its final partition count up front (tansu cannot add partitions)."""

from __future__ import annotations

import asyncio
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from wastex_shared.topics import Topic, all_topics

log = logging.getLogger(__name__)


async def ensure_topics(
    bootstrap: str, topics: list[Topic] | None = None, replication: int = 1
) -> None:
    wanted = topics if topics is not None else all_topics()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t.name not in existing]
        if not missing:
            return
        new = [NewTopic(t.name, t.partitions, replication) for t in missing]
        try:
            await admin.create_topics(new)
        except TopicAlreadyExistsError:
            pass  # another service created them first
        except KafkaError as exc:
            # create_topics reports per-topic errors; a racing creator is fine, others are not.
            if "TopicAlreadyExists" not in repr(exc):
                raise
    finally:
        await admin.close()


async def wait_for_broker(bootstrap: str, timeout: float = 30.0) -> None:
    """Block until the broker answers a metadata round trip."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=2_000)
        try:
            await admin.start()
            await admin.list_topics()
            return
        except Exception:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)
        finally:
            await admin.close()
