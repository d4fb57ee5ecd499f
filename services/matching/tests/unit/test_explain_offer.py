"""Why an offer went where it went, and why each other demand did not get it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wastex_matching.domain import (
    LicenceType,
    MatchingParams,
    allocate,
    explain,
    explain_offer,
    reasons,
)
from wastex_matching.domain.explain import Explainer, Verdicts
from wastex_matching.domain.feasibility import assess_pair
from wastex_shared.errors import DomainError

from .conftest import City, cities

TODAY = date(2026, 12, 1)
JIANGXIA = (30.380, 114.320)
HANNAN = (30.320, 114.080)


@pytest.fixture
def market(make: Any) -> tuple[list[Any], list[Any], list[Any]]:
    offers = [
        make.offer("slag", amount=100),
        make.offer("rival", enterprise="factory-2", amount=100, at=(30.72, 114.57)),
    ]
    demands = [
        make.demand("chosen", enterprise="r-1", amount=100),  # Yangluo, ~16 km
        make.demand("costlier", enterprise="r-2", amount=500, at=JIANGXIA),  # ~30 km
        make.demand("full", enterprise="r-3", amount=100, at=(30.71, 114.58)),  # rival's doorstep
        make.demand("no-code", enterprise="r-4", codes=("SW02",)),
        make.demand("no-licence", enterprise="r-5"),
        make.demand("hazardous-only", enterprise="r-6", codes=("SW01",)),
        make.demand("expired", enterprise="r-7"),
        make.demand("too-far", enterprise="r-8", at=HANNAN, radius_km=20),
        make.demand("later", enterprise="r-9", window=make.window(200, 30)),
        make.demand("own", enterprise="factory-1"),
    ]
    licences = [
        make.licence("l1", enterprise="r-1"),
        make.licence("l2", enterprise="r-2"),
        make.licence("l3", enterprise="r-3"),
        make.licence("l4", enterprise="r-4", codes=("SW02",)),
        make.licence(
            "l6", enterprise="r-6", codes=("HW08",), kind=LicenceType.HAZARDOUS_WASTE_OPERATING
        ),
        make.licence("l7", enterprise="r-7", valid_until=TODAY + timedelta(days=20)),
        make.licence("l8", enterprise="r-8"),
        make.licence("l9", enterprise="r-9"),
        make.licence("l10", enterprise="factory-1"),
    ]
    return offers, demands, licences


def test_each_demand_is_explained_with_its_reason(market: Any) -> None:
    offers, demands, licences = market
    result = allocate(offers, demands, licences, today=TODAY)
    lines = explain_offer("slag", offers, demands, licences, today=TODAY, allocation=result)
    outcome = {line.demand_id: line.outcome for line in lines}
    assert outcome == {
        "chosen": reasons.CHOSEN,
        "costlier": reasons.FEASIBLE_BUT_COSTLIER,
        "full": reasons.FEASIBLE_BUT_FULL,
        "no-code": reasons.CODE_NOT_DEMANDED,
        "no-licence": reasons.LICENCE_NOT_COVERING_CODE,
        "hazardous-only": reasons.LICENCE_NOT_COVERING_CODE,
        "expired": reasons.LICENCE_EXPIRED,
        "too-far": reasons.OUT_OF_RADIUS,
        "later": reasons.WINDOW_NOT_OVERLAPPING,
        "own": reasons.SAME_ENTERPRISE,
    }


def test_chosen_comes_first_then_feasible_by_distance_then_the_rest(market: Any) -> None:
    offers, demands, licences = market
    result = allocate(offers, demands, licences, today=TODAY)
    lines = explain_offer("slag", offers, demands, licences, today=TODAY, allocation=result)
    assert [line.outcome for line in lines[:3]] == [
        reasons.CHOSEN,
        reasons.FEASIBLE_BUT_FULL,
        reasons.FEASIBLE_BUT_COSTLIER,
    ]
    assert lines[0].tonnes == Decimal("100.000")
    assert all(not line.feasible for line in lines[3:])


def test_each_line_shows_distance_and_transport_co2e_per_tonne(market: Any) -> None:
    offers, demands, licences = market
    lines = explain_offer("slag", offers, demands, licences, today=TODAY)
    costlier = next(line for line in lines if line.demand_id == "costlier")
    assert Decimal(29) < costlier.distance_km < Decimal(32)
    assert costlier.co2e_kg_per_tonne == (costlier.distance_km * Decimal("0.078")).quantize(
        Decimal("0.001")
    )
    assert "km" in costlier.message


def test_without_an_allocation_feasible_demands_are_just_feasible(market: Any) -> None:
    offers, demands, licences = market
    lines = explain_offer("slag", offers, demands, licences, today=TODAY)
    feasible = {line.demand_id for line in lines if line.outcome == reasons.FEASIBLE}
    assert feasible == {"chosen", "costlier", "full"}


def test_explaining_an_unknown_offer_is_not_found(market: Any) -> None:
    offers, demands, licences = market
    with pytest.raises(DomainError) as err:
        explain_offer("nope", offers, demands, licences, today=TODAY)
    assert err.value.code == "NOT_FOUND"


def test_a_proposal_lists_the_nearest_feasible_alternatives_first(market: Any) -> None:
    offers, demands, licences = market
    result = allocate(offers, demands, licences, today=TODAY)
    explainer = Explainer(result.net, today=TODAY, allocation=result)
    lines = explainer.alternatives("slag", 3)
    assert [(line.demand_id, line.outcome) for line in lines] == [
        ("full", reasons.FEASIBLE_BUT_FULL),
        ("costlier", reasons.FEASIBLE_BUT_COSTLIER),
        ("own", reasons.SAME_ENTERPRISE),
    ]
    # Neither the chosen demand nor one that does not take the code is an alternative.
    every = {line.demand_id for line in explainer.alternatives("slag", 20)}
    assert every == {d.demand_id for d in demands} - {"chosen", "no-code"}
    assert explainer.alternatives("slag", 0) == []


def test_lots_alike_share_their_alternatives_and_a_later_lot_gets_its_own(make: Any) -> None:
    # Three lots of one site and code; the third ships only from day 200, when "later"
    # (which wants day 200 on) overlaps it and the others' takers have closed.
    lots = [
        make.offer("lot-1", amount=100),
        make.offer("lot-2", amount=40),
        make.offer("lot-3", amount=40, window=make.window(200, 30)),
    ]
    demands = [
        make.demand("near", enterprise="r-1", amount=140),
        make.demand("far", enterprise="r-2", amount=500, at=(30.380, 114.320)),
        make.demand("later", enterprise="r-3", window=make.window(200, 30)),
    ]
    licences = [make.licence(f"l{n}", enterprise=f"r-{n}") for n in (1, 2, 3)]
    result = allocate(lots, demands, licences, today=TODAY)
    explainer = Explainer(result.net, today=TODAY, allocation=result)

    def seen(lot: str) -> list[tuple[str, str]]:
        return [(line.demand_id, line.outcome) for line in explainer.alternatives(lot, 5)]

    assert (
        seen("lot-1")
        == seen("lot-2")
        == [
            ("far", reasons.FEASIBLE_BUT_COSTLIER),
            ("later", reasons.WINDOW_NOT_OVERLAPPING),
        ]
    )
    assert seen("lot-3")[0] == ("near", reasons.WINDOW_NOT_OVERLAPPING)
    assert explainer.alternatives("lot-2", 5) == Explainer(
        result.net, today=TODAY, allocation=result
    ).alternatives("lot-2", 5)


def test_a_lot_posted_again_is_not_assessed_again_until_its_pairs_change(
    make: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    demands = [
        make.demand("near", enterprise="r-1", amount=100),
        make.demand("far", enterprise="r-2", amount=500, at=JIANGXIA),
    ]
    licences = [make.licence(f"l{n}", enterprise=f"r-{n}") for n in (1, 2)]
    verdicts = Verdicts()
    assessed: list[str] = []

    def counted(offer: Any, demand: Any, *args: Any, **kwargs: Any) -> Any:
        assessed.append(demand.demand_id)
        return assess_pair(offer, demand, *args, **kwargs)

    monkeypatch.setattr(explain, "assess_pair", counted)

    def round_of(lot: str, demands: list[Any]) -> list[tuple[str, str]]:
        offers = [make.offer(lot, amount=150)]
        result = allocate(offers, demands, licences, today=TODAY)
        explainer = Explainer(result.net, today=TODAY, allocation=result, verdicts=verdicts)
        return [(line.demand_id, line.outcome) for line in explainer.explain(lot)]

    first = round_of("lot-1", demands)
    assert sorted(assessed) == ["far", "near"]
    assessed.clear()
    # The factory posts the lot again: every pair's verdict is known.
    assert round_of("lot-2", demands) == first
    assert assessed == []
    # The near demand filled up meanwhile (an accepted match elsewhere): assessed afresh.
    filled = [make.demand("near", enterprise="r-1", amount=0), demands[1]]
    assert ("near", reasons.NO_CAPACITY) in round_of("lot-3", filled)
    assert assessed == ["near"]


KEPT = Verdicts(limit=5_000)


@settings(max_examples=150, deadline=None)
@given(spec=cities, limit=st.sampled_from([1, 2, 5, 40]), road=st.sampled_from([1.0, 1.35]))
def test_alternatives_are_the_head_of_the_full_explanation(
    city: Callable[..., City], spec: dict[str, Any], limit: int, road: float
) -> None:
    """Assessing only the nearest demands gives exactly what explaining every demand that
    takes the code gives, less those the offer went to: the lines, their order (ties too)
    and their texts."""
    c = city(with_fixed=True, **spec)
    params = MatchingParams(road_factor=road)
    result = allocate(c.offers, c.demands, c.licences, today=TODAY, fixed=c.fixed, params=params)
    for allocation in (result, None):
        explainer = Explainer(result.net, today=TODAY, params=params, allocation=allocation)
        # Verdicts kept across every city of the run: a key must tell all their pairs apart.
        alternatives = Explainer(
            result.net, today=TODAY, params=params, allocation=allocation, verdicts=KEPT
        ).alternatives
        for offer in result.net.offers:
            got_some = {
                r.demand_id for r in (allocation.routes_of(offer.offer_id) if allocation else [])
            }
            takers = {d.demand_id for d in result.net.demands if d.accepts(offer.waste_code)}
            everyone = [
                line
                for line in explainer.explain(offer.offer_id, takers)
                if line.demand_id not in got_some
            ]
            assert explainer.alternatives(offer.offer_id, limit) == everyone[:limit]
            assert alternatives(offer.offer_id, limit) == everyone[:limit]
