"""The gateway's edge towards browsers: which pages may read its answers (CORS).

The e2e stack's gateway runs with `WASTEX_GATEWAY_CORS_ORIGINS` unset (as `make run` does):
pages served from this machine (`http://localhost:<any port>`, `127.0.0.1`, `[::1]`) may call
it, no other. A second gateway, in front of the same subgraphs, runs with a list.
"""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from wastex_cli.stack import REPO, Stack
from wastex_shared.devtools.tansu import free_port

pytestmark = pytest.mark.e2e

LISTED = ("https://app.wastex.example", "http://localhost:5173")
STRANGER = "https://attacker.example"


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
