"""The league table in SQL: every enterprise of the read model, its projection rows summed
over the months, ranked by its rate — one statement for the page, one for the count.

Each enterprise's figures are the rows `utilisation(scope: {enterpriseId, wasteClass})`
sums (scope kind `enterprise`, value `<id>|<class>`), joined to the `enterprises` read
model so an enterprise with no rows is listed with zeros. The rank is
`domain.league.position_of` computed from the integer kilograms with integer arithmetic
only (truncating division on non-negative operands, then half-even), which SQLite and
PostgreSQL do alike; the shown figures are made from the same sums by `figures_from_row`.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Subquery,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from wastex_ledger.adapters.repository import Page, decode_after, figures_from_row
from wastex_ledger.adapters.tables import enterprises, projection
from wastex_ledger.domain.figures import (
    COLUMNS,
    DENOMINATOR_COLUMNS,
    UTILISED_COLUMNS,
    Utilisation,
)
from wastex_ledger.domain.league import NO_RATE, RATE_SCALE, LeagueFilter, Standing
from wastex_ledger.domain.periods import Period
from wastex_ledger.domain.scope import ScopeKind, class_suffixes


def position(utilised: ColumnElement[Any], denominator: ColumnElement[Any]) -> ColumnElement[int]:
    """`position_of(ratio(utilised, denominator))` in SQL, for integer operands."""
    numerator = func.abs(utilised, type_=BigInteger) * RATE_SCALE
    divisor = func.nullif(func.abs(denominator, type_=BigInteger), 0, type_=BigInteger)
    quotient = numerator // divisor  # both non-negative: truncation is the floor
    twice_rest = (numerator % divisor) * 2
    magnitude = quotient + case(
        (twice_rest > divisor, 1),
        (and_(twice_rest == divisor, quotient % 2 == 1), 1),  # a tie goes to the even
        else_=0,
    )
    negative = or_(and_(utilised < 0, denominator > 0), and_(utilised > 0, denominator < 0))
    return case(
        (denominator == 0, literal(NO_RATE, BigInteger)),
        (negative, -magnitude),
        else_=magnitude,
    )


def _plus(columns: Sequence[ColumnElement[Any]]) -> ColumnElement[Any]:
    return functools.reduce(operator.add, columns)


def _listed(flt: LeagueFilter) -> list[ColumnElement[bool]]:
    """The enterprises a table lists, whatever their figures."""
    e = enterprises.c
    conditions: list[ColumnElement[bool]] = []
    if flt.district is not None:
        conditions.append(e.district == flt.district)
    if flt.industry is not None:
        conditions.append(e.industry == flt.industry)
    return conditions


def _ranked(flt: LeagueFilter, first: Period, last: Period) -> Subquery:
    """(enterprise_id, district, industry, the summed columns, position) per enterprise."""
    e, p = enterprises.c, projection.c
    rows = and_(
        p.scope_kind == ScopeKind.ENTERPRISE.value,
        or_(*(p.scope_value == e.enterprise_id + s for s in class_suffixes(flt.waste_class))),
        p.period >= str(first),
        p.period <= str(last),
    )
    sums = (cast(func.coalesce(func.sum(p[n]), 0), BigInteger).label(n) for n in COLUMNS)
    totals = (
        select(e.enterprise_id, e.district, e.industry, *sums)
        .select_from(enterprises.outerjoin(projection, rows))
        .where(*_listed(flt))
        .group_by(e.enterprise_id, e.district, e.industry)
        .subquery("totals")
    )
    t = totals.c
    measured = select(
        totals,
        _plus([t[n] for n in UTILISED_COLUMNS]).label("utilised"),
        _plus([t[n] for n in DENOMINATOR_COLUMNS]).label("denominator"),
    ).subquery("measured")
    m = measured.c
    return select(measured, position(m.utilised, m.denominator).label("position")).subquery(
        "ranked"
    )


async def standings(
    session: AsyncSession,
    flt: LeagueFilter,
    months: tuple[Period, Period],
    first: int,
    after: str | None,
) -> Page:
    """A page of `Standing`s (up to first + 1, in the table's order) and the count."""
    place = decode_after(after)
    ranked = _ranked(flt, *months)
    r = ranked.c
    kept: list[ColumnElement[bool]] = []
    if flt.below is None:  # every enterprise listed: no need to rank them to count them
        counted = select(func.count()).select_from(enterprises).where(*_listed(flt))
    else:
        kept.append(r.position < flt.below)  # never NO_RATE: `below` is at most 10,000
        counted = select(func.count()).select_from(ranked).where(*kept)
    total = (await session.execute(counted)).scalar_one()
    # Enterprise ids in byte order on both engines (PostgreSQL's may follow a locale).
    bind = session.bind
    ident: ColumnElement[Any] = r.enterprise_id
    if bind is not None and bind.dialect.name == "postgresql":
        ident = ident.collate("C")
    if place is not None:
        at, last_id = place
        kept.append(or_(r.position > at, and_(r.position == at, ident > last_id)))
    found = await session.execute(
        select(ranked).where(*kept).order_by(r.position, ident).limit(first + 1)
    )
    rows = [
        Standing(
            enterprise_id=row["enterprise_id"],
            district=row["district"],
            industry=row["industry"],
            utilisation=Utilisation(figures_from_row(row)),
            position=int(row["position"]),
        )
        for row in found.mappings()
    ]
    return Page(rows, int(total))


def cursor_of(standing: Standing) -> str:
    """A row's place in the table, as the ledger's cursors write one: 'position:id'."""
    return f"{standing.position}:{standing.enterprise_id}"
