"""The catalog subgraph's schema (federation v2.9, the highest the composers accept)."""

from __future__ import annotations

import strawberry

from wastex_catalog.entrypoints.graphql.mutation import Mutation
from wastex_catalog.entrypoints.graphql.query import Query
from wastex_catalog.entrypoints.graphql.types import Demand, Enterprise, Offer, Site, WasteCode
from wastex_shared.graphql.extensions import standard_extensions
from wastex_shared.graphql.scalars import SCALARS

schema = strawberry.federation.Schema(
    query=Query,
    mutation=Mutation,
    types=[Enterprise, Site, Offer, Demand, WasteCode],
    federation_version="2.9",
    extensions=standard_extensions(),
    scalar_overrides=SCALARS,
)
