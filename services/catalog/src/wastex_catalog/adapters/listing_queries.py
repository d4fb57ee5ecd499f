"""Scoped, keyset-paginated list queries: the caller's `Scope` and the list filter become one
WHERE clause, used both for the page and for its total count.

Pages run newest first on (created_at, id); `after` continues strictly below a position.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    Text,
    and_,
    cast,
    false,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession

from wastex_catalog.adapters import rows
from wastex_catalog.adapters.repository import ACTIVE, CatalogRepository
from wastex_catalog.adapters.tables import (
    DEMAND_CODES,
    DEMANDS,
    ENTERPRISES,
    LICENCES,
    MATCH_ALLOCATIONS,
    OFFERS,
)
from wastex_catalog.domain import Demand, Enterprise, Licence, Offer
from wastex_catalog.filters import (
    EnterpriseFilter,
    LicenceFilter,
    ListingFilter,
    PageRequest,
    Position,
    Scope,
)
from wastex_catalog.records import MatchAllocation, Stored
from wastex_shared.codes import canonical

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """Up to `first + 1` items (the extra one tells a next page exists) and the total."""

    items: list[Stored[T]]
    total: int


def _enterprise_scope(scope: Scope) -> ColumnElement[bool]:
    if scope.everything:
        return true()
    clauses: list[ColumnElement[bool]] = []
    if scope.districts:
        clauses.append(ENTERPRISES.c.district.in_(sorted(scope.districts)))
    if scope.enterprise_id:
        clauses.append(ENTERPRISES.c.id == scope.enterprise_id)
    return or_(*clauses) if clauses else false()


def _listing_scope(table: Table, scope: Scope, kind: str) -> ColumnElement[bool]:
    if scope.everything:
        return true()
    clauses: list[ColumnElement[bool]] = []
    if scope.districts:
        clauses.append(table.c.district.in_(sorted(scope.districts)))
    if scope.enterprise_id:
        clauses.append(table.c.enterprise_id == scope.enterprise_id)
        # A party to an accepted match keeps seeing the other side's listing.
        held = select(MATCH_ALLOCATIONS.c[f"{kind}_id"]).where(
            MATCH_ALLOCATIONS.c.state == MatchAllocation.ALLOCATED,
            or_(
                MATCH_ALLOCATIONS.c.supplier_enterprise_id == scope.enterprise_id,
                MATCH_ALLOCATIONS.c.recycler_enterprise_id == scope.enterprise_id,
            ),
        )
        clauses.append(table.c.id.in_(held))
    if scope.open_listings:
        clauses.append(table.c.status.in_(ACTIVE))
    return or_(*clauses) if clauses else false()


def _lists_code(codes: ColumnElement[Any], code: str) -> ColumnElement[bool]:
    """Whether a JSON list of codes holds `code`. Stored codes are normalised and written as
    JSON strings, so the quoted code in the list's text finds it, alike on SQLite and
    PostgreSQL (which have no common JSON containment)."""
    quoted = json.dumps(canonical(code))
    escaped = quoted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return cast(codes, Text).like(f"%{escaped}%", escape="\\")


def _listing_filter(table: Table, wanted: ListingFilter) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if wanted.enterprise_id is not None:
        clauses.append(table.c.enterprise_id == wanted.enterprise_id)
    if wanted.status is not None:
        clauses.append(table.c.status == wanted.status.value)
    if wanted.district is not None:
        clauses.append(table.c.district == wanted.district)
    if wanted.available_on is not None:
        clauses.append(table.c.available_from <= wanted.available_on)
        clauses.append(table.c.available_until >= wanted.available_on)
    if wanted.waste_code is not None:
        code = canonical(wanted.waste_code)
        if table is OFFERS:
            clauses.append(table.c.waste_code == code)
        else:
            accepting = select(DEMAND_CODES.c.demand_id).where(DEMAND_CODES.c.waste_code == code)
            clauses.append(table.c.id.in_(accepting))
    return clauses


def _after(table: Table, position: Position | None) -> list[ColumnElement[bool]]:
    if position is None:
        return []
    return [
        or_(
            table.c.created_at < position.created_at,
            and_(table.c.created_at == position.created_at, table.c.id < position.id),
        )
    ]


class ListingQueries:
    """Pages of enterprises, offers and demands for one caller's scope."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._repository = CatalogRepository(session)

    async def _page(
        self, table: Table, where: list[ColumnElement[bool]], page: PageRequest
    ) -> tuple[Sequence[Any], int]:
        condition = and_(true(), *where)
        total_row = (
            await self.session.execute(select(func.count()).select_from(table).where(condition))
        ).scalar_one()
        statement: Select[Any] = (
            select(table)
            .where(condition, *_after(table, page.after))
            .order_by(table.c.created_at.desc(), table.c.id.desc())
            .limit(page.first + 1)
        )
        found = (await self.session.execute(statement)).mappings().all()
        return found, int(total_row)

    async def enterprises(
        self, scope: Scope, wanted: EnterpriseFilter, page: PageRequest
    ) -> Page[Enterprise]:
        where = [_enterprise_scope(scope)]
        if wanted.district is not None:
            where.append(ENTERPRISES.c.district == wanted.district)
        if wanted.kind is not None:
            where.append(ENTERPRISES.c.kind == wanted.kind)
        if wanted.industry is not None:
            where.append(ENTERPRISES.c.industry.startswith(wanted.industry, autoescape=True))
        if wanted.name_contains is not None:
            name = func.lower(ENTERPRISES.c.name)
            where.append(name.contains(wanted.name_contains.lower(), autoescape=True))
        found, total = await self._page(ENTERPRISES, where, page)
        return Page([rows.enterprise_of(r) for r in found], total)

    async def licences(
        self, scope: Scope, wanted: LicenceFilter, page: PageRequest
    ) -> Page[Licence]:
        """The licence register: licences of the enterprises `scope` reaches."""
        c = LICENCES.c
        where: list[ColumnElement[bool]] = []
        if not scope.everything:
            where.append(
                c.enterprise_id.in_(select(ENTERPRISES.c.id).where(_enterprise_scope(scope)))
            )
        if wanted.enterprise_id is not None:
            where.append(c.enterprise_id == wanted.enterprise_id)
        if wanted.district is not None:
            in_district = select(ENTERPRISES.c.id).where(ENTERPRISES.c.district == wanted.district)
            where.append(c.enterprise_id.in_(in_district))
        if wanted.waste_code is not None:
            where.append(_lists_code(c.waste_codes, wanted.waste_code))
        if wanted.valid_on is not None:
            day = wanted.valid_on
            not_revoked = or_(c.revoked_on.is_(None), c.revoked_on > day)
            where.append(and_(c.valid_from <= day, c.valid_until >= day, not_revoked))
        if wanted.expiring_by is not None:
            # The day before a revocation is its last: revoked by the day after `expiring_by`
            # (the calendar's last day has none after it: any revocation is by then).
            day_after = min(wanted.expiring_by, date.max - timedelta(days=1)) + timedelta(days=1)
            where.append(or_(c.valid_until <= wanted.expiring_by, c.revoked_on <= day_after))
        if wanted.revoked is not None:
            where.append(c.revoked_on.is_not(None) if wanted.revoked else c.revoked_on.is_(None))
        found, total = await self._page(LICENCES, where, page)
        return Page([rows.licence_of(r) for r in found], total)

    async def offers(self, scope: Scope, wanted: ListingFilter, page: PageRequest) -> Page[Offer]:
        where = [_listing_scope(OFFERS, scope, "offer"), *_listing_filter(OFFERS, wanted)]
        found, total = await self._page(OFFERS, where, page)
        held = await self._repository.allocations_held("offer_id", [r["id"] for r in found])
        return Page([rows.offer_of(r, held[r["id"]]) for r in found], total)

    async def demands(self, scope: Scope, wanted: ListingFilter, page: PageRequest) -> Page[Demand]:
        where = [_listing_scope(DEMANDS, scope, "demand"), *_listing_filter(DEMANDS, wanted)]
        found, total = await self._page(DEMANDS, where, page)
        held = await self._repository.allocations_held("demand_id", [r["id"] for r in found])
        return Page([rows.demand_of(r, held[r["id"]]) for r in found], total)
