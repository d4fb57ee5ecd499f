"""Create every topic with its final partition count (tansu cannot add partitions) and its
settings (retention, timestamps) up front; say so when a topic made earlier has others."""

from __future__ import annotations

import asyncio
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
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
        await _check_configs(admin, [t for t in wanted if t.name in existing])
        missing = [t for t in wanted if t.name not in existing]
        if not missing:
            return
        new = [
            NewTopic(t.name, t.partitions, replication, topic_configs=t.configs) for t in missing
        ]
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


async def _check_configs(admin: AIOKafkaAdminClient, topics: list[Topic]) -> None:
    """Warn about topics whose settings differ from `wastex_shared.topics` (made by hand or
    by an earlier version). Not altered here: that is the operator's call, and a topic kept
    for ever on purpose must not be shortened by a start-up."""
    if not topics:
        return
    # All of each topic's settings: tansu drops the connection when asked for some by name.
    resources = [ConfigResource(ConfigResourceType.TOPIC, t.name) for t in topics]
    try:
        responses = await admin.describe_configs(resources)
    except KafkaError as exc:
        log.warning("could not read the topics' settings: %r", exc)
        return
    found: dict[str, dict[str, str]] = {}
    for response in responses:
        for _code, _message, _type, name, entries in response.resources:
            found[name] = {key: value for key, value, *_ in entries}
    for topic in topics:
        settings = found.get(topic.name, {})
        for key, want in topic.configs.items():
            # A broker that reports no defaults (tansu) lists only what a topic was made
            # with: a setting it lacks was not made, and is reported too.
            if settings.get(key) != want:
                log.warning(
                    "topic %s has %s=%s, wastex expects %s (deploy/README.md says how to "
                    "change it)",
                    topic.name,
                    key,
                    settings.get(key, "(not set)"),
                    want,
                )


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
