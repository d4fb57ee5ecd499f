"""The match lifecycle and who sees what, through the subgraph (ASGI, both databases)."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.exc import DBAPIError

from wastex_matching.adapters.tables import EnterpriseRow, SiteRow
from wastex_matching.domain.lifecycle import MatchStatus
from wastex_matching.service import MatchingService
from wastex_matching.settings import MatchingSettings
from wastex_matching.testing import (
    ACCEPT,
    HONGSHAN_BRICKS,
    JIANGXIA_CEMENT,
    MATCH,
    MATCHES,
    NOW,
    QINGSHAN_STEEL,
    REJECT,
    TODAY,
    XINZHOU_KILN,
    Api,
    Catalog,
)
from wastex_shared.auth import Role
from wastex_shared.envelope import Envelope
from wastex_shared.events.ledger import ShipmentCancelled, ShipmentDispatched
from wastex_shared.messaging import EventConsumer
from wastex_shared.storage import UnitOfWorkFactory


async def propose(service: MatchingService, consumer: EventConsumer, catalog: Catalog) -> str:
    """Steel (青山区) offers 120.5 t of slag; cement (江夏区) wants 500 t: one proposal."""
    await catalog.feed(
        consumer,
        catalog.enterprise("steel", "Wuhan Steel"),
        catalog.enterprise("cement", "Jiangxia Cement", "江夏区"),
        catalog.enterprise("bricks", "Hongshan Bricks", "洪山区"),
        catalog.site("steel-site", "steel", QINGSHAN_STEEL, "青山区"),
        catalog.site("cement-site", "cement", JIANGXIA_CEMENT, "江夏区"),
        catalog.licence("cement-lic", "cement", ["SW01", "SW02"]),
        catalog.demand("cement-demand", "cement", "cement-site", JIANGXIA_CEMENT),
        catalog.offer("slag-1", "steel", "steel-site", QINGSHAN_STEEL, tonnes="120.500"),
    )
    await service.reoptimise()
    [record], _ = await service.list_matches(
        _everything(), status=None, enterprise_id=None, limit=10, after=None
    )
    return record.id


def nearer_recycler(catalog: Catalog) -> tuple[Envelope, ...]:
    """The brickworks (洪山区, registered by `propose`) with a site, a licence and a demand
    for slag: nearer the steel works than the cement plant."""
    return (
        catalog.site("bricks-site", "bricks", HONGSHAN_BRICKS, "洪山区"),
        catalog.licence("bricks-lic", "bricks", ["SW01"]),
        catalog.demand("bricks-demand", "bricks", "bricks-site", HONGSHAN_BRICKS),
    )


def _everything() -> Any:
    from wastex_matching.adapters.repository import MatchScope

    return MatchScope(everything=True)


def ids(data: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in data["matches"]["edges"]]


def error_code(body: dict[str, Any]) -> str:
    return str(body["errors"][0]["extensions"]["code"])


async def test_parties_regulators_and_admins_see_what_they_may(
    api: Api, service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> None:
    match_id = await propose(service, consumer, catalog)

    recycler = await api.as_(Role.ENTERPRISE, "cement").data(
        MATCHES, filter={"enterpriseId": "cement"}, first=50
    )
    node = recycler["matches"]["edges"][0]["node"]
    assert recycler["matches"]["totalCount"] == 1
    assert node["id"] == match_id
    assert node["status"] == "PROPOSED"
    assert node["tonnes"] == "120.500"
    assert float(node["distanceKm"]) > 20
    assert node["offer"] == {"id": "slag-1"}
    assert node["demand"] == {"id": "cement-demand"}
    assert node["freightFactorKey"] == "freight_road_diesel_truck_30t_cn"
    assert node["avoidedFactorKey"] == "avoided_ggbs_replacing_cement_cn_derived"
    assert "GB/T 51366" in node["freightFactorSource"]
    assert node["explanation"]

    assert ids(await api.as_(Role.RECYCLER, "steel").data(MATCHES)) == [match_id]
    assert ids(await api.as_(Role.ENTERPRISE, "bricks").data(MATCHES)) == []
    assert ids(await api.as_(Role.REGULATOR, district="江夏区").data(MATCHES)) == [match_id]
    assert ids(await api.as_(Role.REGULATOR, district="青山区").data(MATCHES)) == [match_id]
    assert ids(await api.as_(Role.REGULATOR, district="武昌区").data(MATCHES)) == []
    assert ids(await api.as_(Role.REGULATOR, district="*").data(MATCHES)) == [match_id]
    assert ids(await api.as_(Role.ADMIN).data(MATCHES)) == [match_id]

    other = await api.as_(Role.ENTERPRISE, "bricks").execute(
        MATCHES, filter={"enterpriseId": "cement"}
    )
    assert error_code(other) == "NOT_AUTHORIZED"
    assert other["data"] == {"matches": None}
    assert error_code(await api.anonymous().execute(MATCHES)) == "NOT_AUTHORIZED"
    assert error_code(await api.as_(Role.ENTERPRISE, "bricks").execute(MATCH, id=match_id)) == (
        "NOT_AUTHORIZED"
    )
    assert error_code(await api.as_(Role.ADMIN).execute(MATCH, id="nope")) == "NOT_FOUND"
    # To a tenant, a match that is not there is answered as one that is not its own: ids
    # derive from public listing ids, two answers would tell which pairs were proposed.
    assert error_code(await api.as_(Role.ENTERPRISE, "bricks").execute(MATCH, id="nope")) == (
        "NOT_AUTHORIZED"
    )
    seen = await api.as_(Role.REGULATOR, district="江夏区").data(MATCH, id=match_id)
    assert seen["match"]["id"] == match_id


def parties(node: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    return node["supplierEnterpriseId"], node["recyclerEnterpriseId"], node["licenceId"]


async def test_each_party_learns_who_the_other_is_only_once_both_have_agreed(
    api: Api, service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> None:
    """Listings are anonymous; a proposal naming the counterparty would tie them to their
    owners. Once confirmed, the manifest names both anyway."""
    match_id = await propose(service, consumer, catalog)
    supplier, recycler = api.as_(Role.ENTERPRISE, "steel"), api.as_(Role.ENTERPRISE, "cement")
    everyone = ("steel", "cement", "cement-lic")

    async def seen(caller: Api) -> tuple[str | None, str | None, str | None]:
        listed = (await caller.data(MATCHES))["matches"]["edges"][0]["node"]
        assert parties(listed) == parties((await caller.data(MATCH, id=match_id))["match"])
        return parties(listed)

    assert await seen(supplier) == ("steel", None, None)
    assert await seen(recycler) == (None, "cement", "cement-lic")
    assert await seen(api.as_(Role.REGULATOR, district="青山区")) == everyone
    assert await seen(api.as_(Role.ADMIN)) == everyone

    assert (await supplier.data(ACCEPT, id=match_id))["acceptMatch"]["userErrors"] == []
    assert await seen(recycler) == (None, "cement", "cement-lic")
    assert (await recycler.data(ACCEPT, id=match_id))["acceptMatch"]["userErrors"] == []
    assert await seen(supplier) == everyone
    assert await seen(recycler) == everyone


async def test_alternatives_do_not_tell_the_recycler_which_demands_are_the_suppliers(
    api: Api, service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> None:
    """The steel works also takes slag at its own site: never a candidate for its offer, and
    listing it as "the same enterprise" would tie that demand to its owner (decision 022)."""
    await catalog.feed(
        consumer,
        catalog.enterprise("steel", "Wuhan Steel"),
        catalog.site("steel-site", "steel", QINGSHAN_STEEL, "青山区"),
        catalog.licence("steel-lic", "steel", ["SW01"]),
        catalog.demand("steel-demand", "steel", "steel-site", QINGSHAN_STEEL),
    )
    match_id = await propose(service, consumer, catalog)
    for caller in (api.as_(Role.ENTERPRISE, "cement"), api.as_(Role.ADMIN)):
        match = (await caller.data(MATCH, id=match_id))["match"]
        assert match["demand"] == {"id": "cement-demand"}
        assert "steel-demand" not in {a["demand"]["id"] for a in match["alternatives"]}


async def test_supplier_then_recycler_accept_confirms_the_match(
    api: Api,
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
    uow_factory: UnitOfWorkFactory,
) -> None:
    match_id = await propose(service, consumer, catalog)
    supplier, recycler = api.as_(Role.ENTERPRISE, "steel"), api.as_(Role.ENTERPRISE, "cement")

    for outsider in (
        api.as_(Role.ENTERPRISE, "bricks"),
        api.as_(Role.ADMIN),
        api.as_(Role.REGULATOR, district="*"),
        api.anonymous(),
    ):
        refused = (await outsider.data(ACCEPT, id=match_id))["acceptMatch"]
        assert refused["match"] is None
        assert refused["userErrors"][0]["code"] == "NOT_AUTHORIZED"

    first = (await supplier.data(ACCEPT, id=match_id))["acceptMatch"]
    assert first["userErrors"] == []
    assert first["match"]["status"] == "ACCEPTED_BY_SUPPLIER"
    twice = (await supplier.data(ACCEPT, id=match_id))["acceptMatch"]
    assert twice["userErrors"][0]["code"] == "INVALID_TRANSITION"
    assert twice["userErrors"][0]["field"] == "id"  # the argument at fault, as the catalog's

    # accepted = fixed: a closer demand appearing does not take it away
    await catalog.feed(consumer, *nearer_recycler(catalog))
    report = await service.reoptimise()
    assert (report.proposed, report.superseded) == (0, 0)

    second = (await recycler.data(ACCEPT, id=match_id))["acceptMatch"]
    assert second["userErrors"] == []
    assert second["match"] == {
        "id": match_id,
        "status": "CONFIRMED",
        "acceptedBySupplier": True,
        "acceptedByRecycler": True,
    }
    late = (await recycler.data(REJECT, id=match_id, reason="changed our mind"))["rejectMatch"]
    assert (late["userErrors"][0]["code"], late["userErrors"][0]["field"]) == (
        "INVALID_TRANSITION",
        "id",
    )

    types = await _outbox_types(uow_factory)
    assert types == [
        "matching.match-proposed",
        "matching.match-accepted",
        "matching.match-accepted",
        "matching.match-confirmed",
    ]


async def _outbox_types(uow_factory: UnitOfWorkFactory) -> list[str]:
    return [payload["type"] for payload in await _outbox_payloads(uow_factory)]


async def _outbox_payloads(uow_factory: UnitOfWorkFactory) -> list[dict[str, Any]]:
    import json

    from sqlalchemy import select

    table = uow_factory.tables.outbox
    async with uow_factory() as uow:
        rows = (await uow.session.execute(select(table).order_by(table.c.id))).all()
    return [json.loads(r.payload) for r in rows]


async def test_rejection_needs_a_reason_and_the_pair_is_not_proposed_again(
    api: Api, service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> None:
    match_id = await propose(service, consumer, catalog)
    recycler = api.as_(Role.RECYCLER, "cement")

    blank = (await recycler.data(REJECT, id=match_id, reason="  "))["rejectMatch"]
    assert blank["userErrors"][0]["code"] == "REQUIRED_FIELD"
    assert blank["userErrors"][0]["field"] == "reason"
    done = (await recycler.data(REJECT, id=match_id, reason="moisture too high"))["rejectMatch"]
    assert done["userErrors"] == []
    assert done["match"] == {
        "id": match_id,
        "status": "REJECTED",
        "rejectedBy": "RECYCLER",
        "rejectionReason": "moisture too high",
    }
    assert service.changed.is_set()

    report = await service.reoptimise()
    assert report.proposed == 0

    # another taker further away: the offer goes there, the rejected pairing stays out
    await catalog.feed(
        consumer,
        catalog.enterprise("kiln", "Xinzhou Kiln", "新洲区"),
        catalog.site("kiln-site", "kiln", XINZHOU_KILN, "新洲区"),
        catalog.licence("kiln-lic", "kiln", ["SW01"]),
        catalog.demand("kiln-demand", "kiln", "kiln-site", XINZHOU_KILN, district="新洲区"),
    )
    report = await service.reoptimise()
    assert report.proposed == 1
    [kiln] = (await api.as_(Role.ENTERPRISE, "kiln").data(MATCHES))["matches"]["edges"]
    assert kiln["node"]["offer"] == {"id": "slag-1"}
    assert {"demand": {"id": "cement-demand"}, "reason": "REJECTED"}.items() <= (
        kiln["node"]["alternatives"][0].items()
    )
    unknown = (await recycler.data(ACCEPT, id="no-such-match"))["acceptMatch"]
    assert unknown["userErrors"][0]["code"] == "NOT_AUTHORIZED"  # as another's would be


async def test_open_matches_expire_when_their_window_has_passed(
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
    uow_factory: UnitOfWorkFactory,
    settings: MatchingSettings,
) -> None:
    match_id = await propose(service, consumer, catalog)
    assert await service.expire_due() == 0

    later = MatchingService(
        uow_factory, settings, clock=lambda: datetime(2027, 2, 1, 1, 0, tzinfo=UTC)
    )
    assert await later.expire_due() == 1
    record = await later.get(match_id)
    assert record is not None
    assert record.status is MatchStatus.EXPIRED
    assert record.expiry_reason == "its shipping window ended on 2027-01-31"
    assert (await _outbox_types(uow_factory))[-1] == "matching.match-expired"
    assert await later.expire_due() == 0


async def test_a_revoked_licence_ends_its_accepted_matches_and_refuses_acceptance(
    api: Api,
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
    uow_factory: UnitOfWorkFactory,
) -> None:
    match_id = await propose(service, consumer, catalog)
    supplier, recycler = api.as_(Role.ENTERPRISE, "steel"), api.as_(Role.ENTERPRISE, "cement")
    first = (await supplier.data(ACCEPT, id=match_id))["acceptMatch"]
    assert first["match"]["status"] == "ACCEPTED_BY_SUPPLIER"
    assert await service.expire_due() == 0

    revoked = catalog.amended_licence("cement-lic", "cement", ["SW01", "SW02"], 2, TODAY)
    await catalog.feed(consumer, revoked)
    refused = (await recycler.data(ACCEPT, id=match_id))["acceptMatch"]
    assert refused["userErrors"][0]["code"] == "LICENCE_NO_LONGER_VALID"

    assert await service.expire_due() == 1
    record = await service.get(match_id)
    assert record is not None
    assert record.status is MatchStatus.EXPIRED
    assert record.expiry_reason is not None
    assert "licence no longer holds" in record.expiry_reason
    expired = (await _outbox_payloads(uow_factory))[-1]
    assert expired["type"] == "matching.match-expired"
    assert "licence no longer holds" in expired["data"]["reason"]
    assert await service.expire_due() == 0


async def test_a_licence_missing_from_the_read_model_neither_expires_nor_blocks_a_match(
    api: Api,
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
    uow_factory: UnitOfWorkFactory,
) -> None:
    """A gap in the read model (a licence fact dead-lettered, a replay short of history) is
    no revocation: undoing accepted matches for it would release tonnes for nothing."""
    from sqlalchemy import delete

    from wastex_matching.adapters.tables import LicenceRow

    match_id = await propose(service, consumer, catalog)
    await api.as_(Role.ENTERPRISE, "steel").data(ACCEPT, id=match_id)
    async with uow_factory() as uow:
        await uow.session.execute(delete(LicenceRow))
        await uow.commit()
    assert await service.expire_due() == 0
    confirmed = (await api.as_(Role.ENTERPRISE, "cement").data(ACCEPT, id=match_id))["acceptMatch"]
    assert confirmed["match"]["status"] == "CONFIRMED"


@pytest.mark.parametrize(
    "moment", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+05:00", "2026-13-01", ""]
)
async def test_a_forged_match_cursor_is_refused_as_such(
    api: Api, service: MatchingService, consumer: EventConsumer, catalog: Catalog, moment: str
) -> None:
    """Moments at the calendar's edge overflowed in PostgreSQL's driver: an internal error."""
    await propose(service, consumer, catalog)
    cursor = base64.urlsafe_b64encode(f"{moment}|x".encode()).decode()
    body = await api.as_(Role.ADMIN).execute(MATCHES, after=cursor)
    assert body["errors"][0]["extensions"]["code"] == "INVALID_CURSOR", body


@pytest.mark.parametrize(
    "position", ["2026-12-01T00:00:00+00:00|\x00", "2026-12-01T00:00:00+00:00|", "2026-12-01"]
)
async def test_a_match_cursor_without_a_storable_id_is_refused_as_such(
    api: Api, service: MatchingService, consumer: EventConsumer, catalog: Catalog, position: str
) -> None:
    """A NUL in the id part reached PostgreSQL (an internal error); a cursor with no id part
    was taken as a position. Neither is one this API gave out."""
    await propose(service, consumer, catalog)
    cursor = base64.urlsafe_b64encode(position.encode()).decode()
    body = await api.as_(Role.ENTERPRISE, "steel").execute(MATCHES, after=cursor)
    assert body["errors"][0]["extensions"]["code"] == "INVALID_CURSOR", body
    assert body["errors"][0]["extensions"]["field"] == "after"


async def test_both_parties_accepting_at_once_confirm_the_match(
    api: Api, service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> None:
    """On PostgreSQL the second acceptance read the proposal, lost the version check and was
    refused: the match stayed half accepted. The match's row lock makes them take turns."""
    await propose(service, consumer, catalog)
    more = [catalog.offer(f"slag-{n}", "steel", "steel-site", QINGSHAN_STEEL) for n in (2, 3, 4)]
    await catalog.feed(consumer, *more)
    await service.reoptimise()
    proposals, _ = await service.list_matches(
        _everything(), status=None, enterprise_id=None, limit=10, after=None
    )
    assert len(proposals) == 4
    supplier, recycler = api.as_(Role.ENTERPRISE, "steel"), api.as_(Role.ENTERPRISE, "cement")
    for proposal in proposals:  # the race is narrow: several goes, every one must confirm
        outcomes = await asyncio.gather(
            supplier.data(ACCEPT, id=proposal.id), recycler.data(ACCEPT, id=proposal.id)
        )
        assert [o["acceptMatch"]["userErrors"] for o in outcomes] == [[], []]
        record = await service.get(proposal.id)
        assert record is not None
        assert record.status is MatchStatus.CONFIRMED


