"""Bootstrap of the ledger service: wires settings, storage, broker, the live feed of
manifests, the revocation sweep, the sweep of reports that waited too long for their site
(and their count on `/metrics`) and the GraphQL subgraph."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from starlette.applications import Starlette

from wastex_ledger.adapters.migrations import LOCATION
from wastex_ledger.adapters.rules import load_rules
from wastex_ledger.adapters.tables import messaging
from wastex_ledger.entrypoints.graphql import GraphQLServices, schema
from wastex_ledger.entrypoints.graphql.subscriptions import MANIFEST_TOPICS
from wastex_ledger.entrypoints.kafka import build_router
from wastex_ledger.entrypoints.metrics import waiting_lines
from wastex_ledger.service import LedgerConfig, LedgerService
from wastex_ledger.settings import LedgerSettings
from wastex_shared.codes.district_file import load_districts
from wastex_shared.envelope import utcnow
from wastex_shared.graphql.app import SubgraphApp
from wastex_shared.messaging.live import KafkaLiveFeed, LiveHub
from wastex_shared.runtime import Runtime, build_runtime, create_app
from wastex_shared.storage import periodic_sweep

#: Topics the live feed pushes to subscribers.
LIVE_TOPICS = [*MANIFEST_TOPICS]


@dataclass
class LedgerProcess:
    """The wired parts of one ledger process (the app serves them; tests reach in)."""

    runtime: Runtime
    service: LedgerService
    hub: LiveHub
    feed: KafkaLiveFeed | None


def build_config(settings: LedgerSettings) -> LedgerConfig:
    return LedgerConfig(
        weight_tolerance=settings.weight_tolerance,
        load_over_plan=settings.load_over_plan,
        rules=load_rules(settings.zero_waste_rules),
        revocation_grace_days=settings.revocation_grace_days,
        districts=load_districts(settings.districts_file),
        report_wait=timedelta(hours=settings.report_wait_hours),
        year_closes_on=settings.year_close,
    )


def build_graphql_app(
    settings: LedgerSettings, service: LedgerService, hub: LiveHub
) -> SubgraphApp:
    """The subgraph alone (no lifespan: no broker, no live feed), e.g. for tests."""
    return SubgraphApp(schema, settings.jwt, services=GraphQLServices(service, hub), loaders=dict)


def build_process(settings: LedgerSettings) -> LedgerProcess:
    runtime = build_runtime(settings, messaging, LOCATION)
    service = LedgerService(runtime.uow, build_config(settings))
    router, consumer = build_router(service, runtime.uow, settings)
    runtime.include(router, [consumer])
    runtime.background.append(
        periodic_sweep(
            service.cancel_cut,
            name="revocation sweep",
            interval_seconds=settings.revocation_sweep_seconds,
            wake=service.revocations,
        )
    )
    runtime.background.append(
        periodic_sweep(
            service.give_up_waiting,
            name="waiting reports sweep",
            interval_seconds=settings.report_wait_sweep_seconds,
        )
    )

    async def waiting_metrics() -> list[str]:
        return waiting_lines(settings.service, await service.waiting_census(), utcnow())

    runtime.metrics.append(waiting_metrics)
    hub = LiveHub()
    feed = runtime.live_feed(LIVE_TOPICS, hub) if settings.live_feed else None
    runtime.graphql_app = build_graphql_app(settings, service, hub)
    return LedgerProcess(runtime, service, hub, feed)


def build_app(settings: LedgerSettings | None = None) -> Starlette:
    return create_app(build_process(settings or LedgerSettings()).runtime)
