"""Operation limits and error hygiene, through the gateway (and each subgraph reached directly).

Limits (docs/api.md): depth 10 (the leaf counts), 2,000 tokens, 15 aliases, `first` ≤ 100 and
a query cost of at most 5,000 (each field 1; a connection's edges × `first`, default 20; other
lists × 10); a request body, or a WebSocket message, of at most 1 MiB (2 MiB at a subgraph,
which the gateway's requests carry more to). An operation over a limit gets a clear error at
once, never a timeout, and no error ever carries a stack trace or an internal message.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

from wastex_catalog.domain.credit_code import make_credit_code
from wastex_cli.stack import SERVICES, Stack
from wastex_shared.auth import Role, issue_token
from wastex_shared.calendar import Dates
from wastex_shared.graphql.extensions import MAX_COST
from wastex_shared.settings import ServiceSettings

pytestmark = pytest.mark.e2e

JWT = ServiceSettings().jwt
#: A window still to come whatever the day: only what a case means to get wrong is wrong.
WINDOW_FROM, WINDOW_UNTIL = Dates.now().window(1)
ADMIN = issue_token(JWT, Role.ADMIN)
TAG = uuid.uuid4().hex[:6]
#: This module's own district, in the e2e stack's register (tests/conftest.py).
DISTRICT = "限额区"
#: An over-limit operation is answered at once: well under any client timeout.
PROMPT_SECONDS = 10.0
#: What a leaked stack trace or driver error looks like (inputs echoed in messages never do).
LEAK = re.compile(r'Traceback|File "|\.py", line \d+|site-packages|sqlalchemy|asyncpg|aiosqlite')


@dataclass
class Api:
    http: httpx.AsyncClient
    url: str
    stack: Stack
    enterprise: str = ""
    site: str = ""

    async def post(
        self, query: str, token: str | None = ADMIN, url: str | None = None, **variables: Any
    ) -> tuple[dict[str, Any], float]:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        started = time.monotonic()
        response = await self.http.post(
            url or self.url, json={"query": query, "variables": variables}, headers=headers
        )
        elapsed = time.monotonic() - started
        assert response.status_code < 500, response.text
        body: dict[str, Any] = response.json()
        assert_no_leak(body)
        return body, elapsed

    def subgraph(self, service: str) -> str:
        return f"{self.stack.service_url(service)}/graphql"


def assert_no_leak(body: dict[str, Any]) -> None:
    for error in body.get("errors") or []:
        text = json.dumps(error, ensure_ascii=False)
        assert not LEAK.search(text), error
        assert (error.get("extensions") or {}).get("code") != "INTERNAL_SERVER_ERROR", error
        assert error.get("message") not in ("Unexpected error.", "Internal server error"), error


def error_of(body: dict[str, Any]) -> dict[str, Any]:
    errors = body.get("errors") or []
    assert errors, body
    assert not any((body.get("data") or {}).values()), body  # no data beside the error
    first: dict[str, Any] = errors[0]
    return first


def code_of(body: dict[str, Any]) -> str | None:
    code = (error_of(body).get("extensions") or {}).get("code")
    return str(code) if code is not None else None


@pytest.fixture(scope="module")
async def api(stack: Stack) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(timeout=60) as http:
        client = Api(http, stack.graphql_url, stack)
        # Three enterprises of this module's own district, for paging; a site for the first.
        for n in range(3):
            body, _ = await client.post(
                """mutation($input: RegisterEnterpriseInput!) {
                  registerEnterprise(input: $input) { enterprise { id } userErrors { code } }
                }""",
                input={
                    "name": f"Limits {n} {TAG}",
                    "creditCode": make_credit_code(f"91110100{uuid.uuid4().int % 10**9:09d}"),
                    "industry": "C3110",
                    "district": DISTRICT,
                    "kind": "FACTORY",
                },
            )
            assert body["data"]["registerEnterprise"]["userErrors"] == []
            client.enterprise = (
                client.enterprise or body["data"]["registerEnterprise"]["enterprise"]["id"]
            )
        body, _ = await client.post(
            """mutation($input: AddSiteInput!) {
              addSite(input: $input) { site { id } userErrors { code } }
            }""",
            input={
                "enterpriseId": client.enterprise,
                "name": "works",
                "district": DISTRICT,
                "latitude": "45.7500",
                "longitude": "126.6300",
            },
        )
        client.site = body["data"]["addSite"]["site"]["id"]
        yield client


def nested(levels: int) -> str:
    """An operation `levels` deep (the leaf counts) with three lists below a page of one:
    cost ~2,200, so only the depth limit can refuse it."""
    path = ["enterprises(first: 1)", "edges", "node"] + ["sites", "enterprise"] * 4
    fields = path[: levels - 1]
    body = "id"
    for field in reversed(fields):
        body = f"{field} {{ {body} }}"
    return f"{{ {body} }}"


async def test_depth_10_passes_and_11_is_refused(api: Api) -> None:
    body, _ = await api.post(nested(10))
    assert not body.get("errors"), body
    body, elapsed = await api.post(nested(11))
    assert error_of(body)["message"] == "Syntax Error: Query depth limit of 10 exceeded, found 11."
    assert elapsed < PROMPT_SECONDS


def many_tokens(codes: int) -> str:
    """An anonymous registerLicence (refused in userErrors) with `codes` list items: each
    string is one token, so the document has `codes` + 27 tokens."""
    listed = ", ".join('"SW01"' for _ in range(codes))
    return (
        'mutation { registerLicence(input: {enterpriseId: "e", number: "n", '
        f'wasteCodes: [{listed}], annualCapacityTonnes: "1", validFrom: "2026-01-01", '
        'validUntil: "2026-12-31"}) { licence { id } userErrors { code } } }'
    )


async def test_more_than_2000_tokens_are_refused(api: Api) -> None:
    body, _ = await api.post(many_tokens(1900), token=None)
    assert body["data"]["registerLicence"]["userErrors"] == [{"code": "NOT_AUTHORIZED"}]
    body, elapsed = await api.post(many_tokens(2000), token=None)
    assert error_of(body)["message"] == "Syntax Error: Token limit of 2000 exceeded."
    assert code_of(body) == "GRAPHQL_PARSE_FAILED"
    assert elapsed < PROMPT_SECONDS


def aliased(count: int) -> str:
    return (
        "{ "
        + " ".join(f'a{i}: wasteCodes(search: "SW0{i % 9}") {{ code }}' for i in range(count))
        + " }"
    )


async def test_more_than_15_aliases_are_refused(api: Api) -> None:
    body, _ = await api.post(aliased(15), token=None)
    assert not body.get("errors"), body
    body, elapsed = await api.post(aliased(16), token=None)
    assert error_of(body)["message"] == "Syntax Error: Aliases limit of 15 exceeded, found 16."
    assert elapsed < PROMPT_SECONDS


CONNECTIONS = [
    ("offers", "catalog"),
    ("demands", "catalog"),
    ("enterprises", "catalog"),
    ("matches", "matching"),
    ("manifests", "ledger"),
    ("discrepancies", "ledger"),
    ("ledgerEntries", "ledger"),
]


@pytest.mark.parametrize(("field", "service"), CONNECTIONS)
async def test_first_is_at_most_100(api: Api, field: str, service: str) -> None:
    body, _ = await api.post(f"{{ {field}(first: 100) {{ totalCount }} }}")
    assert not body.get("errors"), body
    for first in (101, -1):
        body, _ = await api.post(
            f"query($n: Int) {{ {field}(first: $n) {{ totalCount }} }}", n=first
        )
        error = error_of(body)
        assert error["extensions"]["code"] == "INVALID_PAGE_SIZE", body
        assert error["extensions"]["field"] == "first"
        assert error["extensions"]["serviceName"] == service
        assert error["message"] == "first must be between 0 and 100"


async def test_pages_follow_their_cursors(api: Api) -> None:
    query = """query($district: String!, $after: String) {
      enterprises(filter: {district: $district}, first: 2, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { id } cursor }
      }
    }"""
    first, _ = await api.post(query, district=DISTRICT)
    page = first["data"]["enterprises"]
    assert page["totalCount"] == 3
    assert page["pageInfo"]["hasNextPage"] is True
    assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
    second, _ = await api.post(query, district=DISTRICT, after=page["pageInfo"]["endCursor"])
    rest = second["data"]["enterprises"]
    assert rest["pageInfo"]["hasNextPage"] is False
    ids = [e["node"]["id"] for e in page["edges"] + rest["edges"]]
    assert len(ids) == len(set(ids)) == 3
    body, _ = await api.post(query, district=DISTRICT, after="not-a-cursor!")
    assert code_of(body) == "INVALID_CURSOR"


COSTLY = """
query($n: Int) {
  enterprises(first: $n) { edges { node { sites { name enterprise { sites { name } } } } } }
}"""


async def test_an_operation_costing_more_than_5000_is_refused_at_once(api: Api) -> None:
    # 1 + 1 + n × (node 1 + sites (1 + 10 × (name 1 + enterprise (1 + sites (1 + 10 × 1)))))
    def cost(n: int) -> int:
        return 2 + n * (1 + 1 + 10 * (1 + 1 + 1 + 10))

    assert cost(3) <= MAX_COST < cost(100)
    body, _ = await api.post(COSTLY, n=3)
    assert not body.get("errors"), body
    body, elapsed = await api.post(COSTLY, n=100)
    error = error_of(body)
    assert error["extensions"] == {
        "code": "QUERY_TOO_COMPLEX",
        "cost": cost(100),
        "maxCost": MAX_COST,
        "serviceName": "catalog",
    }
    assert f"Query cost {cost(100)} exceeds the maximum of {MAX_COST}" in error["message"]
    assert elapsed < PROMPT_SECONDS


@pytest.mark.parametrize("service", SERVICES)
async def test_a_subgraph_reached_directly_applies_the_same_limits(api: Api, service: str) -> None:
    url = api.subgraph(service)
    tokens, _ = await api.post("{ __typename " + "__typename " * 2100 + "}", url=url)
    assert "2000" in error_of(tokens)["message"]
    aliases, _ = await api.post(
        "{ " + " ".join(f"a{i}: __typename" for i in range(16)) + " }", url=url
    )
    assert code_of(aliases) == "GRAPHQL_VALIDATION_FAILED"
    if service == "catalog":
        deep, _ = await api.post(nested(11), url=url)
        assert "maximum operation depth of 10" in error_of(deep)["message"]
        costly, _ = await api.post(COSTLY, url=url, n=100)
        assert code_of(costly) == "QUERY_TOO_COMPLEX"


BAD_REQUESTS: dict[str, tuple[str, dict[str, Any], str | None]] = {
    "syntax": ("{ offers(first: ", {}, "GRAPHQL_PARSE_FAILED"),
    "unknown field": ("{ offerz { id } }", {}, "GRAPHQL_VALIDATION_FAILED"),
    "wrong variable type": (
        "query($n: Int) { offers(first: $n) { totalCount } }",
        {"n": "twenty"},
        None,  # the gateway answers this itself, without a code
    ),
    "bad cursor": ('{ manifests(after: "%%%") { totalCount } }', {}, "INVALID_CURSOR"),
    "bad period": ('{ utilisation(from: "2026-13", to: "x") { rate } }', {}, "INVALID_PERIOD"),
    "bad decimal literal": (
        'mutation { reportGeneration(input: {siteId: "s", wasteCode: "SW01", tonnes: "abc", '
        'period: "2026-11"}) { entry { id } } }',
        {},
        "BAD_USER_INPUT",
    ),
    "bad date variable": (
        "mutation($input: PostOfferInput!) { postOffer(input: $input) { offer { id } } }",
        {
            "input": {
                "siteId": "s",
                "wasteCode": "SW01",
                "quantityTonnes": "1",
                "availableFrom": "2026-13-45",
                "availableUntil": "soon",
            }
        },
        "BAD_USER_INPUT",
    ),
    "NUL in a literal": ('{ offer(id: "abc\\u0000") { id } }', {}, "BAD_USER_INPUT"),
    "NUL in a variable": (
        "mutation($input: PostOfferInput!) { postOffer(input: $input) { offer { id } } }",
        {
            "input": {
                "siteId": "s",
                "wasteCode": "SW01",
                "quantityTonnes": "1",
                "availableFrom": WINDOW_FROM,
                "availableUntil": WINDOW_UNTIL,
                "description": "slag\x00",
            }
        },
        "BAD_USER_INPUT",
    ),
    "int out of range": (
        "query($n: Int) { offers(first: $n) { totalCount } }",
        {"n": 2**40},
        None,
    ),
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
async def test_bad_requests_get_a_clear_error_and_no_internals(api: Api, case: str) -> None:
    query, variables, code = BAD_REQUESTS[case]
    body, elapsed = await api.post(query, **variables)
    error = error_of(body)  # post() has checked: no 5xx, no stack trace, nothing masked
    assert error["message"]
    if code is not None:
        assert code_of(body) == code, body
    assert elapsed < PROMPT_SECONDS


SUGGESTED: dict[str, tuple[str, dict[str, Any]]] = {
    "a field": ("{ offerz { id } }", {}),
    # graphql-armor's plugin hid only `Did you mean "x"?` in validation errors: these were
    # told in full (helper-72).
    "an enum value": ("{ enterprises(filter: {kind: FACTOR}) { totalCount } }", {}),
    "an enum value of a variable": (
        "query($f: EnterpriseFilter) { enterprises(filter: $f) { totalCount } }",
        {"f": {"kind": "FACTOR"}},
    ),
    "a field of a variable": (
        "query($f: OfferFilter) { offers(filter: $f) { totalCount } }",
        {"f": {"wasteCod": "SW01"}},
    ),
}


@pytest.mark.parametrize("case", list(SUGGESTED))
async def test_suggestions_are_hidden(api: Api, case: str) -> None:
    query, variables = SUGGESTED[case]
    body, _ = await api.post(query, **variables)
    message = error_of(body)["message"]
    assert "Did you mean" not in message
    assert "[Suggestion hidden]" in message


async def test_a_subgraphs_own_suggestion_is_its_answer(api: Api) -> None:
    """A district the register lacks is refused naming the one meant: the catalog's answer."""
    body, _ = await api.post('{ offers(filter: {district: "青山"}) { totalCount } }')
    assert error_of(body)["message"].endswith("did you mean '青山区'?"), body


