"""The catalog subgraph over HTTP (in-process ASGI), on SQLite and PostgreSQL: mutations and
their typed userErrors, reads, filters, Relay pagination, federation and the outbox."""

from __future__ import annotations

import base64
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from wastex_catalog.expiry import expire_due
from wastex_catalog.testing import (
    ADD_SITE,
    ADMIN,
    AMEND_LICENCE,
    DATES,
    DEMAND,
    OFFER,
    POST_DEMAND,
    POST_OFFER,
    REGISTER_ENTERPRISE,
    REGISTER_LICENCE,
    REVOKE_LICENCE,
    VALID_FROM,
    WINDOW,
    WITHDRAW_DEMAND,
    WITHDRAW_OFFER,
    Api,
    build_world,
    outbox_events,
    token,
    unique_credit_code,
)
from wastex_shared.auth import Role
from wastex_shared.calendar import china_today
from wastex_shared.storage import UnitOfWorkFactory

ENTERPRISE = """
query($id: ID!) {
  enterprise(id: $id) {
    id name creditCode industry district kind
    sites { id name district latitude longitude }
    licences { id number type annualCapacityTonnes validFrom validUntil }
  }
}"""
OFFERS = """
query($filter: OfferFilter, $first: Int, $after: String) {
  offers(filter: $filter, first: $first, after: $after) {
    totalCount
    edges { cursor node { id wasteCode status quantityTonnes district } }
    pageInfo { hasNextPage endCursor }
  }
}"""
DEMANDS = """
query($filter: DemandFilter, $first: Int, $after: String) {
  demands(filter: $filter, first: $first, after: $after) {
    totalCount
    edges { node { id wasteCodes status } }
    pageInfo { hasNextPage endCursor }
  }
}"""
ENTERPRISES = """
query($first: Int, $after: String) {
  enterprises(first: $first, after: $after) {
    totalCount edges { node { id name } } pageInfo { hasNextPage endCursor }
  }
}"""


def enterprise_input(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "Hanyang Foundry",
        "creditCode": unique_credit_code(),
        "industry": "C3391",
        "district": "汉阳区",
        "kind": "FACTORY",
        **overrides,
    }


def offer_input(site_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "siteId": site_id,
        "wasteCode": "SW01",
        "quantityTonnes": "120.500",
        "description": "BOF steel slag",
        **WINDOW,
        **overrides,
    }


# --- enterprises, sites, licences -------------------------------------------------------


async def test_admin_registers_an_enterprise_that_reads_back_with_its_sites_and_licences(
    api: Api,
) -> None:
    code = unique_credit_code()
    payload = await api.as_(ADMIN).mutate(
        REGISTER_ENTERPRISE,
        "registerEnterprise",
        input=enterprise_input(creditCode=code.lower(), kind="RECYCLER"),
    )
    enterprise = payload["enterprise"]
    assert enterprise["creditCode"] == code  # normalised to capitals
    assert (enterprise["industry"], enterprise["kind"]) == ("C3391", "RECYCLER")
    site = await api.add_site(enterprise["id"], "汉阳区", "30.5500", "114.2200")
    licence = await api.register_licence(enterprise["id"], ["SW01"])

    read = (await api.as_(ADMIN).data(ENTERPRISE, id=enterprise["id"]))["enterprise"]
    assert read["name"] == "Hanyang Foundry"
    assert [s["id"] for s in read["sites"]] == [site]
    assert Decimal(read["sites"][0]["latitude"]) == Decimal("30.55")
    assert [(lic["id"], lic["type"]) for lic in read["licences"]] == [
        (licence, "GENERAL_UTILISATION")
    ]
    assert read["licences"][0]["annualCapacityTonnes"] == "50000.000"


async def test_a_credit_code_with_a_wrong_check_character_is_refused_naming_the_field(
    api: Api,
) -> None:
    good = unique_credit_code()
    wrong = good[:-1] + ("0" if good[-1] != "0" else "1")
    errors = await api.as_(ADMIN).user_errors(
        REGISTER_ENTERPRISE, "registerEnterprise", input=enterprise_input(creditCode=wrong)
    )
    assert [(e["code"], e["field"]) for e in errors] == [("INVALID_CREDIT_CODE", "creditCode")]


async def test_a_credit_code_is_registered_only_once(api: Api) -> None:
    code = unique_credit_code()
    admin = api.as_(ADMIN)
    await admin.mutate(
        REGISTER_ENTERPRISE, "registerEnterprise", input=enterprise_input(creditCode=code)
    )
    errors = await admin.user_errors(
        REGISTER_ENTERPRISE, "registerEnterprise", input=enterprise_input(creditCode=code)
    )
    assert [(e["code"], e["field"]) for e in errors] == [("DUPLICATE_CREDIT_CODE", "creditCode")]


