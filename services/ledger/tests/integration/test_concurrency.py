"""Concurrent commands on SQLite and PostgreSQL: two reports that each fit the balance but
not together (exactly one is booked: the balance_guard row lock, or one writer at a time);
two words on one discrepancy (a compare-and-set: neither is lost)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest

from wastex_ledger.adapters.repository import (
    EntryFilter,
    ManifestFilter,
    Page,
    Repository,
    cursor_of,
)
from wastex_ledger.domain.entries import Entry, EntryKind
from wastex_ledger.domain.manifest import GapCause, ManifestStatus
from wastex_ledger.domain.scope import Scope
from wastex_ledger.domain.visibility import Reach
from wastex_ledger.service import LedgerService
from wastex_ledger.testing import Harness, Site, unique
from wastex_shared.errors import DomainError


async def report(svc: LedgerService, site: Site, kind: EntryKind, tonnes: str) -> Entry:
    """`site`'s enterprise reports SW01 in January 2026."""
    return await svc.report(
        site.enterprise_id,
        kind,
        site_id=site.site_id,
        waste_code="SW01",
        tonnes=tonnes,
        period="2026-01",
    )


async def test_concurrent_uses_cannot_both_pass_the_balance_check(ledger: Harness) -> None:
    steel = await ledger.register("青山区")
    svc = ledger.service
    await report(svc, steel, EntryKind.GENERATED, "100.000")

    async def use(kind: EntryKind) -> object:
        try:
            return await report(svc, steel, kind, "60.000")
        except DomainError as err:
            return err.code

    results = await asyncio.gather(
        *(use(k) for k in (EntryKind.UTILISED_IN_PLANT, EntryKind.STORED, EntryKind.DISPOSED))
    )
    assert sorted(r for r in results if isinstance(r, str)) == [
        "BALANCE_VIOLATION",
        "BALANCE_VIOLATION",
    ]
    u = await ledger.figures(Scope(enterprise_id=steel.enterprise_id), "2026-01")
    assert u.utilised_in_plant + u.stored + u.disposed == Decimal("60.000")


async def _discrepancy(ledger: Harness) -> tuple[str, str, str]:
    """A received manifest 10 % short; (its id, the supplier, the recycler)."""
    steel = await ledger.register("青山区")
    cement = await ledger.register("新洲区")
    await ledger.service.report(
        steel.enterprise_id,
        EntryKind.GENERATED,
        site_id=steel.site_id,
        waste_code="SW01",
        tonnes="50.000",
        period="2026-04",
    )
    match = await ledger.confirm(steel, cement, "50.000")
    sent = await ledger.service.dispatch(steel.enterprise_id, match, "50.000", period="2026-04")
    await ledger.service.receive(cement.enterprise_id, sent.id, "45.000")
    return sent.id, steel.enterprise_id, cement.enterprise_id


async def test_a_proposal_written_meanwhile_is_not_overwritten(ledger: Harness) -> None:
    manifest_id, supplier, recycler = await _discrepancy(ledger)
    async with ledger.uow() as uow:
        stale = await Repository(uow.session).manifest(manifest_id)
    assert stale is not None
    await ledger.service.resolve_discrepancy(
        supplier, manifest_id, GapCause.WEIGHING_ERROR, "our scale"
    )
    late = stale.resolve(
        actor_enterprise_id=recycler, cause=GapCause.LOSS_IN_TRANSIT, note="x", at=ledger.clock()
    )
    async with ledger.uow() as uow:
        assert not await Repository(uow.session).update_manifest(late, read=stale)
    view = await ledger.service.manifest(manifest_id)
    assert view is not None
    assert view.manifest.resolution is not None
    assert view.manifest.resolution.proposed_by == supplier


async def test_both_parties_naming_the_same_cause_at_once_never_lose_the_agreement(
    ledger: Harness,
) -> None:
    manifest_id, supplier, recycler = await _discrepancy(ledger)

    async def name(actor: str) -> object:
        try:
            return await ledger.service.resolve_discrepancy(
                actor, manifest_id, GapCause.MOISTURE_CHANGE, "dried"
            )
        except DomainError as err:
            return err.code

    results = await asyncio.gather(name(supplier), name(recycler))
    view = await ledger.service.manifest(manifest_id)
    assert view is not None
    if "INVALID_MANIFEST_STATE" in results:  # raced: the loser is told to read it again
        assert view.manifest.status is ManifestStatus.DISCREPANCY
        assert view.manifest.resolution is not None
    else:  # one after the other: the second agreed
        assert view.manifest.status is ManifestStatus.RESOLVED