async def test_an_absurd_quantity_is_a_user_error_not_a_crash(api: Api) -> None:
    body, _ = await api.post(
        """mutation($input: PostOfferInput!) {
          postOffer(input: $input) { offer { id } userErrors { code } }
        }""",
        token=issue_token(JWT, Role.ENTERPRISE, api.enterprise),
        input={
            "siteId": api.site,
            "wasteCode": "SW59",
            "quantityTonnes": "1e30",
            "availableFrom": WINDOW_FROM,
            "availableUntil": WINDOW_UNTIL,
        },
    )
    assert body["data"]["postOffer"]["userErrors"][0]["code"] == "INVALID_QUANTITY"


@pytest.mark.parametrize(
    "query",
    [
        "{ demands { totalCount } offers(first: 101) { totalCount } }",
        '{ manifests { totalCount } manifest(id: "no-such-manifest") { id } }',
    ],
)
async def test_one_failing_root_field_does_not_mask_the_others(api: Api, query: str) -> None:
    body, _ = await api.post(query)
    codes = {(e.get("extensions") or {}).get("code") for e in body["errors"]}
    assert codes & {"INVALID_PAGE_SIZE", "NOT_FOUND"}
    assert "INTERNAL_SERVER_ERROR" not in codes
    healthy, failing = body["data"].values()  # root fields in the order asked
    assert isinstance(healthy["totalCount"], int)
    assert failing is None


