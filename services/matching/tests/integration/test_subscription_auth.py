"""Subscriptions check the token in the resolver (GraphQLError with a code), push what the
subscriber may see and end when its token expires (the live hub itself: shared/tests)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from wastex_matching.adapters.tables import messaging
from wastex_matching.domain.lifecycle import Party
from wastex_matching.entrypoints.graphql import GraphQLServices, schema
from wastex_matching.service import MatchingService
from wastex_matching.settings import MatchingSettings
from wastex_matching.testing import JIANGXIA_CEMENT, QINGSHAN_STEEL, Catalog
from wastex_shared.auth import Role, issue_token
from wastex_shared.envelope import Envelope
from wastex_shared.events import spec_for
from wastex_shared.graphql.context import Context
from wastex_shared.messaging import EventConsumer
from wastex_shared.messaging.live import LiveHub
from wastex_shared.storage import UnitOfWorkFactory, make_engine
from wastex_shared.testing.subscriptions import ends_at_the_first_event_after_expiry
from wastex_shared.topics import (
    CATALOG_OFFER_AMENDED,
    CATALOG_OFFER_POSTED,
    CATALOG_OFFER_UPDATED,
    CATALOG_OFFER_WITHDRAWN,
    MATCHING_MATCH_ACCEPTED,
    MATCHING_MATCH_CONFIRMED,
    MATCHING_MATCH_PROPOSED,
)

from .test_reoptimisation import outbox, seed_market


@pytest.fixture
async def services() -> AsyncIterator[GraphQLServices]:
    engine = make_engine("sqlite+aiosqlite://")  # never touched: auth fails first
    settings = MatchingSettings()
    yield GraphQLServices(
        MatchingService(UnitOfWorkFactory(engine, messaging), settings), LiveHub()
    )
    await engine.dispose()


@pytest.mark.parametrize(
    ("query", "role", "code"),
    [
        ("subscription { matchProposed { id } }", None, "UNAUTHENTICATED"),
        ("subscription { matchProposed { id } }", "not-a-jwt", "UNAUTHENTICATED"),
        ("subscription { offerPosted { id } }", None, "UNAUTHENTICATED"),
        ("subscription { offerPosted { id } }", Role.REGULATOR, "NOT_AUTHORIZED"),
        ("subscription { offerPosted { id } }", Role.ADMIN, "NOT_AUTHORIZED"),
        ("subscription { offerChanged { id } }", None, "UNAUTHENTICATED"),
        ("subscription { offerChanged { id } }", Role.REGULATOR, "NOT_AUTHORIZED"),
        ("subscription { offerChanged { id } }", Role.ADMIN, "NOT_AUTHORIZED"),
        ("subscription { offerClosed { offerId } }", None, "UNAUTHENTICATED"),
        ("subscription { offerClosed { offerId } }", Role.REGULATOR, "NOT_AUTHORIZED"),
        ("subscription { offerClosed { offerId } }", Role.ADMIN, "NOT_AUTHORIZED"),
    ],
)
async def test_subscriptions_check_the_token_in_the_resolver(
    services: GraphQLServices, query: str, role: Role | str | None, code: str
) -> None:
    jwt = MatchingSettings().jwt
    token = issue_token(jwt, role, district="*") if isinstance(role, Role) else role
    params = {"Authorization": f"Bearer {token}"} if token else {}
    context = Context(jwt=jwt, connection_params=params, services=services)
    stream = await schema.subscribe(query, context_value=context)
    result = await asyncio.wait_for(anext(stream), 5)
    assert result.errors
    assert result.errors[0].extensions == {"code": code}


@pytest.mark.parametrize(
    "feed",
    [
        "offerPosted(wasteCodes: $codes) { id }",
        "offerChanged(wasteCodes: $codes) { id }",
        "offerClosed(wasteCodes: $codes) { offerId }",
    ],
)
async def test_an_offer_feed_of_a_code_the_catalogue_lacks_is_refused(
    services: GraphQLServices, feed: str
) -> None:
    # A typo ("SW1") made a feed that never said a word; a waste's own code is its category.
    jwt = MatchingSettings().jwt
    params = {"Authorization": f"Bearer {issue_token(jwt, Role.ENTERPRISE, 'cement')}"}
    context = Context(jwt=jwt, connection_params=params, services=services)
    stream = await schema.subscribe(
        f"subscription($codes: [String!]) {{ {feed} }}",
        context_value=context,
        variable_values={"codes": ["900-249-08", "SW1"]},
    )
    result = await asyncio.wait_for(anext(stream), 5)
    assert result.errors
    assert result.errors[0].extensions == {"code": "UNKNOWN_WASTE_CODE", "field": "wasteCodes"}


async def test_match_changes_reach_the_parties_and_no_one_else(
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
    uow_factory: UnitOfWorkFactory,
) -> None:
    await seed_market(catalog, consumer)
    await service.reoptimise()
    [(_, proposal)] = await proposed(uow_factory)
    match_id = proposal.data["matchId"]
    await service.accept(match_id, Party.SUPPLIER)
    [(topic, accepted)] = await proposed(uow_factory, MATCHING_MATCH_ACCEPTED.name)
    hub = LiveHub()
    jwt = MatchingSettings().jwt
    query = "subscription { matchChanged { id status acceptedBySupplier } }"
    watchers = {
        who: await subscribed(service, hub, issue_token(jwt, role, who, district=district), query)
        for who, role, district in (
            ("cement", Role.ENTERPRISE, None),
            ("steel", Role.ENTERPRISE, None),
            ("bricks", Role.ENTERPRISE, None),
            ("regulator", Role.REGULATOR, "江夏区"),
        )
    }
    pending = {who: asyncio.ensure_future(anext(stream)) for who, stream in watchers.items()}
    while hub.subscribers(topic) < len(pending):
        await asyncio.sleep(0.01)
    hub.publish(MATCHING_MATCH_PROPOSED.name, proposal)  # not a change: not pushed
    hub.publish(topic, accepted)
    for who in ("cement", "steel", "regulator"):
        pushed = await asyncio.wait_for(pending[who], 5)
        assert pushed.errors is None
        assert pushed.data["matchChanged"] == {
            "id": match_id,
            "status": "ACCEPTED_BY_SUPPLIER",
            "acceptedBySupplier": True,
        }
    await asyncio.sleep(0.1)
    assert not pending["bricks"].done()
    pending["bricks"].cancel()


async def test_a_confirmation_is_pushed_to_each_party_once(
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
    uow_factory: UnitOfWorkFactory,
) -> None:
    """The acceptance that confirms a match publishes `match-accepted` and `match-confirmed`
    together, both of the match as CONFIRMED: each was pushed, the same state twice."""
    await seed_market(catalog, consumer)
    await service.reoptimise()
    [(_, proposal)] = await proposed(uow_factory)
    match_id = proposal.data["matchId"]
    await service.accept(match_id, Party.SUPPLIER)
    await service.accept(match_id, Party.RECYCLER)
    _, confirming = await proposed(uow_factory, MATCHING_MATCH_ACCEPTED.name)
    [confirmed] = await proposed(uow_factory, MATCHING_MATCH_CONFIRMED.name)
    hub = LiveHub()
    token = issue_token(MatchingSettings().jwt, Role.ENTERPRISE, "steel")
    stream = await subscribed(service, hub, token, "subscription { matchChanged { id status } }")
    first = asyncio.ensure_future(anext(stream))
    while hub.subscribers(MATCHING_MATCH_CONFIRMED.name) < 1:
        await asyncio.sleep(0.01)
    for topic, envelope in (confirming, confirmed):
        hub.publish(topic, envelope)

    pushed = await asyncio.wait_for(first, 5)
    assert pushed.data["matchChanged"] == {"id": match_id, "status": "CONFIRMED"}
    second = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.2)
    assert not second.done(), second.result()
    second.cancel()


def calls_of(monkeypatch: pytest.MonkeyPatch, service: MatchingService, name: str) -> list[str]:
    """The ids `service.<name>` is called with from now on (the calls go through)."""
    calls: list[str] = []
    original = getattr(service, name)

    async def counted(ident: str) -> Any:
        calls.append(ident)
        return await original(ident)

    monkeypatch.setattr(service, name, counted)
    return calls


async def proposed(
    uow_factory: UnitOfWorkFactory, topic: str = MATCHING_MATCH_PROPOSED.name
) -> list[tuple[str, Envelope]]:
    """The events of `topic` (match-proposed) in the outbox, as the live hub would get them."""
    return [
        (row["topic"], Envelope.model_validate({k: v for k, v in row.items() if k != "key"}))
        for row in await outbox(uow_factory)
        if row["topic"] == topic
    ]


async def subscribed(service: MatchingService, hub: LiveHub, token: str, query: str) -> Any:
    """A subscription as a WebSocket client with `token` opens it, fed by `hub`."""
    context = Context(
        jwt=MatchingSettings().jwt,
        connection_params={"Authorization": f"Bearer {token}"},
        services=GraphQLServices(service, hub),
    )
    return await schema.subscribe(query, context_value=context)


async def test_a_proposal_is_read_only_for_subscribers_it_may_be_for(
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
    uow_factory: UnitOfWorkFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A round proposes hundreds of matches: reading each once per subscriber, parties or
    not, held the event loop and the pool from everything else."""
    await seed_market(catalog, consumer)
    await service.reoptimise()
    proposals = await proposed(uow_factory)
    assert len(proposals) == 1
    reads = calls_of(monkeypatch, service, "get")
    hub = LiveHub()
    jwt = MatchingSettings().jwt

    async def subscribe(token: str) -> Any:
        return await subscribed(service, hub, token, "subscription { matchProposed { id } }")

    outsiders = [await subscribe(issue_token(jwt, Role.ENTERPRISE, f"other-{n}")) for n in range(5)]
    party = await subscribe(issue_token(jwt, Role.ENTERPRISE, "cement"))
    pending = [asyncio.ensure_future(anext(s)) for s in (*outsiders, party)]
    while hub.subscribers(MATCHING_MATCH_PROPOSED.name) < len(pending):
        await asyncio.sleep(0.01)
    for topic, envelope in proposals:
        hub.publish(topic, envelope)
    pushed = await asyncio.wait_for(pending[-1], 5)
    assert pushed.errors is None
    assert reads == [pushed.data["matchProposed"]["id"]]  # the party's read, nobody else's
    for waiting in pending[:-1]:
        waiting.cancel()


