"""The catalog's Kafka consumers: ingest commands from factories, and matching's lifecycle.

Two consumers, both calling the same use cases as GraphQL:
- ingest (`ingest.offers.v1`, `ingest.demands.v1`): every message must carry
  `authorization: Bearer <token>` of the enterprise named in `source` (FORGED_SOURCE
  otherwise); the use case acts on behalf of that enterprise.
- matching lifecycle (`matching.match-*.v1`): service events, no token; they hold and
  release tonnes on offers and demands.
They are separate consumer groups so a lifecycle event can never ride in on an ingest topic
without a token, and both dead-letter to the one `catalog.dlq.v1`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from faststream.kafka import KafkaRouter

from wastex_catalog.domain import errors as codes
from wastex_catalog.domain.listing import AlreadyWithdrawn
from wastex_catalog.matches import LIFECYCLE, apply_match_event
from wastex_catalog.service import AmendDemand, AmendOffer, CatalogService, PostDemand, PostOffer
from wastex_catalog.settings import CatalogSettings
from wastex_shared import topics
from wastex_shared.auth import ingest_authenticator
from wastex_shared.calendar import china_day
from wastex_shared.envelope import Envelope
from wastex_shared.errors import DomainError
from wastex_shared.events.ingest import (
    DemandAmend,
    DemandSubmit,
    DemandWithdraw,
    OfferAmend,
    OfferSubmit,
    OfferWithdraw,
)
from wastex_shared.events.matching import MatchFacts
from wastex_shared.messaging import EventConsumer, EventHandler
from wastex_shared.messaging.subscription import subscribe
from wastex_shared.storage import UnitOfWork, UnitOfWorkFactory

INGEST_TOPICS = [topics.INGEST_OFFERS.name, topics.INGEST_DEMANDS.name]
LIFECYCLE_TOPICS = [
    topics.MATCHING_MATCH_ACCEPTED.name,
    topics.MATCHING_MATCH_CONFIRMED.name,
    topics.MATCHING_MATCH_REJECTED.name,
    topics.MATCHING_MATCH_SUPERSEDED.name,
    topics.MATCHING_MATCH_EXPIRED.name,
    topics.MATCHING_MATCH_CANCELLED.name,
    topics.MATCHING_MATCH_SHIPPED.name,
]


@contextlib.contextmanager
def already_so(amendment: OfferAmend | DemandAmend | None = None) -> Iterator[None]:
    """An amendment the listing already reads as, or a withdrawal of a listing its owner
    already withdrew, is done, not dead-lettered: a factory's system re-sends its state
    under a new message id, and nothing is left to change. An amendment that gives no term
    at all re-sends no state: it is refused (NOTHING_TO_AMEND) as over GraphQL."""
    try:
        yield
    except AlreadyWithdrawn:
        pass
    except DomainError as err:
        if err.code != codes.NOTHING_TO_AMEND or (
            amendment is not None and not gives_a_term(amendment)
        ):
            raise


def gives_a_term(amendment: OfferAmend | DemandAmend) -> bool:
    """Whether an amendment gives any term a value; null leaves a term as it is (a value
    once given is corrected, never removed), so `{"id": …, "moisturePercent": null}` asks
    for nothing, however a factory meant it."""
    return any(value is not None for name, value in amendment if name != "id")


def ingest_handlers(service: CatalogService) -> dict[str, EventHandler]:
    """Ingest type → handler; the owner is the (authenticated) `source` enterprise."""

    async def submit_offer(uow: UnitOfWork, envelope: Envelope, data: OfferSubmit) -> None:
        command = PostOffer(
            site_id=data.site_id,
            waste_code=data.waste_code,
            quantity_tonnes=data.quantity_tonnes,
            available_from=data.available_from,
            available_until=data.available_until,
            description=data.description,
            moisture_percent=data.moisture_percent,
            particle_size_mm=data.particle_size_mm,
        )
        await service.post_offer(uow, command, owner=envelope.source, cause=envelope)

    async def withdraw_offer(uow: UnitOfWork, envelope: Envelope, data: OfferWithdraw) -> None:
        with already_so():
            await service.withdraw_offer(uow, data.id, owner=envelope.source, cause=envelope)

    async def amend_offer(uow: UnitOfWork, envelope: Envelope, data: OfferAmend) -> None:
        command = AmendOffer(
            offer_id=data.id,
            quantity_tonnes=data.quantity_tonnes,
            available_from=data.available_from,
            available_until=data.available_until,
            description=data.description,
            moisture_percent=data.moisture_percent,
            particle_size_mm=data.particle_size_mm,
        )
        with already_so(data):
            await service.amend_offer(uow, command, owner=envelope.source, cause=envelope)

    async def submit_demand(uow: UnitOfWork, envelope: Envelope, data: DemandSubmit) -> None:
        command = PostDemand(
            site_id=data.site_id,
            waste_codes=data.waste_codes,
            quantity_tonnes=data.quantity_tonnes,
            max_distance_km=data.max_distance_km,
            available_from=data.available_from,
            available_until=data.available_until,
        )
        await service.post_demand(uow, command, owner=envelope.source, cause=envelope)

    async def amend_demand(uow: UnitOfWork, envelope: Envelope, data: DemandAmend) -> None:
        command = AmendDemand(
            demand_id=data.id,
            quantity_tonnes=data.quantity_tonnes,
            max_distance_km=data.max_distance_km,
            available_from=data.available_from,
            available_until=data.available_until,
        )
        with already_so(data):
            await service.amend_demand(uow, command, owner=envelope.source, cause=envelope)

    async def withdraw_demand(uow: UnitOfWork, envelope: Envelope, data: DemandWithdraw) -> None:
        with already_so():
            await service.withdraw_demand(uow, data.id, owner=envelope.source, cause=envelope)

    return {
        "wastex.offer.submit": submit_offer,
        "wastex.offer.withdraw": withdraw_offer,
        "wastex.offer.amend": amend_offer,
        "wastex.demand.submit": submit_demand,
        "wastex.demand.withdraw": withdraw_demand,
        "wastex.demand.amend": amend_demand,
    }


def lifecycle_handlers() -> dict[str, EventHandler]:
    """Matching lifecycle type → handler (the same ones replay drives). A listing given its
    tonnes back past its last day expires, judged on the event's day, not the reading's:
    a replay long after gives the listings the live run gave them."""

    def handler_for(event_type: str) -> EventHandler:
        async def apply(uow: UnitOfWork, envelope: Envelope, data: MatchFacts) -> None:
            day = china_day(envelope.time)
            await apply_match_event(uow, event_type, data, envelope, today=day)

        apply.__name__ = f"apply_{event_type.rsplit('.', 1)[-1].replace('-', '_')}"
        return apply

    return {event_type: handler_for(event_type) for event_type in sorted(LIFECYCLE)}


def build_router(
    settings: CatalogSettings, uow: UnitOfWorkFactory, service: CatalogService
) -> tuple[KafkaRouter, list[EventConsumer]]:
    ingest = EventConsumer(
        settings.consumer_group,
        uow,
        ingest_handlers(service),
        authenticate=ingest_authenticator(settings.jwt),
    )
    lifecycle = EventConsumer(f"{settings.consumer_group}.matching", uow, lifecycle_handlers())
    for consumer in (ingest, lifecycle):
        # One dead-letter topic for the service, whatever the group is called.
        consumer.dlq_topic = topics.CATALOG_DLQ.name
    router = KafkaRouter()
    subscribe(router, ingest, INGEST_TOPICS, settings)
    subscribe(router, lifecycle, LIFECYCLE_TOPICS, settings)
    return router, [ingest, lifecycle]
