"""A round keeps the live matches in memory while only it writes them; any other write to
matches (an acceptance, a second re-optimiser) makes the next round read them afresh.
Both databases."""

from __future__ import annotations

from wastex_matching.adapters import repository as repo
from wastex_matching.domain.lifecycle import Party
from wastex_matching.service import MatchingService
from wastex_matching.settings import MatchingSettings
from wastex_matching.testing import QINGSHAN_STEEL, Catalog, fixed_clock
from wastex_shared.messaging import EventConsumer
from wastex_shared.storage import UnitOfWorkFactory

from .test_reoptimisation import add_nearer_recycler, seed_market


async def fresh(uow_factory: UnitOfWorkFactory) -> repo.LiveMatches:
    async with uow_factory() as uow:
        return await repo.live_matches(uow.session, None)


def as_read(live: repo.LiveMatches | None) -> tuple[object, ...]:
    assert live is not None
    return (
        live.writes,
        sorted(live.fixed, key=str),
        sorted(live.proposals.items()),
        live.index.rows(),
        sorted(live.rejected),
    )


async def test_what_a_round_keeps_is_what_a_fresh_read_finds(
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
    uow_factory: UnitOfWorkFactory,
) -> None:
    await seed_market(catalog, consumer)
    await service.reoptimise()
    assert as_read(service._live) == as_read(await fresh(uow_factory))
    # More offers, then a nearer recycler: rounds that propose and supersede.
    await catalog.feed(
        consumer,
        catalog.offer("slag-2", "steel", "steel-site", QINGSHAN_STEEL, tonnes="30.000"),
    )
    await service.reoptimise()
    assert as_read(service._live) == as_read(await fresh(uow_factory))
    await add_nearer_recycler(catalog, consumer)
    report = await service.reoptimise()
    assert report.superseded > 0
    assert as_read(service._live) == as_read(await fresh(uow_factory))


async def first_round(
    service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> repo.LiveMatches:
    """The seeded market's first round; what it keeps (one proposal)."""
    await seed_market(catalog, consumer)
    await service.reoptimise()
    assert service._live is not None
    assert len(service._live.proposals) == 1
    return service._live


async def test_a_write_by_anyone_else_makes_the_next_read_fresh(
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
    uow_factory: UnitOfWorkFactory,
) -> None:
    kept = await first_round(service, consumer, catalog)
    async with uow_factory() as uow:
        assert await repo.live_matches(uow.session, kept) is kept  # nothing moved
    # Another replica of the service accepts the proposal.
    other = MatchingService(uow_factory, MatchingSettings(), clock=fixed_clock)
    (match_id,) = kept.proposals
    await other.accept(match_id, Party.SUPPLIER)
    async with uow_factory() as uow:
        now = await repo.live_matches(uow.session, kept)
    assert now is not kept
    assert [m.match_id for m in now.fixed] == [match_id]
    assert now.proposals == {}


async def test_a_rejection_is_read_with_the_matches_and_kept_by_the_next_rounds(
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
    uow_factory: UnitOfWorkFactory,
) -> None:
    kept = await first_round(service, consumer, catalog)
    assert kept.rejected == frozenset()
    (match_id,) = kept.proposals
    await service.reject(match_id, Party.RECYCLER, "too wet")
    report = await service.reoptimise()  # reads the matches afresh: the counter moved
    assert report.proposed == 0  # the pair is never proposed again
    assert service._live is not None
    assert service._live.rejected == {("slag-1", "cement-demand")}
    assert as_read(service._live) == as_read(await fresh(uow_factory))


async def test_a_round_that_raced_another_writer_forgets_what_it_kept(
    service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> None:
    kept = await first_round(service, consumer, catalog)
    (match_id,) = kept.proposals
    # Counted by this round's write, but another write came first: not kept.
    assert kept.after_round(kept.writes + 2, superseded=[match_id], proposed=()) is None
    assert kept.after_round(kept.writes + 1, superseded=[match_id], proposed=()) == (
        repo.LiveMatches(kept.writes + 1, kept.fixed, {})
    )


async def test_a_transaction_counts_its_match_writes_once_even_as_its_first_statement(
    uow_factory: UnitOfWorkFactory,
) -> None:
    """The count began the transaction: keyed by the transaction before it (none), a second
    call counted again, and a round's cached matches were dropped every round."""
    async with uow_factory() as uow:
        first = await repo.note_match_writes(uow.session)
        assert await repo.note_match_writes(uow.session) == first
        await uow.commit()
    async with uow_factory() as uow:
        assert await repo.note_match_writes(uow.session) == first + 1
