"""`hold`: what the matching service reports a match holds, recorded whatever the order of
the facts — also on a listing withdrawn or expired meanwhile (unlike strict `allocate`)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


def test_a_withdrawn_offer_still_refuses_impossible_holds(offer: Offer) -> None:
    with pytest.raises(DomainError) as err:
        offer.withdraw(OWNER).hold("m1", "0")
    assert err.value.code == "INVALID_QUANTITY"


def test_a_hold_past_an_amended_quantity_is_recorded(offer: Offer) -> None:
    # The owner lowered the quantity before the catalog read a match matching keeps.
    held = offer.hold("m1", "101")
    assert (held.status, held.matched_tonnes, held.remaining_tonnes) == (
        ListingStatus.FULLY_MATCHED,
        Decimal("101.000"),
        Decimal("0.000"),
    )


def test_the_same_match_with_other_tonnes_conflicts_when_withdrawn(offer: Offer) -> None:
    held = offer.hold("m1", "40").withdraw(OWNER)
    with pytest.raises(DomainError) as err:
        held.hold("m1", "41")
    assert err.value.code == "ALLOCATION_CONFLICT"


def test_strict_allocate_still_refuses_a_withdrawn_offer(offer: Offer) -> None:
    with pytest.raises(DomainError) as err:
        offer.withdraw(OWNER).allocate("m1", "40")
    assert err.value.code == "INVALID_TRANSITION"


def test_a_hold_read_before_an_earlier_release_is_recorded_past_the_quantity(
    offer: Offer,
) -> None:
    # m1 took all 100 t and was rejected; m2 took them then. m2's hold came first.
    over = offer.hold("m1", "100").hold("m2", "100")
    assert (over.status, over.matched_tonnes, over.remaining_tonnes) == (
        ListingStatus.FULLY_MATCHED,
        Decimal("200.000"),
        Decimal("0.000"),
    )
    assert over.release("m1") == offer.hold("m2", "100")


@st.composite
def histories(draw: st.DrawFn) -> list[tuple[str, str, Decimal]]:
    """Holds and releases as matching makes them: never more held at once than the 100 t."""
    events: list[tuple[str, str, Decimal]] = []
    holding: dict[str, Decimal] = {}
    for n in range(draw(st.integers(0, 12))):
        release = draw(st.booleans())
        if holding and release:
            match_id = draw(st.sampled_from(sorted(holding)))
            events.append(("release", match_id, holding.pop(match_id)))
            continue
        room = 100_000 - int(sum(holding.values()) * 1000)
        if room <= 0:
            continue
        tonnes = Decimal(draw(st.integers(1, room))) / 1000
        holding[f"m{n}"] = tonnes
        events.append(("hold", f"m{n}", tonnes))
    return events


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # `offer` is immutable
@given(history=histories(), data=st.data())
def test_the_books_end_as_matching_has_them_whatever_order_matches_arrive_in(
    offer: Offer, history: list[tuple[str, str, Decimal]], data: st.DataObject
) -> None:
    # Each match's own facts stay in order (matches.py keeps tombstones for the rest);
    # different matches' facts arrive in any interleaving.
    def books(events: list[tuple[str, str, Decimal]]) -> tuple[object, ...]:
        listing = offer
        for op, match_id, tonnes in events:
            listing = listing.hold(match_id, tonnes) if op == "hold" else listing.release(match_id)
        # Allocations are rows by match id: their order in the tuple means nothing.
        held = frozenset(listing.allocations)
        return listing.status, listing.matched_tonnes, listing.remaining_tonnes, held

    per_match: dict[str, list[tuple[str, str, Decimal]]] = {}
    for event in history:
        per_match.setdefault(event[1], []).append(event)
    shuffled: list[tuple[str, str, Decimal]] = []
    while per_match:
        match_id = data.draw(st.sampled_from(sorted(per_match)))
        shuffled.append(per_match[match_id].pop(0))
        if not per_match[match_id]:
            del per_match[match_id]
    assert books(shuffled) == books(history)