async def test_an_industry_code_outside_gb_t_4754_is_refused(api: Api) -> None:
    for industry in ("C99", "C３１２０"):  # full-width digits, as a Chinese IME types them
        errors = await api.as_(ADMIN).user_errors(
            REGISTER_ENTERPRISE, "registerEnterprise", input=enterprise_input(industry=industry)
        )
        assert [(e["code"], e["field"]) for e in errors] == [
            ("INVALID_INDUSTRY_CODE", "industry")
        ], industry


async def test_a_licence_without_a_type_is_a_general_utilisation_licence(api: Api) -> None:
    enterprise = await api.register_enterprise("Xinzhou Cement", "RECYCLER", "新洲区")
    payload = await api.as_(ADMIN).mutate(
        REGISTER_LICENCE,
        "registerLicence",
        input={
            "enterpriseId": enterprise,
            "number": "鄂固利 2026-001",
            "wasteCodes": ["sw01", "SW02"],
            "annualCapacityTonnes": "50000",
            "validFrom": "2026-01-01",
            "validUntil": "2027-12-31",
        },
    )
    licence = payload["licence"]
    assert licence["type"] == "GENERAL_UTILISATION"
    assert licence["wasteCodes"] == ["SW01", "SW02"]
    assert (licence["validFrom"], licence["validUntil"]) == ("2026-01-01", "2027-12-31")


async def test_a_general_utilisation_licence_cannot_list_hazardous_codes(api: Api) -> None:
    enterprise = await api.register_enterprise("Xinzhou Cement", "RECYCLER", "新洲区")
    errors = await api.as_(ADMIN).user_errors(
        REGISTER_LICENCE,
        "registerLicence",
        input={
            "enterpriseId": enterprise,
            "number": "L-1",
            "wasteCodes": ["SW01", "HW08"],
            "annualCapacityTonnes": "100",
            "validFrom": "2026-01-01",
            "validUntil": "2027-12-31",
            "type": "GENERAL_UTILISATION",
        },
    )
    assert errors[0]["code"] == "HAZARDOUS_NEEDS_OPERATING_LICENCE"


async def test_a_licence_number_is_registered_only_once(api: Api) -> None:
    enterprise = await api.register_enterprise("Xinzhou Cement", "RECYCLER", "新洲区")
    licence = {
        "enterpriseId": enterprise,
        "number": "鄂危废经 2026-017",
        "wasteCodes": ["HW08"],
        "annualCapacityTonnes": "8000",
        "validFrom": "2026-01-01",
        "validUntil": "2028-12-31",
        "type": "HAZARDOUS_WASTE_OPERATING",
    }
    admin = api.as_(ADMIN)
    await admin.mutate(REGISTER_LICENCE, "registerLicence", input=licence)
    errors = await admin.user_errors(REGISTER_LICENCE, "registerLicence", input=licence)
    assert errors[0]["code"] == "DUPLICATE_LICENCE_NUMBER"
    # Typed again with full-width digits, other spacing and case: the same licence.
    retyped = {**licence, "number": "鄂危废经２０２６ - 017".replace(" - ", "-").upper()}
    errors = await admin.user_errors(REGISTER_LICENCE, "registerLicence", input=retyped)
    assert [(e["code"], e["field"]) for e in errors] == [("DUPLICATE_LICENCE_NUMBER", "number")]
    spaced = {**licence, "number": " 鄂危废经 2026-017"}
    errors = await admin.user_errors(REGISTER_LICENCE, "registerLicence", input=spaced)
    assert [e["code"] for e in errors] == ["DUPLICATE_LICENCE_NUMBER"]


