"""Districts come from the city's register (both databases): registerEnterprise and addSite
refuse any other name with UNKNOWN_DISTRICT and the name meant, `districts` lists the
register to signed-in callers, WASTEX_DISTRICTS_FILE sets another city's (one that is no
register stops the catalog at start-up), and records stored under a name outside it keep
that name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from wastex_catalog.adapters.repository import CatalogRepository
from wastex_catalog.domain import Enterprise, EnterpriseKind
from wastex_catalog.main import build_graphql_app
from wastex_catalog.settings import CatalogSettings
from wastex_catalog.testing import (
    ADD_SITE,
    ADMIN,
    REGISTER_ENTERPRISE,
    Api,
    outbox_events,
    token,
    unique_credit_code,
)
from wastex_shared.auth import Role
from wastex_shared.storage import UnitOfWorkFactory

DISTRICTS = "{ districts { name kind } }"
WORKS = {"name": "works", "latitude": "30.6400", "longitude": "114.4100"}


def enterprise_input(district: str) -> dict[str, Any]:
    return {
        "name": "Steel",
        "creditCode": unique_credit_code(),
        "industry": "C3120",
        "district": district,
        "kind": "FACTORY",
    }


async def stored_before_the_register(
    uow_factory: UnitOfWorkFactory, enterprise_id: str, district: str
) -> Enterprise:
    """An enterprise stored (as the repository rehydrates it) under a name outside the
    register, as one registered before it was."""
    legacy = Enterprise(
        id=enterprise_id,
        name="Old Steel",
        credit_code=unique_credit_code(),
        industry="C3120",
        district=district,
        kind=EnterpriseKind.FACTORY,
    )
    async with uow_factory() as uow:
        await CatalogRepository(uow.session).add_enterprise(legacy, datetime.now(UTC))
        await uow.commit()
    return legacy


def unknown(errors: list[dict[str, Any]], meant: str) -> None:
    [error] = errors
    assert (error["code"], error["field"]) == ("UNKNOWN_DISTRICT", "district")
    assert error["message"].endswith(f"did you mean '{meant}'?"), error


async def test_an_enterprise_is_registered_only_in_a_district_of_the_register(
    api: Api, uow_factory: UnitOfWorkFactory
) -> None:
    admin = api.as_(ADMIN)
    errors = await admin.user_errors(
        REGISTER_ENTERPRISE, "registerEnterprise", input=enterprise_input("青山")
    )
    unknown(errors, "青山区")
    assert await outbox_events(uow_factory) == []  # nothing registered, nothing announced
    payload = await admin.mutate(
        REGISTER_ENTERPRISE, "registerEnterprise", input=enterprise_input(" 青山区 ")
    )
    assert payload["enterprise"]["district"] == "青山区"


async def test_a_site_outside_the_register_is_refused_whoever_adds_it(api: Api) -> None:
    steel = await api.register_enterprise("Steel", district="洪山区")
    # Its own enterprise, spacing the name of its own district: the name, not whose it is.
    errors = await api.tenant(steel).user_errors(
        ADD_SITE, "addSite", input={"enterpriseId": steel, "district": "洪山 区", **WORKS}
    )
    unknown(errors, "洪山区")
    errors = await api.as_(ADMIN).user_errors(
        ADD_SITE, "addSite", input={"enterpriseId": steel, "district": "东湖高新区", **WORKS}
    )
    unknown(errors, "东湖新技术开发区")
    placed = await api.as_(ADMIN).mutate(
        ADD_SITE, "addSite", input={"enterpriseId": steel, "district": "东湖新技术开发区", **WORKS}
    )
    assert placed["site"]["district"] == "东湖新技术开发区"


async def test_the_register_is_listed_to_every_signed_in_caller(api: Api) -> None:
    assert await api.error_code(DISTRICTS) == "NOT_AUTHORIZED"
    steel = await api.register_enterprise()
    callers = [
        ADMIN,
        token(Role.ENTERPRISE, steel),
        token(Role.RECYCLER, steel),
        token(Role.REGULATOR, district="青山区"),
        token(Role.REGULATOR, district="*"),
    ]
    for caller in callers:
        listed = (await api.as_(caller).data(DISTRICTS))["districts"]
        assert len(listed) == 16
        assert listed[0] == {"name": "江岸区", "kind": "ADMINISTRATIVE_DISTRICT"}
        assert listed[-1] == {"name": "东湖生态旅游风景区", "kind": "FUNCTIONAL_ZONE"}
        assert sum(d["kind"] == "FUNCTIONAL_ZONE" for d in listed) == 3


EZHOU = """\
# A city of its own for this test
name,kind,aliases,note
鄂城区,administrative_district,,
葛店开发区,functional_zone,,
"""


@pytest.fixture
async def ezhou(
    uow_factory: UnitOfWorkFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Api]:
    """The subgraph started with WASTEX_DISTRICTS_FILE naming another city's register."""
    path = tmp_path / "ezhou.csv"
    path.write_text(EZHOU, "utf-8")
    monkeypatch.setenv("WASTEX_DISTRICTS_FILE", str(path))
    app = build_graphql_app(CatalogSettings(), uow_factory)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://catalog") as http:
        yield Api(http).as_(ADMIN)


