"""Knobs of the allocation, with defaults a reader can trace to a source.

- `road_factor`: road distance ÷ great-circle distance. 1.0 means plain haversine; urban
  road networks typically measure 1.2–1.4 (the service reads it from its settings).
- `freight_factor_key`: the emission factor (kg CO2e per tonne-km) pricing transport;
  recorded on every match. Default: GB/T 51366 30 t diesel truck.
- `unmatched_penalty_factor_key`: what a tonne left unmatched costs (kg CO2e per tonne).
  Default: landfilling commercial & industrial waste (DESNZ 2025), the usual fate of waste
  that finds no taker. It is above any transport cost within 1,000 km, so the flow ships
  whenever some route exists, and it makes the min-cost flow always feasible.
- `licence_rebalance_rounds`: extra solver rounds allowed to re-split a licence's annual
  tonnage shared by several demands (see `network.py`); 0 keeps the first split.
- `licence_transfer_solves`: solves allowed, after that, to move a shared licence's tonnage
  from the claimant whose share the solver prices lowest to the one it prices highest,
  each move kept only if the allocation gets cheaper (`optimiser._transferred_shares`);
  0 moves none.
- `stability_margin`: how much cheaper a standing proposal's route looks to the
  optimiser when it re-allocates (a fraction of its transport cost, at least one cost
  unit). Without it, routes of equal cost (every offer of one site costs the same to a
  given recycler) swap places whenever anything in the market changes, and each swap
  supersedes a proposal the recycler may be about to accept. The allocation is then at
  most margin ÷ (1 − margin) costlier than the one from scratch, plus one cost unit (1 g
  CO2e per tonne) on the standing tonnes. 0 re-allocates from scratch (decision 010).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from wastex_matching.domain import errors
from wastex_shared.emission_factors import DEFAULT_FREIGHT_FACTOR, EmissionFactor, factor
from wastex_shared.errors import DomainError

DEFAULT_UNMATCHED_PENALTY_FACTOR: Final = "landfill_commercial_industrial_waste_uk_2025"
TRANSPORT_UNIT: Final = "kgCO2e/t.km"
PENALTY_UNITS: Final = frozenset({"kgCO2e/t", "kgCO2/t"})
#: Above this a standing proposal could hold on to a route much costlier than the optimum.
MAX_STABILITY_MARGIN: Final = 0.05


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchingParams:
    road_factor: float = 1.0
    freight_factor_key: str = DEFAULT_FREIGHT_FACTOR
    unmatched_penalty_factor_key: str = DEFAULT_UNMATCHED_PENALTY_FACTOR
    licence_rebalance_rounds: int = 4
    licence_transfer_solves: int = 8
    stability_margin: float = 0.001

    def __post_init__(self) -> None:
        if not 1.0 <= self.road_factor <= 5.0:
            raise DomainError(
                errors.INVALID_PARAMETER,
                f"road_factor {self.road_factor} must be between 1 (straight line) and 5",
                "road_factor",
            )
        if self.licence_rebalance_rounds < 0:
            raise DomainError(
                errors.INVALID_PARAMETER,
                "licence_rebalance_rounds must not be negative",
                "licence_rebalance_rounds",
            )
        if self.licence_transfer_solves < 0:
            raise DomainError(
                errors.INVALID_PARAMETER,
                "licence_transfer_solves must not be negative",
                "licence_transfer_solves",
            )
        if not 0.0 <= self.stability_margin <= MAX_STABILITY_MARGIN:
            raise DomainError(
                errors.INVALID_PARAMETER,
                f"stability_margin {self.stability_margin} must be between 0 and "
                f"{MAX_STABILITY_MARGIN}",
                "stability_margin",
            )
        freight = self.freight_factor()
        if freight.unit != TRANSPORT_UNIT:
            raise DomainError(
                errors.INVALID_PARAMETER,
                f"{freight.key} is in {freight.unit}, not {TRANSPORT_UNIT}",
                "freight_factor_key",
            )
        penalty = self.penalty_factor()
        if penalty.unit not in PENALTY_UNITS:
            raise DomainError(
                errors.INVALID_PARAMETER,
                f"{penalty.key} is in {penalty.unit}, not kg CO2e per tonne",
                "unmatched_penalty_factor_key",
            )

    def freight_factor(self) -> EmissionFactor:
        return _lookup(self.freight_factor_key, "freight_factor_key")

    def penalty_factor(self) -> EmissionFactor:
        return _lookup(self.unmatched_penalty_factor_key, "unmatched_penalty_factor_key")

    @property
    def penalty_kg_per_tonne(self) -> Decimal:
        return self.penalty_factor().value


def _lookup(key: str, field: str) -> EmissionFactor:
    try:
        return factor(key)
    except KeyError as exc:
        raise DomainError(
            errors.INVALID_PARAMETER, f"{key!r} is not a known emission factor", field
        ) from exc