async def test_an_admin_amends_then_revokes_a_licence_and_demands_follow(
    api: Api, uow_factory: UnitOfWorkFactory
) -> None:
    world = await build_world(api)
    admin, cement = api.as_(ADMIN), api.tenant(world.cement)
    change = {"reason": "typo in the tonnage", "annualCapacityTonnes": "60000"}
    refused = await cement.user_errors(
        AMEND_LICENCE, "amendLicence", id=world.licence, input=change
    )
    assert refused[0]["code"] == "NOT_AUTHORIZED"
    amended = (await admin.mutate(AMEND_LICENCE, "amendLicence", id=world.licence, input=change))[
        "licence"
    ]
    assert (amended["annualCapacityTonnes"], amended["version"]) == ("60000.000", 2)
    unknown = await admin.user_errors(AMEND_LICENCE, "amendLicence", id="nope", input=change)
    assert unknown[0]["code"] == "NOT_FOUND"

    today = china_today()
    yesterday = (today - timedelta(days=1)).isoformat()
    backdated = await admin.user_errors(
        REVOKE_LICENCE, "revokeLicence", id=world.licence, reason="r", effectiveFrom=yesterday
    )
    assert [(e["code"], e["field"]) for e in backdated] == [("INVALID_DATE", "effectiveFrom")]
    revoked = (
        await admin.mutate(
            REVOKE_LICENCE, "revokeLicence", id=world.licence, reason="吊销 by the ecology bureau"
        )
    )["licence"]
    assert (revoked["revokedOn"], revoked["lastValidDay"], revoked["version"]) == (
        today.isoformat(),
        yesterday,
        3,
    )
    again = await admin.user_errors(AMEND_LICENCE, "amendLicence", id=world.licence, input=change)
    assert again[0]["code"] == "LICENCE_REVOKED"
    demand = {
        "siteId": world.cement_site,
        "wasteCodes": ["SW01"],
        "quantityTonnes": "10",
        "maxDistanceKm": "50",
        **WINDOW,
    }
    errors = await cement.user_errors(POST_DEMAND, "postDemand", input=demand)
    assert errors[0]["code"] == "LICENCE_REVOKED"

    amendments = [
        envelope.data
        for topic, key, envelope in await outbox_events(uow_factory)
        if topic == "catalog.licence-amended.v1" and key == world.licence
    ]
    assert [(a["version"], a["reason"], a["revokedOn"]) for a in amendments] == [
        (2, "typo in the tonnage", None),
        (3, "吊销 by the ecology bureau", today.isoformat()),
    ]


LICENCE_HISTORY = """
query($id: ID!) {
  licences(enterpriseId: $id) {
    id
    history {
      version change reason changedBy annualCapacityTonnes revokedOn lastValidDay changedAt
    }
  }
}"""


async def test_a_licence_keeps_every_version_with_why_and_by_whom(api: Api) -> None:
    world = await build_world(api)
    officer = api.as_(token(Role.ADMIN, subject="王科长"))
    change = {"reason": "typo in the tonnage", "annualCapacityTonnes": "60000"}
    await officer.mutate(AMEND_LICENCE, "amendLicence", id=world.licence, input=change)
    refused = {"reason": "no change", "annualCapacityTonnes": "60000"}
    assert (
        await officer.user_errors(AMEND_LICENCE, "amendLicence", id=world.licence, input=refused)
    )[0]["code"] == "NOTHING_TO_AMEND"  # a refused change leaves no version
    await officer.mutate(REVOKE_LICENCE, "revokeLicence", id=world.licence, reason=" 吊销 ")

    today = china_today()
    readers = [api.tenant(world.cement), api.as_(token(Role.REGULATOR, district="*"))]
    for reader in readers:
        licences = (await reader.data(LICENCE_HISTORY, id=world.cement))["licences"]
        (history,) = [lic["history"] for lic in licences if lic["id"] == world.licence]
        assert [
            (v["version"], v["change"], v["reason"], v["changedBy"], v["annualCapacityTonnes"])
            for v in history
        ] == [
            (1, "REGISTERED", None, "admin:all", "50000.000"),
            (2, "AMENDED", "typo in the tonnage", "王科长", "60000.000"),
            (3, "REVOKED", "吊销", "王科长", "60000.000"),
        ]
        assert [v["revokedOn"] for v in history] == [None, None, today.isoformat()]
        assert history[2]["lastValidDay"] == (today - timedelta(days=1)).isoformat()
        assert history[0]["changedAt"] <= history[1]["changedAt"] <= history[2]["changedAt"]
    # Another tenant may not read the cement plant's licences, so nor their history.
    outsider = api.tenant(world.steel)
    assert await outsider.error_code(LICENCE_HISTORY, id=world.cement) == "NOT_AUTHORIZED"


# --- offers and demands ---------------------------------------------------------------


async def test_a_posted_offer_is_open_with_its_tonnes_to_the_kilogram(api: Api) -> None:
    world = await build_world(api)
    offer = (await api.tenant(world.steel).data(OFFER, id=world.offer))["offer"]
    assert offer["status"] == "OPEN"
    assert offer["quantityTonnes"] == "120.500"
    assert offer["remainingTonnes"] == "120.500"
    assert offer["district"] == "青山区"
    assert offer["site"]["id"] == world.steel_site


async def test_hazardous_is_derived_from_the_waste_code_not_declared(api: Api) -> None:
    world = await build_world(api)
    payload = await api.tenant(world.steel).mutate(
        POST_OFFER, "postOffer", input=offer_input(world.steel_site, wasteCode="HW08")
    )
    assert payload["offer"]["hazardous"] is True
    assert payload["offer"]["wasteCode"] == "HW08"


