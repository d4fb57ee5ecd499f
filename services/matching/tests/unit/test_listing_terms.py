"""Whether a proposal still fits its offer and demand once their owners amended them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from wastex_matching.domain import (
    Hold,
    MatchTerms,
    Window,
    holds_past,
    listing_change,
    plan_reoptimisation,
)
from wastex_matching.domain.optimiser import allocate
from wastex_matching.domain.reoptimise import ProvisionalMatch

from .conftest import TODAY, tonnes


def terms(**changes: Any) -> MatchTerms:
    """80 t from offer-1 to demand-1 over the factory's default window, 20 km apart, in
    their districts."""
    values: dict[str, Any] = dict(
        offer_id="offer-1",
        demand_id="demand-1",
        tonnes=tonnes(80),
        window=Window(TODAY, TODAY + timedelta(days=120)),
        distance_km=Decimal("20.000"),
        districts=("青山区", "新洲区"),
    )
    return MatchTerms(**(values | changes))


def test_a_match_within_its_listings_terms_fits(make: Any) -> None:
    assert listing_change(terms(), make.offer(), make.demand(), TODAY) is None
    exactly = terms(tonnes=tonnes(100), distance_km=Decimal("50.000"))
    assert listing_change(exactly, make.offer(), make.demand(), TODAY) is None


@pytest.mark.parametrize("listing", ["offer", "demand"])
def test_a_listing_amended_below_the_matchs_tonnes_no_longer_fits_it(
    make: Any, listing: str
) -> None:
    offer = make.offer(amount=60 if listing == "offer" else 100)
    demand = make.demand(amount=60 if listing == "demand" else 100)

    change = listing_change(terms(), offer, demand, TODAY)

    assert change == (
        f"the {listing} {listing}-1 now has 60.000 t, less than the 80.000 t of this match"
    )


def test_tonnes_held_by_accepted_matches_are_not_this_matchs(make: Any) -> None:
    # 100 t, 30 held by a match one party accepted: 70 left for an 80 t proposal.
    held = (tonnes(30), tonnes(0))

    change = listing_change(terms(), make.offer(), make.demand(), TODAY, held=held)

    assert change == (
        "the offer offer-1 now has 100.000 t, 30.000 t of them held by accepted matches: "
        "not the 80.000 t of this match"
    )
    fits = (tonnes(20), tonnes(20))
    assert listing_change(terms(), make.offer(), make.demand(), TODAY, held=fits) is None


@pytest.mark.parametrize("listing", ["offer", "demand"])
def test_a_window_amended_off_the_shipping_window_no_longer_fits_it(
    make: Any, listing: str
) -> None:
    narrower = make.window(days=30)
    offer = make.offer(window=narrower if listing == "offer" else None)
    demand = make.demand(window=narrower if listing == "demand" else None)

    change = listing_change(terms(), offer, demand, TODAY)

    assert change == (
        f"the {listing} {listing}-1 is now open 2026-12-01–2026-12-31, which does not cover "
        "the shipping window 2026-12-01–2027-03-31"
    )


def test_only_the_days_left_of_the_shipping_window_count(make: Any) -> None:
    # Proposed for December on; the offer now opens on the 10th. On the 5th a shipment
    # could still fall on the 5th to the 9th; from the 10th on, what is left fits.
    later = Window(TODAY + timedelta(days=9), TODAY + timedelta(days=120))
    offer = make.offer(window=later)

    assert listing_change(terms(), offer, make.demand(), TODAY + timedelta(days=4)) is not None
    assert listing_change(terms(), offer, make.demand(), TODAY + timedelta(days=9)) is None
    # A window that is over is the expiry's business, not an amendment's.
    over = TODAY + timedelta(days=200)
    assert listing_change(terms(), offer, make.demand(), over) is None


def test_a_radius_amended_below_the_matchs_distance_no_longer_fits_it(make: Any) -> None:
    change = listing_change(terms(), make.offer(), make.demand(radius_km="15"), TODAY)

    assert change == (
        "the demand demand-1 now takes waste from up to 15 km, and this match travels 20.000 km"
    )


def test_the_plan_supersedes_an_outdated_proposal_the_allocation_repeats(make: Any) -> None:
    """A narrower window leaves a route's tonnes alike: only the plan's `outdated` tells."""
    offer, demand = make.offer(amount=80), make.demand()
    result = allocate([offer], [demand], [make.licence()], today=date(2026, 12, 1))
    [route] = result.routes
    standing = ProvisionalMatch.of("match-1", route)

    assert plan_reoptimisation([standing], result).kept == ("match-1",)
    plan = plan_reoptimisation([standing], result, outdated={"match-1", "not-stored"})
    assert (plan.kept, plan.supersede, plan.propose) == ((), (standing,), (route,))


def test_an_accepted_match_keeps_its_window_and_distance_and_answers_for_its_tonnes(
    make: Any,
) -> None:
    """At the second acceptance only the tonnes count again: the window and the distance
    were agreed by one side already."""
    narrower = make.demand(radius_km="10", window=make.window(days=10))
    assert listing_change(terms(), make.offer(), narrower, TODAY) is not None
    assert listing_change(terms(), make.offer(), narrower, TODAY, tonnes_only=True) is None
    short = listing_change(terms(), make.offer(amount=50), narrower, TODAY, tonnes_only=True)
    assert short == "the offer offer-1 now has 50.000 t, less than the 80.000 t of this match"


def hold(match_id: str, tonnes_: int, minute: int, *, confirmed: bool = False) -> Hold:
    at = datetime(2026, 11, 28, 9, minute, tzinfo=UTC)
    return Hold(match_id=match_id, tonnes=tonnes(tonnes_), confirmed=confirmed, accepted_at=at)


def test_holds_past_an_amended_quantity_go_latest_accepted_first_confirmed_never() -> None:
    holds = [
        hold("late-small", 10, 30),
        hold("confirmed", 50, 40, confirmed=True),
        hold("early", 30, 10),
        hold("middle", 30, 20),
    ]
    # 80 t left: the confirmed 50 first, then the earliest 30; 30 more do not fit, 10 do.
    assert [h.match_id for h in holds_past(tonnes(80), holds)] == ["middle", "late-small"]
    assert holds_past(tonnes(120), holds) == []
    # Below what is confirmed: every accepted one goes, the confirmed stays.
    assert {h.match_id for h in holds_past(tonnes(40), holds)} == {"early", "middle", "late-small"}


@pytest.mark.parametrize("listing", ["offer", "demand"])
def test_a_proposal_placing_a_listing_in_its_old_district_no_longer_fits_it(
    make: Any, listing: str
) -> None:
    # Its site's district corrected (decision 026): regulators see a match by the districts
    # it names, so a proposal naming the old one is proposed again.
    old = ("武昌区", "新洲区") if listing == "offer" else ("青山区", "武昌区")

    change = listing_change(terms(districts=old), make.offer(), make.demand(), TODAY)

    assert change == (
        f"the {listing} {listing}-1 now lies in {'青山区' if listing == 'offer' else '新洲区'}, "
        "and this match places it in 武昌区"
    )
    accepted = listing_change(
        terms(districts=old), make.offer(), make.demand(), TODAY, tonnes_only=True
    )
    assert accepted is None  # an accepted match keeps the districts it was agreed in
