"""The feasibility rules for one offer × demand pair, each with its reason."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from wastex_matching.domain import (
    FixedMatch,
    LicenceType,
    Point,
    Window,
    apply_fixed,
    assess_pair,
    candidate_reason,
    haversine_km,
    reasons,
    road_metres,
)
from wastex_matching.domain.feasibility import licence_refusal
from wastex_matching.domain.geo import radius_metres

TODAY = date(2026, 12, 1)
OPERATING = LicenceType.HAZARDOUS_WASTE_OPERATING


def reason(
    make: Any, offer: Any = None, demand: Any = None, licences: Any = None, **kw: Any
) -> str | None:
    return candidate_reason(
        offer or make.offer(),
        demand or make.demand(),
        [make.licence()] if licences is None else licences,
        kw.pop("today", TODAY),
        **kw,
    )


def test_a_licensed_pair_in_reach_with_overlapping_windows_is_feasible(make: Any) -> None:
    verdict = assess_pair(make.offer(), make.demand(), [make.licence()], TODAY)
    assert verdict.feasible
    assert verdict.usable_licence_ids == ("licence-1",)
    assert verdict.transfer_window == make.window()


def test_offer_to_own_enterprise_is_in_plant_use_not_an_exchange(make: Any) -> None:
    offer = make.offer(enterprise="recycler-1")
    assert reason(make, offer=offer) == reasons.SAME_ENTERPRISE


def test_demand_not_asking_for_the_code_is_not_a_candidate(make: Any) -> None:
    assert reason(make, offer=make.offer(code="SW02")) == reasons.CODE_NOT_DEMANDED


def test_recycler_without_a_licence_listing_the_code_is_refused(make: Any) -> None:
    demand = make.demand(codes=("SW01", "SW02"))
    licences = [make.licence(codes=("SW01",))]
    offer = make.offer(code="SW02")
    assert reason(make, offer=offer, demand=demand, licences=licences) == (
        reasons.LICENCE_NOT_COVERING_CODE
    )


def test_only_the_recyclers_own_licences_count(make: Any) -> None:
    someone_elses = make.licence(enterprise="recycler-2")
    assert reason(make, licences=[someone_elses]) == reasons.LICENCE_NOT_COVERING_CODE


def test_hazardous_code_never_goes_to_general_utilisation_licence(make: Any) -> None:
    offer = make.offer(code="HW08")
    demand = make.demand(codes=("HW08",))
    general = make.licence(codes=("HW08",), kind=LicenceType.GENERAL_UTILISATION)
    assert reason(make, offer=offer, demand=demand, licences=[general]) == (
        reasons.HAZARDOUS_NEEDS_OPERATING_LICENCE
    )


def test_hazardous_code_goes_to_an_operating_licence_listing_it(make: Any) -> None:
    offer = make.offer(code="HW08")
    demand = make.demand(codes=("HW08",))
    operating = make.licence(codes=("HW08",), kind=OPERATING)
    assert reason(make, offer=offer, demand=demand, licences=[operating]) is None


def test_operating_licence_must_list_the_hazardous_code_itself(make: Any) -> None:
    offer = make.offer(code="HW17")
    demand = make.demand(codes=("HW17",))
    operating = make.licence(codes=("HW08",), kind=OPERATING)
    assert reason(make, offer=offer, demand=demand, licences=[operating]) == (
        reasons.LICENCE_NOT_COVERING_CODE
    )


def test_general_codes_may_go_to_an_operating_licence_that_lists_them(make: Any) -> None:
    operating = make.licence(codes=("HW08", "SW01"), kind=OPERATING)
    assert reason(make, licences=[operating]) is None


def test_windows_sharing_no_day_do_not_overlap(make: Any) -> None:
    offer = make.offer(window=make.window(0, 30))
    demand = make.demand(window=make.window(31, 30))
    assert reason(make, offer=offer, demand=demand) == reasons.WINDOW_NOT_OVERLAPPING


def test_windows_sharing_one_day_overlap(make: Any) -> None:
    offer = make.offer(window=make.window(0, 30))
    demand = make.demand(window=make.window(30, 30))
    verdict = assess_pair(offer, demand, [make.licence()], TODAY)
    assert verdict.feasible
    assert verdict.transfer_window == Window(TODAY + timedelta(days=30), TODAY + timedelta(days=30))


def test_a_common_window_that_ended_before_today_has_passed(make: Any) -> None:
    offer = make.offer(window=make.window(-60, 30))
    demand = make.demand(window=make.window(-90, 70))
    assert reason(make, offer=offer, demand=demand) == reasons.WINDOW_PASSED


def test_licence_expiring_inside_the_transfer_window_is_expired_for_it(make: Any) -> None:
    expiring = make.licence(valid_until=TODAY + timedelta(days=60))
    assert reason(make, licences=[expiring]) == reasons.LICENCE_EXPIRED


def test_licence_starting_inside_the_transfer_window_is_not_valid_over_it(make: Any) -> None:
    late = make.licence(valid_from=TODAY + timedelta(days=10))
    assert reason(make, licences=[late]) == reasons.LICENCE_EXPIRED


def test_licence_validity_is_judged_from_today_not_from_the_window_start(make: Any) -> None:
    # The windows opened a month ago; the licence started a week ago: fine from today on.
    offer = make.offer(window=make.window(-30, 90))
    demand = make.demand(window=make.window(-30, 90))
    started = make.licence(valid_from=TODAY - timedelta(days=7))
    assert reason(make, offer=offer, demand=demand, licences=[started]) is None


# -- a licence and its renewal (decision 031) ------------------------------------------------

#: Offer and demand both listed over the new year; licences by calendar year.
OVER_NEW_YEAR_WINDOW = Window(date(2026, 12, 10), date(2027, 1, 20))
TO_NEW_YEAR = {"valid_from": date(2026, 1, 1), "valid_until": date(2026, 12, 31)}


def over_new_year(make: Any, licences: list[Any], today: date = TODAY) -> Any:
    offer = make.offer(window=OVER_NEW_YEAR_WINDOW)
    demand = make.demand(window=OVER_NEW_YEAR_WINDOW)
    return assess_pair(offer, demand, licences, today)


def test_a_licence_and_its_renewal_cover_a_window_over_the_new_year(make: Any) -> None:
    old = make.licence("old", **TO_NEW_YEAR)
    renewal = make.licence("new", valid_from=date(2027, 1, 1), valid_until=date(2027, 12, 31))
    verdict = over_new_year(make, [renewal, old])
    assert verdict.feasible
    # The licence valid on the first day carries the pair (its tonnage, the match's licence).
    assert verdict.usable_licence_ids == ("old",)
    assert verdict.transfer_window == OVER_NEW_YEAR_WINDOW
    # From 1 January on, the renewal alone.
    in_january = over_new_year(make, [renewal, old], today=date(2027, 1, 5))
    assert in_january.usable_licence_ids == ("new",)


def test_a_chain_of_licences_covers_a_window_link_by_link(make: Any) -> None:
    links = [
        make.licence("a", **TO_NEW_YEAR),
        make.licence("b", valid_from=date(2027, 1, 1), valid_until=date(2027, 1, 9)),
        # Starting before the previous one ends is no gap either.
        make.licence("c", valid_from=date(2027, 1, 5), valid_until=date(2027, 1, 20)),
    ]
    assert over_new_year(make, links).usable_licence_ids == ("a",)
    assert over_new_year(make, links[:2]).reason == reasons.LICENCE_EXPIRED


def test_a_day_between_a_licence_and_its_renewal_breaks_the_chain(make: Any) -> None:
    old = make.licence("old", **TO_NEW_YEAR)
    renewal = make.licence("new", valid_from=date(2027, 1, 2), valid_until=date(2027, 12, 31))
    verdict = over_new_year(make, [old, renewal])
    assert verdict.reason == reasons.LICENCE_EXPIRED
    assert verdict.message == (
        "no licence of the recycler permitting SW01 is valid over 2026-12-10–2027-01-20"
    )


@pytest.mark.parametrize(
    "renewal",
    [
        {"codes": ("SW02",)},  # lists other codes only (or amended off this one)
        {"codes": ("HW08", "SW02")},  # the offer is HW08 below: a general licence may not
        {"valid_until": date(2026, 12, 31)},  # revoked before it began
        {"valid_until": date(2027, 1, 10)},  # revoked inside the window
        {"enterprise": "recycler-2"},  # another recycler's
    ],
)
def test_a_renewal_that_may_not_carry_the_code_over_the_window_breaks_the_chain(
    make: Any, renewal: dict[str, Any]
) -> None:
    code = "HW08" if "HW08" in renewal.get("codes", ()) else "SW01"
    kind = OPERATING if code == "HW08" else LicenceType.GENERAL_UTILISATION
    old = make.licence("old", codes=(code,), kind=kind, **TO_NEW_YEAR)
    new = make.licence(
        "new", **({"valid_from": date(2027, 1, 1), "valid_until": date(2027, 12, 31)} | renewal)
    )
    offer = make.offer(code=code, window=OVER_NEW_YEAR_WINDOW)
    demand = make.demand(codes=(code,), window=OVER_NEW_YEAR_WINDOW)
    assert reason(make, offer=offer, demand=demand, licences=[old, new]) == (
        reasons.LICENCE_EXPIRED
    )


def test_a_renewal_alone_does_not_carry_a_window_starting_before_it(make: Any) -> None:
    renewal = make.licence("new", valid_from=date(2027, 1, 1), valid_until=date(2027, 12, 31))
    assert over_new_year(make, [renewal]).reason == reasons.LICENCE_EXPIRED


def test_a_refusal_names_no_licence_of_the_recycler(make: Any) -> None:
    # Explanations reach the other parties of a match: a recycler's licences are its own.
    secret = make.licence("bricks-secret-lic", valid_until=TODAY + timedelta(days=40))
    verdict = assess_pair(make.offer(), make.demand(), [secret], TODAY)
    assert verdict.reason == reasons.LICENCE_EXPIRED
    assert "bricks-secret-lic" not in verdict.message
    assert str(secret.valid_until) not in verdict.message


def test_recycler_beyond_its_radius_is_out_of_reach(make: Any) -> None:
    demand = make.demand(radius_km=10)  # Yangluo is ~16 km from Qingshan
    assert reason(make, demand=demand) == reasons.OUT_OF_RADIUS


def test_road_factor_can_push_a_recycler_out_of_reach(make: Any) -> None:
    demand = make.demand(radius_km=20)
    assert reason(make, demand=demand) is None
    assert reason(make, demand=demand, road_factor=1.4) == reasons.OUT_OF_RADIUS


def test_radius_is_compared_in_whole_metres_inclusive(make: Any) -> None:
    metres = road_metres(make.offer().point, make.demand().point, 1.0)
    exactly = make.demand(radius_km=Decimal(metres) / 1000)
    short = make.demand(radius_km=Decimal(metres - 1) / 1000)
    assert reason(make, demand=exactly) is None
    assert reason(make, demand=short) == reasons.OUT_OF_RADIUS


def test_an_exhausted_offer_has_no_capacity(make: Any) -> None:
    assert reason(make, offer=make.offer(amount=0)) == reasons.NO_CAPACITY


def test_a_full_demand_has_no_capacity(make: Any) -> None:
    assert reason(make, demand=make.demand(amount=0)) == reasons.NO_CAPACITY


def test_a_licence_used_up_this_year_leaves_no_capacity(make: Any) -> None:
    used_up = make.licence(annual=500, used=500)
    assert reason(make, licences=[used_up]) == reasons.NO_CAPACITY


def test_a_second_licence_with_tonnage_left_keeps_the_pair_feasible(make: Any) -> None:
    used_up = make.licence("full", annual=500, used=500)
    spare = make.licence("spare", annual=500)
    verdict = assess_pair(make.offer(), make.demand(), [used_up, spare], TODAY)
    assert verdict.feasible
    assert verdict.usable_licence_ids == ("spare",)


def test_fixed_matches_this_year_use_up_licence_tonnage(make: Any) -> None:
    licence = make.licence(annual=100)
    fixed = [
        FixedMatch(
            match_id="m1",
            offer_id="other-offer",
            demand_id="demand-1",
            licence_id="licence-1",
            tonnes=Decimal("100.000"),
            licence_year=TODAY.year,
        )
    ]
    net = apply_fixed([make.offer()], [make.demand(amount=500)], [licence], fixed, TODAY)
    assert candidate_reason(net.offers[0], net.demands[0], net.licences, TODAY) == (
        reasons.NO_CAPACITY
    )


def test_fixed_matches_of_last_year_do_not_use_this_years_licence_tonnage(make: Any) -> None:
    fixed = [
        FixedMatch(
            match_id="m1",
            offer_id="other-offer",
            demand_id="other-demand",
            licence_id="licence-1",
            tonnes=Decimal("100.000"),
            licence_year=TODAY.year - 1,
        )
    ]
    net = apply_fixed([], [], [make.licence(annual=100)], fixed, TODAY)
    assert net.licences[0].remaining_tonnes == Decimal("100.000")


def test_fixed_matches_take_their_tonnes_off_offer_and_demand(make: Any) -> None:
    fixed = [
        FixedMatch(
            match_id="m1",
            offer_id="offer-1",
            demand_id="demand-1",
            licence_id=None,
            tonnes=Decimal("30.500"),
            licence_year=TODAY.year,
        )
    ]
    net = apply_fixed([make.offer(amount=100)], [make.demand(amount=40)], [], fixed, TODAY)
    assert net.offers[0].remaining_tonnes == Decimal("69.500")
    assert net.demands[0].remaining_tonnes == Decimal("9.500")


def test_over_committed_fixed_matches_clamp_at_zero(make: Any) -> None:
    fixed = [
        FixedMatch(
            match_id="m1",
            offer_id="offer-1",
            demand_id="demand-1",
            licence_id=None,
            tonnes=Decimal("150"),
            licence_year=TODAY.year,
        )
    ]
    net = apply_fixed([make.offer(amount=100)], [], [], fixed, TODAY)
    assert net.offers[0].remaining_tonnes == Decimal("0.000")


def test_the_first_broken_rule_is_the_one_reported(make: Any) -> None:
    # Wrong code *and* out of radius *and* windows apart: the code comes first.
    offer = make.offer(code="SW02", window=make.window(0, 10))
    demand = make.demand(radius_km=1, window=make.window(50, 10))
    assert reason(make, offer=offer, demand=demand) == reasons.CODE_NOT_DEMANDED


def test_every_infeasibility_reason_comes_with_a_message(make: Any) -> None:
    verdict = assess_pair(make.offer(), make.demand(radius_km=10), [make.licence()], TODAY)
    assert verdict.reason == reasons.OUT_OF_RADIUS
    assert "km" in verdict.message
    assert verdict.distance_metres > 10_000


def test_haversine_of_one_degree_of_longitude_on_the_equator() -> None:
    assert haversine_km(Point(0, 0), Point(0, 1)) == pytest.approx(111.195, abs=0.001)


def test_haversine_qingshan_to_yangluo_is_about_sixteen_km() -> None:
    assert haversine_km(Point(30.64, 114.41), Point(30.70, 114.56)) == pytest.approx(15.8, abs=0.2)


def test_radius_in_metres_is_floored() -> None:
    assert radius_metres(Decimal("12.3456")) == 12_345
    assert radius_metres(Decimal(50)) == 50_000


# -- an existing match's licence (amended or revoked since the proposal) ----------------------

MATCH_WINDOW = Window(date(2026, 12, 1), date(2027, 1, 31))


@pytest.mark.parametrize(
    ("changes", "refused"),
    [
        ({}, None),
        ({"codes": ("SW02",)}, "no longer permits SW01"),
        ({"valid_until": date(2027, 1, 15)}, "no longer holds over 2026-12-10–2027-01-31"),
        # Only what is left of the window counts: days gone by need no licence any more.
        ({"valid_from": date(2026, 12, 5)}, None),
        ({"valid_from": date(2026, 12, 20)}, "no longer holds over 2026-12-10–2027-01-31"),
    ],
)
def test_a_match_needs_its_licence_for_what_is_left_of_its_window(
    make: Any, changes: dict[str, Any], refused: str | None
) -> None:
    licence = make.licence(**changes)
    for first in (True, False):
        found = licence_refusal(licence, "SW01", MATCH_WINDOW, date(2026, 12, 10), [], first=first)
        if refused is None:
            assert found is None
        else:
            assert found is not None
            assert refused in found


OLD_LICENCE = {"valid_from": date(2026, 1, 1), "valid_until": date(2026, 12, 31)}


@pytest.mark.parametrize(
    ("renewal", "today", "first", "refused"),
    [
        # Accepted in December: the renewal takes over on 1 January.
        ({}, date(2026, 12, 10), True, None),
        # Confirmed in January, the licence run out: its renewal holds what is left.
        ({}, date(2027, 1, 5), False, None),
        # A first acceptance in January would commit the tonnes to a licence run out: the
        # next round proposes the pair under the renewal.
        ({}, date(2027, 1, 5), True, "no longer holds over 2027-01-05–2027-01-31"),
        # A gap, a renewal revoked before it began or amended off the code: no chain.
        ({"valid_from": date(2027, 1, 2)}, date(2026, 12, 10), False, "no longer holds over"),
        ({"valid_until": date(2026, 12, 31)}, date(2027, 1, 5), False, "no longer holds over"),
        ({"codes": ("SW02",)}, date(2026, 12, 10), True, "no longer holds over"),
    ],
)
def test_a_match_may_need_its_licences_renewal_for_what_is_left_of_its_window(
    make: Any, renewal: dict[str, Any], today: date, first: bool, refused: str | None
) -> None:
    licence = make.licence(**OLD_LICENCE)
    new = make.licence(
        "new", **({"valid_from": date(2027, 1, 1), "valid_until": date(2027, 12, 31)} | renewal)
    )
    found = licence_refusal(licence, "SW01", MATCH_WINDOW, today, [licence, new], first=first)
    if refused is None:
        assert found is None
    else:
        assert found is not None
        assert refused in found


def committed(tonnes: str, year: int, match_id: str = "m1") -> FixedMatch:
    """A fixed match of licence-1 using `year`'s tonnage (of another offer and demand)."""
    return FixedMatch(
        match_id=match_id,
        offer_id="other-offer",
        demand_id="other-demand",
        licence_id="licence-1",
        tonnes=Decimal(tonnes),
        licence_year=year,
    )