class _SerializationFailure(Exception):
    sqlstate = "40001"


async def test_an_acceptance_the_database_aborts_for_a_concurrent_one_is_run_again(
    api: Api,
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
    uow_factory: UnitOfWorkFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Nothing of a try the database aborts (a deadlock, a serialization failure) was kept:
    the acceptance runs again, as the catalog's mutations do, before SERVICE_UNAVAILABLE."""
    match_id = await propose(service, consumer, catalog)
    publish = MatchingService._publish
    aborts = [1]

    async def aborted_once(*args: Any, **kwargs: Any) -> None:
        await publish(*args, **kwargs)  # written in the transaction, then aborted
        if aborts[0]:
            aborts[0] -= 1
            raise DBAPIError("COMMIT", {}, _SerializationFailure())

    monkeypatch.setattr(MatchingService, "_publish", aborted_once)
    accepted = (await api.as_(Role.ENTERPRISE, "steel").data(ACCEPT, id=match_id))["acceptMatch"]
    assert (accepted["userErrors"], accepted["match"]["status"]) == ([], "ACCEPTED_BY_SUPPLIER")
    assert (aborts, await _outbox_types(uow_factory)) == (
        [0],
        ["matching.match-proposed", "matching.match-accepted"],
    )

    async def aborted_always(*args: Any, **kwargs: Any) -> None:
        raise DBAPIError("COMMIT", {}, _SerializationFailure())

    monkeypatch.setattr(MatchingService, "_publish", aborted_always)
    body = await api.as_(Role.ENTERPRISE, "cement").execute(ACCEPT, id=match_id)
    assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"


async def test_a_licence_cut_below_a_proposal_refuses_its_first_acceptance_only(
    api: Api, service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> None:
    """Until the next round supersedes it, a proposal over a licence cut since stayed
    acceptable, and confirmed it committed more than the licence allows; a match already
    accepted is a commitment the cut does not undo (decision 017)."""
    match_id = await propose(service, consumer, catalog)  # 120.5 t under 50,000 t a year
    supplier, recycler = api.as_(Role.ENTERPRISE, "steel"), api.as_(Role.ENTERPRISE, "cement")
    cut = catalog.amended_licence("cement-lic", "cement", ["SW01", "SW02"], 2, capacity="100")
    await catalog.feed(consumer, cut)
    refused = (await supplier.data(ACCEPT, id=match_id))["acceptMatch"]
    assert refused["userErrors"][0]["code"] == "LICENCE_NO_LONGER_VALID"
    # What is left tells of the recycler's other deals: the recycler alone reads it.
    assert "left" not in refused["userErrors"][0]["message"]
    refused = (await recycler.data(ACCEPT, id=match_id))["acceptMatch"]
    assert refused["userErrors"][0]["code"] == "LICENCE_NO_LONGER_VALID"
    assert "100.000 t left" in refused["userErrors"][0]["message"]

    restored = catalog.amended_licence("cement-lic", "cement", ["SW01", "SW02"], 3)
    await catalog.feed(consumer, restored)
    first = (await supplier.data(ACCEPT, id=match_id))["acceptMatch"]
    assert first["match"]["status"] == "ACCEPTED_BY_SUPPLIER"
    cut_again = catalog.amended_licence("cement-lic", "cement", ["SW01", "SW02"], 4, capacity="100")
    await catalog.feed(consumer, cut_again)
    confirmed = (await recycler.data(ACCEPT, id=match_id))["acceptMatch"]
    assert confirmed["match"]["status"] == "CONFIRMED"


async def test_a_licence_no_longer_listing_the_code_supersedes_its_proposal(
    api: Api, service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> None:
    match_id = await propose(service, consumer, catalog)
    await catalog.feed(consumer, catalog.amended_licence("cement-lic", "cement", ["SW02"], 2))
    refused = (await api.as_(Role.ENTERPRISE, "steel").data(ACCEPT, id=match_id))["acceptMatch"]
    assert refused["userErrors"][0]["code"] == "LICENCE_NO_LONGER_VALID"
    report = await service.reoptimise()
    assert (report.proposed, report.superseded) == (0, 1)


async def test_the_latest_licence_version_wins_whatever_the_order_of_its_facts(
    service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> None:
    await catalog.feed(
        consumer,
        catalog.enterprise("cement", "Jiangxia Cement", "江夏区"),
        catalog.amended_licence("lic", "cement", ["SW02"], 3, date(2027, 3, 1)),
    )
    # Read after the amendment (another topic): the registration must not undo it.
    await catalog.feed(
        consumer,
        catalog.licence("lic", "cement", ["SW01"]),
        catalog.amended_licence("lic", "cement", ["SW01", "SW02"], 2),
    )
    [licence] = await service.licences_of("cement")
    assert licence.waste_codes == frozenset({"SW02"})
    assert licence.valid_until == date(2027, 2, 28)  # the day before the revocation


async def test_the_latest_enterprise_version_wins_whatever_the_order_of_its_facts(
    consumer: EventConsumer, catalog: Catalog, uow_factory: UnitOfWorkFactory
) -> None:
    await catalog.feed(consumer, catalog.amended_enterprise("cement", "Huaxin Cement", "江夏区", 3))
    # Read after the amendment (another topic): the registration must not undo it.
    await catalog.feed(
        consumer,
        catalog.enterprise("cement", "Jiangxia Cement", "青山区"),
        catalog.amended_enterprise("cement", "Cement Works", "洪山区", 2),
    )
    async with uow_factory() as uow:
        row = await uow.session.get(EnterpriseRow, "cement")
    assert row is not None
    assert (row.name, row.district, row.version) == ("Huaxin Cement", "江夏区", 3)


async def test_the_latest_site_version_wins_whatever_the_order_of_its_facts(
    consumer: EventConsumer, catalog: Catalog, uow_factory: UnitOfWorkFactory
) -> None:
    await catalog.feed(
        consumer, catalog.site_amended("kiln", "cement", JIANGXIA_CEMENT, "江夏区", 3)
    )
    # Read after the amendment (another topic): the addition must not undo it.
    await catalog.feed(
        consumer,
        catalog.site("kiln", "cement", XINZHOU_KILN, "新洲区"),
        catalog.site_amended("kiln", "cement", HONGSHAN_BRICKS, "洪山区", 2),
    )
    async with uow_factory() as uow:
        row = await uow.session.get(SiteRow, "kiln")
    assert row is not None
    assert (row.district, row.latitude, row.longitude, row.version) == (
        "江夏区",
        *JIANGXIA_CEMENT,
        3,
    )


async def test_pages_follow_the_cursor_newest_first(
    api: Api,
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
    uow_factory: UnitOfWorkFactory,
    settings: MatchingSettings,
) -> None:
    await propose(service, consumer, catalog)
    minutes = iter(range(1, 100))
    ticking = MatchingService(
        uow_factory, settings, clock=lambda: NOW + timedelta(minutes=next(minutes))
    )
    for n in range(2, 5):
        await catalog.feed(
            consumer,
            catalog.offer(f"slag-{n}", "steel", "steel-site", QINGSHAN_STEEL, tonnes=f"{n}0"),
        )
        await ticking.reoptimise()
    admin = api.as_(Role.ADMIN)
    seen: list[str] = []
    after = None
    while True:
        page = (await admin.data(MATCHES, first=3, after=after))["matches"]
        assert page["totalCount"] == 4
        seen += [edge["node"]["offer"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ["slag-4", "slag-3", "slag-2", "slag-1"]
    too_many = await admin.execute("query { matches(first: 101) { totalCount } }")
    assert error_code(too_many) == "INVALID_PAGE_SIZE"
    filtered = await admin.data(MATCHES, filter={"status": "CONFIRMED"})
    assert filtered["matches"]["totalCount"] == 0


async def test_match_entity_resolves_by_reference_for_who_may_see_it(
    api: Api, service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> None:
    match_id = await propose(service, consumer, catalog)
    query = (
        "query($r: [_Any!]!) { _entities(representations: $r) "
        "{ ... on Match { id tonnes status } ... on Offer { id } } }"
    )
    representations = [{"__typename": "Match", "id": match_id}, {"__typename": "Offer", "id": "o"}]
    found = await api.as_(Role.ENTERPRISE, "cement").data(query, r=representations)
    assert found["_entities"] == [
        {"id": match_id, "tonnes": "120.500", "status": "PROPOSED"},
        {"id": "o"},
    ]
    refused = await api.as_(Role.ENTERPRISE, "bricks").execute(query, r=representations[:1])
    assert error_code(refused) == "NOT_AUTHORIZED"


@pytest.mark.parametrize("reason", ["x" * 501])
async def test_overlong_rejection_reason_is_refused(
    api: Api, service: MatchingService, consumer: EventConsumer, catalog: Catalog, reason: str
) -> None:
    match_id = await propose(service, consumer, catalog)
    result = await api.as_(Role.ENTERPRISE, "steel").data(REJECT, id=match_id, reason=reason)
    assert result["rejectMatch"]["userErrors"][0]["code"] == "TEXT_TOO_LONG"


def manifest_facts(match_id: str, planned: str) -> dict[str, Any]:
    """What every ledger fact of the match's manifest says of it (steel → cement, SW01)."""
    return {
        "manifest_id": f"manifest-of-{match_id}",
        "match_id": match_id,
        "supplier_enterprise_id": "steel",
        "supplier_site_id": "steel-site",
        "recycler_enterprise_id": "cement",
        "recycler_site_id": "cement-site",
        "waste_code": "SW01",
        "planned_tonnes": Decimal(planned),
        "distance_km": Decimal("40"),
        "freight_factor_key": "road",
    }


def shipment_cancelled(match_id: str, by: str, reason: str) -> Envelope:
    data = ShipmentCancelled(
        **manifest_facts(match_id, "120.500"), status="CANCELLED", cancelled_by=by, reason=reason
    )
    return Envelope.new("ledger.shipment-cancelled", "ledger", f"manifest-of-{match_id}", data)


async def test_a_shipment_called_off_in_the_ledger_cancels_the_match_and_frees_its_tonnes(
    api: Api,
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
    uow_factory: UnitOfWorkFactory,
) -> None:
    match_id = await propose(service, consumer, catalog)
    supplier, recycler = api.as_(Role.ENTERPRISE, "steel"), api.as_(Role.ENTERPRISE, "cement")
    await supplier.data(ACCEPT, id=match_id)
    await recycler.data(ACCEPT, id=match_id)
    await catalog.feed(consumer, *nearer_recycler(catalog))
    assert (await service.reoptimise()).proposed == 0  # the confirmed match holds the slag

    await catalog.feed(consumer, shipment_cancelled(match_id, "bricks", "not ours to cancel"))
    assert consumer.stats.dead_lettered == 1  # parked: only a party calls a shipment off
    called_off = shipment_cancelled(match_id, "cement", "kiln down for repairs")
    await catalog.feed(consumer, called_off)
    await catalog.feed(consumer, shipment_cancelled(match_id, "cement", "again"))  # re-driven
    await catalog.feed(consumer, shipment_cancelled("no-such-match", "cement", "x"))
    assert consumer.stats.dead_lettered == 2  # the unknown match is parked, not guessed at

    seen = (await recycler.data(MATCH_CANCELLATION, id=match_id))["match"]
    assert seen == {
        "status": "CANCELLED",
        "cancelledBy": "RECYCLER",
        "cancelReason": "kiln down for repairs",
    }
    cancelled = [p for p in await _outbox_payloads(uow_factory) if p["subject"] == match_id]
    assert cancelled[-1]["type"] == "matching.match-cancelled"
    assert (cancelled[-1]["data"]["cancelledBy"], cancelled[-1]["data"]["reason"]) == (
        "RECYCLER",
        "kiln down for repairs",
    )
    # Its tonnes are free again, for another demand: not for the pair called off.
    assert (await service.reoptimise()).proposed == 1
    proposals, _ = await service.list_matches(
        _everything(), status=MatchStatus.PROPOSED, enterprise_id=None, limit=10, after=None
    )
    assert [(p.offer_id, p.demand_id) for p in proposals] == [("slag-1", "bricks-demand")]
    late = (await supplier.data(ACCEPT, id=match_id))["acceptMatch"]
    assert late["userErrors"][0]["code"] == "INVALID_TRANSITION"


MATCH_CANCELLATION = "query($id: ID!) { match(id: $id) { status cancelledBy cancelReason } }"


def shipment_dispatched(match_id: str, tonnes: str, planned: str = "50.000") -> Envelope:
    """The ledger's `shipment-dispatched` of the match's manifest (a new event id each)."""
    data = ShipmentDispatched(
        **manifest_facts(match_id, planned),
        period="2026-12",
        dispatched_tonnes=Decimal(tonnes),
        status="IN_TRANSIT",
    )
    return Envelope.new("ledger.shipment-dispatched", "ledger", f"manifest-of-{match_id}", data)


@pytest.mark.parametrize(
    ("load", "released", "proposed_again"),
    [("30.000", "20.000", "20.000"), ("52.000", "0.000", None), ("0.001", "49.999", "49.999")],
)
async def test_a_lighter_shipment_gives_the_rest_back_to_the_offer_and_the_licence_year(
    api: Api,
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
    uow_factory: UnitOfWorkFactory,
    load: str,
    released: str,
    proposed_again: str | None,
) -> None:
    """Decision 032: a 50 t match whose lorry leaves with less holds what left; the rest of
    the offer and of the licence's year (50 t a year: all of it the match's) is planned
    again. A load as heavy or heavier frees nothing."""
    await catalog.feed(
        consumer,
        catalog.enterprise("steel", "Wuhan Steel"),
        catalog.enterprise("cement", "Jiangxia Cement", "江夏区"),
        catalog.site("steel-site", "steel", QINGSHAN_STEEL, "青山区"),
        catalog.site("cement-site", "cement", JIANGXIA_CEMENT, "江夏区"),
        catalog.licence("cement-lic", "cement", ["SW01"], capacity="50"),
        catalog.demand("cement-demand", "cement", "cement-site", JIANGXIA_CEMENT),
        catalog.offer("slag-1", "steel", "steel-site", QINGSHAN_STEEL, tonnes="50"),
    )
    await service.reoptimise()
    [proposal], _ = await service.list_matches(
        _everything(), status=None, enterprise_id=None, limit=10, after=None
    )
    match_id = proposal.id
    supplier, recycler = api.as_(Role.ENTERPRISE, "steel"), api.as_(Role.ENTERPRISE, "cement")
    await supplier.data(ACCEPT, id=match_id)
    await recycler.data(ACCEPT, id=match_id)
    assert (await service.reoptimise()).proposed == 0  # the licence's year is all held

    dispatched = shipment_dispatched(match_id, load)
    await catalog.feed(consumer, dispatched)
    await catalog.feed(consumer, dispatched)  # redelivered: the inbox drops it
    await catalog.feed(consumer, shipment_dispatched(match_id, "10"))  # re-driven: told once
    await catalog.feed(consumer, shipment_dispatched("no-such-match", "10"))
    assert consumer.stats.dead_lettered == 1  # the unknown match is parked

    seen = (await recycler.data(MATCH_SHIPMENT, id=match_id))["match"]
    assert seen == {"status": "CONFIRMED", "tonnes": "50.000", "shippedTonnes": load}
    shipped = [
        p["data"]
        for p in await _outbox_payloads(uow_factory)
        if p["type"] == "matching.match-shipped"
    ]
    assert [(s["matchId"], s["shippedTonnes"], s["releasedTonnes"]) for s in shipped] == [
        (match_id, load, released)
    ]
    report = await service.reoptimise()
    again, _ = await service.list_matches(
        _everything(), status=MatchStatus.PROPOSED, enterprise_id=None, limit=10, after=None
    )
    if proposed_again is None:
        assert (report.proposed, again) == (0, [])
        return
    # The shortfall, offered again: within what the offer and the licence's year have left.
    assert [(p.offer_id, p.tonnes) for p in again] == [("slag-1", Decimal(proposed_again))]
    # And it may be accepted: the licence's year counts the match at what left.
    accepted = (await supplier.data(ACCEPT, id=again[0].id))["acceptMatch"]
    assert accepted["userErrors"] == []


MATCH_SHIPMENT = "query($id: ID!) { match(id: $id) { status tonnes shippedTonnes } }"


@pytest.mark.parametrize("kind", ["matching.match-shipped", "matching.match-cancelled"])
async def test_a_match_moved_by_the_ledgers_fact_names_that_fact_as_its_cause(
    api: Api,
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
    uow_factory: UnitOfWorkFactory,
    kind: str,
) -> None:
    """The catalog's and the ledger's facts caused by a message carry its ids (`causationid`,
    and the `correlationid` of the chain it belongs to); matching's `match-shipped` and
    `match-cancelled`, caused by the ledger's dispatch and call-off, carried neither, so
    the chain from a dispatch to the tonnes the catalog gave back broke at matching."""
    match_id = await propose(service, consumer, catalog)
    await api.as_(Role.ENTERPRISE, "steel").data(ACCEPT, id=match_id)
    await api.as_(Role.ENTERPRISE, "cement").data(ACCEPT, id=match_id)
    cause = (
        shipment_dispatched(match_id, "100.000", planned="120.500")
        if kind == "matching.match-shipped"
        else shipment_cancelled(match_id, "cement", "kiln down for repairs")
    ).model_copy(update={"correlation_id": "the-chain"})
    await catalog.feed(consumer, cause)

    [moved] = [p for p in await _outbox_payloads(uow_factory) if p["type"] == kind]
    assert (moved["causationid"], moved["correlationid"]) == (cause.id, "the-chain")
