"""Re-optimisation announces only what changed: keep, supersede, propose."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from wastex_matching.domain import (
    ProposalIndex,
    ProvisionalMatch,
    ReoptimisationPlan,
    Route,
    allocate,
    plan_reoptimisation,
)

TODAY = date(2026, 12, 1)
JIANGXIA = (30.380, 114.320)


def stored(match_id: str, offer: str, demand: str, amount: str) -> ProvisionalMatch:
    return ProvisionalMatch(
        match_id=match_id, offer_id=offer, demand_id=demand, tonnes=Decimal(amount)
    )


def far_and_near(make: Any) -> tuple[Any, Any, list[Any]]:
    """A recycler in Jiangxia and a nearer one, each licensed for the offers' code."""
    far = make.demand("far", enterprise="r-far", at=JIANGXIA)
    near = make.demand("near", enterprise="r-near")
    licences = [
        make.licence("l-far", enterprise="r-far"),
        make.licence("l-near", enterprise="r-near"),
    ]
    return far, near, licences


def test_an_unchanged_route_is_kept_not_re_announced(make: Any) -> None:
    proposed = allocate([make.offer()], [make.demand()], [make.licence()], today=TODAY).matches
    plan = plan_reoptimisation([stored("m1", "offer-1", "demand-1", "100")], proposed)
    assert [(kept.match_id, new.demand_id) for kept, new in plan.keep] == [("m1", "demand-1")]
    assert plan.supersede == ()
    assert plan.propose == ()


def test_a_changed_tonnage_supersedes_the_old_proposal_and_proposes_the_new(make: Any) -> None:
    proposed = allocate(
        [make.offer(amount=80)], [make.demand()], [make.licence()], today=TODAY
    ).matches
    plan = plan_reoptimisation([stored("m1", "offer-1", "demand-1", "100")], proposed)
    assert [m.match_id for m in plan.supersede] == ["m1"]
    assert [(m.demand_id, m.tonnes) for m in plan.propose] == [("demand-1", Decimal("80.000"))]


def test_a_nearer_recycler_arriving_moves_the_proposal(make: Any) -> None:
    far, near, licences = far_and_near(make)
    before = allocate([make.offer()], [far], licences, today=TODAY).matches
    assert [m.demand_id for m in before] == ["far"]
    after = allocate([make.offer()], [far, near], licences, today=TODAY).matches
    plan = plan_reoptimisation([stored("m1", "offer-1", "far", "100")], after)
    assert [m.match_id for m in plan.supersede] == ["m1"]
    assert [m.demand_id for m in plan.propose] == ["near"]


def test_proposals_of_a_withdrawn_offer_are_superseded() -> None:
    plan: ReoptimisationPlan[Route] = plan_reoptimisation(
        [stored("m1", "gone", "demand-1", "5"), stored("m2", "gone", "d2", "7")], []
    )
    assert [m.match_id for m in plan.supersede] == ["m1", "m2"]


def test_duplicate_stored_routes_keep_one_and_supersede_the_other(make: Any) -> None:
    proposed = allocate([make.offer()], [make.demand()], [make.licence()], today=TODAY).matches
    plan = plan_reoptimisation(
        [stored("m2", "offer-1", "demand-1", "100"), stored("m1", "offer-1", "demand-1", "100")],
        proposed,
    )
    assert [kept.match_id for kept, _ in plan.keep] == ["m1"]
    assert [m.match_id for m in plan.supersede] == ["m2"]


def test_routes_plan_as_their_explained_matches_do(make: Any) -> None:
    """The service plans on the compact routes and explains only the ones it proposes."""
    far, near, licences = far_and_near(make)
    offers = [make.offer(), make.offer("offer-2", amount=40)]
    result = allocate(offers, [far, near], licences, today=TODAY)
    stored_now = [stored("m1", "offer-1", "far", "100"), stored("m2", "offer-2", "near", "40")]
    by_route = plan_reoptimisation(stored_now, result.routes)
    by_match = plan_reoptimisation(stored_now, result.matches)
    assert by_route.supersede == by_match.supersede
    assert by_route.propose  # far was stored; near is nearer
    assert [k for k, _ in by_route.keep] == [k for k, _ in by_match.keep]
    assert list(map(result.explain, by_route.propose)) == list(by_match.propose)


def test_an_index_changed_by_a_round_equals_one_built_afresh() -> None:
    a, b = stored("m1", "offer-1", "demand-1", "5"), stored("m3", "offer-1", "demand-1", "5")
    c, d = stored("m2", "offer-2", "demand-1", "7"), stored("m0", "offer-1", "demand-1", "5")
    before = ProposalIndex.of([b, a, c])
    after = before.changed(removed=["m2", "m3"], added=[d])
    fresh = ProposalIndex.of([a, d])
    same_pair, other_pair = ("offer-1", "demand-1"), ("offer-2", "demand-1")
    assert list(after.by_pair()[same_pair]) == [d, a] == list(fresh.by_pair()[same_pair])
    assert after.by_pair().get(other_pair, ()) == () == fresh.by_pair().get(other_pair, ())
    assert sorted(m.match_id for m in after) == ["m0", "m1"]
    assert list(before.by_pair()[same_pair]) == [a, b]  # the old index is unchanged
    assert len(before) == 3
