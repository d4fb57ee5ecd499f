"""`manifestChanged`: each move of a manifest (created, dispatched, received, a cause named for
its discrepancy, its discrepancy resolved, cancelled) reaches exactly who `manifest(id)` shows
it to, as it stands when read; no token is refused in the resolver, and a stream ends when its
token expires. On SQLite and PostgreSQL; the first test goes through the real broker (outbox
relay → Kafka → live feed)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from wastex_ledger.domain.entries import EntryKind
from wastex_ledger.domain.manifest import GapCause
from wastex_ledger.entrypoints.graphql import GraphQLServices, schema
from wastex_ledger.entrypoints.graphql.subscriptions import MANIFEST_TOPICS
from wastex_ledger.main import LedgerProcess, build_process
from wastex_ledger.service import LedgerService
from wastex_ledger.settings import LedgerSettings
from wastex_ledger.testing import Harness, Site, harness
from wastex_shared.auth import JwtConfig, Role, issue_token
from wastex_shared.envelope import Envelope
from wastex_shared.events import spec_for
from wastex_shared.graphql.context import Context
from wastex_shared.messaging.live import LiveHub
from wastex_shared.runtime import render_metrics, running
from wastex_shared.storage import UnitOfWorkFactory
from wastex_shared.testing.subscriptions import ends_at_the_first_event_after_expiry

JWT = JwtConfig()
CHANGED = "subscription { manifestChanged { id matchId status discrepancy discrepancyState } }"
SUPPLIER_DISTRICT, RECYCLER_DISTRICT, ELSEWHERE = "青山区", "新洲区", "江夏区"


async def subscribed(service: LedgerService, hub: LiveHub, token: str | None) -> Any:
    """`manifestChanged` as a WebSocket client with `token` (or none) opens it."""
    params = {"Authorization": f"Bearer {token}"} if token else {}
    context = Context(jwt=JWT, connection_params=params, services=GraphQLServices(service, hub))
    return await schema.subscribe(CHANGED, context_value=context)


class Listeners:
    """Subscribers by name, each collecting the manifests pushed to it."""

    def __init__(self) -> None:
        self.heard: dict[str, list[dict[str, Any]]] = {}
        self._tasks: list[asyncio.Task[None]] = []

    async def add(self, name: str, service: LedgerService, hub: LiveHub, token: str) -> None:
        stream = await subscribed(service, hub, token)
        self.heard[name] = []

        async def collect() -> None:
            async for result in stream:
                assert result.errors is None, result.errors
                self.heard[name].append(result.data["manifestChanged"])

        self._tasks.append(asyncio.ensure_future(collect()))

    async def wait_for(self, wanted: list[str], count: int) -> None:
        async with asyncio.timeout(30):
            while any(len(self.heard[name]) < count for name in wanted):
                await asyncio.sleep(0.02)

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()


def tenant(site: Site) -> str:
    return issue_token(JWT, Role.ENTERPRISE, site.enterprise_id)


def regulator(district: str) -> str:
    return issue_token(JWT, Role.REGULATOR, district=district)


async def generated(ledger: Harness, site: Site, tonnes: str) -> None:
    await ledger.service.report(
        site.enterprise_id,
        EntryKind.GENERATED,
        site_id=site.site_id,
        waste_code="SW01",
        tonnes=tonnes,
        period="2026-04",
    )


@pytest.fixture
async def process(database_url: str, module_kafka_bootstrap: str) -> AsyncIterator[LedgerProcess]:
    settings = LedgerSettings.model_validate(
        {"WASTEX_KAFKA_BOOTSTRAP": module_kafka_bootstrap, "database_url": database_url}
    )
    built = build_process(settings)
    async with running(built.runtime):
        assert built.feed is not None
        await asyncio.wait_for(built.feed.ready.wait(), 20)
        yield built


async def test_each_move_of_a_manifest_reaches_whoever_may_read_it_through_the_broker(
    process: LedgerProcess,
) -> None:
    ledger = harness(process.runtime.uow)
    steel = await ledger.register(SUPPLIER_DISTRICT)
    cement = await ledger.register(RECYCLER_DISTRICT, kind="RECYCLER")
    other = await ledger.register(SUPPLIER_DISTRICT)
    await generated(ledger, steel, "80.000")
    tokens = {
        "supplier": tenant(steel),
        "recycler": tenant(cement),
        "other tenant": tenant(other),
        "regulator of the supplier's district": regulator(SUPPLIER_DISTRICT),
        "regulator of the recycler's district": regulator(RECYCLER_DISTRICT),
        "regulator elsewhere": regulator(ELSEWHERE),
        "city regulator": regulator("*"),
        "admin": issue_token(JWT, Role.ADMIN),
    }
    hearing = [name for name in tokens if name not in ("other tenant", "regulator elsewhere")]
    listeners = Listeners()
    try:
        for name, token in tokens.items():
            await listeners.add(name, process.service, process.hub, token)
        while process.hub.subscribers(spec_topic("ledger.manifest-created")) < len(tokens):
            await asyncio.sleep(0.01)

        # One manifest all the way: created, dispatched, received 10 % short, a cause proposed,
        # another in answer (a dispute), the first agreed to (resolved).
        match = await ledger.confirm(steel, cement, "50.000")
        await listeners.wait_for(hearing, 1)
        sent = await ledger.service.dispatch(steel.enterprise_id, match, "50.000", period="2026-04")
        await listeners.wait_for(hearing, 2)
        await ledger.service.receive(cement.enterprise_id, sent.id, "45.000")
        await listeners.wait_for(hearing, 3)
        words = [
            (steel, GapCause.WEIGHING_ERROR, "our scale"),
            (cement, GapCause.MOISTURE_CHANGE, "it dried"),
            (steel, GapCause.MOISTURE_CHANGE, "agreed"),
        ]
        for heard, (party, cause, note) in enumerate(words, start=4):
            await ledger.service.resolve_discrepancy(party.enterprise_id, sent.id, cause, note)
            await listeners.wait_for(hearing, heard)
        # Another, called off before it left.
        called_off = await ledger.confirm(steel, cement, "20.000")
        await listeners.wait_for(hearing, 7)
        cancelled = await ledger.service.cancel_shipment(
            cement.enterprise_id, manifest_of(listeners, called_off), "no truck"
        )
        await listeners.wait_for(hearing, 8)
        await asyncio.sleep(0.3)  # nothing more comes
    finally:
        listeners.close()

    moves = [
        (sent.id, match, "CREATED", None),
        (sent.id, match, "IN_TRANSIT", None),
        (sent.id, match, "DISCREPANCY", "OPEN"),
        (sent.id, match, "DISCREPANCY", "PROPOSED"),
        (sent.id, match, "DISCREPANCY", "DISPUTED"),
        (sent.id, match, "RESOLVED", "RESOLVED"),
        (cancelled.id, called_off, "CANCELLED", None),
    ]
    expected = [
        {
            "id": ident,
            "matchId": match_id,
            "status": status,
            "discrepancy": state is not None,
            "discrepancyState": state,
        }
        for ident, match_id, status, state in moves
    ]
    expected.insert(6, {**expected[6], "status": "CREATED"})
    for name in tokens:
        assert listeners.heard[name] == (expected if name in hearing else []), name


def spec_topic(event_type: str) -> str:
    spec = spec_for(event_type)
    assert spec is not None
    return spec.topic.name


def manifest_of(listeners: Listeners, match_id: str) -> str:
    return str(next(m["id"] for m in listeners.heard["supplier"] if m["matchId"] == match_id))


async def manifest_events(uow: UnitOfWorkFactory) -> list[tuple[str, Envelope]]:
    """The manifest events in the outbox, oldest first, with their topics, as the live
    feed would hand them to the hub."""
    table = uow.tables.outbox
    async with uow.reading() as unit:
        rows = (await unit.session.execute(select(table).order_by(table.c.id))).all()
    return [(r.topic, Envelope.from_json(r.payload)) for r in rows if r.topic in MANIFEST_TOPICS]


async def a_created_manifest(ledger: Harness) -> tuple[Site, str, Envelope]:
    """A confirmed match's manifest: its supplier, the topic and its manifest-created event."""
    steel = await ledger.register(SUPPLIER_DISTRICT)
    cement = await ledger.register(RECYCLER_DISTRICT, kind="RECYCLER")
    await ledger.confirm(steel, cement, "30.000")
    [(topic, created)] = await manifest_events(ledger.uow)
    assert created.type == "ledger.manifest-created"
    return steel, topic, created


