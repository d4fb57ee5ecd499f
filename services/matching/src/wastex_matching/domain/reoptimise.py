"""Re-optimisation as a diff: which proposals stay, which are superseded, which are new.

Every call to `allocate` recomputes all provisional allocations (favouring the standing
ones). Announcing that wholesale would spam recyclers with SUPERSEDED/PROPOSED pairs for
routes that did not change, so the service applies only the difference: a current PROPOSED
match whose (offer, demand, licence, tonnes) the new allocation repeats is kept; the other
current proposals are superseded; the remaining new routes are proposed.

A round at 20,000 open offers compares as many routes with as many proposals and changes a
few hundred. Both sides are arrays (the allocation's `RouteTable`, the index's columns), so
the comparison is a sort, not 20,000 look-ups of objects scattered on the heap (~0.5 µs
each on the bench machine, whatever the Python iterating them).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import compress, repeat
from operator import attrgetter

import numpy as np
from numpy.typing import NDArray

from wastex_matching.domain.capacity import NetCapacities
from wastex_matching.domain.model import AllocationResult, Route, check_tonnes
from wastex_shared.units import to_kilograms

#: Offer, demand and licence positions, one of each per proposal.
Positions = tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]


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

    @classmethod
    def of(cls, match_id: str, route: Route) -> ProvisionalMatch:
        """`route` as proposed under `match_id`."""
        return cls(
            match_id=match_id,
            offer_id=route.offer_id,
            demand_id=route.demand_id,
            tonnes=route.tonnes,
            licence_id=route.licence_id,
        )


@dataclass(frozen=True, slots=True)
class ReoptimisationPlan:
    #: Stored proposals a new route repeats (match ids, in route order): nothing to announce.
    kept: tuple[str, ...]
    #: Stored proposals to move to SUPERSEDED, in match id order.
    supersede: tuple[ProvisionalMatch, ...]
    #: New routes to store and announce as PROPOSED, in route order.
    propose: tuple[Route, ...]


class ProposalIndex:
    """Stored proposals by match id, and as columns in match id order; immutable.

    The service keeps the index between rounds and derives the next one (`changed`): what
    changed is placed by bisection and the columns are rebuilt by slices, never by visiting
    each proposal."""

    __slots__ = (
        "_by_id",
        "_demands",
        "_kilograms",
        "_licences",
        "_match_ids",
        "_offer_ids",
        "_positions",
    )

    def __init__(
        self,
        by_id: dict[str, ProvisionalMatch],
        match_ids: list[str],
        offer_ids: list[str],
        demands: _Coded,
        licences: _Coded,
        kilograms: NDArray[np.int64],
    ) -> None:
        self._by_id = by_id
        self._match_ids = match_ids
        self._offer_ids = offer_ids
        self._demands = demands
        self._licences = licences
        self._kilograms = kilograms
        #: The last `positions_in` answer and the listings it was for: a round asks twice.
        self._positions: tuple[NetCapacities, Positions] | None = None

    @classmethod
    def of(cls, matches: Iterable[ProvisionalMatch]) -> ProposalIndex:
        empty = np.zeros(0, dtype=np.int64)
        return cls({}, [], [], _Coded.empty(), _Coded.empty(), empty).changed(added=matches)

    def changed(
        self, *, removed: Iterable[str] = (), added: Iterable[ProvisionalMatch] = ()
    ) -> ProposalIndex:
        """A new index less the `removed` match ids, plus `added` (replacing any of the same
        id); this one is unchanged."""
        new = sorted({m.match_id: m for m in added}.values(), key=attrgetter("match_id"))
        gone = {*removed, *(m.match_id for m in new)} & self._by_id.keys()
        by_id = dict(self._by_id)
        for match_id in gone:
            del by_id[match_id]
        by_id.update((m.match_id, m) for m in new)
        # Positions found by bisection in the sorted ids: a round changes a few hundred of
        # 20,000, and a pass over all of them would touch every id on the heap.
        match_ids, offer_ids, kilograms = self._match_ids, self._offer_ids, self._kilograms
        demands, licences = self._demands, self._licences
        if gone:
            at = sorted(bisect_left(match_ids, match_id) for match_id in gone)
            match_ids, offer_ids = _without(match_ids, at), _without(offer_ids, at)
            demands, licences = demands.without(at), licences.without(at)
            kilograms = np.delete(kilograms, at)
        if new:
            at = [bisect_left(match_ids, m.match_id) for m in new]  # ascending, as `new` is
            match_ids = _inserted(match_ids, at, [m.match_id for m in new])
            offer_ids = _inserted(offer_ids, at, [m.offer_id for m in new])
            demands = demands.inserted(at, [m.demand_id for m in new])
            licences = licences.inserted(at, [m.licence_id or "" for m in new])
            kilograms = np.insert(kilograms, at, [m.kilograms for m in new])
        return ProposalIndex(by_id, match_ids, offer_ids, demands, licences, kilograms)

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[ProvisionalMatch]:
        return iter(self._by_id.values())

    def get(self, match_id: str) -> ProvisionalMatch:
        return self._by_id[match_id]

    def positions_of(self, match_ids: Iterable[str]) -> list[int]:
        """Where these proposals are in match id order (ids not stored are left out)."""
        ids = self._match_ids
        return [bisect_left(ids, ident) for ident in match_ids if ident in self._by_id]

    @property
    def match_ids(self) -> list[str]:
        """Every proposal's match id, in order (read only, like the index)."""
        return self._match_ids

    @property
    def kilograms(self) -> NDArray[np.int64]:
        """Every proposal's kilograms, in match id order (read only, like the index)."""
        return self._kilograms

    def rows(self) -> list[tuple[str, str, str, int]]:
        """(match id, offer id, demand id, kilograms) of every proposal, in match id order."""
        return list(
            zip(
                self._match_ids,
                self._offer_ids,
                self._demands.ids(),
                self._kilograms.tolist(),
                strict=True,
            )
        )

    def positions_in(self, net: NetCapacities) -> Positions:
        """Each proposal's offer, demand and licence as positions in `net`'s listings and
        licences (-1 where it is no longer among them, or a proposal has no licence)."""
        if self._positions is not None and self._positions[0] is net:
            return self._positions[1]
        n = len(self._match_ids)
        positions = (
            np.fromiter(map(net.offer_positions.get, self._offer_ids, repeat(-1)), np.int64, n),
            self._demands.positions(net.demand_positions),
            self._licences.positions(net.licence_positions),
        )
        self._positions = (net, positions)
        return positions


