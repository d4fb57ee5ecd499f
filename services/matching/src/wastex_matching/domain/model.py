"""What the optimiser sees: offers, demands and licences as small frozen values.

These are the matching service's read-model views of catalog facts, reduced to what
matching needs. Tonnes are exact `Decimal`s with kilogram precision; coordinates are floats
(geometry, not accounting).

Capacities are given *before* the fixed (accepted or confirmed) matches: pass those as
`FixedMatch`es and the domain takes them off (`capacity.apply_fixed`), so one list of
matches is the single source of what is already committed. `LicenceView.
used_tonnes_this_year` is therefore only intake this year that is *not* among the fixed
matches (another channel, an opening figure); it is 0 when matching sees everything. Once
the fixed matches are applied it also holds their tonnes in the busiest year the licence
can still ship in (`capacity.apply_fixed`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numpy.typing import NDArray

from wastex_matching.domain import errors
from wastex_shared.codes import LicenceType as LicenceType  # re-exported: the domain names it
from wastex_shared.codes import may_carry
from wastex_shared.errors import DomainError
from wastex_shared.units import KILOGRAM, from_kilograms, to_kilograms

if TYPE_CHECKING:
    from wastex_matching.domain.capacity import NetCapacities

ZERO_TONNES = Decimal("0.000")


def check_tonnes(value: Decimal, field_name: str, *, allow_zero: bool = True) -> Decimal:
    """A non-negative `Decimal` with at most kilogram precision, normalised to 3 places."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise DomainError(errors.INVALID_QUANTITY, f"{field_name} must be a Decimal", field_name)
    if value < 0 or (value == 0 and not allow_zero):
        raise DomainError(errors.INVALID_QUANTITY, f"{field_name} must be positive", field_name)
    if value != value.quantize(KILOGRAM):
        raise DomainError(
            errors.INVALID_QUANTITY, f"{field_name} is finer than one kilogram", field_name
        )
    return value.quantize(KILOGRAM)


@dataclass(frozen=True, slots=True)
class Point:
    """A WGS-84 position in decimal degrees."""

    lat: float
    lon: float

    def __post_init__(self) -> None:
        if not (-90.0 <= self.lat <= 90.0 and -180.0 <= self.lon <= 180.0):
            raise DomainError(
                errors.INVALID_COORDINATES, f"({self.lat}, {self.lon}) is not a position"
            )


@dataclass(frozen=True, slots=True)
class Window:
    """An inclusive range of calendar days."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise DomainError(
                errors.INVALID_WINDOW, f"window starts {self.start} after it ends {self.end}"
            )

    def overlap(self, other: Window) -> Window | None:
        start, end = max(self.start, other.start), min(self.end, other.end)
        return Window(start, end) if start <= end else None

    def from_day(self, day: date) -> Window | None:
        """The part of the window from `day` on (None when it is over by then)."""
        return Window(max(self.start, day), self.end) if self.end >= day else None

    def within(self, start: date, end: date) -> bool:
        return start <= self.start and self.end <= end


@dataclass(frozen=True, slots=True, kw_only=True)
class OfferSlot:
    """Supply: what an offer still has open for matching."""

    offer_id: str
    enterprise_id: str
    site_id: str
    district: str
    point: Point
    waste_code: str
    remaining_tonnes: Decimal
    window: Window
    #: `remaining_tonnes` in whole kilograms, as the solver counts (computed once: a slot
    #: lives from its posting to its closing, and every round needs it).
    kilograms: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        tonnes = check_tonnes(self.remaining_tonnes, "remaining_tonnes")
        object.__setattr__(self, "remaining_tonnes", tonnes)
        object.__setattr__(self, "kilograms", to_kilograms(tonnes))


@dataclass(frozen=True, slots=True, kw_only=True)
class DemandSlot:
    """Intake: what a recycler's site can still take, of which codes, from how far."""

    demand_id: str
    enterprise_id: str
    site_id: str
    district: str
    point: Point
    waste_codes: frozenset[str]
    remaining_tonnes: Decimal
    max_distance_km: Decimal
    window: Window

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "remaining_tonnes", check_tonnes(self.remaining_tonnes, "remaining_tonnes")
        )
        if not isinstance(self.max_distance_km, Decimal) or not self.max_distance_km > 0:
            raise DomainError(errors.INVALID_DISTANCE, "max_distance_km must be a positive Decimal")

    def accepts(self, code: str) -> bool:
        return code in self.waste_codes


