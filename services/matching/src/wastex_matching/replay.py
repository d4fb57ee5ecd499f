"""`wastex replay matching`: rebuild the catalog read models from the catalog topics.

Wipes enterprises, sites, licences, offers, demands and listing status, forgets the inbox
marks of catalog events, then re-reads every catalog topic from offset 0 through the very
handlers the live consumer uses (same idempotent batches, same inbox). Matches are the
service's own records, not a read model: they stay as they are. Stop the service first.
Nothing is wiped before the broker answers, nor when it holds no catalog event at all while
the read models hold rows (REPLAY_INCOMPLETE: another broker than the catalog's).
It refuses (SERVICE_RUNNING) while a matching process holds the re-optimiser's lease on
the database, and holds it itself while it runs, so no round plans on a half-rebuilt market.
Handlers are order-independent (upserts keeping the newest version; WITHDRAWN/EXPIRED stay
final), so reading the topics' partitions in any interleaving yields the same read models.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import delete, select

from wastex_matching.adapters import repository as repo
from wastex_matching.adapters.migrations import LOCATION
from wastex_matching.adapters.tables import READ_MODEL_TABLES, messaging
from wastex_matching.entrypoints.kafka import CATALOG_TOPICS, matching_consumer
from wastex_matching.service import REOPTIMISER_LEASE, MatchingService
from wastex_matching.settings import MatchingSettings
from wastex_shared.errors import DomainError
from wastex_shared.messaging.topic_reader import read_topic
from wastex_shared.storage import Lease, UnitOfWorkFactory, make_engine
from wastex_shared.storage.migrate import upgrade

BATCH = 500


async def wipe_read_models(uow: UnitOfWorkFactory) -> None:
    async with uow() as unit:
        for table in READ_MODEL_TABLES:
            await unit.session.execute(delete(table))
        inbox = messaging.inbox
        await unit.session.execute(delete(inbox).where(inbox.c.event_type.like("catalog.%")))
        await unit.commit()


async def _holds_any(uow: UnitOfWorkFactory) -> bool:
    async with uow() as unit:
        for table in READ_MODEL_TABLES:
            if (await unit.session.execute(select(table).limit(1))).first() is not None:
                return True
    return False


async def _chain(first: Any, rest: AsyncIterator[Any]) -> AsyncIterator[Any]:
    if first is not None:
        yield first
    async for record in rest:
        yield record


#: How long replay waits for a matching process just stopped to let the lease go (its
#: round process is given ten seconds to stop).
LEASE_WAIT_SECONDS = 15.0


async def _take(lease: Lease, wait: float) -> bool:
    deadline = asyncio.get_running_loop().time() + wait
    while not await lease.hold():
        if asyncio.get_running_loop().time() >= deadline:
            return False
        await asyncio.sleep(0.2)
    return True


async def replay(settings: MatchingSettings, lease_wait: float = LEASE_WAIT_SECONDS) -> str:
    engine = make_engine(settings.db_url)
    try:
        await upgrade(engine, LOCATION)
        # Rounds on a wiped, half-rebuilt market would supersede every proposal whose
        # listings were not read back yet: none runs while replay holds their lease.
        lease = Lease(engine, REOPTIMISER_LEASE)
        if not await _take(lease, lease_wait):
            raise DomainError(
                "SERVICE_RUNNING",
                "matching is running on this database (it holds the re-optimiser's lease): "
                "stop it first",
            )
        try:
            read, stats = await _rebuild(settings, UnitOfWorkFactory(engine, messaging))
        finally:
            await lease.release()
    finally:
        await engine.dispose()
    return (
        f"matching: replayed {read} catalog events from {len(CATALOG_TOPICS)} topics "
        f"(applied {stats.handled}, duplicates {stats.duplicates}, "
        f"dead-lettered {stats.dead_lettered}); read models rebuilt, matches kept"
    )


async def _rebuild(settings: MatchingSettings, uow: UnitOfWorkFactory) -> tuple[int, Any]:
    """Wipe the read models and re-read the catalog topics; how many events were read, and
    the consumer's stats."""
    records = read_topic(settings.kafka_bootstrap, *CATALOG_TOPICS)
    # Reach the broker before wiping: one that cannot be reached leaves the read models
    # as they were, not empty until a replay gets through.
    first = await anext(records, None)
    if first is None and await _holds_any(uow):
        # Only the catalog's events make these rows: none read means another broker
        # than the catalog's (or one whose topics were lost), not an empty city.
        raise DomainError(
            "REPLAY_INCOMPLETE",
            "no catalog event read, yet the read models hold rows (another broker than "
            "the catalog's?): nothing wiped",
        )
    await wipe_read_models(uow)
    service = MatchingService(uow, settings)
    consumer = matching_consumer(service, settings)
    read = 0
    batch: list[Any] = []
    async for record in _chain(first, records):
        batch.append(record)
        read += 1
        if len(batch) >= BATCH:
            await consumer.handle_batch(batch)
            batch = []
    if batch:
        await consumer.handle_batch(batch)
    async with uow() as unit:  # make sure the next start re-optimises on the rebuilt market
        await repo.bump_version(unit.session)
        await unit.commit()
    return read, consumer.stats
