"""The zero-waste enterprise (无废企业) assessment: configurable rules over a year's figures.

Rules come from configuration (`wastex_ledger/zero_waste_rules.yaml` by default): each has a
`key`, a `kind` (one of :data:`RULE_KINDS`), a `title` and, where the kind needs one, a
`threshold`. The rates are of general waste, the class 综合利用率 is defined for (formulas
§1); hazardous waste has its own rule, and the accounting covers every tonne. The kinds:

- `rate_at_least`: 综合利用率 for the year ≥ threshold (0.80 for 无废企业, formulas §4);
  no figures (denominator 0) fails.
- `in_plant_share_at_least`: 固废不出厂 share ≥ threshold (a project rule, not official).
- `no_open_discrepancies`: no manifest of the enterprise (either side) booked in the year is
  in `DISCREPANCY` (one its parties resolved, `RESOLVED`, is no longer open); one carried
  over its year's close (decision 036) is booked in the year its receipt was booked to.
- `no_unmatched_hazardous_stock`: hazardous (HW) stock at the end of the year, less what is
  in transit or on a manifest opened by then and awaiting dispatch, code by code (one
  code's manifests move none of another's stock), ≤ threshold (default 0 t).
- `generation_accounted`: the year's generation not accounted for by utilisation, transfers
  (also in transit; a weight gap within the manifest tolerance, or one the parties resolved
  as a weighing error or a change of moisture, counts as transferred),
  storage or disposal ≤ threshold tonnes (the identity's 倾倒丢弃 rest).
- `disposal_share_at_most`: 处置率 (disposed ÷ generated, formulas §1, prior-stock disposal
  included) ≤ threshold (a project rule: a zero-waste plant utilises rather than disposes);
  no generation in the year passes (there is no share to judge).

A closed year's verdict is final (decision 036): the service reads its manifests as at the
year's close (`closing.verdict_as_at`), so a discrepancy agreed after it is still open in
`no_open_discrepancies`, and its gap not shipped in `generation_accounted`; a shipment
carried over the close and received after it was on the road at its dispatched weight,
whatever its receipt found (no discrepancy, no gap). An open year's reads them as they
stand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from wastex_ledger.domain import errors
from wastex_ledger.domain.balance import current_uses, prior_uses
from wastex_ledger.domain.closing import Carried
from wastex_ledger.domain.figures import ZERO, Figures, Utilisation
from wastex_ledger.domain.periods import Period
from wastex_shared.codes import is_hazardous
from wastex_shared.errors import DomainError

RULE_KINDS = frozenset(
    {
        "rate_at_least",
        "in_plant_share_at_least",
        "no_open_discrepancies",
        "no_unmatched_hazardous_stock",
        "generation_accounted",
        "disposal_share_at_most",
    }
)
_NEEDS_THRESHOLD = frozenset({"rate_at_least", "in_plant_share_at_least", "disposal_share_at_most"})
#: The kinds whose threshold is a fraction (0.80 for 80 %); the others' are tonnes.
_FRACTION_KINDS = _NEEDS_THRESHOLD


@dataclass(frozen=True, slots=True)
class Rule:
    key: str
    kind: str
    title: str
    threshold: Decimal | None = None

    def __post_init__(self) -> None:
        if self.kind not in RULE_KINDS:
            raise DomainError(
                errors.INVALID_RULES, f"rule {self.key}: unknown kind {self.kind!r}", "kind"
            )
        if self.kind in _NEEDS_THRESHOLD and self.threshold is None:
            raise DomainError(
                errors.INVALID_RULES, f"rule {self.key}: {self.kind} needs a threshold", "threshold"
            )
        t = self.threshold
        if t is None:
            return
        if self.kind in _FRACTION_KINDS and not (t.is_finite() and 0 <= t <= 1):
            # "80" for 80 % would fail every enterprise (0.95 < 80) without a word.
            raise DomainError(
                errors.INVALID_RULES,
                f"rule {self.key}: {self.kind} takes a fraction from 0 to 1 (0.80 for 80 %), "
                f"not {t}",
                "threshold",
            )
        if not (t.is_finite() and t >= 0):
            raise DomainError(
                errors.INVALID_RULES,
                f"rule {self.key}: {self.kind} takes tonnes ≥ 0, not {t}",
                "threshold",
            )


@dataclass(frozen=True, slots=True)
class Facts:
    """What the rules look at for one enterprise and year."""

    year: int
    utilisation: Utilisation
    open_discrepancies: int
    unmatched_hazardous_stock: Decimal
    unaccounted_generation: Decimal


@dataclass(frozen=True, slots=True)
class Records:
    """What the ledger holds of one enterprise that an assessment of `year` reads."""

    year: int
    #: The year's figures of general waste, and of every code.
    general: Figures
    every_class: Figures
    open_discrepancies: int
    #: Each waste code's monthly figures, every year.
    by_code: Mapping[str, Mapping[Period, Figures]]
    #: Hazardous tonnes by code that manifests opened by the year's end will move out of
    #: stock (planned, or on the road from prior-year stock).
    moving: Mapping[str, Decimal]
    #: Shipments on the road, as transfers at their dispatched weight, by month.
    in_transit: Mapping[Period, Figures]
    #: Dispatched less received tonnes of shipments that arrived lighter but lost nothing
    #: (received within the tolerance, or resolved as a weighing error or a change of
    #: moisture), by (code, from prior-year stock, month), up to the year's end.
    weighing_gaps: Mapping[tuple[str, bool, Period], Decimal]
    #: Shipments received after the year they were dispatched to closed, booked then as
    #: prior-year stock (decision 036): on the road at their year's close for good. At the
    #: tonnes credited, or at their dispatched weight when read as at a close they were
    #: received after (their gap, a discrepancy or not, is then no gap of `weighing_gaps`).
    carried: Carried = field(default_factory=dict)


def facts_of(records: Records) -> Facts:
    """The facts the rules judge. A weight gap within the tolerance (or resolved as no loss)
    is part of the shipment, not waste left behind: it counts as transferred for the
    accounting and for the stock."""
    year, gaps = records.year, records.weighing_gaps
    current_gap = sum(
        (t for (_, prior, m), t in gaps.items() if not prior and m.year == year), ZERO
    )
    # A shipment carried over its year's close is on the road until the year its receipt
    # was booked to draws on it as prior-year stock (decision 036); one sent as its year's
    # waste is stock from its year on, one sent from prior-year stock was stock already.
    carried_in: dict[str, Decimal] = {}
    carried_moving: dict[str, Decimal] = {}
    for (code, prior, sent, booked), t in records.carried.items():
        if sent.year <= year and not prior:
            carried_in[code] = carried_in.get(code, ZERO) + t
        if sent.year <= year < booked.year:
            carried_moving[code] = carried_moving.get(code, ZERO) + t
    stock = {
        code: stock_at_end_of(year, months)
        - sum((t for (c, prior, _), t in gaps.items() if prior and c == code), ZERO)
        + carried_in.get(code, ZERO)
        for code, months in records.by_code.items()
        if is_hazardous(code)
    }
    moving = {
        code: records.moving.get(code, ZERO) + carried_moving.get(code, ZERO)
        for code in {*records.moving, *carried_moving}
    }
    f = records.every_class
    on_the_road = sum(
        (t.transferred_out_current for m, t in records.in_transit.items() if m.year == year), ZERO
    ) + sum(
        (
            t
            for (_, prior, sent, _), t in records.carried.items()
            if not prior and sent.year == year
        ),
        ZERO,
    )
    accounted = current_uses(f) + current_gap + on_the_road
    return Facts(
        year=year,
        utilisation=Utilisation(records.general),
        open_discrepancies=records.open_discrepancies,
        unmatched_hazardous_stock=unmoved_stock(stock, moving),
        unaccounted_generation=max(f.generated - accounted, ZERO),
    )


def stock_at_end_of(year: int, months: Mapping[Period, Figures]) -> Decimal:
    """One code's stock at the end of `year`: opening stock and storage less what was drawn
    from stock, over every month up to then (below zero when receipts weighed more)."""
    stock = ZERO
    for month, f in months.items():
        if month.year <= year:
            stock += f.opening_stock + f.stored - prior_uses(f)
    return stock


def unmoved_stock(stock: Mapping[str, Decimal], moving: Mapping[str, Decimal]) -> Decimal:
    """Stock no manifest will move, code by code: one code's manifests, or one code's stock
    drawn below zero, never cover another code's stock."""
    return sum((max(t - moving.get(code, ZERO), ZERO) for code, t in stock.items()), ZERO)


