"""The gateway's edge towards browsers: which pages may read its answers (CORS), and what a
page may send without asking first (CSRF).

The e2e stack's gateway runs with `WASTEX_GATEWAY_CORS_ORIGINS` unset (as `make run` does):
pages served from this machine (`http://localhost:<any port>`, `127.0.0.1`, `[::1]`) may call
it, no other. A second gateway, in front of the same subgraphs, runs with a list.

A browser sends a form (urlencoded, multipart or text/plain) anywhere, from any site, without a
preflight: the gateway takes only JSON bodies, and a GET only with a header a page cannot set
without a preflight (`authorization`, or `x-graphql-yoga-csrf`).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin, Subprotocol

from wastex_catalog.domain.credit_code import make_credit_code
from wastex_cli.stack import REPO, Stack
from wastex_shared.auth import Role, issue_token
from wastex_shared.devtools.tansu import free_port
from wastex_shared.settings import ServiceSettings

pytestmark = pytest.mark.e2e

LISTED = ("https://app.wastex.example", "http://localhost:5173")
STRANGER = "https://attacker.example"
ADMIN = issue_token(ServiceSettings().jwt, Role.ADMIN)
BEARER = {"authorization": f"Bearer {ADMIN}"}
#: This module's own district, in the e2e stack's register (tests/conftest.py).
DISTRICT = "跨站区"


@pytest.fixture(scope="module")
def listing_gateway(stack: Stack) -> Iterator[str]:
    """A gateway with `WASTEX_GATEWAY_CORS_ORIGINS` set, in front of the stack's subgraphs."""
    port = free_port()
    env = stack.env() | {
        "WASTEX_GATEWAY_PORT": str(port),
        "WASTEX_GATEWAY_CORS_ORIGINS": ", ".join([*LISTED, "https://app.wastex.example/"]),
    }
    gateway = subprocess.Popen(
        ["node", str(REPO / "gateway" / "gateway.mjs")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert gateway.stdout is not None
        line = gateway.stdout.readline()  # the listening line, or why it stopped
        assert line.startswith("wastex gateway listening"), line + gateway.stdout.read()
        yield f"http://127.0.0.1:{port}/graphql"
    finally:
        gateway.terminate()
        gateway.wait(timeout=10)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


async def preflight(http: httpx.AsyncClient, url: str, origin: str) -> httpx.Response:
    """What a browser asks before a page at `origin` POSTs JSON with a token."""
    return await http.options(
        url,
        headers={
            "origin": origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type",
        },
    )


async def query_from(http: httpx.AsyncClient, url: str, origin: str) -> httpx.Response:
    response = await http.post(url, json={"query": "{ __typename }"}, headers={"origin": origin})
    assert response.json() == {"data": {"__typename": "Query"}}  # answered either way
    return response


def assert_allowed(response: httpx.Response, origin: str) -> None:
    assert response.headers.get("access-control-allow-origin") == origin
    assert "origin" in response.headers.get("vary", "").lower()
    assert "access-control-allow-credentials" not in response.headers


def assert_refused(response: httpx.Response) -> None:
    assert "origin" in response.headers.get("vary", "").lower()
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-credentials" not in response.headers


@pytest.mark.parametrize("origin", ["http://localhost:5173", "http://127.0.0.1:3000"])
async def test_by_default_a_page_on_this_machine_may_call_the_gateway(
    stack: Stack, http: httpx.AsyncClient, origin: str
) -> None:
    answer = await preflight(http, stack.graphql_url, origin)
    assert answer.status_code == 204
    assert_allowed(answer, origin)
    allowed = answer.headers["access-control-allow-headers"].lower().replace(" ", "").split(",")
    assert {"authorization", "content-type"} <= set(allowed)
    assert set(answer.headers["access-control-allow-methods"].replace(" ", "").split(",")) == {
        "GET",
        "POST",
        "OPTIONS",
    }
    assert_allowed(await query_from(http, stack.graphql_url, origin), origin)


@pytest.mark.parametrize("origin", [STRANGER, "null", "http://localhost.attacker.example"])
async def test_by_default_no_other_page_may(
    stack: Stack, http: httpx.AsyncClient, origin: str
) -> None:
    assert_refused(await preflight(http, stack.graphql_url, origin))
    assert_refused(await query_from(http, stack.graphql_url, origin))


@pytest.mark.parametrize("origin", LISTED)
async def test_a_listed_origin_may_call_the_gateway(
    listing_gateway: str, http: httpx.AsyncClient, origin: str
) -> None:
    answer = await preflight(http, listing_gateway, origin)
    assert answer.status_code == 204
    assert_allowed(answer, origin)
    assert_allowed(await query_from(http, listing_gateway, origin), origin)


@pytest.mark.parametrize("origin", [STRANGER, "null", "http://localhost:3000"])
async def test_an_origin_not_listed_may_not(
    listing_gateway: str, http: httpx.AsyncClient, origin: str
) -> None:
    """Not even another port of localhost: the list replaces the default."""
    assert_refused(await preflight(http, listing_gateway, origin))
    assert_refused(await query_from(http, listing_gateway, origin))


REGISTER = """mutation($input: RegisterEnterpriseInput!) {
  registerEnterprise(input: $input) { enterprise { id } userErrors { code } }
}"""


def enterprise() -> dict[str, str]:
    return {
        "name": f"Forged {uuid.uuid4().hex[:6]}",
        "creditCode": make_credit_code(f"91110100{uuid.uuid4().int % 10**9:09d}"),
        "industry": "C3110",
        "district": DISTRICT,
        "kind": "FACTORY",
    }


def forms(variables: dict[str, Any]) -> dict[str, tuple[str, bytes]]:
    """The mutation as each body a page can send cross-site without a preflight (and as
    `application/graphql`, which the gateway took too): content type and body."""
    as_json = json.dumps({"query": REGISTER, "variables": variables})
    urlencoded = httpx.QueryParams({"query": REGISTER, "variables": json.dumps(variables)})
    boundary = "wastexboundary"
    multipart = (
        f'--{boundary}\r\ncontent-disposition: form-data; name="query"\r\n\r\n{REGISTER}\r\n'
        f'--{boundary}\r\ncontent-disposition: form-data; name="variables"\r\n\r\n'
        f"{json.dumps(variables)}\r\n--{boundary}--\r\n"
    )
    return {
        "urlencoded": ("application/x-www-form-urlencoded", str(urlencoded).encode()),
        "multipart": (f"multipart/form-data; boundary={boundary}", multipart.encode()),
        "text": ("text/plain;charset=UTF-8", as_json.encode()),
        "graphql": ("application/graphql", REGISTER.encode()),
    }


@pytest.mark.parametrize("form", ["urlencoded", "multipart", "text", "graphql"])
@pytest.mark.parametrize("token", [True, False], ids=["with a token", "without"])
async def test_a_post_that_is_not_json_is_refused_and_reaches_no_subgraph(
    stack: Stack, http: httpx.AsyncClient, form: str, token: bool
) -> None:
    """A page on any site can make its visitor's browser send a form; were the gateway to
    take it, a deployment adding cookies would act on the visitor's behalf. With a token (no
    browser sends one unasked) it is refused too: the API's bodies are JSON."""
    variables = {"input": enterprise()}
    content_type, body = forms(variables)[form]
    headers = {"content-type": content_type, "origin": STRANGER} | (BEARER if token else {})
    refused = await http.post(stack.graphql_url, content=body, headers=headers)
    assert 400 <= refused.status_code < 500, refused.text
    assert "registerEnterprise" not in refused.text
    # the same enterprise registers as JSON: the form's never reached the catalog
    registered = await http.post(
        stack.graphql_url, json={"query": REGISTER, "variables": variables}, headers=BEARER
    )
    assert registered.status_code == 200
    assert registered.json()["data"]["registerEnterprise"]["userErrors"] == []


async def test_a_json_post_from_a_listed_page_registers(
    listing_gateway: str, http: httpx.AsyncClient
) -> None:
    response = await http.post(
        listing_gateway,
        json={"query": REGISTER, "variables": {"input": enterprise()}},
        headers=BEARER | {"origin": LISTED[0]},
    )
    assert_allowed(response, LISTED[0])
    assert response.json()["data"]["registerEnterprise"]["userErrors"] == []


QUERY = {"query": '{ wasteCodes(search: "SW01") { code } }'}


async def test_a_get_query_needs_a_header_no_page_sends_unasked(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    """An `<img src>` or a link is a GET with no such header."""
    refused = await http.get(stack.graphql_url, params=QUERY, headers={"origin": STRANGER})
    assert refused.status_code == 403, refused.text
    # Said as the gateway's other refusals are: a code a client can act on, and the remedy.
    [error] = refused.json()["errors"]
    assert error["extensions"]["code"] == "CSRF_HEADER_REQUIRED"
    assert "x-graphql-yoga-csrf" in error["message"]
    for header in (BEARER, {"x-graphql-yoga-csrf": "1"}):
        answer = await http.get(stack.graphql_url, params=QUERY, headers=header)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"data": {"wasteCodes": [{"code": "SW01"}]}}


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_subscription_over_sse_still_streams(
    stack: Stack, http: httpx.AsyncClient, method: str
) -> None:
    """As the GraphQL IDE subscribes (GET, `accept: text/event-stream`, its headers) or a
    client POSTing JSON: the stream opens; its first event is the keep-alive or an offer."""
    query = {"query": "subscription { offerPosted { id } }"}
    headers = BEARER | {"accept": "text/event-stream"}
    request = (
        http.build_request("GET", stack.graphql_url, params=query, headers=headers)
        if method == "GET"
        else http.build_request("POST", stack.graphql_url, json=query, headers=headers)
    )
    response = await http.send(request, stream=True)
    try:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        first = await anext(response.aiter_text())
        assert first.startswith(":") or first.startswith("event: next"), first
    finally:
        await response.aclose()


async def connection_ack(url: str, origin: str | None) -> dict[str, Any]:
    """Opens a graphql-transport-ws socket (as a page at `origin` would) and inits it."""
    async with connect(
        url.replace("http", "ws", 1),
        subprotocols=[Subprotocol("graphql-transport-ws")],
        origin=Origin(origin) if origin else None,
    ) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": BEARER}))
        answer: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), 10))
        return answer


