"""A licence that runs out on its term leaves its holder's demands on the market for the
grace days (`renewal_grace_days`), waiting for a renewal; a revocation does not (decision
034). A demand may be posted, or its window amended, past what its holder's licences cover
when they cover its first day: it waits so from the start (034, later). Each test on SQLite
and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest

from wastex_catalog.expiry import expire_due
from wastex_catalog.main import build_graphql_app
from wastex_catalog.settings import CatalogSettings
from wastex_catalog.testing import (
    ADMIN,
    AMEND_DEMAND,
    AMEND_LICENCE,
    POST_DEMAND,
    REVOKE_LICENCE,
    Api,
    outbox_events,
)
from wastex_shared.storage import UnitOfWorkFactory

DEMAND = """
query($id: ID!) {
  demand(id: $id) { status availableFrom availableUntil licensedUntil awaitsRenewalUntil }
}"""


class Clock:
    def __init__(self, today: date) -> None:
        self.today = today

    def __call__(self) -> date:
        return self.today


@pytest.fixture
def clock() -> Clock:
    return Clock(date(2026, 11, 29))


@pytest.fixture
async def api(uow_factory: UnitOfWorkFactory, clock: Clock) -> AsyncIterator[Api]:
    settings = CatalogSettings(renewal_grace_days=7)
    app = build_graphql_app(settings, uow_factory, clock=clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://catalog"
    ) as http:
        yield Api(http)


#: This module's clock is fixed (29 November 2026), so are its dates: the package's `WINDOW`
#: counts from the real today.
DECEMBER_TO_JUNE = {"availableFrom": "2026-12-01", "availableUntil": "2027-06-30"}


class Recycler:
    """A cement plant with a demand from 1 December to 30 June under one licence (its
    codes SW01, SW02, registered to 2028)."""

    def __init__(self, api: Api) -> None:
        self.api = api

    async def setup(self) -> Recycler:
        self.id = await self.api.register_enterprise("Jiangxia Cement", "FACTORY", "江夏区")
        site = await self.api.add_site(self.id, "江夏区", "30.3600", "114.3000")
        self.licence = await self.api.register_licence(
            self.id, ["SW01", "SW02"], "2026-01-01", "2028-12-31"
        )
        self.demand = await self.api.post_demand(self.id, site, window=DECEMBER_TO_JUNE)
        return self

    async def read(self) -> dict[str, Any]:
        return dict((await self.api.tenant(self.id).data(DEMAND, id=self.demand))["demand"])

    async def term_corrected_to_31_december(self) -> None:
        await self.api.as_(ADMIN).mutate(
            AMEND_LICENCE,
            "amendLicence",
            id=self.licence,
            input={"reason": "the certificate runs to 31 December", "validUntil": "2026-12-31"},
        )


async def expired_on(uow_factory: UnitOfWorkFactory, day: date) -> int:
    async with uow_factory() as uow:
        expired = await expire_due(uow, day)
        await uow.commit()
    return expired


async def reasons(uow_factory: UnitOfWorkFactory, demand: str) -> list[tuple[str, str]]:
    return [
        (envelope.data["status"], envelope.data["reason"])
        for topic, key, envelope in await outbox_events(uow_factory)
        if topic == "catalog.demand-updated.v1" and key == demand
    ]


async def test_a_renewal_registered_on_the_third_day_of_the_grace_keeps_the_demand(
    api: Api, uow_factory: UnitOfWorkFactory, clock: Clock
) -> None:
    cement = await Recycler(api).setup()
    await cement.term_corrected_to_31_december()
    waiting = {
        "status": "OPEN",
        "availableFrom": "2026-12-01",
        "availableUntil": "2027-06-30",
        "licensedUntil": "2026-12-31",
        "awaitsRenewalUntil": "2027-01-07",
    }
    assert await cement.read() == waiting
    for day in (date(2027, 1, 1), date(2027, 1, 2), date(2027, 1, 3)):
        assert await expired_on(uow_factory, day) == 0, day
    assert await cement.read() == waiting  # on the market as it was, its status too
    # Another enterprise sees it on the market, not its holder's licensing.
    other = await api.register_enterprise("Qingshan Steel", "FACTORY", "青山区")
    public = (await api.tenant(other).data(DEMAND, id=cement.demand))["demand"]
    assert (public["status"], public["awaitsRenewalUntil"]) == ("OPEN", None)

    clock.today = date(2027, 1, 3)
    await api.register_licence(cement.id, ["SW01"], "2027-01-01", "2027-12-31")
    renewed = {**waiting, "licensedUntil": None, "awaitsRenewalUntil": None}
    assert await cement.read() == renewed  # its whole window back
    assert await expired_on(uow_factory, date(2027, 1, 8)) == 0
    assert await cement.read() == renewed
    assert await reasons(uow_factory, cement.demand) == []


async def test_without_a_renewal_the_demand_expires_unlicensed_when_the_grace_ends(
    api: Api, uow_factory: UnitOfWorkFactory
) -> None:
    cement = await Recycler(api).setup()
    await cement.term_corrected_to_31_december()
    assert await expired_on(uow_factory, date(2027, 1, 7)) == 0
    assert await expired_on(uow_factory, date(2027, 1, 8)) == 1
    assert (await cement.read())["status"] == "EXPIRED"
    assert await reasons(uow_factory, cement.demand) == [("EXPIRED", "UNLICENSED")]


async def test_a_term_corrected_to_a_day_whose_grace_is_over_ends_the_demand_at_once(
    api: Api, uow_factory: UnitOfWorkFactory, clock: Clock
) -> None:
    cement = await Recycler(api).setup()
    clock.today = date(2027, 1, 8)
    await cement.term_corrected_to_31_december()
    assert (await cement.read())["status"] == "EXPIRED"
    assert await reasons(uow_factory, cement.demand) == [("EXPIRED", "UNLICENSED")]


async def test_a_revocation_gives_no_grace(api: Api, uow_factory: UnitOfWorkFactory) -> None:
    cement = await Recycler(api).setup()
    await api.as_(ADMIN).mutate(
        REVOKE_LICENCE,
        "revokeLicence",
        id=cement.licence,
        reason="吊销",
        effectiveFrom="2027-01-01",
    )
    found = await cement.read()
    assert (found["licensedUntil"], found["awaitsRenewalUntil"]) == ("2026-12-31", None)
    assert await expired_on(uow_factory, date(2027, 1, 1)) == 1
    assert await reasons(uow_factory, cement.demand) == [("EXPIRED", "UNLICENSED")]


async def test_a_renewal_revoked_before_it_begins_gives_no_grace(
    api: Api, uow_factory: UnitOfWorkFactory
) -> None:
    """The licence before it runs out on its term, but only the revocation stops the cover
    going on: the demand goes the day after, as before decision 034."""
    cement = Recycler(api)
    cement.id = await api.register_enterprise("Jiangxia Cement", "FACTORY", "江夏区")
    site = await api.add_site(cement.id, "江夏区", "30.3600", "114.3000")
    await api.register_licence(cement.id, ["SW01"], "2026-01-01", "2026-12-31")
    renewal = await api.register_licence(cement.id, ["SW01"], "2027-01-01", "2027-12-31")
    cement.demand = await api.post_demand(cement.id, site, window=DECEMBER_TO_JUNE)
    await api.as_(ADMIN).mutate(
        REVOKE_LICENCE, "revokeLicence", id=renewal, reason="吊销", effectiveFrom="2027-01-01"
    )
    found = await cement.read()
    assert (found["licensedUntil"], found["awaitsRenewalUntil"]) == ("2026-12-31", None)
    assert await expired_on(uow_factory, date(2027, 1, 1)) == 1


# -- posted past what the licences cover (decision 034, later) ---------------------------


class CalendarYearRecycler:
    """A cement plant licensed to 31 December 2026 (SW01), its renewal not yet registered."""

    def __init__(self, api: Api) -> None:
        self.api = api

    async def setup(self) -> CalendarYearRecycler:
        self.id = await self.api.register_enterprise("Jiangxia Cement", "FACTORY", "江夏区")
        self.site = await self.api.add_site(self.id, "江夏区", "30.3600", "114.3000")
        self.licence = await self.api.register_licence(
            self.id, ["SW01"], "2026-01-01", "2026-12-31"
        )
        return self

    def ask(self, start: str, end: str) -> dict[str, Any]:
        return {
            "siteId": self.site,
            "wasteCodes": ["SW01"],
            "quantityTonnes": "800",
            "maxDistanceKm": "80",
            "availableFrom": start,
            "availableUntil": end,
        }

    async def post(self, start: str, end: str) -> str:
        payload = await self.api.tenant(self.id).mutate(
            POST_DEMAND, "postDemand", input=self.ask(start, end)
        )
        return str(payload["demand"]["id"])

    async def read(self, demand: str) -> dict[str, Any]:
        return dict((await self.api.tenant(self.id).data(DEMAND, id=demand))["demand"])


#: Posted in December for December to March, the licence running to 31 December.
WAITING = {
    "status": "OPEN",
    "availableFrom": "2026-12-01",
    "availableUntil": "2027-03-31",
    "licensedUntil": "2026-12-31",
    "awaitsRenewalUntil": "2027-01-07",
}


async def test_a_demand_posted_past_its_licence_waits_and_a_renewal_gives_it_its_window(
    api: Api, uow_factory: UnitOfWorkFactory, clock: Clock
) -> None:
    clock.today = date(2026, 12, 1)
    cement = await CalendarYearRecycler(api).setup()
    demand = await cement.post("2026-12-01", "2027-03-31")
    assert await cement.read(demand) == WAITING
    assert await expired_on(uow_factory, date(2027, 1, 7)) == 0
    clock.today = date(2027, 1, 4)
    await api.register_licence(cement.id, ["SW01"], "2027-01-01", "2027-12-31")
    renewed = {**WAITING, "licensedUntil": None, "awaitsRenewalUntil": None}
    assert await cement.read(demand) == renewed  # the whole window, as posted
    assert await expired_on(uow_factory, date(2027, 1, 8)) == 0
    assert await reasons(uow_factory, demand) == []


async def test_a_demand_posted_past_its_licence_expires_unlicensed_without_a_renewal(
    api: Api, uow_factory: UnitOfWorkFactory, clock: Clock
) -> None:
    clock.today = date(2026, 12, 1)
    cement = await CalendarYearRecycler(api).setup()
    demand = await cement.post("2026-12-01", "2027-03-31")
    assert await expired_on(uow_factory, date(2027, 1, 7)) == 0
    assert await cement.read(demand) == WAITING
    assert await expired_on(uow_factory, date(2027, 1, 8)) == 1
    assert (await cement.read(demand))["status"] == "EXPIRED"
    assert await reasons(uow_factory, demand) == [("EXPIRED", "UNLICENSED")]


async def test_a_window_no_licence_covers_on_its_first_day_is_refused(
    api: Api, clock: Clock
) -> None:
    clock.today = date(2026, 12, 1)
    cement = await CalendarYearRecycler(api).setup()
    errors = await api.tenant(cement.id).user_errors(
        POST_DEMAND, "postDemand", input=cement.ask("2027-01-01", "2027-03-31")
    )
    assert [(e["code"], e["field"]) for e in errors] == [("LICENCE_EXPIRED", "wasteCodes")]
    assert errors[0]["message"].startswith("no licence covers SW01 on 2027-01-01")
    # A window begun is judged from today: after the licence, nothing of it is covered.
    clock.today = date(2027, 1, 2)
    errors = await api.tenant(cement.id).user_errors(
        POST_DEMAND, "postDemand", input=cement.ask("2026-12-01", "2027-03-31")
    )
    assert [(e["code"], e["field"]) for e in errors] == [("LICENCE_EXPIRED", "wasteCodes")]
    assert "on 2027-01-02" in errors[0]["message"]


async def test_a_window_amended_past_the_licence_waits_and_one_starting_past_it_is_refused(
    api: Api, clock: Clock
) -> None:
    clock.today = date(2026, 12, 1)
    cement = await CalendarYearRecycler(api).setup()
    demand = await cement.post("2026-12-01", "2026-12-31")
    december = await cement.read(demand)
    assert (december["licensedUntil"], december["awaitsRenewalUntil"]) == (None, None)
    tenant = api.tenant(cement.id)
    await tenant.mutate(
        AMEND_DEMAND, "amendDemand", id=demand, input={"availableUntil": "2027-03-31"}
    )
    assert await cement.read(demand) == WAITING
    errors = await tenant.user_errors(
        AMEND_DEMAND, "amendDemand", id=demand, input={"availableFrom": "2027-01-01"}
    )
    assert [(e["code"], e["field"]) for e in errors] == [("LICENCE_EXPIRED", "availableFrom")]
    # Shortened back inside the licence: nothing to wait for.
    await tenant.mutate(
        AMEND_DEMAND, "amendDemand", id=demand, input={"availableUntil": "2026-12-20"}
    )
    inside = await cement.read(demand)
    assert (inside["licensedUntil"], inside["awaitsRenewalUntil"]) == (None, None)
