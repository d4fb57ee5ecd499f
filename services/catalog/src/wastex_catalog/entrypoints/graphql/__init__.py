"""The catalog subgraph: types, inputs, queries, mutations and the one access policy."""

from wastex_catalog.entrypoints.graphql.schema import schema

__all__ = ["schema"]
