"""An admin corrects an enterprise's name, industry or registered district (decision 025):
through GraphQL, refused as a typed user error when not allowed or invalid, kept as a
version with why and by whom, and published whole as `catalog.enterprise-amended` for the
ledger and matching. SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from wastex_catalog.testing import (
    ADMIN,
    REGISTER_ENTERPRISE,
    Api,
    outbox_events,
    token,
    unique_credit_code,
)
from wastex_shared.auth import Role
from wastex_shared.storage import UnitOfWorkFactory

ENTERPRISE_FIELDS = "id name industry district version"
AMEND_ENTERPRISE = f"""
mutation($id: ID!, $input: AmendEnterpriseInput!) {{
  amendEnterprise(id: $id, input: $input) {{
    enterprise {{ {ENTERPRISE_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}"""
ENTERPRISE = f"""
query($id: ID!) {{
  enterprise(id: $id) {{
    {ENTERPRISE_FIELDS}
    history {{ version reason changedBy name industry district }}
  }}
}}"""
ENTERPRISES = """
query { enterprises { edges { node { id district } } } }"""


async def amend(api: Api, enterprise_id: str, **given: Any) -> dict[str, Any]:
    body = await api.data(AMEND_ENTERPRISE, id=enterprise_id, input=given)
    payload: dict[str, Any] = body["amendEnterprise"]
    return payload


async def test_an_admin_amends_an_enterprise_and_the_whole_enterprise_is_published(
    api: Api, uow_factory: UnitOfWorkFactory
) -> None:
    steel = await api.register_enterprise("Qingshan Steel", "FACTORY", "青山区")
    admin = api.as_(token(Role.ADMIN, subject="admin-li"))
    payload = await amend(
        admin,
        steel,
        reason="registered in the wrong district",
        district=" 江夏区 ",
        industry="C3110",
    )
    assert payload["userErrors"] == []
    assert payload["enterprise"] == {
        "id": steel,
        "name": "Qingshan Steel",
        "industry": "C3110",
        "district": "江夏区",
        "version": 2,
    }
    read = (await api.as_(ADMIN).data(ENTERPRISE, id=steel))["enterprise"]
    assert read["district"] == "江夏区"
    assert [
        (v["version"], v["reason"], v["changedBy"], v["district"], v["industry"])
        for v in read["history"]
    ] == [
        (1, None, "admin:all", "青山区", "C3120"),
        (2, "registered in the wrong district", "admin-li", "江夏区", "C3110"),
    ]
    [(_, key, event)] = [
        found
        for found in await outbox_events(uow_factory)
        if found[0] == "catalog.enterprise-amended.v1"
    ]
    assert key == steel
    assert event.type == "catalog.enterprise-amended"
    data = event.data
    assert (data["enterpriseId"], data["district"], data["industry"], data["version"]) == (
        steel,
        "江夏区",
        "C3110",
        2,
    )
    assert (data["name"], data["kind"], data["reason"]) == (
        "Qingshan Steel",
        "FACTORY",
        "registered in the wrong district",
    )
    assert data["creditCode"]
    # A site added since carries the amended enterprise, and says which version it is of.
    site = await api.add_site(steel, "江夏区", "30.3600", "114.3000")
    [added] = [e for t, k, e in await outbox_events(uow_factory) if k == site]
    assert (added.data["industry"], added.data["enterpriseDistrict"]) == ("C3110", "江夏区")
    assert added.data["enterpriseVersion"] == 2


async def test_the_registration_is_the_first_version_by_the_admin_who_made_it(api: Api) -> None:
    admin = api.as_(token(Role.ADMIN, subject="admin-wang"))
    given = {
        "name": "Qingshan Steel",
        "creditCode": unique_credit_code(),
        "industry": "C3120",
        "district": "青山区",
        "kind": "FACTORY",
    }
    registered = await admin.mutate(REGISTER_ENTERPRISE, "registerEnterprise", input=given)
    steel = registered["enterprise"]["id"]
    read = (await api.as_(ADMIN).data(ENTERPRISE, id=steel))["enterprise"]
    assert read["version"] == 1
    assert read["history"] == [
        {
            "version": 1,
            "reason": None,
            "changedBy": "admin-wang",
            "name": "Qingshan Steel",
            "industry": "C3120",
            "district": "青山区",
        }
    ]


async def test_the_district_regulators_follow_the_amended_district(api: Api) -> None:
    steel = await api.register_enterprise("Qingshan Steel", "FACTORY", "青山区")
    qingshan = api.as_(token(Role.REGULATOR, district="青山区"))
    jiangxia = api.as_(token(Role.REGULATOR, district="江夏区"))
    assert (await qingshan.data(ENTERPRISE, id=steel))["enterprise"] is not None
    await amend(api.as_(ADMIN), steel, reason="moved", district="江夏区")
    refused = await qingshan.execute(ENTERPRISE, id=steel)
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["NOT_AUTHORIZED"]
    assert (await jiangxia.data(ENTERPRISE, id=steel))["enterprise"]["district"] == "江夏区"
    listed = (await jiangxia.data(ENTERPRISES))["enterprises"]["edges"]
    assert steel in [edge["node"]["id"] for edge in listed]


async def test_refusals_are_user_errors_and_change_nothing(
    api: Api, uow_factory: UnitOfWorkFactory
) -> None:
    steel = await api.register_enterprise("Qingshan Steel", "FACTORY", "青山区")
    admin = api.as_(ADMIN)
    cases: list[tuple[Api, str, dict[str, Any], tuple[str, str]]] = [
        (api.tenant(steel), steel, {"reason": "r", "name": "Mine"}, ("NOT_AUTHORIZED", "")),
        (
            api.as_(token(Role.REGULATOR, district="青山区")),
            steel,
            {"reason": "r", "name": "Mine"},
            ("NOT_AUTHORIZED", ""),
        ),
        (admin, steel, {"reason": " ", "name": "New"}, ("REQUIRED_FIELD", "reason")),
        (admin, steel, {"reason": "r", "district": "青山"}, ("UNKNOWN_DISTRICT", "district")),
        (admin, steel, {"reason": "r", "industry": "Z1"}, ("INVALID_INDUSTRY_CODE", "industry")),
        (admin, steel, {"reason": "r", "name": "Qingshan Steel"}, ("NOTHING_TO_AMEND", "input")),
        (admin, "no-such", {"reason": "r", "name": "New"}, ("NOT_FOUND", "enterpriseId")),
    ]
    for caller, ident, given, (code, field) in cases:
        payload = await amend(caller, ident, **given)
        assert payload["enterprise"] is None, given
        [error] = payload["userErrors"]
        assert error["code"] == code, (given, error)
        if field:
            assert error["field"] == field, (given, error)
    read = (await admin.data(ENTERPRISE, id=steel))["enterprise"]
    assert (read["name"], read["district"], read["version"], len(read["history"])) == (
        "Qingshan Steel",
        "青山区",
        1,
        1,
    )
    assert not [
        e for e in await outbox_events(uow_factory) if e[0] == "catalog.enterprise-amended.v1"
    ]


FILTERED = """
query($filter: EnterpriseFilter) {
  enterprises(filter: $filter, first: 50) { totalCount edges { node { id } } }
}"""


async def test_enterprises_are_found_by_industry_and_part_of_the_name(api: Api) -> None:
    admin = api.as_(ADMIN)
    slag = await api.register_enterprise("Wuhan Iron & Steel_100%", "FACTORY", "青山区")
    cement = await api.register_enterprise("武汉华新水泥", "RECYCLER", "江夏区")  # C3011
    await amend(admin, slag, reason="ironmaking", industry="C3110")

    async def found(**filter: str) -> set[str]:
        body = await admin.data(FILTERED, filter=filter)
        return {edge["node"]["id"] for edge in body["enterprises"]["edges"]} & {slag, cement}

    assert await found(industry="C31") == {slag}
    assert await found(industry=" c3110 ") == {slag}
    assert await found(industry="C") == {slag, cement}
    assert await found(industry="C30", kind="RECYCLER") == {cement}
    assert await found(industry="C3120") == set()  # its industry before the amendment
    assert await found(nameContains="iron & steel") == {slag}
    assert await found(nameContains="_100%") == {slag}  # LIKE's wildcards are plain text
    assert await found(nameContains="%") == {slag}
    assert await found(nameContains="华新") == {cement}
    assert await found(nameContains=" ", industry="") == {slag, cement}  # blank: no filter
    refused = await admin.execute(FILTERED, filter={"industry": "31"})
    [error] = refused["errors"]
    assert error["extensions"]["code"] == "INVALID_INDUSTRY_CODE"


async def test_a_name_is_found_whatever_the_case_of_its_letters_on_either_engine(
    api: Api,
) -> None:
    """'Case ignored' for every letter that has a case, not only ASCII's: SQLite's own lower()
    folds A–Z alone, so on the embedded default full-width ＴＣＬ (typed with a Chinese input
    method) or Ö were matched only as written, where PostgreSQL matched them either way."""
    admin = api.as_(ADMIN)
    wide = await api.register_enterprise("武汉ＴＣＬ环保科技", "FACTORY", "青山区")
    umlaut = await api.register_enterprise("Ökologie Recycling", "RECYCLER", "江夏区")

    async def found(text: str) -> set[str]:
        body = await admin.data(FILTERED, filter={"nameContains": text})
        return {edge["node"]["id"] for edge in body["enterprises"]["edges"]}

    assert await found("ｔｃｌ") == {wide}
    assert await found("ＴＣＬ环保") == {wide}
    assert await found("ökologie") == {umlaut}
    assert await found("ÖKOLOGIE") == {umlaut}
