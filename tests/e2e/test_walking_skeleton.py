"""The walking skeleton, end to end through the gateway on the real broker:

an offer posted over GraphQL and over Kafka reaches the catalog, matching proposes a match
to a licensed recycler, and the ledger answers a utilisation query — with bad input
answered by typed errors or the dead-letter topic, never a crash. A confirmed match whose
shipment is called off in the ledger is cancelled in matching and gives its tonnes back to
the catalog's offer: one command, three services. An offer amended in place is planned
again on its new terms. A revocation of the recycler's licence calls off the shipment it
has confirmed that has not left, and its tonnes come back (decision 023). An enterprise
amended in the catalog is overseen and booked as amended in the ledger (decision 025). A
shipment lighter than its match gives the rest back to the offer, the demand and the
licence's year, once however often the ledger's word arrives (decision 032).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from wastex_catalog.domain.credit_code import make_credit_code
from wastex_cli.mutations import (
    ACCEPT_MATCH,
    ADD_SITE,
    POST_DEMAND,
    POST_OFFER,
    REGISTER_ENTERPRISE,
    REGISTER_LICENCE,
    report,
)
from wastex_cli.stack import Stack
from wastex_shared.auth import Role, issue_token
from wastex_shared.calendar import Dates
from wastex_shared.envelope import utcnow
from wastex_shared.messaging.topic_reader import read_topic
from wastex_shared.settings import ServiceSettings
from wastex_shared.testing.graphql_client import GraphQLClient, eventually

pytestmark = pytest.mark.e2e

JWT = ServiceSettings().jwt
#: Dates from today (China's): the stack judges windows, licences and months on its clock.
DATES = Dates.now()
THIS_MONTH = DATES.month()
LICENCE = dict(zip(("validFrom", "validUntil"), DATES.licence_validity(3), strict=True))
#: Offers' windows, from the first of next month; demands' run longer.
OFFER_WINDOW = dict(zip(("availableFrom", "availableUntil"), DATES.window(2), strict=True))
DEMAND_WINDOW = dict(zip(("availableFrom", "availableUntil"), DATES.window(7), strict=True))
#: Windows open from today, for the listings whose shipments leave now: the ledger refuses a
#: dispatch before its match's window opens (decision 037).
OFFER_WINDOW_NOW = {**OFFER_WINDOW, "availableFrom": DATES.days(0)}
DEMAND_WINDOW_NOW = {**DEMAND_WINDOW, "availableFrom": DATES.days(0)}

OFFERS = """
query($filter: OfferFilter) {
  offers(filter: $filter, first: 50) { totalCount edges { node { id description quantityTonnes } } }
}"""
MATCHES = """
query($filter: MatchFilter) {
  matches(filter: $filter, first: 50) {
    edges { node { id tonnes distanceKm co2eKg status offer { id } demand { id } } }
  }
}"""
OFFER = "query($id: ID!) { offer(id: $id) { status remainingTonnes } }"
MANIFESTS = """
query($filter: ManifestFilter) { manifests(filter: $filter, first: 50) {
  edges { node { id matchId status match { status cancelReason } } } } }"""
CANCEL_SHIPMENT = """
mutation($input: CancelShipmentInput!) {
  cancelShipment(input: $input) {
    manifest { id status cancellation { cancelledBy reason } } userErrors { field message code }
  }
}"""
AMEND_OFFER = """
mutation($id: ID!, $input: AmendOfferInput!) {
  amendOffer(id: $id, input: $input) {
    offer { id status quantityTonnes } userErrors { field message code }
  }
}"""
REVOKE_LICENCE = """
mutation($id: ID!, $reason: String!) {
  revokeLicence(id: $id, reason: $reason) {
    licence { id revokedOn } userErrors { field message code }
  }
}"""
MANIFEST = "query($id: ID!) { manifest(id: $id) { status cancellation { cancelledBy reason } } }"
DISPATCH = """
mutation($input: DispatchShipmentInput!) {
  dispatchShipment(input: $input) {
    manifest { id status dispatchedTonnes } userErrors { field message code }
  }
}"""
DEMAND = "query($id: ID!) { demand(id: $id) { status remainingTonnes } }"
SHIPPED = """
query($id: ID!) { match(id: $id) { status tonnes shippedTonnes offer { id } } }"""
MATCH_STATUS = "query($id: ID!) { match(id: $id) { status cancelledBy cancelReason } }"
AMEND_ENTERPRISE = """
mutation($id: ID!, $input: AmendEnterpriseInput!) {
  amendEnterprise(id: $id, input: $input) {
    enterprise { id district industry version } userErrors { field message code }
  }
}"""
AMEND_SITE = """
mutation($id: ID!, $input: AmendSiteInput!) {
  amendSite(id: $id, input: $input) {
    site { id district version } userErrors { field message code }
  }
}"""
OFFER_DISTRICT = "query($id: ID!) { offer(id: $id) { district } }"
ENTRY_DISTRICT = "query($id: ID!) { ledgerEntry(id: $id) { district } }"
REVERSE_ENTRY = """
mutation($id: ID!) {
  reverseEntry(id: $id, reason: "booked before the move was read") {
    entry { id } userErrors { field message code }
  }
}"""
LEAGUE = """
query($district: String, $month: String!) {
  enterpriseUtilisation(from: $month, to: $month, district: $district, first: 100) {
    edges { node { enterpriseId } }
  }
}"""
UTILISATION = """
query($scope: UtilisationScope!, $from: String!, $to: String!) {
  utilisation(scope: $scope, from: $from, to: $to) { generatedTonnes utilisedTonnes rate }
}"""


def unique_credit_code() -> str:
    return make_credit_code(f"91420100{uuid.uuid4().int % 10**9:09d}")


async def payload(client: GraphQLClient, query: str, field: str, **variables: Any) -> Any:
    data = await client.data(query, **variables)
    result = data[field]
    assert result["userErrors"] == [], result["userErrors"]
    return result


async def register(admin: GraphQLClient, name: str, kind: str, district: str) -> str:
    result = await payload(
        admin,
        REGISTER_ENTERPRISE,
        "registerEnterprise",
        input={
            "name": name,
            "creditCode": unique_credit_code(),
            "industry": "C3120" if kind == "FACTORY" else "C3011",
            "district": district,
            "kind": kind,
        },
    )
    return str(result["enterprise"]["id"])


async def add_site(
    client: GraphQLClient, enterprise_id: str, district: str, lat: str, lon: str
) -> str:
    result = await payload(
        client,
        ADD_SITE,
        "addSite",
        input={
            "enterpriseId": enterprise_id,
            "name": "main works",
            "district": district,
            "latitude": lat,
            "longitude": lon,
        },
    )
    return str(result["site"]["id"])


async def report_generation(
    client: GraphQLClient, site: str, tonnes: str, code: str = "SW01"
) -> None:
    """Report `code` generated at `site` this month, once the ledger knows the site."""

    async def reported() -> Any:
        given = {"siteId": site, "wasteCode": code, "tonnes": tonnes, "period": THIS_MONTH}
        result = (await client.data(report("reportGeneration"), input=given))["reportGeneration"]
        return result if not result["userErrors"] else None  # the site may not be known yet

    await eventually(reported)


async def test_offer_goes_from_graphql_and_kafka_to_a_match_and_the_ledger(stack: Stack) -> None:
    gateway = GraphQLClient(stack.graphql_url)
    admin = gateway.as_(issue_token(JWT, Role.ADMIN))

    steel = await register(admin, "E2E Steel", "FACTORY", "青山区")
    cement = await register(admin, "E2E Cement", "FACTORY", "江夏区")
    steel_client = gateway.as_(issue_token(JWT, Role.ENTERPRISE, steel))
    cement_client = gateway.as_(issue_token(JWT, Role.ENTERPRISE, cement))
    steel_site = await add_site(steel_client, steel, "青山区", "30.6400", "114.4100")
    cement_site = await add_site(cement_client, cement, "江夏区", "30.3600", "114.3000")
    licence = await payload(
        admin,
        REGISTER_LICENCE,
        "registerLicence",
        input={
            "enterpriseId": cement,
            "number": f"E2E-{uuid.uuid4().hex[:6]}",
            "wasteCodes": ["SW01", "SW02"],
            "annualCapacityTonnes": "50000",
            **LICENCE,
        },
    )
    demand = await payload(
        cement_client,
        POST_DEMAND,
        "postDemand",
        input={
            "siteId": cement_site,
            "wasteCodes": ["SW01"],
            "quantityTonnes": "500.000",
            "maxDistanceKm": "80",
            **DEMAND_WINDOW,
        },
    )
    demand_id = demand["demand"]["id"]

    # 1. postOffer over GraphQL with a valid code, and a typed error for an abolished one.
    offer = await payload(
        steel_client,
        POST_OFFER,
        "postOffer",
        input={
            "siteId": steel_site,
            "wasteCode": "SW01",
            "quantityTonnes": "120.500",
            **OFFER_WINDOW,
            "description": "BOF steel slag, <10 mm",
        },
    )
    assert offer["offer"]["status"] == "OPEN"
    assert offer["offer"]["quantityTonnes"] == "120.500"
    rejected = (
        await steel_client.data(
            POST_OFFER,
            input={
                "siteId": steel_site,
                "wasteCode": "HW41",
                "quantityTonnes": "1",
                **OFFER_WINDOW,
                "description": "",
            },
        )
    )["postOffer"]
    assert rejected["offer"] is None
    assert rejected["userErrors"][0]["code"] == "ABOLISHED_WASTE_CODE"

    # 2. The same action as a raw Kafka message; a malformed one lands in the DLQ.
    ingest_id = str(uuid.uuid4())
    message = {
        "specversion": "1.0",
        "id": ingest_id,
        "type": "wastex.offer.submit",
        "source": steel,
        "time": utcnow().isoformat(),
        "data": {
            "siteId": steel_site,
            "wasteCode": "SW01",
            "quantityTonnes": "80.000",
            **OFFER_WINDOW,
            "description": "via kafka",
        },
    }
    auth = [("authorization", f"Bearer {steel_client.token}".encode())]
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            "ingest.offers.v1", json.dumps(message).encode(), key=steel.encode(), headers=auth
        )
        await producer.send_and_wait(
            "ingest.offers.v1", b'{"specversion": "1.0", "id": ', key=steel.encode(), headers=auth
        )
    finally:
        await producer.stop()

    async def kafka_offer_stored() -> list[Any]:
        data = await steel_client.data(OFFERS, filter={"enterpriseId": steel})
        return [e for e in data["offers"]["edges"] if e["node"]["description"] == "via kafka"]

    await eventually(kafka_offer_stored)

    async def dead_letter() -> list[dict[str, bytes]]:
        found = []
        async for record in read_topic(stack.bootstrap, "catalog.dlq.v1"):
            found.append(dict(record.headers))
        return found

    parked = await eventually(dead_letter)
    assert parked[0]["x-error-type"] == b"INVALID_ENVELOPE"
    assert parked[0]["x-error"]

    # 3. matching proposes a match between the offer and the licensed demand.
    async def proposals() -> list[Any]:
        """The live proposals, once both offers are placed (maybe over two rounds)."""
        data = await cement_client.data(MATCHES, filter={"enterpriseId": cement})
        live = [
            e["node"]
            for e in data["matches"]["edges"]
            if e["node"]["demand"]["id"] == demand_id and e["node"]["status"] != "SUPERSEDED"
        ]
        return live if sum(float(m["tonnes"]) for m in live) >= 200.5 else []

    matches = await eventually(proposals, timeout=30)
    assert {m["status"] for m in matches} == {"PROPOSED"}
    assert sum(float(m["tonnes"]) for m in matches) == pytest.approx(200.5)
    assert all(float(m["distanceKm"]) > 20 for m in matches)

    # 4. the ledger takes a generation report and answers utilisation for the enterprise.
    await report_generation(steel_client, steel_site, "300.000")
    figures = (
        await steel_client.data(
            UTILISATION, scope={"enterpriseId": steel}, **{"from": THIS_MONTH, "to": THIS_MONTH}
        )
    )["utilisation"]
    assert figures["generatedTonnes"] == "300.000"
    assert figures["rate"] == "0.0000"

    # 5. Both accept the GraphQL offer's match; the recycler calls its shipment off before it
    #    leaves: matching cancels the match and the catalog gives the offer its tonnes back.
    [graphql_match] = [m for m in matches if m["offer"]["id"] == offer["offer"]["id"]]
    await payload(steel_client, ACCEPT_MATCH, "acceptMatch", id=graphql_match["id"])
    await payload(cement_client, ACCEPT_MATCH, "acceptMatch", id=graphql_match["id"])

    async def manifest_opened(match_id: str) -> str:
        async def opened() -> str | None:
            data = await cement_client.data(MANIFESTS, filter={"enterpriseId": cement})
            found = [
                e["node"]["id"]
                for e in data["manifests"]["edges"]
                if e["node"]["matchId"] == match_id
            ]
            return found[0] if found else None

        return str(await eventually(opened, timeout=30))

    manifest_id = await manifest_opened(graphql_match["id"])

    async def offer_held() -> Any:
        found = (await steel_client.data(OFFER, id=offer["offer"]["id"]))["offer"]
        return found if found["remainingTonnes"] == "0.000" else None

    assert (await eventually(offer_held, timeout=30))["status"] == "FULLY_MATCHED"
    cancelled = await payload(
        cement_client,
        CANCEL_SHIPMENT,
        "cancelShipment",
        input={"manifestId": manifest_id, "reason": "kiln down for repairs"},
    )
    assert cancelled["manifest"]["status"] == "CANCELLED"

    async def match_cancelled() -> Any:
        found = (await steel_client.data(MATCH_STATUS, id=graphql_match["id"]))["match"]
        return found if found["status"] == "CANCELLED" else None

    assert await eventually(match_cancelled, timeout=30) == {
        "status": "CANCELLED",
        "cancelledBy": "RECYCLER",
        "cancelReason": "kiln down for repairs",
    }

    async def tonnes_back() -> Any:
        found = (await steel_client.data(OFFER, id=offer["offer"]["id"]))["offer"]
        return found if found["remainingTonnes"] == "120.500" else None

    assert (await eventually(tonnes_back, timeout=30))["status"] == "OPEN"
    # The manifest leads to its match across subgraphs (the gateway asks matching).
    shipped = (await steel_client.data(MANIFESTS, filter={"enterpriseId": steel}))["manifests"]
    [node] = [e["node"] for e in shipped["edges"] if e["node"]["id"] == manifest_id]
    assert (node["status"], node["match"]) == (
        "CANCELLED",
        {"status": "CANCELLED", "cancelReason": "kiln down for repairs"},
    )

    # 6. The factory weighs the Kafka offer again and amends it in place (no withdrawal):
    #    matching plans it again, its proposal SUPERSEDED by one of the new tonnage.
    [kafka_offer] = await kafka_offer_stored()
    kafka_offer_id = kafka_offer["node"]["id"]
    amended = await payload(
        steel_client,
        AMEND_OFFER,
        "amendOffer",
        id=kafka_offer_id,
        input={"quantityTonnes": "50.000"},
    )
    assert amended["offer"] == {"id": kafka_offer_id, "status": "OPEN", "quantityTonnes": "50.000"}

    async def replanned() -> list[Any] | None:
        data = await cement_client.data(MATCHES, filter={"enterpriseId": cement})
        on_offer = [
            e["node"]
            for e in data["matches"]["edges"]
            if e["node"]["offer"]["id"] == kafka_offer_id
        ]
        proposed = [m["tonnes"] for m in on_offer if m["status"] == "PROPOSED"]
        return on_offer if proposed == ["50.000"] else None

    on_offer = await eventually(replanned, timeout=30)
    assert {m["status"] for m in on_offer} == {"PROPOSED", "SUPERSEDED"}

    # 7. Both accept the new proposal; the bureau revokes the recycler's licence from today
    #    (an admin records it): the revocation sweep (woken by it; no grace days on this
    #    stack) calls off the shipment that has not left on the recycler's side, matching
    #    cancels the match and the offer has its tonnes back.
    [replanned_match] = [m for m in on_offer if m["status"] == "PROPOSED"]
    await payload(steel_client, ACCEPT_MATCH, "acceptMatch", id=replanned_match["id"])
    await payload(cement_client, ACCEPT_MATCH, "acceptMatch", id=replanned_match["id"])
    replanned_manifest = await manifest_opened(replanned_match["id"])
    await payload(
        admin,
        REVOKE_LICENCE,
        "revokeLicence",
        id=licence["licence"]["id"],
        reason="生态环境局吊销: storage over the permitted amount",
    )

    async def manifest_called_off() -> Any:
        found = (await steel_client.data(MANIFEST, id=replanned_manifest))["manifest"]
        return found if found["status"] == "CANCELLED" else None

    called_off = (await eventually(manifest_called_off, timeout=30))["cancellation"]
    assert called_off["cancelledBy"] == cement
    assert called_off["reason"].startswith("licence E2E-")
    assert "was revoked from" in called_off["reason"]

    async def replanned_cancelled() -> Any:
        found = (await steel_client.data(MATCH_STATUS, id=replanned_match["id"]))["match"]
        return found if found["status"] == "CANCELLED" else None

    cancelled_match = await eventually(replanned_cancelled, timeout=30)
    assert (cancelled_match["cancelledBy"], cancelled_match["cancelReason"]) == (
        "RECYCLER",
        called_off["reason"],
    )

    async def kafka_offer_back() -> Any:
        found = (await steel_client.data(OFFER, id=kafka_offer_id))["offer"]
        return found if found["remainingTonnes"] == "50.000" else None

    assert await eventually(kafka_offer_back, timeout=30)


async def test_an_amended_enterprise_is_overseen_and_booked_as_amended(stack: Stack) -> None:
    """Decision 025: the catalog publishes the amendment, the ledger reads it over Kafka."""
    gateway = GraphQLClient(stack.graphql_url)
    admin = gateway.as_(issue_token(JWT, Role.ADMIN))
    works = await register(admin, "E2E Ferroalloy", "FACTORY", "青山区")
    works_client = gateway.as_(issue_token(JWT, Role.ENTERPRISE, works))
    site = await add_site(works_client, works, "青山区", "30.6300", "114.4200")
    amended = await payload(
        admin,
        AMEND_ENTERPRISE,
        "amendEnterprise",
        id=works,
        input={"reason": "工商变更: 登记地与行业", "industry": "C3140", "district": "江夏区"},
    )
    assert (amended["enterprise"]["district"], amended["enterprise"]["version"]) == ("江夏区", 2)

    # The amended district's regulator finds it in its league table (the ledger's read
    # model of enterprises), the old district's no longer.
    jiangxia = gateway.as_(issue_token(JWT, Role.REGULATOR, district="江夏区"))
    qingshan = gateway.as_(issue_token(JWT, Role.REGULATOR, district="青山区"))

    async def listed(regulator: GraphQLClient, district: str) -> list[str]:
        data = await regulator.data(LEAGUE, district=district, month=THIS_MONTH)
        edges = data["enterpriseUtilisation"]["edges"]
        return [e["node"]["enterpriseId"] for e in edges if e["node"]["enterpriseId"] == works]

    assert await eventually(lambda: listed(jiangxia, "江夏区"), timeout=30)
    assert await listed(qingshan, "青山区") == []

    # A report booked now counts under the amended industry, where the site lies.
    await report_generation(works_client, site, "12.500")
    figures = (
        await qingshan.data(
            UTILISATION,
            scope={"district": "青山区", "industry": "C3140"},
            **{"from": THIS_MONTH, "to": THIS_MONTH},
        )
    )["utilisation"]
    assert figures["generatedTonnes"] == "12.500"


async def test_a_moved_site_is_booked_and_overseen_where_it_now_lies(stack: Stack) -> None:
    """Decision 026: the catalog publishes the site amendment and its live offer again; the
    ledger books what is reported there from then on in the amended district."""
    gateway = GraphQLClient(stack.graphql_url)
    admin = gateway.as_(issue_token(JWT, Role.ADMIN))
    works = await register(admin, "E2E Slag Yard", "FACTORY", "青山区")
    works_client = gateway.as_(issue_token(JWT, Role.ENTERPRISE, works))
    site = await add_site(works_client, works, "青山区", "30.6100", "114.4000")
    offer = await payload(
        works_client,
        POST_OFFER,
        "postOffer",
        input={
            "siteId": site,
            "wasteCode": "SW01",
            "quantityTonnes": "20.000",
            **OFFER_WINDOW,
            "description": "slag",
        },
    )
    moved = await payload(
        admin,
        AMEND_SITE,
        "amendSite",
        id=site,
        input={
            "reason": "划入黄陂区",
            "district": "黄陂区",
            "latitude": "30.8800",
            "longitude": "114.3700",
        },
    )
    assert (moved["site"]["district"], moved["site"]["version"]) == ("黄陂区", 2)
    huangpi = gateway.as_(issue_token(JWT, Role.REGULATOR, district="黄陂区"))
    found = (await huangpi.data(OFFER_DISTRICT, id=offer["offer"]["id"]))["offer"]
    assert found["district"] == "黄陂区"  # the listing follows its site at once

    async def booked_where_it_lies() -> Any:
        """Report, once the ledger has read the amendment: a report booked before it was
        read counts where the site was, and is reversed and made again."""
        given = {"siteId": site, "wasteCode": "SW01", "tonnes": "7.250", "period": THIS_MONTH}
        result = await works_client.data(report("reportGeneration"), input=given)
        entry = result["reportGeneration"]["entry"]
        if entry is None:
            return None  # the site may not be known yet
        read = (await works_client.data(ENTRY_DISTRICT, id=entry["id"]))["ledgerEntry"]
        if read["district"] == "黄陂区":
            return read
        await payload(works_client, REVERSE_ENTRY, "reverseEntry", id=entry["id"])
        return None

    assert await eventually(booked_where_it_lies, timeout=30)


async def test_a_lighter_shipment_gives_the_rest_back_once(stack: Stack) -> None:
    """Decision 032: two 50 t matches fill the recycler's 100 t licence for the year; one
    lorry leaves with 30 t, the other with 52 t. The 20 t short go back to the first offer,
    the demand and the licence's year (and are proposed again), once though the ledger's
    word is delivered again; the heavier load gives nothing back."""
    gateway = GraphQLClient(stack.graphql_url)
    admin = gateway.as_(issue_token(JWT, Role.ADMIN))
    miner = await register(admin, "E2E Tailings", "FACTORY", "新洲区")
    plant = await register(admin, "E2E Sand Plant", "FACTORY", "新洲区")
    miner_client = gateway.as_(issue_token(JWT, Role.ENTERPRISE, miner))
    plant_client = gateway.as_(issue_token(JWT, Role.ENTERPRISE, plant))
    miner_site = await add_site(miner_client, miner, "新洲区", "30.8400", "114.8000")
    plant_site = await add_site(plant_client, plant, "新洲区", "30.8600", "114.8200")
    await payload(
        admin,
        REGISTER_LICENCE,
        "registerLicence",
        input={
            "enterpriseId": plant,
            "number": f"E2E-{uuid.uuid4().hex[:6]}",
            "wasteCodes": ["SW05"],  # tailings: no other e2e listing trades them
            "annualCapacityTonnes": "100",
            **LICENCE,
        },
    )
    demand = await payload(
        plant_client,
        POST_DEMAND,
        "postDemand",
        input={
            "siteId": plant_site,
            "wasteCodes": ["SW05"],
            "quantityTonnes": "500.000",
            "maxDistanceKm": "20",
            **DEMAND_WINDOW_NOW,
        },
    )
    demand_id = demand["demand"]["id"]

    async def post_offer(tonnes: str) -> str:
        posted = await payload(
            miner_client,
            POST_OFFER,
            "postOffer",
            input={
                "siteId": miner_site,
                "wasteCode": "SW05",
                "quantityTonnes": tonnes,
                **OFFER_WINDOW_NOW,
                "description": "tailings",
            },
        )
        return str(posted["offer"]["id"])

    light, heavy = await post_offer("50.000"), await post_offer("50.000")

    async def on_demand(status: str) -> list[Any]:
        data = await plant_client.data(MATCHES, filter={"enterpriseId": plant})
        return [
            e["node"]
            for e in data["matches"]["edges"]
            if e["node"]["demand"]["id"] == demand_id and e["node"]["status"] == status
        ]

    async def both_proposed() -> dict[str, str] | None:
        found = {m["offer"]["id"]: m["id"] for m in await on_demand("PROPOSED")}
        return found if set(found) == {light, heavy} else None

    proposed = await eventually(both_proposed, timeout=30)
    for match_id in proposed.values():
        await payload(miner_client, ACCEPT_MATCH, "acceptMatch", id=match_id)
        await payload(plant_client, ACCEPT_MATCH, "acceptMatch", id=match_id)
    # Posted once the licence's year is all held: nothing is proposed for it until then.
    later = await post_offer("40.000")

    async def dispatch(match_id: str, tonnes: str) -> str:
        async def dispatched() -> Any:
            result = (
                await miner_client.data(DISPATCH, input={"matchId": match_id, "tonnes": tonnes})
            )["dispatchShipment"]
            return None if result["userErrors"] else result["manifest"]  # not opened yet

        manifest = await eventually(dispatched, timeout=30)
        assert (manifest["status"], manifest["dispatchedTonnes"]) == ("IN_TRANSIT", tonnes)
        return str(manifest["id"])

    await report_generation(miner_client, miner_site, "200.000", "SW05")  # what leaves
    light_manifest = await dispatch(proposed[light], "30.000")
    await dispatch(proposed[heavy], "52.000")

    async def shipped(match_id: str) -> Any:
        found = (await plant_client.data(SHIPPED, id=match_id))["match"]
        return found if found["shippedTonnes"] is not None else None

    assert (await eventually(lambda: shipped(proposed[light]), timeout=30))["tonnes"] == "50.000"
    assert (await eventually(lambda: shipped(proposed[heavy]), timeout=30))["shippedTonnes"] == (
        "52.000"
    )

    async def given_back() -> dict[str, Any] | None:
        found = {
            ident: (await miner_client.data(OFFER, id=ident))["offer"] for ident in (light, heavy)
        }
        found[demand_id] = (await plant_client.data(DEMAND, id=demand_id))["demand"]
        return found if found[light]["remainingTonnes"] == "20.000" else None

    expected = {
        light: {"status": "PARTIALLY_MATCHED", "remainingTonnes": "20.000"},
        heavy: {"status": "FULLY_MATCHED", "remainingTonnes": "0.000"},
        demand_id: {"status": "PARTIALLY_MATCHED", "remainingTonnes": "420.000"},
    }
    assert await eventually(given_back, timeout=30) == expected

    # The licence's year has 20 t again (100 − 30 − 50): proposed, whichever offer they go to.
    async def proposed_again() -> list[Any] | None:
        found = await on_demand("PROPOSED")
        return found if sum(float(m["tonnes"]) for m in found) >= 20 else None

    again = await eventually(proposed_again, timeout=30)
    assert {m["offer"]["id"] for m in again} <= {light, later}
    assert sum(float(m["tonnes"]) for m in again) == pytest.approx(20)

    # The ledger's word delivered again, as it was and re-driven under another id: the
    # 20 t come back once.
    [record] = [
        r
        async for r in read_topic(stack.bootstrap, "ledger.shipment-dispatched.v1")
        if r.key == light_manifest.encode()
    ]
    event = json.loads(record.value)
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap)
    await producer.start()
    try:
        for value in (record.value, json.dumps({**event, "id": str(uuid.uuid4())}).encode()):
            await producer.send_and_wait(
                "ledger.shipment-dispatched.v1",
                value,
                key=record.key,
                headers=list(record.headers),
            )
    finally:
        await producer.stop()
    await asyncio.sleep(5)  # matching and the catalog have long read them by now
    assert await given_back() == expected
    found = await on_demand("PROPOSED")
    assert sum(float(m["tonnes"]) for m in found) == pytest.approx(20)