def plan_reoptimisation(
    provisional: ProposalIndex | Iterable[ProvisionalMatch],
    allocation: AllocationResult,
    *,
    outdated: Collection[str] = (),
) -> ReoptimisationPlan:
    """Keep each stored proposal a new route repeats (same offer, demand, licence and weight;
    of several equal ones, the lowest match id), supersede the rest, propose the other
    routes. (A proposal kept under another licence would count its tonnes, once accepted,
    against a licence the allocation did not use.)

    The proposals `outdated` (match ids: their offer or demand was amended and no longer
    fits them, `listing_terms`) are superseded even where a route repeats them: a route
    says nothing of the shipping window, which the new proposal takes afresh."""
    index = provisional if isinstance(provisional, ProposalIndex) else ProposalIndex.of(provisional)
    routes = allocation.table
    stored_offer, stored_demand, stored_licence = index.positions_in(allocation.net)
    if outdated:
        # As if their offer were gone: they share their key with no route. A copy, as the
        # index keeps its positions for the round's second question.
        stored_offer = stored_offer.copy()
        stored_offer[index.positions_of(outdated)] = -1
    n_stored, n_routes = len(stored_offer), len(routes)
    if n_stored + n_routes == 0:
        return ReoptimisationPlan((), (), ())
    # Stored proposals first, then routes; sorted by (offer, demand, licence, kilograms),
    # stably, so within one key the stored ones come first, in match id order, then the
    # routes in order.
    columns = [
        np.concatenate([stored, routed])
        for stored, routed in (
            (stored_offer, routes.offer),
            (stored_demand, routes.demand),
            (stored_licence, routes.licence),
            (index.kilograms, routes.kilograms),
        )
    ]
    order = np.lexsort(columns[::-1])
    changes = np.zeros(len(order) - 1, dtype=bool)
    for column in columns:
        ordered = column[order]
        changes |= ordered[1:] != ordered[:-1]
    starts = np.flatnonzero(np.concatenate([[True], changes]))
    is_stored = order < n_stored
    sizes = np.diff(np.append(starts, len(order)))
    stored_per_key = np.add.reduceat(is_stored.astype(np.int64), starts)
    group_start = np.repeat(starts, sizes)
    stored_here = np.repeat(stored_per_key, sizes)
    routes_here = np.repeat(sizes - stored_per_key, sizes)
    rank = np.arange(len(order)) - group_start - np.where(is_stored, 0, stored_here)
    # The k-th stored proposal of a key pairs with the k-th route of it. A proposal of an
    # offer, demand or licence no longer allocated (-1) shares its key with no route.
    paired = rank < np.where(is_stored, routes_here, stored_here)
    # Aligned: the j-th paired proposal (in sorted order) pairs with the j-th paired route.
    paired_stored = order[paired & is_stored]
    paired_routes = order[paired & ~is_stored] - n_stored
    stored_kept = np.zeros(n_stored, dtype=bool)
    stored_kept[paired_stored] = True
    route_kept = np.zeros(n_routes, dtype=bool)
    route_kept[paired_routes] = True
    match_ids = index.match_ids
    return ReoptimisationPlan(
        kept=tuple(map(match_ids.__getitem__, paired_stored[np.argsort(paired_routes)].tolist())),
        supersede=tuple(map(index.get, compress(match_ids, (~stored_kept).tolist()))),
        propose=tuple(map(allocation.route, np.flatnonzero(~route_kept).tolist())),
    )