DECEMBER = Window(date(2026, 12, 1), date(2026, 12, 31))
NEXT_SPRING = Window(date(2027, 1, 1), date(2027, 4, 30))
OVER_NEW_YEAR = Window(date(2026, 12, 1), date(2027, 2, 28))


@pytest.mark.parametrize(
    ("windows", "remaining"),
    [
        # Wholly next year: next year's 30 t count, this year's 90 t do not.
        ([NEXT_SPRING], "70.000"),
        # Wholly this year: this year's 90 t count, next year's 30 t do not.
        ([DECEMBER], "10.000"),
        # Either year (a demand over the new year, or one demand each): the fuller year.
        ([OVER_NEW_YEAR], "10.000"),
        ([DECEMBER, NEXT_SPRING], "10.000"),
        # No demand the licence could serve: the busiest year, as it reads.
        ([], "10.000"),
    ],
)
def test_a_licence_keeps_the_tonnes_of_the_busiest_year_its_demands_can_ship_in(
    make: Any, windows: list[Window], remaining: str
) -> None:
    fixed = [committed("90", 2026), committed("30", 2027, "m2")]
    demands = [make.demand(f"d{n}", window=w) for n, w in enumerate(windows)]
    net = apply_fixed([], demands, [make.licence(annual=100)], fixed, TODAY)
    assert net.licences[0].remaining_tonnes == Decimal(remaining)


def test_only_the_holders_demands_for_codes_the_licence_takes_set_its_years(make: Any) -> None:
    fixed = [committed("90", 2026)]
    others = [
        make.demand("elsewhere", enterprise="recycler-2", window=DECEMBER),
        make.demand("other-code", codes=["SW02"], window=DECEMBER),
        make.demand("ours", window=NEXT_SPRING),
    ]
    net = apply_fixed([], others, [make.licence(annual=100)], fixed, TODAY)
    assert net.licences[0].remaining_tonnes == Decimal("100.000")
    # A licence that ends this year ships nothing next year: its December is what is left.
    ending = make.licence(annual=100, valid_until=date(2026, 12, 31))
    over = [make.demand("ours", window=OVER_NEW_YEAR)]
    assert apply_fixed([], over, [ending], fixed, TODAY).licences[0].remaining_tonnes == 10
