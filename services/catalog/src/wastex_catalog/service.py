"""The catalog's use cases: load → domain → save + outbox, in the caller's unit of work.

Every action has exactly one use case here, called by the GraphQL mutation and by the Kafka
ingest handler alike. A use case writes state and queues its past-tense event in the
outbox, but never commits: the GraphQL mutation commits its own unit of work, the batch
consumer commits once per batch. Who may call what is decided before (GraphQL policy, or the
ingest authenticator); a use case only checks that the acting enterprise owns what it
touches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from wastex_catalog.adapters.repository import CatalogRepository
from wastex_catalog.domain import (
    Demand,
    Enterprise,
    Licence,
    LicenceChange,
    LicenceType,
    Offer,
    Site,
    new_id,
)
from wastex_catalog.domain import errors as codes
from wastex_catalog.domain.common import DateInput, NumberInput, TonnesInput, require_text
from wastex_catalog.domain.licence import REASON_MAX_LENGTH
from wastex_catalog.events import publish
from wastex_catalog.matches import publish_update
from wastex_catalog.records import EnterpriseVersion, LicenceVersion, SiteVersion, Stored
from wastex_shared.calendar import Clock, china_today
from wastex_shared.codes import DistrictRegister
from wastex_shared.envelope import Envelope, derived_id, utcnow
from wastex_shared.errors import DomainError, NotAuthorized, NotFound
from wastex_shared.events.catalog import (
    DemandAmended,
    DemandPosted,
    DemandWithdrawn,
    EnterpriseAmended,
    EnterpriseRegistered,
    LicenceAmended,
    LicenceRegistered,
    OfferAmended,
    OfferPosted,
    OfferWithdrawn,
    SiteAdded,
    SiteAmended,
)
from wastex_shared.storage import UnitOfWork

L = TypeVar("L", Offer, Demand)


@dataclass(frozen=True, slots=True)
class RegisterEnterprise:
    name: str
    credit_code: str
    industry: str
    district: str
    kind: str
    #: Who registers it (the admin's token subject), kept on the enterprise's first version.
    by: str | None = None


@dataclass(frozen=True, slots=True)
class AmendEnterprise:
    enterprise_id: str
    reason: str
    name: str | None = None
    industry: str | None = None
    district: str | None = None
    by: str | None = None


@dataclass(frozen=True, slots=True)
class AddSite:
    enterprise_id: str
    name: str
    district: str
    latitude: NumberInput
    longitude: NumberInput
    #: An admin adds it, who may place it in any district; an enterprise places its own
    #: sites in the district it is registered in.
    by_admin: bool = False
    #: Who adds it (the token's subject), kept on the site's first version.
    by: str | None = None


@dataclass(frozen=True, slots=True)
class AmendSite:
    site_id: str
    reason: str
    name: str | None = None
    district: str | None = None
    latitude: NumberInput | None = None
    longitude: NumberInput | None = None
    #: The enterprise amending its own site, None for an admin: an enterprise keeps its
    #: sites in the district it is registered in, as when it adds one.
    owner: str | None = None
    by: str | None = None


@dataclass(frozen=True, slots=True)
class RegisterLicence:
    enterprise_id: str
    number: str
    waste_codes: Sequence[str]
    annual_capacity_tonnes: TonnesInput
    valid_from: DateInput
    valid_until: DateInput
    type: LicenceType | str | None = None
    #: Who registers it (the admin's token subject), kept on the licence's first version.
    by: str | None = None


@dataclass(frozen=True, slots=True)
class AmendLicence:
    licence_id: str
    reason: str
    waste_codes: Sequence[str] | None = None
    annual_capacity_tonnes: TonnesInput | None = None
    valid_from: DateInput | None = None
    valid_until: DateInput | None = None
    by: str | None = None


@dataclass(frozen=True, slots=True)
class RevokeLicence:
    licence_id: str
    reason: str
    effective_from: DateInput | None = None
    by: str | None = None


@dataclass(frozen=True, slots=True)
class PostOffer:
    site_id: str
    waste_code: str
    quantity_tonnes: TonnesInput
    available_from: DateInput
    available_until: DateInput
    description: str | None = ""
    moisture_percent: NumberInput | None = None
    particle_size_mm: NumberInput | None = None


@dataclass(frozen=True, slots=True)
class AmendOffer:
    """The terms to change of offer `offer_id`; None leaves one as it is."""

    offer_id: str
    quantity_tonnes: TonnesInput | None = None
    available_from: DateInput | None = None
    available_until: DateInput | None = None
    description: str | None = None
    moisture_percent: NumberInput | None = None
    particle_size_mm: NumberInput | None = None


@dataclass(frozen=True, slots=True)
class PostDemand:
    site_id: str
    waste_codes: Sequence[str]
    quantity_tonnes: TonnesInput
    max_distance_km: NumberInput
    available_from: DateInput
    available_until: DateInput


@dataclass(frozen=True, slots=True)
class AmendDemand:
    """The terms to change of demand `demand_id`; None leaves one as it is."""

    demand_id: str
    quantity_tonnes: TonnesInput | None = None
    max_distance_km: NumberInput | None = None
    available_from: DateInput | None = None
    available_until: DateInput | None = None


def aggregate_id(kind: str, cause: Envelope | None) -> str:
    """A new aggregate's id; derived from the causing message when there is one, so the
    same ingest message always names the same offer (replays, re-drives)."""
    return derived_id(kind, cause.source, cause.id) if cause else new_id()


class CatalogService:
    """Commands on enterprises, sites, licences, offers and demands."""

    def __init__(
        self,
        clock: Clock = china_today,
        *,
        districts: DistrictRegister,
        require_china: bool = True,
        renewal_grace_days: int = 7,
    ) -> None:
        self.today = clock
        #: The city's districts: the only names enterprises and sites are registered in.
        self.districts = districts
        #: Refuse sites outside China (catches swapped latitude/longitude).
        self.require_china = require_china
        #: Days a demand waits for a renewal after its licences run out on their term.
        self.renewal_grace_days = renewal_grace_days

    async def register_enterprise(
        self, uow: UnitOfWork, command: RegisterEnterprise, *, cause: Envelope | None = None
    ) -> Stored[Enterprise]:
        repository = CatalogRepository(uow.session)
        enterprise = Enterprise.register(
            id=aggregate_id("enterprise", cause),
            name=command.name,
            credit_code=command.credit_code,
            industry=command.industry,
            district=command.district,
            kind=command.kind,
            districts=self.districts,
        )
        holder = await repository.enterprise_with_credit_code(enterprise.credit_code)
        if holder is not None:
            raise DomainError(
                codes.DUPLICATE_CREDIT_CODE,
                f"credit code {enterprise.credit_code} is already registered ({holder})",
                "creditCode",
            )
        at = utcnow()
        await repository.add_enterprise(enterprise, at)
        await repository.add_enterprise_version(EnterpriseVersion(enterprise, None, at, command.by))
        await publish(
            uow, EnterpriseRegistered(**enterprise_facts(enterprise)), enterprise.id, cause
        )
        return Stored(enterprise, at)

    async def amend_enterprise(
        self, uow: UnitOfWork, command: AmendEnterprise
    ) -> Stored[Enterprise]:
        """Correct an enterprise's name, industry or registered district, saying why. Its
        sites stay where they are; ledger entries booked before keep the industry and
        district they were booked under (decision 025)."""
        reason = require_text(command.reason, "reason", max_length=REASON_MAX_LENGTH)
        repository = CatalogRepository(uow.session)
        stored = await repository.enterprise(command.enterprise_id)
        if stored is None:
            raise NotFound("enterprise", command.enterprise_id, "enterpriseId")
        amended = stored.entity.amend(
            name=command.name,
            industry=command.industry,
            district=command.district,
            districts=self.districts,
        )
        if not await repository.save_enterprise(amended):
            raise DomainError(
                codes.CONFLICT,
                f"enterprise {amended.id} changed meanwhile; read it again",
                "enterpriseId",
            )
        version = EnterpriseVersion(amended, reason, utcnow(), command.by)
        await repository.add_enterprise_version(version)
        fact = EnterpriseAmended(**enterprise_facts(amended), reason=reason)
        # Keyed like the registration; the version orders them across the two topics.
        await publish(uow, fact, amended.id, None)
        return Stored(amended, stored.created_at, amended.version)

    async def add_site(
        self, uow: UnitOfWork, command: AddSite, *, cause: Envelope | None = None
    ) -> Stored[Site]:
        repository = CatalogRepository(uow.session)
        owner = await repository.enterprise(command.enterprise_id)
        if owner is None:
            raise NotFound("enterprise", command.enterprise_id, "enterpriseId")
        # Checked before whose district it is: a name the register lacks is UNKNOWN_DISTRICT
        # (with the name meant) whoever writes it.
        site = Site.add(
            id=aggregate_id("site", cause),
            enterprise_id=owner.entity.id,
            name=command.name,
            district=command.district,
            latitude=command.latitude,
            longitude=command.longitude,
            districts=self.districts,
            require_china=self.require_china,
        )
        if not command.by_admin and site.district != owner.entity.district:
            # A site's district decides which regulator oversees what it offers, ships and
            # books: an enterprise naming its own could hide its works from its regulator.
            raise DomainError(
                codes.NOT_AUTHORIZED,
                f"an enterprise adds sites in the district it is registered in "
                f"({owner.entity.district}); an admin adds one elsewhere",
                "district",
            )
        at = utcnow()
        await repository.add_site(site, at)
        await repository.add_site_version(SiteVersion(site, None, at, command.by))
        await publish(uow, SiteAdded(**site_facts(site, owner.entity)), site.id, cause)
        return Stored(site, at)

    async def amend_site(self, uow: UnitOfWork, command: AmendSite) -> Stored[Site]:
        """Correct a site's name, district or coordinates, saying why; its live offers and
        demands are published again from where it now lies. Ledger entries booked before
        keep the district they were booked under (decision 026)."""
        reason = require_text(command.reason, "reason", max_length=REASON_MAX_LENGTH)
        repository = CatalogRepository(uow.session)
        # Whose it is, before the exclusive lock that holds every posting in the city back.
        seen = await repository.sites([command.site_id])
        if command.site_id not in seen:
            raise NotFound("site", command.site_id, "id")
        if command.owner not in (None, seen[command.site_id].entity.enterprise_id):
            raise NotAuthorized(
                f"site {command.site_id} is not a site of enterprise {command.owner}", "id"
            )
        stored = await repository.site_to_amend(command.site_id)
        assert stored is not None  # sites are never deleted
        site = stored.entity
        amended = site.amend(
            name=command.name,
            district=command.district,
            latitude=command.latitude,
            longitude=command.longitude,
            districts=self.districts,
            require_china=self.require_china,
        )
        owner = await repository.enterprise(site.enterprise_id)
        if owner is None:
            raise NotFound("enterprise", site.enterprise_id, "id")
        registered = owner.entity.district
        if command.owner is not None and amended.district not in (site.district, registered):
            raise DomainError(
                codes.NOT_AUTHORIZED,
                f"an enterprise keeps its sites in the district it is registered in "
                f"({registered}); an admin moves one elsewhere",
                "district",
            )
        at = utcnow()
        await repository.save_site(amended)
        await repository.add_site_version(SiteVersion(amended, reason, at, command.by))
        fact = SiteAmended(**site_facts(amended, owner.entity), reason=reason)
        # Keyed like the addition; the version orders them across the two topics.
        await publish(uow, fact, amended.id, None)
        # Listings' facts carry the site's district and place, not its name.
        if (amended.district, amended.latitude, amended.longitude) != (
            site.district,
            site.latitude,
            site.longitude,
        ):
            for listing in await repository.live_listings_at(amended.id):
                version = await repository.save_listing(listing.entity, at)
                await _publish_amended(uow, listing.entity, amended, version, ["site"], None)
        return Stored(amended, stored.created_at, amended.version)

    async def register_licence(
        self, uow: UnitOfWork, command: RegisterLicence, *, cause: Envelope | None = None
    ) -> Stored[Licence]:
        repository = CatalogRepository(uow.session)
        if await repository.enterprise(command.enterprise_id) is None:
            raise NotFound("enterprise", command.enterprise_id, "enterpriseId")
        await repository.lock_licence_holder(command.enterprise_id, changing=True)
        licence = Licence.register(
            id=aggregate_id("licence", cause),
            enterprise_id=command.enterprise_id,
            number=command.number,
            waste_codes=command.waste_codes,
            annual_capacity_tonnes=command.annual_capacity_tonnes,
            valid_from=command.valid_from,
            valid_until=command.valid_until,
            type=command.type,
        )
        if await repository.licence_number_taken(licence.number_key):
            raise DomainError(
                codes.DUPLICATE_LICENCE_NUMBER,
                f"licence {licence.number} is already registered",
                "number",
            )
        at = utcnow()
        await repository.add_licence(licence, at)
        version = LicenceVersion(licence, LicenceChange.REGISTERED, None, at, command.by)
        await repository.add_licence_version(version)
        await publish(uow, LicenceRegistered(**licence_facts(licence)), licence.id, cause)
        await self._relicense_demands(uow, repository, licence.enterprise_id)
        return Stored(licence, at)

    async def amend_licence(self, uow: UnitOfWork, command: AmendLicence) -> Stored[Licence]:
        """Correct a licence's codes, tonnage or validity, saying why."""
        reason = require_text(command.reason, "reason", max_length=REASON_MAX_LENGTH)
        return await self._change_licence(
            uow,
            command.licence_id,
            lambda licence: licence.amend(
                waste_codes=command.waste_codes,
                annual_capacity_tonnes=command.annual_capacity_tonnes,
                valid_from=command.valid_from,
                valid_until=command.valid_until,
            ),
            LicenceChange.AMENDED,
            reason,
            command.by,
        )

    async def revoke_licence(self, uow: UnitOfWork, command: RevokeLicence) -> Stored[Licence]:
        """Record a licence's revocation from today or a later day."""
        return await self._change_licence(
            uow,
            command.licence_id,
            lambda licence: licence.revoke(
                reason=command.reason, effective_from=command.effective_from, today=self.today()
            ),
            LicenceChange.REVOKED,
            command.reason.strip(),
            command.by,
        )

    async def _change_licence(
        self,
        uow: UnitOfWork,
        licence_id: str,
        change: Callable[[Licence], Licence],
        kind: LicenceChange,
        reason: str,
        by: str | None,
    ) -> Stored[Licence]:
        repository = CatalogRepository(uow.session)
        stored = await repository.licence(licence_id)
        if stored is None:
            raise NotFound("licence", licence_id, "id")
        await repository.hold_sites()  # its demands are locked below: the count first
        await repository.lock_licence_holder(stored.entity.enterprise_id, changing=True)
        stored = await repository.licence(licence_id)  # as it stands once no change is under way
        assert stored is not None  # licences are never deleted
        changed = change(stored.entity)
        if not await repository.save_licence(changed):
            raise DomainError(
                codes.CONFLICT, f"licence {licence_id} changed meanwhile; read it again", "id"
            )
        await repository.add_licence_version(LicenceVersion(changed, kind, reason, utcnow(), by))
        fact = LicenceAmended(**licence_facts(changed), reason=reason)
        # Keyed like the registration; the version orders them across the two topics.
        await publish(uow, fact, changed.id, None)
        await self._relicense_demands(uow, repository, changed.enterprise_id)
        return Stored(changed, stored.created_at)

    async def _relicense_demands(
        self, uow: UnitOfWork, repository: CatalogRepository, holder: str
    ) -> None:
        """After a licence of `holder` changed (the caller holds `lock_licence_holder`): the
        last day its licences cover each of its demands not withdrawn or expired, and when
        that is a licence's term, the last day it waits for a renewal (decision 034). One
        with no day left on the market leaves it now (EXPIRED, reason UNLICENSED), the others
        at the expiry sweep after their last day, and a renewal gives back the whole window."""
        licences = [stored.entity for stored in (await repository.licences_of([holder]))[holder]]
        live = await repository.demands(await repository.live_demand_ids_of(holder))
        grace = self.renewal_grace_days

        def licensing(demand: Demand) -> tuple[date | None, date | None]:
            return demand.licensed_until, demand.awaits_renewal_until

        # Only the demands that change are locked (in id order): the lifecycle consumer
        # locks demands too, and most licence changes move none.
        moved = [
            demand_id
            for demand_id, stored in live.items()
            if licensing(stored.entity.relicensed(licences, grace_days=grace))
            != licensing(stored.entity)
        ]
        today, now = self.today(), utcnow()
        for stored in (await repository.demands(moved, for_update=True)).values():
            relicensed = stored.entity.relicensed(licences, grace_days=grace)
            await repository.save_licensed_until(relicensed)
            expired = relicensed.expire_if_due(today)
            if expired is not relicensed:
                version = await repository.save_listing(expired, now)
                await publish_update(uow, expired, version, expired.expiry_reason)

    async def _own_site(self, repository: CatalogRepository, site_id: str, owner: str) -> Site:
        site = await self._site(repository, site_id)
        if site.enterprise_id != owner:
            raise NotAuthorized(f"site {site_id} is not a site of enterprise {owner}", "siteId")
        return site

    @staticmethod
    async def _site(repository: CatalogRepository, site_id: str) -> Site:
        stored = await repository.site(site_id)
        if stored is None:
            raise NotFound("site", site_id, "siteId")
        return stored.entity

    async def post_offer(
        self, uow: UnitOfWork, command: PostOffer, *, owner: str, cause: Envelope | None = None
    ) -> Stored[Offer]:
        """A new OPEN offer at one of `owner`'s sites."""
        repository = CatalogRepository(uow.session)
        site = await self._own_site(repository, command.site_id, owner)
        offer = Offer.post(
            id=aggregate_id("offer", cause),
            site=site,
            waste_code=command.waste_code,
            quantity_tonnes=command.quantity_tonnes,
            available_from=command.available_from,
            available_until=command.available_until,
            description=command.description,
            moisture_percent=command.moisture_percent,
            particle_size_mm=command.particle_size_mm,
            today=self.today(),
        )
        at = utcnow()
        await repository.add_offer(offer, at)
        await publish(uow, OfferPosted(**offer_facts(offer, site, 1)), offer.id, cause)
        return Stored(offer, at)

    async def amend_offer(
        self, uow: UnitOfWork, command: AmendOffer, *, owner: str, cause: Envelope | None = None
    ) -> Stored[Offer]:
        """Change the terms of `owner`'s offer; its matches keep what they hold, and
        matching plans the rest on the new terms (`catalog.offer-amended`)."""
        repository = CatalogRepository(uow.session)
        # A use case that locks a listing and may read a site (here, or later in the same
        # ingest batch) holds the sites first: the lock order a site amendment takes.
        await repository.hold_sites()
        stored = await repository.offer(command.offer_id, for_update=True)
        if stored is None:
            raise NotFound("offer", command.offer_id)
        offer = stored.entity.amend(
            owner,
            today=self.today(),
            quantity_tonnes=command.quantity_tonnes,
            available_from=command.available_from,
            available_until=command.available_until,
            description=command.description,
            moisture_percent=command.moisture_percent,
            particle_size_mm=command.particle_size_mm,
        )
        return await self._save_amendment(uow, repository, stored, offer, cause)

    async def withdraw_offer(
        self, uow: UnitOfWork, offer_id: str, *, owner: str, cause: Envelope | None = None
    ) -> Stored[Offer]:
        """Take the rest of `owner`'s offer off the market."""
        repository = CatalogRepository(uow.session)
        await repository.hold_sites()  # as `amend_offer`: a batch may post after it
        stored = await repository.offer(offer_id, for_update=True)
        if stored is None:
            raise NotFound("offer", offer_id)
        offer = stored.entity.withdraw(owner)
        version = await repository.save_listing(offer, utcnow())
        fact = OfferWithdrawn(
            offer_id=offer.id,
            enterprise_id=offer.enterprise_id,
            remaining_tonnes=offer.remaining_tonnes,
            status=offer.status.value,
            version=version,
            waste_code=offer.waste_code,
        )
        await publish(uow, fact, offer.id, cause)
        return Stored(offer, stored.created_at, version, stored.counterparties)

    async def post_demand(
        self, uow: UnitOfWork, command: PostDemand, *, owner: str, cause: Envelope | None = None
    ) -> Stored[Demand]:
        """A new OPEN demand at one of `owner`'s sites, for codes its licences cover on its
        first day from today on (its window may run past them: `Demand.licensed_until`)."""
        repository = CatalogRepository(uow.session)
        site = await self._own_site(repository, command.site_id, owner)
        # A licence change of the owner's committing meanwhile would not see this demand.
        await repository.lock_licence_holder(owner, changing=False)
        licences = (await repository.licences_of([owner]))[owner]
        demand = Demand.post(
            id=aggregate_id("demand", cause),
            site=site,
            waste_codes=command.waste_codes,
            quantity_tonnes=command.quantity_tonnes,
            max_distance_km=command.max_distance_km,
            available_from=command.available_from,
            available_until=command.available_until,
            licences=[stored.entity for stored in licences],
            grace_days=self.renewal_grace_days,
            today=self.today(),
        )
        at = utcnow()
        await repository.add_demand(demand, at)
        await publish(uow, DemandPosted(**demand_facts(demand, site, 1)), demand.id, cause)
        return Stored(demand, at)

    async def amend_demand(
        self, uow: UnitOfWork, command: AmendDemand, *, owner: str, cause: Envelope | None = None
    ) -> Stored[Demand]:
        """Change the terms of `owner`'s demand (a new window is checked against its
        licences); its matches keep what they hold (`catalog.demand-amended`)."""
        repository = CatalogRepository(uow.session)
        await repository.hold_sites()  # as `amend_offer`
        # Read the licences as a posting does: a licence change committing meanwhile waits.
        await repository.lock_licence_holder(owner, changing=False)
        stored = await repository.demand(command.demand_id, for_update=True)
        if stored is None:
            raise NotFound("demand", command.demand_id)
        holder = stored.entity.enterprise_id
        licences = (await repository.licences_of([holder]))[holder]
        demand = stored.entity.amend(
            owner,
            licences=[lic.entity for lic in licences],
            today=self.today(),
            grace_days=self.renewal_grace_days,
            quantity_tonnes=command.quantity_tonnes,
            max_distance_km=command.max_distance_km,
            available_from=command.available_from,
            available_until=command.available_until,
        )
        return await self._save_amendment(uow, repository, stored, demand, cause)

    async def _save_amendment(
        self,
        uow: UnitOfWork,
        repository: CatalogRepository,
        stored: Stored[L],
        amended: L,
        cause: Envelope | None,
    ) -> Stored[L]:
        """Store an amended offer or demand and publish it whole, with what changed."""
        version = await repository.save_listing(amended, utcnow(), terms=True)
        site = await self._site(repository, amended.site_id)
        changed = amended.changed_terms(stored.entity)
        await _publish_amended(uow, amended, site, version, changed, cause)
        return Stored(amended, stored.created_at, version, stored.counterparties)

    async def withdraw_demand(
        self, uow: UnitOfWork, demand_id: str, *, owner: str, cause: Envelope | None = None
    ) -> Stored[Demand]:
        repository = CatalogRepository(uow.session)
        await repository.hold_sites()  # as `amend_offer`: a batch may post after it
        stored = await repository.demand(demand_id, for_update=True)
        if stored is None:
            raise NotFound("demand", demand_id)
        demand = stored.entity.withdraw(owner)
        version = await repository.save_listing(demand, utcnow())
        fact = DemandWithdrawn(
            demand_id=demand.id,
            enterprise_id=demand.enterprise_id,
            remaining_tonnes=demand.remaining_tonnes,
            status=demand.status.value,
            version=version,
        )
        await publish(uow, fact, demand.id, cause)
        return Stored(demand, stored.created_at, version, stored.counterparties)


