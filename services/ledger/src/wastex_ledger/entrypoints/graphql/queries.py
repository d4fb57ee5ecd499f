"""Ledger queries: figures, assessment, manifests and entries (scope checked in `policy`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Annotated, Any

import strawberry

from wastex_ledger.adapters.repository import (
    EntryFilter,
    ManifestFilter,
    cursor_of,
    entry_from_row,
    manifest_from_row,
)
from wastex_ledger.domain.league import LeagueFilter, positions_below
from wastex_ledger.domain.periods import months_between
from wastex_ledger.domain.scope import Scope, WasteClass
from wastex_ledger.domain.visibility import ManifestView
from wastex_ledger.entrypoints.graphql import policy
from wastex_ledger.entrypoints.graphql.league import EnterpriseUtilisationType, league_connection
from wastex_ledger.entrypoints.graphql.types import (
    LedgerEntryFilter,
    LedgerEntryType,
    ManifestType,
    TransferCarbonType,
    UtilisationRateType,
    UtilisationScope,
    WasteClassType,
    ZeroWasteAssessmentType,
    industry_code,
    waste_code,
)
from wastex_ledger.entrypoints.graphql.types import ManifestFilter as ManifestFilterInput
from wastex_ledger.entrypoints.graphql.wiring import ledger
from wastex_shared.graphql.connection import Connection, connection, decode_cursor, page_size
from wastex_shared.graphql.context import Info

From = Annotated[str, strawberry.argument(name="from", description="First month, 'YYYY-MM'.")]
To = Annotated[str, strawberry.argument(description="Last month (inclusive), 'YYYY-MM'.")]


def _clean(value: str | None) -> str | None:
    return None if value is None else value.strip()


def _scope(scope: UtilisationScope | None) -> Scope:
    return Scope() if scope is None else scope.to_domain()


def _manifest_view(row: Mapping[Any, Any]) -> ManifestView:
    return ManifestView(manifest_from_row(row), row["supplier_district"], row["recycler_district"])


@strawberry.type
class Query:
    @strawberry.field(
        description=(
            "Generation, utilisation, disposal and storage of a scope over the months from … to "
            "(inclusive), with the comprehensive utilisation rate (formulas.md). 综合利用率 is "
            "an annual indicator: over one calendar year, or months inside one, rate is the "
            "indicator as defined. Across a year end, stock stored inside the range and used "
            "after it (fromPriorStock) is both generation and prior-year stock, so the rate "
            "reads low; months that use storage from earlier months of their year can read "
            "above 1, or have no rate with utilisation reported (nothing generated in them). "
            "Ask whole years one at a time for official figures."
        )
    )
    async def utilisation(
        self, info: Info, from_: From, to: To, scope: UtilisationScope | None = None
    ) -> UtilisationRateType | None:
        service, wanted = ledger(info), _scope(scope)
        await policy.require_scope(info.context.principal, wanted, service.enterprise_district)
        await service.require_known_district(wanted.district, "scope.district")
        figures = await service.utilisation(wanted, from_, to)
        return UtilisationRateType.of(figures, from_, to, wanted.covers)

    @strawberry.field(
        description=(
            "The regulator's league table: every enterprise registered in the district "
            "(a district regulator's own when omitted; the whole city for '*' and admins), "
            "of the industry when given, with its figures of wasteClass over the months from "
            "… to: rate ascending, enterprises with no rate (nothing generated and no prior-year "
            "stock utilised) last, then by enterprise id. rateBelow (a fraction 0..1) keeps the "
            "rows with a rate under it. "
            "A district neither of the register nor of the records is refused "
            "(UNKNOWN_DISTRICT)."
        )
    )
    async def enterprise_utilisation(
        self,
        info: Info,
        from_: From,
        to: To,
        district: str | None = None,
        industry: str | None = None,
        # A strawberry enum made by a call is no type to mypy (types.py says why).
        waste_class: WasteClassType | None = WasteClass.GENERAL,  # type: ignore[valid-type]
        rate_below: Decimal | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[EnterpriseUtilisationType] | None:
        service = ledger(info)
        asked = _clean(district)
        where = policy.league_district(info.context.principal, asked)
        # Only a name the caller typed: a district regulator's own, from its token, is no typo.
        await service.require_known_district(asked, "district")
        covers = WasteClass.GENERAL if waste_class is None else WasteClass(waste_class)
        flt = LeagueFilter(
            district=where,
            industry=industry_code(industry, "industry"),
            waste_class=covers,
            below=None if rate_below is None else positions_below(rate_below),
        )
        size = page_size(first)
        page = await service.enterprise_utilisation(flt, from_, to, size, decode_cursor(after))
        return league_connection(page.rows, from_, to, covers, size, page.total)

    @strawberry.field(description="CO2e of the transfers received in a scope over months.")
    async def carbon(
        self, info: Info, from_: From, to: To, scope: UtilisationScope | None = None
    ) -> TransferCarbonType | None:
        service, wanted = ledger(info), _scope(scope)
        if wanted.waste_class is None and wanted.waste_code is None:
            wanted = replace(wanted, waste_class=WasteClass.ALL)  # carbon of every transfer
        await policy.require_scope(info.context.principal, wanted, service.enterprise_district)
        await service.require_known_district(wanted.district, "scope.district")
        figures = await service.utilisation(wanted, from_, to)
        return TransferCarbonType.of(figures, from_, to, wanted.covers)

    @strawberry.field(
        description=(
            "无废企业 assessment of an enterprise for a calendar year (configured rules): "
            "provisional while the year is open (final: false); a year that has not begun in "
            "China has nothing to judge and is refused (INVALID_PERIOD, field year)."
        )
    )
    async def zero_waste_assessment(
        self, info: Info, enterprise_id: strawberry.ID, year: int
    ) -> ZeroWasteAssessmentType | None:
        service = ledger(info)
        await policy.require_enterprise_figures(
            info.context.principal, str(enterprise_id), service.enterprise_district, "enterpriseId"
        )
        return ZeroWasteAssessmentType.of(await service.assess(str(enterprise_id), year))

    @strawberry.field(description="Manifests the caller may read, oldest first.")
    async def manifests(
        self,
        info: Info,
        filter: ManifestFilterInput | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[ManifestType] | None:
        return await _manifests(info, filter, first, after, discrepancy=None)

    @strawberry.field(
        description="Manifests whose received weight differs from the dispatched weight by "
        "more than the tolerance (the regulator's discrepancy list)."
    )
    async def discrepancies(
        self,
        info: Info,
        filter: ManifestFilterInput | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[ManifestType] | None:
        return await _manifests(info, filter, first, after, discrepancy=True)

    @strawberry.field
    async def manifest(self, info: Info, id: strawberry.ID) -> ManifestType | None:
        view = await ledger(info).manifest(str(id))
        if view is None:
            policy.absent(info.context.principal, "manifest", str(id))
        policy.require_manifest(info.context.principal, view)
        return ManifestType.of(view)

    @strawberry.field(description="Ledger entries the caller may read, in recording order.")
    async def ledger_entries(
        self,
        info: Info,
        filter: LedgerEntryFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[LedgerEntryType] | None:
        service, size = ledger(info), page_size(first)
        flt = filter or LedgerEntryFilter()
        enterprise_id = None if flt.enterprise_id is None else str(flt.enterprise_id)
        reach = await policy.require_list_filter(
            info.context.principal, enterprise_id, service.enterprise_district
        )
        months = months_between(flt.from_, flt.to)
        page = await service.entries(
            reach,
            EntryFilter(
                enterprise_id=enterprise_id,
                site_id=None if flt.site_id is None else str(flt.site_id),
                waste_code=waste_code(flt.waste_code, "filter.wasteCode"),
                kind=flt.kind,
                period_from=months[0],
                period_to=months[1],
            ),
            size,
            decode_cursor(after),
        )
        return connection(
            [LedgerEntryType.of(entry_from_row(r)) for r in page.rows],
            [cursor_of(r, "recorded_at_us") for r in page.rows],
            size,
            page.total,
        )

    @strawberry.field
    async def ledger_entry(self, info: Info, id: strawberry.ID) -> LedgerEntryType | None:
        service = ledger(info)
        entry = await service.entry(str(id))
        if entry is None:
            policy.absent(info.context.principal, "entry", str(id))
        await policy.require_entry(info.context.principal, entry, service.enterprise_district)
        return LedgerEntryType.of(entry)


async def _manifests(
    info: Info,
    flt: ManifestFilterInput | None,
    first: int | None,
    after: str | None,
    discrepancy: bool | None,
) -> Connection[ManifestType]:
    service, size = ledger(info), page_size(first)
    wanted = flt or ManifestFilterInput()
    enterprise_id = None if wanted.enterprise_id is None else str(wanted.enterprise_id)
    reach = await policy.require_list_filter(
        info.context.principal, enterprise_id, service.enterprise_district
    )
    months = months_between(wanted.from_, wanted.to)
    page = await service.manifests(
        reach,
        ManifestFilter(
            status=None if wanted.status is None else str(wanted.status),
            enterprise_id=enterprise_id,
            waste_code=waste_code(wanted.waste_code, "filter.wasteCode"),
            discrepancy=discrepancy if discrepancy is not None else wanted.discrepancy,
            discrepancy_state=wanted.discrepancy_state,
            overdue=None if wanted.overdue is None else (wanted.overdue, service.today()),
            period_from=months[0],
            period_to=months[1],
        ),
        size,
        decode_cursor(after),
    )
    return connection(
        [ManifestType.of(_manifest_view(r)) for r in page.rows],
        [cursor_of(r, "created_at_us") for r in page.rows],
        size,
        page.total,
    )
