"""Bootstrap of the ledger service: wires settings, storage, broker and the GraphQL subgraph."""

from __future__ import annotations

from starlette.applications import Starlette

from wastex_ledger.adapters.migrations import LOCATION
from wastex_ledger.adapters.rules import load_rules
from wastex_ledger.adapters.tables import messaging
from wastex_ledger.entrypoints.graphql import schema
from wastex_ledger.entrypoints.kafka import build_router
from wastex_ledger.service import LedgerConfig, LedgerService
from wastex_ledger.settings import LedgerSettings
from wastex_shared.graphql.app import SubgraphApp
from wastex_shared.runtime import build_runtime, create_app


def build_config(settings: LedgerSettings) -> LedgerConfig:
    return LedgerConfig(
        weight_tolerance=settings.weight_tolerance, rules=load_rules(settings.zero_waste_rules)
    )


def build_app(settings: LedgerSettings | None = None) -> Starlette:
    settings = settings or LedgerSettings()
    runtime = build_runtime(settings, messaging, LOCATION)
    service = LedgerService(runtime.uow, build_config(settings))
    router, consumer = build_router(service, runtime.uow, settings)
    runtime.include(router, [consumer])
    runtime.graphql_app = SubgraphApp(schema, settings.jwt, services=service, loaders=dict)
    return create_app(runtime)
