"""Bootstrap of the catalog service: wires settings, storage, broker and the GraphQL subgraph."""

from __future__ import annotations

from starlette.applications import Starlette

from wastex_catalog.adapters.migrations import LOCATION
from wastex_catalog.adapters.tables import messaging
from wastex_catalog.entrypoints.graphql import schema
from wastex_catalog.settings import CatalogSettings
from wastex_shared.graphql.app import SubgraphApp
from wastex_shared.runtime import build_runtime, create_app


def build_app(settings: CatalogSettings | None = None) -> Starlette:
    settings = settings or CatalogSettings()
    runtime = build_runtime(settings, messaging, LOCATION)
    runtime.graphql_app = SubgraphApp(schema, settings.jwt, services=None, loaders=dict)
    return create_app(runtime)
