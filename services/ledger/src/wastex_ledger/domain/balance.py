"""The balance identity, checked per enterprise and waste code before anything is booked.

formulas.md §1 gives the identity 产生量 = (综合利用量 − 其中往年贮存) + 贮存量 +
(处置量 − 其中往年贮存) + 倾倒丢弃量. The ledger cannot know what is still on the way to
being reported, so it enforces the inequalities that must hold at every point of the year
(倾倒丢弃 being the unreported rest):

1. **Current-year balance.** For every year Y and every month m of Y, year to date
   (Y-01 … m):

       in-plant utilisation (current) + transfers out (current) + shipments in transit
       (current) + stored + disposed (current)   ≤   generated

   So generation must be reported before (or in the same month as) its uses.

2. **Prior-year stock.** For every year Y, from the first records up to the end of Y:

       in-plant utilisation (prior) + transfers out (prior) + shipments in transit
       (prior) + disposed (prior)   ≤   opening stock declared in years ≤ Y
                                         + stored in years < Y

   Opening stock (reported with a month of year Y, no later than the first year of the
   records: below) is stock held before the ledger's records and may be drawn on from Y
   onwards; this year's storage becomes prior-year stock
   from next year.

3. **Receiver's intake.** For every month m, from the first records up to m: what the
   receiver reports of its intake ≤ its intake (`transferred_in`):

       utilised + stored from intake (net of what was taken back out) + disposed of
       from intake   ≤   intake


4. **This year's storage.** For every year Y and every month m of Y, year to date: what was
   taken back out of storage ≤ what was put into it (`stored`, net, never below zero).

5. **Storage of intake.** For every month m, from the first records up to m: what the
   receiver took back out of the storage of its intake ≤ what it put into it
   (`received_stored`, net, never below zero). From the first records, not year to date as
   check 4: intake has no year of generation (no prior-year stock to draw on instead), and
   check 3 is cumulative too, so intake stored in December is taken out in January as it is.

A shipment counts at its dispatched (origin) weight while in transit and, once received,
at its received weight up to the dispatched one (`Manifest.credited_tonnes`): so a receipt
never takes its supplier past what it generated. A receipt is never refused for balance:
its weight is the receiver's measurement, and a gap over the tolerance is a discrepancy for
the regulator, not a booking error (only a weight over twice the dispatched one is refused,
as a slip of unit: decision 020).

A report, reversal, correction or dispatch is refused with `BALANCE_VIOLATION` when after
it any check fails *and* that check is worse than before: a shortfall already in the books
(an overweight receipt booked whole before decision 020) does not block unrelated reports,
but nothing may deepen it.

**Opening stock stands before the records** (decision 035, `ensure_stock_before_records`).
Storage of a year in the books is prior-year stock from the next year by itself: the same
pile declared again as opening stock of a later year would count twice in check 2, and in
the rate, where prior-year stock utilised is in both terms. So, of one enterprise and code
(across its sites; a month whose entries were all reversed holds no record):

- opening stock is declared with a month of a year no later than the first year the books
  hold any record of (generation, use, storage, shipment, intake, disposal, opening stock
  itself): `INVALID_PERIOD` on `period` otherwise. A late declaration for an earlier year
  is stock from before the records too;
- nothing else is booked in a year before one holding opening stock (the same pile the
  other way round: opening stock of 2027, then 2026's storage reported late):
  `INVALID_PERIOD` on `period`; the stock is declared for the earlier year first and the
  later declaration reversed.

Every entry booked but a reversal is judged (a correction's new entry as a declaration of
its month), and a dispatch at its month; a reversal, which only takes away, never is, nor a
receipt (never refused). The rule is the booking's, as the checks are: `wastex replay
ledger` rebuilds what was booked as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from wastex_ledger.domain import errors
from wastex_ledger.domain.figures import ZERO, Figures
from wastex_ledger.domain.periods import Period
from wastex_shared.errors import DomainError

#: Monthly figures of one enterprise and waste code (in-transit shipments counted as transfers).
Sheet = Mapping[Period, Figures]


@dataclass(frozen=True, slots=True)
class Check:
    """One inequality `used ≤ available` at one point in time."""

    kind: str  # "current" | "prior" | "intake" | "storage" | "intake-storage"
    period: Period
    used: Decimal
    available: Decimal
    #: Of `used`, what stands in this year's storage ("current" checks).
    stored: Decimal = ZERO

    @property
    def key(self) -> tuple[str, Period]:
        return (self.kind, self.period)

    @property
    def slack(self) -> Decimal:
        return self.available - self.used

    def describe(self, waste_code: str) -> str:
        y = self.period.year
        if self.kind == "current":
            # Waste offered from storage is the usual case: say how it leaves storage.
            stock = (
                f"; {self.stored} t of it is in storage: report what is taken out of it "
                "(reportStorageRetrieval) before it is used or shipped"
                if self.stored > 0
                else ""
            )
            return (
                f"{waste_code}: from {y}-01 to {self.period}, this year's waste utilised, "
                f"transferred, stored and disposed would be {self.used} t but only "
                f"{self.available} t was generated{stock}; report the generation first or "
                "correct the entries"
            )
        if self.kind == "prior":
            return (
                f"{waste_code}: prior-year stock utilised, transferred or disposed up to the end "
                f"of {y} would be {self.used} t but only {self.available} t was available "
                f"(opening stock declared up to {y} + storage before {y})"
            )
        if self.kind == "storage":
            return (
                f"{waste_code}: from {y}-01 to {self.period}, this year's storage would stand "
                f"at {self.available} t: more taken out of it than was put in (earlier years' "
                "storage is drawn on with fromPriorStock)"
            )
        if self.kind == "intake-storage":
            return (
                f"{waste_code}: storage of intake up to {self.period} would stand at "
                f"{self.available} t: more taken out of it than was put in (receiver's "
                "storage of intake)"
            )
        return (
            f"{waste_code}: intake utilised, stored (net of what was taken back out) and "
            f"disposed of up to {self.period} would be {self.used} t but only "
            f"{self.available} t was received (receiver's intake)"
        )


def current_uses(f: Figures) -> Decimal:
    """What accounts for this year's generation: used, transferred, stored, disposed."""
    return f.in_plant_current + f.transferred_out_current + f.stored + f.disposed_current


