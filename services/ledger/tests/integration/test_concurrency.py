"""Concurrent commands on SQLite and PostgreSQL: two reports that each fit the balance but
not together (exactly one is booked: the balance_guard row lock, or one writer at a time);
two words on one discrepancy (a compare-and-set: neither is lost)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from wastex_ledger.adapters.repository import Repository
from wastex_ledger.domain.entries import EntryKind
from wastex_ledger.domain.manifest import GapCause, ManifestStatus
from wastex_ledger.domain.scope import Scope
from wastex_ledger.testing import Harness
from wastex_shared.errors import DomainError


async def test_concurrent_uses_cannot_both_pass_the_balance_check(ledger: Harness) -> None:
    steel = await ledger.register("青山区")
    svc = ledger.service
    await svc.report(
        steel.enterprise_id,
        EntryKind.GENERATED,
        site_id=steel.site_id,
        waste_code="SW01",
        tonnes="100.000",
        period="2026-01",
    )

    async def use(kind: EntryKind) -> object:
        try:
            return await svc.report(
                steel.enterprise_id,
                kind,
                site_id=steel.site_id,
                waste_code="SW01",
                tonnes="60.000",
                period="2026-01",
            )
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
