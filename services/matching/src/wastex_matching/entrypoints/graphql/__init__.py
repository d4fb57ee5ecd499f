"""The matching subgraph (strawberry federation): types, queries, mutations, subscriptions,
and the one policy module deciding who sees and does what."""

from wastex_matching.entrypoints.graphql.schema import schema
from wastex_matching.entrypoints.graphql.wiring import GraphQLServices

__all__ = ["GraphQLServices", "schema"]
