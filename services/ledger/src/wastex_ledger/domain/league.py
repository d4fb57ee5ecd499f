"""The regulator's league table: enterprises ranked by their 综合利用率.

Rows are ranked by the rate as it is shown (`figures.ratio`: 4 places, half-even), lowest
first, enterprises with no rate (nothing generated and no prior-year stock utilised in the
range) last, then by enterprise id. The database ranks them (thousands of enterprises, a
page at a time), so a row's place is an integer, its *position*: the shown rate × 10,000,
or `NO_RATE` when there is none.
`position_of` is the definition; the SQL in `adapters/league.py` computes the same number
from the projection's integer kilograms, and the tests hold the two together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from wastex_ledger.domain import errors
from wastex_ledger.domain.figures import Utilisation
from wastex_ledger.domain.scope import WasteClass
from wastex_shared.errors import DomainError

#: A position is the rate in ten-thousandths (the rate's 4 places).
RATE_SCALE = 10_000
#: The position of a row with no rate: after every rate (the largest BIGINT).
NO_RATE = 2**63 - 1


def position_of(rate: Decimal | None) -> int:
    """Where a row with this (shown) rate stands in the table."""
    return NO_RATE if rate is None else int(rate * RATE_SCALE)


def positions_below(rate_below: Decimal) -> int:
    """The positions of the rates under `rate_below` (a fraction 0..1) are those under the
    number returned: a position p has p ÷ 10,000 < rate_below exactly when p is under
    ⌈rate_below × 10,000⌉. No rate (`NO_RATE`) is ever under it."""
    if not rate_below.is_finite() or not 0 <= rate_below <= 1:
        raise DomainError(
            errors.INVALID_RATE,
            f"rateBelow must be a fraction between 0 and 1 (0.8 for 80 %), not {rate_below}",
            "rateBelow",
        )
    return math.ceil(rate_below * RATE_SCALE)


@dataclass(frozen=True, slots=True)
class LeagueFilter:
    """Which enterprises a league table lists: those registered in `district` (None: the
    whole city) and, when given, of `industry`; their figures of `waste_class`; and, with
    `below` (from `positions_below`), only those whose rate is under it."""

    district: str | None = None
    industry: str | None = None
    waste_class: WasteClass = WasteClass.GENERAL
    below: int | None = None


@dataclass(frozen=True, slots=True)
class Standing:
    """One row of the table: an enterprise of the read model, its figures, and the position
    the database ranked it at (`position_of` its rate)."""

    enterprise_id: str
    district: str
    industry: str
    utilisation: Utilisation
    position: int
