"""A small city for the reliability suite, set up through the gateway as its users would:
factories with one site each, licensed recyclers with standing demands, and enough
reported generation that shipments and in-plant reports always balance."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from bench.chaos_api import (
    ADD_SITE,
    POST_DEMAND,
    REGISTER_ENTERPRISE,
    REGISTER_LICENCE,
    REPORT,
    Api,
    Applied,
)
from wastex_catalog.domain.credit_code import make_credit_code
from wastex_shared.auth import ALL_DISTRICTS, Role, issue_token
from wastex_shared.calendar import china_today
from wastex_shared.settings import ServiceSettings

JWT = ServiceSettings().jwt
CODES = ("SW01", "SW02")

DISTRICTS = ("青山区", "洪山区", "江夏区")
#: How long a set-up step may wait for the city to propagate (slow on a busy machine).
SETUP_TIMEOUT = 300.0


def current_period() -> str:
    """The month the ledger books a dispatch in by default (China Standard Time)."""
    return china_today().strftime("%Y-%m")


def previous_period() -> str:
    first = china_today().replace(day=1)
    return (first - timedelta(days=1)).strftime("%Y-%m")


@dataclass(frozen=True)
class Party:
    id: str
    name: str
    kind: str  # FACTORY | RECYCLER
    district: str
    site_id: str
    token: str
    #: How this factory sends its ledger reports: "kafka" or "graphql" (one channel each,
    #: so its reports reach the ledger in the order they were made).
    report_channel: str = "graphql"


@dataclass
class City:
    factories: list[Party]
    recyclers: list[Party]
    admin_token: str
    regulator_token: str
    periods: tuple[str, ...]
    demands: dict[str, str] = field(default_factory=dict)  # demand id → recycler id

    @property
    def parties(self) -> list[Party]:
        return [*self.factories, *self.recyclers]

    def party(self, enterprise_id: str) -> Party:
        for party in self.parties:
            if party.id == enterprise_id:
                return party
        raise KeyError(enterprise_id)


class SetupError(RuntimeError):
    pass


async def _must(
    api: Api, token: str, query: str, field_name: str, retry_codes: tuple[str, ...] = (), **v: Any
) -> dict[str, Any]:
    """A set-up mutation that must succeed; retried while the city propagates (e.g. the
    ledger not knowing a new site yet) or a subgraph is starting."""
    last: object = None
    deadline = time.monotonic() + SETUP_TIMEOUT
    while time.monotonic() < deadline:
        outcome = await api.mutate(token, query, field_name, **v)
        if isinstance(outcome, Applied) and outcome.ok:
            return outcome.payload
        if isinstance(outcome, Applied) and not set(outcome.errors) <= set(retry_codes):
            raise SetupError(f"{field_name}: {outcome.payload['userErrors']}")
        last = outcome
        await asyncio.sleep(0.5)
    raise SetupError(f"{field_name} did not succeed: {last}")


def unique_credit_code() -> str:
    return make_credit_code(f"91420100{uuid.uuid4().int % 10**9:09d}")


async def register_party(
    api: Api, admin: str, name: str, kind: str, district: str, lat: str, lon: str
) -> tuple[str, str, str]:
    """Register an enterprise with one site; returns (enterprise id, site id, token)."""
    result = await _must(
        api,
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
    enterprise_id = str(result["enterprise"]["id"])
    role = Role.ENTERPRISE if kind == "FACTORY" else Role.RECYCLER
    token = issue_token(JWT, role, enterprise_id)
    site = await _must(
        api,
        token,
        ADD_SITE,
        "addSite",
        input={
            "enterpriseId": enterprise_id,
            "name": f"{name} works",
            "district": district,
            "latitude": lat,
            "longitude": lon,
        },
    )
    return enterprise_id, str(site["site"]["id"]), token


#: Where cities are put: far enough apart (≈ 290 km) that their offers and demands never
#: match across (demands reach 150 km), so tests can run on cities of their own.
WUHAN = (30.55, 114.30)
YICHANG = (30.70, 111.30)


async def build_city(
    api: Api,
    factories: int = 4,
    recyclers: int = 2,
    tag: str | None = None,
    origin: tuple[float, float] = WUHAN,
) -> City:
    tag = tag or uuid.uuid4().hex[:6]
    admin = issue_token(JWT, Role.ADMIN)
    regulator = issue_token(JWT, Role.REGULATOR, district=ALL_DISTRICTS)
    today = china_today()
    made_factories: list[Party] = []
    for i in range(factories):
        district = DISTRICTS[i % len(DISTRICTS)]
        lat, lon = f"{origin[0] + 0.01 * i:.4f}", f"{origin[1] + 0.01 * i:.4f}"
        name = f"Chaos Steel {tag}-{i}"
        eid, site, token = await register_party(api, admin, name, "FACTORY", district, lat, lon)
        channel = "kafka" if i % 2 == 0 else "graphql"
        made_factories.append(Party(eid, name, "FACTORY", district, site, token, channel))
    made_recyclers: list[Party] = []
    for i in range(recyclers):
        district = DISTRICTS[(i + 1) % len(DISTRICTS)]
        lat, lon = f"{origin[0] - 0.05 - 0.01 * i:.4f}", f"{origin[1] + 0.05 + 0.01 * i:.4f}"
        name = f"Chaos Cement {tag}-{i}"
        eid, site, token = await register_party(api, admin, name, "RECYCLER", district, lat, lon)
        made_recyclers.append(Party(eid, name, "RECYCLER", district, site, token))
        await _must(
            api,
            admin,
            REGISTER_LICENCE,
            "registerLicence",
            input={
                "enterpriseId": eid,
                "number": f"CHAOS-{tag}-{i}",
                "wasteCodes": list(CODES),
                "annualCapacityTonnes": "9000000",
                "validFrom": (today - timedelta(days=30)).isoformat(),
                "validUntil": (today + timedelta(days=730)).isoformat(),
            },
        )
    city = City(
        made_factories,
        made_recyclers,
        admin,
        regulator,
        periods=(previous_period(), current_period()),
    )
    for recycler in made_recyclers:
        demand = await _must(
            api,
            recycler.token,
            POST_DEMAND,
            "postDemand",
            input={
                "siteId": recycler.site_id,
                "wasteCodes": list(CODES),
                "quantityTonnes": "2000000",
                "maxDistanceKm": "150",
                "availableFrom": today.isoformat(),
                "availableUntil": (today + timedelta(days=120)).isoformat(),
            },
        )
        city.demands[str(demand["demand"]["id"])] = recycler.id
    return city


async def report_graphql(
    api: Api, party: Party, event_type: str, code: str, tonnes: Decimal, period: str
) -> dict[str, Any]:
    """A set-up report that must be booked (waits for the ledger to learn the site)."""
    from bench.chaos_api import REPORT_MUTATIONS

    name = REPORT_MUTATIONS[event_type]
    return await _must(
        api,
        party.token,
        REPORT % name,
        name,
        retry_codes=("UNKNOWN_SITE",),
        input={"siteId": party.site_id, "wasteCode": code, "tonnes": str(tonnes), "period": period},
    )
