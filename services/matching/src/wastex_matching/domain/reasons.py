"""Stable words that say why an offer–demand pair is (not) a match.

Two kinds share one vocabulary so a caller can show them side by side:

- *infeasibility reasons* (`candidate_reason` returns one, or None when the pair is
  feasible), checked in the order of `INFEASIBILITY_ORDER`: the first rule a pair breaks is
  the one reported;
- *outcomes* of a feasible pair after an allocation (`explain_offer`): chosen, or feasible
  but not chosen and why.

Like every error code these reach GraphQL and the event log: add freely, never rename.
"""

from __future__ import annotations

from typing import Final

# --- infeasibility reasons -------------------------------------------------------------
#: Offer and demand belong to the same enterprise: that is in-plant use, not an exchange.
SAME_ENTERPRISE: Final = "SAME_ENTERPRISE"
#: The demand does not ask for the offer's waste code.
CODE_NOT_DEMANDED: Final = "CODE_NOT_DEMANDED"
#: None of the recycler's licences lists the offer's waste code.
LICENCE_NOT_COVERING_CODE: Final = "LICENCE_NOT_COVERING_CODE"
#: The code is hazardous (HW) and only GENERAL_UTILISATION licences list it.
HAZARDOUS_NEEDS_OPERATING_LICENCE: Final = "HAZARDOUS_NEEDS_OPERATING_LICENCE"
#: The offer's and the demand's availability windows share no day.
WINDOW_NOT_OVERLAPPING: Final = "WINDOW_NOT_OVERLAPPING"
#: The windows overlap, but the overlap ended before today.
WINDOW_PASSED: Final = "WINDOW_PASSED"
#: Licences permit the code, but none valid on the transfer window's first day reaches its
#: last, alone or with those continuing it without a gap (a renewal: decision 031).
LICENCE_EXPIRED: Final = "LICENCE_EXPIRED"
#: The (road) distance is beyond the demand's `max_distance_km`.
OUT_OF_RADIUS: Final = "OUT_OF_RADIUS"
#: Nothing left: the offer, the demand or every usable licence has no remaining tonnage.
NO_CAPACITY: Final = "NO_CAPACITY"

INFEASIBILITY_ORDER: Final = (
    SAME_ENTERPRISE,
    CODE_NOT_DEMANDED,
    LICENCE_NOT_COVERING_CODE,
    HAZARDOUS_NEEDS_OPERATING_LICENCE,
    WINDOW_NOT_OVERLAPPING,
    WINDOW_PASSED,
    LICENCE_EXPIRED,
    OUT_OF_RADIUS,
    NO_CAPACITY,
)

# --- outcomes of feasible pairs --------------------------------------------------------
#: Feasible; no allocation was given to compare with.
FEASIBLE: Final = "FEASIBLE"
#: The allocation sends (part of) the offer to this demand.
CHOSEN: Final = "CHOSEN"
#: Feasible, but the demand's (or its licences') capacity went to offers that save more.
FEASIBLE_BUT_FULL: Final = "FEASIBLE_BUT_FULL"
#: Feasible and with room, but the offer went to cheaper (lower-CO2e) routes.
FEASIBLE_BUT_COSTLIER: Final = "FEASIBLE_BUT_COSTLIER"
