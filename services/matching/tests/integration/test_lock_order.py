"""Transactions that write matches take their locks in one order (`repository`'s lock
order): interleaved at the worst moment, they wait for each other instead of deadlocking.

On PostgreSQL a deadlock is broken after `deadlock_timeout` (1 s) by aborting one of the
transactions: a consumer batch is then retried, a mutation run again (`retry_conflicts`)
with nothing to show for it in its answer, so each test counts the mutation's tries as well
as the batch's retries. Each test pauses one transaction once it holds a lock, lets the other
run until it waits for a lock, then lets the first go on. On SQLite (one writer at a time)
they simply take turns."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from wastex_matching.adapters import repository as repo
from wastex_matching.adapters.repository import MatchRecord
from wastex_matching.domain.lifecycle import MatchStatus
from wastex_matching.service import MatchingService
from wastex_matching.testing import ACCEPT, QINGSHAN_STEEL, REJECT, Api, Catalog
from wastex_shared.auth import Role
from wastex_shared.envelope import Envelope
from wastex_shared.messaging import EventConsumer
from wastex_shared.storage import UnitOfWorkFactory, dialect_of

from .test_graphql_lifecycle import (
    nearer_recycler,
    propose,
    shipment_cancelled,
    shipment_dispatched,
)

#: The steel works turning a proposal down, or accepting it.
MUTATIONS = {
    "reject": (REJECT, "rejectMatch", {"reason": "not this month"}),
    "accept": (ACCEPT, "acceptMatch", {}),
}


def pause_after(monkeypatch: pytest.MonkeyPatch, name: str) -> tuple[asyncio.Event, asyncio.Event]:
    """The next call of `repository.<name>` (whoever makes it) returns only once `go` is
    set, having set `reached`; later calls run straight through."""
    reached, go = asyncio.Event(), asyncio.Event()
    original = getattr(repo, name)

    async def paused(*args: Any, **kwargs: Any) -> Any:
        result = await original(*args, **kwargs)
        if not reached.is_set():
            reached.set()
            await go.wait()
        return result

    monkeypatch.setattr(repo, name, paused)
    return reached, go


def count_tries(
    monkeypatch: pytest.MonkeyPatch, service: MatchingService, name: str
) -> list[tuple[Any, ...]]:
    """The arguments of each run of `service.<name>` from now on. A mutation runs its
    transaction again when PostgreSQL aborts it to break a deadlock (`retry_conflicts`) and
    answers as if nothing had happened: one run means it took turns, two that it deadlocked."""
    tries: list[tuple[Any, ...]] = []
    method = getattr(service, name)

    async def counted(*args: Any) -> Any:
        tries.append(args)
        return await method(*args)

    monkeypatch.setattr(service, name, counted)
    return tries


async def someone_waits_for_a_lock(uow: UnitOfWorkFactory) -> None:
    """Until a transaction waits for a row lock (PostgreSQL). SQLite shows no waiters: a
    writer there waits for the one write lock, so a moment is given it to get there."""
    async with uow.reading() as unit:
        if dialect_of(unit.session) != "postgresql":
            await asyncio.sleep(0.2)
            return
        waiting = text("SELECT count(*) FROM pg_locks WHERE NOT granted")
        async with asyncio.timeout(10):
            while not (await unit.session.execute(waiting)).scalar_one():
                await asyncio.sleep(0.01)


async def both_done(
    uow: UnitOfWorkFactory,
    go: asyncio.Event,
    answer: asyncio.Task[Any],
    batch: asyncio.Task[Any],
    consumer: EventConsumer,
    tries: list[tuple[Any, ...]],
) -> Any:
    """Let the paused transaction go once the other waits for a lock; the answer's body once
    both are done, neither aborted and run again (`tries`: the mutation's, `count_tries`)."""
    await someone_waits_for_a_lock(uow)
    go.set()
    body = await answer
    assert "errors" not in body, body["errors"]
    await batch
    assert (consumer.stats.retries, len(tries)) == (0, 1), "aborted to break a deadlock"
    return body


async def confirmed_and_proposed(
    api: Api, service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> tuple[str, Envelope, MatchRecord]:
    """A confirmed match, and a proposal of a second offer of the same supplier (its posting
    returned too)."""
    confirmed = await propose(service, consumer, catalog)
    for party in ("steel", "cement"):
        await api.as_(Role.ENTERPRISE, party).data(ACCEPT, id=confirmed)
    more = catalog.offer("slag-2", "steel", "steel-site", QINGSHAN_STEEL, tonnes="80")
    await catalog.feed(consumer, more)
    await service.reoptimise()
    [proposal], _ = await service.list_matches(
        repo.MatchScope(everything=True),
        status=MatchStatus.PROPOSED,
        enterprise_id=None,
        limit=10,
        after=None,
    )
    return confirmed, more, proposal


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
async def test_a_party_answering_a_proposal_a_round_supersedes_waits_for_the_round(
    api: Api,
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
    uow_factory: UnitOfWorkFactory,
    monkeypatch: pytest.MonkeyPatch,
    mutation: str,
) -> None:
    """The round held the match-writes counter and went for the proposal's row; the
    mutation held that row (locked first, so that acceptances take turns) and went for the
    counter: a deadlock; on PostgreSQL the mutation was aborted (SERVICE_UNAVAILABLE, then
    run again by `retry_conflicts`, refused as superseded)."""
    match_id = await propose(service, consumer, catalog)
    await catalog.feed(consumer, *nearer_recycler(catalog))  # the next round supersedes it
    counted, go = pause_after(monkeypatch, "note_match_writes")
    round_ = asyncio.create_task(service.reoptimise())
    await counted.wait()  # the round's write holds the counter
    document, field, variables = MUTATIONS[mutation]
    tries = count_tries(monkeypatch, service, mutation)
    answer = asyncio.create_task(
        api.as_(Role.ENTERPRISE, "steel").execute(document, id=match_id, **variables)
    )
    await someone_waits_for_a_lock(uow_factory)
    go.set()

    body = await answer
    assert "errors" not in body, body["errors"]
    assert body["data"][field]["userErrors"][0]["code"] == "INVALID_TRANSITION"
    assert len(tries) == 1, "aborted to break a deadlock, then refused as superseded"
    report = await round_
    assert (report.proposed, report.superseded) == (1, 1)
    record = await service.get(match_id)
    assert record is not None
    assert record.status is MatchStatus.SUPERSEDED


async def test_a_rejection_and_a_batch_cancelling_a_shipment_take_turns(
    api: Api,
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
    uow_factory: UnitOfWorkFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch with a posting then a shipment called off held the market version and went
    for the match-writes counter; a rejection held that counter and went for the market
    version (the tonnes it frees): a deadlock, broken by aborting one of them."""
    confirmed, _, proposal = await confirmed_and_proposed(api, service, consumer, catalog)

    bumped, go = pause_after(monkeypatch, "bump_version")
    batch = asyncio.create_task(
        catalog.feed(
            consumer,
            catalog.offer("slag-3", "steel", "steel-site", QINGSHAN_STEEL, tonnes="30"),
            shipment_cancelled(confirmed, "cement", "kiln down for repairs"),
        )
    )
    await bumped.wait()  # the batch holds the market version
    tries = count_tries(monkeypatch, service, "reject")
    answer = asyncio.create_task(
        api.as_(Role.ENTERPRISE, "cement").execute(
            REJECT, id=proposal.id, reason="kiln down for repairs"
        )
    )
    body = await both_done(uow_factory, go, answer, batch, consumer, tries)
    assert body["data"]["rejectMatch"]["match"]["status"] == "REJECTED"
    cancelled = await service.get(confirmed)
    assert cancelled is not None
    assert cancelled.status is MatchStatus.CANCELLED


async def test_an_acceptance_and_a_batch_amending_its_offer_and_licence_take_turns(
    api: Api,
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
    uow_factory: UnitOfWorkFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The acceptance held the licence row and went for the offer's; a batch amending the
    offer, then the licence, wrote its rows in the order it queued them: it held the offer
    row and went for the licence's. A deadlock, broken by aborting one of them."""
    match_id = await propose(service, consumer, catalog)
    posted = catalog.offer("slag-1", "steel", "steel-site", QINGSHAN_STEEL, tonnes="120.500")

    locked, go = pause_after(monkeypatch, "licence")
    tries = count_tries(monkeypatch, service, "accept")
    answer = asyncio.create_task(api.as_(Role.ENTERPRISE, "steel").execute(ACCEPT, id=match_id))
    await locked.wait()  # the acceptance holds the licence row
    batch = asyncio.create_task(
        catalog.feed(
            consumer,
            catalog.amended(posted, description="granulated slag"),
            catalog.amended_licence("cement-lic", "cement", ["SW01", "SW02"], 2, capacity="60000"),
        )
    )
    body = await both_done(uow_factory, go, answer, batch, consumer, tries)
    assert body["data"]["acceptMatch"]["match"]["status"] == "ACCEPTED_BY_SUPPLIER"
    async with uow_factory.reading() as unit:
        licence = await repo.licence(unit.session, "cement-lic")
    assert licence is not None
    assert licence.annual_capacity_tonnes == 60000


async def test_an_acceptance_and_a_batch_re_run_message_by_message_take_turns(
    api: Api,
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
    uow_factory: UnitOfWorkFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch re-run with a savepoint per message (one of them was refused) wrote the
    amended offer's rows as that message's savepoint ended, then a later message called a
    shipment off and went for the match-writes counter; the acceptance of a proposal on
    that offer held the counter and went for the offer's row. A deadlock, broken by
    aborting one of them."""
    confirmed, more, proposal = await confirmed_and_proposed(api, service, consumer, catalog)
    assert proposal.offer_id == "slag-2"

    counted, go = pause_after(monkeypatch, "note_match_writes")
    tries = count_tries(monkeypatch, service, "accept")
    answer = asyncio.create_task(api.as_(Role.ENTERPRISE, "steel").execute(ACCEPT, id=proposal.id))
    await counted.wait()  # the acceptance holds the match-writes counter
    batch = asyncio.create_task(
        catalog.feed(
            consumer,
            shipment_cancelled(confirmed, "bricks", "no party of it: refused"),
            catalog.amended(more, description="granulated slag"),
            shipment_cancelled(confirmed, "cement", "kiln down for repairs"),
        )
    )
    body = await both_done(uow_factory, go, answer, batch, consumer, tries)
    assert body["data"]["acceptMatch"]["match"]["status"] == "ACCEPTED_BY_SUPPLIER"
    assert consumer.stats.dead_lettered == 1  # the refused cancellation, parked
    cancelled = await service.get(confirmed)
    assert cancelled is not None
    assert cancelled.status is MatchStatus.CANCELLED


async def test_an_acceptance_and_a_batch_with_a_full_load_dispatched_take_turns(
    api: Api,
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
    uow_factory: UnitOfWorkFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch whose first message dispatched a confirmed match with its whole load (it
    frees nothing, so it changed no market) counted its match write, then a posting went
    for the market version; the acceptance of a proposal held the market version and went
    for the match-writes counter. A deadlock, broken by aborting one of them."""
    confirmed, _, proposal = await confirmed_and_proposed(api, service, consumer, catalog)

    counted, go = pause_after(monkeypatch, "note_match_writes")
    batch = asyncio.create_task(
        catalog.feed(
            consumer,
            shipment_dispatched(confirmed, "120.500", planned="120.500"),
            catalog.offer("slag-3", "steel", "steel-site", QINGSHAN_STEEL, tonnes="30"),
        )
    )
    await counted.wait()  # the batch holds the match-writes counter
    tries = count_tries(monkeypatch, service, "accept")
    answer = asyncio.create_task(api.as_(Role.ENTERPRISE, "steel").execute(ACCEPT, id=proposal.id))
    body = await both_done(uow_factory, go, answer, batch, consumer, tries)
    assert body["data"]["acceptMatch"]["match"]["status"] == "ACCEPTED_BY_SUPPLIER"
    shipped = await service.get(confirmed)
    assert shipped is not None
    assert shipped.shipped_tonnes == Decimal("120.500")
