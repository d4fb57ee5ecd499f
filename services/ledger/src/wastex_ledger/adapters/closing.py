"""Shipments carried over a year's close (decision 036): dispatched to a month of a year,
received after the year closed, their receipt booked to the month of receipt as prior-year
stock. Told apart by their supplier's entry: booked to another month than the manifest's."""

from __future__ import annotations

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from wastex_ledger.adapters.repository import from_milli
from wastex_ledger.adapters.tables import entries, manifests
from wastex_ledger.domain.closing import Carried
from wastex_ledger.domain.entries import EntryKind
from wastex_ledger.domain.periods import Period


async def carried_over(session: AsyncSession, supplier_id: str, waste_code: str | None) -> Carried:
    """The shipments of `supplier_id` (of one code, or all) received after the year they
    were dispatched to closed, as this year's waste or from prior-year stock."""
    conditions = [
        manifests.c.supplier_enterprise_id == supplier_id,
        entries.c.period != manifests.c.period,
    ]
    if waste_code is not None:
        conditions.append(manifests.c.waste_code == waste_code)
    rows = await session.execute(
        select(
            manifests.c.waste_code,
            manifests.c.from_prior_stock,
            manifests.c.period,
            entries.c.period,
            func.sum(entries.c.kilograms),
        )
        .join(
            entries,
            and_(
                entries.c.manifest_id == manifests.c.id,
                entries.c.enterprise_id == supplier_id,
                entries.c.kind == str(EntryKind.TRANSFERRED_OUT),
            ),
        )
        .where(*conditions)
        .group_by(
            manifests.c.waste_code,
            manifests.c.from_prior_stock,
            manifests.c.period,
            entries.c.period,
        )
    )
    return {
        (code, bool(prior), Period.parse(sent), Period.parse(booked)): from_milli(
            int(kilograms or 0)
        )
        for code, prior, sent, booked, kilograms in rows
    }
