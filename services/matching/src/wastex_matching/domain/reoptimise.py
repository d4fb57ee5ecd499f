"""Re-optimisation as a diff: which proposals stay, which are superseded, which are new.

Every call to `allocate` recomputes all provisional allocations from scratch. Announcing
that wholesale would spam recyclers with SUPERSEDED/PROPOSED pairs for routes that did
not change, so the service applies only the difference: a current PROPOSED match whose
(offer, demand, tonnes) the new allocation repeats is kept (its licence and CO2e figures
may be refreshed quietly); the other current proposals are superseded; the remaining new
routes are proposed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from wastex_matching.domain.model import ProposedMatch, check_tonnes


@dataclass(frozen=True, slots=True, kw_only=True)
class ProvisionalMatch:
    """A stored match still PROPOSED (the only kind re-optimisation may replace)."""

    match_id: str
    offer_id: str
    demand_id: str
    tonnes: Decimal
    licence_id: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "tonnes", check_tonnes(self.tonnes, "tonnes"))


@dataclass(frozen=True, slots=True)
class ReoptimisationPlan:
    #: (stored proposal, the new route repeating it): nothing to announce.
    keep: tuple[tuple[ProvisionalMatch, ProposedMatch], ...]
    #: Stored proposals to move to SUPERSEDED.
    supersede: tuple[ProvisionalMatch, ...]
    #: New routes to store and announce as PROPOSED.
    propose: tuple[ProposedMatch, ...]


def plan_reoptimisation(
    provisional: Iterable[ProvisionalMatch], proposed: Iterable[ProposedMatch]
) -> ReoptimisationPlan:
    waiting: dict[tuple[str, str, Decimal], list[ProvisionalMatch]] = defaultdict(list)
    for match in sorted(provisional, key=lambda m: m.match_id):
        waiting[(match.offer_id, match.demand_id, match.tonnes)].append(match)
    keep: list[tuple[ProvisionalMatch, ProposedMatch]] = []
    propose: list[ProposedMatch] = []
    for route in proposed:
        same = waiting.get((route.offer_id, route.demand_id, route.tonnes))
        if same:
            keep.append((same.pop(0), route))
        else:
            propose.append(route)
    supersede = sorted(
        (match for matches in waiting.values() for match in matches), key=lambda m: m.match_id
    )
    return ReoptimisationPlan(tuple(keep), tuple(supersede), tuple(propose))