@pytest.mark.parametrize("token", [None, "not-a-jwt"])
async def test_a_subscription_without_a_valid_token_is_refused_in_the_resolver(
    ledger: Harness, token: str | None
) -> None:
    stream = await subscribed(ledger.service, LiveHub(), token)
    result = await asyncio.wait_for(anext(stream), 5)
    assert result.errors
    assert result.errors[0].extensions == {"code": "UNAUTHENTICATED"}


async def test_a_manifest_is_read_only_for_subscribers_it_may_be_for(
    ledger: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The event names both parties: other tenants' subscriptions skip it unread, so a busy
    city does not read each manifest once per subscriber."""
    steel, topic, created = await a_created_manifest(ledger)
    reads: list[str] = []
    read = ledger.service.manifest

    async def counted(manifest_id: str) -> Any:
        reads.append(manifest_id)
        return await read(manifest_id)

    monkeypatch.setattr(ledger.service, "manifest", counted)
    hub = LiveHub()
    outsiders = [
        await subscribed(ledger.service, hub, issue_token(JWT, Role.ENTERPRISE, f"other-{n}"))
        for n in range(5)
    ]
    party = await subscribed(ledger.service, hub, tenant(steel))
    pending = [asyncio.ensure_future(anext(s)) for s in (*outsiders, party)]
    try:
        while hub.subscribers(topic) < len(pending):
            await asyncio.sleep(0.01)
        hub.publish(topic, created)
        pushed = await asyncio.wait_for(pending[-1], 5)
        assert pushed.errors is None
        await asyncio.sleep(0.1)
        assert not any(waiting.done() for waiting in pending[:-1])
        assert reads == [pushed.data["manifestChanged"]["id"]]  # the party's read alone
    finally:
        for waiting in pending:
            waiting.cancel()


async def test_a_subscription_ends_at_its_first_event_after_the_token_expires(
    ledger: Harness,
) -> None:
    steel, topic, created = await a_created_manifest(ledger)
    hub = LiveHub()
    token = issue_token(JWT, Role.ENTERPRISE, steel.enterprise_id, ttl=timedelta(seconds=2))
    stream = await subscribed(ledger.service, hub, token)
    await ends_at_the_first_event_after_expiry(stream, hub, topic, created, ttl=2)


async def test_an_idle_subscription_ends_when_the_token_expires(ledger: Harness) -> None:
    hub = LiveHub()
    token = issue_token(JWT, Role.REGULATOR, district="*", ttl=timedelta(seconds=1))
    stream = await subscribed(ledger.service, hub, token)
    ended = await asyncio.wait_for(anext(stream), 5)  # no event at all
    assert ended.errors is not None
    assert ended.errors[0].extensions == {"code": "UNAUTHENTICATED"}
    assert not any(hub.subscribers(topic) for topic in MANIFEST_TOPICS)


async def test_metrics_count_the_subscriptions_open_until_their_clients_leave(
    process: LedgerProcess,
) -> None:
    """`/metrics` counts the ledger's open subscriptions (`wastex_live_subscriptions`): one
    that stays after its client left would show as a count that only grows."""

    async def open_now() -> int:
        lines = (await render_metrics(process.runtime)).splitlines()
        [line] = [line for line in lines if line.startswith("wastex_live_subscriptions{")]
        return int(line.rsplit(" ", 1)[1])

    assert await open_now() == 0
    listeners = Listeners()
    for name in ("city regulator", "admin"):
        token = regulator("*") if name != "admin" else issue_token(JWT, Role.ADMIN)
        await listeners.add(name, process.service, process.hub, token)
    topic = spec_topic("ledger.manifest-created")
    async with asyncio.timeout(10):
        while process.hub.subscribers(topic) < 2:
            await asyncio.sleep(0.01)
    assert await open_now() == 2
    listeners.close()
    async with asyncio.timeout(10):
        while await open_now():
            await asyncio.sleep(0.01)