async def _publish_amended(
    uow: UnitOfWork,
    listing: Offer | Demand,
    site: Site,
    version: int,
    changed: list[str],
    cause: Envelope | None,
) -> None:
    """Publish an amended offer or demand whole, where its site lies, with what changed
    (GraphQL names)."""
    changes: dict[str, Any] = {
        "changed": changed,
        "matched_tonnes": listing.matched_tonnes,
        "remaining_tonnes": listing.remaining_tonnes,
    }
    fact: OfferAmended | DemandAmended
    if isinstance(listing, Offer):
        fact = OfferAmended(**offer_facts(listing, site, version), **changes)
    else:
        fact = DemandAmended(**demand_facts(listing, site, version), **changes)
    await publish(uow, fact, listing.id, cause)


def site_facts(site: Site, owner: Enterprise) -> dict[str, Any]:
    """A site as its facts carry it, with its enterprise as it stands (`SiteAdded`)."""
    return {
        "site_id": site.id,
        "enterprise_id": site.enterprise_id,
        "name": site.name,
        "district": site.district,
        "latitude": site.latitude,
        "longitude": site.longitude,
        "industry": owner.industry,
        "enterprise_district": owner.district,
        "enterprise_version": owner.version,
        "version": site.version,
    }


def offer_facts(offer: Offer, site: Site, version: int) -> dict[str, Any]:
    """An offer as its facts carry it (`OfferFacts`), with where it lies."""
    return {
        "offer_id": offer.id,
        "enterprise_id": offer.enterprise_id,
        "site_id": site.id,
        "district": site.district,
        "latitude": site.latitude,
        "longitude": site.longitude,
        "waste_code": offer.waste_code,
        "hazardous": offer.hazardous,
        "quantity_tonnes": offer.quantity_tonnes,
        "available_from": offer.available_from,
        "available_until": offer.available_until,
        "description": offer.description,
        "moisture_percent": offer.moisture_percent,
        "particle_size_mm": offer.particle_size_mm,
        "status": offer.status.value,
        "version": version,
    }


