"""Test support: a ledger service on a migrated database, with helpers that feed it the
catalog's and matching's facts the way the Kafka consumer does (used by the ledger's tests
and by anyone driving the ledger in-process)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal

from wastex_ledger.adapters.migrations import LOCATION
from wastex_ledger.adapters.repository import Repository
from wastex_ledger.adapters.rules import load_rules
from wastex_ledger.adapters.tables import messaging
from wastex_ledger.domain.closing import YearClose
from wastex_ledger.domain.figures import Utilisation
from wastex_ledger.domain.scope import Scope
from wastex_ledger.service import LedgerConfig, LedgerService
from wastex_shared.envelope import Envelope, utcnow
from wastex_shared.events.catalog import (
    EnterpriseAmended,
    EnterpriseRegistered,
    LicenceAmended,
    LicenceFacts,
    LicenceRegistered,
    SiteAdded,
    SiteAmended,
)
from wastex_shared.events.matching import MatchConfirmed
from wastex_shared.storage import UnitOfWork, UnitOfWorkFactory, make_engine
from wastex_shared.storage.migrate import upgrade

FREIGHT = "freight_road_diesel_truck_30t_cn"
SLAG_AVOIDED = "avoided_ggbs_replacing_cement_cn_derived"
#: When `Harness.confirm` opens manifests: early enough for a test to dispatch them in any
#: month since (a shipment is booked between its manifest's opening and now).
MANIFESTS_OPENED = datetime(2020, 1, 1, tzinfo=UTC)


@dataclass
class Clock:
    """The service's clock: the real time unless `fixed`."""

    fixed: datetime | None = None

    def __call__(self) -> datetime:
        return self.fixed or utcnow()


