"""Subscription events through the gateway carry the entity as it stands at each event.

An offer pushed by matching's `offerChanged` is a reference whose fields the gateway fetches
from the catalog (`_entities`) for every event. The gateway's entity loader lives as long
as the subscription's context: left caching, every push after the first repeated the
offer as the first push had read it.

A match pushed by matching carries its offer and demand as references too, which the
catalog resolves with the subscriber's token: one the subscriber may not read there (a
regulator's match whose offer lies in another district, a party's proposal whose offer
left the market) is null with its error, and the match is still pushed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncGenerator
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from wastex_catalog.domain.credit_code import make_credit_code
from wastex_cli.mutations import (
    ADD_SITE,
    POST_DEMAND,
    POST_OFFER,
    REGISTER_ENTERPRISE,
    REGISTER_LICENCE,
)
from wastex_cli.stack import Stack
from wastex_shared.auth import Role, issue_token
from wastex_shared.calendar import Dates
from wastex_shared.settings import ServiceSettings
from wastex_shared.testing.graphql_client import GraphQLClient

pytestmark = pytest.mark.e2e

JWT = ServiceSettings().jwt
#: Dates from today (China's): the stack judges windows and licences on its clock.
DATES = Dates.now()
LICENCE = dict(zip(("validFrom", "validUntil"), DATES.licence_validity(3), strict=True))
WINDOW = dict(zip(("availableFrom", "availableUntil"), DATES.window(2), strict=True))
CODE = "SW11"  # no other e2e module trades it: only this module's offers are pushed
OFFER_CHANGED = (
    'subscription { offerChanged(wasteCodes: ["SW11"]) { id quantityTonnes description } }'
)
AMEND_OFFER = """
mutation($id: ID!, $input: AmendOfferInput!) {
  amendOffer(id: $id, input: $input) { offer { id } userErrors { field message code } }
}"""


async def messages_of(url: str, token: str, query: str) -> AsyncGenerator[dict[str, Any], None]:
    """`query` subscribed over graphql-transport-ws through the gateway as `token`'s holder:
    every message after the acknowledgement, but the pings it answers, until the socket
    closes."""
    async with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as socket:
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        await socket.send(json.dumps(init))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        async for raw in socket:
            message = json.loads(raw)
            if message.get("type") == "ping":
                await socket.send(json.dumps({"type": "pong"}))
            else:
                yield message


async def payload(client: GraphQLClient, query: str, field: str, **variables: Any) -> Any:
    result = (await client.data(query, **variables))[field]
    assert result["userErrors"] == [], result["userErrors"]
    return result


async def register(admin: GraphQLClient, kind: str, district: str = "蔡甸区") -> str:
    result = await payload(
        admin,
        REGISTER_ENTERPRISE,
        "registerEnterprise",
        input={
            "name": f"E2E {kind} {uuid.uuid4().hex[:6]}",
            "creditCode": make_credit_code(f"91420100{uuid.uuid4().int % 10**9:09d}"),
            "industry": "C3120" if kind == "FACTORY" else "C3011",
            "district": district,
            "kind": kind,
        },
    )
    return str(result["enterprise"]["id"])


async def test_offer_changed_pushes_the_offer_as_it_now_stands(stack: Stack) -> None:
    gateway = GraphQLClient(stack.graphql_url)
    admin = gateway.as_(issue_token(JWT, Role.ADMIN))
    factory, recycler = await register(admin, "FACTORY"), await register(admin, "RECYCLER")
    factory_client = gateway.as_(issue_token(JWT, Role.ENTERPRISE, factory))
    recycler_token = issue_token(JWT, Role.RECYCLER, recycler)
    site = await payload(
        factory_client,
        ADD_SITE,
        "addSite",
        input={
            "enterpriseId": factory,
            "name": "slag yard",
            "district": "蔡甸区",
            "latitude": "30.5800",
            "longitude": "114.0300",
        },
    )
    await payload(
        admin,
        REGISTER_LICENCE,
        "registerLicence",
        input={
            "enterpriseId": recycler,
            "number": f"E2E-{uuid.uuid4().hex[:6]}",
            "wasteCodes": [CODE],
            "annualCapacityTonnes": "1000",
            **LICENCE,
        },
    )
    posted = await payload(
        factory_client,
        POST_OFFER,
        "postOffer",
        input={
            "siteId": site["site"]["id"],
            "wasteCode": CODE,
            "quantityTonnes": "10.000",
            **WINDOW,
            "description": "as posted",
        },
    )
    offer = str(posted["offer"]["id"])

    pushes: list[dict[str, Any]] = []

    async def listen() -> None:
        url = stack.graphql_url.replace("http://", "ws://")
        async with contextlib.aclosing(messages_of(url, recycler_token, OFFER_CHANGED)) as got:
            async for message in got:
                if message.get("type") == "next":
                    assert not message["payload"].get("errors"), message
                    pushes.append(message["payload"]["data"]["offerChanged"])

    async def amend(tonnes: str, description: str) -> None:
        await payload(
            factory_client,
            AMEND_OFFER,
            "amendOffer",
            id=offer,
            input={"quantityTonnes": tonnes, "description": description},
        )

    listener = asyncio.create_task(listen())
    try:
        # Until the subscription is open and matching has read the recycler's licence, an
        # amendment may go unheard: amend until one is pushed.
        async with asyncio.timeout(60):
            attempt = 0
            while not pushes:
                attempt += 1
                await amend(f"{10 + attempt}.000", f"weighed {attempt}")
                for _ in range(30):
                    if pushes:
                        break
                    await asyncio.sleep(0.1)
        heard = len(pushes)
        await amend("42.000", "weighed again")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(30):
                while len(pushes) == heard:
                    await asyncio.sleep(0.1)
        assert all(push["id"] == offer for push in pushes)
        latest = pushes[-1]
        assert (latest["quantityTonnes"], latest["description"]) == ("42.000", "weighed again"), (
            pushes
        )
    finally:
        listener.cancel()
        with contextlib.suppress(BaseException):
            await listener


#: Matches of this code are this test's alone (no other e2e module trades it).
CROSS_CODE = "SW12"
MATCH_PROPOSED = (
    "subscription { matchProposed {"
    " id wasteCode status offer { id wasteCode } demand { id wasteCodes } } }"
)


async def listen(url: str, token: str, query: str, messages: list[dict[str, Any]]) -> None:
    """Every `next` payload (data and errors) of `query` is appended to `messages`."""
    async with contextlib.aclosing(messages_of(url, token, query)) as got:
        async for message in got:
            if message.get("type") == "next":
                messages.append(message["payload"])


async def test_a_match_is_pushed_when_its_offer_is_not_the_subscriber_s_to_read(
    stack: Stack,
) -> None:
    """The regulator of the recycler's district oversees the match but not the factory's
    offer, which lies in another district: the proposal reaches it with the offer null
    (NOT_AUTHORIZED, from the catalog), not as a push with no data at all."""
    gateway = GraphQLClient(stack.graphql_url)
    admin = gateway.as_(issue_token(JWT, Role.ADMIN))
    factory = await register(admin, "FACTORY", "蔡甸区")
    recycler = await register(admin, "RECYCLER", "汉阳区")
    factory_client = gateway.as_(issue_token(JWT, Role.ENTERPRISE, factory))
    recycler_client = gateway.as_(issue_token(JWT, Role.RECYCLER, recycler))
    sites = {}
    for name, client, owner, district in (
        ("factory", factory_client, factory, "蔡甸区"),
        ("recycler", recycler_client, recycler, "汉阳区"),
    ):
        added = await payload(
            client,
            ADD_SITE,
            "addSite",
            input={
                "enterpriseId": owner,
                "name": f"{name} yard",
                "district": district,
                "latitude": "30.5500",
                "longitude": "114.1500",
            },
        )
        sites[name] = str(added["site"]["id"])
    await payload(
        admin,
        REGISTER_LICENCE,
        "registerLicence",
        input={
            "enterpriseId": recycler,
            "number": f"E2E-{uuid.uuid4().hex[:6]}",
            "wasteCodes": [CROSS_CODE],
            "annualCapacityTonnes": "100000",
            **LICENCE,
        },
    )
    demand = await payload(
        recycler_client,
        POST_DEMAND,
        "postDemand",
        input={
            "siteId": sites["recycler"],
            "wasteCodes": [CROSS_CODE],
            "quantityTonnes": "10000",
            "maxDistanceKm": "40",
            **WINDOW,
        },
    )
    regulator = issue_token(JWT, Role.REGULATOR, district="汉阳区")
    messages: list[dict[str, Any]] = []
    url = stack.graphql_url.replace("http://", "ws://")
    listener = asyncio.create_task(listen(url, regulator, MATCH_PROPOSED, messages))

    def ours() -> list[dict[str, Any]]:
        # The regulator may hear of other modules' matches in its district: not of this code.
        return [
            m
            for m in messages
            if m.get("data") is None or m["data"]["matchProposed"]["wasteCode"] == CROSS_CODE
        ]

    try:
        # Until the subscription is open, a proposal may go unheard: post until one is.
        async with asyncio.timeout(90):
            while not ours():
                await payload(
                    factory_client,
                    POST_OFFER,
                    "postOffer",
                    input={
                        "siteId": sites["factory"],
                        "wasteCode": CROSS_CODE,
                        "quantityTonnes": "3.000",
                        **WINDOW,
                    },
                )
                for _ in range(50):
                    if ours():
                        break
                    await asyncio.sleep(0.1)
        pushed = ours()[0]
        assert pushed.get("data") is not None, pushed
        match = pushed["data"]["matchProposed"]
        assert (match["status"], match["offer"]) == ("PROPOSED", None), match
        assert match["demand"] == {"id": demand["demand"]["id"], "wasteCodes": [CROSS_CODE]}
        [error] = pushed["errors"]
        assert error["path"][:2] == ["matchProposed", "offer"], error
        assert error["extensions"]["code"] == "NOT_AUTHORIZED", error
    finally:
        listener.cancel()
        with contextlib.suppress(BaseException):
            await listener


async def test_a_subscription_whose_service_goes_away_ends_with_a_masked_error(
    stack: Stack,
) -> None:
    """The ledger stops under an open manifestChanged: the subscription ends (error, then
    complete: subscribe again) with the gateway's masked error, as any unexpected failure
    does, not the transport's own message naming the service's address."""
    admin = issue_token(JWT, Role.ADMIN)
    url = stack.graphql_url.replace("http://", "ws://")
    messages: list[dict[str, Any]] = []

    async def listen_until_complete() -> None:
        query = "subscription { manifestChanged { id status } }"
        async with contextlib.aclosing(messages_of(url, admin, query)) as got:
            async for message in got:
                messages.append(message)
                if message.get("type") in ("complete", "error"):
                    return

    listener = asyncio.create_task(listen_until_complete())
    try:
        await asyncio.sleep(2)  # let the gateway open the ledger's subscription
        assert not listener.done(), messages
        await asyncio.to_thread(stack.kill, "ledger")
        async with asyncio.timeout(60):
            await listener
    finally:
        listener.cancel()
        with contextlib.suppress(BaseException):
            await listener
        await asyncio.to_thread(stack.restart, "ledger")
    *pushed, last = messages
    assert last["type"] == "complete", messages
    errors = [error for message in pushed for error in message["payload"].get("errors", [])]
    assert errors, messages
    for error in errors:
        assert error["message"] == "Unexpected error.", error
        assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR", error
        assert str(stack.ports.ledger) not in json.dumps(error), error
