"""Shipments carried over a year's close (decision 036): dispatched to a month of a year,
received after the year closed, their receipt booked to the month of receipt as prior-year
stock. The manifest keeps that month (`booked_period`, under a partial index: they are few,
and every balance check of their supplier reads them)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from wastex_ledger.adapters.repository import from_milli, micros
from wastex_ledger.adapters.tables import manifests
from wastex_ledger.domain.closing import Carried
from wastex_ledger.domain.manifest import credited
from wastex_ledger.domain.periods import Period


async def carried_over(
    session: AsyncSession,
    supplier_id: str,
    waste_code: str | None,
    as_at: datetime | None = None,
) -> Carried:
    """The shipments of `supplier_id` (of one code, or all) received after the year they
    were dispatched to closed, as this year's waste or from prior-year stock: the tonnes
    their supplier's entries count (`credited`), by code, source and the two months. As at
    `as_at` (a closed year's close, read by its verdict), one received after it was on the
    road then at its dispatched weight, whatever its receipt found."""
    conditions = [
        manifests.c.supplier_enterprise_id == supplier_id,
        manifests.c.booked_period.is_not(None),
    ]
    if waste_code is not None:
        conditions.append(manifests.c.waste_code == waste_code)
    rows = await session.execute(
        select(
            manifests.c.waste_code,
            manifests.c.from_prior_stock,
            manifests.c.period,
            manifests.c.booked_period,
            manifests.c.received_kilograms,
            manifests.c.dispatched_kilograms,
            manifests.c.received_at_us,
        ).where(*conditions)
    )
    cut = None if as_at is None else micros(as_at)
    carried: dict[tuple[str, bool, Period, Period], Decimal] = defaultdict(Decimal)
    for code, prior, sent, booked, received, dispatched, received_at in rows:
        sent_whole = from_milli(int(dispatched))
        on_the_road = cut is not None and received_at is not None and int(received_at) >= cut
        tonnes = sent_whole if on_the_road else credited(from_milli(int(received)), sent_whole)
        carried[(code, bool(prior), Period.parse(sent), Period.parse(booked))] += tonnes
    return dict(carried)
