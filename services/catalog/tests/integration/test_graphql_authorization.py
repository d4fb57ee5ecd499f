"""Who sees what (contract.md): every catalog operation against every kind of caller.

A steel works in 青山区 offers slag; a cement plant in 江夏区, licensed for it, demands it.
Callers: no token, the admin, each tenant, a regulator of each district and one of all ('*').
Outcomes: `ok`; `public` (another tenant's open listing without its private fields: no site,
no enterprise, the district only); `NA` (NOT_AUTHORIZED — never a partial answer).
"""

from __future__ import annotations

from typing import Any

import pytest

from wastex_catalog.testing import (
    ADD_SITE,
    ADMIN,
    AMEND_DEMAND,
    AMEND_OFFER,
    POST_DEMAND,
    POST_OFFER,
    REGISTER_ENTERPRISE,
    REGISTER_LICENCE,
    WINDOW,
    WITHDRAW_DEMAND,
    WITHDRAW_OFFER,
    Api,
    World,
    build_world,
    token,
    unique_credit_code,
)
from wastex_shared.auth import Role

CALLERS = (
    "anonymous",
    "admin",
    "steel",
    "cement",
    "regulator-青山区",
    "regulator-江夏区",
    "regulator-*",
)


def bearer(world: World, caller: str) -> str | None:
    if caller == "anonymous":
        return None
    if caller == "admin":
        return ADMIN
    if caller == "steel":
        return token(Role.ENTERPRISE, world.steel)
    if caller == "cement":
        return token(Role.RECYCLER, world.cement)
    return token(Role.REGULATOR, district=caller.removeprefix("regulator-"))


def read_outcome(body: dict[str, Any], field: str) -> str:
    if body.get("errors"):
        codes = {e.get("extensions", {}).get("code") for e in body["errors"]}
        return "NA" if codes == {"NOT_AUTHORIZED"} else f"error {codes}"
    value = body["data"][field]
    if value is None:
        return "null"
    if isinstance(value, dict) and "site" in value and value["site"] is None:
        return "public"
    return "ok"


def write_outcome(body: dict[str, Any], field: str) -> str:
    if body.get("errors"):
        codes = {e.get("extensions", {}).get("code") for e in body["errors"]}
        return "NA" if codes == {"NOT_AUTHORIZED"} else f"error {codes}"
    errors = body["data"][field]["userErrors"]
    if not errors:
        return "ok"
    codes = {e["code"] for e in errors}
    return "NA" if codes == {"NOT_AUTHORIZED"} else f"userErrors {codes}"


async def outcomes(
    api: Api, world: World, query: str, field: str, *, write: bool = False, **variables: Any
) -> dict[str, str]:
    found = {}
    for caller in CALLERS:
        body = await api.as_(bearer(world, caller)).execute(query, **variables)
        found[caller] = (write_outcome if write else read_outcome)(body, field)
    return found


def expect(**overrides: str) -> dict[str, str]:
    """NOT_AUTHORIZED for every caller unless named (`regulator_x` stands for regulator-x)."""
    named = {
        k.replace("regulator_", "regulator-").replace("all", "*"): v for k, v in overrides.items()
    }
    return {caller: named.get(caller, "NA") for caller in CALLERS}


@pytest.fixture
async def world(api: Api) -> World:
    return await build_world(api)


# --- reads ------------------------------------------------------------------------------

ENTERPRISE = "query($id: ID!) { enterprise(id: $id) { id name sites { id } licences { id } } }"
SITE = "query($id: ID!) { site(id: $id) { id name latitude longitude } }"
LICENCES = "query($id: ID!) { licences(enterpriseId: $id) { id number } }"
OFFER = "query($id: ID!) { offer(id: $id) { id district status site { id name } } }"
DEMAND = "query($id: ID!) { demand(id: $id) { id district status site { id name } } }"
OFFERS = """
query($filter: OfferFilter) {
  offers(filter: $filter, first: 50) {
    totalCount edges { node { id district site { id } } }
  }
}"""


async def test_an_enterprise_is_read_by_itself_the_admin_and_its_districts_regulators(
    api: Api, world: World
) -> None:
    found = await outcomes(api, world, ENTERPRISE, "enterprise", id=world.steel)
    assert found == expect(admin="ok", steel="ok", regulator_青山区="ok", regulator_all="ok")


async def test_a_site_is_read_by_its_enterprise_the_admin_and_its_districts_regulators(
    api: Api, world: World
) -> None:
    found = await outcomes(api, world, SITE, "site", id=world.cement_site)
    assert found == expect(admin="ok", cement="ok", regulator_江夏区="ok", regulator_all="ok")


