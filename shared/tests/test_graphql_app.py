"""The subgraph's ASGI app reading what a client sends it directly (no gateway before it)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import strawberry
from starlette.types import Message

from wastex_shared.auth import JwtConfig
from wastex_shared.graphql.app import SubgraphApp
from wastex_shared.graphql.extensions import standard_extensions


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        return "hello"


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def ticks(self) -> AsyncIterator[int]:
        yield 1


schema = strawberry.federation.Schema(
    query=Query,
    subscription=Subscription,
    federation_version="2.9",
    extensions=standard_extensions(),
)
app = SubgraphApp(schema, JwtConfig(), services=None, loaders=dict)
DEEP = '{"query": "{ hello }", "variables": {"v": ' + "[" * 100_000 + "]" * 100_000 + "}}"


@pytest.mark.parametrize("body", [DEEP, "42", "null", '"{ hello }"'])
async def test_a_body_that_is_no_json_object_is_a_bad_request(body: str) -> None:
    """Nested a thousand deep, strawberry's json.loads raised RecursionError; not an
    object, reading its `query` raised AttributeError: both were HTTP 500."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://subgraph") as http:
        response = await http.post(
            "/graphql", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400, response.text
        fine = await http.post("/graphql", json={"query": "{ hello }"})
        assert fine.json() == {"data": {"hello": "hello"}}


async def exchange(text: str) -> list[Message]:
    """What the app sends a WebSocket client (graphql-transport-ws) whose first message is
    `text`, until it closes the socket."""
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    inbox.put_nowait({"type": "websocket.connect"})
    inbox.put_nowait({"type": "websocket.receive", "text": text})
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)
        if message["type"] == "websocket.close":
            inbox.put_nowait({"type": "websocket.disconnect", "code": message["code"]})

    scope = {
        "type": "websocket",
        "path": "/graphql",
        "query_string": b"",
        "headers": [(b"sec-websocket-protocol", b"graphql-transport-ws")],
        "subprotocols": ["graphql-transport-ws"],
    }
    await asyncio.wait_for(app(scope, inbox.get, send), 5)
    return sent


@pytest.mark.parametrize("message", [DEEP, "42", "[]"])
async def test_a_websocket_message_that_is_no_json_object_closes_the_socket_with_4400(
    message: str,
) -> None:
    """The same messages failed the protocol handler (RecursionError, TypeError): the
    socket was dropped without a close frame, the exception logged as the ASGI app's."""
    sent = await exchange(message)
    assert sent[-1]["type"] == "websocket.close", sent
    assert sent[-1]["code"] == 4400, sent
