"""Who may do what, through the gateway: every query, mutation and subscription × every role.

A small world is built through the gateway first (its own districts, far from the other
modules' sites, so nothing here matches anything of theirs):

- enterprise A (FACTORY) and recycler R (RECYCLER) in district X, enterprise B (FACTORY) in Y;
- R holds a licence and a demand; A's offers of four codes are matched to it (M1 … M4);
  M3 and M4 are confirmed by both parties, so the ledger opens their manifests, and M4's
  shipment is dispatched; A and B have ledger entries.

Roles: no token, A, B, R (a `recycler` token), the regulators of X and of Y, and an admin.
Each cell is one test id, `<operation>-<role>`. A cell is one of:

- `DENY`: the answer carries NOT_AUTHORIZED / UNAUTHENTICATED (a GraphQL error for queries
  and subscriptions, a `userErrors` code for mutations) and no data of the target;
- `ALLOW`: no such refusal (a mutation may still answer a domain error such as a state
  transition that another allowed cell already made);
- for reads of listings, the view: `FULL` (site and enterprise shown) or `PUBLIC` (both
  null: the district stands for the place), and for lists which world records appear, and how.

Contract ("Who sees what"): tenants read and write their own things and read open offers and
demands without the other party's private fields; a regulator reads its district (writes
nothing); an admin registers enterprises and licences and reads everything; no token gets
only `wasteCodes` and the schema.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from graphql import build_schema
from websockets.asyncio.client import ClientConnection, connect

from wastex_catalog.domain.credit_code import make_credit_code
from wastex_cli.mutations import (
    ACCEPT_MATCH,
    ADD_SITE,
    POST_DEMAND,
    POST_OFFER,
    REGISTER_ENTERPRISE,
    REGISTER_LICENCE,
)
from wastex_cli.mutations import report as report_mutation
from wastex_cli.stack import REPO, Stack
from wastex_shared.auth import JwtConfig, Role, issue_token
from wastex_shared.calendar import Dates
from wastex_shared.settings import ServiceSettings
from wastex_shared.testing.graphql_client import eventually

pytestmark = pytest.mark.e2e

JWT = ServiceSettings().jwt
TAG = uuid.uuid4().hex[:6]
#: This module's own districts, in the e2e stack's register (tests/conftest.py).
DISTRICT_X = "矩阵X区"
DISTRICT_Y = "矩阵Y区"
DATES = Dates.now()
PERIOD = DATES.month()
YEAR = DATES.today.year
#: A random spot in north-west China (Gansu, Ningxia, Inner Mongolia), far from the other
#: modules' sites (Wuhan, Yunnan) and, in all likelihood, from an earlier run's on the same
#: stack: demands here reach 40 km, so nothing of this world matches anything of theirs.
BASE_LAT = 36 + (uuid.uuid4().int % 4_000) / 1000
BASE_LON = 100 + (uuid.uuid4().int % 10_000) / 1000


def place(dlat: float, dlon: float) -> tuple[str, str]:
    return f"{BASE_LAT + dlat:.4f}", f"{BASE_LON + dlon:.4f}"


ROLES = (
    "anonymous",
    "enterprise_a",
    "enterprise_b",
    "recycler",
    "regulator_x",
    "regulator_y",
    "admin",
)
AUTH_CODES = frozenset({"NOT_AUTHORIZED", "UNAUTHENTICATED"})
DENY = "DENY"
ALLOW = "ALLOW"
FULL = "FULL"
PUBLIC = "PUBLIC"
#: What a tenant sees of a listing it holds an accepted match on. The catalog shows the
#: public view (no site, no enterprise) even to the counterparty of a confirmed match.
COUNTERPARTY_VIEW = PUBLIC

# --- documents -----------------------------------------------------------------------------

LISTING_FIELDS = "id status district site { id latitude longitude } enterprise { id name }"

WITHDRAW_OFFER = """
mutation($id: ID!) {
  withdrawOffer(id: $id) { offer { id status } userErrors { field message code } }
}"""
WITHDRAW_DEMAND = """
mutation($id: ID!) {
  withdrawDemand(id: $id) { demand { id status } userErrors { field message code } }
}"""
AMEND_OFFER = """
mutation($id: ID!, $input: AmendOfferInput!) {
  amendOffer(id: $id, input: $input) { offer { id status } userErrors { field message code } }
}"""
AMEND_DEMAND = """
mutation($id: ID!, $input: AmendDemandInput!) {
  amendDemand(id: $id, input: $input) { demand { id status } userErrors { field message code } }
}"""
REJECT_MATCH = """
mutation($id: ID!) {
  rejectMatch(id: $id, reason: "not this one") {
    match { id status } userErrors { field message code }
  }
}"""
DISPATCH = """
mutation($input: DispatchShipmentInput!) {
  dispatchShipment(input: $input) { manifest { id status } userErrors { field message code } }
}"""
RECEIVE = """
mutation($input: ReceiveShipmentInput!) {
  receiveShipment(input: $input) { manifest { id status } userErrors { field message code } }
}"""
CANCEL_SHIPMENT = """
mutation($input: CancelShipmentInput!) {
  cancelShipment(input: $input) { manifest { id status } userErrors { field message code } }
}"""
RESOLVE_DISCREPANCY = """
mutation($input: ResolveDiscrepancyInput!) {
  resolveDiscrepancy(input: $input) { manifest { id status } userErrors { field message code } }
}"""
AMEND_ENTERPRISE = """
mutation($id: ID!, $input: AmendEnterpriseInput!) {
  amendEnterprise(id: $id, input: $input) {
    enterprise { id version } userErrors { field message code }
  }
}"""
AMEND_SITE = """
mutation($id: ID!, $input: AmendSiteInput!) {
  amendSite(id: $id, input: $input) { site { id version } userErrors { field message code } }
}"""
AMEND_LICENCE = """
mutation($id: ID!, $input: AmendLicenceInput!) {
  amendLicence(id: $id, input: $input) { licence { id version } userErrors { field message code } }
}"""
REVOKE_LICENCE = """
mutation($id: ID!, $reason: String!, $effectiveFrom: Date) {
  revokeLicence(id: $id, reason: $reason, effectiveFrom: $effectiveFrom) {
    licence { id revokedOn } userErrors { field message code }
  }
}"""
REVERSE_ENTRY = """
mutation($id: ID!) {
  reverseEntry(id: $id, reason: "typo") { entry { id } userErrors { field message code } }
}"""
CORRECT_ENTRY = """
mutation($id: ID!) {
  correctEntry(id: $id, tonnes: "12.000", reason: "weighed again") {
    entry { id } reversal { id } userErrors { field message code }
  }
}"""

WASTE_CODES = '{ wasteCodes(search: "SW0") { code nameEn hazardous } }'
DISTRICTS = "{ districts { name kind } }"
ENTERPRISE = "query($id: ID!) { enterprise(id: $id) { id name sites { id } licences { id } } }"
ENTERPRISES = "{ enterprises(first: 100) { edges { node { id name } } } }"
SITE = "query($id: ID!) { site(id: $id) { id latitude longitude enterprise { id } } }"
LICENCE_REGISTER = """
query($filter: LicenceRegisterFilter) {
  licenceRegister(filter: $filter, first: 100) { edges { node { id } } }
}"""
LICENCES = """
query($id: ID!) { licences(enterpriseId: $id) { id wasteCodes history { version change } } }"""
OFFER = "query($id: ID!) { offer(id: $id) { LISTING } }".replace("LISTING", LISTING_FIELDS)
OFFERS = (
    "query($filter: OfferFilter) { offers(filter: $filter, first: 100) "
    "{ edges { node { LISTING } } } }"
).replace("LISTING", LISTING_FIELDS)
DEMAND = "query($id: ID!) { demand(id: $id) { LISTING } }".replace("LISTING", LISTING_FIELDS)
DEMANDS = (
    "query($filter: DemandFilter) { demands(filter: $filter, first: 100) "
    "{ edges { node { LISTING } } } }"
).replace("LISTING", LISTING_FIELDS)
MATCH = "query($id: ID!) { match(id: $id) { id status tonnes offer { id } demand { id } } }"
MATCHES = """
query($filter: MatchFilter) {
  matches(filter: $filter, first: 100) {
    edges { node { id status offer { id } demand { id } } }
  }
}"""
UTILISATION = f"""
query($scope: UtilisationScope) {{
  utilisation(scope: $scope, from: "{PERIOD}", to: "{PERIOD}") {{ generatedTonnes rate }}
}}"""
CARBON = f"""
query($scope: UtilisationScope) {{
  carbon(scope: $scope, from: "{PERIOD}", to: "{PERIOD}") {{ transfers netAvoidedCo2eKg }}
}}"""
LEAGUE = f"""
query($district: String) {{
  enterpriseUtilisation(from: "{PERIOD}", to: "{PERIOD}", district: $district, first: 100) {{
    edges {{ node {{ id: enterpriseId enterprise {{ id name }} figures {{ rate }} }} }}
  }}
}}"""
ZERO_WASTE = f"""
query($id: ID!) {{ zeroWasteAssessment(enterpriseId: $id, year: {YEAR}) {{ passed }} }}"""
MANIFEST = "query($id: ID!) { manifest(id: $id) { id matchId status } }"
MANIFESTS = """
query($filter: ManifestFilter) {
  manifests(filter: $filter, first: 100) { edges { node { id matchId status } } }
}"""
DISCREPANCIES = "{ discrepancies(first: 10) { totalCount edges { node { id } } } }"
LEDGER_ENTRY = "query($id: ID!) { ledgerEntry(id: $id) { id kind tonnes } }"
LEDGER_ENTRIES = """
query($filter: LedgerEntryFilter) {
  ledgerEntries(filter: $filter, first: 100) { edges { node { id kind enterpriseId } } }
}"""

# --- the world -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Client:
    """GraphQL over HTTP on one shared connection pool: a new httpx client per request builds
    an SSL context each time, ~1 s on a loaded two-core machine."""

    http: httpx.AsyncClient
    url: str
    token: str | None = None
    #: An Authorization header that is not a bearer token, sent as it is.
    authorization: str | None = None

    def as_(self, token: str | None) -> Client:
        return Client(self.http, self.url, token)

    def with_authorization(self, header: str) -> Client:
        return Client(self.http, self.url, authorization=header)

    async def execute(self, query: str, **variables: Any) -> dict[str, Any]:
        header = self.authorization or (f"Bearer {self.token}" if self.token else None)
        headers = {"authorization": header} if header else {}
        response = await self.http.post(
            self.url, json={"query": query, "variables": variables}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(self, query: str, **variables: Any) -> dict[str, Any]:
        body = await self.execute(query, **variables)
        assert not body.get("errors"), body["errors"]
        data: dict[str, Any] = body["data"]
        return data


@dataclass
class World:
    gateway: Client
    tokens: dict[str, str | None] = field(default_factory=dict)
    #: world key ("A", "site_a", "O_open", "M1", …) -> id
    ids: dict[str, str] = field(default_factory=dict)

    def client(self, role: str) -> Client:
        return self.gateway.as_(self.tokens[role])

    def key_of(self, ident: str) -> str | None:
        for key, value in self.ids.items():
            if value == ident:
                return key
        return None


def credit_code() -> str:
    return make_credit_code(f"91510100{uuid.uuid4().int % 10**9:09d}")


days = DATES.days


async def mutate(client: Client, document: str, name: str, **variables: Any) -> Any:
    result = (await client.data(document, **variables))[name]
    assert result["userErrors"] == [], result["userErrors"]
    return result


async def register(admin: Client, name: str, kind: str, district: str) -> str:
    result = await mutate(
        admin,
        REGISTER_ENTERPRISE,
        "registerEnterprise",
        input={
            "name": f"{name} {TAG}",
            "creditCode": credit_code(),
            "industry": "C3110" if kind == "FACTORY" else "C4220",
            "district": district,
            "kind": kind,
        },
    )
    return str(result["enterprise"]["id"])


async def add_site(client: Client, enterprise: str, district: str, where: tuple[str, str]) -> str:
    result = await mutate(
        client,
        ADD_SITE,
        "addSite",
        input={
            "enterpriseId": enterprise,
            "name": "works",
            "district": district,
            "latitude": where[0],
            "longitude": where[1],
        },
    )
    return str(result["site"]["id"])


async def post_offer(client: Client, site: str, code: str, tonnes: str = "100.000") -> str:
    result = await mutate(
        client,
        POST_OFFER,
        "postOffer",
        input={
            "siteId": site,
            "wasteCode": code,
            "quantityTonnes": tonnes,
            "availableFrom": days(0),  # M4 leaves today: its window is open (decision 037)
            "availableUntil": days(60),
            "description": f"matrix {code}",
        },
    )
    return str(result["offer"]["id"])


async def post_demand(client: Client, site: str, codes: list[str], tonnes: str) -> str:
    result = await mutate(
        client,
        POST_DEMAND,
        "postDemand",
        input={
            "siteId": site,
            "wasteCodes": codes,
            "quantityTonnes": tonnes,
            "maxDistanceKm": "40",
            "availableFrom": days(0),  # M4 leaves today: its window is open (decision 037)
            "availableUntil": days(90),
        },
    )
    return str(result["demand"]["id"])


async def report(client: Client, kind: str, site: str, code: str, tonnes: str) -> str:
    """A ledger report, retried until the ledger has learned of the site from the catalog."""

    async def booked() -> str | None:
        result = (
            await client.data(
                report_mutation(kind),
                input={"siteId": site, "wasteCode": code, "tonnes": tonnes, "period": PERIOD},
            )
        )[kind]
        if result["userErrors"]:
            assert result["userErrors"][0]["code"] not in AUTH_CODES, result["userErrors"]
            return None
        return str(result["entry"]["id"])

    return await eventually(booked, timeout=60, interval=0.5)


async def build_world(gateway: Client) -> World:
    world = World(gateway=gateway)
    admin_token = issue_token(JWT, Role.ADMIN)
    admin = world.gateway.as_(admin_token)
    ids = world.ids
    ids["A"] = await register(admin, "Matrix Steel A", "FACTORY", DISTRICT_X)
    ids["B"] = await register(admin, "Matrix Cement B", "FACTORY", DISTRICT_Y)
    ids["R"] = await register(admin, "Matrix Recycler R", "RECYCLER", DISTRICT_X)
    world.tokens = {
        "anonymous": None,
        "enterprise_a": issue_token(JWT, Role.ENTERPRISE, ids["A"]),
        "enterprise_b": issue_token(JWT, Role.ENTERPRISE, ids["B"]),
        "recycler": issue_token(JWT, Role.RECYCLER, ids["R"]),
        "regulator_x": issue_token(JWT, Role.REGULATOR, district=DISTRICT_X),
        "regulator_y": issue_token(JWT, Role.REGULATOR, district=DISTRICT_Y),
        "admin": admin_token,
    }
    a, b, r = (world.client(role) for role in ("enterprise_a", "enterprise_b", "recycler"))
    # A few km apart.
    ids["site_a"] = await add_site(a, ids["A"], DISTRICT_X, place(0, 0))
    ids["site_b"] = await add_site(b, ids["B"], DISTRICT_Y, place(-0.05, 0.04))
    ids["site_r"] = await add_site(r, ids["R"], DISTRICT_X, place(0.06, -0.06))
    await mutate(
        admin,
        REGISTER_LICENCE,
        "registerLicence",
        input={
            "enterpriseId": ids["R"],
            "number": f"MX-{TAG}",
            "wasteCodes": ["SW01", "SW02", "SW03", "SW04", "SW05", "SW06"],
            "annualCapacityTonnes": "100000",
            "validFrom": days(-30),
            "validUntil": days(700),
        },
    )
    spare = await mutate(
        admin,
        REGISTER_LICENCE,
        "registerLicence",
        input={
            "enterpriseId": ids["R"],
            "number": f"MX-spare-{TAG}",
            "wasteCodes": ["SW10"],
            "annualCapacityTonnes": "10",
            "validFrom": days(0),
            "validUntil": days(365),
        },
    )
    ids["L_spare"] = spare["licence"]["id"]
    ids["D_main"] = await post_demand(r, ids["site_r"], ["SW01", "SW02", "SW03", "SW04"], "5000")
    ids["D_spare"] = await post_demand(r, ids["site_r"], ["SW06"], "50")
    for n, code in enumerate(("SW01", "SW02", "SW03", "SW04"), start=1):
        ids[f"O{n}"] = await post_offer(a, ids["site_a"], code)
    # SW07 and SW09: codes nobody here demands, so these stay plain open listings.
    ids["O_open"] = await post_offer(a, ids["site_a"], "SW07")
    ids["O_withdrawn"] = await post_offer(a, ids["site_a"], "SW07")
    ids["O_to_withdraw"] = await post_offer(a, ids["site_a"], "SW07")
    ids["O_b"] = await post_offer(b, ids["site_b"], "SW09")
    await mutate(a, WITHDRAW_OFFER, "withdrawOffer", id=ids["O_withdrawn"])

    async def proposed() -> dict[str, str] | None:
        data = await a.data(MATCHES, filter={"enterpriseId": ids["A"]})
        by_offer = {
            e["node"]["offer"]["id"]: e["node"]["id"]
            for e in data["matches"]["edges"]
            if e["node"]["status"] == "PROPOSED" and e["node"]["demand"]["id"] == ids["D_main"]
        }
        wanted = [ids[f"O{n}"] for n in range(1, 5)]
        return by_offer if all(o in by_offer for o in wanted) else None

    matches = await eventually(proposed, timeout=90, interval=0.5)
    for n in range(1, 5):
        ids[f"M{n}"] = matches[ids[f"O{n}"]]
    for n in (3, 4):
        await mutate(a, ACCEPT_MATCH, "acceptMatch", id=ids[f"M{n}"])
        await mutate(r, ACCEPT_MATCH, "acceptMatch", id=ids[f"M{n}"])

    async def manifests_opened() -> dict[str, str] | None:
        data = await a.data(MANIFESTS, filter={"enterpriseId": ids["A"]})
        by_match = {e["node"]["matchId"]: e["node"]["id"] for e in data["manifests"]["edges"]}
        return by_match if ids["M3"] in by_match and ids["M4"] in by_match else None

    manifests = await eventually(manifests_opened, timeout=90, interval=0.5)
    ids["man3"], ids["man4"] = manifests[ids["M3"]], manifests[ids["M4"]]
    ids["E_view"] = await report(a, "reportGeneration", ids["site_a"], "SW01", "500.000")
    ids["E_reverse"] = await report(a, "reportGeneration", ids["site_a"], "SW02", "10.000")
    ids["E_correct"] = await report(a, "reportGeneration", ids["site_a"], "SW03", "10.000")
    # What M3 and M4 ship must have been generated first (the ledger's balance identity).
    ids["E_gen3"] = await report(a, "reportGeneration", ids["site_a"], "SW03", "200.000")
    ids["E_gen4"] = await report(a, "reportGeneration", ids["site_a"], "SW04", "200.000")
    await mutate(a, DISPATCH, "dispatchShipment", input={"matchId": ids["M4"], "tonnes": "100.000"})
    ids["E_b"] = await report(b, "reportGeneration", ids["site_b"], "SW09", "50.000")
    return world


@pytest.fixture(scope="module")
async def world(stack: Stack) -> AsyncIterator[World]:
    async with httpx.AsyncClient(timeout=60) as http:
        yield await build_world(Client(http, stack.graphql_url))


# --- reading an answer ---------------------------------------------------------------------


def auth_refusal(body: Mapping[str, Any], name: str) -> str | None:
    """The NOT_AUTHORIZED / UNAUTHENTICATED code of an answer, if it is a refusal."""
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        if code in AUTH_CODES:
            return str(code)
    payload = (body.get("data") or {}).get(name)
    if isinstance(payload, dict):
        for error in payload.get("userErrors") or []:
            if error["code"] in AUTH_CODES:
                return str(error["code"])
    return None


def view_of(node: Mapping[str, Any]) -> str:
    if node["site"] is not None and node["enterprise"] is not None:
        return FULL
    if node["site"] is None and node["enterprise"] is None:
        return PUBLIC
    return f"PARTIAL site={node['site']} enterprise={node['enterprise']}"


Observe = Callable[[Any, World], object]


def listing_view(node: Any, world: World) -> object:
    return view_of(node)


def views_of(*keys: str) -> Observe:
    """{world key: view} of these listings in a list (those absent are not listed)."""

    def observe(connection: Any, world: World) -> object:
        seen: dict[str, str] = {}
        for edge in connection["edges"]:
            key = world.key_of(edge["node"]["id"])
            if key in keys:
                seen[key] = view_of(edge["node"])
        return seen

    return observe


def keys_of(*keys: str) -> Observe:
    """Which of these world records a list holds."""

    def observe(connection: Any, world: World) -> object:
        found = {world.key_of(e["node"]["id"]) for e in connection["edges"]}
        return frozenset(k for k in keys if k in found)

    return observe


@dataclass(frozen=True)
class Row:
    name: str
    document: str
    field: str
    variables: Callable[[World], dict[str, Any]]
    expect: Mapping[str, object]
    observe: Observe | None = None

    def __post_init__(self) -> None:
        assert set(self.expect) == set(ROLES), f"{self.name}: a cell per role"


def cells(
    *,
    anonymous: object,
    enterprise_a: object,
    enterprise_b: object,
    recycler: object,
    regulator_x: object,
    regulator_y: object,
    admin: object,
) -> dict[str, object]:
    return {
        "anonymous": anonymous,
        "enterprise_a": enterprise_a,
        "enterprise_b": enterprise_b,
        "recycler": recycler,
        "regulator_x": regulator_x,
        "regulator_y": regulator_y,
        "admin": admin,
    }


def only(*allowed: str) -> dict[str, object]:
    assert set(allowed) <= set(ROLES)
    return {role: ALLOW if role in allowed else DENY for role in ROLES}


SIGNED_IN = ROLES[1:]
TENANT_A_REGULATOR_X_ADMIN = ("enterprise_a", "regulator_x", "admin")


def no_vars(_: World) -> dict[str, Any]:
    return {}


def by_id(key: str) -> Callable[[World], dict[str, Any]]:
    return lambda w: {"id": w.ids[key]}


def in_district(district: str) -> Callable[[World], dict[str, Any]]:
    return lambda _: {"district": district}


def report_input(site: str, code: str) -> Callable[[World], dict[str, Any]]:
    return lambda w: {
        "input": {"siteId": w.ids[site], "wasteCode": code, "tonnes": "1.000", "period": PERIOD}
    }


QUERIES = [
    Row("wasteCodes", WASTE_CODES, "wasteCodes", no_vars, only(*ROLES)),
    Row("districts", DISTRICTS, "districts", no_vars, only(*SIGNED_IN)),
    Row("enterprise(A)", ENTERPRISE, "enterprise", by_id("A"), only(*TENANT_A_REGULATOR_X_ADMIN)),
    Row(
        "enterprises",
        ENTERPRISES,
        "enterprises",
        no_vars,
        cells(
            anonymous=DENY,
            enterprise_a=frozenset({"A"}),
            enterprise_b=frozenset({"B"}),
            recycler=frozenset({"R"}),
            regulator_x=frozenset({"A", "R"}),
            regulator_y=frozenset({"B"}),
            admin=frozenset({"A", "B", "R"}),
        ),
        keys_of("A", "B", "R"),
    ),
    Row("site(A's)", SITE, "site", by_id("site_a"), only(*TENANT_A_REGULATOR_X_ADMIN)),
    Row(
        "licenceRegister(R's)",
        LICENCE_REGISTER,
        "licenceRegister",
        lambda w: {"filter": {"enterpriseId": w.ids["R"]}},
        cells(
            anonymous=DENY,
            enterprise_a=frozenset(),
            enterprise_b=frozenset(),
            recycler=frozenset({"L_spare"}),
            regulator_x=frozenset({"L_spare"}),
            regulator_y=frozenset(),
            admin=frozenset({"L_spare"}),
        ),
        keys_of("L_spare"),
    ),
    Row(
        "licences(R)",
        LICENCES,
        "licences",
        by_id("R"),
        only("recycler", "regulator_x", "admin"),
    ),
    Row(
        "offer(open)",
        OFFER,
        "offer",
        by_id("O_open"),
        cells(
            anonymous=DENY,
            enterprise_a=FULL,
            enterprise_b=PUBLIC,
            recycler=PUBLIC,
            regulator_x=FULL,
            regulator_y=DENY,
            admin=FULL,
        ),
        listing_view,
    ),
    Row(
        "offer(withdrawn)",
        OFFER,
        "offer",
        by_id("O_withdrawn"),
        cells(
            anonymous=DENY,
            enterprise_a=FULL,
            enterprise_b=DENY,
            recycler=DENY,
            regulator_x=FULL,
            regulator_y=DENY,
            admin=FULL,
        ),
        listing_view,
    ),
    Row(
        "offer(confirmed match)",
        OFFER,
        "offer",
        by_id("O3"),
        cells(
            anonymous=DENY,
            enterprise_a=FULL,
            enterprise_b=DENY,
            recycler=COUNTERPARTY_VIEW,
            regulator_x=FULL,
            regulator_y=DENY,
            admin=FULL,
        ),
        listing_view,
    ),
    Row(
        "offers",
        OFFERS,
        "offers",
        no_vars,
        cells(
            anonymous=DENY,
            enterprise_a={"O_open": FULL, "O_withdrawn": FULL, "O3": FULL, "O_b": PUBLIC},
            enterprise_b={"O_open": PUBLIC, "O_b": FULL},
            recycler={"O_open": PUBLIC, "O3": COUNTERPARTY_VIEW, "O_b": PUBLIC},
            regulator_x={"O_open": FULL, "O_withdrawn": FULL, "O3": FULL},
            regulator_y={"O_b": FULL},
            admin={"O_open": FULL, "O_withdrawn": FULL, "O3": FULL, "O_b": FULL},
        ),
        views_of("O_open", "O_withdrawn", "O3", "O_b"),
    ),
    Row(
        "offers(filter: A)",
        OFFERS,
        "offers",
        lambda w: {"filter": {"enterpriseId": w.ids["A"]}},
        only("enterprise_a", "regulator_x", "regulator_y", "admin"),
    ),
    Row(
        "demand(open)",
        DEMAND,
        "demand",
        by_id("D_main"),
        cells(
            anonymous=DENY,
            enterprise_a=PUBLIC,
            enterprise_b=PUBLIC,
            recycler=FULL,
            regulator_x=FULL,
            regulator_y=DENY,
            admin=FULL,
        ),
        listing_view,
    ),
    Row(
        "demands",
        DEMANDS,
        "demands",
        no_vars,
        cells(
            anonymous=DENY,
            enterprise_a={"D_main": PUBLIC},
            enterprise_b={"D_main": PUBLIC},
            recycler={"D_main": FULL},
            regulator_x={"D_main": FULL},
            regulator_y={},
            admin={"D_main": FULL},
        ),
        views_of("D_main"),
    ),
    Row(
        "demands(filter: R)",
        DEMANDS,
        "demands",
        lambda w: {"filter": {"enterpriseId": w.ids["R"]}},
        only("recycler", "regulator_x", "regulator_y", "admin"),
    ),
    Row(
        "match",
        MATCH,
        "match",
        by_id("M1"),
        only("enterprise_a", "recycler", "regulator_x", "admin"),
    ),
    Row(
        "matches",
        MATCHES,
        "matches",
        no_vars,
        cells(
            anonymous=DENY,
            enterprise_a=frozenset({"M1", "M2", "M3", "M4"}),
            enterprise_b=frozenset(),
            recycler=frozenset({"M1", "M2", "M3", "M4"}),
            regulator_x=frozenset({"M1", "M2", "M3", "M4"}),
            regulator_y=frozenset(),
            admin=frozenset({"M1", "M2", "M3", "M4"}),
        ),
        keys_of("M1", "M2", "M3", "M4"),
    ),
    Row(
        "matches(filter: A)",
        MATCHES,
        "matches",
        lambda w: {"filter": {"enterpriseId": w.ids["A"]}},
        only("enterprise_a", "regulator_x", "regulator_y", "admin"),
    ),
    Row(
        "utilisation(enterprise A)",
        UTILISATION,
        "utilisation",
        lambda w: {"scope": {"enterpriseId": w.ids["A"]}},
        only(*TENANT_A_REGULATOR_X_ADMIN),
    ),
    Row(
        "utilisation(district X)",
        UTILISATION,
        "utilisation",
        lambda w: {"scope": {"district": DISTRICT_X}},
        only("regulator_x", "admin"),
    ),
    Row("utilisation(city)", UTILISATION, "utilisation", no_vars, only("admin")),
    Row(
        "carbon(enterprise A)",
        CARBON,
        "carbon",
        lambda w: {"scope": {"enterpriseId": w.ids["A"]}},
        only(*TENANT_A_REGULATOR_X_ADMIN),
    ),
    # The league table ranks the enterprises registered in a district: a district's
    # regulator its own (named or not), an admin any district or the city; tenants nobody.
    Row(
        "enterpriseUtilisation",
        LEAGUE,
        "enterpriseUtilisation",
        no_vars,
        only("regulator_x", "regulator_y", "admin"),
    ),
    *(
        Row(
            f"enterpriseUtilisation(district {name})",
            LEAGUE,
            "enterpriseUtilisation",
            in_district(district),
            cells(
                anonymous=DENY,
                enterprise_a=DENY,
                enterprise_b=DENY,
                recycler=DENY,
                regulator_x=registered if name == "X" else DENY,
                regulator_y=registered if name == "Y" else DENY,
                admin=registered,
            ),
            keys_of("A", "B", "R"),
        )
        for name, district, registered in (
            ("X", DISTRICT_X, frozenset({"A", "R"})),
            ("Y", DISTRICT_Y, frozenset({"B"})),
        )
    ),
    Row(
        "zeroWasteAssessment(A)",
        ZERO_WASTE,
        "zeroWasteAssessment",
        by_id("A"),
        only(*TENANT_A_REGULATOR_X_ADMIN),
    ),
    Row(
        "manifest",
        MANIFEST,
        "manifest",
        by_id("man3"),
        only("enterprise_a", "recycler", "regulator_x", "admin"),
    ),
    Row(
        "manifests",
        MANIFESTS,
        "manifests",
        no_vars,
        cells(
            anonymous=DENY,
            enterprise_a=frozenset({"man3", "man4"}),
            enterprise_b=frozenset(),
            recycler=frozenset({"man3", "man4"}),
            regulator_x=frozenset({"man3", "man4"}),
            regulator_y=frozenset(),
            admin=frozenset({"man3", "man4"}),
        ),
        keys_of("man3", "man4"),
    ),
    Row(
        "manifests(filter: A)",
        MANIFESTS,
        "manifests",
        lambda w: {"filter": {"enterpriseId": w.ids["A"]}},
        # A regulator's filter narrows its reach (district Y holds none of A's), a tenant
        # may name only itself.
        cells(
            anonymous=DENY,
            enterprise_a=frozenset({"man3", "man4"}),
            enterprise_b=DENY,
            recycler=DENY,
            regulator_x=frozenset({"man3", "man4"}),
            regulator_y=frozenset(),
            admin=frozenset({"man3", "man4"}),
        ),
        keys_of("man3", "man4"),
    ),
    Row("discrepancies", DISCREPANCIES, "discrepancies", no_vars, only(*SIGNED_IN)),
    Row(
        "ledgerEntry(A's)",
        LEDGER_ENTRY,
        "ledgerEntry",
        by_id("E_view"),
        only(*TENANT_A_REGULATOR_X_ADMIN),
    ),
    Row(
        "ledgerEntries",
        LEDGER_ENTRIES,
        "ledgerEntries",
        no_vars,
        cells(
            anonymous=DENY,
            enterprise_a=frozenset({"E_view"}),
            enterprise_b=frozenset({"E_b"}),
            recycler=frozenset(),
            regulator_x=frozenset({"E_view"}),
            regulator_y=frozenset({"E_b"}),
            admin=frozenset({"E_view", "E_b"}),
        ),
        keys_of("E_view", "E_b"),
    ),
    Row(
        "ledgerEntries(filter: A)",
        LEDGER_ENTRIES,
        "ledgerEntries",
        lambda w: {"filter": {"enterpriseId": w.ids["A"]}},
        cells(
            anonymous=DENY,
            enterprise_a=frozenset({"E_view"}),
            enterprise_b=DENY,
            recycler=DENY,
            regulator_x=frozenset({"E_view"}),
            regulator_y=frozenset(),
            admin=frozenset({"E_view"}),
        ),
        keys_of("E_view", "E_b"),
    ),
]

MUTATIONS = [
    Row(
        "registerEnterprise",
        REGISTER_ENTERPRISE,
        "registerEnterprise",
        lambda w: {
            "input": {
                "name": f"Matrix New {uuid.uuid4().hex[:4]}",
                "creditCode": credit_code(),
                "industry": "C3110",
                "district": DISTRICT_Y,
                "kind": "FACTORY",
            }
        },
        only("admin"),
    ),
    Row(
        "registerLicence(R)",
        REGISTER_LICENCE,
        "registerLicence",
        lambda w: {
            "input": {
                "enterpriseId": w.ids["R"],
                "number": f"MX-{uuid.uuid4().hex[:6]}",
                "wasteCodes": ["SW10"],
                "annualCapacityTonnes": "10",
                "validFrom": days(0),
                "validUntil": days(365),
            }
        },
        only("admin"),
    ),
    # The admin's call reaches the enterprise's own rules and changes nothing: the district
    # it is registered in again (NOTHING_TO_AMEND).
    Row(
        "amendEnterprise(A)",
        AMEND_ENTERPRISE,
        "amendEnterprise",
        lambda w: {"id": w.ids["A"], "input": {"reason": "matrix", "district": DISTRICT_X}},
        only("admin"),
    ),
    # The admin's calls reach the licence's own rules and change nothing: the same tonnage
    # again (NOTHING_TO_AMEND), a revocation dated yesterday (INVALID_DATE).
    Row(
        "amendLicence(R's)",
        AMEND_LICENCE,
        "amendLicence",
        lambda w: {
            "id": w.ids["L_spare"],
            "input": {"reason": "matrix", "annualCapacityTonnes": "10"},
        },
        only("admin"),
    ),
    Row(
        "revokeLicence(R's)",
        REVOKE_LICENCE,
        "revokeLicence",
        lambda w: {
            "id": w.ids["L_spare"],
            "reason": "matrix",
            "effectiveFrom": days(-1),
        },
        only("admin"),
    ),
    Row(
        "addSite(A)",
        ADD_SITE,
        "addSite",
        lambda w: {
            "input": {
                "enterpriseId": w.ids["A"],
                "name": "annex",
                "district": DISTRICT_X,
                "latitude": place(0.01, 0.01)[0],
                "longitude": place(0.01, 0.01)[1],
            }
        },
        only("enterprise_a", "admin"),
    ),
    # The calls reach the site's own rules and change nothing: the name it has
    # (NOTHING_TO_AMEND).
    Row(
        "amendSite(A's)",
        AMEND_SITE,
        "amendSite",
        lambda w: {"id": w.ids["site_a"], "input": {"reason": "matrix", "name": "works"}},
        only("enterprise_a", "admin"),
    ),
    Row(
        "postOffer(A's site)",
        POST_OFFER,
        "postOffer",
        lambda w: {
            "input": {
                "siteId": w.ids["site_a"],
                "wasteCode": "SW07",
                "quantityTonnes": "5.000",
                "availableFrom": days(1),
                "availableUntil": days(30),
            }
        },
        only("enterprise_a"),
    ),
    Row(
        "withdrawOffer(A's)",
        WITHDRAW_OFFER,
        "withdrawOffer",
        by_id("O_to_withdraw"),
        only("enterprise_a"),
    ),
    # The owner's calls reach the listing's own rules and change nothing: a withdrawn offer
    # (INVALID_TRANSITION), a demand's quantity as it stands (NOTHING_TO_AMEND).
    Row(
        "amendOffer(A's)",
        AMEND_OFFER,
        "amendOffer",
        lambda w: {"id": w.ids["O_withdrawn"], "input": {"quantityTonnes": "1.000"}},
        only("enterprise_a"),
    ),
    Row(
        "amendDemand(R's)",
        AMEND_DEMAND,
        "amendDemand",
        lambda w: {"id": w.ids["D_spare"], "input": {"quantityTonnes": "50"}},
        only("recycler"),
    ),
    Row(
        "postDemand(R's site)",
        POST_DEMAND,
        "postDemand",
        lambda w: {
            "input": {
                "siteId": w.ids["site_r"],
                "wasteCodes": ["SW06"],
                "quantityTonnes": "5.000",
                "maxDistanceKm": "10",
                "availableFrom": days(1),
                "availableUntil": days(30),
            }
        },
        only("recycler"),
    ),
    Row(
        "withdrawDemand(R's)", WITHDRAW_DEMAND, "withdrawDemand", by_id("D_spare"), only("recycler")
    ),
    Row("acceptMatch", ACCEPT_MATCH, "acceptMatch", by_id("M1"), only("enterprise_a", "recycler")),
    Row("rejectMatch", REJECT_MATCH, "rejectMatch", by_id("M2"), only("enterprise_a", "recycler")),
    Row(
        "dispatchShipment",
        DISPATCH,
        "dispatchShipment",
        lambda w: {"input": {"matchId": w.ids["M3"], "tonnes": "100.000"}},
        only("enterprise_a"),
    ),
    Row(
        "receiveShipment",
        RECEIVE,
        "receiveShipment",
        lambda w: {"input": {"manifestId": w.ids["man4"], "tonnes": "99.500"}},
        only("recycler"),
    ),
    Row(
        "cancelShipment",  # M4 has left: the parties reach the state check; no one else
        CANCEL_SHIPMENT,
        "cancelShipment",
        lambda w: {"input": {"manifestId": w.ids["man4"], "reason": "matrix"}},
        only("enterprise_a", "recycler"),
    ),
    Row(
        "resolveDiscrepancy",  # the parties reach the manifest's state check; no one else
        RESOLVE_DISCREPANCY,
        "resolveDiscrepancy",
        lambda w: {
            "input": {"manifestId": w.ids["man3"], "cause": "WEIGHING_ERROR", "note": "scale"}
        },
        only("enterprise_a", "recycler"),
    ),
    *(
        Row(
            f"{kind}(A's site)",
            report_mutation(kind),
            kind,
            report_input("site_a", "SW01"),
            only("enterprise_a"),
        )
        for kind in (
            "reportGeneration",
            "reportInPlantUtilisation",
            "reportStorage",
            "reportStorageRetrieval",
            "reportDisposal",
            "reportOpeningStock",
        )
    ),
    *(
        Row(
            f"{kind}(R's site)",
            report_mutation(kind),
            kind,
            report_input("site_r", "SW04"),
            only("recycler"),
        )
        for kind in (
            "reportReceivedUtilisation",
            "reportReceivedStorage",
            "reportReceivedStorageRetrieval",
            "reportReceivedDisposal",
        )
    ),
    Row(
        "reverseEntry(A's)", REVERSE_ENTRY, "reverseEntry", by_id("E_reverse"), only("enterprise_a")
    ),
    Row(
        "correctEntry(A's)", CORRECT_ENTRY, "correctEntry", by_id("E_correct"), only("enterprise_a")
    ),
]


def table(rows: list[Row]) -> list[Any]:
    return [pytest.param(row, role, id=f"{row.name}-{role}") for row in rows for role in ROLES]


async def outcome(world: World, row: Row, role: str, *, mutation: bool = False) -> object:
    body = await world.client(role).execute(row.document, **row.variables(world))
    refusal = auth_refusal(body, row.field)
    payload = (body.get("data") or {}).get(row.field)
    if refusal is not None:
        if mutation:  # refused in the payload's userErrors, not as a GraphQL error
            assert not body.get("errors"), body
            assert isinstance(payload, dict), body
            assert all(v is None for k, v in payload.items() if k != "userErrors"), body
        else:
            assert payload is None, body
        return DENY
    assert not body.get("errors"), body["errors"]
    if mutation:
        return ALLOW  # a domain refusal (state, quantity …) is not an authorization one
    return row.observe(payload, world) if row.observe else ALLOW


@pytest.mark.parametrize(("row", "role"), table(QUERIES))
async def test_query(world: World, row: Row, role: str) -> None:
    assert await outcome(world, row, role) == row.expect[role]


@pytest.mark.parametrize(("row", "role"), table(MUTATIONS))
async def test_mutation(world: World, row: Row, role: str) -> None:
    assert await outcome(world, row, role, mutation=True) == row.expect[role]


BAD_TOKENS = {
    "forged": lambda: issue_token(JwtConfig(secret="an-attacker-s-own-secret-" * 3), Role.ADMIN),
    "expired": lambda: issue_token(JWT, Role.ADMIN, ttl=timedelta(seconds=-60)),
}
BAD_TOKEN_ROWS = [
    row
    for row in QUERIES + MUTATIONS
    if row.name
    in {
        "wasteCodes",  # public: a bad token is still refused, never read as none
        "offers",
        "matches",
        "manifests",
        "postOffer(A's site)",
        "acceptMatch",
        "reverseEntry(A's)",
    }
]


@pytest.mark.parametrize("kind", list(BAD_TOKENS))
@pytest.mark.parametrize("row", [pytest.param(r, id=r.name) for r in BAD_TOKEN_ROWS])
async def test_a_forged_or_expired_token_is_unauthenticated(
    world: World, row: Row, kind: str
) -> None:
    body = await world.gateway.as_(BAD_TOKENS[kind]()).execute(row.document, **row.variables(world))
    assert auth_refusal(body, row.field) == "UNAUTHENTICATED", body
    payload = (body.get("data") or {}).get(row.field)
    assert payload is None or all(v is None for k, v in payload.items() if k != "userErrors")


@pytest.mark.parametrize("header", ["Basic d2FzdGV4OmFkbWlu", "Bearer", "Token abc.def.ghi"])
@pytest.mark.parametrize("row", [pytest.param(r, id=r.name) for r in BAD_TOKEN_ROWS])
async def test_an_authorization_header_that_is_not_a_bearer_token_is_unauthenticated(
    world: World, row: Row, header: str
) -> None:
    """Not read as anonymous: the client meant to sign in and must hear that it did not."""
    gateway = world.gateway.with_authorization(header)
    body = await gateway.execute(row.document, **row.variables(world))
    assert auth_refusal(body, row.field) == "UNAUTHENTICATED", body


# --- subscriptions over graphql-transport-ws ----------------------------------------------

MATCH_PROPOSED = "subscription { matchProposed { id status offer { id wasteCode } } }"
OFFER_POSTED = (
    'subscription { offerPosted(wasteCodes: ["SW05"]) { id wasteCode district site { id } } }'
)
MATCH_CHANGED = "subscription { matchChanged { id status } }"
OFFER_CHANGED = (
    'subscription { offerChanged(wasteCodes: ["SW05"]) {'
    " id wasteCode quantityTonnes district site { id } } }"
)
OFFER_CLOSED = 'subscription { offerClosed(wasteCodes: ["SW05"]) { offerId status } }'
MANIFEST_CHANGED = "subscription { manifestChanged { id matchId status } }"
SUBSCRIPTIONS = {
    "matchProposed": MATCH_PROPOSED,
    "offerPosted": OFFER_POSTED,
    "matchChanged": MATCH_CHANGED,
    "offerChanged": OFFER_CHANGED,
    "offerClosed": OFFER_CLOSED,
    "manifestChanged": MANIFEST_CHANGED,
}
RECEIVES = "RECEIVES"
SILENT = "SILENT"


@dataclass
class Watch:
    """What one subscriber saw: events (payload data) and the code of a refusal."""

    events: list[dict[str, Any]] = field(default_factory=list)
    refused: str | None = None
    other_errors: list[Any] = field(default_factory=list)

    def note(self, message: Mapping[str, Any]) -> None:
        kind = message.get("type")
        payload = message.get("payload")
        errors: list[Any] = []
        if kind == "error" and isinstance(payload, list):
            errors = payload
        elif kind == "next" and isinstance(payload, dict):
            errors = payload.get("errors") or []
            if payload.get("data"):
                self.events.append(payload["data"])
        for error in errors:
            code = (error.get("extensions") or {}).get("code")
            if code in AUTH_CODES:
                self.refused = str(code)
            else:
                self.other_errors.append(error)

    def outcome(self) -> str:
        assert not self.other_errors, self.other_errors
        if self.refused:
            return DENY
        return RECEIVES if self.events else SILENT


async def open_socket(url: str, token: str | None) -> ClientConnection:
    socket = await connect(url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    payload = {"Authorization": f"Bearer {token}"} if token else {}
    await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
    ack = json.loads(await asyncio.wait_for(socket.recv(), 30))
    assert ack["type"] == "connection_ack", ack
    return socket


async def listen(socket: ClientConnection, watches: Mapping[str, Watch]) -> None:
    async for raw in socket:
        message = json.loads(raw)
        if message.get("type") == "ping":
            await socket.send(json.dumps({"type": "pong"}))
        elif message.get("id") in watches:
            watches[message["id"]].note(message)


@pytest.fixture(scope="module")
async def subscriptions(world: World, stack: Stack) -> AsyncIterator[dict[tuple[str, str], Watch]]:
    """Every role subscribes to every subscription; A then posts SW05 offers (R's licence
    permits SW05 and R's demand takes it, so each makes an offerPosted and a new match) until
    the subscribers that should hear of them have; R turns a proposal down (matchChanged)
    and A amends an offer R heard of (offerChanged), then withdraws the last one it posted
    (offerClosed); a match of a new SW02 offer is confirmed (manifestChanged); then a little
    longer for any stray event."""
    url = stack.graphql_url.replace("http://", "ws://")
    watches = {(name, role): Watch() for name in SUBSCRIPTIONS for role in ROLES}
    sockets: list[ClientConnection] = []
    listeners: list[asyncio.Task[None]] = []
    try:
        for role in ROLES:
            socket = await open_socket(url, world.tokens[role])
            sockets.append(socket)
            mine = {name: watches[(name, role)] for name in SUBSCRIPTIONS}
            listeners.append(asyncio.create_task(listen(socket, mine)))
            for name, query in SUBSCRIPTIONS.items():
                message = {"id": name, "type": "subscribe", "payload": {"query": query}}
                await socket.send(json.dumps(message))
        await asyncio.sleep(2)  # let the gateway open the upstream subscriptions
        awaited = [("offerPosted", "recycler")] + [
            ("matchProposed", role) for role in ("enterprise_a", "recycler", "regulator_x", "admin")
        ]
        demand = await post_demand(
            world.client("recycler"), world.ids["site_r"], ["SW05"], "100000"
        )
        world.ids["D_sub"] = demand
        deadline = asyncio.get_running_loop().time() + 90
        while not all(watches[k].events for k in awaited):
            assert asyncio.get_running_loop().time() < deadline, {
                k: (w.events, w.refused) for k, w in watches.items()
            }
            await post_offer(world.client("enterprise_a"), world.ids["site_a"], "SW05", "3.000")
            for _ in range(50):
                if all(watches[k].events for k in awaited):
                    break
                await asyncio.sleep(0.1)
        # A change: the recycler turns one of the new proposals down.
        [proposal, *_] = watches[("matchProposed", "recycler")].events
        await mutate(
            world.client("recycler"),
            REJECT_MATCH,
            "rejectMatch",
            id=proposal["matchProposed"]["id"],
        )
        # Another: A weighs one of its offers again.
        [posted, *_] = watches[("offerPosted", "recycler")].events
        await mutate(
            world.client("enterprise_a"),
            AMEND_OFFER,
            "amendOffer",
            id=posted["offerPosted"]["id"],
            input={"quantityTonnes": "4.000"},
        )
        changed = [("offerChanged", "recycler")] + [
            ("matchChanged", role) for role in ("enterprise_a", "recycler", "regulator_x", "admin")
        ]
        async with asyncio.timeout(60):
            while not all(watches[k].events for k in changed):
                await asyncio.sleep(0.1)
        # And one leaves the market.
        *_, last = watches[("offerPosted", "recycler")].events
        world.ids["O_closed"] = last["offerPosted"]["id"]
        await mutate(
            world.client("enterprise_a"),
            WITHDRAW_OFFER,
            "withdrawOffer",
            id=last["offerPosted"]["id"],
        )
        async with asyncio.timeout(60):
            while not watches[("offerClosed", "recycler")].events:
                await asyncio.sleep(0.1)
        # And a manifest opens: A offers SW02 (not SW05, so no offer subscription hears of
        # it), R's main demand takes it, both accept and the ledger opens the manifest.
        await ship_one_more(world)
        shipping = [
            ("manifestChanged", role)
            for role in ("enterprise_a", "recycler", "regulator_x", "admin")
        ]
        async with asyncio.timeout(90):
            while not all(watches[k].events for k in shipping):
                await asyncio.sleep(0.1)
        await asyncio.sleep(2)
        yield watches
    finally:
        for task in listeners:
            task.cancel()
        for socket in sockets:
            with contextlib.suppress(Exception):
                await socket.close()


async def ship_one_more(world: World) -> None:
    """A new SW02 offer of A's proposed to R's main demand and confirmed by both (M_ship)."""
    a, r = world.client("enterprise_a"), world.client("recycler")
    offer = await post_offer(a, world.ids["site_a"], "SW02", "5.000")

    async def proposed() -> str | None:
        data = await a.data(MATCHES, filter={"enterpriseId": world.ids["A"]})
        return next(
            (
                str(e["node"]["id"])
                for e in data["matches"]["edges"]
                if e["node"]["offer"]["id"] == offer and e["node"]["status"] == "PROPOSED"
            ),
            None,
        )

    match = await eventually(proposed, timeout=90, interval=0.5)
    world.ids["M_ship"] = match
    await mutate(a, ACCEPT_MATCH, "acceptMatch", id=match)
    await mutate(r, ACCEPT_MATCH, "acceptMatch", id=match)


SUBSCRIPTION_CELLS = {
    "matchProposed": cells(
        anonymous=DENY,
        enterprise_a=RECEIVES,
        enterprise_b=SILENT,
        recycler=RECEIVES,
        regulator_x=RECEIVES,
        regulator_y=SILENT,
        admin=RECEIVES,
    ),
    "matchChanged": cells(
        anonymous=DENY,
        enterprise_a=RECEIVES,
        enterprise_b=SILENT,
        recycler=RECEIVES,
        regulator_x=RECEIVES,
        regulator_y=SILENT,
        admin=RECEIVES,
    ),
    "offerPosted": cells(
        anonymous=DENY,
        enterprise_a=SILENT,  # its own offers are not news to it
        enterprise_b=SILENT,  # no licence for SW05
        recycler=RECEIVES,
        regulator_x=DENY,
        regulator_y=DENY,
        admin=DENY,
    ),
    "offerChanged": cells(
        anonymous=DENY,
        enterprise_a=SILENT,  # its own offers' changes are not news to it
        enterprise_b=SILENT,  # no licence for SW05
        recycler=RECEIVES,
        regulator_x=DENY,
        regulator_y=DENY,
        admin=DENY,
    ),
    "offerClosed": cells(
        anonymous=DENY,
        enterprise_a=SILENT,  # it withdrew the offer itself
        enterprise_b=SILENT,  # no licence for SW05
        recycler=RECEIVES,
        regulator_x=DENY,
        regulator_y=DENY,
        admin=DENY,
    ),
    "manifestChanged": cells(
        anonymous=DENY,
        enterprise_a=RECEIVES,  # the supplier
        enterprise_b=SILENT,
        recycler=RECEIVES,
        regulator_x=RECEIVES,  # both parties' sites are in X
        regulator_y=SILENT,
        admin=RECEIVES,
    ),
}


@pytest.mark.parametrize(
    ("name", "role"),
    [pytest.param(n, r, id=f"{n}-{r}") for n in SUBSCRIPTIONS for r in ROLES],
)
async def test_subscription(
    subscriptions: dict[tuple[str, str], Watch], name: str, role: str
) -> None:
    assert subscriptions[(name, role)].outcome() == SUBSCRIPTION_CELLS[name][role]


async def test_subscription_events_keep_the_public_view(
    subscriptions: dict[tuple[str, str], Watch],
) -> None:
    """The recycler hears of A's offers, and of the amended one as it now stands, without
    A's site (the district stands for it)."""
    for name in ("offerPosted", "offerChanged"):
        events = subscriptions[(name, "recycler")].events
        assert events
        for event in events:
            offer = event[name]
            view = (offer["wasteCode"], offer["district"], offer["site"])
            assert view == ("SW05", DISTRICT_X, None)
    [amended] = subscriptions[("offerChanged", "recycler")].events
    assert amended["offerChanged"]["quantityTonnes"] == "4.000"


async def test_an_offer_leaving_the_market_is_told_by_id_and_why(
    world: World, subscriptions: dict[tuple[str, str], Watch]
) -> None:
    """Withdrawn, the offer is no longer the recycler's to read: offerClosed says which and
    why, and nothing else."""
    events = subscriptions[("offerClosed", "recycler")].events
    assert events == [{"offerClosed": {"offerId": world.ids["O_closed"], "status": "WITHDRAWN"}}]


async def test_a_confirmed_match_s_manifest_reaches_its_parties_as_created(
    world: World, subscriptions: dict[tuple[str, str], Watch]
) -> None:
    """The manifest pushed is the one the confirmation opened, as `manifest(id)` reads it."""
    for role in ("enterprise_a", "recycler", "regulator_x", "admin"):
        events = subscriptions[("manifestChanged", role)].events
        # Only M_ship's: the mutation cells may move M3's and M4's manifests meanwhile.
        [manifest] = [
            e["manifestChanged"]
            for e in events
            if e["manifestChanged"]["matchId"] == world.ids["M_ship"]
        ]
        assert manifest["status"] == "CREATED"
        read = await world.client(role).data(MANIFEST, id=manifest["id"])
        assert read["manifest"] == manifest


@pytest.mark.parametrize("kind", list(BAD_TOKENS))
async def test_a_subscription_with_a_forged_or_expired_token_is_unauthenticated(
    stack: Stack, kind: str
) -> None:
    socket = await open_socket(stack.graphql_url.replace("http://", "ws://"), BAD_TOKENS[kind]())
    try:
        watch = Watch()
        message = {"id": "s", "type": "subscribe", "payload": {"query": MATCH_PROPOSED}}
        await socket.send(json.dumps(message))
        async with asyncio.timeout(30):
            while watch.refused is None and not watch.other_errors:
                watch.note(json.loads(await socket.recv()))
        assert (watch.refused, watch.other_errors, watch.events) == ("UNAUTHENTICATED", [], [])
    finally:
        await socket.close()


def test_the_matrix_covers_every_operation_of_the_schema() -> None:
    """Every root field of the composed schema has its row."""
    schema = build_schema((REPO / "gateway" / "supergraph.graphql").read_text())
    roots = [schema.query_type, schema.mutation_type, schema.subscription_type]
    operations = {name for root in roots if root is not None for name in root.fields}
    covered = {row.field for row in QUERIES + MUTATIONS} | set(SUBSCRIPTIONS)
    assert operations - covered == set()