async def test_the_schema_and_waste_codes_need_no_token(api: Api) -> None:
    body, _ = await api.post(
        "{ __schema { queryType { name } mutationType { name } subscriptionType { name } } "
        'wasteCodes(search: "SW01") { code hazardous } }',
        token=None,
    )
    assert body["data"]["__schema"]["subscriptionType"] == {"name": "Subscription"}
    assert body["data"]["wasteCodes"] == [{"code": "SW01", "hazardous": False}]


async def test_graphiql_is_served_to_a_browser(api: Api) -> None:
    async with api.http.stream("GET", api.url, headers={"accept": "text/html"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        head = b""
        async for chunk in response.aiter_bytes():
            head += chunk
            if len(head) > 4096:
                break
    assert b"<title>wastex GraphQL</title>" in head


HUGE = "x" * (2 * 1024 * 1024)  # a variable alone over the limits (gateway 1, subgraphs 2 MiB)


def huge_body() -> bytes:
    return json.dumps({"query": "{ __typename }", "variables": {"pad": HUGE}}).encode()


@pytest.mark.parametrize("service", [None, *SERVICES])
async def test_a_body_over_the_limit_is_refused_unread(api: Api, service: str | None) -> None:
    """Read whole and parsed before any operation limit looked at it (variables are not the
    document the token limit counts): a client could make a service hold any amount."""
    url = api.subgraph(service) if service else api.url
    response = await api.http.post(
        url, content=huge_body(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413, response.text
    assert code_of(response.json()) == "REQUEST_TOO_LARGE"
    body, _ = await api.post("{ __typename }", url=url)  # and it goes on
    assert body["data"]["__typename"] == "Query", body


@pytest.mark.parametrize("service", [None, *SERVICES])
async def test_a_client_asking_first_is_refused_before_it_sends_the_body(
    api: Api, service: str | None
) -> None:
    """`expect: 100-continue` (curl's way with large bodies): the refusal, not a "continue"."""
    url = httpx.URL(api.subgraph(service) if service else api.url)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    try:
        writer.write(
            f"POST {url.path} HTTP/1.1\r\nhost: {url.host}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(huge_body())}\r\n"
            "expect: 100-continue\r\n\r\n".encode()
        )
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), PROMPT_SECONDS)
    finally:
        writer.close()
    assert status.split()[1] == b"413", status


async def chunks() -> AsyncIterator[bytes]:
    body = huge_body()
    for start in range(0, len(body), 64 * 1024):
        yield body[start : start + 64 * 1024]


@pytest.mark.parametrize("service", SERVICES)
async def test_a_body_not_saying_its_length_is_cut_at_the_limit(api: Api, service: str) -> None:
    response = await api.http.post(
        api.subgraph(service), content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413, response.text
    assert code_of(response.json()) == "REQUEST_TOO_LARGE"


async def test_the_gateway_wants_a_body_to_say_its_length(api: Api) -> None:
    response = await api.http.post(
        api.url, content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 411, response.text
    assert code_of(response.json()) == "LENGTH_REQUIRED"


@pytest.mark.parametrize("service", [None, *SERVICES])
async def test_a_websocket_message_over_the_limit_closes_the_socket(
    api: Api, service: str | None
) -> None:
    url = (api.subgraph(service) if service else api.url).replace("http", "ws", 1)
    socket = await connect(
        url,
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        max_size=None,
    )
    await socket.send(json.dumps({"type": "connection_init", "payload": {"pad": HUGE}}))
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(socket.recv(), PROMPT_SECONDS)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == CloseCode.MESSAGE_TOO_BIG
