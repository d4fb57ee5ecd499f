"""The matching process on the real broker (tansu) and both databases: catalog events in →
proposals out on matching.match-proposed.v1; a better demand supersedes; replay rebuilds the
read models; subscriptions push live events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from sqlalchemy import select

from wastex_matching.adapters.tables import (
    MATCHES,
    READ_MODEL_TABLES,
    OfferRow,
    messaging,
    table_of,
)
from wastex_matching.entrypoints.graphql import GraphQLServices, schema
from wastex_matching.main import MatchingProcess, build_process
from wastex_matching.replay import replay
from wastex_matching.settings import MatchingSettings
from wastex_matching.testing import (
    HONGSHAN_BRICKS,
    JIANGXIA_CEMENT,
    QINGSHAN_STEEL,
    Catalog,
)
from wastex_shared.auth import Role, issue_token
from wastex_shared.devtools.tansu import free_port
from wastex_shared.envelope import Envelope
from wastex_shared.events import spec_for
from wastex_shared.graphql.context import Context
from wastex_shared.messaging.topic_reader import read_topic
from wastex_shared.runtime import render_metrics, running
from wastex_shared.storage import UnitOfWorkFactory, make_engine
from wastex_shared.testing.graphql_client import eventually

START = date.today() + timedelta(days=3)
END = START + timedelta(days=60)


@dataclass
class Ids:
    """Unique ids, and a place of its own on the globe, per test: the module's broker lives
    for all its tests and every process reads all catalog events from the start, so listings
    of other tests must neither share ids nor be within reach of this test's."""

    run: str
    origin: tuple[float, float]

    def __call__(self, name: str) -> str:
        return f"{name}-{self.run}"

    def place(self, like: tuple[Decimal, Decimal]) -> tuple[Decimal, Decimal]:
        """`like` (a Wuhan place) moved so that Qingshan steel sits at the origin."""
        dlat, dlon = float(like[0] - QINGSHAN_STEEL[0]), float(like[1] - QINGSHAN_STEEL[1])
        return (
            Decimal(f"{self.origin[0] + dlat:.6f}"),
            Decimal(f"{self.origin[1] + dlon:.6f}"),
        )


@pytest.fixture
def ids() -> Ids:
    spot = random.Random()
    while True:
        lat, lon = spot.uniform(-50, 50), spot.uniform(-170, 170)
        if abs(lat - 30.5) > 5 or abs(lon - 114.3) > 5:  # away from the Wuhan of other tests
            return Ids(uuid.uuid4().hex[:8], (lat, lon))


@pytest.fixture
def settings(database_url: str, module_kafka_bootstrap: str, ids: Ids) -> MatchingSettings:
    return MatchingSettings.model_validate(
        {
            "service": f"matching-{ids.run}",  # own consumer group
            "database_url": database_url,
            "reoptimise_debounce_seconds": 0.05,
            "WASTEX_KAFKA_BOOTSTRAP": module_kafka_bootstrap,
        }
    )


@pytest.fixture
async def lifetime() -> AsyncIterator[contextlib.AsyncExitStack]:
    """What the process runs in: `await lifetime.aclose()` stops it before the test ends
    (as an operator stops matching before `wastex replay matching`)."""
    async with contextlib.AsyncExitStack() as stack:
        yield stack


@pytest.fixture
async def process(
    settings: MatchingSettings, lifetime: contextlib.AsyncExitStack
) -> MatchingProcess:
    built = build_process(settings)
    await lifetime.enter_async_context(running(built.runtime))
    if built.feed is not None:
        await asyncio.wait_for(built.feed.ready.wait(), 20)
    return built