async def test_licences_are_read_by_their_enterprise_the_admin_and_its_regulators(
    api: Api, world: World
) -> None:
    found = await outcomes(api, world, LICENCES, "licences", id=world.cement)
    assert found == expect(admin="ok", cement="ok", regulator_江夏区="ok", regulator_all="ok")


async def test_an_open_offer_is_public_to_other_tenants_without_its_site(
    api: Api, world: World
) -> None:
    found = await outcomes(api, world, OFFER, "offer", id=world.offer)
    assert found == expect(
        admin="ok", steel="ok", cement="public", regulator_青山区="ok", regulator_all="ok"
    )


async def test_an_open_demand_is_public_to_other_tenants_without_its_site(
    api: Api, world: World
) -> None:
    found = await outcomes(api, world, DEMAND, "demand", id=world.demand)
    assert found == expect(
        admin="ok", cement="ok", steel="public", regulator_江夏区="ok", regulator_all="ok"
    )


async def test_a_withdrawn_offer_is_no_longer_visible_to_other_tenants(
    api: Api, world: World
) -> None:
    await api.tenant(world.steel).mutate(WITHDRAW_OFFER, "withdrawOffer", id=world.offer)
    found = await outcomes(api, world, OFFER, "offer", id=world.offer)
    assert found == expect(admin="ok", steel="ok", regulator_青山区="ok", regulator_all="ok")


async def test_offer_lists_hold_only_what_the_caller_may_see(api: Api, world: World) -> None:
    withdrawn = await api.post_offer(world.steel, world.steel_site, code="SW02")
    await api.tenant(world.steel).mutate(WITHDRAW_OFFER, "withdrawOffer", id=withdrawn)

    async def visible(caller: str) -> dict[str, bool]:
        page = (await api.as_(bearer(world, caller)).data(OFFERS))["offers"]
        assert page["totalCount"] == len(page["edges"])
        return {edge["node"]["id"]: edge["node"]["site"] is not None for edge in page["edges"]}

    full = {world.offer: True, withdrawn: True}
    assert await visible("admin") == full
    assert await visible("steel") == full
    assert await visible("regulator-青山区") == full
    assert await visible("regulator-*") == full
    assert await visible("cement") == {world.offer: False}  # open only, site hidden
    assert await visible("regulator-江夏区") == {}
    body = await api.as_(None).execute(OFFERS)
    assert read_outcome(body, "offers") == "NA"


async def test_a_tenant_cannot_list_another_enterprises_offers_by_filter(
    api: Api, world: World
) -> None:
    cement = api.as_(bearer(world, "cement"))
    body = await cement.execute(OFFERS, filter={"enterpriseId": world.steel})
    assert read_outcome(body, "offers") == "NA"  # it would tie the listings to that enterprise
    own = await cement.execute(OFFERS, filter={"enterpriseId": world.cement})
    assert read_outcome(own, "offers") == "ok"


async def test_no_token_lists_nothing_whatever_its_filter_says(api: Api, world: World) -> None:
    """Without a token every list is NOT_AUTHORIZED, before its filter is judged: a filter's
    district is looked up in the records, which tells whether any is stored under a name."""
    lists = {
        "offers": OFFERS,
        "demands": "query($filter: DemandFilter) { demands(filter: $filter) { totalCount } }",
        "enterprises": "query($filter: EnterpriseFilter) { enterprises(filter: $filter) "
        "{ totalCount } }",
        "licenceRegister": "query($filter: LicenceRegisterFilter) { licenceRegister(filter: "
        "$filter) { totalCount } }",
    }
    odd: list[dict[str, str]] = [{"district": "青山"}, {"district": "no such district"}]
    for name, query in lists.items():
        wanted = [*odd, {"wasteCode": "SW1"}] if name != "enterprises" else odd
        for filter_ in wanted:
            body = await api.as_(None).execute(query, filter=filter_)
            assert read_outcome(body, name) == "NA", (name, filter_, body)


async def test_waste_codes_need_no_token(api: Api, world: World) -> None:
    query = 'query { wasteCodes(search: "HW08") { code } }'
    found = await outcomes(api, world, query, "wasteCodes")
    assert set(found.values()) == {"ok"}


# --- writes -----------------------------------------------------------------------------


async def test_only_the_admin_registers_enterprises(api: Api, world: World) -> None:
    found = {}
    for caller in CALLERS:
        body = await api.as_(bearer(world, caller)).execute(
            REGISTER_ENTERPRISE,
            input={
                "name": f"New {caller}",
                "creditCode": unique_credit_code(),
                "industry": "C3011",
                "district": "青山区",
                "kind": "RECYCLER",
            },
        )
        found[caller] = write_outcome(body, "registerEnterprise")
    assert found == expect(admin="ok")