async def test_a_subscription_ends_at_its_first_event_after_the_token_expires(
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
    uow_factory: UnitOfWorkFactory,
) -> None:
    await seed_market(catalog, consumer)
    await service.reoptimise()
    [(topic, envelope)] = await proposed(uow_factory)
    hub = LiveHub()
    jwt = MatchingSettings().jwt
    token = issue_token(jwt, Role.ENTERPRISE, "cement", ttl=timedelta(seconds=2))
    stream = await subscribed(service, hub, token, "subscription { matchProposed { id } }")
    await ends_at_the_first_event_after_expiry(stream, hub, topic, envelope, ttl=2)


@pytest.mark.parametrize(
    ("query", "topic"),
    [
        ("subscription { matchProposed { id } }", MATCHING_MATCH_PROPOSED.name),
        ("subscription { offerPosted { id } }", CATALOG_OFFER_POSTED.name),
        ("subscription { matchChanged { id } }", MATCHING_MATCH_ACCEPTED.name),
        ("subscription { offerChanged { id } }", CATALOG_OFFER_AMENDED.name),
        ("subscription { offerClosed { offerId } }", CATALOG_OFFER_WITHDRAWN.name),
    ],
)
async def test_an_idle_subscription_ends_when_the_token_expires(
    service: MatchingService, query: str, topic: str
) -> None:
    hub = LiveHub()
    jwt = MatchingSettings().jwt
    token = issue_token(jwt, Role.RECYCLER, "cement", ttl=timedelta(seconds=1))
    stream = await subscribed(service, hub, token, query)
    ended = await asyncio.wait_for(anext(stream), 5)  # no event at all
    assert ended.errors is not None
    assert ended.errors[0].extensions == {"code": "UNAUTHENTICATED"}
    assert hub.subscribers(topic) == 0