def prior_uses(f: Figures) -> Decimal:
    """What was drawn from earlier years' stock: used, transferred, disposed."""
    return f.in_plant_prior + f.transferred_out_prior + f.disposed_prior


def intake_uses(f: Figures) -> Decimal:
    """What the receiver accounts for of its intake: utilised, stored (net), disposed."""
    return f.received_utilised + f.received_stored + f.received_disposed


def checks(sheet: Sheet) -> dict[tuple[str, Period], Check]:
    """Every check of the identity that can bind, for the months in `sheet`."""
    found: dict[tuple[str, Period], Check] = {}
    months = sorted(sheet)
    # 1. current-year balance, year to date at every month with figures.
    used = available = stored = ZERO
    year: int | None = None
    for month in months:
        if month.year != year:
            year, used, available, stored = month.year, ZERO, ZERO, ZERO
        used += current_uses(sheet[month])
        available += sheet[month].generated
        stored += sheet[month].stored
        check = Check("current", month, used, available, stored)
        found[check.key] = check
    # 2. prior-year stock, cumulative to the end of every year with figures.
    years = sorted({m.year for m in months})
    for y in years:
        prior_used = sum((prior_uses(sheet[m]) for m in months if m.year <= y), ZERO)
        opening = sum((sheet[m].opening_stock for m in months if m.year <= y), ZERO)
        stored_before = sum((sheet[m].stored for m in months if m.year < y), ZERO)
        check = Check("prior", Period.last_of(y), prior_used, opening + stored_before)
        found[check.key] = check
    # 3. receiver's intake, cumulative at every month with figures.
    used = available = ZERO
    for month in months:
        used += intake_uses(sheet[month])
        available += sheet[month].transferred_in
        check = Check("intake", month, used, available)
        found[check.key] = check
    # 4. this year's storage, year to date: its net never below zero.
    year, net = None, ZERO
    for month in months:
        if month.year != year:
            year, net = month.year, ZERO
        net += sheet[month].stored
        check = Check("storage", month, ZERO, net)
        found[check.key] = check
    # 5. storage of intake, cumulative: its net never below zero.
    net = ZERO
    for month in months:
        net += sheet[month].received_stored
        check = Check("intake-storage", month, ZERO, net)
        found[check.key] = check
    return found


def violations(before: Sheet, after: Sheet) -> list[Check]:
    """Checks failing after a change that are worse than before it."""
    # Evaluate both at the same points, so a new month compares with its old year to date.
    months = set(before) | set(after)
    old = checks({m: before.get(m, Figures()) for m in months})
    result = []
    for key, check in sorted(checks({m: after.get(m, Figures()) for m in months}).items()):
        if check.slack >= 0:
            continue
        previous = old.get(key)
        if previous is None or check.slack < previous.slack:
            result.append(check)
    return result


def ensure_stock_before_records(
    before: Sheet,
    month: Period,
    *,
    opening: bool,
    waste_code: str,
    closed_on: Callable[[int], date | None] = lambda _: None,
) -> None:
    """Refuse opening stock (`opening`) in a year after the first with records in `before`,
    and anything else in a year before one holding opening stock (module docstring).
    `closed_on` gives the day a year's books closed on, None while open (decision 036): a
    refusal does not send the enterprise to a closed year."""
    if opening:
        first = min((m.year for m, f in before.items() if not f.is_zero()), default=None)
        if first is not None and month.year > first:
            closed = closed_on(first)
            where = (
                f"declare it with a month of {first} or earlier"
                if closed is None
                else f"{first} closed on {closed.isoformat()}, so opening stock of "
                f"{waste_code} can no longer be declared"
            )
            raise DomainError(
                errors.INVALID_PERIOD,
                f"{waste_code}: opening stock is stock held from before the ledger's records, "
                f"and this enterprise's records of {waste_code} run from {first} (its storage "
                f"of a year is the next year's prior-year stock already): {where}, not {month}",
                "period",
            )
        return
    last = max((m.year for m, f in before.items() if f.opening_stock > 0), default=None)
    if last is not None and month.year < last:
        raise DomainError(
            errors.INVALID_PERIOD,
            f"{waste_code}: opening stock is declared in {last}, as stock held from before "
            f"this enterprise's records, so none of its records of {waste_code} may come "
            f"before {last}: declare that stock with a month of {month.year} or earlier and "
            f"reverse the declaration of {last}, then report {month}",
            "period",
        )


def apply(sheet: Sheet, deltas: Mapping[Period, Figures]) -> dict[Period, Figures]:
    """`sheet` with `deltas` added month by month."""
    result = dict(sheet)
    for month, delta in deltas.items():
        result[month] = result.get(month, Figures()) + delta
    return result


def ensure_balanced(before: Sheet, deltas: Mapping[Period, Figures], waste_code: str) -> None:
    """Refuse a change that breaks (or deepens a break of) the balance identity."""
    broken = violations(before, apply(before, deltas))
    if broken:
        raise DomainError(errors.BALANCE_VIOLATION, broken[0].describe(waste_code), "tonnes")