async def test_a_hazardous_wastes_own_code_is_listed_under_its_category(api: Api) -> None:
    # A factory's system writes the 名录's code, as on its manifests: 900-249-08 is HW08.
    world = await build_world(api)
    payload = await api.tenant(world.steel).mutate(
        POST_OFFER, "postOffer", input=offer_input(world.steel_site, wasteCode="900-249-08")
    )
    assert (payload["offer"]["wasteCode"], payload["offer"]["hazardous"]) == ("HW08", True)


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"wasteCode": "HW41"}, "ABOLISHED_WASTE_CODE", "wasteCode"),
        ({"wasteCode": "XX99"}, "UNKNOWN_WASTE_CODE", "wasteCode"),
        ({"quantityTonnes": "-3"}, "INVALID_QUANTITY", "quantityTonnes"),
        ({"quantityTonnes": "0"}, "INVALID_QUANTITY", "quantityTonnes"),
        ({"quantityTonnes": "1.0005"}, "INVALID_QUANTITY", "quantityTonnes"),
        ({"availableFrom": "2027-02-01", "availableUntil": "2027-01-01"}, "INVALID_WINDOW", None),
        ({"availableFrom": "2020-01-01", "availableUntil": "2020-02-01"}, "INVALID_WINDOW", None),
    ],
    ids=["abolished", "unknown", "negative", "zero", "sub-kilogram", "reversed", "past"],
)
async def test_an_offer_breaking_a_rule_is_answered_with_a_typed_user_error(
    api: Api, overrides: dict[str, Any], code: str, field: str | None
) -> None:
    world = await build_world(api)
    payload = (
        await api.tenant(world.steel).data(
            POST_OFFER, input=offer_input(world.steel_site, **overrides)
        )
    )["postOffer"]
    assert payload["offer"] is None
    assert payload["userErrors"][0]["code"] == code
    if field is not None:
        assert payload["userErrors"][0]["field"] == field


async def test_an_offer_at_an_unknown_site_is_not_found(api: Api) -> None:
    world = await build_world(api)
    errors = await api.tenant(world.steel).user_errors(
        POST_OFFER, "postOffer", input=offer_input("no-such-site")
    )
    assert errors[0]["code"] in {"NOT_FOUND", "NOT_AUTHORIZED"}


async def test_a_demand_for_a_code_no_licence_lists_is_refused(api: Api) -> None:
    world = await build_world(api)
    errors = await api.tenant(world.cement).user_errors(
        POST_DEMAND,
        "postDemand",
        input={
            "siteId": world.cement_site,
            "wasteCodes": ["SW01", "SW03"],
            "quantityTonnes": "10",
            "maxDistanceKm": "50",
            **WINDOW,
        },
    )
    assert [(e["code"], e["field"]) for e in errors] == [
        ("LICENCE_NOT_COVERING_CODE", "wasteCodes")
    ]


async def test_a_demand_outlasting_its_licence_is_posted_and_one_starting_past_it_refused(
    api: Api,
) -> None:
    """Its first day covered, a demand may run past its licence (decision 034, later): it is
    OPEN and keeps the last day the licence covers it, and the days it then waits for a
    renewal. One whose first day no licence covers is refused as before."""
    world = await build_world(api)
    recycler = await api.register_enterprise("Caidian Recycling", "RECYCLER", "蔡甸区")
    site = await api.add_site(recycler, "蔡甸区", "30.5800", "114.0300")
    licensed_until = DATES.window(2)[1]  # the second of WINDOW's seven months
    await api.register_licence(recycler, ["SW02"], VALID_FROM, licensed_until)
    caidian = api.tenant(recycler)
    ask = {"siteId": site, "wasteCodes": ["SW02"], "quantityTonnes": "10", "maxDistanceKm": "50"}
    posted = (await caidian.mutate(POST_DEMAND, "postDemand", input={**ask, **WINDOW}))["demand"]
    assert posted["status"] == "OPEN"
    found = (await caidian.data(DEMAND_LICENSING, id=posted["id"]))["demand"]
    assert found == {"status": "OPEN", "licensedUntil": licensed_until}
    after = (date.fromisoformat(licensed_until) + timedelta(days=1)).isoformat()
    late = {"availableFrom": after, "availableUntil": WINDOW["availableUntil"]}
    errors = await caidian.user_errors(POST_DEMAND, "postDemand", input={**ask, **late})
    assert [(e["code"], e["field"]) for e in errors] == [("LICENCE_EXPIRED", "wasteCodes")]
    assert errors[0]["message"].startswith(f"no licence covers SW02 on {after}")
    assert world.demand  # the licensed cement plant's demand was accepted meanwhile


