"""Optimal flows of a `FlowNetwork`: LEMON's network simplex, through pylmcf (decision 008).

One call on every arc. On the bench's 20,000 × 3,000 city (3.9 M arcs) it takes ~2 s, where
OR-Tools' cost scaling took ~6 s for one solve, and 3.6–4.5 s solving each offer's nearest
edges first and pricing the rest in. With network simplex that pricing (commit `8520ffc`,
in git history) is no longer quicker than one solve on all arcs, so it is gone.

The solver's own checks (non-negative costs, int64 range) hold by construction: unit costs
are rounded metres × a positive factor or the penalty, and `optimiser.flow_network`
refuses networks whose total cost could overflow.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from pylmcf import pylmcf_cpp

from wastex_matching.domain import errors
from wastex_matching.domain.network import FlowNetwork
from wastex_shared.errors import DomainError

IntArray = NDArray[np.int64]


def optimal_flows(network: FlowNetwork, capacities: IntArray) -> IntArray:
    """A min-cost flow of `network` under `capacities` (one per arc): flow per arc, in kg."""
    try:
        flows = pylmcf_cpp.lmcf(
            _int64(network.supplies),
            _int64(network.tails),
            _int64(network.heads),
            _int64(capacities),
            _int64(network.unit_costs),
        )
    except RuntimeError as error:  # INFEASIBLE: every offer's penalty arc rules it out
        message = f"min-cost flow found no optimum: {error}"
        raise DomainError(errors.SOLVER_FAILED, message) from error
    return np.asarray(flows, dtype=np.int64)


def _int64(values: IntArray) -> IntArray:
    """The solver takes contiguous int64 arrays only (it converts nothing)."""
    return np.ascontiguousarray(values, dtype=np.int64)
