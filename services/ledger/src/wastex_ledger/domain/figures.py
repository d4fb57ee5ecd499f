"""Figures: the sums a projection row keeps, and the rates derived from them.

Rates follow `shared/reference/formulas.md` exactly:

- 综合利用量 (utilised) = in-plant utilisation + transfers out for utilisation (委托利用, at
  the received weight, at most the dispatched), each including its prior-year-stock part;
- 综合利用率 (`rate`) = utilised ÷ (generated + prior-year stock utilised);
- `inPlantShare` (固废不出厂, project metric) = in-plant utilisation ÷ (generated +
  prior-year stock utilised);
- `disposalRate` (处置率, older usage, inferred) = disposed ÷ generated.

Prior-year stock *disposed* is not added to any denominator. A denominator of 0 gives no
rate (`None`). Rates are fractions rounded half-even (banker's rounding, so ties do not
drift upwards when many rows are reported) to 4 places ("0.9859").

Area totals count each tonne once: only the generator's entries (`generated`,
`utilised_in_plant`, `transferred_out`, `stored`, `disposed`) enter them; a receiver's
`transferred_in`, and what it reports of it (`utilised`, `received_stored` net of
`received_storage_retrieved`, `received_disposed`), are its intake figures, kept apart in
columns no rate reads (decision 027).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from decimal import ROUND_HALF_EVEN, Decimal
from operator import attrgetter

from wastex_ledger.domain.entries import Entry, EntryKind

ZERO = Decimal("0.000")
RATE_PLACES = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class Figures:
    """Tonnes (3 places) and kg CO2e per column of a projection row; signed deltas add up."""

    generated: Decimal = ZERO
    in_plant_current: Decimal = ZERO
    in_plant_prior: Decimal = ZERO
    transferred_out_current: Decimal = ZERO
    transferred_out_prior: Decimal = ZERO
    stored: Decimal = ZERO
    disposed_current: Decimal = ZERO
    disposed_prior: Decimal = ZERO
    opening_stock: Decimal = ZERO
    transferred_in: Decimal = ZERO
    received_utilised: Decimal = ZERO
    transfers: int = 0
    transport_co2e_kg: Decimal = ZERO
    avoided_co2e_kg: Decimal = ZERO
    #: The receiver's intake in its storage (net of what was taken back out) and disposed
    #: of; last, so that the migration appends them to the projection (decision 027).
    received_stored: Decimal = ZERO
    received_disposed: Decimal = ZERO

    def __add__(self, other: Figures) -> Figures:
        return _make(*(a + b for a, b in zip(_values(self), _values(other), strict=True)))

    @staticmethod
    def of(columns: Mapping[str, Decimal | int]) -> Figures:
        """Figures with these columns set (the others zero)."""
        return _make(**columns)

    def changes(self) -> tuple[tuple[str, Decimal | int], ...]:
        """The non-zero columns: an entry's delta sets one or two of sixteen."""
        return tuple((name, v) for name, v in zip(COLUMNS, _values(self), strict=True) if v)

    def is_zero(self) -> bool:
        return all(getattr(self, f.name) == 0 for f in fields(self))

    def as_dict(self) -> dict[str, Decimal | int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


#: Column names of a projection row, in a fixed order.
COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Figures))
#: Columns holding counts rather than tonnes or kilograms.
COUNT_COLUMNS = frozenset({"transfers"})
#: Columns holding kg CO2e rather than tonnes.
CO2E_COLUMNS = frozenset({"transport_co2e_kg", "avoided_co2e_kg"})
#: The columns 综合利用量 adds up: in-plant use and transfers out, current and prior-stock
#: parts (the league table's SQL ranks by these too, so the formula is written once).
UTILISED_COLUMNS: tuple[str, ...] = (
    "in_plant_current",
    "in_plant_prior",
    "transferred_out_current",
    "transferred_out_prior",
)
#: The columns of the rate's denominator: 产生量 + 综合利用往年贮存量.
DENOMINATOR_COLUMNS: tuple[str, ...] = ("generated", "in_plant_prior", "transferred_out_prior")
#: A Figures' values in column order, in one call (sums over a million entries add up).
_values: Callable[[Figures], tuple[Decimal | int, ...]] = attrgetter(*COLUMNS)
#: Builds Figures from values given per column: each keeps its column's type, which the
#: type checker cannot follow through `*` or `**`.
_make: Callable[..., Figures] = Figures


