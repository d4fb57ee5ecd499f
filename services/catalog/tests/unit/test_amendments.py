"""Amending an offer or a demand: the terms an owner may change, checked as a posting checks
them, the status following the new quantity, never below the tonnes matches hold."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from wastex_catalog.domain import Demand, Licence, ListingStatus, Offer, Site
from wastex_shared.errors import DomainError, NotAuthorized

from .conftest import FACTORY_ID, RECYCLER_ID

TODAY = date(2026, 11, 25)


@pytest.fixture
def offer(factory_site: Site) -> Offer:
    return Offer.post(
        id="offer-1",
        site=factory_site,
        waste_code="SW01",
        quantity_tonnes="100",
        available_from="2026-12-01",
        available_until="2027-01-31",
        description="BOF slag",
    )


@pytest.fixture
def demand(recycler_site: Site, general_licence: Licence) -> Demand:
    return Demand.post(
        id="demand-1",
        site=recycler_site,
        waste_codes=["SW01"],
        quantity_tonnes="500",
        max_distance_km=80,
        available_from="2027-01-01",
        available_until="2027-03-31",
        licences=[general_licence],
        grace_days=7,
    )


def refusal(amend: Callable[..., object], *args: object, **kwargs: object) -> DomainError:
    with pytest.raises(DomainError) as err:
        amend(*args, **kwargs)
    return err.value


def test_an_offer_amended_keeps_what_was_not_given_and_names_what_changed(offer: Offer) -> None:
    amended = offer.amend(
        FACTORY_ID, today=TODAY, quantity_tonnes="80.5", available_until="2027-02-28"
    )
    assert amended.quantity_tonnes == Decimal("80.500")
    assert (amended.available_from, amended.available_until) == (
        date(2026, 12, 1),
        date(2027, 2, 28),
    )
    assert (amended.description, amended.waste_code, amended.site_id) == (
        "BOF slag",
        "SW01",
        offer.site_id,
    )
    assert amended.changed_terms(offer) == ["quantityTonnes", "availableUntil"]
    only_words = offer.amend(FACTORY_ID, today=TODAY, description="BOF slag, <10 mm")
    assert only_words.changed_terms(offer) == ["description"]
    measured = offer.amend(FACTORY_ID, today=TODAY, moisture_percent="12.5", particle_size_mm=8)
    assert measured.changed_terms(offer) == ["moisturePercent", "particleSizeMm"]


def test_the_status_follows_the_new_quantity_and_matched_tonnes_stay(offer: Offer) -> None:
    part = offer.allocate("m-1", "40")
    assert part.status is ListingStatus.PARTIALLY_MATCHED
    full = part.amend(FACTORY_ID, today=TODAY, quantity_tonnes="40")
    assert (full.status, full.remaining_tonnes) == (ListingStatus.FULLY_MATCHED, Decimal("0"))
    assert full.allocations == part.allocations
    # More slag turned up: a fully matched offer is back on the market with the rest.
    back = full.amend(FACTORY_ID, today=TODAY, quantity_tonnes="65")
    assert (back.status, back.remaining_tonnes) == (ListingStatus.PARTIALLY_MATCHED, Decimal(25))


def test_the_quantity_never_goes_below_what_matches_hold(offer: Offer) -> None:
    held = offer.allocate("m-1", "40")
    err = refusal(held.amend, FACTORY_ID, today=TODAY, quantity_tonnes="39.999")
    assert (err.code, err.field) == ("QUANTITY_BELOW_MATCHED", "quantityTonnes")


@pytest.mark.parametrize(
    ("terms", "code", "field"),
    [
        ({"quantity_tonnes": "0"}, "INVALID_QUANTITY", "quantityTonnes"),
        ({"available_until": "2026-11-24"}, "INVALID_WINDOW", "availableUntil"),
        ({"available_from": "2027-02-01"}, "INVALID_WINDOW", "availableUntil"),
        ({"moisture_percent": 101}, "INVALID_PROPERTY", "moisturePercent"),
        ({"description": "x" * 2001}, "TEXT_TOO_LONG", "description"),
        ({"quantity_tonnes": "100.000", "description": "BOF slag"}, "NOTHING_TO_AMEND", "input"),
        ({}, "NOTHING_TO_AMEND", "input"),
    ],
)
def test_amended_terms_are_checked_as_posted_ones(
    offer: Offer, terms: dict[str, object], code: str, field: str
) -> None:
    err = refusal(offer.amend, FACTORY_ID, today=TODAY, **terms)
    assert (err.code, err.field) == (code, field)


def test_only_the_owner_amends_and_only_while_not_withdrawn_or_expired(offer: Offer) -> None:
    with pytest.raises(NotAuthorized):
        offer.amend(RECYCLER_ID, today=TODAY, quantity_tonnes="1")
    for status in (ListingStatus.WITHDRAWN, ListingStatus.EXPIRED):
        closed = replace(offer, status=status)
        err = refusal(closed.amend, FACTORY_ID, today=TODAY, quantity_tonnes=1)
        assert err.code == "INVALID_TRANSITION"


def test_a_window_that_stays_may_have_begun(offer: Offer) -> None:
    """Changing the quantity of an offer whose window began is no new window to check."""
    running = offer.amend(FACTORY_ID, today=date(2027, 1, 15), quantity_tonnes="90")
    assert running.window == offer.window


def test_a_demand_amended_keeps_its_codes_and_checks_its_radius(demand: Demand) -> None:
    amended = demand.amend(
        RECYCLER_ID, licences=[], today=TODAY, grace_days=7, max_distance_km="45.5"
    )
    assert amended.max_distance_km == Decimal("45.500")
    assert amended.waste_codes == demand.waste_codes
    assert amended.changed_terms(demand) == ["maxDistanceKm"]
    err = refusal(
        demand.amend, RECYCLER_ID, licences=[], today=TODAY, grace_days=7, max_distance_km=0
    )
    assert (err.code, err.field) == ("INVALID_DISTANCE", "maxDistanceKm")


def test_a_demand_s_new_window_must_be_licensed_as_a_posting_s(
    demand: Demand, general_licence: Licence
) -> None:
    # The licence runs to 2027-12-31: into 2028 it does not reach. A window running past it
    # is taken (decision 034, later), and waits from its end for a renewal.
    past = demand.amend(
        RECYCLER_ID,
        licences=[general_licence],
        today=TODAY,
        grace_days=7,
        available_until="2028-01-31",
    )
    assert (past.available_until, past.licensed_until, past.awaits_renewal_until) == (
        date(2028, 1, 31),
        date(2027, 12, 31),
        date(2028, 1, 7),
    )
    # One starting past it is not.
    err = refusal(
        demand.amend,
        RECYCLER_ID,
        licences=[general_licence],
        today=TODAY,
        grace_days=7,
        available_from="2028-01-02",
        available_until="2028-01-31",
    )
    assert (err.code, err.field) == ("LICENCE_EXPIRED", "availableUntil")
    err = refusal(
        past.amend,
        RECYCLER_ID,
        licences=[general_licence],
        today=TODAY,
        grace_days=7,
        available_from="2028-01-02",
    )
    assert (err.code, err.field) == ("LICENCE_EXPIRED", "availableFrom")
    longer = demand.amend(
        RECYCLER_ID,
        licences=[general_licence],
        today=TODAY,
        grace_days=7,
        available_until="2027-12-31",
    )
    assert (longer.available_until, longer.licensed_until) == (date(2027, 12, 31), None)


def test_a_demand_s_new_window_sets_the_day_its_licences_end_it(
    demand: Demand, general_licence: Licence
) -> None:
    """A demand its licences stopped covering at the end (licensed until 2027-02-28) that
    is moved inside their cover is licensed for the whole window again."""
    revoked = general_licence.revoke(reason="audit", effective_from="2027-03-01", today=TODAY)
    cut = demand.relicensed([revoked], grace_days=7)
    assert cut.licensed_until == date(2027, 2, 28)
    moved = cut.amend(
        RECYCLER_ID, licences=[revoked], today=TODAY, grace_days=7, available_until="2027-02-20"
    )
    assert (moved.available_until, moved.licensed_until) == (date(2027, 2, 20), None)


def test_a_listing_held_past_its_quantity_still_has_its_other_terms_amended(
    offer: Offer,
) -> None:
    """Matching's facts can arrive so that holds exceed the quantity for a while; the
    owner may still correct the description (only a quantity given is checked)."""
    held = offer.hold("m-1", "100").hold("m-2", "20")
    amended = held.amend(FACTORY_ID, today=TODAY, description="BOF slag, weathered")
    assert amended.description == "BOF slag, weathered"
    err = refusal(held.amend, FACTORY_ID, today=TODAY, quantity_tonnes="110")
    assert err.code == "QUANTITY_BELOW_MATCHED"


def test_a_demand_needs_licence_cover_from_today_only(
    recycler_site: Site, general_licence: Licence
) -> None:
    """A gap in September (the licence revoked, its successor from October) is past on
    1 November: a demand running since August is posted and extended all the same."""
    today = date(2026, 11, 1)
    revoked = general_licence.revoke(
        reason="audit", effective_from="2026-09-01", today=date(2026, 8, 20)
    )
    successor = Licence.register(
        id="lic-successor",
        enterprise_id=RECYCLER_ID,
        number="鄂固利 2026-002",
        waste_codes=["SW01"],
        annual_capacity_tonnes="50000",
        valid_from=date(2026, 10, 1),
        valid_until=date(2027, 12, 31),
    )
    licences = [revoked, successor]
    running = Demand.post(
        id="demand-2",
        site=recycler_site,
        waste_codes=["SW01"],
        quantity_tonnes="500",
        max_distance_km=80,
        available_from="2026-08-01",
        available_until="2026-12-31",
        licences=licences,
        grace_days=7,
        today=today,
    )
    longer = running.amend(
        RECYCLER_ID, licences=licences, today=today, grace_days=7, available_until="2027-03-31"
    )
    assert longer.available_until == date(2027, 3, 31)


NO_TERM = "was given to amend: name at least one (a term left out or null stays as it is)"


def test_a_listing_amendment_naming_no_term_says_so_not_that_it_already_reads_so(
    offer: Offer, demand: Demand
) -> None:
    """An amendment with no term at all was answered "offer … already reads so", as if
    the terms sent were its own; one naming its own terms still is."""
    empty_offer = refusal(offer.amend, FACTORY_ID, today=TODAY)
    empty_demand = refusal(demand.amend, RECYCLER_ID, licences=[], today=TODAY, grace_days=7)
    assert (empty_offer.code, empty_offer.field, empty_offer.message) == (
        "NOTHING_TO_AMEND",
        "input",
        f"no term of offer {offer.id} {NO_TERM}",
    )
    assert (empty_demand.code, empty_demand.field, empty_demand.message) == (
        "NOTHING_TO_AMEND",
        "input",
        f"no term of demand {demand.id} {NO_TERM}",
    )
    same = refusal(offer.amend, FACTORY_ID, today=TODAY, quantity_tonnes=offer.quantity_tonnes)
    assert (same.code, same.message) == ("NOTHING_TO_AMEND", f"offer {offer.id} already reads so")