@dataclass(frozen=True, slots=True)
class RuleResult:
    key: str
    title: str
    passed: bool
    actual: str | None
    threshold: str | None
    detail: str


def _fraction(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _shown(numerator: Decimal, denominator: Decimal, rounded: Decimal, threshold: Decimal) -> str:
    """The fraction as shown (4 places), or to 6 when those round it onto the threshold
    it misses or meets only exactly: the detail must not seem to contradict the verdict."""
    if rounded != threshold or numerator == threshold * denominator:
        return str(rounded)
    return str((numerator / denominator).quantize(Decimal("0.000001")))


def evaluate(rule: Rule, facts: Facts) -> RuleResult:
    threshold = rule.threshold
    match rule.kind:
        case "rate_at_least" | "in_plant_share_at_least":
            assert threshold is not None
            u = facts.utilisation
            part = u.utilised if rule.kind == "rate_at_least" else u.utilised_in_plant
            value = u.rate if rule.kind == "rate_at_least" else u.in_plant_share
            # Judged on the exact quotient: 79.995 % is shown as 0.8000 and is not 80 %.
            passed = value is not None and part >= threshold * u.denominator
            detail = (
                f"no generation or prior-stock utilisation reported for {facts.year}"
                if value is None
                else f"{_shown(part, u.denominator, value, threshold)} "
                f"{'≥' if passed else '<'} {threshold}"
            )
            return RuleResult(
                rule.key, rule.title, passed, _fraction(value), str(threshold), detail
            )
        case "disposal_share_at_most":
            assert threshold is not None
            u = facts.utilisation
            share = u.disposal_rate
            ok = share is None or u.disposed <= threshold * u.generated
            detail = (
                f"no generation reported for {facts.year}"
                if share is None
                else f"{_shown(u.disposed, u.generated, share, threshold)} "
                f"{'≤' if ok else '>'} {threshold}"
            )
            return RuleResult(rule.key, rule.title, ok, _fraction(share), str(threshold), detail)
        case "no_open_discrepancies":
            count = facts.open_discrepancies
            return RuleResult(
                rule.key,
                rule.title,
                count == 0,
                str(count),
                "0",
                f"{count} manifest(s) with an unresolved weight discrepancy in {facts.year}",
            )
        case "no_unmatched_hazardous_stock":
            limit = threshold if threshold is not None else Decimal(0)
            stock = facts.unmatched_hazardous_stock
            return RuleResult(
                rule.key,
                rule.title,
                stock <= limit,
                str(stock),
                str(limit),
                f"{stock} t hazardous waste in stock at the end of {facts.year} "
                "with no manifest to move it",
            )
        case _:  # generation_accounted
            limit = threshold if threshold is not None else Decimal(0)
            rest = facts.unaccounted_generation
            return RuleResult(
                rule.key,
                rule.title,
                rest <= limit,
                str(rest),
                str(limit),
                f"{rest} t of {facts.year}'s generation not utilised, transferred, stored or "
                "disposed",
            )


@dataclass(frozen=True, slots=True)
class Assessment:
    enterprise_id: str
    year: int
    utilisation: Utilisation
    results: tuple[RuleResult, ...]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)


def assess(enterprise_id: str, rules: tuple[Rule, ...], facts: Facts) -> Assessment:
    return Assessment(
        enterprise_id, facts.year, facts.utilisation, tuple(evaluate(r, facts) for r in rules)
    )
