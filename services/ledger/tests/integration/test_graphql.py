"""The ledger subgraph over HTTP (ASGI, no lifespan): the contract's names and shapes, typed
user errors and who-sees-what, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from wastex_ledger.adapters.repository import Repository
from wastex_ledger.adapters.tables import messaging
from wastex_ledger.entrypoints.graphql import GraphQLServices, schema
from wastex_ledger.service import LedgerService
from wastex_ledger.testing import Harness, Site, unique
from wastex_shared.auth import JwtConfig, Role, issue_token
from wastex_shared.calendar import china_today
from wastex_shared.envelope import Envelope
from wastex_shared.graphql.app import SubgraphApp
from wastex_shared.messaging.live import LiveHub

JWT = JwtConfig()

REPORT = """
mutation($input: LedgerReportInput!) {
  %s(input: $input) {
    entry { id kind tonnes period fromPriorStock enterpriseId district }
    userErrors { field message code }
  }
}"""
UTILISATION = """
query($scope: UtilisationScope!, $from: String!, $to: String!) {
  utilisation(scope: $scope, from: $from, to: $to) {
    generatedTonnes utilisedTonnes utilisedInPlantTonnes transferredForUtilisationTonnes
    priorStockUtilisedTonnes disposedTonnes storedTonnes intakeTonnes rate inPlantShare
  }
}"""
DISPATCH = """
mutation($input: DispatchShipmentInput!) {
  dispatchShipment(input: $input) {
    manifest { id status dispatchedTonnes period supplierDistrict }
    userErrors { field message code }
  }
}"""
RECEIVE = """
mutation($input: ReceiveShipmentInput!) {
  receiveShipment(input: $input) {
    manifest {
      id status receivedTonnes weightGapTonnes weightGapRatio discrepancy
      transportCo2eKg avoidedCo2eKg freightFactorKey avoidedFactorKey
    }
    userErrors { field message code }
  }
}"""
MANIFESTS = """
query($filter: ManifestFilter, $first: Int, $after: String) {
  manifests(filter: $filter, first: $first, after: $after) {
    totalCount
    edges { cursor node { id status matchId } }
    pageInfo { hasNextPage endCursor }
  }
}"""
DISCREPANCIES = """
query { discrepancies(first: 10) { totalCount edges { node { id status weightGapRatio } } } }
"""
RESOLVE = """
mutation($input: ResolveDiscrepancyInput!) {
  resolveDiscrepancy(input: $input) {
    manifest {
      id status discrepancy discrepancyState
      resolution { cause note proposedBy proposedAt agreedNote agreedAt disputedAt }
    }
    userErrors { field message code }
  }
}"""


class Api:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def execute(self, query: str, token: str | None = None, **variables: Any) -> Any:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def data(self, query: str, token: str | None = None, **variables: Any) -> Any:
        body = await self.execute(query, token, **variables)
        assert not body.get("errors"), body["errors"]
        return body["data"]

    async def error_code(self, query: str, token: str | None = None, **variables: Any) -> str:
        body = await self.execute(query, token, **variables)
        assert body.get("errors"), body
        return str(body["errors"][0]["extensions"]["code"])

    async def report(
        self,
        token: str | None,
        site: Site,
        tonnes: str,
        period: str,
        mutation: str = "reportGeneration",
        **more: Any,
    ) -> Any:
        data = await self.data(
            REPORT % mutation,
            token,
            input={
                "siteId": site.site_id,
                "wasteCode": "SW01",
                "tonnes": tonnes,
                "period": period,
                **more,
            },
        )
        return data[mutation]


@contextlib.asynccontextmanager
async def served(ledger: Harness) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the ledger subgraph, in process."""
    app = SubgraphApp(
        schema, JWT, services=GraphQLServices(ledger.service, LiveHub()), loaders=dict
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ledger") as http:
        yield http


@pytest.fixture
async def api(ledger: Harness) -> AsyncIterator[Api]:
    async with served(ledger) as http:
        yield Api(http)


def tenant(site: Site) -> str:
    return issue_token(JWT, Role.ENTERPRISE, site.enterprise_id)


def regulator(district: str) -> str:
    return issue_token(JWT, Role.REGULATOR, district=district)


async def test_report_generation_and_utilisation_as_the_walking_skeleton_uses_them(
    api: Api, ledger: Harness
) -> None:
    steel = await ledger.register("青山区")
    result = await api.report(tenant(steel), steel, "300.000", "2026-11")
    assert result["userErrors"] == []
    assert result["entry"]["kind"] == "GENERATED"
    assert result["entry"]["tonnes"] == "300.000"
    figures = (
        await api.data(
            UTILISATION,
            tenant(steel),
            scope={"enterpriseId": steel.enterprise_id},
            **{"from": "2026-11", "to": "2026-11"},
        )
    )["utilisation"]
    assert figures["generatedTonnes"] == "300.000"
    assert figures["utilisedTonnes"] == "0.000"
    assert figures["rate"] == "0.0000"
    assert figures["inPlantShare"] == "0.0000"


async def test_reports_answer_typed_user_errors(api: Api, ledger: Harness) -> None:
    steel = await ledger.register("青山区")
    other = await ledger.register("青山区")
    token = tenant(steel)

    async def code_of(site_id: str, caller: str | None, **more: Any) -> str:
        payload = (
            await api.data(
                REPORT % "reportInPlantUtilisation",
                caller,
                input={
                    "siteId": site_id,
                    "wasteCode": "SW01",
                    "tonnes": "5.000",
                    "period": "2026-01",
                    **more,
                },
            )
        )["reportInPlantUtilisation"]
        assert payload["entry"] is None
        return str(payload["userErrors"][0]["code"])

    assert await code_of("site-unknown", token) == "UNKNOWN_SITE"
    assert await code_of(steel.site_id, tenant(other)) == "NOT_AUTHORIZED"
    assert await code_of(steel.site_id, regulator("青山区")) == "NOT_AUTHORIZED"
    assert await code_of(steel.site_id, None) == "NOT_AUTHORIZED"
    assert await code_of(steel.site_id, token) == "BALANCE_VIOLATION"
    assert await code_of(steel.site_id, token, wasteCode="HW41") == "ABOLISHED_WASTE_CODE"
    assert await code_of(steel.site_id, token, period="26-01") == "INVALID_PERIOD"
    assert await code_of(steel.site_id, token, period="2099-01") == "INVALID_PERIOD"  # to come
    generation_with_prior = (
        await api.report(token, steel, "1.000", "2026-01", fromPriorStock=True)
    )["userErrors"][0]
    assert generation_with_prior["code"] == "PRIOR_STOCK_NOT_APPLICABLE"
    assert generation_with_prior["field"] == "fromPriorStock"


async def test_who_sees_which_figures(api: Api, ledger: Harness) -> None:
    steel = await ledger.register("青山区")
    cement = await ledger.register("新洲区")
    await api.report(tenant(steel), steel, "10.000", "2026-01")
    window = {"from": "2026-01", "to": "2026-12"}

    async def figures(token: str | None, scope: dict[str, str]) -> Any:
        return (await api.data(UTILISATION, token, scope=scope, **window))["utilisation"]

    async def refused(token: str | None, scope: dict[str, str]) -> str:
        return await api.error_code(UTILISATION, token, scope=scope, **window)

    own = {"enterpriseId": steel.enterprise_id}
    assert (await figures(tenant(steel), own))["generatedTonnes"] == "10.000"
    assert await refused(tenant(cement), own) == "NOT_AUTHORIZED"
    assert await refused(tenant(steel), {"district": "青山区"}) == "NOT_AUTHORIZED"
    assert await refused(None, own) == "NOT_AUTHORIZED"
    # A district regulator: its district and the enterprises registered there, nothing else.
    qingshan = regulator("青山区")
    assert (await figures(qingshan, own))["generatedTonnes"] == "10.000"
    assert (await figures(qingshan, {"district": "青山区"}))["generatedTonnes"] == "10.000"
    by_code = {"district": "青山区", "wasteCode": "SW01"}
    assert (await figures(qingshan, by_code))["generatedTonnes"] == "10.000"
    assert await refused(qingshan, {"district": "新洲区"}) == "NOT_AUTHORIZED"
    assert await refused(qingshan, {"enterpriseId": cement.enterprise_id}) == "NOT_AUTHORIZED"
    assert await refused(qingshan, {}) == "NOT_AUTHORIZED"
    assert await refused(qingshan, {"wasteCode": "SW01"}) == "NOT_AUTHORIZED"
    # '*' regulators and admins see the city.
    assert (await figures(regulator("*"), {}))["generatedTonnes"] == "10.000"
    assert (await figures(issue_token(JWT, Role.ADMIN), {"industry": "C3120"}))["rate"] == (
        "0.0000"
    )
    assert await refused(
        regulator("*"), {"district": "青山区", "industry": "C", "wasteCode": "SW01"}
    ) == ("INVALID_SCOPE")
    # A code no figures could ever answer is refused, not answered with zeros.
    assert await refused(regulator("*"), {"wasteCode": "nonsense"}) == "UNKNOWN_WASTE_CODE"
    # helper-43: an industry typed in lower case, or malformed, was answered with zeros.
    city = regulator("*")
    assert (await figures(city, {"industry": " c3120 "}))["generatedTonnes"] == "10.000"
    assert await refused(city, {"industry": "ZZ"}) == "INVALID_INDUSTRY_CODE"
    assert await refused(city, {"industry": "C9999"}) == "INVALID_INDUSTRY_CODE"  # not section C
    assert (await figures(regulator("*"), {"wasteCode": " sw01 "}))["generatedTonnes"] == "10.000"


async def test_an_enterprise_the_ledger_does_not_know_is_not_answered_with_zeros(
    api: Api, ledger: Harness
) -> None:
    """helper-54: an admin's or a city regulator's mistyped enterpriseId was answered with
    zero figures and a failed zero-waste verdict for an enterprise that does not exist."""
    steel = await ledger.register("青山区")
    await api.report(tenant(steel), steel, "10.000", "2026-01")
    window = {"from": "2026-01", "to": "2026-12"}
    carbon = """query($scope: UtilisationScope!, $from: String!, $to: String!) {
      carbon(scope: $scope, from: $from, to: $to) { transfers } }"""
    assessment = """query($id: ID!) {
      zeroWasteAssessment(enterpriseId: $id, year: 2026) { passed } }"""
    for who in (issue_token(JWT, Role.ADMIN), regulator("*")):
        typo = {"enterpriseId": steel.enterprise_id + "x"}
        for query in (UTILISATION, carbon):
            body = await api.execute(query, who, scope=typo, **window)
            assert body["data"]["utilisation" if query is UTILISATION else "carbon"] is None
            assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND", body
            assert body["errors"][0]["extensions"]["field"] == "scope", body
        body = await api.execute(assessment, who, id=steel.enterprise_id + "x")
        assert body["data"]["zeroWasteAssessment"] is None
        assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND", body
        assert body["errors"][0]["extensions"]["field"] == "enterpriseId", body
        # The enterprise the ledger knows is answered as before.
        own = {"enterpriseId": steel.enterprise_id}
        figures = (await api.data(UTILISATION, who, scope=own, **window))["utilisation"]
        assert figures["generatedTonnes"] == "10.000"
        assert (await api.data(assessment, who, id=steel.enterprise_id))["zeroWasteAssessment"]
    # A tenant's own enterprise, not yet known to the ledger, reads zeros as before.
    newcomer = unique("ent")
    own = {"enterpriseId": newcomer}
    token = issue_token(JWT, Role.ENTERPRISE, newcomer)
    figures = (await api.data(UTILISATION, token, scope=own, **window))["utilisation"]
    assert figures["generatedTonnes"] == "0.000"


async def test_a_district_neither_the_register_nor_the_records_know_is_refused(
    api: Api, ledger: Harness
) -> None:
    steel = await ledger.register("青山区")
    # Named before the register: its figures stay answerable under the name stored.
    old_town = await ledger.register("老城区")
    await api.report(tenant(old_town), old_town, "4.000", "2026-01")
    await api.report(tenant(steel), steel, "10.000", "2026-01")
    window = {"from": "2026-01", "to": "2026-12"}
    city = regulator("*")

    body = await api.execute(UTILISATION, city, scope={"district": "青山"}, **window)
    [error] = body["errors"]
    assert error["extensions"]["code"] == "UNKNOWN_DISTRICT"
    assert error["message"].endswith("did you mean '青山区'?")
    for named in ("青山区", "新洲区", "老城区"):  # listed with no figures yet, or stored
        scope = {"district": named}
        assert (await api.data(UTILISATION, city, scope=scope, **window))["utilisation"]
    old = await api.data(UTILISATION, city, scope={"district": "老城区"}, **window)
    assert old["utilisation"]["generatedTonnes"] == "4.000"


async def test_lists_filter_a_waste_code_as_the_reports_take_it(api: Api, ledger: Harness) -> None:
    # A report takes " sw01 " as SW01, and so does utilisation's scope; the lists' filters
    # compared the text as typed: an empty list, as for a code that does not exist.
    steel = await ledger.register("青山区")
    cement = await ledger.register("新洲区")
    await api.report(tenant(steel), steel, "10.000", "2026-03", wasteCode=" sw01 ")
    await ledger.confirm(steel, cement, "10.000")
    entries = "query($f: LedgerEntryFilter) { ledgerEntries(filter: $f) { totalCount } }"
    for typed in (" sw01 ", "SW01"):
        listed = await api.data(entries, tenant(steel), f={"wasteCode": typed})
        assert listed["ledgerEntries"]["totalCount"] == 1, typed
        shipped = await api.data(MANIFESTS, tenant(steel), filter={"wasteCode": typed})
        assert shipped["manifests"]["totalCount"] == 1, typed
    for query, variables in (
        (entries, {"f": {"wasteCode": "SW1"}}),
        (MANIFESTS, {"filter": {"wasteCode": "SW1"}}),
        (DISCREPANCIES.replace("(first: 10)", '(filter: {wasteCode: "SW1"})'), {}),
    ):
        body = await api.execute(query, tenant(steel), **variables)
        [error] = body["errors"]
        assert error["extensions"]["code"] == "UNKNOWN_WASTE_CODE", body
    # An abolished code still lists what was booked under it.
    none = await api.data(entries, tenant(steel), f={"wasteCode": "hw41"})
    assert none["ledgerEntries"]["totalCount"] == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_district_is_looked_up_beside_a_writer(api: Api, ledger: Harness) -> None:
    # A name the register does not list is looked up in the records: that read took the
    # SQLite write lock, so a typo waited behind a consumer's batch (up to the 30 s busy
    # timeout) before it was told UNKNOWN_DISTRICT, and held every writer back meanwhile.
    window = {"from": "2026-01", "to": "2026-12"}
    async with ledger.uow() as writing:
        await writing.session.execute(select(messaging.outbox.c.id).limit(1))  # BEGIN IMMEDIATE
        body = await asyncio.wait_for(
            api.execute(UTILISATION, regulator("*"), scope={"district": "青山"}, **window), 5
        )
    assert body["errors"][0]["extensions"]["code"] == "UNKNOWN_DISTRICT"


async def test_lists_refuse_months_from_after_to(api: Api, ledger: Harness) -> None:
    # utilisation refuses from after to; the lists answered it with an empty page.
    steel = await ledger.register("青山区")
    await api.report(tenant(steel), steel, "10.000", "2026-03")
    entries = "query($f: LedgerEntryFilter) { ledgerEntries(filter: $f) { totalCount } }"
    backwards = {"from": "2026-12", "to": "2026-01"}
    for query, variables in ((entries, {"f": backwards}), (MANIFESTS, {"filter": backwards})):
        body = await api.execute(query, tenant(steel), **variables)
        [error] = body["errors"]
        assert (error["extensions"]["code"], error["extensions"]["field"]) == (
            "INVALID_PERIOD",
            "from",
        )
    one_end = await api.data(entries, tenant(steel), f={"from": "2026-03"})
    assert one_end["ledgerEntries"]["totalCount"] == 1
    same = await api.data(entries, tenant(steel), f={"from": "2026-03", "to": "2026-03"})
    assert same["ledgerEntries"]["totalCount"] == 1


async def test_a_regulator_reads_the_entries_of_enterprises_registered_in_its_district(
    api: Api, ledger: Harness
) -> None:
    # Registered in 青山区, its works in 新洲区: both districts' regulators read its entries.
    works = Site(unique("site"), unique("ent"), "新洲区", "C3120")
    await ledger.announce(works, registered_in="青山区")
    entry_id = (await api.report(tenant(works), works, "10.000", "2026-01"))["entry"]["id"]
    listing = """query($f: LedgerEntryFilter) { ledgerEntries(filter: $f, first: 10) {
                   edges { node { id } } } }"""
    reading = "query($id: ID!) { ledgerEntry(id: $id) { id } }"
    # The enterprise's own regulator may also ask for its entries by name.
    filtered = {"enterpriseId": works.enterprise_id}
    listed = (await api.data(listing, regulator("青山区"), f=filtered))["ledgerEntries"]
    assert [e["node"]["id"] for e in listed["edges"]] == [entry_id]
    for district, sees in (("青山区", True), ("新洲区", True), ("江岸区", False)):
        listed = (await api.data(listing, regulator(district)))["ledgerEntries"]["edges"]
        assert (entry_id in {e["node"]["id"] for e in listed}) is sees, district
        # Asking for the enterprise by name narrows the same list (新洲区's regulator
        # oversees its works though it is registered elsewhere); it is never refused.
        named = (await api.data(listing, regulator(district), f=filtered))["ledgerEntries"]
        assert [e["node"]["id"] for e in named["edges"]] == ([entry_id] if sees else [])
        if sees:
            read = await api.data(reading, regulator(district), id=entry_id)
            assert read["ledgerEntry"] == {"id": entry_id}, district
        else:
            assert await api.error_code(reading, regulator(district), id=entry_id) == (
                "NOT_AUTHORIZED"
            )


async def test_shipment_by_graphql_with_discrepancy_and_manifest_lists(
    api: Api, ledger: Harness
) -> None:
    steel = await ledger.register("青山区")
    cement = await ledger.register("新洲区")
    bystander = await ledger.register("新洲区")
    await api.report(tenant(steel), steel, "150.000", "2026-03")
    first = await ledger.confirm(steel, cement, "100.000")
    second = await ledger.confirm(steel, cement, "50.000")

    refused = (await api.data(DISPATCH, tenant(cement), input={"matchId": first, "tonnes": "100"}))[
        "dispatchShipment"
    ]
    assert refused["userErrors"][0]["code"] == "NOT_AUTHORIZED"
    for month in ("2099-03", "2019-12"):  # still to come; before the manifest was opened
        misdated = (
            await api.data(
                DISPATCH,
                tenant(steel),
                input={"matchId": first, "tonnes": "100.000", "period": month},
            )
        )["dispatchShipment"]
        assert (misdated["manifest"], misdated["userErrors"][0]["code"]) == (
            None,
            "INVALID_PERIOD",
        )
        assert misdated["userErrors"][0]["field"] == "period"
    sent = (
        await api.data(
            DISPATCH,
            tenant(steel),
            input={"matchId": first, "tonnes": "100.000", "period": "2026-03"},
        )
    )["dispatchShipment"]
    assert sent["userErrors"] == []
    assert sent["manifest"]["status"] == "IN_TRANSIT"
    assert sent["manifest"]["supplierDistrict"] == "青山区"
    manifest_id = sent["manifest"]["id"]

    got = (
        await api.data(
            RECEIVE, tenant(cement), input={"manifestId": manifest_id, "tonnes": "90.000"}
        )
    )["receiveShipment"]
    assert got["userErrors"] == []
    m = got["manifest"]
    assert (m["status"], m["discrepancy"]) == ("DISCREPANCY", True)
    assert (m["receivedTonnes"], m["weightGapTonnes"], m["weightGapRatio"]) == (
        "90.000",
        "-10.000",
        "0.1000",
    )
    assert m["transportCo2eKg"] == "247.104"  # 90 × 35.2 × 0.078
    assert m["avoidedCo2eKg"] == "60120.000"  # 90 × 668
    assert m["avoidedFactorKey"] == "avoided_ggbs_replacing_cement_cn_derived"

    # Lists: the parties see both manifests, a bystander none, another's filter is refused.
    listed = (await api.data(MANIFESTS, tenant(steel), first=1))["manifests"]
    assert listed["totalCount"] == 2
    assert listed["pageInfo"]["hasNextPage"] is True
    rest = (
        await api.data(MANIFESTS, tenant(steel), first=1, after=listed["pageInfo"]["endCursor"])
    )["manifests"]
    assert rest["pageInfo"]["hasNextPage"] is False
    seen = {listed["edges"][0]["node"]["matchId"], rest["edges"][0]["node"]["matchId"]}
    assert seen == {first, second}
    # A forged cursor is refused as one, even where its number is past any column's range.
    for forged in ("99999999999999999999999:x", "1", "1:\x00", "x:y"):
        after = base64.urlsafe_b64encode(forged.encode()).decode()
        assert await api.error_code(MANIFESTS, tenant(steel), after=after) == "INVALID_CURSOR"
    assert (await api.data(MANIFESTS, tenant(bystander)))["manifests"]["totalCount"] == 0
    code = await api.error_code(
        MANIFESTS, tenant(bystander), filter={"enterpriseId": steel.enterprise_id}
    )
    assert code == "NOT_AUTHORIZED"
    assert await api.error_code(MANIFESTS, None) == "NOT_AUTHORIZED"
    # Regulators: either party's district sees the discrepancy; others do not.
    for district in ("青山区", "新洲区", "*"):
        found = (await api.data(DISCREPANCIES, regulator(district)))["discrepancies"]
        assert found["totalCount"] == 1, district
        assert found["edges"][0]["node"]["weightGapRatio"] == "0.1000"
    assert (await api.data(DISCREPANCIES, regulator("江夏区")))["discrepancies"]["totalCount"] == 0
    filtered = (await api.data(MANIFESTS, regulator("*"), filter={"discrepancy": False}))[
        "manifests"
    ]
    assert [e["node"]["matchId"] for e in filtered["edges"]] == [second]

    carbon = (
        await api.data(
            'query($s: UtilisationScope) { carbon(scope: $s, from: "2026-01", to: "2026-12")'
            " { transfers transferredTonnes transportCo2eKg avoidedCo2eKg netAvoidedCo2eKg } }",
            tenant(steel),
            s={"enterpriseId": steel.enterprise_id},
        )
    )["carbon"]
    assert carbon == {
        "transfers": 1,
        "transferredTonnes": "90.000",
        "transportCo2eKg": "247.104",
        "avoidedCo2eKg": "60120.000",
        "netAvoidedCo2eKg": "59872.896",
    }


async def test_a_gap_just_over_the_tolerance_reads_over_it(api: Api, ledger: Harness) -> None:
    # 1 kg over 2 % of 100 t is a DISCREPANCY: its ratio read 0.0200, the tolerance itself.
    steel = await ledger.register("青山区")
    cement = await ledger.register("新洲区")
    await api.report(tenant(steel), steel, "200.000", "2026-03")
    for received, status, ratio in (
        ("97.999", "DISCREPANCY", "0.0201"),
        ("98.000", "RECEIVED", "0.0200"),
    ):
        match = await ledger.confirm(steel, cement, "100.000")
        sent = await ledger.service.dispatch(
            steel.enterprise_id, match, "100.000", period="2026-03"
        )
        got = (
            await api.data(
                RECEIVE, tenant(cement), input={"manifestId": sent.id, "tonnes": received}
            )
        )["receiveShipment"]["manifest"]
        assert (got["status"], got["weightGapRatio"]) == (status, ratio)


async def test_the_parties_resolve_a_discrepancy_by_graphql(api: Api, ledger: Harness) -> None:
    steel = await ledger.register("青山区")
    cement = await ledger.register("新洲区")
    bystander = await ledger.register("新洲区")
    await api.report(tenant(steel), steel, "60.000", "2026-03")
    match = await ledger.confirm(steel, cement, "60.000")
    sent = await ledger.service.dispatch(steel.enterprise_id, match, "60.000", period="2026-03")
    await ledger.service.receive(cement.enterprise_id, sent.id, "54.000")

    async def resolve(token: str, cause: str, note: str = "weighbridge checked") -> Any:
        payload = {"manifestId": sent.id, "cause": cause, "note": note}
        return (await api.data(RESOLVE, token, input=payload))["resolveDiscrepancy"]

    for outsider in (tenant(bystander), regulator("*")):  # a regulator writes nothing
        refused = await resolve(outsider, "WEIGHING_ERROR")
        assert (refused["manifest"], refused["userErrors"][0]["code"]) == (None, "NOT_AUTHORIZED")
    lighter = await resolve(tenant(cement), "WEIGHING_ERROR", "")
    assert lighter["userErrors"][0]["field"] == "note"
    assert (
        await api.error_code(
            RESOLVE,
            tenant(cement),
            input={"manifestId": sent.id, "cause": "ACT_OF_GOD", "note": "x"},
        )
        == "BAD_USER_INPUT"
    )

    async def in_state(state: str) -> list[str]:
        found = await api.data(
            "query($f: ManifestFilter) { discrepancies(filter: $f, first: 10)"
            " { edges { node { id } } } }",
            regulator("*"),
            f={"discrepancyState": state},
        )
        return [e["node"]["id"] for e in found["discrepancies"]["edges"]]

    assert await in_state("OPEN") == [sent.id]
    countered = (await resolve(tenant(steel), "LOSS_IN_TRANSIT", "tarp torn"))["manifest"]
    assert countered["discrepancyState"] == "PROPOSED"
    proposed = (await resolve(tenant(cement), "WEIGHING_ERROR"))["manifest"]
    assert (proposed["status"], proposed["discrepancyState"]) == ("DISCREPANCY", "DISPUTED")
    assert proposed["resolution"]["proposedBy"] == cement.enterprise_id
    assert proposed["resolution"]["agreedAt"] is None
    assert proposed["resolution"]["disputedAt"] is not None
    assert (await in_state("DISPUTED"), await in_state("OPEN")) == ([sent.id], [])
    agreed = (await resolve(tenant(steel), "WEIGHING_ERROR", "our scale read high"))["manifest"]
    assert (agreed["status"], agreed["discrepancy"]) == ("RESOLVED", True)
    assert agreed["discrepancyState"] == "RESOLVED"
    assert (await in_state("RESOLVED"), await in_state("DISPUTED")) == ([sent.id], [])
    assert agreed["resolution"]["note"] == "weighbridge checked"
    assert agreed["resolution"]["agreedNote"] == "our scale read high"
    again = await resolve(tenant(cement), "LOSS_IN_TRANSIT")
    assert again["userErrors"][0]["code"] == "INVALID_MANIFEST_STATE"

    # The regulator's list keeps a resolved discrepancy; the open ones are a status away.
    listed = (await api.data(DISCREPANCIES, regulator("新洲区")))["discrepancies"]
    assert [e["node"]["status"] for e in listed["edges"]] == ["RESOLVED"]
    still_open = (await api.data(MANIFESTS, regulator("*"), filter={"status": "DISCREPANCY"}))[
        "manifests"
    ]
    assert still_open["totalCount"] == 0
    assessment = (
        await api.data(
            "query($e: ID!) { zeroWasteAssessment(enterpriseId: $e, year: 2026)"
            " { rules { key passed } } }",
            tenant(steel),
            e=steel.enterprise_id,
        )
    )["zeroWasteAssessment"]
    results = {r["key"]: r["passed"] for r in assessment["rules"]}
    assert results["no-open-discrepancies"] is True
    assert results["generation-accounted"] is True  # the 6 t were a weighing error


async def test_corrections_entries_and_assessment(api: Api, ledger: Harness) -> None:
    steel = await ledger.register("青山区")
    token = tenant(steel)
    entry_id = (await api.report(token, steel, "100.000", "2026-02"))["entry"]["id"]
    corrected = (
        await api.data(
            """mutation($id: ID!, $tonnes: Decimal!, $reason: String!) {
               correctEntry(id: $id, tonnes: $tonnes, reason: $reason) {
                 entry { id tonnes reverses } reversal { tonnes reverses }
                 userErrors { code } } }""",
            token,
            id=entry_id,
            tonnes="80.000",
            reason="weighbridge",
        )
    )["correctEntry"]
    assert corrected["userErrors"] == []
    assert corrected["reversal"] == {"tonnes": "-100.000", "reverses": entry_id}
    assert corrected["entry"]["tonnes"] == "80.000"
    again = (
        await api.data(
            """mutation($id: ID!) { reverseEntry(id: $id, reason: "again") {
                 entry { id } userErrors { code field } } }""",
            token,
            id=entry_id,
        )
    )["reverseEntry"]
    assert again["userErrors"] == [{"code": "ALREADY_REVERSED", "field": "id"}]

    await api.report(token, steel, "80.000", "2026-02", "reportInPlantUtilisation")
    listed = (
        await api.data(
            """query($f: LedgerEntryFilter) { ledgerEntries(filter: $f, first: 10) {
                 totalCount edges { node { kind tonnes } } } }""",
            token,
            f={"enterpriseId": steel.enterprise_id},
        )
    )["ledgerEntries"]
    assert listed["totalCount"] == 4
    assert sorted(e["node"]["tonnes"] for e in listed["edges"]) == sorted(
        ["100.000", "-100.000", "80.000", "80.000"]
    )
    assessment = (
        await api.data(
            """query($e: ID!) { zeroWasteAssessment(enterpriseId: $e, year: 2026) {
                 passed figures { rate inPlantShare }
                 rules { key passed actual threshold detail } } }""",
            regulator("青山区"),
            e=steel.enterprise_id,
        )
    )["zeroWasteAssessment"]
    assert assessment["figures"] == {"rate": "1.0000", "inPlantShare": "1.0000"}
    assert assessment["passed"] is True
    assert {r["key"] for r in assessment["rules"]} >= {
        "comprehensive-utilisation-rate",
        "in-plant-share",
        "no-open-discrepancies",
    }
    code = await api.error_code(
        "query($e: ID!) { zeroWasteAssessment(enterpriseId: $e, year: 2026) { passed } }",
        regulator("新洲区"),
        e=steel.enterprise_id,
    )
    assert code == "NOT_AUTHORIZED"


ASSESSMENT_OF_YEAR = """query($id: ID!, $year: Int!) {
  zeroWasteAssessment(enterpriseId: $id, year: $year) { year final passed } }"""


async def test_a_year_not_begun_is_refused_an_assessment_on_its_year(
    api: Api, ledger: Harness
) -> None:
    """A year still to come was answered a verdict, `passed: false`, as if judged on
    nothing booked; one in progress is provisional (`final: false`). Not begun is China's
    calendar, as the ledger's months: half an hour before its New Year 2027 is refused."""
    steel = await ledger.register("青山区")
    ledger.clock.fixed = datetime(2026, 12, 31, 15, 30, tzinfo=UTC)  # 23:30 in China
    body = await api.execute(ASSESSMENT_OF_YEAR, regulator("*"), id=steel.enterprise_id, year=2027)
    assert body["data"]["zeroWasteAssessment"] is None
    [error] = body["errors"]
    assert (error["extensions"]["code"], error["extensions"]["field"]) == (
        "INVALID_PERIOD",
        "year",
    )
    assert error["message"] == (
        "2027 has not begun (it is 2026-12-31 in China Standard Time): "
        "there is nothing to judge yet"
    )
    ledger.clock.fixed = datetime(2026, 12, 31, 16, 30, tzinfo=UTC)  # 2027-01-01 00:30
    begun = await api.data(ASSESSMENT_OF_YEAR, regulator("*"), id=steel.enterprise_id, year=2027)
    assert (begun["zeroWasteAssessment"]["year"], begun["zeroWasteAssessment"]["final"]) == (
        2027,
        False,
    )


async def test_rates_are_of_general_waste_unless_another_class_is_asked(
    api: Api, ledger: Harness
) -> None:
    # formulas.md §1: 综合利用率 is a figure of general industrial solid waste.
    plant = await ledger.register("青山区")
    own = tenant(plant)
    await api.report(own, plant, "100.000", "2026-02")
    await api.report(own, plant, "100.000", "2026-02", "reportInPlantUtilisation")
    await api.report(own, plant, "100.000", "2026-02", wasteCode="HW08")
    await api.report(own, plant, "100.000", "2026-02", "reportDisposal", wasteCode="HW08")
    window = {"from": "2026-01", "to": "2026-12"}
    query = UTILISATION.replace("inPlantShare", "inPlantShare wasteClass")

    async def figures(scope: dict[str, str], token: str = own) -> tuple[str, str, str]:
        got = (await api.data(query, token, scope=scope, **window))["utilisation"]
        return got["wasteClass"], got["generatedTonnes"], got["rate"]

    me = {"enterpriseId": plant.enterprise_id}
    assert await figures(me) == ("GENERAL", "100.000", "1.0000")
    assert await figures({**me, "wasteClass": "HAZARDOUS"}) == ("HAZARDOUS", "100.000", "0.0000")
    assert await figures({**me, "wasteClass": "ALL"}) == ("ALL", "200.000", "0.5000")
    assert await figures({**me, "wasteCode": "HW08"}) == ("HAZARDOUS", "100.000", "0.0000")
    # Every code-less scope keeps its rows per class: areas and industries too.
    city = regulator("*")
    for area in ({}, {"district": "青山区"}, {"industry": "C3120"}):
        assert await figures(area, city) == ("GENERAL", "100.000", "1.0000")
        assert (await figures({**area, "wasteClass": "ALL"}, city))[1] == "200.000"
    conflicting = {**me, "wasteCode": "HW08", "wasteClass": "GENERAL"}
    assert await api.error_code(query, own, scope=conflicting, **window) == "INVALID_SCOPE"


async def test_storage_taken_back_out_this_year_is_reported_and_used(
    api: Api, ledger: Harness
) -> None:
    plant = await ledger.register("青山区")
    own = tenant(plant)
    await api.report(own, plant, "100.000", "2026-01")
    await api.report(own, plant, "100.000", "2026-01", "reportStorage")
    taken = await api.report(own, plant, "60.000", "2026-03", "reportStorageRetrieval")
    assert taken["userErrors"] == []
    assert taken["entry"]["kind"] == "STORAGE_RETRIEVED"
    used = await api.report(own, plant, "60.000", "2026-03", "reportInPlantUtilisation")
    assert used["userErrors"] == []
    too_much = await api.report(own, plant, "40.001", "2026-03", "reportStorageRetrieval")
    assert too_much["userErrors"][0]["code"] == "BALANCE_VIOLATION"
    scope = {"enterpriseId": plant.enterprise_id}
    got = await api.data(UTILISATION, own, scope=scope, **{"from": "2026-01", "to": "2026-12"})
    figures = got["utilisation"]
    assert (figures["storedTonnes"], figures["utilisedInPlantTonnes"], figures["rate"]) == (
        "40.000",
        "60.000",
        "0.6000",
    )
    # Net over the range asked: March alone took out 60 t it did not put in (the schema says so).
    got = await api.data(UTILISATION, own, scope=scope, **{"from": "2026-03", "to": "2026-03"})
    assert got["utilisation"]["storedTonnes"] == "-60.000"


async def test_opening_stock_after_the_records_is_refused_on_its_period(
    api: Api, ledger: Harness
) -> None:
    """2025's storage is 2026's prior-year stock already: declaring it again as opening
    stock in 2026 is refused; declared for 2025 or earlier it is stock from before the
    records (decision 035)."""
    plant = await ledger.register("青山区")
    own = tenant(plant)
    await api.report(own, plant, "500.000", "2025-03")
    await api.report(own, plant, "500.000", "2025-03", "reportStorage")
    late = await api.report(own, plant, "500.000", "2026-01", "reportOpeningStock")
    assert late["entry"] is None
    [error] = late["userErrors"]
    assert (error["code"], error["field"]) == ("INVALID_PERIOD", "period")
    assert "a month of 2025 or earlier, not 2026-01" in error["message"]
    before = await api.report(own, plant, "40.000", "2025-01", "reportOpeningStock")
    assert before["userErrors"] == []
    assert before["entry"]["kind"] == "OPENING_STOCK"


INTAKE = """
query($scope: UtilisationScope!, $from: String!, $to: String!) {
  utilisation(scope: $scope, from: $from, to: $to) {
    generatedTonnes disposedTonnes storedTonnes rate intakeTonnes receivedUtilisedTonnes
    receivedStoredTonnes receivedDisposedTonnes
  }
}"""


async def test_a_recycler_stores_takes_out_and_disposes_of_what_it_received(
    api: Api, ledger: Harness
) -> None:
    """Decision 027: a receiver's storage, retrieval and disposal of its intake, checked
    against the intake (never its generation) and kept apart from the generator's figures."""
    steel = await ledger.register("青山区")
    cement = await ledger.register("新洲区")
    own = tenant(cement)
    await api.report(tenant(steel), steel, "100.000", "2026-03")
    match = await ledger.confirm(steel, cement, "100.000")
    sent = await ledger.service.dispatch(steel.enterprise_id, match, "100.000", period="2026-03")
    await ledger.service.receive(cement.enterprise_id, sent.id, "100.000")

    # Its own storage and disposal are of its generation: received waste is refused there.
    generators = await api.report(own, cement, "10.000", "2026-04", "reportStorage")
    assert generators["userErrors"][0]["code"] == "BALANCE_VIOLATION"

    used = await api.report(own, cement, "50.000", "2026-04", "reportReceivedUtilisation")
    stored = await api.report(own, cement, "40.000", "2026-04", "reportReceivedStorage")
    disposed = await api.report(own, cement, "10.000", "2026-05", "reportReceivedDisposal")
    assert [r["userErrors"] for r in (used, stored, disposed)] == [[], [], []]
    assert (stored["entry"]["kind"], disposed["entry"]["kind"]) == (
        "RECEIVED_STORED",
        "RECEIVED_DISPOSED",
    )
    assert stored["entry"]["enterpriseId"] == cement.enterprise_id
    # All 100 t are accounted for: nothing more is used before it leaves storage.
    over = await api.report(own, cement, "0.001", "2026-05", "reportReceivedDisposal")
    assert over["entry"] is None
    assert over["userErrors"][0]["code"] == "BALANCE_VIOLATION"
    assert over["userErrors"][0]["field"] == "tonnes"
    assert "receiver's intake" in over["userErrors"][0]["message"]
    taken = await api.report(own, cement, "30.000", "2026-06", "reportReceivedStorageRetrieval")
    assert taken["userErrors"] == []
    assert taken["entry"]["kind"] == "RECEIVED_STORAGE_RETRIEVED"
    assert (await api.report(own, cement, "30.000", "2026-06", "reportReceivedUtilisation"))[
        "userErrors"
    ] == []
    too_much = await api.report(own, cement, "10.001", "2026-06", "reportReceivedStorageRetrieval")
    assert too_much["userErrors"][0]["code"] == "BALANCE_VIOLATION"
    assert "storage of intake" in too_much["userErrors"][0]["message"]
    prior = await api.report(
        own, cement, "1.000", "2026-06", "reportReceivedDisposal", fromPriorStock=True
    )
    assert prior["userErrors"][0]["code"] == "PRIOR_STOCK_NOT_APPLICABLE"

    window = {"from": "2026-01", "to": "2026-12"}
    figures = (await api.data(INTAKE, own, scope={"enterpriseId": cement.enterprise_id}, **window))[
        "utilisation"
    ]
    assert figures == {
        "generatedTonnes": "0.000",
        "disposedTonnes": "0.000",
        "storedTonnes": "0.000",
        "rate": None,
        "intakeTonnes": "100.000",
        "receivedUtilisedTonnes": "80.000",
        "receivedStoredTonnes": "10.000",
        "receivedDisposedTonnes": "10.000",
    }
    # The generator's rate and its denominator are its own; area totals count each tonne once.
    supplier = (
        await api.data(INTAKE, tenant(steel), scope={"enterpriseId": steel.enterprise_id}, **window)
    )["utilisation"]
    assert (supplier["generatedTonnes"], supplier["rate"]) == ("100.000", "1.0000")
    city = (await api.data(INTAKE, regulator("*"), scope={}, **window))["utilisation"]
    assert (city["generatedTonnes"], city["disposedTonnes"], city["storedTonnes"]) == (
        "100.000",
        "0.000",
        "0.000",
    )
    assert (city["receivedStoredTonnes"], city["receivedDisposedTonnes"]) == ("10.000", "10.000")
    # The regulator's league table shows them too.
    league = (
        await api.data(
            """query { enterpriseUtilisation(from: "2026-01", to: "2026-12", district: "新洲区",
                 first: 50) { edges { node { enterprise { id } figures {
                 receivedStoredTonnes receivedDisposedTonnes } } } } }""",
            regulator("新洲区"),
        )
    )["enterpriseUtilisation"]
    listed = {e["node"]["enterprise"]["id"]: e["node"]["figures"] for e in league["edges"]}
    assert listed[cement.enterprise_id] == {
        "receivedStoredTonnes": "10.000",
        "receivedDisposedTonnes": "10.000",
    }

    # Reversible and correctable like every entry, within the intake.
    corrected = (
        await api.data(
            """mutation($id: ID!) { correctEntry(id: $id, tonnes: "5.000", reason: "re-weighed") {
                 entry { kind tonnes } userErrors { code } } }""",
            own,
            id=disposed["entry"]["id"],
        )
    )["correctEntry"]
    assert corrected == {
        "entry": {"kind": "RECEIVED_DISPOSED", "tonnes": "5.000"},
        "userErrors": [],
    }
    # Taking the retrieval back would leave 30 t utilised that were still in storage.
    undone = (
        await api.data(
            """mutation($id: ID!) { reverseEntry(id: $id, reason: "never taken out") {
                 entry { tonnes } userErrors { code } } }""",
            own,
            id=taken["entry"]["id"],
        )
    )["reverseEntry"]
    assert undone["userErrors"] == [{"code": "BALANCE_VIOLATION"}]
    # Only the recycler itself reports, reverses or corrects them.
    for who in (tenant(steel), regulator("新洲区"), issue_token(JWT, Role.ADMIN), None):
        refused = await api.report(who, cement, "1.000", "2026-06", "reportReceivedStorage")
        assert refused["userErrors"][0]["code"] == "NOT_AUTHORIZED"
    stolen = (
        await api.data(
            """mutation($id: ID!) { reverseEntry(id: $id, reason: "x") { userErrors { code } } }""",
            tenant(steel),
            id=stored["entry"]["id"],
        )
    )["reverseEntry"]
    assert stolen["userErrors"] == [{"code": "NOT_AUTHORIZED"}]


CANCEL = """
mutation($input: CancelShipmentInput!) {
  cancelShipment(input: $input) {
    manifest { id status cancellation { cancelledBy reason cancelledAt } }
    userErrors { field message code }
  }
}"""


async def test_a_party_calls_off_a_shipment_before_it_leaves(api: Api, ledger: Harness) -> None:
    steel = await ledger.register("青山区")
    cement = await ledger.register("新洲区")
    bystander = await ledger.register("新洲区")
    await api.report(tenant(steel), steel, "100.000", "2026-03")
    match = await ledger.confirm(steel, cement, "60.000")
    async with ledger.uow() as uow:
        opened = await Repository(uow.session).manifest_by_match(match)
    assert opened is not None

    async def cancel(token: str, reason: str = "kiln down for repairs") -> Any:
        payload = {"manifestId": opened.id, "reason": reason}
        return (await api.data(CANCEL, token, input=payload))["cancelShipment"]

    for outsider in (tenant(bystander), regulator("*")):
        refused = await cancel(outsider)
        assert (refused["manifest"], refused["userErrors"][0]["code"]) == (None, "NOT_AUTHORIZED")
    assert (await cancel(tenant(cement), " "))["userErrors"][0]["field"] == "reason"
    off = (await cancel(tenant(cement)))["manifest"]
    assert off["status"] == "CANCELLED"
    assert off["cancellation"]["cancelledBy"] == cement.enterprise_id
    assert off["cancellation"]["reason"] == "kiln down for repairs"
    again = await cancel(tenant(steel))
    assert again["userErrors"][0]["code"] == "INVALID_MANIFEST_STATE"
    late = (await api.data(DISPATCH, tenant(steel), input={"matchId": match, "tonnes": "60"}))[
        "dispatchShipment"
    ]
    assert late["userErrors"][0]["code"] == "INVALID_MANIFEST_STATE"

    async with ledger.uow() as uow:
        published = (
            await uow.session.execute(
                select(messaging.outbox.c.payload).where(
                    messaging.outbox.c.topic == "ledger.shipment-cancelled.v1",
                    messaging.outbox.c.key == opened.id,
                )
            )
        ).scalars()
        events = [Envelope.from_json(p) for p in published]
    assert [(e.data["matchId"], e.data["cancelledBy"], e.data["reason"]) for e in events] == [
        (match, cement.enterprise_id, "kiln down for repairs")
    ]
    listed = await api.data(MANIFESTS, tenant(steel), filter={"status": "CANCELLED"})
    assert listed["manifests"]["totalCount"] == 1


OVERDUE = """
query($filter: ManifestFilter) {
  manifests(filter: $filter, first: 20) { edges { node { matchId shipBy overdue } } }
}"""


async def test_a_shipment_not_dispatched_by_the_end_of_its_window_is_overdue(
    api: Api, ledger: Harness
) -> None:
    steel = await ledger.register("青山区")
    cement = await ledger.register("新洲区")
    await api.report(tenant(steel), steel, "100.000", "2026-03")
    late = await ledger.confirm(steel, cement, "10.000", ship_by=date(2026, 3, 31))
    due = await ledger.confirm(steel, cement, "10.000", ship_by=date(2099, 12, 31))
    unknown = await ledger.confirm(steel, cement, "10.000")  # confirmed before windows were told

    async def matches(overdue: bool | None, token: str = regulator("*")) -> dict[str, Any]:
        wanted: dict[str, Any] = {"enterpriseId": steel.enterprise_id}
        if overdue is not None:
            wanted["overdue"] = overdue
        found = (await api.data(OVERDUE, token, filter=wanted))["manifests"]["edges"]
        return {e["node"]["matchId"]: e["node"] for e in found}

    everything = await matches(None)
    assert everything[late] == {"matchId": late, "shipBy": "2026-03-31", "overdue": True}
    assert (everything[due]["overdue"], everything[unknown]["shipBy"]) == (False, None)
    assert set(await matches(True)) == {late}
    assert set(await matches(False)) == {due, unknown}
    # Shipped late, it is no longer overdue.
    await ledger.service.dispatch(steel.enterprise_id, late, "10.000", period="2026-03")
    assert set(await matches(True, tenant(steel))) == set()


WINDOW = "query($id: ID!) { manifest(id: $id) { shipFrom shipBy status } }"


async def test_a_shipment_cannot_leave_before_its_shipping_window_opens(
    api: Api, ledger: Harness
) -> None:
    """The recycler takes the waste in from the window's first day and its licences were
    checked for the window only: the dispatch waits for that day (decision 037)."""
    steel = await ledger.register("青山区")
    cement = await ledger.register("新洲区")
    today = china_today()
    await api.report(tenant(steel), steel, "100.000", today.strftime("%Y-%m"))
    tomorrow = today + timedelta(days=1)
    early = await ledger.confirm(
        steel, cement, "10.000", opened=None, ship_from=tomorrow, ship_by=date(2099, 12, 31)
    )
    answer = (await api.data(DISPATCH, tenant(steel), input={"matchId": early, "tonnes": "10"}))[
        "dispatchShipment"
    ]
    assert answer["manifest"] is None
    [error] = answer["userErrors"]
    assert (error["field"], error["code"]) == ("matchId", "SHIPPING_WINDOW_NOT_OPEN")
    assert f"may leave from {tomorrow}" in error["message"]
    async with ledger.uow() as uow:
        opened = await Repository(uow.session).manifest_by_match(early)
    assert opened is not None
    shown = (await api.data(WINDOW, tenant(steel), id=opened.id))["manifest"]
    assert shown == {"shipFrom": str(tomorrow), "shipBy": "2099-12-31", "status": "CREATED"}
    # From its first day it leaves; one confirmed before the ledger kept the day, any day.
    opens_today = await ledger.confirm(steel, cement, "10.000", opened=None, ship_from=today)
    older = await ledger.confirm(steel, cement, "10.000", opened=None)
    for match in (opens_today, older):
        sent = (await api.data(DISPATCH, tenant(steel), input={"matchId": match, "tonnes": "10"}))[
            "dispatchShipment"
        ]
        assert (sent["userErrors"], sent["manifest"]["status"]) == ([], "IN_TRANSIT")


async def test_a_stranger_cannot_tell_a_manifest_or_entry_from_none(
    api: Api, ledger: Harness
) -> None:
    """Manifest ids derive from match ids, which derive from public listing ids, and receipt
    entries' ids from manifests': NOT_FOUND for what is not there and NOT_AUTHORIZED for
    what is someone else's told anyone which pairs were confirmed and shipped."""
    steel = await ledger.register("青山区")
    cement = await ledger.register("新洲区")
    stranger = await ledger.register("新洲区")
    await api.report(tenant(steel), steel, "10.000", "2026-03")
    match = await ledger.confirm(steel, cement, "10.000")
    sent = await ledger.service.dispatch(steel.enterprise_id, match, "10.000", period="2026-03")
    entry_id = (await api.report(tenant(steel), steel, "1.000", "2026-03"))["entry"]["id"]
    manifest = "query($id: ID!) { manifest(id: $id) { id } }"
    entry = "query($id: ID!) { ledgerEntry(id: $id) { id } }"
    for query, real in ((manifest, sent.id), (entry, entry_id)):
        for who in (tenant(stranger), regulator("江岸区")):
            for ident in (real, "no-such-id"):
                body = await api.execute(query, who, id=ident)
                error = body["errors"][0]
                assert error["extensions"]["code"] == "NOT_AUTHORIZED", body
                assert error["message"].endswith(f" {ident} is outside what this token may read")
        # Who reads everything is told what is not there.
        admin = issue_token(JWT, Role.ADMIN)
        assert await api.error_code(query, admin, id="no-such-id") == "NOT_FOUND"


class _Deadlock(Exception):
    sqlstate = "40P01"


async def test_a_mutation_the_database_aborts_for_a_concurrent_one_is_run_again(
    api: Api, ledger: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deadlock or serialization failure keeps nothing of the try it aborts: the ledger runs
    the mutation again (as the catalog does) before answering SERVICE_UNAVAILABLE."""
    steel = await ledger.register("青山区")
    cement = await ledger.register("新洲区")
    book, publish = LedgerService._book, LedgerService._publish_manifest
    aborts = {"book": 1, "publish": 1}

    def aborted_once(real: Any, name: str) -> Any:
        async def step(*args: Any, **kwargs: Any) -> Any:
            result = await real(*args, **kwargs)  # written in the transaction, then aborted
            if aborts[name]:
                aborts[name] -= 1
                raise DBAPIError("COMMIT", {}, _Deadlock())
            return result

        return step

    monkeypatch.setattr(LedgerService, "_book", aborted_once(book, "book"))
    # This month's generation: the dispatch below is booked to this month, on the real clock.
    this_month = china_today().strftime("%Y-%m")
    reported = await api.report(tenant(steel), steel, "10.000", this_month)
    assert reported["userErrors"] == []
    match = await ledger.confirm(steel, cement, "10.000")
    monkeypatch.setattr(LedgerService, "_publish_manifest", aborted_once(publish, "publish"))
    sent = (await api.data(DISPATCH, tenant(steel), input={"matchId": match, "tonnes": "10.000"}))[
        "dispatchShipment"
    ]
    assert (sent["userErrors"], sent["manifest"]["status"]) == ([], "IN_TRANSIT")
    assert aborts == {"book": 0, "publish": 0}
    figures = (
        await api.data(
            UTILISATION,
            tenant(steel),
            scope={"enterpriseId": steel.enterprise_id},
            **{"from": this_month, "to": this_month},
        )
    )["utilisation"]
    assert figures["generatedTonnes"] == "10.000"  # booked once
    async with ledger.uow() as uow:
        kinds = (await uow.session.execute(select(messaging.outbox.c.topic))).scalars().all()
    assert kinds.count("ledger.shipment-dispatched.v1") == 1

    async def aborted_always(*args: Any, **kwargs: Any) -> Any:
        raise DBAPIError("COMMIT", {}, _Deadlock())

    monkeypatch.setattr(LedgerService, "_book", aborted_always)
    body = await api.execute(
        REPORT % "reportGeneration",
        tenant(steel),
        input={"siteId": steel.site_id, "wasteCode": "SW01", "tonnes": "1", "period": "2026-03"},
    )
    assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"


async def test_a_district_regulator_reads_no_other_district_through_any_figure_query(
    api: Api, ledger: Harness
) -> None:
    """helper-76: every figure query, every scope that spans or names another district, is
    refused to a district regulator; its own {district, industry} and {district, wasteCode}
    hold only its district's tonnes though the same industry and code are reported next door."""
    steel = await ledger.register("青山区", industry="C3120")
    other = await ledger.register("新洲区", industry="C3120")
    await api.report(tenant(steel), steel, "10.000", "2026-01")
    await api.report(tenant(other), other, "70.000", "2026-01")
    window = {"from": "2026-01", "to": "2026-12"}
    qingshan = regulator("青山区")
    carbon = """query($scope: UtilisationScope, $from: String!, $to: String!) {
      carbon(scope: $scope, from: $from, to: $to) { transfers transferredTonnes } }"""
    beyond = [
        {},
        {"industry": "C3120"},
        {"wasteCode": "SW01"},
        {"wasteClass": "ALL"},
        {"district": "新洲区"},
        {"district": "新洲区", "industry": "C3120"},
        {"district": "新洲区", "wasteCode": "SW01"},
        {"enterpriseId": other.enterprise_id},
        {"enterpriseId": other.enterprise_id, "wasteCode": "SW01"},
    ]
    for scope in beyond:
        for query in (UTILISATION, carbon):
            assert await api.error_code(query, qingshan, scope=scope, **window) == (
                "NOT_AUTHORIZED"
            ), (query[:40], scope)
    for scope in (
        {"district": "青山区", "industry": "C3120"},
        {"district": "青山区", "wasteCode": "SW01"},
    ):
        own = (await api.data(UTILISATION, qingshan, scope=scope, **window))["utilisation"]
        assert own["generatedTonnes"] == "10.000", scope
    league = """query($district: String, $industry: String) {
      enterpriseUtilisation(from: "2026-01", to: "2026-12", district: $district,
                            industry: $industry, first: 10) {
        totalCount edges { node { enterpriseId figures { generatedTonnes } } } } }"""
    assert await api.error_code(league, qingshan, district="新洲区") == "NOT_AUTHORIZED"
    ranked = (await api.data(league, qingshan, industry="C3120"))["enterpriseUtilisation"]
    assert [e["node"]["enterpriseId"] for e in ranked["edges"]] == [steel.enterprise_id]
    assessment = "query($id: ID!) { zeroWasteAssessment(enterpriseId: $id, year: 2026) { passed } }"
    assert await api.error_code(assessment, qingshan, id=other.enterprise_id) == "NOT_AUTHORIZED"
    # A tenant reads its own figures only, aggregates none.
    for scope in ({"district": "青山区"}, {"industry": "C3120"}, {"wasteCode": "SW01"}, {}):
        assert await api.error_code(UTILISATION, tenant(steel), scope=scope, **window) == (
            "NOT_AUTHORIZED"
        )
    assert await api.error_code(league, tenant(steel)) == "NOT_AUTHORIZED"
