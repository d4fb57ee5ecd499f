"""`wastex replay matching` wipes the read models only once it can read what rebuilds them."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError
from sqlalchemy import func, select

from wastex_matching.adapters.tables import READ_MODEL_TABLES
from wastex_matching.replay import replay
from wastex_matching.service import REOPTIMISER_LEASE
from wastex_matching.settings import MatchingSettings
from wastex_matching.testing import QINGSHAN_STEEL, Catalog
from wastex_shared.errors import DomainError
from wastex_shared.messaging import EventConsumer
from wastex_shared.storage import Lease, UnitOfWorkFactory


async def rows(uow_factory: UnitOfWorkFactory) -> dict[str, int]:
    counted = {}
    async with uow_factory() as uow:
        for table in READ_MODEL_TABLES:
            query = select(func.count()).select_from(table)
            counted[table.name] = (await uow.session.execute(query)).scalar_one()
    return counted


async def test_a_replay_that_cannot_reach_the_broker_leaves_the_read_models_as_they_were(
    consumer: EventConsumer, catalog: Catalog, uow_factory: UnitOfWorkFactory, database_url: str
) -> None:
    await catalog.feed(
        consumer,
        catalog.enterprise("steel", "Qingshan Steel"),
        catalog.site("steel-site", "steel", QINGSHAN_STEEL, "青山区"),
    )
    before = await rows(uow_factory)
    assert sum(before.values()) >= 2
    # A mistyped WASTEX_KAFKA_BOOTSTRAP, a broker down for maintenance.
    settings = MatchingSettings.model_validate(
        {"database_url": database_url, "WASTEX_KAFKA_BOOTSTRAP": "127.0.0.1:1"}
    )
    with pytest.raises(KafkaConnectionError):
        await replay(settings)
    assert await rows(uow_factory) == before


async def test_a_replay_reading_no_catalog_event_keeps_the_read_models_it_would_wipe(
    consumer: EventConsumer,
    catalog: Catalog,
    uow_factory: UnitOfWorkFactory,
    database_url: str,
    empty_broker: str,
) -> None:
    await catalog.feed(consumer, catalog.enterprise("steel", "Qingshan Steel"))
    before = await rows(uow_factory)
    settings = MatchingSettings.model_validate(
        {"database_url": database_url, "WASTEX_KAFKA_BOOTSTRAP": empty_broker}
    )
    with pytest.raises(DomainError, match="no catalog event"):
        await replay(settings)
    assert await rows(uow_factory) == before


async def test_a_replay_while_matching_runs_on_the_database_is_refused_and_wipes_nothing(
    consumer: EventConsumer,
    catalog: Catalog,
    uow_factory: UnitOfWorkFactory,
    database_url: str,
    kafka_bootstrap: str,
) -> None:
    """A running matching's rounds would plan on the wiped, half-rebuilt market and
    supersede every proposal whose listings were not read back yet."""
    registered = catalog.enterprise("steel", "Qingshan Steel")
    await catalog.feed(consumer, registered)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        [record] = catalog.records([registered])
        await producer.send_and_wait(record.topic, record.value, key=record.key)
    finally:
        await producer.stop()
    before = await rows(uow_factory)
    running = Lease(uow_factory.engine, REOPTIMISER_LEASE)  # as the running service holds it
    assert await running.hold()
    try:
        settings = MatchingSettings.model_validate(
            {"database_url": database_url, "WASTEX_KAFKA_BOOTSTRAP": kafka_bootstrap}
        )
        with pytest.raises(DomainError, match="stop it first"):
            await replay(settings, lease_wait=0.5)
        assert await rows(uow_factory) == before
    finally:
        await running.release()
    await replay(settings)  # stopped: it goes