@pytest.mark.parametrize("origin", [None, "http://localhost:5173"])
async def test_a_websocket_from_an_allowed_page_or_no_page_opens(
    stack: Stack, origin: str | None
) -> None:
    assert await connection_ack(stack.graphql_url, origin) == {"type": "connection_ack"}


async def test_a_websocket_from_the_gateways_own_page_opens(listing_gateway: str) -> None:
    """The GraphQL IDE, served by the gateway itself, is not in the list and need not be."""
    own = listing_gateway.removesuffix("/graphql")
    assert await connection_ack(listing_gateway, own) == {"type": "connection_ack"}


@pytest.mark.parametrize("origin", [STRANGER, "null"])
async def test_a_websocket_from_another_page_is_refused(stack: Stack, origin: str) -> None:
    """Browsers apply no CORS to a WebSocket: a page on any site could open one and, on a
    developer's machine, subscribe with an admin token signed with the public dev secret."""
    with pytest.raises(InvalidStatus) as refused:
        await connection_ack(stack.graphql_url, origin)
    assert refused.value.response.status_code == 403


REBOUND = "rebound.attacker.example"


async def test_a_name_rebound_to_this_machine_is_not_answered(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    """DNS rebinding: a site whose name its owner points at 127.0.0.1 once its page is open
    is same-origin to that page, so neither CORS nor the WebSocket check holds it back; a
    gateway on loopback answers only requests naming this machine (Host)."""
    port = httpx.URL(stack.graphql_url).port
    answer = await http.post(
        stack.graphql_url,
        json={"query": "{ __typename }"},
        headers={"host": f"{REBOUND}:{port}", "origin": f"http://{REBOUND}:{port}", **BEARER},
    )
    assert answer.status_code == 421
    assert answer.json()["errors"][0]["extensions"]["code"] == "MISDIRECTED_REQUEST"
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}"):
        named = await http.post(
            stack.graphql_url, json={"query": "{ __typename }"}, headers={"host": host}
        )
        assert named.json() == {"data": {"__typename": "Query"}}


async def test_a_websocket_to_a_name_rebound_to_this_machine_is_refused(stack: Stack) -> None:
    url = httpx.URL(stack.graphql_url)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    try:
        writer.write(
            (
                f"GET {url.path} HTTP/1.1\r\nHost: {REBOUND}:{url.port}\r\n"
                f"Origin: http://{REBOUND}:{url.port}\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), 10)
    finally:
        writer.close()
    assert status.startswith(b"HTTP/1.1 421")
