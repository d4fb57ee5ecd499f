"""Topics are made with their settings (retention, timestamps), and a topic made earlier
with others is reported (on the real broker)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from wastex_shared.messaging.admin import ensure_topics
from wastex_shared.topics import (
    CATALOG_DLQ,
    CATALOG_OFFER_POSTED,
    INGEST_OFFERS,
    INGEST_RETENTION,
    LEDGER_ENTRY_RECORDED,
    Topic,
)

WEEK_MS = str(7 * 24 * 3600 * 1000)


@pytest.fixture
async def admin(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaAdminClient]:
    client = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await client.start()
    try:
        yield client
    finally:
        await client.close()


async def config_of(admin: AIOKafkaAdminClient, name: str, key: str) -> str:
    (response,) = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
    ((*_, entries),) = response.resources
    return str({k: value for k, value, *_ in entries}[key])


async def retention_of(admin: AIOKafkaAdminClient, name: str) -> str:
    return await config_of(admin, name, "retention.ms")


async def test_facts_are_kept_for_ever_and_ingest_and_dead_letters_age_out(
    kafka_bootstrap: str, admin: AIOKafkaAdminClient
) -> None:
    # The session's broker was set up by ensure_topics (the testing plugin).
    assert await retention_of(admin, CATALOG_OFFER_POSTED.name) == "-1"
    assert await retention_of(admin, LEDGER_ENTRY_RECORDED.name) == "-1"
    assert await retention_of(admin, INGEST_OFFERS.name) == WEEK_MS
    # The broker stamps ingest messages: tokens are judged when it took them.
    assert await config_of(admin, INGEST_OFFERS.name, "message.timestamp.type") == ("LogAppendTime")
    assert await retention_of(admin, CATALOG_DLQ.name) == str(30 * 24 * 3600 * 1000)


async def test_a_topic_made_earlier_with_another_retention_is_reported_not_changed(
    kafka_bootstrap: str, admin: AIOKafkaAdminClient, caplog: pytest.LogCaptureFixture
) -> None:
    name = f"t-{uuid.uuid4().hex[:8]}"
    await admin.create_topics([NewTopic(name, 1, 1, topic_configs={"retention.ms": WEEK_MS})])

    with caplog.at_level(logging.WARNING, logger="wastex_shared.messaging.admin"):
        await ensure_topics(kafka_bootstrap, [Topic(name, 1)])

    (warning,) = [r.getMessage() for r in caplog.records if name in r.getMessage()]
    assert f"retention.ms={WEEK_MS}" in warning
    assert "expects -1" in warning
    assert await retention_of(admin, name) == WEEK_MS


async def test_a_topic_as_expected_is_not_reported(
    kafka_bootstrap: str, caplog: pytest.LogCaptureFixture
) -> None:
    name = f"t-{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka_bootstrap, [Topic(name, 1)])  # made here, kept for ever

    with caplog.at_level(logging.WARNING, logger="wastex_shared.messaging.admin"):
        await ensure_topics(kafka_bootstrap, [Topic(name, 1)])

    assert not [r for r in caplog.records if name in r.getMessage()]


async def test_a_topic_made_without_settings_is_reported(
    kafka_bootstrap: str, admin: AIOKafkaAdminClient, caplog: pytest.LogCaptureFixture
) -> None:
    """tansu reports only what a topic was made with: a topic an earlier version made
    without settings lists none, and was taken for one as expected."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    await admin.create_topics([NewTopic(name, 1, 1)])

    with caplog.at_level(logging.WARNING, logger="wastex_shared.messaging.admin"):
        await ensure_topics(kafka_bootstrap, [Topic(name, 1, INGEST_RETENTION, True)])

    warnings = sorted(r.getMessage() for r in caplog.records if name in r.getMessage())
    assert len(warnings) == 2
    assert "message.timestamp.type=" in warnings[0]
    assert "retention.ms=" in warnings[1]
