"""The ASGI GraphQL app of a subgraph: HTTP and graphql-transport-ws on `/graphql`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.federation import Schema
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL

from wastex_shared.auth import JwtConfig
from wastex_shared.graphql.context import Context


class SubgraphApp(GraphQL[Context, None]):
    def __init__(
        self, schema: Schema, jwt: JwtConfig, services: Any, loaders: Callable[[], dict[str, Any]]
    ) -> None:
        super().__init__(
            schema,
            subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL],
            graphql_ide="graphiql",
        )
        self._jwt = jwt
        self._services = services
        self._loaders = loaders

    def decode_json(self, data: str | bytes) -> object:
        """A request body or WebSocket message: a JSON object, or it does not parse (400,
        or the socket closed 4400). strawberry reads either with `json.loads` and goes on
        with what it got: a body or message nested a thousand deep raised RecursionError,
        and one that was no object (`42`, `null`) failed reading its fields, each an
        uncaught exception (HTTP 500, a socket dropped without a close frame)."""
        try:
            decoded = json.loads(data)
        except RecursionError as exc:
            raise json.JSONDecodeError("nested too deeply", "", 0) from exc
        if not isinstance(decoded, dict):
            raise json.JSONDecodeError("not a JSON object", "", 0)
        return decoded

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        return Context(
            jwt=self._jwt,
            request=request,
            response=response,
            services=self._services,
            loaders=self._loaders(),
        )