async def produce(bootstrap: str, envelopes: Sequence[Envelope]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for envelope in envelopes:
            spec = spec_for(envelope.type)
            assert spec is not None
            await producer.send_and_wait(
                spec.topic.name, envelope.to_json(), key=envelope.key.encode()
            )
    finally:
        await producer.stop()


async def published(bootstrap: str, topic: str, **match: str) -> list[dict[str, Any]]:
    """Events on `topic` whose data has all of `match` (camelCase keys)."""
    found = []
    async for record in read_topic(bootstrap, topic):
        event = json.loads(record.value)
        if all(event["data"].get(k) == v for k, v in match.items()):
            found.append(event | {"key": record.key.decode()})
    return found


def market(catalog: Catalog, ids: Ids) -> list[Envelope]:
    steel, cement = ids("steel"), ids("cement")
    return [
        catalog.enterprise(steel, "Wuhan Steel"),
        catalog.enterprise(cement, "Jiangxia Cement", "江夏区"),
        catalog.site(ids("steel-site"), steel, ids.place(QINGSHAN_STEEL), "青山区"),
        catalog.site(ids("cement-site"), cement, ids.place(JIANGXIA_CEMENT), "江夏区"),
        catalog.licence(
            ids("cement-lic"),
            cement,
            ["SW01"],
            valid_from=START - timedelta(days=60),
            valid_until=END + timedelta(days=400),
        ),
        catalog.demand(
            ids("cement-demand"),
            cement,
            ids("cement-site"),
            ids.place(JIANGXIA_CEMENT),
            available_from=START,
            available_until=END,
        ),
    ]


def slag_offer(catalog: Catalog, ids: Ids, name: str = "slag", code: str = "SW01") -> Envelope:
    return catalog.offer(
        ids(name),
        ids("steel"),
        ids("steel-site"),
        ids.place(QINGSHAN_STEEL),
        code=code,
        tonnes="120.500",
        available_from=START,
        available_until=END,
    )


async def read_models(uow: UnitOfWorkFactory, run: str) -> dict[str, list[tuple[Any, ...]]]:
    """This test's rows of every read model (other tests' events share the topics), less
    the market versions that stamped them (bookkeeping of when, not what)."""
    out = {}
    async with uow() as unit:
        for table in READ_MODEL_TABLES:
            columns = [c for c in table.c if c.name != "market_version"]
            query = select(*columns).order_by(table.c.id)
            rows = (await unit.session.execute(query)).all()
            out[table.name] = [tuple(r) for r in rows if run in r.id]
    return out


async def own_matches(uow: UnitOfWorkFactory, run: str) -> list[tuple[Any, ...]]:
    """This test's matches (the process may still be busy with other tests' listings)."""
    async with uow() as unit:
        query = select(MATCHES).where(MATCHES.c.offer_id.contains(run)).order_by(MATCHES.c.id)
        return [tuple(r) for r in (await unit.session.execute(query)).all()]


async def test_catalog_events_in_proposals_out_better_demand_supersedes_and_replay(
    process: MatchingProcess,
    settings: MatchingSettings,
    ids: Ids,
    lifetime: contextlib.AsyncExitStack,
) -> None:
    catalog, bootstrap = Catalog(), settings.kafka_bootstrap
    await produce(bootstrap, [*market(catalog, ids), slag_offer(catalog, ids)])

    async def proposal() -> list[dict[str, Any]]:
        return await published(bootstrap, "matching.match-proposed.v1", offerId=ids("slag"))

    [first] = await eventually(proposal, timeout=30)
    assert first["type"] == "matching.match-proposed"
    assert first["source"] == "matching"
    assert first["key"] == first["subject"] == first["data"]["matchId"]
    assert first["data"]["demandId"] == ids("cement-demand")
    assert first["data"]["tonnes"] == "120.500"
    assert first["data"]["status"] == "PROPOSED"

    bricks = ids("bricks")
    await produce(
        bootstrap,
        [
            catalog.enterprise(bricks, "Hongshan Bricks", "洪山区"),
            catalog.licence(
                ids("bricks-lic"),
                bricks,
                ["SW01"],
                valid_from=START - timedelta(days=60),
                valid_until=END + timedelta(days=400),
            ),
            catalog.demand(
                ids("bricks-demand"),
                bricks,
                ids("bricks-site"),
                ids.place(HONGSHAN_BRICKS),
                district="洪山区",
                available_from=START,
                available_until=END,
            ),
        ],
    )

    async def superseded() -> list[dict[str, Any]]:
        return await published(
            bootstrap, "matching.match-superseded.v1", matchId=first["data"]["matchId"]
        )

    [gone] = await eventually(superseded, timeout=30)
    [better] = [p for p in await proposal() if p["data"]["demandId"] == ids("bricks-demand")]
    assert gone["data"]["replacedBy"] == [better["data"]["matchId"]]
    assert float(better["data"]["distanceKm"]) < float(first["data"]["distanceKm"])
    # /metrics counts the rounds that did it (in the re-optimiser's own process: the
    # totals come over its pipe, maybe a moment after the events)
    label = f'{{service="{settings.service}"}}'

    async def scrape() -> dict[str, str]:
        lines = (await render_metrics(process.runtime)).splitlines()
        found = dict(line.rsplit(" ", 1) for line in lines if line.startswith("wastex_reoptimis"))
        return found if int(found[f"wastex_reoptimise_superseded_total{label}"]) else {}

    scraped = await eventually(scrape, timeout=10)
    assert process.rounds is not None  # as deployed: the rounds ran in a child process
    assert int(scraped[f"wastex_reoptimiser_processes_started_total{label}"]) == 1
    assert int(scraped[f"wastex_reoptimise_rounds_total{label}"]) >= 2
    assert int(scraped[f"wastex_reoptimise_proposed_total{label}"]) >= 2
    assert int(scraped[f"wastex_reoptimise_superseded_total{label}"]) >= 1
    assert float(scraped[f"wastex_reoptimise_seconds_total{label}"]) > 0
    assert int(scraped[f"wastex_reoptimise_conflicts_total{label}"]) == 0  # no other writer
    # The round after the new demand could not grow the last allocation, and says why.
    why = f'{{service="{settings.service}",reason="MARKET_CHANGED"}}'
    assert int(scraped[f"wastex_reoptimise_growth_refused_total{why}"]) >= 1

    # replay (matching stopped first): the read models come out equal, the matches untouched
    await lifetime.aclose()
    uow = process.runtime.uow
    before = await read_models(uow, ids.run)
    matches_before = await own_matches(uow, ids.run)
    report = await replay(settings)
    assert "replayed" in report
    engine = make_engine(settings.db_url)
    try:
        fresh = UnitOfWorkFactory(engine, messaging)
        assert await read_models(fresh, ids.run) == before
        assert await own_matches(fresh, ids.run) == matches_before
    finally:
        await engine.dispose()
    assert len(before["offers"]) == 1
    assert len(before["demands"]) == 2


async def test_a_replay_that_cannot_read_the_broker_leaves_the_read_models_as_they_were(
    settings: MatchingSettings, ids: Ids
) -> None:
    """A replay pointed at a broker it cannot reach (down, or the wrong address) fails; it
    must not have wiped the market first: matching started again would plan on an empty
    market, supersede every proposal, and never read the catalog's facts again."""
    await produce(settings.kafka_bootstrap, [*market(Catalog(), ids), slag_offer(Catalog(), ids)])
    await replay(settings)
    engine = make_engine(settings.db_url)
    try:
        uow = UnitOfWorkFactory(engine, messaging)
        before = await read_models(uow, ids.run)
        assert len(before["offers"]) == 1

        unreachable = settings.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{free_port()}"})
        with pytest.raises(KafkaError):
            await replay(unreachable)

        assert await read_models(uow, ids.run) == before
    finally:
        await engine.dispose()


async def test_an_amendment_on_the_broker_is_proposed_anew_and_survives_replay(
    process: MatchingProcess,
    settings: MatchingSettings,
    ids: Ids,
    lifetime: contextlib.AsyncExitStack,
) -> None:
    catalog, bootstrap = Catalog(), settings.kafka_bootstrap
    posting = slag_offer(catalog, ids)
    await produce(bootstrap, [*market(catalog, ids), posting])

    async def proposals(tonnes: str) -> list[dict[str, Any]]:
        return await published(
            bootstrap, "matching.match-proposed.v1", offerId=ids("slag"), tonnes=tonnes
        )

    [first] = await eventually(lambda: proposals("120.500"), timeout=30)
    await produce(bootstrap, [catalog.amended(posting, quantity_tonnes="80")])
    [new] = await eventually(lambda: proposals("80.000"), timeout=30)

    async def superseded() -> list[dict[str, Any]]:
        return await published(
            bootstrap, "matching.match-superseded.v1", matchId=first["data"]["matchId"]
        )

    [gone] = await eventually(superseded, timeout=30)
    assert gone["data"]["replacedBy"] == [new["data"]["matchId"]]

    # Replay reads the amendments' topic too: the rebuilt row holds the amended terms.
    await lifetime.aclose()
    uow = process.runtime.uow
    before = await read_models(uow, ids.run)
    await replay(settings)
    engine = make_engine(settings.db_url)
    try:
        fresh = UnitOfWorkFactory(engine, messaging)
        assert await read_models(fresh, ids.run) == before
        async with fresh() as unit:
            offers = table_of(OfferRow)
            row = (
                await unit.session.execute(select(offers).where(offers.c.id == ids("slag")))
            ).one()
    finally:
        await engine.dispose()
    assert (row.quantity_tonnes, row.terms_version) == (Decimal(80), 2)


async def _results(generator: Any, into: list[dict[str, Any]]) -> None:
    async for result in generator:
        into.append({"data": result.data, "errors": result.errors})


async def test_subscriptions_push_proposals_to_parties_and_licensed_offers(
    process: MatchingProcess, settings: MatchingSettings, ids: Ids
) -> None:
    catalog, bootstrap, jwt = Catalog(), settings.kafka_bootstrap, settings.jwt
    services = GraphQLServices(process.service, process.hub)

    def context(token: str | None) -> Context:
        params = {"Authorization": f"Bearer {token}"} if token else {}
        return Context(jwt=jwt, connection_params=params, services=services)

    recycler = issue_token(jwt, Role.RECYCLER, ids("cement"))
    outsider = issue_token(jwt, Role.ENTERPRISE, ids("someone-else"))
    proposals: list[dict[str, Any]] = []
    not_mine: list[dict[str, Any]] = []
    offers: list[dict[str, Any]] = []
    tasks = [
        asyncio.create_task(
            _results(
                await schema.subscribe(
                    "subscription { matchProposed { id tonnes offer { id } demand { id } } }",
                    context_value=context(token),
                ),
                into,
            )
        )
        for token, into in ((recycler, proposals), (outsider, not_mine))
    ]
    tasks.append(
        asyncio.create_task(
            _results(
                await schema.subscribe(
                    'subscription { offerPosted(wasteCodes: ["SW01", "SW02"]) { id } }',
                    context_value=context(recycler),
                ),
                offers,
            )
        )
    )
    try:
        hub = process.hub

        async def listening() -> bool:
            return hub.subscribers("matching.match-proposed.v1") == 2 and (
                hub.subscribers("catalog.offer-posted.v1") == 1
            )

        await eventually(listening, timeout=10)
        await produce(bootstrap, market(catalog, ids))

        async def licensed() -> bool:  # licences come long before offers in real life
            return bool(await process.service.licences_of(ids("cement")))

        await eventually(licensed, timeout=20)
        await produce(
            bootstrap,
            [
                slag_offer(catalog, ids, "fly-ash", "SW02"),  # filtered: no licence for SW02
                slag_offer(catalog, ids, "gypsum", "SW06"),  # filtered: not asked for
                slag_offer(catalog, ids),
            ],
        )

        async def got_proposal() -> list[dict[str, Any]]:
            return proposals

        [pushed] = await eventually(got_proposal, timeout=30)
        assert pushed["errors"] is None
        assert pushed["data"]["matchProposed"]["offer"] == {"id": ids("slag")}
        assert pushed["data"]["matchProposed"]["demand"] == {"id": ids("cement-demand")}
        await asyncio.sleep(1.0)  # give the filtered offers time to (not) arrive
        mine = [o for o in offers if ids.run in o["data"]["offerPosted"]["id"]]
        assert mine == [{"data": {"offerPosted": {"id": ids("slag")}}, "errors": None}]
        assert [r for r in not_mine if ids.run in json.dumps(r["data"])] == []
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_an_amended_offer_on_the_broker_is_pushed_to_licensed_recyclers(
    process: MatchingProcess, settings: MatchingSettings, ids: Ids
) -> None:
    catalog, bootstrap, jwt = Catalog(), settings.kafka_bootstrap, settings.jwt
    recycler = issue_token(jwt, Role.RECYCLER, ids("cement"))
    context = Context(
        jwt=jwt,
        connection_params={"Authorization": f"Bearer {recycler}"},
        services=GraphQLServices(process.service, process.hub),
    )
    changes: list[dict[str, Any]] = []
    task = asyncio.create_task(
        _results(
            await schema.subscribe(
                'subscription { offerChanged(wasteCodes: ["SW01", "SW02"]) { id } }',
                context_value=context,
            ),
            changes,
        )
    )
    try:
        slag, ash = slag_offer(catalog, ids), slag_offer(catalog, ids, "fly-ash", "SW02")
        await produce(bootstrap, [*market(catalog, ids), slag, ash])

        async def heard_of_both() -> bool:  # offers come long before their amendments
            offers = [await process.service.offer(ids(name)) for name in ("slag", "fly-ash")]
            return None not in offers and bool(await process.service.licences_of(ids("cement")))

        async def listening() -> bool:
            return process.hub.subscribers("catalog.offer-amended.v1") == 1

        await eventually(listening, timeout=10)
        await eventually(heard_of_both, timeout=20)
        await produce(
            bootstrap,
            [
                catalog.amended(ash, quantity_tonnes="90"),  # filtered: no licence for SW02
                catalog.amended(slag, quantity_tonnes="180"),
            ],
        )

        async def pushed() -> list[dict[str, Any]]:
            return [c for c in changes if ids.run in c["data"]["offerChanged"]["id"]]

        [amended] = await eventually(pushed, timeout=30)
        assert amended == {"data": {"offerChanged": {"id": ids("slag")}}, "errors": None}
        await asyncio.sleep(1.0)  # give the filtered amendment time to (not) arrive
        assert await pushed() == [amended]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
