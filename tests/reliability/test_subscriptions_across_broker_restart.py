"""Subscriptions open through the gateway stay open across a broker restart (tansu on s3
storage, as Apache Kafka keeps its log, killed for 20 s and started again; the services stay
up): what is done while the broker is down (kept in the service's outbox) and after it is
back is pushed to them, without the client subscribing again, and nothing is pushed twice.

A recycler's `offerPosted` is fed by matching's live hub, a regulator's `manifestChanged` by
the ledger's: each subscription is seen to push once before the restart (so it is open)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from bench.chaos import Session
from bench.chaos_api import (
    ACCEPT_MATCH,
    DISPATCH,
    MANIFESTS,
    POST_OFFER,
    RECEIVE,
    Api,
    Applied,
    Outcome,
)
from bench.chaos_city import CODES, YICHANG, City, Party, build_city, current_period, report_graphql
from bench.chaos_faults import Fault, Injector
from bench.chaos_load import PROPOSED
from wastex_shared.calendar import china_today

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]

T = TypeVar("T")

#: tansu on s3 is slow, and slower still just after a restart (its storage cold).
PUSH_TIMEOUT = 240.0
#: How long the broker stays down.
DOWN_S = 20.0
CODE = CODES[0]
OFFER_POSTED = f'subscription {{ offerPosted(wasteCodes: ["{CODE}"]) {{ id }} }}'
MANIFEST_CHANGED = "subscription { manifestChanged { id status } }"


@pytest.fixture(scope="module")
async def city(s3_chaos: Session) -> City:
    """A city of this module's own, far from the session's (their offers and demands never
    match across): what it deals stays out of the session's record, which other modules
    check."""
    city = await build_city(s3_chaos.api, factories=1, recyclers=1, origin=YICHANG)
    factory = city.factories[0]
    generated = "wastex.report.generation"
    await report_graphql(s3_chaos.api, factory, generated, CODE, Decimal(100), current_period())
    return city


@dataclass
class Subscription:
    """One subscription over graphql-transport-ws through the gateway, every message it
    gets (`next`, `error`, `complete`) kept in order."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    closed: bool = False

    @property
    def data(self) -> list[dict[str, Any]]:
        return [m["payload"]["data"] for m in self.messages if m["type"] == "next"]

    @property
    def ended(self) -> list[dict[str, Any]]:
        """The messages that ended it or carried an error (none while it is healthy)."""
        return [
            m
            for m in self.messages
            if m["type"] != "next" or m["payload"].get("errors") or not m["payload"].get("data")
        ]

    async def listen(self, url: str, token: str, query: str) -> None:
        async with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as socket:
            init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
            await socket.send(json.dumps(init))
            assert json.loads(await socket.recv())["type"] == "connection_ack"
            subscribe = {"id": "1", "type": "subscribe", "payload": {"query": query}}
            await socket.send(json.dumps(subscribe))
            async for raw in socket:
                message = json.loads(raw)
                if message.get("type") == "ping":
                    await socket.send(json.dumps({"type": "pong"}))
                else:
                    self.messages.append(message)
        self.closed = True


@contextlib.asynccontextmanager
async def subscribed(session: Session, token: str, query: str) -> AsyncIterator[Subscription]:
    subscription = Subscription()
    url = session.stack.graphql_url.replace("http://", "ws://")
    task = asyncio.create_task(subscription.listen(url, token, query))
    try:
        yield subscription
    finally:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task