async def test_only_the_admin_registers_licences(api: Api, world: World) -> None:
    found = {}
    for caller in CALLERS:
        body = await api.as_(bearer(world, caller)).execute(
            REGISTER_LICENCE,
            input={
                "enterpriseId": world.cement,
                "number": f"LIC-{caller}",
                "wasteCodes": ["SW03"],
                "annualCapacityTonnes": "100",
                "validFrom": "2026-01-01",
                "validUntil": "2027-12-31",
            },
        )
        found[caller] = write_outcome(body, "registerLicence")
    assert found == expect(admin="ok")


async def test_sites_are_added_by_the_enterprise_itself_or_the_admin(
    api: Api, world: World
) -> None:
    found = {}
    for caller in CALLERS:
        body = await api.as_(bearer(world, caller)).execute(
            ADD_SITE,
            input={
                "enterpriseId": world.steel,
                "name": f"yard of {caller}",
                "district": "青山区",
                "latitude": "30.6300",
                "longitude": "114.4000",
            },
        )
        found[caller] = write_outcome(body, "addSite")
    assert found == expect(admin="ok", steel="ok")


async def test_offers_are_posted_only_by_the_sites_enterprise(api: Api, world: World) -> None:
    found = {}
    for caller in CALLERS:
        body = await api.as_(bearer(world, caller)).execute(
            POST_OFFER,
            input={
                "siteId": world.steel_site,
                "wasteCode": "SW01",
                "quantityTonnes": "5",
                "description": caller,
                **WINDOW,
            },
        )
        found[caller] = write_outcome(body, "postOffer")
    assert found == expect(steel="ok")


async def test_demands_are_posted_only_by_the_sites_enterprise(api: Api, world: World) -> None:
    found = {}
    for caller in CALLERS:
        body = await api.as_(bearer(world, caller)).execute(
            POST_DEMAND,
            input={
                "siteId": world.cement_site,
                "wasteCodes": ["SW01"],
                "quantityTonnes": "5",
                "maxDistanceKm": "30",
                **WINDOW,
            },
        )
        found[caller] = write_outcome(body, "postDemand")
    assert found == expect(cement="ok")


async def test_offers_and_demands_are_withdrawn_only_by_their_owner(api: Api, world: World) -> None:
    others = [c for c in CALLERS if c not in ("steel", "cement")]
    for caller in [*others, "cement"]:
        body = await api.as_(bearer(world, caller)).execute(WITHDRAW_OFFER, id=world.offer)
        assert write_outcome(body, "withdrawOffer") == "NA", caller
    for caller in [*others, "steel"]:
        body = await api.as_(bearer(world, caller)).execute(WITHDRAW_DEMAND, id=world.demand)
        assert write_outcome(body, "withdrawDemand") == "NA", caller
    steel = await api.as_(bearer(world, "steel")).execute(WITHDRAW_OFFER, id=world.offer)
    assert write_outcome(steel, "withdrawOffer") == "ok"
    cement = await api.as_(bearer(world, "cement")).execute(WITHDRAW_DEMAND, id=world.demand)
    assert write_outcome(cement, "withdrawDemand") == "ok"


async def test_another_enterprises_listing_is_refused_naming_the_id(api: Api, world: World) -> None:
    """The refusal names the argument at fault, as amendSite's and postOffer's do."""
    steel, cement = api.tenant(world.steel), api.tenant(world.cement)
    less = {"quantityTonnes": "1"}
    attempts: list[tuple[Api, str, str, dict[str, Any]]] = [
        (cement, WITHDRAW_OFFER, "withdrawOffer", {"id": world.offer}),
        (cement, AMEND_OFFER, "amendOffer", {"id": world.offer, "input": less}),
        (steel, WITHDRAW_DEMAND, "withdrawDemand", {"id": world.demand}),
        (steel, AMEND_DEMAND, "amendDemand", {"id": world.demand, "input": less}),
    ]
    for caller, mutation, name, variables in attempts:
        errors = await caller.user_errors(mutation, name, **variables)
        assert [(e["code"], e["field"]) for e in errors] == [("NOT_AUTHORIZED", "id")], name


async def test_a_forged_token_is_unauthenticated_not_anonymous(api: Api, world: World) -> None:
    body = await api.as_("not-a-jwt").execute(ENTERPRISE, id=world.steel)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
