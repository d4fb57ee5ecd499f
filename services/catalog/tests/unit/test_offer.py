"""Offers: validation on posting, derived hazard flag, the state machine and tonnage."""

from __future__ import annotations

import inspect
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wastex_catalog.domain import ListingStatus, Offer, Site
from wastex_catalog.domain.listing import TRANSITIONS, can_transition
from wastex_shared.errors import DomainError

OWNER = "ent-steel"
TODAY = date(2026, 11, 25)


def post(site: Site, **overrides: Any) -> Offer:
    fields: dict[str, Any] = {
        "id": "offer-1",
        "site": site,
        "waste_code": "SW01",
        "quantity_tonnes": "120.500",
        "available_from": "2026-12-01",
        "available_until": "2027-01-31",
        "description": "BOF steel slag, <10 mm",
    }
    fields.update(overrides)
    return Offer.post(**fields)


def error(site: Site, **overrides: Any) -> DomainError:
    with pytest.raises(DomainError) as err:
        post(site, **overrides)
    return err.value


@pytest.fixture
def offer(factory_site: Site) -> Offer:
    return post(factory_site, quantity_tonnes="100")


def test_post_takes_owner_and_district_from_the_site(factory_site: Site) -> None:
    offer = post(factory_site, waste_code=" sw01 ", today=TODAY)
    assert offer.enterprise_id == OWNER
    assert offer.site_id == factory_site.id
    assert offer.district == "青山区"
    assert offer.waste_code == "SW01"
    assert offer.quantity_tonnes == Decimal("120.500")
    assert offer.window.days == 62
    assert offer.status is ListingStatus.OPEN
    assert offer.remaining_tonnes == Decimal("120.500")
    assert offer.matched_tonnes == Decimal("0.000")


def test_hazardous_flag_is_derived_from_the_code_never_from_input(factory_site: Site) -> None:
    assert post(factory_site, waste_code="HW08").hazardous
    assert not post(factory_site, waste_code="SW01").hazardous
    assert "hazardous" not in inspect.signature(Offer.post).parameters


@pytest.mark.parametrize("quantity", ["0", "-1", "0.0001", "1.2345", "abc", "NaN", "1e9", 1.5])
def test_quantity_must_be_positive_kilogram_precision(factory_site: Site, quantity: Any) -> None:
    err = error(factory_site, quantity_tonnes=quantity)
    assert (err.code, err.field) == ("INVALID_QUANTITY", "quantityTonnes")


@pytest.mark.parametrize(
    ("overrides", "shown"),
    [
        ({"quantity_tonnes": Decimal("1E+30")}, "1E+30 is far beyond"),
        ({"quantity_tonnes": Decimal("NaN")}, "NaN is not a finite number"),
        ({"moisture_percent": Decimal("NaN")}, "NaN is not a finite number"),
        ({"particle_size_mm": Decimal("1E+30")}, "1E+30 is out of range"),
        ({"moisture_percent": "wet"}, "'wet' is not a number"),
    ],
)
def test_a_refused_number_is_shown_as_written(
    factory_site: Site, overrides: dict[str, Any], shown: str
) -> None:
    # GraphQL hands the rules a Decimal: messages read "Decimal('1E+30') is far beyond any
    # real quantity", Python's spelling of the number, not the client's.
    err = error(factory_site, **overrides)
    assert err.message.startswith(shown), err.message
    assert "Decimal(" not in err.message


def test_a_single_kilogram_is_accepted(factory_site: Site) -> None:
    assert post(factory_site, quantity_tonnes="0.001").quantity_tonnes == Decimal("0.001")


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"available_until": "2026-11-30"}, "INVALID_WINDOW", "availableUntil"),
        (
            {"available_until": "2026-11-24", "available_from": "2026-11-01", "today": TODAY},
            "INVALID_WINDOW",
            "availableUntil",
        ),
        ({"available_from": "01/12/2026"}, "INVALID_DATE", "availableFrom"),
        ({"available_until": "9999-12-31"}, "INVALID_DATE", "availableUntil"),
        ({"waste_code": "SW08"}, "UNKNOWN_WASTE_CODE", "wasteCode"),
        ({"waste_code": "HW42"}, "ABOLISHED_WASTE_CODE", "wasteCode"),
        ({"description": "x" * 2001}, "TEXT_TOO_LONG", "description"),
        ({"moisture_percent": "100.1"}, "INVALID_PROPERTY", "moisturePercent"),
        ({"moisture_percent": -1}, "INVALID_PROPERTY", "moisturePercent"),
        ({"moisture_percent": "wet"}, "INVALID_PROPERTY", "moisturePercent"),
        ({"particle_size_mm": "-0.1"}, "INVALID_PROPERTY", "particleSizeMm"),
        ({"particle_size_mm": float("inf")}, "INVALID_PROPERTY", "particleSizeMm"),
    ],
)
def test_post_rejects_bad_input(
    factory_site: Site, overrides: dict[str, Any], code: str, field: str
) -> None:
    err = error(factory_site, **overrides)
    assert (err.code, err.field) == (code, field)


