"""Re-optimisation as a diff: which proposals stay, which are superseded, which are new.

Every call to `allocate` recomputes all provisional allocations from scratch. Announcing
that wholesale would spam recyclers with SUPERSEDED/PROPOSED pairs for routes that did
not change, so the service applies only the difference: a current PROPOSED match whose
(offer, demand, tonnes) the new allocation repeats is kept (its licence and CO2e figures
may be refreshed quietly); the other current proposals are superseded; the remaining new
routes are proposed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from operator import attrgetter
from typing import Generic, Protocol, TypeVar

from wastex_matching.domain.model import check_tonnes
from wastex_shared.units import to_kilograms


@dataclass(frozen=True, slots=True, kw_only=True)
class ProvisionalMatch:
    """A stored match still PROPOSED (the only kind re-optimisation may replace)."""

    match_id: str
    offer_id: str
    demand_id: str
    tonnes: Decimal
    licence_id: str | None = None
    kilograms: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        tonnes = check_tonnes(self.tonnes, "tonnes")
        object.__setattr__(self, "tonnes", tonnes)
        object.__setattr__(self, "kilograms", to_kilograms(tonnes))


class RouteLike(Protocol):
    @property
    def offer_id(self) -> str: ...
    @property
    def demand_id(self) -> str: ...
    @property
    def kilograms(self) -> int: ...


R = TypeVar("R", bound=RouteLike)


@dataclass(frozen=True, slots=True)
class ReoptimisationPlan(Generic[R]):
    #: (stored proposal, the new route repeating it): nothing to announce.
    keep: tuple[tuple[ProvisionalMatch, R], ...]
    #: Stored proposals to move to SUPERSEDED.
    supersede: tuple[ProvisionalMatch, ...]
    #: New routes to store and announce as PROPOSED.
    propose: tuple[R, ...]


def plan_reoptimisation(
    provisional: Iterable[ProvisionalMatch], proposed: Iterable[R]
) -> ReoptimisationPlan[R]:
    # Grouped by (offer, demand) and compared on kilograms within the group: hashing two
    # interned strings is far cheaper than hashing a Decimal, and a round may hold 20k.
    # A group leaves the dict once emptied, so what is left at the end is what goes.
    waiting: dict[tuple[str, str], list[ProvisionalMatch]] = {}
    crowded: list[list[ProvisionalMatch]] = []
    for match in provisional:
        pair = (match.offer_id, match.demand_id)
        group = waiting.get(pair)
        if group is None:
            waiting[pair] = [match]
        else:
            group.append(match)
            crowded.append(group)
    for group in crowded:  # equal tonnes in one pair: the lowest match id is kept
        group.sort(key=attrgetter("match_id"))
    keep: list[tuple[ProvisionalMatch, R]] = []
    propose: list[R] = []
    for route in proposed:
        pair = (route.offer_id, route.demand_id)
        group = waiting.get(pair)
        same = None if group is None else _take(group, route.kilograms)
        if same is None:
            propose.append(route)
            continue
        keep.append((same, route))
        if not group:
            del waiting[pair]
    supersede = sorted(
        (match for matches in waiting.values() for match in matches), key=attrgetter("match_id")
    )
    return ReoptimisationPlan(tuple(keep), tuple(supersede), tuple(propose))


def _take(group: list[ProvisionalMatch], kilograms: int) -> ProvisionalMatch | None:
    """Remove and return the first stored proposal of `group` with this weight."""
    for i, match in enumerate(group):
        if match.kilograms == kilograms:
            return group.pop(i)
    return None