@dataclass(frozen=True, slots=True, kw_only=True)
class LicenceView:
    """A recycler's licence as matching uses it: which codes, how much a year, when valid."""

    licence_id: str
    enterprise_id: str
    waste_codes: frozenset[str]
    licence_type: LicenceType
    annual_capacity_tonnes: Decimal
    valid_from: date
    valid_until: date
    #: Intake this year that is not among the fixed matches passed alongside (see module doc).
    used_tonnes_this_year: Decimal = ZERO_TONNES

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "annual_capacity_tonnes",
            check_tonnes(self.annual_capacity_tonnes, "annual_capacity_tonnes"),
        )
        object.__setattr__(
            self,
            "used_tonnes_this_year",
            check_tonnes(self.used_tonnes_this_year, "used_tonnes_this_year"),
        )

    def lists(self, code: str) -> bool:
        return code in self.waste_codes

    def may_take(self, code: str) -> bool:
        """Listed, and of a type that may carry it: any HW code needs an operating licence."""
        if not self.lists(code):
            return False
        return may_carry(self.licence_type, code)

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day <= self.valid_until

    @property
    def remaining_tonnes(self) -> Decimal:
        """Annual capacity not yet used (never negative): in every year its routes may
        use, once the fixed matches are applied."""
        return max(ZERO_TONNES, self.annual_capacity_tonnes - self.used_tonnes_this_year)


def covered_until(licence: LicenceView, code: str, licences: Iterable[LicenceView]) -> date:
    """The last day of the days `licence` begins without a gap: its own, then those of its
    holder's `licences` that may carry `code` and start no later than the day after the
    days so far end (a renewal from 1 January after a licence to 31 December: decision
    031). A licence ended early by a revocation ends its days there, and one that may not
    carry the code adds none. `licence`'s own end when none continues it or it holds no
    day (revoked before it began)."""
    end = licence.valid_until
    if end < licence.valid_from:
        return end
    chain = sorted(
        (other.valid_from, other.valid_until)
        for other in licences
        if other.enterprise_id == licence.enterprise_id and other.may_take(code)
    )
    for begins, ends in chain:
        if (begins - end).days > 1:  # (no `end + 1 day`: no day follows date.max)
            break  # a gap: the next ones start later still
        end = max(end, ends)
    return end


def tonnes_held(tonnes: Decimal, shipped: Decimal | None) -> Decimal:
    """What a confirmed match holds of its offer, its demand and its licence's year: its
    tonnes until its shipment leaves, then the load when lighter (decision 032: the
    shortfall is given back; a heavier load, up to the ledger's allowance, takes nothing
    more)."""
    return tonnes if shipped is None else min(tonnes, shipped)


@dataclass(frozen=True, slots=True, kw_only=True)
class FixedMatch:
    """An accepted or confirmed match: not re-optimised, and it consumes capacity.

    It takes `tonnes` (what it holds: `tonnes_held`) off its offer and its demand, and off
    licence `licence_id`'s annual remaining when `licence_year` is the current year or a
    later one (a match of last year does not use this year's licensed tonnage;
    `capacity.licence_year`).
    """

    match_id: str
    offer_id: str
    demand_id: str
    licence_id: str | None
    tonnes: Decimal
    licence_year: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "tonnes", check_tonnes(self.tonnes, "tonnes"))


@dataclass(frozen=True, slots=True, kw_only=True)
class ProposedMatch:
    """One route of an allocation, explained: how far, how much, what it emits and saves.

    `co2e_kg` is transport only (tonnes × distance × freight factor); `avoided_co2e_kg` is
    what using the waste saves by its code's avoided-emission factor (None when the
    reference has none for that code). `licence_id` is the licence whose annual tonnage
    the match uses.
    """

    offer_id: str
    demand_id: str
    licence_id: str
    supplier_enterprise_id: str
    supplier_site_id: str
    recycler_enterprise_id: str
    recycler_site_id: str
    waste_code: str
    tonnes: Decimal
    distance_km: Decimal
    co2e_kg: Decimal
    freight_factor_key: str
    freight_factor_kg_per_tkm: Decimal
    avoided_co2e_kg: Decimal | None = None
    avoided_factor_key: str | None = None

    @property
    def kilograms(self) -> int:
        return to_kilograms(self.tonnes)

    @property
    def net_co2e_kg(self) -> Decimal | None:
        """Avoided minus transport (positive = the route saves emissions)."""
        if self.avoided_co2e_kg is None:
            return None
        return self.avoided_co2e_kg - self.co2e_kg


class Route(NamedTuple):
    """One route of an allocation before it is explained: who, which licence, how much."""

    offer_id: str
    demand_id: str
    licence_id: str
    kilograms: int
    metres: int

    @property
    def tonnes(self) -> Decimal:
        return from_kilograms(self.kilograms)