async def test_a_demand_reads_back_with_its_codes_and_distance(api: Api) -> None:
    world = await build_world(api)
    demand = (await api.tenant(world.cement).data(DEMAND, id=world.demand))["demand"]
    assert demand["status"] == "OPEN"
    assert demand["wasteCodes"] == ["SW01"]
    assert demand["quantityTonnes"] == "500.000"
    assert demand["site"]["id"] == world.cement_site


async def test_the_owner_withdraws_an_offer_and_cannot_withdraw_it_twice(api: Api) -> None:
    world = await build_world(api)
    steel = api.tenant(world.steel)
    payload = await steel.mutate(WITHDRAW_OFFER, "withdrawOffer", id=world.offer)
    assert payload["offer"]["status"] == "WITHDRAWN"
    again = await steel.user_errors(WITHDRAW_OFFER, "withdrawOffer", id=world.offer)
    # The field names the argument at fault, as amendOffer's refusal of a withdrawn offer
    # does (a listing's status is no input of the mutation).
    assert [(e["code"], e["field"]) for e in again] == [("INVALID_TRANSITION", "id")]


async def test_the_owner_withdraws_a_demand(api: Api) -> None:
    world = await build_world(api)
    payload = await api.tenant(world.cement).mutate(
        WITHDRAW_DEMAND, "withdrawDemand", id=world.demand
    )
    assert payload["demand"]["status"] == "WITHDRAWN"


async def test_every_change_leaves_through_the_outbox_keyed_by_its_aggregate(
    api: Api, uow_factory: UnitOfWorkFactory
) -> None:
    world = await build_world(api)
    await api.tenant(world.steel).mutate(WITHDRAW_OFFER, "withdrawOffer", id=world.offer)
    await api.tenant(world.cement).mutate(WITHDRAW_DEMAND, "withdrawDemand", id=world.demand)
    events = await outbox_events(uow_factory)
    assert [(topic, key) for topic, key, _ in events] == [
        ("catalog.enterprise-registered.v1", world.steel),
        ("catalog.enterprise-registered.v1", world.cement),
        ("catalog.site-added.v1", world.steel_site),
        ("catalog.site-added.v1", world.cement_site),
        ("catalog.licence-registered.v1", world.licence),
        ("catalog.offer-posted.v1", world.offer),
        ("catalog.demand-posted.v1", world.demand),
        ("catalog.offer-withdrawn.v1", world.offer),
        ("catalog.demand-withdrawn.v1", world.demand),
    ]
    by_topic = {topic: envelope for topic, _, envelope in events}
    for topic, _, envelope in events:
        assert envelope.type == topic.removesuffix(".v1")
        assert envelope.source == "catalog"
    site_added = by_topic["catalog.site-added.v1"].data
    assert site_added["industry"] == "C3120"  # the enterprise's industry (ledger projections)
    assert site_added["district"] == "江夏区"
    offer_posted = by_topic["catalog.offer-posted.v1"].data
    assert offer_posted["quantityTonnes"] == "120.500"
    assert offer_posted["district"] == "青山区"
    assert offer_posted["hazardous"] is False
    # Every offer fact carries the code: recyclers are told of offers by code (offerClosed).
    assert by_topic["catalog.offer-withdrawn.v1"].data["wasteCode"] == offer_posted["wasteCode"]


# --- lists ----------------------------------------------------------------------------


async def test_offers_page_through_a_stable_newest_first_order(api: Api) -> None:
    world = await build_world(api)
    for i in range(24):
        await api.post_offer(world.steel, world.steel_site, tonnes=f"{i + 1}.000")
    steel = api.tenant(world.steel)
    seen: list[str] = []
    after: str | None = None
    pages = 0
    while True:
        page = (await steel.data(OFFERS, first=10, after=after))["offers"]
        assert page["totalCount"] == 25
        seen.extend(edge["node"]["id"] for edge in page["edges"])
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]
    assert pages == 3
    assert len(seen) == len(set(seen)) == 25
    assert seen[-1] == world.offer  # newest first: the world's offer came before the 24


async def test_a_page_larger_than_100_is_refused(api: Api) -> None:
    world = await build_world(api)
    assert await api.tenant(world.steel).error_code(OFFERS, first=101) == "INVALID_PAGE_SIZE"


async def test_a_cursor_the_api_did_not_give_out_is_refused(api: Api) -> None:
    world = await build_world(api)
    forged = [
        "bm90LWEtY3Vyc29y",
        # Stamps at the ends of the calendar overflow when moved to UTC; a naive one.
        base64.urlsafe_b64encode(b"0001-01-01T00:00:00+01:00|x").decode(),
        base64.urlsafe_b64encode(b"9999-12-31T23:59:59-01:00|x").decode(),
        base64.urlsafe_b64encode(b"2026-01-01T00:00:00|x").decode(),
    ]
    for cursor in forged:
        code = await api.tenant(world.steel).error_code(OFFERS, first=5, after=cursor)
        assert code == "INVALID_CURSOR", cursor


