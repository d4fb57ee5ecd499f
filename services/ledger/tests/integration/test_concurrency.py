"""Two reports that each fit the balance but not together: exactly one is booked, on
PostgreSQL (the balance_guard row lock) as on SQLite (one writer at a time)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from wastex_ledger.domain.entries import EntryKind
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