@dataclass(frozen=True, slots=True)
class _Coded:
    """A column of ids with few distinct values (a proposal's demand, its licence) as codes
    into a vocabulary: a round finds each id's position in its listings by looking up the
    hundred or so ids once, not once for each of 20,000 proposals.

    The vocabulary only grows, and is shared by the indexes derived from one another: a code
    an older index holds keeps its meaning."""

    vocabulary: list[str]
    code_of: dict[str, int]
    codes: NDArray[np.int64]

    @classmethod
    def empty(cls) -> _Coded:
        return cls([], {}, np.zeros(0, dtype=np.int64))

    def ids(self) -> list[str]:
        return list(map(self.vocabulary.__getitem__, self.codes.tolist()))

    def positions(self, positions: dict[str, int]) -> NDArray[np.int64]:
        """Each row's position by `positions` (-1 where it has none)."""
        by_code = np.fromiter(
            map(positions.get, self.vocabulary, repeat(-1)), np.int64, len(self.vocabulary)
        )
        return by_code[self.codes]

    def without(self, at: list[int]) -> _Coded:
        return _Coded(self.vocabulary, self.code_of, np.delete(self.codes, at))

    def inserted(self, at: list[int], ids: list[str]) -> _Coded:
        for ident in ids:
            if ident not in self.code_of:
                self.code_of[ident] = len(self.vocabulary)
                self.vocabulary.append(ident)
        codes = np.insert(self.codes, at, [self.code_of[ident] for ident in ids])
        return _Coded(self.vocabulary, self.code_of, codes)


def _without(column: list[str], at: list[int]) -> list[str]:
    """`column` less the items at positions `at` (ascending), as `np.delete` does."""
    out: list[str] = []
    last = 0
    for position in at:
        out += column[last:position]
        last = position + 1
    out += column[last:]
    return out


def _inserted(column: list[str], at: list[int], values: list[str]) -> list[str]:
    """`column` with each of `values` inserted before position `at[i]` (ascending), as
    `np.insert` does: slices copied whole, not element by element."""
    out: list[str] = []
    last = 0
    for position, value in zip(at, values, strict=True):
        out += column[last:position]
        out.append(value)
        last = position
    out += column[last:]
    return out