@dataclass(frozen=True)
class Site:
    site_id: str
    enterprise_id: str
    district: str
    industry: str


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class Harness:
    service: LedgerService
    uow: UnitOfWorkFactory
    clock: Clock = field(default_factory=Clock)

    async def register(self, district: str, industry: str = "C3120", kind: str = "FACTORY") -> Site:
        """An enterprise with one site, as the catalog's events describe them."""
        site = Site(unique("site"), unique("ent"), district, industry)
        await self.announce(site, kind)
        return site

    async def announce(
        self, site: Site, kind: str = "FACTORY", registered_in: str | None = None
    ) -> None:
        """The catalog's facts of `site` and its enterprise (registered in the site's district
        unless `registered_in` says otherwise) reach the ledger."""
        enterprise_id, site_id, district, industry = (
            site.enterprise_id,
            site.site_id,
            site.district,
            site.industry,
        )
        registered = registered_in or district
        async with self.uow() as uow:
            await self.service.on_enterprise(
                uow,
                envelope("catalog.enterprise-registered", enterprise_id),
                EnterpriseRegistered(
                    enterprise_id=enterprise_id,
                    name=f"Enterprise {enterprise_id}",
                    credit_code="91420100MA4K0000XX",
                    industry=industry,
                    district=registered,
                    kind=kind,
                ),
            )
            await self.service.on_site(
                uow,
                envelope("catalog.site-added", site_id),
                SiteAdded(
                    site_id=site_id,
                    enterprise_id=enterprise_id,
                    name="works",
                    district=district,
                    latitude=Decimal("30.6"),
                    longitude=Decimal("114.3"),
                    industry=industry,
                    enterprise_district=registered,
                ),
            )
            await uow.commit()

    async def amend_enterprise(
        self,
        site: Site,
        *,
        version: int = 2,
        industry: str | None = None,
        district: str | None = None,
    ) -> None:
        """The catalog's `enterprise-amended` fact of `site`'s enterprise (registered in the
        site's district unless `district` says otherwise)."""
        async with self.uow() as uow:
            await self.service.on_enterprise(
                uow,
                envelope("catalog.enterprise-amended", site.enterprise_id),
                EnterpriseAmended(
                    enterprise_id=site.enterprise_id,
                    name=f"Enterprise {site.enterprise_id}",
                    credit_code="91420100MA4K0000XX",
                    industry=industry or site.industry,
                    district=district or site.district,
                    kind="FACTORY",
                    version=version,
                    reason="corrected",
                ),
            )
            await uow.commit()

    async def amend_site(self, site: Site, district: str, *, version: int = 2) -> Site:
        """The catalog's `site-amended` fact of `site`, now in `district` (its enterprise
        registered where the site was, as `register` has it); returns the site as amended."""
        moved = replace(site, district=district)
        async with self.uow() as uow:
            await self.service.on_site(
                uow,
                envelope("catalog.site-amended", site.site_id),
                SiteAmended(
                    site_id=site.site_id,
                    enterprise_id=site.enterprise_id,
                    name=f"works in {district}",
                    district=district,
                    latitude=Decimal("30.5"),
                    longitude=Decimal("114.4"),
                    industry=site.industry,
                    enterprise_district=site.district,
                    version=version,
                    reason="surveyed again",
                ),
            )
            await uow.commit()
        return moved

    async def confirm(
        self,
        supplier: Site,
        recycler: Site,
        tonnes: str,
        code: str = "SW01",
        distance_km: str = "35.2",
        opened: datetime | None = MANIFESTS_OPENED,
        ship_from: date | None = None,
        ship_by: date | None = None,
        licence_id: str | None = None,
        within: UnitOfWork | None = None,
    ) -> str:
        """matching.match-confirmed for a transfer (its tonnes counted against `licence_id`),
        its manifest opened at `opened` (None: now), in the unit of work `within` if given
        (left for the caller to commit); returns the match id."""
        match_id = unique("match")
        planned = Decimal(tonnes) * Decimal(distance_km) * Decimal("0.078")
        self.clock.fixed = opened
        try:
            await self._confirmed(
                supplier,
                recycler,
                match_id,
                tonnes,
                code,
                distance_km,
                planned,
                (ship_from, ship_by),
                licence_id,
                within,
            )
        finally:
            self.clock.fixed = None
        return match_id

    async def _confirmed(
        self,
        supplier: Site,
        recycler: Site,
        match_id: str,
        tonnes: str,
        code: str,
        distance_km: str,
        planned: Decimal,
        window: tuple[date | None, date | None],
        licence_id: str | None,
        within: UnitOfWork | None,
    ) -> None:
        async with contextlib.AsyncExitStack() as stack:
            uow = within if within is not None else await stack.enter_async_context(self.uow())
            await self.service.on_match_confirmed(
                uow,
                envelope("matching.match-confirmed", match_id),
                MatchConfirmed(
                    match_id=match_id,
                    offer_id=unique("offer"),
                    demand_id=unique("demand"),
                    supplier_enterprise_id=supplier.enterprise_id,
                    supplier_site_id=supplier.site_id,
                    recycler_enterprise_id=recycler.enterprise_id,
                    recycler_site_id=recycler.site_id,
                    waste_code=code,
                    tonnes=Decimal(tonnes),
                    distance_km=Decimal(distance_km),
                    co2e_kg=planned,
                    freight_factor_key=FREIGHT,
                    freight_factor_kg_per_tkm=Decimal("0.078"),
                    avoided_factor_key=SLAG_AVOIDED if code == "SW01" else None,
                    status="CONFIRMED",
                    window_from=window[0],
                    window_until=window[1],
                    licence_id=licence_id,
                ),
            )
            if within is None:
                await uow.commit()

    async def licence(
        self,
        holder: Site,
        *,
        codes: tuple[str, ...] = ("SW01",),
        valid_from: date = date(2020, 1, 1),
        valid_until: date = date(2035, 12, 31),
        revoked_on: date | None = None,
        licence_id: str | None = None,
        version: int = 1,
        made: datetime | None = None,
    ) -> str:
        """The catalog's fact of a licence of `holder` (registered at version 1, amended
        after), made at `made` (now on the service's clock if None), reaches the ledger;
        returns its id."""
        licence_id = licence_id or unique("lic")
        facts = {
            "licence_id": licence_id,
            "enterprise_id": holder.enterprise_id,
            "number": f"鄂危废-{licence_id}",
            "waste_codes": list(codes),
            "annual_capacity_tonnes": Decimal(100_000),
            "valid_from": valid_from,
            "valid_until": valid_until,
            "licence_type": "HAZARDOUS_WASTE_OPERATING",
            "revoked_on": revoked_on,
            "version": version,
        }
        data: LicenceFacts = LicenceRegistered(**facts)
        kind = "catalog.licence-registered"
        if version > 1:
            data = LicenceAmended(**facts, reason="the bureau's decision")
            kind = "catalog.licence-amended"
        async with self.uow() as uow:
            event = envelope(kind, licence_id).model_copy(update={"time": made or self.clock()})
            await self.service.on_licence(uow, event, data)
            await uow.commit()
        return licence_id

    async def figures(self, scope: Scope, start: str, end: str | None = None) -> Utilisation:
        return await self.service.utilisation(scope, start, end or start)

    async def projection(self) -> dict[tuple[str, str, str], dict[str, int]]:
        async with self.uow() as uow:
            return await Repository(uow.session).projection_rows()


def envelope(kind: str, subject: str) -> Envelope:
    return Envelope.new(kind, "test", subject, {})


@asynccontextmanager
async def migrated(database_url: str) -> AsyncIterator[UnitOfWorkFactory]:
    engine = make_engine(database_url)
    try:
        await upgrade(engine, LOCATION)
        yield UnitOfWorkFactory(engine, messaging)
    finally:
        await engine.dispose()


def harness(uow: UnitOfWorkFactory, year_closes_on: YearClose | None = None) -> Harness:
    """A ledger on `uow` with the packaged zero-waste rules. Its years never close unless
    `year_closes_on` is given (decision 036): tests book history (2010, last year) on the
    real clock, and would stop passing when their year closed."""
    clock = Clock()
    config = LedgerConfig(rules=load_rules(), year_closes_on=year_closes_on)
    return Harness(LedgerService(uow, config, clock=clock), uow, clock)
