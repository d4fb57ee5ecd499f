"""Bootstrap of the matching service: wires settings, storage, broker, consumers, background
tasks (re-optimiser, expiry sweep, live feed) and the GraphQL subgraph."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.applications import Starlette

from wastex_matching.adapters.migrations import LOCATION
from wastex_matching.adapters.tables import messaging
from wastex_matching.entrypoints.graphql import GraphQLServices, schema
from wastex_matching.entrypoints.graphql.offer_feed import OFFER_CHANGES
from wastex_matching.entrypoints.graphql.schema import MATCH_CHANGES
from wastex_matching.entrypoints.kafka import build_router
from wastex_matching.entrypoints.metrics import round_lines
from wastex_matching.reoptimiser_process import ReoptimiserProcess
from wastex_matching.service import MatchingService
from wastex_matching.settings import MatchingSettings
from wastex_shared.graphql.app import SubgraphApp
from wastex_shared.messaging.live import KafkaLiveFeed, LiveHub
from wastex_shared.runtime import Runtime, build_runtime, create_app
from wastex_shared.storage.lease import in_memory
from wastex_shared.topics import CATALOG_OFFER_POSTED, MATCHING_MATCH_PROPOSED

#: Topics the live feed pushes to subscribers.
LIVE_TOPICS = [
    MATCHING_MATCH_PROPOSED.name,
    CATALOG_OFFER_POSTED.name,
    *OFFER_CHANGES,
    *MATCH_CHANGES,
]


@dataclass
class MatchingProcess:
    """The wired parts of one matching process (the app serves them; tests reach in)."""

    runtime: Runtime
    service: MatchingService
    hub: LiveHub
    feed: KafkaLiveFeed | None
    #: The child running the rounds (None when they run in this process).
    rounds: ReoptimiserProcess | None = None


def build_graphql_app(
    settings: MatchingSettings, service: MatchingService, hub: LiveHub
) -> SubgraphApp:
    """The subgraph alone (no lifespan: no broker, no background tasks), e.g. for tests."""
    return SubgraphApp(schema, settings.jwt, services=GraphQLServices(service, hub), loaders=dict)


def build_process(settings: MatchingSettings) -> MatchingProcess:
    runtime = build_runtime(settings, messaging, LOCATION)
    service = MatchingService(runtime.uow, settings)
    hub = LiveHub()
    router, consumer = build_router(service, settings)
    runtime.include(router, [consumer])
    rounds: ReoptimiserProcess | None = None
    if settings.reoptimiser_process and not in_memory(runtime.uow.engine):
        rounds = ReoptimiserProcess(settings, service, runtime.uow)
        runtime.background.append(rounds.run)
        runtime.metrics.append(rounds.metric_lines)
    else:
        runtime.background.append(service.run_reoptimiser)
        runtime.background.append(service.run_expiry_sweeper)

    async def round_metrics() -> list[str]:
        # Read at each scrape: the child's totals replace the service's as they come.
        return round_lines(settings.service, service.totals)

    runtime.metrics.append(round_metrics)
    feed = runtime.live_feed(LIVE_TOPICS, hub) if settings.live_feed else None
    runtime.graphql_app = build_graphql_app(settings, service, hub)
    return MatchingProcess(runtime, service, hub, feed, rounds)


def build_app(settings: MatchingSettings | None = None) -> Starlette:
    return create_app(build_process(settings or MatchingSettings()).runtime)