async def test_another_city_s_register_is_read_from_its_file(ezhou: Api) -> None:
    assert (await ezhou.data(DISTRICTS))["districts"] == [
        {"name": "鄂城区", "kind": "ADMINISTRATIVE_DISTRICT"},
        {"name": "葛店开发区", "kind": "FUNCTIONAL_ZONE"},
    ]
    unknown(
        await ezhou.user_errors(
            REGISTER_ENTERPRISE, "registerEnterprise", input=enterprise_input("鄂城")
        ),
        "鄂城区",
    )
    [refused] = await ezhou.user_errors(
        REGISTER_ENTERPRISE, "registerEnterprise", input=enterprise_input("青山区")
    )
    assert refused["code"] == "UNKNOWN_DISTRICT"
    payload = await ezhou.mutate(
        REGISTER_ENTERPRISE, "registerEnterprise", input=enterprise_input("鄂城区")
    )
    assert payload["enterprise"]["district"] == "鄂城区"


def test_a_file_that_is_no_register_stops_the_catalog_at_start_up(
    uow_factory: UnitOfWorkFactory, tmp_path: Path
) -> None:
    path = tmp_path / "typo.csv"
    path.write_text("name,kind\n鄂城区,district\n", "utf-8")
    # Refused as the settings are read (WASTEX_DISTRICTS_FILE named: shared/test_settings).
    with pytest.raises(ValidationError, match=r"typo\.csv line 2: 鄂城区: kind 'district'"):
        build_graphql_app(CatalogSettings(districts_file=path), uow_factory)


async def test_an_enterprise_stored_outside_the_register_keeps_its_name_and_its_new_sites_do_not(
    api: Api, uow_factory: UnitOfWorkFactory
) -> None:
    """No migration rewrites a name stored before the register: the enterprise reads as it
    was stored, its regulator still sees it; a site it adds takes a name of the register,
    so it is added by an admin (an enterprise adds sites only in its own district)."""
    legacy = await stored_before_the_register(uow_factory, "ent-legacy", "青山")
    read = "query($id: ID!) { enterprise(id: $id) { district } }"
    regulator = api.as_(token(Role.REGULATOR, district="青山"))
    assert (await regulator.data(read, id=legacy.id))["enterprise"] == {"district": "青山"}
    errors = await api.tenant(legacy.id).user_errors(
        ADD_SITE, "addSite", input={"enterpriseId": legacy.id, "district": "青山", **WORKS}
    )
    unknown(errors, "青山区")
    placed = await api.as_(ADMIN).mutate(
        ADD_SITE, "addSite", input={"enterpriseId": legacy.id, "district": "青山区", **WORKS}
    )
    assert placed["site"]["district"] == "青山区"


async def test_a_filter_names_a_district_of_the_register_or_of_the_records(
    api: Api, uow_factory: UnitOfWorkFactory
) -> None:
    """A typo in a filter is refused with the name meant, not answered with an empty list;
    a name stored before the register still filters its records."""
    await stored_before_the_register(uow_factory, "ent-old-town", "老城区")
    admin = api.as_(ADMIN)
    enterprises = "query($f: EnterpriseFilter) { enterprises(filter: $f) { totalCount } }"
    licences = "query($f: LicenceRegisterFilter) { licenceRegister(filter: $f) { totalCount } }"
    offers = "query($f: OfferFilter) { offers(filter: $f) { totalCount } }"
    demands = "query($f: DemandFilter) { demands(filter: $f) { totalCount } }"
    for query in (enterprises, licences, offers, demands):
        body = await admin.execute(query, f={"district": "青山"})
        [error] = body["errors"]
        assert error["extensions"]["code"] == "UNKNOWN_DISTRICT", body
        assert error["extensions"]["field"] == "filter.district", body
        assert error["message"].endswith("did you mean '青山区'?"), body
        assert (await admin.data(query, f={"district": "青山区"})) is not None
    stored = await admin.data(enterprises, f={"district": " 老城区 "})  # trimmed
    assert stored["enterprises"]["totalCount"] == 1
