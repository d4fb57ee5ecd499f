"""The ingest bench's city, set up through the gateway as enterprises would set it up.

The matching bench's seeded generator (`matching_bench.generate`: districts, industries,
codes, recycler trades and radii of a Wuhan-like city) gives the factories' sites, the
recyclers with their licences and demands, and the lots the factories offer. The bench then
posts those lots over Kafka again and again, so every round plans a market of many codes,
sites and recyclers and every proposal is explained against its real alternatives.

What the generator varies to exercise the rules is fixed here, so that every lot has a
taker and the latency measured is the pipeline's, not an offer waiting for one: one window
for all listings, licences valid throughout (both counted from today, China's, as the
services judge them: the generator's fixed `TODAY` stays in the generator), and intake and
licensed tonnage
`CAPACITY_FACTOR` × the generator's, ample for every lot the run posts; lots no recycler
could take (out of every radius) are left out.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Final

from bench.matching_bench import generate
from wastex_catalog.domain.credit_code import make_credit_code
from wastex_matching.domain import DemandSlot, LicenceView, OfferSlot, Window
from wastex_matching.domain.candidates import build_candidate_edges
from wastex_matching.settings import MatchingSettings
from wastex_shared.auth import JwtConfig, Role, issue_token
from wastex_shared.calendar import Dates
from wastex_shared.envelope import utcnow
from wastex_shared.testing.graphql_client import GraphQLClient

#: The day the run's dates are counted from: the services' today.
DATES: Final = Dates.now()
OFFER_WINDOW: Final = DATES.window(4)
DEMAND_WINDOW: Final = DATES.window(7)
LICENCE_VALIDITY: Final = DATES.licence_validity(3)
#: The run posts each lot ~15 times; intake × 50 leaves every recycler room to spare.
CAPACITY_FACTOR: Final = 50
#: Mutations in flight at once while setting up.
CONCURRENCY: Final = 8


@dataclass(frozen=True)
class Lot:
    """One offer a factory's system posts, again and again, over Kafka."""

    enterprise_id: str
    site_id: str
    waste_code: str
    tonnes: str
    token: str

    def message(self) -> bytes:
        """The `ingest.offers.v1` message a factory's system sends (a new id each time)."""
        return json.dumps(
            {
                "specversion": "1.0",
                "id": str(uuid.uuid4()),
                "type": "wastex.offer.submit",
                "source": self.enterprise_id,
                "time": utcnow().isoformat(),
                "data": {
                    "siteId": self.site_id,
                    "wasteCode": self.waste_code,
                    "quantityTonnes": self.tonnes,
                    "availableFrom": OFFER_WINDOW[0],
                    "availableUntil": OFFER_WINDOW[1],
                    "description": "bench lot",
                },
            }
        ).encode()


@dataclass(frozen=True)
class City:
    lots: tuple[Lot, ...]
    description: dict[str, int]

    def messages(self, n: int) -> list[tuple[Lot, bytes]]:
        """`n` offers, the lots taken in turn."""
        return [(lot, lot.message()) for lot in itertools.islice(itertools.cycle(self.lots), n)]


def plan(
    lots: int, recyclers: int, seed: int
) -> tuple[list[OfferSlot], list[DemandSlot], list[LicenceView]]:
    """The generator's city with the fixed windows and validity, and only lots with a taker."""
    city = generate(lots, recyclers, seed, name="ingest")
    offer_window = Window(date.fromisoformat(OFFER_WINDOW[0]), date.fromisoformat(OFFER_WINDOW[1]))
    demand_window = Window(
        date.fromisoformat(DEMAND_WINDOW[0]), date.fromisoformat(DEMAND_WINDOW[1])
    )
    offers = [replace(o, window=offer_window) for o in city.offers]
    demands = [
        replace(d, window=demand_window, remaining_tonnes=d.remaining_tonnes * CAPACITY_FACTOR)
        for d in city.demands
    ]
    licences = [
        replace(
            lic,
            valid_from=date.fromisoformat(LICENCE_VALIDITY[0]),
            valid_until=date.fromisoformat(LICENCE_VALIDITY[1]),
            annual_capacity_tonnes=lic.annual_capacity_tonnes * CAPACITY_FACTOR,
        )
        for lic in city.licences
    ]
    road_factor = MatchingSettings().road_factor  # as the service measures distances
    edges = build_candidate_edges(
        offers, demands, licences, today=DATES.today, road_factor=road_factor
    )
    taken = set(edges.offer.tolist())
    return [o for i, o in enumerate(offers) if i in taken], demands, licences