def delta_of(entry: Entry) -> Figures:
    """What one entry adds to every projection row it belongs to."""
    t = entry.tonnes
    prior = entry.from_prior_stock
    match entry.kind:
        case EntryKind.GENERATED:
            return Figures(generated=t)
        case EntryKind.UTILISED_IN_PLANT:
            return Figures(in_plant_prior=t) if prior else Figures(in_plant_current=t)
        case EntryKind.TRANSFERRED_OUT:
            sign = -1 if t < 0 else 1
            carbon = entry.carbon
            base = Figures(transferred_out_prior=t) if prior else Figures(transferred_out_current=t)
            return base + Figures(
                transfers=sign,
                transport_co2e_kg=sign * carbon.transport_co2e_kg if carbon else ZERO,
                avoided_co2e_kg=sign * carbon.avoided_co2e_kg if carbon else ZERO,
            )
        case EntryKind.STORED:
            return Figures(stored=t)
        case EntryKind.STORAGE_RETRIEVED:
            return Figures(stored=-t)  # `stored` is this year's net storage
        case EntryKind.DISPOSED:
            return Figures(disposed_prior=t) if prior else Figures(disposed_current=t)
        case EntryKind.OPENING_STOCK:
            return Figures(opening_stock=t)
        case EntryKind.TRANSFERRED_IN:
            return Figures(transferred_in=t)
        case EntryKind.UTILISED:
            return Figures(received_utilised=t)
        case EntryKind.RECEIVED_STORED:
            return Figures(received_stored=t)
        case EntryKind.RECEIVED_STORAGE_RETRIEVED:
            return Figures(received_stored=-t)  # net, as the generator's `stored`
        case EntryKind.RECEIVED_DISPOSED:
            return Figures(received_disposed=t)


def ratio(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    """numerator ÷ denominator as a fraction with 4 places (half-even); None when ÷ 0."""
    if denominator == 0:
        return None
    return (numerator / denominator).quantize(RATE_PLACES, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True, slots=True)
class Utilisation:
    """The figures of a scope over a range of months, named as the contract names them."""

    figures: Figures = Figures()

    def apply(self, entry: Entry) -> Utilisation:
        """These totals with one more entry (a reversal, with negative tonnes, takes it back)."""
        return Utilisation(self.figures + delta_of(entry))

    def __add__(self, other: Utilisation) -> Utilisation:
        """Totals of two disjoint sets of entries (months, enterprises): column-wise sums."""
        return Utilisation(self.figures + other.figures)

    @property
    def generated(self) -> Decimal:
        return self.figures.generated

    @property
    def utilised_in_plant(self) -> Decimal:
        return self.figures.in_plant_current + self.figures.in_plant_prior

    @property
    def transferred_for_utilisation(self) -> Decimal:
        return self.figures.transferred_out_current + self.figures.transferred_out_prior

    @property
    def prior_stock_utilised(self) -> Decimal:
        return self.figures.in_plant_prior + self.figures.transferred_out_prior

    @property
    def utilised(self) -> Decimal:
        """综合利用量: in-plant + transferred out, current and prior-stock parts."""
        return self._total(UTILISED_COLUMNS)

    @property
    def disposed(self) -> Decimal:
        return self.figures.disposed_current + self.figures.disposed_prior

    @property
    def prior_stock_disposed(self) -> Decimal:
        return self.figures.disposed_prior

    @property
    def stored(self) -> Decimal:
        return self.figures.stored

    @property
    def opening_stock(self) -> Decimal:
        return self.figures.opening_stock

    @property
    def intake(self) -> Decimal:
        return self.figures.transferred_in

    @property
    def received_utilised(self) -> Decimal:
        return self.figures.received_utilised

    @property
    def received_stored(self) -> Decimal:
        """Intake put into storage, net of what was taken back out (over the range)."""
        return self.figures.received_stored

    @property
    def received_disposed(self) -> Decimal:
        return self.figures.received_disposed

    @property
    def denominator(self) -> Decimal:
        """产生量 + 综合利用往年贮存量."""
        return self._total(DENOMINATOR_COLUMNS)

    @property
    def rate(self) -> Decimal | None:
        """综合利用率 = 综合利用量 ÷ (产生量 + 综合利用往年贮存量)."""
        return ratio(self.utilised, self.denominator)

    @property
    def in_plant_share(self) -> Decimal | None:
        return ratio(self.utilised_in_plant, self.denominator)

    @property
    def disposal_rate(self) -> Decimal | None:
        return ratio(self.disposed, self.generated)

    def _total(self, columns: tuple[str, ...]) -> Decimal:
        total: Decimal = sum((getattr(self.figures, name) for name in columns), ZERO)
        return total
