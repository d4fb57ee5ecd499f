"""The ledger's strawberry federation subgraph: `schema` (for the SDL and the app) and the
`GraphQLServices` its resolvers reach."""

from __future__ import annotations

import strawberry

from wastex_ledger.entrypoints.graphql.mutations import Mutation
from wastex_ledger.entrypoints.graphql.queries import Query
from wastex_ledger.entrypoints.graphql.subscriptions import Subscription
from wastex_ledger.entrypoints.graphql.wiring import GraphQLServices
from wastex_shared.graphql.extensions import standard_extensions
from wastex_shared.graphql.scalars import SCALARS

schema = strawberry.federation.Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    federation_version="2.9",
    extensions=standard_extensions(),
    scalar_overrides=SCALARS,
)

__all__ = ["GraphQLServices", "schema"]
