"""Candidate edges for the optimiser: every feasible (offer, demand, licence), vectorised.

The same rules as `feasibility.assess_pair`, applied to arrays so a city of 20,000 offers
and 3,000 demands never becomes 60 million Python objects:

- offers are grouped by waste code; each group meets only the *rows* that could take that
  code: (demand, licence) pairs where the demand asks for the code and the licence belongs
  to the demand's enterprise, may carry the code and has tonnage left (decided once per
  enterprise and code, in Python, on a few thousand items), each with the last day the
  licence and those continuing it cover the code (`model.covered_until`);
- offers and rows are sorted by latitude; a chunk of offers meets only the rows within the
  largest radius north or south of it (a latitude band: great-circle distance is never
  less than the north–south part of it), so most far pairs are never formed;
- inside a chunk, numpy broadcasting checks enterprises, windows and licence validity on
  whole matrices (the licence from the transfer window's first day, with its successors
  to the last), then haversine runs only on the pairs still standing.

An edge is one (offer, demand, licence): a pair two licences could serve yields two edges,
and the optimiser picks the licence.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence, Set
from dataclasses import dataclass
from datetime import date
from typing import Final

import numpy as np
from numpy.typing import NDArray

from wastex_matching.domain.capacity import NetCapacities
from wastex_matching.domain.geo import (
    EARTH_RADIUS_KM,
    cos_latitudes,
    radius_metres,
    road_metres_arrays,
)
from wastex_matching.domain.model import DemandSlot, LicenceView, OfferSlot, covered_until

#: Metres of great-circle distance per degree of latitude.
METRES_PER_DEGREE_LAT: Final = EARTH_RADIUS_KM * 1000.0 * math.pi / 180.0
#: Offers × rows formed at once (bounds memory to a few tens of MB per chunk).
DEFAULT_CHUNK_PAIRS: Final = 1 << 20

IntArray = NDArray[np.int64]
#: Day ordinals and enterprise numbers: int32 halves the memory the chunk matrices stream.
SmallIntArray = NDArray[np.int32]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class CandidateEdges:
    """Parallel arrays, one entry per feasible (offer, demand, licence); indices into the
    sequences given to `build_candidate_edges`, distance in road metres.

    `may_repeat_pairs` is False when no (offer, demand) pair appears twice (no demand had
    two licences able to carry one code), which lets the network skip a de-duplication.
    """

    offer: IntArray
    demand: IntArray
    licence: IntArray
    metres: IntArray
    may_repeat_pairs: bool = True

    def __len__(self) -> int:
        return int(self.offer.shape[0])

    def joining(self, offer: IntArray, demand: IntArray) -> IntArray:
        """Indices, ascending, of the edges joining some (offer[i], demand[i]) (positions;
        a pair with a -1 joins none).

        One pass over the edges per rank of a pair within its offer (an offer has a pair or
        two, rarely more): a look-up in an array of offers, which stays in cache, where a
        sort or a binary search of millions of edge keys would not."""
        valid = (offer >= 0) & (demand >= 0)
        n_o = int(max(self.offer.max(initial=-1), offer.max(initial=-1))) + 1
        n_d = int(max(self.demand.max(initial=-1), demand.max(initial=-1))) + 1
        pairs = np.unique(offer[valid] * n_d + demand[valid])
        pair_offer, pair_demand = pairs // n_d, pairs % n_d
        first = np.flatnonzero(np.r_[True, pair_offer[1:] != pair_offer[:-1]])
        rank = np.arange(len(pairs)) - np.repeat(first, np.diff(np.r_[first, len(pairs)]))
        hit = np.zeros(len(self), dtype=bool)
        for r in range(int(rank.max(initial=-1)) + 1):
            wanted = np.full(n_o, -1, dtype=np.int64)
            wanted[pair_offer[rank == r]] = pair_demand[rank == r]
            hit |= wanted[self.offer] == self.demand
        joining: IntArray = np.flatnonzero(hit)
        return joining

    @classmethod
    def empty(cls) -> CandidateEdges:
        none = np.zeros(0, dtype=np.int64)
        return cls(none, none.copy(), none.copy(), none.copy(), False)


def without_pairs(
    edges: CandidateEdges, net: NetCapacities, pairs: Set[tuple[str, str]]
) -> CandidateEdges:
    """`edges` (of `net`'s listings) less those joining an (offer id, demand id) of `pairs`
    (a party rejected it: the pair is never proposed again, so it takes no part in the
    allocation either)."""
    if not pairs or not len(edges):
        return edges
    offer_at, demand_at = net.offer_positions, net.demand_positions
    offer = np.array([offer_at.get(o, -1) for o, _ in pairs], dtype=np.int64)
    demand = np.array([demand_at.get(d, -1) for _, d in pairs], dtype=np.int64)
    keep = np.ones(len(edges), dtype=bool)
    keep[edges.joining(offer, demand)] = False
    return CandidateEdges(
        edges.offer[keep],
        edges.demand[keep],
        edges.licence[keep],
        edges.metres[keep],
        edges.may_repeat_pairs,
    )


def build_candidate_edges(
    offers: Sequence[OfferSlot],
    demands: Sequence[DemandSlot],
    licences: Sequence[LicenceView],
    *,
    today: date,
    road_factor: float = 1.0,
    chunk_pairs: int = DEFAULT_CHUNK_PAIRS,
) -> CandidateEdges:
    """All feasible edges. Capacities are taken as given (apply fixed matches first)."""
    today_ord = today.toordinal()
    enterprises = {o.enterprise_id for o in offers} | {d.enterprise_id for d in demands}
    enterprise_index = {ident: k for k, ident in enumerate(sorted(enterprises))}

    o_lat = np.array([o.point.lat for o in offers], dtype=np.float64)
    o_lon = np.array([o.point.lon for o in offers], dtype=np.float64)
    o_cos = cos_latitudes(o_lat)
    o_start = np.array([o.window.start.toordinal() for o in offers], dtype=np.int32)
    o_end = np.array([o.window.end.toordinal() for o in offers], dtype=np.int32)
    o_ent = np.array([enterprise_index[o.enterprise_id] for o in offers], dtype=np.int32)
    offers_by_code: dict[str, list[int]] = defaultdict(list)
    for i, offer in enumerate(offers):
        if offer.remaining_tonnes > 0 and offer.window.end >= today:
            offers_by_code[offer.waste_code].append(i)

    demand_table = _DemandTable.of(demands, enterprise_index)
    licence_from = np.array([lic.valid_from.toordinal() for lic in licences], dtype=np.int32)
    licence_until = np.array([lic.valid_until.toordinal() for lic in licences], dtype=np.int32)
    rows_by_code, repeats = _rows_by_code(demands, licences, set(offers_by_code), today)

    parts: list[tuple[IntArray, IntArray, IntArray, IntArray]] = []
    for code in sorted(rows_by_code):
        demand_idx, licence_idx, covered = rows_by_code[code]
        rows = demand_table.rows(demand_idx, licence_idx, covered, licence_from, licence_until)
        group = np.array(offers_by_code[code], dtype=np.int64)
        group = group[np.argsort(o_lat[group], kind="stable")]
        metres_per_degree = METRES_PER_DEGREE_LAT * road_factor
        band_degrees = float(rows.radius.max() + 1) / metres_per_degree
        chunk = max(1, chunk_pairs // len(rows.demand))
        for first in range(0, len(group), chunk):
            members = group[first : first + chunk]
            lo = int(np.searchsorted(rows.lat, o_lat[members[0]] - band_degrees, "left"))
            hi = int(np.searchsorted(rows.lat, o_lat[members[-1]] + band_degrees, "right"))
            if lo >= hi:
                continue
            band = slice(lo, hi)
            lat = o_lat[members][:, None]
            ts = np.maximum(
                np.maximum(o_start[members][:, None], rows.start[None, band]), today_ord
            )
            te = np.minimum(o_end[members][:, None], rows.end[None, band])
            ok = (
                (ts <= te)
                & (rows.valid_from[None, band] <= ts)
                & (te <= rows.covered_until[None, band])
                & (o_ent[members][:, None] != rows.enterprise[None, band])
                & (
                    np.abs(lat - rows.lat[None, band]) * metres_per_degree
                    <= rows.radius[None, band] + 1
                )
            )
            oi, ri = np.nonzero(ok)
            if oi.size == 0:
                continue
            ri = ri + lo
            offer_idx = members[oi]
            if rows.chained:
                # A licence its successors continue reaches the last day, but the pair is
                # its only if it holds on the first (else a successor's row has it). One
                # no other continues holds on the first when it reaches the last.
                ts_kept = np.maximum(np.maximum(o_start[offer_idx], rows.start[ri]), today_ord)
                held = ts_kept <= rows.valid_until[ri]
                offer_idx, ri = offer_idx[held], ri[held]
            metres = road_metres_arrays(
                o_lat[offer_idx],
                o_lon[offer_idx],
                rows.lat[ri],
                rows.lon[ri],
                road_factor,
                cos_lat1=o_cos[offer_idx],
                cos_lat2=rows.cos_lat[ri],
            )
            near = metres <= rows.radius[ri]
            parts.append(
                (offer_idx[near], rows.demand[ri[near]], rows.licence[ri[near]], metres[near])
            )
    if not parts:
        return CandidateEdges.empty()
    edge_offer = np.concatenate([p[0] for p in parts])
    edge_demand = np.concatenate([p[1] for p in parts])
    return CandidateEdges(
        offer=edge_offer,
        demand=edge_demand,
        licence=np.concatenate([p[2] for p in parts]),
        metres=np.concatenate([p[3] for p in parts]),
        # Two licences listing a code need not both hold over one pair's days (a licence
        # and its successor, each valid on the first day of other pairs): only pairs that
        # do repeat count.
        may_repeat_pairs=repeats and _pairs_repeat(edge_offer, edge_demand, len(demands)),
    )


def _pairs_repeat(offer: IntArray, demand: IntArray, n_demands: int) -> bool:
    """Whether some (offer, demand) pair has two edges."""
    keys = np.sort(offer.astype(np.int64) * n_demands + demand)  # int32 would wrap
    return bool((keys[1:] == keys[:-1]).any())


@dataclass(frozen=True, slots=True)
class _Rows:
    """(demand, licence) rows able to take one code, sorted by latitude."""

    demand: IntArray
    licence: IntArray
    lat: FloatArray
    lon: FloatArray
    cos_lat: FloatArray
    radius: IntArray
    start: SmallIntArray
    end: SmallIntArray
    valid_from: SmallIntArray
    valid_until: SmallIntArray
    #: The last day the licence and the licences continuing it cover, for this code.
    covered_until: SmallIntArray
    enterprise: SmallIntArray
    #: Whether some row's licence is continued past its own end.
    chained: bool


@dataclass(frozen=True, slots=True)
class _DemandTable:
    lat: FloatArray
    lon: FloatArray
    cos_lat: FloatArray
    radius: IntArray
    start: SmallIntArray
    end: SmallIntArray
    enterprise: SmallIntArray

    @classmethod
    def of(cls, demands: Sequence[DemandSlot], enterprise_index: dict[str, int]) -> _DemandTable:
        lat = np.array([d.point.lat for d in demands], dtype=np.float64)
        return cls(
            lat=lat,
            lon=np.array([d.point.lon for d in demands], dtype=np.float64),
            cos_lat=cos_latitudes(lat),
            radius=np.array([radius_metres(d.max_distance_km) for d in demands], dtype=np.int64),
            start=np.array([d.window.start.toordinal() for d in demands], dtype=np.int32),
            end=np.array([d.window.end.toordinal() for d in demands], dtype=np.int32),
            enterprise=np.array([enterprise_index[d.enterprise_id] for d in demands], np.int32),
        )

    def rows(
        self,
        demand_idx: list[int],
        licence_idx: list[int],
        covered: list[int],
        licence_from: SmallIntArray,
        licence_until: SmallIntArray,
    ) -> _Rows:
        d = np.array(demand_idx, dtype=np.int64)
        lic = np.array(licence_idx, dtype=np.int64)
        order = np.argsort(self.lat[d], kind="stable")
        d, lic = d[order], lic[order]
        covered_until = np.array(covered, dtype=np.int32)[order]
        valid_until = licence_until[lic]
        return _Rows(
            demand=d,
            licence=lic,
            lat=self.lat[d],
            lon=self.lon[d],
            cos_lat=self.cos_lat[d],
            radius=self.radius[d],
            start=self.start[d],
            end=self.end[d],
            valid_from=licence_from[lic],
            valid_until=valid_until,
            covered_until=covered_until,
            enterprise=self.enterprise[d],
            chained=bool((covered_until > valid_until).any()),
        )


def _rows_by_code(
    demands: Sequence[DemandSlot],
    licences: Sequence[LicenceView],
    offered: set[str],
    today: date,
) -> tuple[dict[str, tuple[list[int], list[int], list[int]]], bool]:
    """Per code: the (demand, licence) rows that could take it, each with the day ordinal to
    which the licence and those continuing it cover the code; and whether any demand has
    two licences for one code (so an (offer, demand) pair may repeat)."""
    held: dict[str, list[int]] = defaultdict(list)  # all, full ones too: links of a chain
    for j, lic in enumerate(licences):
        held[lic.enterprise_id].append(j)
    room = [lic.remaining_tonnes > 0 for lic in licences]
    # Once per enterprise and code (its sites' demands share its licences), not per row.
    able_of: dict[tuple[str, str], tuple[list[int], list[int]]] = {}
    rows: dict[str, tuple[list[int], list[int], list[int]]] = {}
    repeats = False
    for i, demand in enumerate(demands):
        if demand.remaining_tonnes <= 0 or demand.window.end < today:
            continue
        enterprise = demand.enterprise_id
        if enterprise not in held:
            continue
        for code in demand.waste_codes & offered:
            able = able_of.get((enterprise, code))
            if able is None:
                able = able_of[enterprise, code] = _able(held[enterprise], code, licences, room)
            index, covered = able
            if not index:
                continue
            repeats = repeats or len(index) > 1
            demand_idx, licence_idx, until = rows.setdefault(code, ([], [], []))
            demand_idx.extend([i] * len(index))
            licence_idx.extend(index)
            until.extend(covered)
    return rows, repeats


def _able(
    held: list[int], code: str, licences: Sequence[LicenceView], room: list[bool]
) -> tuple[list[int], list[int]]:
    """Of one enterprise's licences (`held`), those with tonnage left that may carry `code`,
    and the day ordinal to which each and those continuing it cover the code."""
    may = [j for j in held if licences[j].may_take(code)]
    index = [j for j in may if room[j]]
    if len(may) == 1:  # nothing to continue it (most recyclers)
        return index, [licences[j].valid_until.toordinal() for j in index]
    links = [licences[j] for j in may]
    return index, [covered_until(licences[j], code, links).toordinal() for j in index]
