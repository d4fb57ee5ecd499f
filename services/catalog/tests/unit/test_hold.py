"""`hold`: what the matching service reports a match holds, recorded whatever the order of
the facts — also on a listing withdrawn or expired meanwhile (unlike strict `allocate`)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from wastex_catalog.domain import ListingStatus, Offer, Site
from wastex_shared.errors import DomainError

OWNER = "ent-steel"


@pytest.fixture
def offer(factory_site: Site) -> Offer:
    return Offer.post(
        id="offer-1",
        site=factory_site,
        waste_code="SW01",
        quantity_tonnes="100",
        available_from="2026-12-01",
        available_until="2027-01-31",
    )


def test_holding_on_a_live_offer_is_allocating(offer: Offer) -> None:
    held = offer.hold("m1", "40")
    assert held == offer.allocate("m1", "40")
    assert held.status is ListingStatus.PARTIALLY_MATCHED


def test_a_withdrawn_offer_records_the_hold_and_stays_withdrawn(offer: Offer) -> None:
    held = offer.withdraw(OWNER).hold("m1", "40")
    assert held.status is ListingStatus.WITHDRAWN
    assert held.matched_tonnes == Decimal("40.000")
    assert held.remaining_tonnes == Decimal("60.000")


def test_an_expired_offer_records_the_hold_and_stays_expired(offer: Offer) -> None:
    expired = offer.expire_if_due(date(2027, 2, 1))
    held = expired.hold("m1", "100")
    assert (held.status, held.remaining_tonnes) == (ListingStatus.EXPIRED, Decimal("0.000"))


def test_hold_then_withdraw_equals_withdraw_then_hold(offer: Offer) -> None:
    assert offer.hold("m1", "40").withdraw(OWNER) == offer.withdraw(OWNER).hold("m1", "40")


def test_holding_the_same_match_twice_changes_nothing_even_when_withdrawn(offer: Offer) -> None:
    held = offer.withdraw(OWNER).hold("m1", "40")
    assert held.hold("m1", "40") is held


@pytest.mark.parametrize(
    ("tonnes", "code"),
    [("101", "ALLOCATION_EXCEEDS_REMAINING"), ("0", "INVALID_QUANTITY")],
)
def test_a_withdrawn_offer_still_refuses_impossible_holds(
    offer: Offer, tonnes: str, code: str
) -> None:
    with pytest.raises(DomainError) as err:
        offer.withdraw(OWNER).hold("m1", tonnes)
    assert err.value.code == code


def test_the_same_match_with_other_tonnes_conflicts_when_withdrawn(offer: Offer) -> None:
    held = offer.hold("m1", "40").withdraw(OWNER)
    with pytest.raises(DomainError) as err:
        held.hold("m1", "41")
    assert err.value.code == "ALLOCATION_CONFLICT"


def test_strict_allocate_still_refuses_a_withdrawn_offer(offer: Offer) -> None:
    with pytest.raises(DomainError) as err:
        offer.withdraw(OWNER).allocate("m1", "40")
    assert err.value.code == "INVALID_TRANSITION"
