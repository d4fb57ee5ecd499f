"""What resolvers reach through `info.context.services`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from wastex_matching.service import MatchingService
from wastex_shared.messaging.live import LiveHub

if TYPE_CHECKING:
    from wastex_shared.graphql.context import Info


@dataclass
class GraphQLServices:
    matching: MatchingService
    hub: LiveHub


def services(info: Info) -> GraphQLServices:
    return cast(GraphQLServices, info.context.services)