async def test_offers_filter_by_enterprise_code_status_and_district(api: Api) -> None:
    world = await build_world(api)
    hw = (
        await api.tenant(world.steel).mutate(
            POST_OFFER, "postOffer", input=offer_input(world.steel_site, wasteCode="HW08")
        )
    )["offer"]["id"]
    withdrawn = await api.post_offer(world.steel, world.steel_site, code="SW02")
    await api.tenant(world.steel).mutate(WITHDRAW_OFFER, "withdrawOffer", id=withdrawn)
    admin = api.as_(ADMIN)

    async def ids(**wanted: Any) -> set[str]:
        page = (await admin.data(OFFERS, filter=wanted, first=50))["offers"]
        return {edge["node"]["id"] for edge in page["edges"]}

    assert await ids(enterpriseId=world.steel) == {world.offer, hw, withdrawn}
    assert await ids(wasteCode="hw08") == {hw}
    assert await ids(wasteCode="900-249-08") == {hw}  # a waste's own code: its category
    assert await ids(status="WITHDRAWN") == {withdrawn}
    assert await ids(district="青山区", status="OPEN") == {world.offer, hw}
    assert await ids(district="江夏区") == set()


async def test_demands_filter_by_an_accepted_code(api: Api) -> None:
    world = await build_world(api)
    other = await api.post_demand(world.cement, world.cement_site, codes=("SW02",))
    admin = api.as_(ADMIN)
    page = (await admin.data(DEMANDS, filter={"wasteCode": "SW02"}))["demands"]
    assert [edge["node"]["id"] for edge in page["edges"]] == [other]
    assert page["totalCount"] == 1


async def test_a_list_filtered_by_a_waste_code_the_catalogue_lacks_is_refused_not_empty(
    api: Api,
) -> None:
    """A typo ("SW1", "HW8") is UNKNOWN_WASTE_CODE, as the ledger's filters answer it, not an
    empty market; a code abolished since still finds the listings and licences holding it."""
    world = await build_world(api)
    tenant = api.tenant(world.steel)
    for query, name in ((OFFERS, "offers"), (DEMANDS, "demands"), (REGISTER, "licenceRegister")):
        for typo in ("SW1", "SW0", "", "ＳＷ０１"):
            body = await tenant.execute(query, filter={"wasteCode": typo})
            assert body["data"][name] is None, (name, typo)
            error = body["errors"][0]["extensions"]
            assert (error["code"], error["field"]) == ("UNKNOWN_WASTE_CODE", "filter.wasteCode")
        found = (await tenant.data(query, filter={"wasteCode": "HW41"}))[name]  # abolished
        assert found["totalCount"] == 0
    page = (await tenant.data(OFFERS, filter={"wasteCode": " sw01 "}))["offers"]
    assert [edge["node"]["id"] for edge in page["edges"]] == [world.offer]


async def test_enterprises_page_for_the_admin(api: Api) -> None:
    for i in range(5):
        await api.register_enterprise(f"Works {i}")
    admin = api.as_(ADMIN)
    first = (await admin.data(ENTERPRISES, first=3))["enterprises"]
    assert first["totalCount"] == 5
    assert first["pageInfo"]["hasNextPage"] is True
    rest = (await admin.data(ENTERPRISES, first=3, after=first["pageInfo"]["endCursor"]))[
        "enterprises"
    ]
    assert rest["pageInfo"]["hasNextPage"] is False
    names = [e["node"]["name"] for e in first["edges"] + rest["edges"]]
    assert sorted(names) == [f"Works {i}" for i in range(5)]


# --- waste codes and federation ---------------------------------------------------------


async def test_waste_codes_are_searchable_without_a_token(api: Api) -> None:
    found = (
        await api.as_(None).data(
            'query { wasteCodes(search: "slag") { code nameZh nameEn hazardous status } }'
        )
    )["wasteCodes"]
    assert found
    assert all("slag" in c["nameEn"].lower() or "slag" in c["code"].lower() for c in found)


async def test_the_subgraph_declares_its_federation_keys(api: Api) -> None:
    sdl = (await api.as_(None).data("query { _service { sdl } }"))["_service"]["sdl"]
    for entity in ("Enterprise", "Site", "Offer", "Demand"):
        assert f'type {entity} @key(fields: "id")' in sdl, entity


