"""Bootstrap of the matching service: wires settings, storage, broker and the GraphQL subgraph."""

from __future__ import annotations

from starlette.applications import Starlette

from wastex_matching.adapters.migrations import LOCATION
from wastex_matching.adapters.tables import messaging
from wastex_matching.entrypoints.graphql import schema
from wastex_matching.settings import MatchingSettings
from wastex_shared.graphql.app import SubgraphApp
from wastex_shared.runtime import build_runtime, create_app


def build_app(settings: MatchingSettings | None = None) -> Starlette:
    settings = settings or MatchingSettings()
    runtime = build_runtime(settings, messaging, LOCATION)
    runtime.graphql_app = SubgraphApp(schema, settings.jwt, services=None, loaders=dict)
    return create_app(runtime)