async def test_offers_posted_are_judged_by_licences_read_once_not_per_offer(
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await seed_market(catalog, consumer)  # the cement plant holds an SW01/SW02 licence
    reads = calls_of(monkeypatch, service, "licences_of")
    hub = LiveHub()
    jwt = MatchingSettings().jwt
    token = issue_token(jwt, Role.RECYCLER, "cement")
    stream = await subscribed(service, hub, token, "subscription { offerPosted { id } }")
    pushed: list[str] = []

    async def collect() -> None:
        async for result in stream:
            assert result.errors is None
            assert result.data is not None
            pushed.append(result.data["offerPosted"]["id"])

    collecting = asyncio.ensure_future(collect())
    while not hub.subscribers(CATALOG_OFFER_POSTED.name):
        await asyncio.sleep(0.01)
    for n in range(20):
        code = "SW01" if n % 2 else "HW08"  # the licence permits SW01, not HW08
        envelope = catalog.offer(f"lot-{n}", "steel", "steel-site", QINGSHAN_STEEL, code=code)
        hub.publish(CATALOG_OFFER_POSTED.name, envelope)
    while len(pushed) < 10:
        await asyncio.sleep(0.01)
    collecting.cancel()
    assert pushed == [f"lot-{n}" for n in range(1, 20, 2)]
    assert reads == ["cement"]


def live(hub: LiveHub, *envelopes: Envelope) -> None:
    """Hand `envelopes` to `hub` on their topics, as the live feed would."""
    for envelope in envelopes:
        spec = spec_for(envelope.type)
        assert spec is not None, envelope.type
        hub.publish(spec.topic.name, envelope)


async def four_offers(catalog: Catalog, consumer: EventConsumer) -> list[Envelope]:
    """The seeded market (the cement plant holds an SW01/SW02 licence) with four offers: the
    steel works' SW01 slag (as seeded), HW08 oil and SW02 ash, and the cement plant's own."""
    await seed_market(catalog, consumer)
    slag = catalog.offer("slag-1", "steel", "steel-site", QINGSHAN_STEEL)
    oil = catalog.offer("oil-2", "steel", "steel-site", QINGSHAN_STEEL, code="HW08")
    ash = catalog.offer("ash-3", "steel", "steel-site", QINGSHAN_STEEL, code="SW02")
    own = catalog.offer("own-4", "cement", "cement-site", JIANGXIA_CEMENT)
    await catalog.feed(consumer, oil, ash, own)
    return [slag, oil, ash, own]


async def test_offer_changes_on_the_market_are_judged_as_postings_are(
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Amendments carry the offer's code; tonnes taken up or released do not, so the offer
    is read from matching's store, once, and only after the cheap filters. A change that
    takes the offer off the market is not pushed: the catalog would not show it."""
    slag, oil, _, own = await four_offers(catalog, consumer)
    licence_reads = calls_of(monkeypatch, service, "licences_of")
    offer_reads = calls_of(monkeypatch, service, "offer")  # what `offer_code` reads
    hub = LiveHub()
    token = issue_token(MatchingSettings().jwt, Role.RECYCLER, "cement")
    queries = {
        "all": "subscription { offerChanged { id } }",
        "ash": 'subscription { offerChanged(wasteCodes: ["sw02"]) { id } }',
    }
    pushed: dict[str, list[str]] = {name: [] for name in queries}

    async def collect(name: str) -> None:
        async for result in await subscribed(service, hub, token, queries[name]):
            assert result.errors is None
            assert result.data is not None
            pushed[name].append(result.data["offerChanged"]["id"])

    collecting = [asyncio.ensure_future(collect(name)) for name in queries]
    while hub.subscribers(CATALOG_OFFER_UPDATED.name) < len(queries):
        await asyncio.sleep(0.01)
    live(
        hub,
        catalog.amended(slag, quantity_tonnes="180"),  # pushed (to "all")
        catalog.offer_updated("slag-1", "steel", "PARTIALLY_MATCHED", "180", 3),  # pushed
        catalog.amended(oil, quantity_tonnes="50"),  # no licence for HW08
        catalog.offer_updated("oil-2", "steel", "OPEN", "100", 3),  # no licence for HW08
        catalog.amended(own, quantity_tonnes="50"),  # the subscriber's own
        catalog.offer_updated("own-4", "cement", "OPEN", "100", 3),  # the subscriber's own
        catalog.offer_updated("unheard-of", "steel", "OPEN", "100", 2),  # matching knows not
        catalog.offer_updated("slag-1", "steel", "EXPIRED", "180", 4),  # off the market
        catalog.amended(slag, 5, "180", quantity_tonnes="180", status="FULLY_MATCHED"),  # off
        catalog.offer_withdrawn("slag-1", "steel", 6),  # off the market (not even read)
        catalog.offer_updated("ash-3", "steel", "OPEN", "100", 2),  # pushed (to both)
    )
    while len(pushed["all"]) < 3 or not pushed["ash"]:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)  # nothing more comes
    for task in collecting:
        task.cancel()
    assert pushed == {"all": ["slag-1", "slag-1", "ash-3"], "ash": ["ash-3"]}
    assert licence_reads == ["cement", "cement"]  # once per subscription
    # Codes are read from the store for changes on the market not the subscriber's own
    # ("ash" reads them before it can tell it did not ask for slag-1 or oil-2), each once a
    # process (twice at most, when both subscriptions ask at the same moment), but for an
    # offer matching never heard of (nothing to keep).
    assert set(offer_reads) == {"slag-1", "oil-2", "unheard-of", "ash-3"}
    assert all(offer_reads.count(known) <= len(queries) for known in set(offer_reads))
    assert offer_reads.count("unheard-of") == len(queries)
    reads_before = len(offer_reads)
    assert await service.offer_code("ash-3") == "SW02"  # kept: no read
    assert len(offer_reads) == reads_before


async def test_offers_leaving_the_market_are_pushed_as_an_id_and_why(
    service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> None:
    """offerChanged cannot push an offer other enterprises may no longer read; offerClosed
    tells its subscribers which one went and why, by the same licence and code filters."""
    slag, *_ = await four_offers(catalog, consumer)
    hub = LiveHub()
    token = issue_token(MatchingSettings().jwt, Role.RECYCLER, "cement")
    queries = {
        "all": "subscription { offerClosed { offerId status } }",
        "ash": 'subscription { offerClosed(wasteCodes: ["SW02"]) { offerId status } }',
    }
    pushed: dict[str, list[tuple[str, str]]] = {name: [] for name in queries}

    async def collect(name: str) -> None:
        async for result in await subscribed(service, hub, token, queries[name]):
            assert result.errors is None
            assert result.data is not None
            closed = result.data["offerClosed"]
            pushed[name].append((closed["offerId"], closed["status"]))

    collecting = [asyncio.ensure_future(collect(name)) for name in queries]
    while hub.subscribers(CATALOG_OFFER_WITHDRAWN.name) < len(queries):
        await asyncio.sleep(0.01)
    live(
        hub,
        catalog.offer_updated("slag-1", "steel", "PARTIALLY_MATCHED", "180", 3),  # on: no
        catalog.amended(slag, quantity_tonnes="150"),  # still on the market: no
        catalog.amended(slag, 5, "150", quantity_tonnes="150", status="FULLY_MATCHED"),  # yes
        catalog.offer_withdrawn("oil-2", "steel", 3),  # no licence for HW08
        catalog.offer_withdrawn("own-4", "cement", 3),  # the subscriber's own
        catalog.offer_updated("ash-3", "steel", "EXPIRED", "100", 2),  # yes, to both
        catalog.offer_withdrawn("slag-1", "steel", 6),  # yes: withdrawn now
    )
    while len(pushed["all"]) < 3 or not pushed["ash"]:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)  # nothing more comes
    for task in collecting:
        task.cancel()
    assert pushed == {
        "all": [("slag-1", "FULLY_MATCHED"), ("ash-3", "EXPIRED"), ("slag-1", "WITHDRAWN")],
        "ash": [("ash-3", "EXPIRED")],
    }


async def test_an_offer_is_told_closed_once_until_it_comes_back(
    service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> None:
    """A fully matched offer is updated again off the market (its matches confirmed or
    cancelled): no news. Back on the market and off again, it is."""
    await four_offers(catalog, consumer)
    pushed = await collected_closures(
        service,
        catalog,
        catalog.offer_updated("slag-1", "steel", "FULLY_MATCHED", "0", 3),  # yes
        catalog.offer_updated("slag-1", "steel", "FULLY_MATCHED", "0", 4),  # no news
        catalog.offer_updated("slag-1", "steel", "PARTIALLY_MATCHED", "20", 5),  # back on
        catalog.offer_updated("slag-1", "steel", "FULLY_MATCHED", "0", 6),  # yes
        catalog.offer_withdrawn("slag-1", "steel", 7),  # yes: another status
        catalog.offer_updated("slag-1", "steel", "WITHDRAWN", "0", 8),  # no news
    )
    assert pushed == [
        ("slag-1", "FULLY_MATCHED"),
        ("slag-1", "FULLY_MATCHED"),
        ("slag-1", "WITHDRAWN"),
    ]


async def collected(
    service: MatchingService, query: str, ready: str, *events: Envelope
) -> list[dict[str, Any]]:
    """What a recycler's subscription `query` (of one field) is pushed when the live feed
    reads `events`, once it reads `ready`'s topic."""
    hub = LiveHub()
    token = issue_token(MatchingSettings().jwt, Role.RECYCLER, "cement")
    pushed: list[dict[str, Any]] = []

    async def collect() -> None:
        async for result in await subscribed(service, hub, token, query):
            assert result.errors is None
            assert result.data is not None
            [field] = result.data.values()
            pushed.append(field)

    collecting = asyncio.ensure_future(collect())
    while not hub.subscribers(ready):
        await asyncio.sleep(0.01)
    live(hub, *events)
    await asyncio.sleep(0.3)  # what comes, comes by then
    collecting.cancel()
    return pushed


async def collected_closures(
    service: MatchingService, catalog: Catalog, *events: Envelope
) -> list[tuple[str, str]]:
    """What a recycler's `offerClosed` is pushed when the live feed reads `events`."""
    query = "subscription { offerClosed { offerId status } }"
    pushed = await collected(service, query, CATALOG_OFFER_WITHDRAWN.name, *events)
    return [(closed["offerId"], closed["status"]) for closed in pushed]


async def test_an_offer_withdrawn_before_matching_stored_it_is_still_told_closed(
    service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> None:
    # helper-44: the live feed and matching's consumer read the catalog's topics apart. An
    # offer posted and withdrawn while the consumer lagged was pushed by offerPosted (the
    # posting carries its code) but its withdrawal, which did not, was looked up in
    # matching's store, not found, and dropped. Every offer fact carries the code now.
    await four_offers(catalog, consumer)
    fresh = catalog.offer("fresh-9", "steel", "steel-site", QINGSHAN_STEEL, code="SW01")
    withdrawn = catalog.offer_withdrawn("fresh-9", "steel", 2, code="SW01")
    assert await collected_closures(service, catalog, fresh, withdrawn) == [
        ("fresh-9", "WITHDRAWN")
    ]


async def test_an_offer_s_older_fact_read_after_a_newer_one_is_no_news(
    service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> None:
    # helper-44: the feed reads the offer's topics in no set order between them. The
    # amendment that put a fully matched offer back on the market (v4) read before the
    # update that had taken it off (v3): offerClosed said the offer had left the market.
    slag, *_ = await four_offers(catalog, consumer)
    back_on = catalog.amended(slag, 4, "120", quantity_tonnes="300", status="PARTIALLY_MATCHED")
    stale = catalog.offer_updated("slag-1", "steel", "FULLY_MATCHED", "120", 3)
    assert await collected_closures(service, catalog, back_on, stale) == []


async def test_an_offer_is_posted_once_unless_a_fact_read_first_took_it_off_the_market(
    service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> None:
    # The feed reads the offer topics in no set order between them: a withdrawal read before
    # its posting left the posting to be pushed, its reference resolving to NOT_AUTHORIZED
    # (the catalog shows an offer off the market to no other enterprise).
    await four_offers(catalog, consumer)
    gone = catalog.offer("gone-5", "steel", "steel-site", QINGSHAN_STEEL)
    amended = catalog.offer("amended-6", "steel", "steel-site", QINGSHAN_STEEL)
    plain = catalog.offer("plain-7", "steel", "steel-site", QINGSHAN_STEEL)
    pushed = await collected(
        service,
        "subscription { offerPosted { id } }",
        CATALOG_OFFER_POSTED.name,
        catalog.offer_withdrawn("gone-5", "steel", 2, code="SW01"),
        gone,  # read after its withdrawal: not pushed
        catalog.amended(amended, quantity_tonnes="80"),
        amended,  # read after an amendment leaving it on the market: pushed
        amended,  # read again: no news
        plain,
        catalog.offer_updated("plain-7", "steel", "PARTIALLY_MATCHED", "10", 2),  # a change
    )
    assert [offer["id"] for offer in pushed] == ["amended-6", "plain-7"]