async def test_a_receipt_during_a_balance_check_is_counted_on_the_road_or_in_the_books(
    ledger: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The check reads the supplier's books, then its shipments on the road; a receipt that
    # committed between the two reads would be in neither, and 50 t more could be disposed
    # of than was generated. The receipt waits for the check (the supplier's balance guard).
    steel = await ledger.register("青山区")
    cement = await ledger.register("新洲区")
    svc = ledger.service
    await report(svc, steel, EntryKind.GENERATED, "100.000")
    match = await ledger.confirm(steel, cement, "100.000")
    sent = await svc.dispatch(steel.enterprise_id, match, "100.000", period="2026-01")
    read_books, go_on = asyncio.Event(), asyncio.Event()
    in_transit = Repository.in_transit

    async def between_the_reads(self: Repository, *args: Any) -> Any:
        if not read_books.is_set():
            read_books.set()
            await go_on.wait()
        return await in_transit(self, *args)

    monkeypatch.setattr(Repository, "in_transit", between_the_reads)

    async def dispose() -> object:
        try:
            return await report(svc, steel, EntryKind.DISPOSED, "50.000")
        except DomainError as err:
            return err.code

    disposing = asyncio.ensure_future(dispose())
    await read_books.wait()
    receiving = asyncio.ensure_future(svc.receive(cement.enterprise_id, sent.id, "100.000"))
    await asyncio.sleep(0.5)  # time enough for the receipt to commit, were it not held
    go_on.set()
    assert await disposing == "BALANCE_VIOLATION"
    assert (await receiving).status is ManifestStatus.RECEIVED
    u = await ledger.figures(Scope(enterprise_id=steel.enterprise_id), "2026-01")
    assert (u.transferred_for_utilisation, u.disposed) == (Decimal("100.000"), Decimal("0.000"))


async def test_two_corrections_of_one_entry_at_once_answer_already_reversed(
    ledger: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    steel = await ledger.register("青山区")
    svc = ledger.service
    await report(svc, steel, EntryKind.GENERATED, "100.000")
    disposal = await report(svc, steel, EntryKind.DISPOSED, "10.000")
    arrived: list[str] = []
    both = asyncio.Event()
    is_reversed = Repository.is_reversed

    async def once_both_asked(self: Repository, entry_id: str) -> bool:
        # Each asks once the other has asked too, or after half a second (the other is
        # held until the first commits).
        arrived.append(entry_id)
        if len(arrived) == 2:
            both.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(both.wait(), 0.5)
        return await is_reversed(self, entry_id)

    monkeypatch.setattr(Repository, "is_reversed", once_both_asked)

    async def correct(tonnes: str) -> object:
        try:
            return await svc.correct_entry(steel.enterprise_id, disposal.id, tonnes, "typo")
        except DomainError as err:
            return err.code

    results = await asyncio.gather(correct("8.000"), correct("9.000"))
    assert sorted(r if isinstance(r, str) else "corrected" for r in results) == [
        "ALREADY_REVERSED",
        "corrected",
    ]


async def _follow(
    read: Callable[[str | None], Awaitable[Page]], key: str, stamp: str, after: str | None
) -> tuple[set[str], str | None]:
    """The `key`s of every row a reader following an oldest-first list from `after` meets,
    100 at a time, and the cursor it stops at."""
    seen: set[str] = set()
    while True:
        rows = (await read(after)).rows[:100]
        seen |= {row[key] for row in rows}
        if not rows:
            return seen, after
        after = cursor_of(rows[-1], stamp)


async def _every_entry_after(ledger: Harness, after: str | None) -> tuple[set[str], str | None]:
    def read(at: str | None) -> Awaitable[Page]:
        return ledger.service.entries(Reach.all(), EntryFilter(), 100, at)

    return await _follow(read, "id", "recorded_at_us", after)


async def _every_manifest_after(ledger: Harness, after: str | None) -> tuple[set[str], str | None]:
    def read(at: str | None) -> Awaitable[Page]:
        return ledger.service.manifests(Reach.all(), ManifestFilter(), 100, at)

    return await _follow(read, "match_id", "created_at_us", after)


async def test_an_entry_stamped_first_but_committed_last_is_not_passed_by_a_cursor(
    ledger: Harness,
) -> None:
    # A reader following `ledgerEntries` oldest first keeps its last cursor and asks for what
    # came after. An entry stamped before another but committed after it must not fall behind
    # a cursor already given out: the later writer waits, or stamps after the commit.
    steel, cement = await ledger.register("青山区"), await ledger.register("新洲区")
    svc = ledger.service
    _, start = await _every_entry_after(ledger, None)
    async with ledger.uow() as slow:
        first = await svc.report_in(
            slow,
            steel.enterprise_id,
            EntryKind.GENERATED,
            entry_id=unique("entry"),
            cause_event_id=unique("cause"),
            site_id=steel.site_id,
            waste_code="SW01",
            tonnes="1.000",
            period="2026-01",
        )
        later = asyncio.create_task(
            svc.report(
                cement.enterprise_id,
                EntryKind.GENERATED,
                site_id=cement.site_id,
                waste_code="SW02",
                tonnes="2.000",
                period="2026-02",
            )
        )
        await asyncio.wait({later}, timeout=1.0)
        met, cursor = await _every_entry_after(ledger, start)
        await slow.commit()
    second = await later
    met_later, _ = await _every_entry_after(ledger, cursor)
    assert {first.id, second.id} <= met | met_later


async def test_a_manifest_created_first_but_committed_last_is_not_passed_by_a_cursor(
    ledger: Harness,
) -> None:
    steel, cement = await ledger.register("青山区"), await ledger.register("新洲区")
    _, start = await _every_manifest_after(ledger, None)
    async with ledger.uow() as slow:
        first = await ledger.confirm(steel, cement, "1.000", opened=None, within=slow)
        later = asyncio.create_task(ledger.confirm(cement, steel, "2.000", opened=None))
        await asyncio.wait({later}, timeout=1.0)
        met, cursor = await _every_manifest_after(ledger, start)
        await slow.commit()
    second = await later
    met_later, _ = await _every_manifest_after(ledger, cursor)
    assert {first, second} <= met | met_later