async def set_up(url: str, jwt: JwtConfig, *, lots: int, recyclers: int, seed: int) -> City:
    """Register the city's enterprises, sites, licences and demands through the gateway."""
    offers, demands, licences = plan(lots, recyclers, seed)
    gateway = GraphQLClient(url)
    admin = gateway.as_(issue_token(jwt, Role.ADMIN))
    gate = asyncio.Semaphore(CONCURRENCY)
    numbers = itertools.count(uuid.uuid4().int % 10**9)  # credit codes unique in the run

    async def limited(call: Awaitable[Any]) -> Any:
        async with gate:
            return await call

    async def enterprise(name: str, district: str, kind: str) -> str:
        body = f"91420100{next(numbers) % 10**9:09d}"
        return await _mutation(
            admin,
            "registerEnterprise",
            name=name,
            creditCode=make_credit_code(body),
            industry="C3120" if kind == "FACTORY" else "C4210",
            district=district,
            kind=kind,
        )

    # Enterprises: the generator's ids → the catalog's, and a token for each.
    listings: list[OfferSlot | DemandSlot] = [*offers, *demands]
    first_of = {item.enterprise_id: item for item in reversed(listings)}
    kinds = {
        **{o.enterprise_id: "FACTORY" for o in offers},
        **{d.enterprise_id: "RECYCLER" for d in demands},
    }
    names = list(first_of)
    made = await asyncio.gather(
        *(
            limited(enterprise(f"Bench {name}", first_of[name].district, kinds[name]))
            for name in names
        )
    )
    ids = dict(zip(names, made, strict=True))
    tokens = {
        name: issue_token(
            jwt, Role.RECYCLER if kinds[name] == "RECYCLER" else Role.ENTERPRISE, ids[name]
        )
        for name in names
    }

    # Sites, added by the admin: an enterprise adds its own only in its registered district,
    # and the generator spreads one enterprise's sites over several.
    site_of = {item.site_id: item for item in listings}

    async def site(item: OfferSlot | DemandSlot) -> str:
        return await _mutation(
            admin,
            "addSite",
            enterpriseId=ids[item.enterprise_id],
            name=item.site_id,
            district=item.district,
            latitude=f"{item.point.lat:.5f}",
            longitude=f"{item.point.lon:.5f}",
        )

    site_ids = dict(
        zip(
            site_of,
            await asyncio.gather(*(limited(site(item)) for item in site_of.values())),
            strict=True,
        )
    )

    async def licence(view: LicenceView) -> str:
        return await _mutation(
            admin,
            "registerLicence",
            enterpriseId=ids[view.enterprise_id],
            number=view.licence_id,
            wasteCodes=sorted(view.waste_codes),
            annualCapacityTonnes=str(view.annual_capacity_tonnes),
            validFrom=LICENCE_VALIDITY[0],
            validUntil=LICENCE_VALIDITY[1],
            type=view.licence_type.value,
        )

    async def demand(slot: DemandSlot) -> str:
        return await _mutation(
            gateway.as_(tokens[slot.enterprise_id]),
            "postDemand",
            siteId=site_ids[slot.site_id],
            wasteCodes=sorted(slot.waste_codes),
            quantityTonnes=str(slot.remaining_tonnes),
            maxDistanceKm=str(slot.max_distance_km),
            availableFrom=DEMAND_WINDOW[0],
            availableUntil=DEMAND_WINDOW[1],
        )

    # Licences before demands: a demand is checked against its enterprise's licences.
    await asyncio.gather(*(limited(licence(view)) for view in licences))
    await asyncio.gather(*(limited(demand(slot)) for slot in demands))
    city_lots = tuple(
        Lot(
            ids[o.enterprise_id],
            site_ids[o.site_id],
            o.waste_code,
            str(o.remaining_tonnes),
            tokens[o.enterprise_id],
        )
        for o in offers
    )
    return City(
        city_lots,
        {
            "lots": len(city_lots),
            "factories": len({o.enterprise_id for o in offers}),
            "factory_sites": len({o.site_id for o in offers}),
            "recycler_sites": len(demands),
            "recyclers": len({d.enterprise_id for d in demands}),
            "licences": len(licences),
            "codes": len({o.waste_code for o in offers}),
        },
    )


#: The set-up's mutations: input type and the field of what each makes.
MUTATIONS: Final = {
    "registerEnterprise": ("RegisterEnterpriseInput", "enterprise"),
    "addSite": ("AddSiteInput", "site"),
    "registerLicence": ("RegisterLicenceInput", "licence"),
    "postDemand": ("PostDemandInput", "demand"),
}


async def _mutation(client: GraphQLClient, field: str, **given: Any) -> str:
    """Run one of `MUTATIONS` with `given` as its input: the id of what it made."""
    input_type, made = MUTATIONS[field]
    query = (
        f"mutation($i: {input_type}!) {{ {field}(input: $i) "
        f"{{ {made} {{ id }} userErrors {{ field message code }} }} }}"
    )
    result = (await client.data(query, i=given))[field]
    if result["userErrors"]:
        raise RuntimeError(f"{field}: {result['userErrors']}")
    return str(result[made]["id"])
