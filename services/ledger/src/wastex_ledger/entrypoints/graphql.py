"""The subgraph schema (skeleton until the service's issue lands)."""

from __future__ import annotations

import strawberry

from wastex_shared.graphql.extensions import standard_extensions


@strawberry.type
class Query:
    @strawberry.field
    def service_name(self) -> str:
        return __name__.split(".")[0]


schema = strawberry.federation.Schema(
    query=Query, federation_version="2.9", extensions=standard_extensions()
)
