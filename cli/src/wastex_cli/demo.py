"""`wastex demo seed`: load the demo city through the public GraphQL API, idempotently.

Re-running finds what exists (enterprises by credit code, their sites, licences by number,
offers by description, demands and reports if the enterprise has any) and adds only what is
missing, whatever day it runs: the dates (`DemoDates`, counted from today) are never what
finds a thing, so a later day adds nothing the first did.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx

from wastex_catalog.domain.credit_code import make_credit_code
from wastex_cli.demo_city import CITY, DemoDates, DemoEnterprise
from wastex_cli.mutations import (
    ADD_SITE,
    POST_DEMAND,
    POST_OFFER,
    REGISTER_ENTERPRISE,
    REGISTER_LICENCE,
)
from wastex_cli.mutations import report as report_mutation
from wastex_shared.auth import JwtConfig, Role, issue_token
from wastex_shared.calendar import china_today

ENTERPRISES = """
query($after: String) {
  enterprises(first: 100, after: $after) {
    edges { node { id creditCode sites { id name } licences { number } } }
    pageInfo { hasNextPage endCursor }
  }
}"""
OWN_OFFERS = """
query($e: ID!) { offers(filter: {enterpriseId: $e}, first: 100) { edges { node { description } } } }
"""
OWN_DEMANDS = """
query($e: ID!) { demands(filter: {enterpriseId: $e}, first: 100) { totalCount } }
"""
GENERATED = """
query($e: ID!) {
  utilisation(scope: {enterpriseId: $e, wasteClass: ALL}, from: "2000-01", to: "2099-12") {
    generatedTonnes
  }
}"""


class SeedError(RuntimeError):
    pass


class GraphQLClient:
    """The seed's client: an answer that is not GraphQL's (a URL without /graphql, another
    server) or that carries errors (a token the stack does not take) is a SeedError saying
    what came back."""

    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = url
        self.token = token

    def as_(self, token: str) -> GraphQLClient:
        return GraphQLClient(self.url, token)

    async def data(self, query: str, **variables: Any) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.post(
                self.url, json={"query": query, "variables": variables}, headers=headers
            )
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or body.get("errors") or "data" not in body:
            said = body.get("errors") if isinstance(body, dict) else response.text[:200]
            raise SeedError(
                f"{self.url} answered HTTP {response.status_code}, not GraphQL data: {said}"
            )
        data: dict[str, Any] = body["data"]
        return data


@dataclass
class SeedSummary:
    created: dict[str, int] = field(default_factory=dict)

    def add(self, what: str) -> None:
        self.created[what] = self.created.get(what, 0) + 1

    def describe(self) -> str:
        if not self.created:
            return "demo city already seeded: nothing to add"
        made = ", ".join(f"{n} {what}" for what, n in self.created.items())
        return f"demo city seeded: {made}"


async def _mutate(client: GraphQLClient, query: str, name: str, **variables: Any) -> Any:
    payload = (await client.data(query, **variables))[name]
    if payload["userErrors"]:
        raise SeedError(f"{name}: {payload['userErrors']}")
    return payload


async def _existing(admin: GraphQLClient) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    after = None
    while True:
        page = (await admin.data(ENTERPRISES, after=after))["enterprises"]
        for edge in page["edges"]:
            found[edge["node"]["creditCode"]] = edge["node"]
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


async def seed(url: str, jwt: JwtConfig, today: date | None = None) -> SeedSummary:
    """Seed the city with its dates counted from `today` (China's, by default)."""
    dates = DemoDates.on(today or china_today())
    summary = SeedSummary()
    gateway = GraphQLClient(url)
    admin = gateway.as_(issue_token(jwt, Role.ADMIN, subject="wastex demo seed"))
    existing = await _existing(admin)
    for demo in CITY:
        await _seed_enterprise(gateway, admin, jwt, demo, dates, existing, summary)
    return summary


async def _seed_enterprise(
    gateway: GraphQLClient,
    admin: GraphQLClient,
    jwt: JwtConfig,
    demo: DemoEnterprise,
    dates: DemoDates,
    existing: dict[str, dict[str, Any]],
    summary: SeedSummary,
) -> None:
    credit_code = make_credit_code(demo.credit_body)
    known = existing.get(credit_code)
    if known is None:
        payload = await _mutate(
            admin,
            REGISTER_ENTERPRISE,
            "registerEnterprise",
            input={
                "name": demo.name,
                "creditCode": credit_code,
                "industry": demo.industry,
                "district": demo.district,
                "kind": demo.kind,
            },
        )
        known = {"id": payload["enterprise"]["id"], "sites": [], "licences": []}
        summary.add("enterprises")
    enterprise_id = str(known["id"])
    role = Role.RECYCLER if demo.kind == "RECYCLER" else Role.ENTERPRISE
    tenant = gateway.as_(issue_token(jwt, role, enterprise_id))

    sites = {s["name"]: s["id"] for s in known["sites"]}
    if demo.site.name not in sites:
        payload = await _mutate(
            tenant,
            ADD_SITE,
            "addSite",
            input={
                "enterpriseId": enterprise_id,
                "name": demo.site.name,
                "district": demo.site.district,
                "latitude": demo.site.latitude,
                "longitude": demo.site.longitude,
            },
        )
        sites[demo.site.name] = payload["site"]["id"]
        summary.add("sites")
    site_id = sites[demo.site.name]

    numbers = {lic["number"] for lic in known["licences"]}
    for licence in demo.licences:
        if licence.number in numbers:
            continue
        await _mutate(
            admin,
            REGISTER_LICENCE,
            "registerLicence",
            input={
                "enterpriseId": enterprise_id,
                "number": licence.number,
                "wasteCodes": list(licence.waste_codes),
                "annualCapacityTonnes": licence.annual_capacity_tonnes,
                "validFrom": dates.licence_validity[0],
                "validUntil": dates.licence_validity[1],
                "type": licence.type,
            },
        )
        summary.add("licences")

    offers = await tenant.data(OWN_OFFERS, e=enterprise_id)
    posted = {edge["node"]["description"] for edge in offers["offers"]["edges"]}
    for offer in demo.offers:
        if offer.description in posted:
            continue
        await _mutate(
            tenant,
            POST_OFFER,
            "postOffer",
            input={
                "siteId": site_id,
                "wasteCode": offer.waste_code,
                "quantityTonnes": offer.quantity_tonnes,
                "availableFrom": dates.window[0],
                "availableUntil": dates.window[1],
                "description": offer.description,
            },
        )
        summary.add("offers")

    if (
        demo.demands
        and (await tenant.data(OWN_DEMANDS, e=enterprise_id))["demands"]["totalCount"] == 0
    ):
        for demand in demo.demands:
            await _mutate(
                tenant,
                POST_DEMAND,
                "postDemand",
                input={
                    "siteId": site_id,
                    "wasteCodes": list(demand.waste_codes),
                    "quantityTonnes": demand.quantity_tonnes,
                    "maxDistanceKm": demand.max_distance_km,
                    "availableFrom": dates.window[0],
                    "availableUntil": dates.window[1],
                },
            )
            summary.add("demands")

    if demo.reports:
        await _seed_reports(tenant, demo, dates.report_period, enterprise_id, site_id, summary)


async def _seed_reports(
    tenant: GraphQLClient,
    demo: DemoEnterprise,
    period: str,
    enterprise_id: str,
    site_id: str,
    summary: SeedSummary,
) -> None:
    generated = (await tenant.data(GENERATED, e=enterprise_id))["utilisation"]["generatedTonnes"]
    if generated not in (None, "0", "0.000"):
        return
    for report in demo.reports:
        variables = {
            "input": {
                "siteId": site_id,
                "wasteCode": report.waste_code,
                "tonnes": report.tonnes,
                "period": period,
            }
        }
        # The ledger learns of a new site from the catalog's event a moment later.
        for _ in range(100):
            answer = await tenant.data(report_mutation(report.mutation), **variables)
            payload = answer[report.mutation]
            codes = {e["code"] for e in payload["userErrors"]}
            if "UNKNOWN_SITE" not in codes:
                break
            await asyncio.sleep(0.1)
        if payload["userErrors"]:
            raise SeedError(f"{report.mutation}: {payload['userErrors']}")
        summary.add("ledger reports")