async def test_entities_resolve_by_reference_for_the_gateway(api: Api) -> None:
    world = await build_world(api)
    query = """
    query($representations: [_Any!]!) {
      _entities(representations: $representations) {
        ... on Offer { id quantityTonnes }
        ... on Demand { id quantityTonnes }
        ... on Enterprise { id name }
        ... on Site { id district }
      }
    }"""
    representations = [
        {"__typename": "Offer", "id": world.offer},
        {"__typename": "Demand", "id": world.demand},
        {"__typename": "Enterprise", "id": world.steel},
        {"__typename": "Site", "id": world.cement_site},
    ]
    found = (await api.as_(ADMIN).data(query, representations=representations))["_entities"]
    assert [e["id"] for e in found] == [world.offer, world.demand, world.steel, world.cement_site]
    assert found[0]["quantityTonnes"] == "120.500"
    assert found[3]["district"] == "江夏区"


DEMAND_LICENSING = "query($id: ID!) { demand(id: $id) { status licensedUntil } }"


async def test_a_demand_its_licence_no_longer_covers_leaves_the_market(
    api: Api, uow_factory: UnitOfWorkFactory
) -> None:
    world = await build_world(api)  # the cement plant's demand runs from 1 December
    admin, cement = api.as_(ADMIN), api.tenant(world.cement)
    await admin.mutate(REVOKE_LICENCE, "revokeLicence", id=world.licence, reason="吊销")
    gone = (await cement.data(DEMAND_LICENSING, id=world.demand))["demand"]
    assert gone["status"] == "EXPIRED"  # no day of its window is covered: at once
    updates = [
        envelope.data
        for topic, key, envelope in await outbox_events(uow_factory)
        if topic == "catalog.demand-updated.v1" and key == world.demand
    ]
    assert [(u["status"], u["reason"]) for u in updates] == [("EXPIRED", "UNLICENSED")]


async def test_a_revocation_to_come_ends_a_demand_on_its_day_unless_a_successor_covers_it(
    api: Api, uow_factory: UnitOfWorkFactory
) -> None:
    world = await build_world(api)
    admin, cement = api.as_(ADMIN), api.tenant(world.cement)

    async def licensing() -> tuple[str, str | None]:
        found = (await cement.data(DEMAND_LICENSING, id=world.demand))["demand"]
        return found["status"], found["licensedUntil"]

    # Revoked from the 15th of the window's first month: licensed until the 14th.
    fifteenth = date.fromisoformat(WINDOW["availableFrom"]) + timedelta(days=14)
    revoked, last = fifteenth.isoformat(), (fifteenth - timedelta(days=1)).isoformat()
    await admin.mutate(
        REVOKE_LICENCE, "revokeLicence", id=world.licence, reason="r", effectiveFrom=revoked
    )
    assert await licensing() == ("OPEN", last)
    # Another enterprise sees the demand on the market, not its holder's licensing.
    public = (await api.tenant(world.steel).data(DEMAND_LICENSING, id=world.demand))["demand"]
    assert public == {"status": "OPEN", "licensedUntil": None}
    successor = await api.register_licence(world.cement, ["SW01"], revoked)
    assert await licensing() == ("OPEN", None)  # the renewal covers the rest of its window
    await admin.mutate(
        REVOKE_LICENCE, "revokeLicence", id=successor, reason="r", effectiveFrom=revoked
    )
    assert await licensing() == ("OPEN", last)

    async with uow_factory() as uow:
        assert await expire_due(uow, fifteenth - timedelta(days=1)) == 0  # its last day counts
        assert await expire_due(uow, fifteenth) == 1
        await uow.commit()
    assert await licensing() == ("EXPIRED", last)
    updates = [
        envelope.data["reason"]
        for topic, key, envelope in await outbox_events(uow_factory)
        if topic == "catalog.demand-updated.v1" and key == world.demand
    ]
    assert updates == ["UNLICENSED"]


REGISTER = """
query($filter: LicenceRegisterFilter) {
  licenceRegister(filter: $filter, first: 50) {
    totalCount edges { node { id enterpriseId lastValidDay revokedOn } }
  }
}"""


