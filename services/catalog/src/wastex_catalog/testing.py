"""Test helpers for the catalog: the contract's GraphQL documents, an in-process GraphQL
client with the catalog's mutations as one-liners, and a small world to test against.

Used by the catalog's integration tests (and usable by anyone driving the subgraph in-process).

The catalog judges dates on its clock (China's today): it refuses a window already over and
matching uses only a licence valid today. The window and licence validity here are counted
from today (`DATES`, taken once at import), so the helpers work whichever day they run.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from starlette.applications import Starlette

from wastex_catalog.domain.credit_code import make_credit_code
from wastex_catalog.main import build_app
from wastex_catalog.settings import CatalogSettings
from wastex_shared.auth import JwtConfig, Role, issue_token
from wastex_shared.calendar import Dates
from wastex_shared.codes.district_file import load_districts
from wastex_shared.envelope import Envelope
from wastex_shared.storage import UnitOfWorkFactory

JWT = JwtConfig()
#: The packaged register (Wuhan's), for tests that build the use cases themselves.
DISTRICTS = load_districts()

#: Today in China, when the tests began: what the dates below are counted from.
DATES = Dates.now()
#: The listings' window: from the first of next month for seven months (still to come).
WINDOW = dict(zip(("availableFrom", "availableUntil"), DATES.window(7), strict=True))
#: The window's last day, and the first after it (when the sweep expires its listings).
WINDOW_LAST_DAY = date.fromisoformat(WINDOW["availableUntil"])
WINDOW_OVER = WINDOW_LAST_DAY + timedelta(days=1)
#: A licence's validity: from 1 January of this year for three years (covers `WINDOW`).
VALID_FROM, VALID_UNTIL = DATES.licence_validity(3)

REGISTER_ENTERPRISE = """
mutation($input: RegisterEnterpriseInput!) {
  registerEnterprise(input: $input) {
    enterprise { id name creditCode industry district kind }
    userErrors { field message code }
  }
}"""
ADD_SITE = """
mutation($input: AddSiteInput!) {
  addSite(input: $input) {
    site { id name district latitude longitude }
    userErrors { field message code }
  }
}"""
REGISTER_LICENCE = """
mutation($input: RegisterLicenceInput!) {
  registerLicence(input: $input) {
    licence { id number wasteCodes annualCapacityTonnes validFrom validUntil type }
    userErrors { field message code }
  }
}"""
LICENCE_FIELDS = (
    "id wasteCodes annualCapacityTonnes validUntil revokedOn revocationReason lastValidDay version"
)
AMEND_LICENCE = f"""
mutation($id: ID!, $input: AmendLicenceInput!) {{
  amendLicence(id: $id, input: $input) {{
    licence {{ {LICENCE_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}"""
REVOKE_LICENCE = f"""
mutation($id: ID!, $reason: String!, $effectiveFrom: Date) {{
  revokeLicence(id: $id, reason: $reason, effectiveFrom: $effectiveFrom) {{
    licence {{ {LICENCE_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}"""
POST_OFFER = """
mutation($input: PostOfferInput!) {
  postOffer(input: $input) {
    offer {
      id status wasteCode hazardous quantityTonnes remainingTonnes availableFrom availableUntil
      description district
    }
    userErrors { field message code }
  }
}"""
POST_DEMAND = """
mutation($input: PostDemandInput!) {
  postDemand(input: $input) {
    demand { id status wasteCodes quantityTonnes remainingTonnes maxDistanceKm district }
    userErrors { field message code }
  }
}"""
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
  amendOffer(id: $id, input: $input) {
    offer {
      id status quantityTonnes matchedTonnes remainingTonnes availableFrom availableUntil
      description moisturePercent particleSizeMm
    }
    userErrors { field message code }
  }
}"""
AMEND_DEMAND = """
mutation($id: ID!, $input: AmendDemandInput!) {
  amendDemand(id: $id, input: $input) {
    demand {
      id status quantityTonnes matchedTonnes remainingTonnes maxDistanceKm availableFrom
      availableUntil licensedUntil
    }
    userErrors { field message code }
  }
}"""
OFFER = """
query($id: ID!) {
  offer(id: $id) {
    id status quantityTonnes remainingTonnes district wasteCode
    site { id name latitude longitude }
  }
}"""
DEMAND = """
query($id: ID!) {
  demand(id: $id) {
    id status quantityTonnes remainingTonnes district wasteCodes site { id }
  }
}"""


def unique_credit_code() -> str:
    return make_credit_code(f"91420100{uuid.uuid4().int % 10**9:09d}")


def token(
    role: Role,
    enterprise_id: str | None = None,
    district: str | None = None,
    subject: str | None = None,
) -> str:
    return issue_token(JWT, role, enterprise_id, district, subject=subject)


ADMIN = token(Role.ADMIN)


@dataclass
class Api:
    """A GraphQL client on the in-process subgraph, with the catalog's mutations as helpers."""

    http: httpx.AsyncClient
    bearer: str | None = None
    _url: str = field(default="http://catalog/graphql")

    def as_(self, bearer: str | None) -> Api:
        return Api(self.http, bearer, self._url)

    def tenant(self, enterprise_id: str) -> Api:
        return self.as_(token(Role.ENTERPRISE, enterprise_id))

    async def execute(self, query: str, **variables: Any) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {self.bearer}"} if self.bearer else {}
        response = await self.http.post(
            self._url, json={"query": query, "variables": variables}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(self, query: str, **variables: Any) -> dict[str, Any]:
        body = await self.execute(query, **variables)
        assert not body.get("errors"), body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    async def error_code(self, query: str, **variables: Any) -> str:
        """The `extensions.code` of the (first) GraphQL error the query answers with."""
        body = await self.execute(query, **variables)
        assert body.get("errors"), body
        return str(body["errors"][0]["extensions"]["code"])

    async def mutate(self, query: str, name: str, **variables: Any) -> dict[str, Any]:
        """The payload of mutation `name`, asserting it has no userErrors."""
        payload: dict[str, Any] = (await self.data(query, **variables))[name]
        assert payload["userErrors"] == [], payload["userErrors"]
        return payload

    async def user_errors(self, query: str, name: str, **variables: Any) -> list[dict[str, Any]]:
        payload = (await self.data(query, **variables))[name]
        assert payload["userErrors"], payload
        errors: list[dict[str, Any]] = payload["userErrors"]
        return errors

    # --- building a small world ------------------------------------------------------

    async def register_enterprise(
        self, name: str = "Steel", kind: str = "FACTORY", district: str = "青山区"
    ) -> str:
        payload = await self.as_(ADMIN).mutate(
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
        return str(payload["enterprise"]["id"])

    async def add_site(
        self,
        enterprise_id: str,
        district: str = "青山区",
        latitude: str = "30.6400",
        longitude: str = "114.4100",
    ) -> str:
        payload = await self.tenant(enterprise_id).mutate(
            ADD_SITE,
            "addSite",
            input={
                "enterpriseId": enterprise_id,
                "name": "main works",
                "district": district,
                "latitude": latitude,
                "longitude": longitude,
            },
        )
        return str(payload["site"]["id"])

    async def register_licence(
        self,
        enterprise_id: str,
        codes: list[str],
        valid_from: str = VALID_FROM,
        valid_until: str = VALID_UNTIL,
        licence_type: str | None = None,
    ) -> str:
        licence: dict[str, Any] = {
            "enterpriseId": enterprise_id,
            "number": f"LIC-{uuid.uuid4().hex[:10]}",
            "wasteCodes": codes,
            "annualCapacityTonnes": "50000",
            "validFrom": valid_from,
            "validUntil": valid_until,
        }
        if licence_type is not None:
            licence["type"] = licence_type
        payload = await self.as_(ADMIN).mutate(REGISTER_LICENCE, "registerLicence", input=licence)
        return str(payload["licence"]["id"])

    async def post_offer(
        self, enterprise_id: str, site_id: str, code: str = "SW01", tonnes: str = "120.500"
    ) -> str:
        payload = await self.tenant(enterprise_id).mutate(
            POST_OFFER,
            "postOffer",
            input={
                "siteId": site_id,
                "wasteCode": code,
                "quantityTonnes": tonnes,
                "description": "BOF steel slag, <10 mm",
                **WINDOW,
            },
        )
        return str(payload["offer"]["id"])

    async def post_demand(
        self,
        enterprise_id: str,
        site_id: str,
        codes: tuple[str, ...] = ("SW01",),
        tonnes: str = "500.000",
        window: Mapping[str, str] = WINDOW,
    ) -> str:
        payload = await self.tenant(enterprise_id).mutate(
            POST_DEMAND,
            "postDemand",
            input={
                "siteId": site_id,
                "wasteCodes": list(codes),
                "quantityTonnes": tonnes,
                "maxDistanceKm": "80",
                **window,
            },
        )
        return str(payload["demand"]["id"])


@dataclass
class World:
    """A steel works offering slag and a cement plant licensed to take it, in two districts."""

    steel: str
    steel_site: str
    cement: str
    cement_site: str
    licence: str
    offer: str
    demand: str


async def build_world(api: Api) -> World:
    steel = await api.register_enterprise("Qingshan Steel", "FACTORY", "青山区")
    cement = await api.register_enterprise("Jiangxia Cement", "FACTORY", "江夏区")
    steel_site = await api.add_site(steel, "青山区", "30.6400", "114.4100")
    cement_site = await api.add_site(cement, "江夏区", "30.3600", "114.3000")
    licence = await api.register_licence(cement, ["SW01", "SW02"])
    offer = await api.post_offer(steel, steel_site)
    demand = await api.post_demand(cement, cement_site)
    return World(steel, steel_site, cement, cement_site, licence, offer, demand)


async def outbox_events(factory: UnitOfWorkFactory) -> list[tuple[str, str, Envelope]]:
    """(topic, key, envelope) of every outbox row, oldest first (dead letters left out)."""
    outbox = factory.tables.outbox
    async with factory() as uow:
        found = (
            await uow.session.execute(
                select(outbox.c.topic, outbox.c.key, outbox.c.payload).order_by(outbox.c.id)
            )
        ).all()
    return [
        (row.topic, row.key, Envelope.from_json(row.payload))
        for row in found
        if not row.topic.endswith(".dlq.v1")
    ]


@asynccontextmanager
async def running_catalog(settings: CatalogSettings) -> AsyncIterator[Api]:
    """The whole catalog service (lifespan included) on `settings`, with a client on it."""
    app: Starlette = build_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://catalog") as http:
            yield Api(http)


def envelope_json(
    event_type: str, source: str, data: dict[str, Any], event_id: str | None = None
) -> bytes:
    """An ingest message as a factory's system sends it (CloudEvents structured mode)."""
    return json.dumps(
        {
            "specversion": "1.0",
            "id": event_id or str(uuid.uuid4()),
            "type": event_type,
            "source": source,
            "time": "2026-11-25T08:00:00Z",
            "data": data,
        }
    ).encode()
