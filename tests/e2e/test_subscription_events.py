"""Subscription events through the gateway carry the entity as it stands at each event.

An offer pushed by matching's `offerChanged` is a reference whose fields the gateway fetches
from the catalog (`_entities`) for every event. The gateway's entity loader lives as long
as the subscription's context: left caching, every push after the first repeated the
offer as the first push had read it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from typing import Any

import pytest
from websockets.asyncio.client import connect

from wastex_catalog.domain.credit_code import make_credit_code
from wastex_cli.mutations import ADD_SITE, POST_OFFER, REGISTER_ENTERPRISE, REGISTER_LICENCE
from wastex_cli.stack import Stack
from wastex_shared.auth import Role, issue_token
from wastex_shared.settings import ServiceSettings
from wastex_shared.testing.graphql_client import GraphQLClient

pytestmark = pytest.mark.e2e

JWT = ServiceSettings().jwt
CODE = "SW11"  # no other e2e module trades it: only this module's offers are pushed
OFFER_CHANGED = (
    'subscription { offerChanged(wasteCodes: ["SW11"]) { id quantityTonnes description } }'
)
AMEND_OFFER = """
mutation($id: ID!, $input: AmendOfferInput!) {
  amendOffer(id: $id, input: $input) { offer { id } userErrors { field message code } }
}"""


async def payload(client: GraphQLClient, query: str, field: str, **variables: Any) -> Any:
    result = (await client.data(query, **variables))[field]
    assert result["userErrors"] == [], result["userErrors"]
    return result


async def register(admin: GraphQLClient, kind: str) -> str:
    result = await payload(
        admin,
        REGISTER_ENTERPRISE,
        "registerEnterprise",
        input={
            "name": f"E2E {kind} {uuid.uuid4().hex[:6]}",
            "creditCode": make_credit_code(f"91420100{uuid.uuid4().int % 10**9:09d}"),
            "industry": "C3120" if kind == "FACTORY" else "C3011",
            "district": "蔡甸区",
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
            "validFrom": "2026-01-01",
            "validUntil": "2028-12-31",
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
            "availableFrom": "2026-12-01",
            "availableUntil": "2027-01-31",
            "description": "as posted",
        },
    )
    offer = str(posted["offer"]["id"])

    pushes: list[dict[str, Any]] = []

    async def listen() -> None:
        url = stack.graphql_url.replace("http://", "ws://")
        async with connect(url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
            await socket.send(
                json.dumps(
                    {
                        "type": "connection_init",
                        "payload": {"Authorization": f"Bearer {recycler_token}"},
                    }
                )
            )
            assert json.loads(await socket.recv())["type"] == "connection_ack"
            await socket.send(
                json.dumps({"id": "1", "type": "subscribe", "payload": {"query": OFFER_CHANGED}})
            )
            async for raw in socket:
                message = json.loads(raw)
                if message.get("type") == "ping":
                    await socket.send(json.dumps({"type": "pong"}))
                elif message.get("type") == "next":
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
