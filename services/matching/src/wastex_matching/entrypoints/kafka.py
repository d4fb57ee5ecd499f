"""Kafka entrypoint (one consumer group): the catalog facts matching keeps read models of,
and the ledger's shipments called off before they left (their matches are cancelled) or
dispatched (a lighter load gives the rest back: decision 032)."""

from __future__ import annotations

from faststream.kafka import KafkaRouter

from wastex_matching.service import MatchingService
from wastex_matching.settings import MatchingSettings
from wastex_shared.messaging import EventConsumer
from wastex_shared.messaging.subscription import subscribe
from wastex_shared.topics import (
    CATALOG_DEMAND_AMENDED,
    CATALOG_DEMAND_POSTED,
    CATALOG_DEMAND_UPDATED,
    CATALOG_DEMAND_WITHDRAWN,
    CATALOG_ENTERPRISE_AMENDED,
    CATALOG_ENTERPRISE_REGISTERED,
    CATALOG_LICENCE_AMENDED,
    CATALOG_LICENCE_REGISTERED,
    CATALOG_OFFER_AMENDED,
    CATALOG_OFFER_POSTED,
    CATALOG_OFFER_UPDATED,
    CATALOG_OFFER_WITHDRAWN,
    CATALOG_SITE_ADDED,
    CATALOG_SITE_AMENDED,
    LEDGER_SHIPMENT_CANCELLED,
    LEDGER_SHIPMENT_DISPATCHED,
)

#: Consumed by the `matching` group, and re-read from offset 0 by replay.
CATALOG_TOPICS = [
    topic.name
    for topic in (
        CATALOG_ENTERPRISE_REGISTERED,
        CATALOG_ENTERPRISE_AMENDED,
        CATALOG_SITE_ADDED,
        CATALOG_SITE_AMENDED,
        CATALOG_LICENCE_REGISTERED,
        CATALOG_LICENCE_AMENDED,
        CATALOG_OFFER_POSTED,
        CATALOG_OFFER_AMENDED,
        CATALOG_OFFER_WITHDRAWN,
        CATALOG_OFFER_UPDATED,
        CATALOG_DEMAND_POSTED,
        CATALOG_DEMAND_AMENDED,
        CATALOG_DEMAND_WITHDRAWN,
        CATALOG_DEMAND_UPDATED,
    )
]


#: The ledger's facts on confirmed matches (not read models: replay leaves them be).
LEDGER_TOPICS = [LEDGER_SHIPMENT_CANCELLED.name, LEDGER_SHIPMENT_DISPATCHED.name]


def matching_consumer(service: MatchingService, settings: MatchingSettings) -> EventConsumer:
    return EventConsumer(settings.service, service.uow_factory, service.handlers())


def build_router(
    service: MatchingService, settings: MatchingSettings
) -> tuple[KafkaRouter, EventConsumer]:
    consumer = matching_consumer(service, settings)
    router = KafkaRouter()
    subscribe(router, consumer, [*CATALOG_TOPICS, *LEDGER_TOPICS], settings)
    return router, consumer
