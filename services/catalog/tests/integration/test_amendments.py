"""An owner amends an offer or a demand without taking it off the market: through GraphQL
and over Kafka, refused as a typed user error when a rule is broken, and published whole as
`catalog.offer-amended` / `catalog.demand-amended` for matching. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from wastex_catalog.entrypoints.kafka import ingest_handlers
from wastex_catalog.service import CatalogService, aggregate_id
from wastex_catalog.testing import (
    ADMIN,
    AMEND_DEMAND,
    AMEND_OFFER,
    DATES,
    DISTRICTS,
    OFFER,
    REVOKE_LICENCE,
    WINDOW,
    WITHDRAW_OFFER,
    Api,
    World,
    build_world,
    envelope_json,
    outbox_events,
    running_catalog,
)
from wastex_shared.calendar import first_of_month
from wastex_shared.envelope import Envelope
from wastex_shared.errors import DomainError
from wastex_shared.events import spec_for
from wastex_shared.events.ingest import OfferAmend
from wastex_shared.events.matching import MatchAccepted
from wastex_shared.storage import UnitOfWorkFactory
from wastex_shared.topics import INGEST_DEMANDS, INGEST_OFFERS

from .test_kafka_ingest import Message, dead_letters, ingest_settings, produce, setup_party
from .test_match_allocation import apply, facts


@pytest.fixture
async def world(api: Api) -> World:
    return await build_world(api)  # offer 120.500 t of SW01, demand 500.000 t; WINDOW


async def amended_events(factory: UnitOfWorkFactory, topic: str) -> list[Envelope]:
    return [envelope for name, _, envelope in await outbox_events(factory) if name == topic]


async def test_the_owner_amends_an_offer_and_the_whole_offer_is_published(
    api: Api, world: World, uow_factory: UnitOfWorkFactory
) -> None:
    steel = api.tenant(world.steel)
    shorter = DATES.window(4)[1]  # WINDOW is seven months long
    payload = await steel.mutate(
        AMEND_OFFER,
        "amendOffer",
        id=world.offer,
        input={"quantityTonnes": "90", "availableUntil": shorter, "moisturePercent": "8"},
    )
    offer = payload["offer"]
    assert (offer["quantityTonnes"], offer["remainingTonnes"], offer["status"]) == (
        "90.000",
        "90.000",
        "OPEN",
    )
    assert (offer["availableFrom"], offer["availableUntil"]) == (WINDOW["availableFrom"], shorter)
    assert offer["description"] == "BOF steel slag, <10 mm"  # not given: as posted
    read = (await steel.data(OFFER, id=world.offer))["offer"]
    assert read["quantityTonnes"] == "90.000"
    [event] = await amended_events(uow_factory, "catalog.offer-amended.v1")
    assert event.subject == world.offer
    data = event.data
    assert data["changed"] == ["quantityTonnes", "availableUntil", "moisturePercent"]
    assert (data["version"], data["quantityTonnes"], data["remainingTonnes"]) == (
        2,
        "90.000",
        "90.000",
    )
    # The whole offer, as a consumer that never saw the posting needs it.
    assert (data["siteId"], data["wasteCode"], data["district"]) == (
        world.steel_site,
        "SW01",
        "青山区",
    )
    assert (data["latitude"], data["longitude"]) == ("30.64", "114.41")


async def test_an_amendment_is_refused_with_a_typed_user_error(api: Api, world: World) -> None:
    async def refused(tenant: str, **terms: Any) -> tuple[str, str | None]:
        errors = await api.tenant(tenant).user_errors(
            AMEND_OFFER, "amendOffer", id=world.offer, input=terms
        )
        return errors[0]["code"], errors[0]["field"]

    assert await refused(world.cement, quantityTonnes="1") == ("NOT_AUTHORIZED", "id")
    assert await refused(world.steel, quantityTonnes="-1") == ("INVALID_QUANTITY", "quantityTonnes")
    assert await refused(world.steel, availableUntil="2026-01-01") == (
        "INVALID_WINDOW",
        "availableUntil",
    )
    assert await refused(world.steel, quantityTonnes="120.5") == ("NOTHING_TO_AMEND", "input")
    unknown = await api.tenant(world.steel).user_errors(
        AMEND_OFFER, "amendOffer", id="no-such-offer", input={"quantityTonnes": "1"}
    )
    assert unknown[0]["code"] == "NOT_FOUND"
    await api.tenant(world.steel).mutate(WITHDRAW_OFFER, "withdrawOffer", id=world.offer)
    assert (await refused(world.steel, quantityTonnes="1"))[0] == "INVALID_TRANSITION"


async def test_held_tonnes_stay_and_a_fully_matched_offer_comes_back_with_more(
    api: Api, world: World, uow_factory: UnitOfWorkFactory
) -> None:
    await apply(uow_factory, facts(world, MatchAccepted, "m-held", "100"))
    steel = api.tenant(world.steel)
    below = await steel.user_errors(
        AMEND_OFFER, "amendOffer", id=world.offer, input={"quantityTonnes": "99.999"}
    )
    assert (below[0]["code"], below[0]["field"]) == ("QUANTITY_BELOW_MATCHED", "quantityTonnes")
    full = await steel.mutate(
        AMEND_OFFER, "amendOffer", id=world.offer, input={"quantityTonnes": "100"}
    )
    assert (full["offer"]["status"], full["offer"]["remainingTonnes"]) == ("FULLY_MATCHED", "0.000")
    more = await steel.mutate(
        AMEND_OFFER, "amendOffer", id=world.offer, input={"quantityTonnes": "130"}
    )
    offer = more["offer"]
    assert (offer["status"], offer["matchedTonnes"], offer["remainingTonnes"]) == (
        "PARTIALLY_MATCHED",
        "100.000",
        "30.000",
    )
    events = await amended_events(uow_factory, "catalog.offer-amended.v1")
    # Versions: 1 posted, 2 the hold (offer-updated), 3 and 4 the amendments.
    assert [(e.data["status"], e.data["version"]) for e in events] == [
        ("FULLY_MATCHED", 3),
        ("PARTIALLY_MATCHED", 4),
    ]


async def test_a_demand_amended_checks_a_new_window_against_its_licences(
    api: Api, world: World, uow_factory: UnitOfWorkFactory
) -> None:
    cement = api.tenant(world.cement)
    # The licence covers WINDOW (`Api.register_licence`); revoked from its last month on.
    last_licensed = DATES.window(6)[1]
    revoked_from = first_of_month(DATES.today, 7).isoformat()
    await api.as_(ADMIN).mutate(
        REVOKE_LICENCE,
        "revokeLicence",
        id=world.licence,
        reason="kiln line closed",
        effectiveFrom=revoked_from,
    )
    radius = {"maxDistanceKm": "40"}
    cut = (await cement.mutate(AMEND_DEMAND, "amendDemand", id=world.demand, input=radius))[
        "demand"
    ]
    assert (cut["maxDistanceKm"], cut["licensedUntil"]) == ("40", last_licensed)
    beyond = await cement.user_errors(
        AMEND_DEMAND, "amendDemand", id=world.demand, input={"availableFrom": revoked_from}
    )
    assert (beyond[0]["code"], beyond[0]["field"]) == ("LICENCE_REVOKED", "availableFrom")
    inside = (
        await cement.mutate(
            AMEND_DEMAND,
            "amendDemand",
            id=world.demand,
            input={"availableUntil": last_licensed, "quantityTonnes": "450"},
        )
    )["demand"]
    assert (inside["availableUntil"], inside["licensedUntil"], inside["quantityTonnes"]) == (
        last_licensed,
        None,
        "450.000",
    )
    events = await amended_events(uow_factory, "catalog.demand-amended.v1")
    assert [e.data["changed"] for e in events] == [
        ["maxDistanceKm"],
        ["quantityTonnes", "availableUntil"],
    ]
    assert events[-1].data["wasteCodes"] == ["SW01"]
    other = await api.tenant(world.steel).user_errors(
        AMEND_DEMAND, "amendDemand", id=world.demand, input={"quantityTonnes": "1"}
    )
    assert other[0]["code"] == "NOT_AUTHORIZED"


def amendment(party: Any, kind: str, data: dict[str, Any]) -> Message:
    topic = INGEST_OFFERS if kind == "offer" else INGEST_DEMANDS
    value = envelope_json(f"wastex.{kind}.amend", party.enterprise, data)
    return Message(topic.name, party.enterprise, value, party.auth)


async def test_factories_amend_over_kafka_and_a_refused_amendment_is_dead_lettered(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    settings = ingest_settings(database_url, kafka_bootstrap, tmp_path)
    async with running_catalog(settings) as api:
        steel = await setup_party(api, "Amending Steel", "FACTORY", "青山区")
        foundry = await setup_party(api, "Meddling Foundry", "FACTORY", "汉阳区")
        posting = steel.offer()
        offer_id = aggregate_id("offer", Envelope.from_json(posting.value))
        await produce(
            kafka_bootstrap,
            [
                posting,  # amended in the same batch it is posted in
                amendment(steel, "offer", {"id": offer_id, "quantityTonnes": "75.250"}),
            ],
        )

        async def quantity() -> str | None:
            body = await api.as_(ADMIN).execute(OFFER, id=offer_id)  # NOT_FOUND until posted
            offer = (body.get("data") or {}).get("offer")
            return None if offer is None else str(offer["quantityTonnes"])

        async with asyncio.timeout(60):
            while await quantity() != "75.250":
                await asyncio.sleep(0.2)
        await produce(
            kafka_bootstrap, [amendment(foundry, "offer", {"id": offer_id, "quantityTonnes": "1"})]
        )
        parked = await dead_letters(kafka_bootstrap, {foundry.enterprise}, 1, timeout=120)
        assert dict(parked[0].headers)["x-error-type"] == b"NOT_AUTHORIZED"
        assert await quantity() == "75.250"


async def test_an_amendment_sent_again_under_a_new_id_is_done_not_dead_lettered(
    world: World, uow_factory: UnitOfWorkFactory
) -> None:
    """A factory's system re-sends the state it holds: the second message finds nothing to
    change (NOTHING_TO_AMEND) and is taken as done; a broken rule still raises."""
    amend = ingest_handlers(CatalogService(districts=DISTRICTS))["wastex.offer.amend"]

    async def send(quantity: str) -> None:
        data = OfferAmend(id=world.offer, quantity_tonnes=Decimal(quantity))
        message = Envelope.new("wastex.offer.amend", world.steel, world.offer, data)
        async with uow_factory() as uow:
            await amend(uow, message, data)
            await uow.commit()

    await send("99")
    await send("99")
    with pytest.raises(DomainError) as refused:
        await send("0")
    assert refused.value.code == "INVALID_QUANTITY"
    events = await amended_events(uow_factory, "catalog.offer-amended.v1")
    assert [e.data["quantityTonnes"] for e in events] == ["99.000"]


async def test_amend_offer_or_demand_with_an_empty_input_says_no_term_was_given(
    world: World, api: Api
) -> None:
    """`amendOffer(input: {})` was answered "offer … already reads so", as if the terms
    sent were the offer's own."""
    for mutation, document, owner, listing in (
        ("amendOffer", AMEND_OFFER, world.steel, world.offer),
        ("amendDemand", AMEND_DEMAND, world.cement, world.demand),
    ):
        [error] = await api.tenant(owner).user_errors(document, mutation, id=listing, input={})
        kind = "offer" if mutation == "amendOffer" else "demand"
        assert (error["code"], error["field"], error["message"]) == (
            "NOTHING_TO_AMEND",
            "input",
            f"no term of {kind} {listing} was given to amend: name at least one "
            "(a term left out or null stays as it is)",
        )