def test_one_day_window_and_window_ending_today_are_accepted(factory_site: Site) -> None:
    offer = post(factory_site, available_from=TODAY, available_until=TODAY, today=TODAY)
    assert offer.window.days == 1


def test_optional_properties(factory_site: Site) -> None:
    offer = post(factory_site, moisture_percent=12.5, particle_size_mm="0", description=None)
    assert offer.moisture_percent == Decimal("12.5")
    assert offer.particle_size_mm == Decimal("0")
    assert offer.description == ""
    assert post(factory_site).moisture_percent is None


# --- tonnage accounting ---------------------------------------------------------------


def test_allocations_move_the_state_and_the_remaining_tonnes(offer: Offer) -> None:
    partly = offer.allocate("m1", "40")
    assert partly.status is ListingStatus.PARTIALLY_MATCHED
    assert partly.remaining_tonnes == Decimal("60.000")
    assert offer.status is ListingStatus.OPEN  # transitions return new objects
    full = partly.allocate("m2", Decimal("60"))
    assert full.status is ListingStatus.FULLY_MATCHED
    assert full.remaining_tonnes == 0


def test_allocating_more_than_remains_is_refused(offer: Offer) -> None:
    with pytest.raises(DomainError) as err:
        offer.allocate("m1", "60").allocate("m2", "40.001")
    assert (err.value.code, err.value.field) == ("ALLOCATION_EXCEEDS_REMAINING", "tonnes")


def test_applying_the_same_match_twice_changes_nothing(offer: Offer) -> None:
    once = offer.allocate("m1", "40")
    assert once.allocate("m1", "40.000") == once


def test_the_same_match_with_other_tonnes_conflicts(offer: Offer) -> None:
    with pytest.raises(DomainError) as err:
        offer.allocate("m1", "40").allocate("m1", "41")
    assert err.value.code == "ALLOCATION_CONFLICT"


@pytest.mark.parametrize("tonnes", ["0", "-3", "0.0005"])
def test_allocation_tonnes_are_validated(offer: Offer, tonnes: str) -> None:
    with pytest.raises(DomainError) as err:
        offer.allocate("m1", tonnes)
    assert (err.value.code, err.value.field) == ("INVALID_QUANTITY", "tonnes")


def test_release_returns_the_tonnage_of_that_match(offer: Offer) -> None:
    full = offer.allocate("m1", "30").allocate("m2", "70")
    back = full.release("m2")
    assert back.status is ListingStatus.PARTIALLY_MATCHED
    assert back.remaining_tonnes == Decimal("70.000")
    assert back.release("m1").status is ListingStatus.OPEN
    assert back.release("m1").remaining_tonnes == Decimal("100.000")


def test_releasing_an_unknown_match_is_a_no_op(offer: Offer) -> None:
    partly = offer.allocate("m1", "30")
    assert partly.release("other") == partly


def test_release_after_withdrawal_returns_tonnes_but_stays_withdrawn(offer: Offer) -> None:
    withdrawn = offer.allocate("m1", "30").withdraw(OWNER)
    released = withdrawn.release("m1")
    assert released.status is ListingStatus.WITHDRAWN
    assert released.matched_tonnes == 0


# --- withdrawal and expiry --------------------------------------------------------------


def test_owner_withdraws_open_and_partially_matched_offers(offer: Offer) -> None:
    assert offer.withdraw(OWNER).status is ListingStatus.WITHDRAWN
    partly = offer.allocate("m1", "1")
    withdrawn = partly.withdraw(OWNER)
    assert withdrawn.status is ListingStatus.WITHDRAWN
    assert withdrawn.matched_tonnes == Decimal("1.000")  # accepted matches keep their tonnes


def test_only_the_owner_may_withdraw(offer: Offer) -> None:
    with pytest.raises(DomainError) as err:
        offer.withdraw("ent-someone-else")
    assert err.value.code == "NOT_AUTHORIZED"


