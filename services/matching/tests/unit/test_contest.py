"""The contested part of a grown market re-solved with the rest held (`contest.py`), on
hand-made trees; `test_growth.py` holds it to full rounds on random markets."""

from __future__ import annotations

import numpy as np
import pytest

from wastex_matching.domain import contest
from wastex_matching.domain.contest import OfferArcs, Tree, resolved
from wastex_matching.domain.flows import Ways


def ints(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def tree_of(parent: np.ndarray, capacity: np.ndarray, load: np.ndarray, price: np.ndarray) -> Tree:
    ways = Ways.of(parent)
    assert ways is not None
    return Tree.over(ways, capacity, load, price)


def test_a_tree_sums_prices_and_loads_along_the_ways_to_the_sink() -> None:
    # pair 0 → demand 1 → licence group 2 → sink (4); demand 3 → sink.
    tree = tree_of(
        parent=ints(1, 2, 4, 4),
        capacity=ints(50, 80, 100, 30),
        load=ints(0, 0, 0, 0),
        price=ints(5, 0, 7, 2),
    )
    assert tree.sink == 4
    assert tree.to_sink().tolist() == [12, 7, 7, 2, 0]
    assert tree.loads(ints(0, 1, 3, 4), ints(10, 20, 30, 40)).tolist() == [10, 30, 30, 30]
    # Ways that leave demand 1: its own and the pair's below it, not the group's.
    flagged = np.array([False, True, False, False])
    assert tree.crossing(flagged).tolist() == [True, True, False, False, False]
    assert tree.on_ways_from(ints(0)).tolist() == [True, True, True, False, True]


def test_parents_that_loop_are_not_a_tree() -> None:
    assert Ways.of(ints(1, 0)) is None


def held_offer_that_would_move() -> tuple[OfferArcs, np.ndarray, Tree, np.ndarray]:
    """Demands A, B, C (nodes 0-2, 100 kg each; sink 3). Offer 0 (100 kg) holds A; the
    newcomer, offer 1 (100 kg), wants A too: both are contested. Offer 2 (60 kg) is held on
    B, at 10 a kg, with C at 20 to spare. Re-solving 0 and 1 over what 2 leaves fills B at
    a price (offer 0's 40 kg there against its penalty) that makes C cheaper for offer 2:
    it must join, and all three go A ← 1, B ← 0, C ← 2."""
    a, b, c, sink = 0, 1, 2, 3
    arcs = OfferArcs(
        offer=ints(0, 0, 0, 1, 1, 1, 2, 2, 2),
        head=ints(a, b, sink, a, b, sink, b, c, sink),
        cost=ints(10, 30, 1_000, 10, 50, 1_000, 10, 20, 1_000),
        capacity=ints(100, 100, 100, 100, 100, 100, 60, 60, 60),
        flow=ints(100, 0, 0, 0, 0, 100, 60, 0, 0),
    )
    tree = tree_of(ints(sink, sink, sink), ints(100, 100, 100), ints(100, 60, 0), ints(0, 0, 0))
    return arcs, ints(100, 100, 60), tree, np.array([True, True, False])


def test_a_held_offer_the_new_prices_would_move_joins_the_contest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(contest, "MAX_CONTESTED_SHARE", 1.0)  # all three will be
    answer = resolved(*held_offer_that_would_move())
    assert answer is not None
    flows, tree = answer
    assert flows.tolist() == [0, 100, 0, 100, 0, 0, 0, 60, 0]
    assert tree.load.tolist() == [100, 100, 60]
    # One pass would have left offer 2 on B, 60 kg of offer 0 unmatched: refused instead.
    monkeypatch.setattr(contest, "MAX_PASSES", 1)
    assert resolved(*held_offer_that_would_move()) is None
