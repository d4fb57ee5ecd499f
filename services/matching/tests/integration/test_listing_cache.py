"""A round's listing cache reads only what changed since its last read, and always finds
what a read of every listing finds. Both databases."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from wastex_matching.adapters import repository as repo
from wastex_matching.domain import OfferSlot
from wastex_matching.testing import QINGSHAN_STEEL, TODAY, Catalog
from wastex_shared.envelope import Envelope
from wastex_shared.messaging import EventConsumer
from wastex_shared.storage import UnitOfWorkFactory

from .test_reoptimisation import add_nearer_recycler, seed_market


async def market(
    uow_factory: UnitOfWorkFactory, cache: repo.ListingCache, today: date = TODAY
) -> tuple[list[tuple[str, object]], list[tuple[str, object]]]:
    async with uow_factory.reading() as uow:
        snapshot = await repo.load_market(uow.session, today, cache)
        await uow.rollback()
    return (
        [(o.offer_id, o) for o in snapshot.offers],
        [(d.demand_id, d) for d in snapshot.demands],
    )


async def test_a_kept_cache_finds_what_a_fresh_read_finds_after_every_change(
    consumer: EventConsumer, catalog: Catalog, uow_factory: UnitOfWorkFactory
) -> None:
    kept = repo.ListingCache()

    async def both_agree(today: date = TODAY) -> list[str]:
        found = await market(uow_factory, kept, today)
        assert found == await market(uow_factory, repo.ListingCache(), today)
        return [ident for ident, _ in found[0] + found[1]]

    await seed_market(catalog, consumer)
    assert await both_agree() == ["slag-1", "cement-demand"]
    assert kept.version is not None

    def offer(ident: str, until: date = date(2027, 1, 31)) -> Envelope:
        return catalog.offer(ident, "steel", "steel-site", QINGSHAN_STEEL, available_until=until)

    # New postings, a withdrawal, and a status that arrives before its posting.
    await catalog.feed(consumer, offer("slag-2"), offer("slag-3"))
    await add_nearer_recycler(catalog, consumer)
    assert await both_agree() == ["slag-1", "slag-2", "slag-3", "bricks-demand", "cement-demand"]
    await catalog.feed(
        consumer,
        catalog.offer_withdrawn("slag-2", "steel"),
        catalog.offer_updated("slag-4", "steel", "EXPIRED", "10.000", version=3),
        catalog.offer_updated("slag-6", "steel", "OPEN", "10.000", version=2),
        catalog.demand_withdrawn("cement-demand", "cement"),
    )
    assert await both_agree() == ["slag-1", "slag-3", "bricks-demand"]
    await catalog.feed(
        consumer, offer("slag-4"), offer("slag-5", until=date(2026, 12, 15)), offer("slag-6")
    )
    assert await both_agree() == ["slag-1", "slag-3", "slag-5", "slag-6", "bricks-demand"]
    # Nothing changed: nothing read, nothing lost. A later day: availability ran out.
    assert await both_agree() == ["slag-1", "slag-3", "slag-5", "slag-6", "bricks-demand"]
    later = date(2026, 12, 20)
    assert await both_agree(later) == ["slag-1", "slag-3", "slag-6", "bricks-demand"]


async def test_a_kept_cache_reads_only_the_listings_changed_since_its_last_read(
    consumer: EventConsumer,
    catalog: Catalog,
    uow_factory: UnitOfWorkFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kept = repo.ListingCache()
    await seed_market(catalog, consumer)
    await market(uow_factory, kept)
    read: list[str] = []
    original = repo.offer_slot

    def counted(row: Any) -> OfferSlot:
        read.append(row.id)
        return original(row)

    monkeypatch.setattr(repo, "offer_slot", counted)
    await catalog.feed(consumer, catalog.offer("slag-2", "steel", "steel-site", QINGSHAN_STEEL))
    await market(uow_factory, kept)
    await market(uow_factory, kept)
    assert read == ["slag-2"]


async def test_a_listing_stamped_after_the_read_began_is_read_once_in_the_next_round(
    consumer: EventConsumer,
    catalog: Catalog,
    uow_factory: UnitOfWorkFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On PostgreSQL each statement of a round's read sees what has committed by then: a
    posting can commit between the version read and the listings read. Left for the next
    round, it is read once; read in both, the next round had a new slot for an offer it had
    allocated and planned the whole market. The race is made here by reading an older
    version."""
    kept = repo.ListingCache()
    await seed_market(catalog, consumer)
    await market(uow_factory, kept)
    version_before = kept.version
    assert version_before is not None
    await catalog.feed(consumer, catalog.offer("slag-2", "steel", "steel-site", QINGSHAN_STEEL))
    read: list[str] = []
    original_slot, original_version = repo.offer_slot, repo.read_version

    def counted(row: Any) -> OfferSlot:
        read.append(row.id)
        return original_slot(row)

    async def the_version_before(session: Any) -> int:
        return version_before

    monkeypatch.setattr(repo, "offer_slot", counted)
    monkeypatch.setattr(repo, "read_version", the_version_before)
    offers, _ = await market(uow_factory, kept)
    assert [ident for ident, _ in offers] == ["slag-1"]  # slag-2 committed after the version
    monkeypatch.setattr(repo, "read_version", original_version)
    offers, _ = await market(uow_factory, kept)
    assert [ident for ident, _ in offers] == ["slag-1", "slag-2"]
    slot = dict(offers)["slag-2"]
    offers, _ = await market(uow_factory, kept)
    assert dict(offers)["slag-2"] is slot  # the same slot: nothing for a round to re-plan
    assert read == ["slag-2"]
