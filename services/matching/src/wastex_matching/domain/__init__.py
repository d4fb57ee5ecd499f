"""The matching domain: pure rules, entities and the optimiser (no I/O, no frameworks).

Entry points for the service layer:

- `allocate(offers, demands, licences, *, today, fixed=(), params=None, standing=None)`:
  min-cost-flow allocation of everything not held by fixed (accepted/confirmed) matches,
  keeping standing proposals unless moving them saves more than a margin;
- `plan_reoptimisation(provisional, allocation)`: what to keep, supersede and propose;
- `assess_pair` / `candidate_reason`: the feasibility rules for one pair, with a reason;
- `explain_offer`: every demand's verdict for one offer, given an allocation;
- `listing_change`: how an amended offer or demand no longer fits a match made before;
- `lifecycle`: the Match state machine (`accept`, `reject`, `expire`, `supersede`, `cancel`).
"""

from wastex_matching.domain import errors, reasons
from wastex_matching.domain.baselines import greedy_nearest_first, greedy_shortest_edge_first
from wastex_matching.domain.candidates import CandidateEdges, build_candidate_edges
from wastex_matching.domain.capacity import NetCapacities, apply_fixed
from wastex_matching.domain.explain import CandidateExplanation, Explainer, explain_offer
from wastex_matching.domain.feasibility import PairAssessment, assess_pair, candidate_reason
from wastex_matching.domain.geo import haversine_km, road_metres
from wastex_matching.domain.lifecycle import (
    MatchStatus,
    Party,
    accept,
    cancel,
    expire,
    is_fixed,
    is_provisional,
    is_terminal,
    reject,
    supersede,
)
from wastex_matching.domain.listing_terms import Hold, MatchTerms, holds_past, listing_change
from wastex_matching.domain.model import (
    AllocationResult,
    DemandSlot,
    FixedMatch,
    LicenceType,
    LicenceView,
    OfferSlot,
    Point,
    ProposedMatch,
    Route,
    Window,
)
from wastex_matching.domain.optimiser import allocate
from wastex_matching.domain.params import MatchingParams
from wastex_matching.domain.reoptimise import (
    ProposalIndex,
    ProvisionalMatch,
    ReoptimisationPlan,
    plan_reoptimisation,
)

__all__ = [
    "AllocationResult",
    "CandidateEdges",
    "CandidateExplanation",
    "DemandSlot",
    "Explainer",
    "FixedMatch",
    "Hold",
    "LicenceType",
    "LicenceView",
    "MatchStatus",
    "MatchTerms",
    "MatchingParams",
    "NetCapacities",
    "OfferSlot",
    "PairAssessment",
    "Party",
    "Point",
    "ProposalIndex",
    "ProposedMatch",
    "ProvisionalMatch",
    "ReoptimisationPlan",
    "Route",
    "Window",
    "accept",
    "allocate",
    "apply_fixed",
    "assess_pair",
    "build_candidate_edges",
    "cancel",
    "candidate_reason",
    "errors",
    "expire",
    "explain_offer",
    "greedy_nearest_first",
    "greedy_shortest_edge_first",
    "haversine_km",
    "holds_past",
    "is_fixed",
    "is_provisional",
    "is_terminal",
    "listing_change",
    "plan_reoptimisation",
    "reasons",
    "reject",
    "road_metres",
    "supersede",
]
