"""A listing withdrawn by its owner behind its matches, as each party sees it (decision 030):
a proposal is superseded by the next round, a match one side has accepted is rejected on the
owner's side with the reason (`matching.match-rejected`: `matchChanged` pushes it, the
catalog gives the tonnes back), a confirmed one stays (its shipment is called off in the
ledger, decision 018)."""

from __future__ import annotations

import asyncio

import pytest

from wastex_matching.domain.lifecycle import MatchStatus, Party
from wastex_matching.service import MatchingService
from wastex_matching.settings import MatchingSettings
from wastex_matching.testing import ACCEPT, MATCH, Api, Catalog
from wastex_shared.auth import Role, issue_token
from wastex_shared.envelope import Envelope
from wastex_shared.messaging import EventConsumer
from wastex_shared.messaging.live import LiveHub
from wastex_shared.storage import UnitOfWorkFactory
from wastex_shared.topics import MATCHING_MATCH_REJECTED

from .test_graphql_lifecycle import propose
from .test_subscription_auth import proposed, subscribed

OWNERS = {"offer": ("steel", "SUPPLIER"), "demand": ("cement", "RECYCLER")}
OTHER = {"steel": "cement", "cement": "steel"}


def withdrawn(catalog: Catalog, kind: str) -> Envelope:
    if kind == "offer":
        return catalog.offer_withdrawn("slag-1", "steel", version=3)
    return catalog.demand_withdrawn("cement-demand", "cement", version=3)


@pytest.mark.parametrize("kind", ["offer", "demand"])
@pytest.mark.parametrize("accepted_by", ["steel", "cement"])
async def test_a_withdrawal_rejects_a_match_one_side_has_accepted_on_the_owners_side(
    api: Api,
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
    uow_factory: UnitOfWorkFactory,
    kind: str,
    accepted_by: str,
) -> None:
    """It held both listings' tonnes until its window ended, told no one, and either party
    could still confirm it: a supplier waited on a recycler that had left, or a recycler
    confirmed an offer its supplier had taken off the market."""
    match_id = await propose(service, consumer, catalog)
    first = await api.as_(Role.ENTERPRISE, accepted_by).data(ACCEPT, id=match_id)
    assert first["acceptMatch"]["userErrors"] == []
    service.sweep_soon.clear()
    await catalog.feed(consumer, withdrawn(catalog, kind))
    assert service.sweep_soon.is_set()  # the sweep is woken, not left to its period

    assert await service.expire_due() == 1

    owner, party = OWNERS[kind]
    ident = "slag-1" if kind == "offer" else "cement-demand"
    seen = (await api.as_(Role.ENTERPRISE, OTHER[owner]).data(MATCH, id=match_id))["match"]
    assert (seen["status"], seen["rejectedBy"]) == ("REJECTED", party)
    assert seen["rejectionReason"] == f"the {kind} {ident} was withdrawn by its owner"
    [(_, event)] = await proposed(uow_factory, MATCHING_MATCH_REJECTED.name)
    assert (event.data["matchId"], event.data["rejectedBy"]) == (match_id, party)
    for who in ("steel", "cement"):
        again = await api.as_(Role.ENTERPRISE, who).data(ACCEPT, id=match_id)
        assert again["acceptMatch"]["userErrors"][0]["code"] == "INVALID_TRANSITION"
    assert await service.expire_due() == 0


@pytest.mark.parametrize("kind", ["offer", "demand"])
async def test_a_withdrawal_leaves_a_confirmed_match(
    api: Api, service: MatchingService, consumer: EventConsumer, catalog: Catalog, kind: str
) -> None:
    match_id = await propose(service, consumer, catalog)
    for who in ("steel", "cement"):
        await api.as_(Role.ENTERPRISE, who).data(ACCEPT, id=match_id)
    await catalog.feed(consumer, withdrawn(catalog, kind))
    assert await service.expire_due() == 0
    record = await service.get(match_id)
    assert record is not None
    assert record.status is MatchStatus.CONFIRMED


async def test_the_other_party_is_pushed_the_rejection_with_its_reason(
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
    uow_factory: UnitOfWorkFactory,
) -> None:
    match_id = await propose(service, consumer, catalog)
    await service.accept(match_id, Party.SUPPLIER)
    await catalog.feed(consumer, withdrawn(catalog, "demand"))
    await service.expire_due()
    [(topic, rejected)] = await proposed(uow_factory, MATCHING_MATCH_REJECTED.name)
    hub = LiveHub()
    token = issue_token(MatchingSettings().jwt, Role.ENTERPRISE, "steel")
    query = "subscription { matchChanged { id status rejectedBy rejectionReason } }"
    stream = await subscribed(service, hub, token, query)
    pending = asyncio.ensure_future(anext(stream))
    while hub.subscribers(topic) < 1:
        await asyncio.sleep(0.01)
    hub.publish(topic, rejected)
    pushed = await asyncio.wait_for(pending, 5)
    assert pushed.errors is None
    assert pushed.data["matchChanged"] == {
        "id": match_id,
        "status": "REJECTED",
        "rejectedBy": "RECYCLER",
        "rejectionReason": "the demand cement-demand was withdrawn by its owner",
    }


@pytest.mark.parametrize("kind", ["offer", "demand"])
async def test_a_match_of_a_withdrawn_listing_cannot_be_confirmed_before_the_sweep(
    api: Api, service: MatchingService, consumer: EventConsumer, catalog: Catalog, kind: str
) -> None:
    """Matching has read the withdrawal; the sweep (in the lease holder, seconds later) has
    not run yet: the second acceptance would confirm a match the sweep is about to reject."""
    match_id = await propose(service, consumer, catalog)
    await api.as_(Role.ENTERPRISE, "steel").data(ACCEPT, id=match_id)
    await catalog.feed(consumer, withdrawn(catalog, kind))

    refused = (await api.as_(Role.ENTERPRISE, "cement").data(ACCEPT, id=match_id))["acceptMatch"]

    assert refused["match"] is None
    [error] = refused["userErrors"]
    ident = "slag-1" if kind == "offer" else "cement-demand"
    assert error["code"] == "LISTING_CLOSED"
    assert f"the {kind} {ident} was withdrawn by its owner" in error["message"]
    record = await service.get(match_id)
    assert record is not None
    assert record.status is MatchStatus.ACCEPTED_BY_SUPPLIER
