"""An event's reference: what inbox marks and ledger causes store of it; derived ids."""

from __future__ import annotations

import json
import random
import uuid
from datetime import date
from decimal import Decimal

import pytest

from wastex_shared.envelope import REFERENCE_LENGTH, WASTEX_NAMESPACE, Envelope, derived_id
from wastex_shared.events.catalog import OfferPosted


def event(source: str, ident: str) -> Envelope:
    return Envelope.new("wastex.offer.submit", source, "s", {}, id=ident)


def test_a_reference_is_source_and_id() -> None:
    assert event("ent-1", "msg-7").reference == "ent-1/msg-7"


def test_a_reference_too_long_to_store_is_a_stable_digest() -> None:
    long = event("ent-1", "m" * 200)
    assert len(long.reference) <= REFERENCE_LENGTH
    assert long.reference == event("ent-1", "m" * 200).reference
    assert long.reference != event("ent-2", "m" * 200).reference


def test_a_derived_id_is_the_uuid5_of_its_parts_joined() -> None:
    """Ids already stored were made by `uuid.uuid5`: the faster derivation must agree."""
    rng = random.Random(5)
    for i in range(2_000):
        parts = ("match", f"offer-{rng.random()}", "需求-é" * rng.randint(0, 3), i)
        expected = str(uuid.uuid5(WASTEX_NAMESPACE, "/".join(str(p) for p in parts)))
        assert derived_id(*parts) == expected
    assert derived_id() == str(uuid.uuid5(WASTEX_NAMESPACE, ""))


def test_an_event_model_becomes_its_wire_form() -> None:
    """Camel-case names, Decimal and dates as text, None kept: what consumers validate."""
    fact = OfferPosted(
        offer_id="offer-1",
        enterprise_id="ent-1",
        site_id="site-1",
        district="青山区",
        latitude=Decimal("30.640000"),
        longitude=Decimal("114.410000"),
        waste_code="SW01",
        hazardous=False,
        quantity_tonnes=Decimal("12.500"),
        available_from=date(2026, 12, 1),
        available_until=date(2027, 3, 31),
        description="steel slag",
        moisture_percent=Decimal("8.5"),
    )
    data = Envelope.new("catalog.offer-posted", "catalog", "offer-1", fact, id="e-1").data
    assert data == {
        "offerId": "offer-1",
        "enterpriseId": "ent-1",
        "siteId": "site-1",
        "district": "青山区",
        "latitude": "30.640000",
        "longitude": "114.410000",
        "wasteCode": "SW01",
        "hazardous": False,
        "quantityTonnes": "12.500",
        "availableFrom": "2026-12-01",
        "availableUntil": "2027-03-31",
        "description": "steel slag",
        "moisturePercent": "8.5",
        "particleSizeMm": None,
        "status": "OPEN",
        "version": 1,
    }
    assert OfferPosted.model_validate(data) == fact


@pytest.mark.parametrize("version", ["banana", "2.0", None])
def test_an_envelope_is_cloudevents_1_0(version: str | None) -> None:
    # helper-43: any specversion, or none, was taken as 1.0.
    wire = json.loads(Envelope.new("wastex.offer.submit", "ent-1", "ent-1", {}).to_json())
    assert wire["specversion"] == "1.0"
    if version is None:
        del wire["specversion"]
    else:
        wire["specversion"] = version
    with pytest.raises(ValueError, match="specversion"):
        Envelope.from_json(json.dumps(wire))
