"""What resolvers reach through `info.context.services`: the ledger's use cases and the live
hub its subscription reads."""

from __future__ import annotations

from dataclasses import dataclass

from wastex_ledger.service import LedgerService
from wastex_shared.graphql.context import Info, services_of
from wastex_shared.messaging.live import LiveHub


@dataclass(frozen=True, slots=True)
class GraphQLServices:
    ledger: LedgerService
    hub: LiveHub


def services(info: Info) -> GraphQLServices:
    return services_of(info, GraphQLServices)


def ledger(info: Info) -> LedgerService:
    return services(info).ledger