@dataclass(frozen=True, eq=False)
class RouteTable:
    """An allocation's routes as parallel arrays: positions in the allocated offers, demands
    and licences (`AllocationResult.net`), kilograms and road metres.

    In (offer, demand, licence) order of those sequences. A round at 20,000 open offers
    compares all its routes with the stored proposals and explains a few hundred; as arrays
    the comparison never touches 20,000 objects scattered on the heap."""

    offer: NDArray[np.int64]
    demand: NDArray[np.int64]
    licence: NDArray[np.int64]
    kilograms: NDArray[np.int64]
    metres: NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.offer.shape[0])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RouteTable):
            return NotImplemented
        return all(
            np.array_equal(getattr(self, name), getattr(other, name))
            for name in ("offer", "demand", "licence", "kilograms", "metres")
        )

    __hash__ = None  # type: ignore[assignment]  # equal by value, and mutable arrays


@dataclass(frozen=True)
class AllocationResult:
    """An allocation: the routes, what stays unmatched, and what it all costs in CO2e.

    `table` holds the routes as arrays; `routes` makes them `Route`s, `route(i)` one of
    them, and `matches` explains every one (distances, CO2e, avoided emissions in exact
    decimals) on first use, and `explain` explains one: a round at 20,000 offers repeats
    nearly every route it had and explains only the new ones.

    `objective_co2e_kg` = transport + unmatched tonnes × the penalty factor: the quantity the
    optimiser minimises (in integer units) and the one baselines are compared on.
    """

    #: In (offer, demand, licence) order of the allocated sequences, as `routes` and `matches`.
    table: RouteTable
    #: offer id → tonnes left unmatched (only offers with something left).
    unmatched_tonnes: dict[str, Decimal]
    penalty_co2e_kg: Decimal
    candidate_edges: int
    #: Route → its explained match (a function of the allocation's inputs).
    explain: Callable[[Route], ProposedMatch] = field(compare=False, repr=False)
    #: What was allocated: the inputs with the fixed matches taken off.
    net: NetCapacities = field(compare=False, repr=False)
    #: Solver rounds (1, plus one per licence rebalancing round; 0 for baselines).
    rounds: int = 0
    notes: tuple[str, ...] = field(default=())
    #: Kilograms routed to each demand and under each licence (only those with any).
    kilograms_by_demand: dict[str, int] = field(default_factory=dict, compare=False)
    kilograms_by_licence: dict[str, int] = field(default_factory=dict, compare=False)

    def route(self, i: int) -> Route:
        """The `i`-th route of `table`."""
        t = self.table
        return Route(
            self.net.offer_ids[int(t.offer[i])],
            self.net.demand_ids[int(t.demand[i])],
            self.net.licence_ids[int(t.licence[i])],
            int(t.kilograms[i]),
            int(t.metres[i]),
        )

    @cached_property
    def routes(self) -> tuple[Route, ...]:
        t = self.table
        return tuple(
            map(
                Route._make,
                zip(
                    map(self.net.offer_ids.__getitem__, t.offer.tolist()),
                    map(self.net.demand_ids.__getitem__, t.demand.tolist()),
                    map(self.net.licence_ids.__getitem__, t.licence.tolist()),
                    t.kilograms.tolist(),
                    t.metres.tolist(),
                    strict=True,
                ),
            )
        )

    def routes_of(self, offer_id: str) -> list[Route]:
        """The routes of one offer (none if it is not among the allocated offers)."""
        position = self.net.offer_positions.get(offer_id)
        if position is None:
            return []
        bounds = self._offer_bounds
        return [self.route(i) for i in range(bounds[position], bounds[position + 1])]

    @cached_property
    def _offer_bounds(self) -> list[int]:
        """Where each offer position's routes begin in `table` (the table is sorted by
        offer), and where the last one's end: one search for every offer, not one per
        `routes_of` call (a round explains every offer it proposes)."""
        positions = np.arange(len(self.net.offer_ids) + 1)
        bounds: list[int] = np.searchsorted(self.table.offer, positions).tolist()
        return bounds

    @cached_property
    def matches(self) -> tuple[ProposedMatch, ...]:
        return tuple(map(self.explain, self.routes))

    @cached_property
    def transport_co2e_kg(self) -> Decimal:
        return sum((m.co2e_kg for m in self.matches), ZERO_TONNES)

    @property
    def objective_co2e_kg(self) -> Decimal:
        return self.transport_co2e_kg + self.penalty_co2e_kg

    @property
    def matched_tonnes(self) -> Decimal:
        return from_kilograms(int(self.table.kilograms.sum()))

    @property
    def unmatched_total_tonnes(self) -> Decimal:
        return sum(self.unmatched_tonnes.values(), ZERO_TONNES)
