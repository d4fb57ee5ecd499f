"""Re-optimisation as a diff: which proposals stay, which are superseded, which are new.

Every call to `allocate` recomputes all provisional allocations from scratch. Announcing
that wholesale would spam recyclers with SUPERSEDED/PROPOSED pairs for routes that did
not change, so the service applies only the difference: a current PROPOSED match whose
(offer, demand, tonnes) the new allocation repeats is kept (its licence and CO2e figures
may be refreshed quietly); the other current proposals are superseded; the remaining new
routes are proposed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Set
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


class ProposalIndex:
    """Stored proposals by (offer, demand), each pair's in match id order; immutable.

    A round at 20,000 open offers holds as many proposals and changes a few hundred, so
    the service keeps the index between rounds and derives the next one (`changed`)."""

    __slots__ = ("_by_id", "_by_pair")

    def __init__(
        self,
        by_id: dict[str, ProvisionalMatch],
        by_pair: dict[tuple[str, str], tuple[ProvisionalMatch, ...]],
    ) -> None:
        self._by_id = by_id
        self._by_pair = by_pair

    @classmethod
    def of(cls, matches: Iterable[ProvisionalMatch]) -> ProposalIndex:
        return cls({}, {}).changed(added=matches)

    def changed(
        self, *, removed: Iterable[str] = (), added: Iterable[ProvisionalMatch] = ()
    ) -> ProposalIndex:
        """A new index less the `removed` match ids, plus `added`; this one is unchanged."""
        by_id, by_pair = dict(self._by_id), dict(self._by_pair)
        for match_id in removed:
            _drop(by_id, by_pair, match_id)
        for match in added:
            if match.match_id in by_id:
                _drop(by_id, by_pair, match.match_id)
            by_id[match.match_id] = match
            pair = (match.offer_id, match.demand_id)
            together = (*by_pair.get(pair, ()), match)
            by_pair[pair] = tuple(sorted(together, key=attrgetter("match_id")))
        return ProposalIndex(by_id, by_pair)

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[ProvisionalMatch]:
        return iter(self._by_id.values())

    def by_pair(self) -> Mapping[tuple[str, str], tuple[ProvisionalMatch, ...]]:
        """Every (offer, demand) with its proposals (read only, like the index)."""
        return self._by_pair

    def all_but(self, match_ids: Set[str]) -> list[ProvisionalMatch]:
        """The proposals whose ids are not in `match_ids`, in match id order."""
        return [self._by_id[i] for i in sorted(self._by_id.keys() - match_ids)]


def plan_reoptimisation(
    provisional: ProposalIndex | Iterable[ProvisionalMatch], proposed: Iterable[R]
) -> ReoptimisationPlan[R]:
    """Keep each stored proposal a new route repeats (same offer, demand and weight; of
    several equal ones, the lowest match id), supersede the rest, propose the other routes."""
    index = provisional if isinstance(provisional, ProposalIndex) else ProposalIndex.of(provisional)
    by_pair = index.by_pair()
    kept_ids: set[str] = set()
    keep: list[tuple[ProvisionalMatch, R]] = []
    propose: list[R] = []
    # Inlined (no call per route): a round at 20,000+ open offers walks as many routes.
    for route in proposed:
        for stored in by_pair.get((route.offer_id, route.demand_id), ()):
            # The first stored proposal of the pair with this weight not kept already.
            if stored.kilograms == route.kilograms and stored.match_id not in kept_ids:
                kept_ids.add(stored.match_id)
                keep.append((stored, route))
                break
        else:
            propose.append(route)
    return ReoptimisationPlan(tuple(keep), tuple(index.all_but(kept_ids)), tuple(propose))


def _drop(
    by_id: dict[str, ProvisionalMatch],
    by_pair: dict[tuple[str, str], tuple[ProvisionalMatch, ...]],
    match_id: str,
) -> None:
    match = by_id.pop(match_id)
    pair = (match.offer_id, match.demand_id)
    rest = tuple(m for m in by_pair[pair] if m.match_id != match_id)
    if rest:
        by_pair[pair] = rest
    else:
        del by_pair[pair]
