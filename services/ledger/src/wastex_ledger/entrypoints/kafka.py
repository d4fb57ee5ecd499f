"""The ledger's consumer group `ledger` (dead letters on ledger.dlq.v1).

One idempotent batch consumer reads:
- `ingest.ledger-reports.v1`: factories' reports (`wastex.report.*`), authenticated by the
  `authorization` header (the token's enterprise must be the envelope's `source`) and
  handled by the same use case as the GraphQL report mutations;
- `catalog.site-added.v1`, `catalog.site-amended.v1`, `catalog.enterprise-registered.v1`,
  `catalog.enterprise-amended.v1`: the read models of sites (→ enterprise, district,
  industry; the latest version) and enterprises (→ district, for regulators; the latest
  version);
- `catalog.licence-registered.v1`, `catalog.licence-amended.v1`: the read model of
  recyclers' licences (a shipment no licence allows cannot leave; decision 023);
- `matching.match-confirmed.v1`: opens the manifest of each confirmed match.

A report refused by a rule (balance violation, …) is parked on the DLQ with `x-error-type`
= the rule's code. One naming a site the ledger does not know yet waits for the site's fact
and is booked or parked then (decision 029).
"""

from __future__ import annotations

from collections.abc import Mapping

from faststream.kafka import KafkaRouter

from wastex_ledger.service import REPORT_TYPES, LedgerService
from wastex_ledger.settings import LedgerSettings
from wastex_shared.auth import ingest_authenticator
from wastex_shared.envelope import Envelope
from wastex_shared.messaging import EventConsumer, EventHandler
from wastex_shared.messaging.consumer import Authenticator
from wastex_shared.messaging.subscription import subscribe
from wastex_shared.storage import UnitOfWorkFactory
from wastex_shared.topics import (
    CATALOG_ENTERPRISE_AMENDED,
    CATALOG_ENTERPRISE_REGISTERED,
    CATALOG_LICENCE_AMENDED,
    CATALOG_LICENCE_REGISTERED,
    CATALOG_SITE_ADDED,
    CATALOG_SITE_AMENDED,
    INGEST_LEDGER_REPORTS,
    MATCHING_MATCH_CONFIRMED,
)

GROUP = "ledger"
#: The factories' commands (`wastex.report.*`); other services' facts are `<service>.*`.
COMMAND_PREFIX = "wastex."
TOPICS = [
    INGEST_LEDGER_REPORTS.name,
    CATALOG_SITE_ADDED.name,
    CATALOG_SITE_AMENDED.name,
    CATALOG_ENTERPRISE_REGISTERED.name,
    CATALOG_ENTERPRISE_AMENDED.name,
    CATALOG_LICENCE_REGISTERED.name,
    CATALOG_LICENCE_AMENDED.name,
    MATCHING_MATCH_CONFIRMED.name,
]


def ingest_only(authenticate: Authenticator) -> Authenticator:
    """Authenticate the factories' commands; other services' facts carry no token."""

    def check(envelope: Envelope, headers: Mapping[str, str], at: float | None) -> str | None:
        # Every factory command (`wastex.*`), known or not yet: one parked for its type is
        # then re-driven with a token once the ledger knows it (decision 002).
        if envelope.type.startswith(COMMAND_PREFIX):
            return authenticate(envelope, headers, at)
        return None

    return check


def build_consumer(
    service: LedgerService, uow: UnitOfWorkFactory, settings: LedgerSettings
) -> EventConsumer:
    handlers: dict[str, EventHandler] = {kind: service.on_report for kind in REPORT_TYPES}
    handlers["catalog.site-added"] = service.on_site
    handlers["catalog.site-amended"] = service.on_site
    handlers["catalog.enterprise-registered"] = service.on_enterprise
    handlers["catalog.enterprise-amended"] = service.on_enterprise
    handlers["catalog.licence-registered"] = service.on_licence
    handlers["catalog.licence-amended"] = service.on_licence
    handlers["matching.match-confirmed"] = service.on_match_confirmed
    return EventConsumer(
        GROUP, uow, handlers, authenticate=ingest_only(ingest_authenticator(settings.jwt))
    )


def build_router(
    service: LedgerService, uow: UnitOfWorkFactory, settings: LedgerSettings
) -> tuple[KafkaRouter, EventConsumer]:
    consumer = build_consumer(service, uow, settings)
    router = KafkaRouter()
    subscribe(router, consumer, TOPICS, settings)
    return router, consumer