async def test_an_amendment_that_gives_no_term_is_refused_over_kafka_as_over_graphql(
    world: World, uow_factory: UnitOfWorkFactory, api: Api
) -> None:
    """`amendOffer(input: {moisturePercent: null})` is refused NOTHING_TO_AMEND (a value once
    given is corrected, never removed); the same over Kafka was taken as a state re-sent and
    done, so a factory that meant to clear the moisture never heard that nothing changed."""
    handlers = ingest_handlers(CatalogService(districts=DISTRICTS))
    over_graphql = await api.tenant(world.steel).user_errors(
        AMEND_OFFER, "amendOffer", id=world.offer, input={"moisturePercent": None}
    )
    assert (over_graphql[0]["code"], over_graphql[0]["field"]) == ("NOTHING_TO_AMEND", "input")

    async def send(kind: str, owner: str, data: dict[str, Any]) -> DomainError:
        event_type = f"wastex.{kind}.amend"
        spec = spec_for(event_type)
        assert spec is not None
        message = Envelope.from_json(envelope_json(event_type, owner, data))
        with pytest.raises(DomainError) as refused:
            async with uow_factory() as uow:
                await handlers[event_type](uow, message, spec.model.model_validate(data))
        return refused.value

    for kind, owner, listing in (
        ("offer", world.steel, world.offer),
        ("demand", world.cement, world.demand),
    ):
        for data in ({"id": listing}, {"id": listing, "quantityTonnes": None}):
            refused = await send(kind, owner, data)
            assert (refused.code, refused.field) == ("NOTHING_TO_AMEND", "input")
    assert await amended_events(uow_factory, "catalog.offer-amended.v1") == []