def demand_facts(demand: Demand, site: Site, version: int) -> dict[str, Any]:
    """A demand as its facts carry it (`DemandFacts`), with where it lies."""
    return {
        "demand_id": demand.id,
        "enterprise_id": demand.enterprise_id,
        "site_id": site.id,
        "district": site.district,
        "latitude": site.latitude,
        "longitude": site.longitude,
        "waste_codes": list(demand.waste_codes),
        "hazardous": demand.hazardous,
        "quantity_tonnes": demand.quantity_tonnes,
        "max_distance_km": demand.max_distance_km,
        "available_from": demand.available_from,
        "available_until": demand.available_until,
        "status": demand.status.value,
        "version": version,
    }


def enterprise_facts(enterprise: Enterprise) -> dict[str, Any]:
    """An enterprise as its facts carry it (`EnterpriseFacts`)."""
    return {
        "enterprise_id": enterprise.id,
        "name": enterprise.name,
        "credit_code": enterprise.credit_code,
        "industry": enterprise.industry,
        "district": enterprise.district,
        "kind": enterprise.kind.value,
        "version": enterprise.version,
    }


def licence_facts(licence: Licence) -> dict[str, Any]:
    """A licence as its facts carry it (`LicenceFacts`)."""
    return {
        "licence_id": licence.id,
        "enterprise_id": licence.enterprise_id,
        "number": licence.number,
        "waste_codes": list(licence.waste_codes),
        "annual_capacity_tonnes": licence.annual_capacity_tonnes,
        "valid_from": licence.valid_from,
        "valid_until": licence.valid_until,
        "licence_type": licence.type.value,
        "revoked_on": licence.revoked_on,
        "version": licence.version,
    }