async def seen(check: Callable[[], bool], timeout: float = PUSH_TIMEOUT) -> bool:
    """Whether `check` holds within `timeout` seconds."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            while not check():
                await asyncio.sleep(0.2)
    return check()


def applied(outcome: Outcome) -> dict[str, Any]:
    """The payload of a mutation that must have taken effect."""
    assert isinstance(outcome, Applied), outcome
    assert outcome.ok, outcome
    return outcome.payload


async def post_offer(api: Api, factory: Party, tonnes: str) -> str:
    today = china_today()
    outcome = await api.mutate(
        factory.token,
        POST_OFFER,
        "postOffer",
        input={
            "siteId": factory.site_id,
            "wasteCode": CODE,
            "quantityTonnes": tonnes,
            "availableFrom": today.isoformat(),
            "availableUntil": (today + timedelta(days=30)).isoformat(),
            "description": "heard across a broker restart",
        },
    )
    return str(applied(outcome)["offer"]["id"])


async def restart_broker(
    session: Session, while_down: Callable[[], Awaitable[T]], down_s: float = DOWN_S
) -> T:
    """Kill the broker, run `while_down`, start the broker again after `down_s` seconds; back
    when the services are healthy and their consumers have caught up. What `while_down`
    returned."""
    stack = session.stack
    injector = Injector(stack, session.tail, session.offsets)
    fault = Fault("broker-restart", "tansu", 0.0)
    started = time.monotonic()
    await asyncio.to_thread(stack.kill_broker)
    done = await while_down()
    await asyncio.sleep(max(0.0, down_s - (time.monotonic() - started)))
    await asyncio.to_thread(stack.start_broker)
    await session.offsets.reset()
    await injector.recovered(fault, ["catalog", "matching", "ledger"], started)
    assert fault.recovery_s is not None, fault.as_dict()
    return done


async def test_a_recyclers_offer_posted_hears_offers_posted_while_the_broker_was_down_and_after(
    s3_chaos: Session, city: City
) -> None:
    factory, recycler = city.factories[0], city.recyclers[0]

    def pushed() -> Counter[str]:
        return Counter(d["offerPosted"]["id"] for d in subscription.data)

    async with subscribed(s3_chaos, recycler.token, OFFER_POSTED) as subscription:
        # Until the gateway has opened the subgraph's subscription, a posting goes unheard:
        # post until one is pushed.
        before: list[str] = []
        async with asyncio.timeout(PUSH_TIMEOUT):
            while not set(before) & set(pushed()):
                before.append(await post_offer(s3_chaos.api, factory, f"{len(before) + 1}.001"))
                await seen(lambda: bool(set(before) & set(pushed())), timeout=10)

        # One posted while the broker is down (the catalog's outbox keeps it), one after.
        during = await restart_broker(s3_chaos, lambda: post_offer(s3_chaos.api, factory, "6.666"))
        after = await post_offer(s3_chaos.api, factory, "7.777")
        assert await seen(lambda: {during, after} <= set(pushed())), subscription.messages

        assert subscription.ended == [], subscription.messages
        assert not subscription.closed, subscription.messages
        assert max(pushed().values()) == 1, pushed()


@dataclass(frozen=True)
class Deal:
    match: str
    manifest: str
    recycler: Party


async def confirmed_deal(session: Session, city: City) -> Deal:
    """An offer of `factory`'s matched, the match accepted by both sides, and the manifest
    the ledger opened for it."""
    factory = city.factories[0]
    offer = await post_offer(session.api, factory, "5.000")
    async with asyncio.timeout(PUSH_TIMEOUT):
        while (match := await proposal_of(session.api, factory, offer)) is None:
            await asyncio.sleep(0.5)
    recycler = city.party(city.demands[match["demand"]["id"]])
    for party in (factory, recycler):
        applied(await session.api.mutate(party.token, ACCEPT_MATCH, "acceptMatch", id=match["id"]))
    async with asyncio.timeout(PUSH_TIMEOUT):
        while (manifest := await manifest_of(session.api, factory, match["id"])) is None:
            await asyncio.sleep(0.5)
    return Deal(str(match["id"]), manifest, recycler)


async def proposal_of(api: Api, factory: Party, offer: str) -> dict[str, Any] | None:
    data = await api.query_retrying(
        factory.token, PROPOSED, filter={"enterpriseId": factory.id, "status": "PROPOSED"}
    )
    return next(
        (e["node"] for e in data["matches"]["edges"] if e["node"]["offer"]["id"] == offer), None
    )


async def manifest_of(api: Api, factory: Party, match: str) -> str | None:
    nodes = await api.all_nodes(
        factory.token, MANIFESTS, "manifests", filter={"enterpriseId": factory.id}
    )
    return next((str(n["id"]) for n in nodes if n["matchId"] == match), None)


async def test_a_regulators_manifest_changed_hears_a_dispatch_while_the_broker_was_down(
    s3_chaos: Session, city: City
) -> None:
    factory = city.factories[0]

    def moves() -> Counter[tuple[str, str]]:
        return Counter(
            (d["manifestChanged"]["id"], d["manifestChanged"]["status"]) for d in subscription.data
        )

    regulator = city.regulator_token  # of every district
    async with subscribed(s3_chaos, regulator, MANIFEST_CHANGED) as subscription:
        # Until the gateway has opened the subgraph's subscription, a manifest's opening goes
        # unheard: deal until one is pushed.
        async with asyncio.timeout(PUSH_TIMEOUT * 2):
            while True:
                deal = await confirmed_deal(s3_chaos, city)
                opened = (deal.manifest, "CREATED")
                if await seen(lambda: opened in moves(), timeout=10):  # noqa: B023 (awaited here)
                    break

        # Dispatched while the broker is down (the ledger's outbox keeps the fact), received
        # after it is back.
        async def dispatch() -> None:
            applied(
                await s3_chaos.api.mutate(
                    factory.token,
                    DISPATCH,
                    "dispatchShipment",
                    input={"matchId": deal.match, "tonnes": "5.000"},
                )
            )

        await restart_broker(s3_chaos, dispatch)
        received = await s3_chaos.api.mutate(
            deal.recycler.token,
            RECEIVE,
            "receiveShipment",
            input={"manifestId": deal.manifest, "tonnes": "5.000"},
        )
        applied(received)
        assert await seen(
            lambda: {(deal.manifest, "IN_TRANSIT"), (deal.manifest, "RECEIVED")} <= set(moves())
        ), subscription.messages

        assert subscription.ended == [], subscription.messages
        assert not subscription.closed, subscription.messages
        assert max(moves().values()) == 1, moves()