async def test_the_licence_register_lists_what_each_role_may_see_with_its_filters(
    api: Api,
) -> None:
    world = await build_world(api)  # the cement plant (江夏区) holds one for three years
    this_year = DATES.today.year
    steel_licence = await api.register_licence(world.steel, ["SW03"], *DATES.licence_validity(1))
    admin = api.as_(ADMIN)

    async def ids(reader: Api, **wanted: Any) -> set[str]:
        found = (await reader.data(REGISTER, filter=wanted))["licenceRegister"]
        assert found["totalCount"] == len(found["edges"])
        return {edge["node"]["id"] for edge in found["edges"]}

    both = {world.licence, steel_licence}
    assert await ids(admin) == both
    assert await ids(api.as_(token(Role.REGULATOR, district="*"))) == both
    assert await ids(api.as_(token(Role.REGULATOR, district="江夏区"))) == {world.licence}
    assert await ids(api.tenant(world.steel)) == {steel_licence}  # a tenant: its own only
    assert await api.as_(None).error_code(REGISTER) == "NOT_AUTHORIZED"

    assert await ids(admin, district="青山区") == {steel_licence}
    assert await ids(admin, wasteCode=" sw03") == {steel_licence}
    assert await ids(admin, wasteCode="SW02") == {world.licence}
    assert await admin.error_code(REGISTER, filter={"wasteCode": "SW0"}) == "UNKNOWN_WASTE_CODE"
    assert await admin.error_code(REGISTER, filter={"wasteCode": "%"}) == "UNKNOWN_WASTE_CODE"
    assert await ids(admin, enterpriseId=world.cement) == {world.licence}
    assert await ids(admin, expiringBy=f"{this_year}-12-31") == {steel_licence}
    assert await ids(admin, validOn=f"{this_year + 1}-06-01") == {world.licence}
    # A revocation to come: its last valid day is the day before, so it expires by then.
    revoked = date(this_year + 1, 3, 1)
    last, before = (revoked - timedelta(days=n) for n in (1, 2))
    await admin.mutate(
        REVOKE_LICENCE,
        "revokeLicence",
        id=world.licence,
        reason="r",
        effectiveFrom=revoked.isoformat(),
    )
    assert await ids(admin, revoked=True) == {world.licence}
    assert await ids(admin, revoked=False) == {steel_licence}
    assert await ids(admin, expiringBy=last.isoformat()) == both
    assert await ids(admin, expiringBy=before.isoformat()) == {steel_licence}
    assert await ids(admin, validOn=last.isoformat()) == {world.licence}
    assert await ids(admin, validOn=revoked.isoformat()) == set()
    assert await ids(admin, expiringBy="9999-12-31") == both  # the calendar's last day


async def test_an_enterprise_adds_its_own_sites_only_in_its_registered_district(
    api: Api,
) -> None:
    """A site's district decides which regulator oversees what it offers, ships and books:
    a factory labelling its 青山区 works with another district hid them from 青山区's
    regulator. Works elsewhere are added by an admin."""
    steel = await api.register_enterprise("Steel", district="青山区")
    place = {"name": "works", "latitude": "30.6400", "longitude": "114.4100"}
    elsewhere = {"enterpriseId": steel, "district": "江夏区", **place}
    [refused] = await api.tenant(steel).user_errors(ADD_SITE, "addSite", input=elsewhere)
    assert (refused["code"], refused["field"]) == ("NOT_AUTHORIZED", "district")
    assert "青山区" in refused["message"]
    own = await api.tenant(steel).mutate(
        ADD_SITE, "addSite", input={**elsewhere, "district": "青山区"}
    )
    assert own["site"]["district"] == "青山区"
    placed = await api.as_(ADMIN).mutate(
        ADD_SITE, "addSite", input={**elsewhere, "district": "新洲区"}
    )
    assert placed["site"]["district"] == "新洲区"


async def test_a_date_is_written_yyyy_mm_dd(api: Api) -> None:
    # helper-48: Date took "20261201" and the ISO week date "2026-W49-1" (Python's
    # fromisoformat reads both), days the Kafka ingest refuses.
    world = await build_world(api)
    steel = api.tenant(world.steel)
    offer = {"siteId": world.steel_site, "wasteCode": "SW01", "quantityTonnes": "12", **WINDOW}
    for written in ("20261201", "2026-W49-1", "2026-12-01T00:00:00", "２０２６-１２-０１"):
        refused = await steel.execute(POST_OFFER, input=offer | {"availableFrom": written})
        error = refused["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", refused
        assert "YYYY-MM-DD" in error["message"]
    posted = await steel.mutate(POST_OFFER, "postOffer", input=offer)
    assert posted["offer"]["availableFrom"] == WINDOW["availableFrom"]


async def test_a_decimal_is_written_in_ascii_digits_without_groups(api: Api) -> None:
    # helper-43: "1_000" was read as 1000 t and full-width "１２" as 12 t.
    world = await build_world(api)
    steel = api.tenant(world.steel)
    for written in ("1_000", "１２"):
        offer = {
            "siteId": world.steel_site,
            "wasteCode": "SW01",
            "quantityTonnes": written,
            "description": "slag",
            **WINDOW,
        }
        assert await steel.error_code(POST_OFFER, input=offer) == "BAD_USER_INPUT"
    # A JSON number is read through its text: 12.5 is 12.5, not a binary fraction.
    number: dict[str, object] = {"siteId": world.steel_site, "wasteCode": "SW01", **WINDOW}
    posted = await steel.mutate(POST_OFFER, "postOffer", input=number | {"quantityTonnes": 12.5})
    assert posted["offer"]["quantityTonnes"] == "12.500"