@pytest.mark.parametrize("status", [ListingStatus.WITHDRAWN, ListingStatus.EXPIRED])
def test_withdraw_from_other_states_is_an_invalid_transition(
    offer: Offer, status: ListingStatus
) -> None:
    with pytest.raises(DomainError) as err:
        replace(offer, status=status).withdraw(OWNER)
    assert err.value.code == "INVALID_TRANSITION"
    assert status.value in err.value.message


@pytest.mark.parametrize("status", [ListingStatus.WITHDRAWN, ListingStatus.EXPIRED])
def test_closed_offers_take_no_allocations(offer: Offer, status: ListingStatus) -> None:
    with pytest.raises(DomainError) as err:
        replace(offer, status=status).allocate("m1", "1")
    assert err.value.code == "INVALID_TRANSITION"


def test_fully_matched_offer_takes_no_new_match(offer: Offer) -> None:
    with pytest.raises(DomainError) as err:
        offer.allocate("m1", "100").allocate("m2", "1")
    assert err.value.code == "INVALID_TRANSITION"


def test_withdrawn_and_expired_are_terminal() -> None:
    assert TRANSITIONS[ListingStatus.WITHDRAWN] == frozenset()
    assert TRANSITIONS[ListingStatus.EXPIRED] == frozenset()
    assert not can_transition(ListingStatus.FULLY_MATCHED, ListingStatus.EXPIRED)


def test_a_fully_matched_offer_may_be_withdrawn_and_a_release_leaves_it_so(offer: Offer) -> None:
    """Its owner leaves though matches hold every tonne (decision 030): matching then
    rejects the ones not yet confirmed, and their releases do not put it back."""
    withdrawn = offer.allocate("m1", "100").withdraw(OWNER)
    assert withdrawn.status is ListingStatus.WITHDRAWN
    assert withdrawn.release("m1").status is ListingStatus.WITHDRAWN


def test_expiry_follows_the_window_end(offer: Offer) -> None:
    last_day = offer.available_until
    assert offer.expire_if_due(last_day) is offer
    assert offer.expire_if_due(date(2027, 2, 1)).status is ListingStatus.EXPIRED
    partly = offer.allocate("m1", "10")
    assert partly.expire_if_due(date(2027, 2, 1)).status is ListingStatus.EXPIRED


def test_fully_matched_and_withdrawn_offers_do_not_expire(offer: Offer) -> None:
    later = date(2030, 1, 1)
    full = offer.allocate("m1", "100")
    assert full.expire_if_due(later).status is ListingStatus.FULLY_MATCHED
    withdrawn = offer.withdraw(OWNER)
    assert withdrawn.expire_if_due(later).status is ListingStatus.WITHDRAWN


# --- property: any sequence of allocations and releases keeps the books straight -------

operations = st.lists(
    st.tuples(
        st.sampled_from(["allocate", "release"]),
        st.sampled_from(["m1", "m2", "m3", "m4"]),
        st.integers(min_value=1, max_value=60_000).map(lambda kg: Decimal(kg) / 1000),
    ),
    max_size=25,
)


REFUSALS = {"ALLOCATION_EXCEEDS_REMAINING", "ALLOCATION_CONFLICT", "INVALID_TRANSITION"}


@given(operations)
def test_tonnage_books_balance(ops: list[tuple[str, str, Decimal]]) -> None:
    site = Site(
        id="s",
        enterprise_id=OWNER,
        name="s",
        district="青山区",
        latitude=Decimal(30),
        longitude=Decimal(114),
    )
    offer = post(site, quantity_tonnes="100")
    refused: list[str] = []
    for op, match_id, tonnes in ops:
        try:
            offer = (
                offer.allocate(match_id, tonnes) if op == "allocate" else offer.release(match_id)
            )
        except DomainError as exc:
            refused.append(exc.code)
        matched = offer.matched_tonnes
        assert 0 <= matched <= offer.quantity_tonnes
        assert offer.remaining_tonnes == offer.quantity_tonnes - matched
        assert len({a.match_id for a in offer.allocations}) == len(offer.allocations)
        if matched == 0:
            assert offer.status is ListingStatus.OPEN
        elif matched == offer.quantity_tonnes:
            assert offer.status is ListingStatus.FULLY_MATCHED
        else:
            assert offer.status is ListingStatus.PARTIALLY_MATCHED
    assert set(refused) <= REFUSALS
