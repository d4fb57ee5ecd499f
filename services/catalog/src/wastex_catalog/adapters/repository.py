"""The catalog's storage: single-record reads and writes on the unit of work's session.

Scoped, paginated list queries live in `listing_queries`; mapping in `rows`. Loads meant
for a change take a row lock (`for_update`, a no-op on SQLite, whose writers are already
serialised), so a withdrawal and a match allocation on the same offer cannot interleave.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import (
    Engine,
    Result,
    Table,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from wastex_catalog.adapters import rows
from wastex_catalog.adapters.tables import (
    DEMAND_CODES,
    DEMANDS,
    ENTERPRISE_VERSIONS,
    ENTERPRISES,
    LICENCE_VERSIONS,
    LICENCES,
    MATCH_ALLOCATIONS,
    OFFERS,
    SITE_REGISTER,
    SITE_VERSIONS,
    SITES,
)
from wastex_catalog.domain import Demand, Enterprise, Licence, ListingStatus, Offer, Site
from wastex_catalog.domain.listing import ACTIVE_STATUSES, TERMINAL_STATUSES, Listing
from wastex_catalog.records import (
    EnterpriseVersion,
    LicenceVersion,
    MatchAllocation,
    SiteVersion,
    Stored,
)
from wastex_shared.storage import (
    dialect_of,
    flush_queued,
    queued_view,
    upsert_overwriting,
    write_later,
)

ACTIVE = [status.value for status in ACTIVE_STATUSES]
LIVE = [status.value for status in ListingStatus if status not in TERMINAL_STATUSES]


@dataclass(slots=True)
class _KnownSites:
    """Sites read, by id, as they stood after `amendments` site amendments."""

    amendments: int
    sites: dict[str, Stored[Site]]

    def keep(self, read: _KnownSites) -> _KnownSites:
        """What a process knows once a transaction that read `read` has committed."""
        if read.amendments > self.amendments:
            return _KnownSites(read.amendments, dict(read.sites))
        if read.amendments == self.amendments:
            self.sites.update(read.sites)
        return self  # `read` is of sites amended since: stale


#: The one row of `site_register`.
_SITE_REGISTER_ROW = 1
#: Session info key: the sites this transaction has read (`_KnownSites`).
_SITES_READ = "sites"
#: Sites committed to each database (by its engine). A site changes only by an amendment,
#: which raises `site_register.amendments`; while that count is what a transaction reads,
#: it may take any site from here: an ingest batch of offers names a site each, a query
#: apiece, half of a batch's handling. Filled only on commit, so a site added by a
#: transaction that rolled back never gets in.
_COMMITTED_SITES: WeakKeyDictionary[Engine, _KnownSites] = WeakKeyDictionary()


def _engine_of(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


@event.listens_for(Session, "after_commit")
def _keep_committed_sites(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: the transaction may still roll back
    if (read := session.info.pop(_SITES_READ, None)) is not None:
        engine = _engine_of(session)
        known = _COMMITTED_SITES.get(engine)
        _COMMITTED_SITES[engine] = read if known is None else known.keep(read)


@event.listens_for(Session, "after_soft_rollback")
def _forget_sites_read(session: Session, _: Any) -> None:
    # A savepoint rolled back releases the shared lock taken in it: read the count again.
    session.info.pop(_SITES_READ, None)


@dataclass(frozen=True, slots=True)
class ListingState:
    status: str
    matched_tonnes: Decimal
    version: int

    def same_as(self, other: ListingState) -> bool:
        return (self.status, self.matched_tonnes) == (other.status, other.matched_tonnes)


_INSERT_OFFER = insert(OFFERS)
#: `queued_view` of the allocations this transaction put: read back without the queue run.
_ALLOCATIONS_PUT = "catalog.match_allocations"


#: What a later event of the match overwrites on its allocation's row.
_ALLOCATION_COLUMNS = tuple(c.name for c in MATCH_ALLOCATIONS.columns if c.name != "match_id")


class CatalogRepository:
    """Queries and writes; offers and match allocations are written with `write_later`, so
    every statement here runs the queue first and reads see every row the transaction added
    (but `allocation`, which reads the allocations queued through their view)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _execute(self, statement: Any, params: Any = None) -> Result[Any]:
        await flush_queued(self.session)
        result: Result[Any] = await self.session.execute(statement, params)
        return result

    async def _rows(self, statement: Any) -> Sequence[Any]:
        return (await self._execute(statement)).mappings().all()

    async def _one(self, statement: Any) -> Any | None:
        return (await self._execute(statement)).mappings().first()

    async def _by_ids(self, table: Table, ids: Iterable[str]) -> Sequence[Any]:
        wanted = sorted(set(ids))
        if not wanted:
            return []
        return await self._rows(select(table).where(table.c.id.in_(wanted)))

    # --- enterprises -------------------------------------------------------------------

    async def add_enterprise(self, enterprise: Enterprise, at: datetime) -> None:
        await self._execute(insert(ENTERPRISES), rows.enterprise_values(enterprise, at))

    async def enterprise(self, enterprise_id: str) -> Stored[Enterprise] | None:
        row = await self._one(select(ENTERPRISES).where(ENTERPRISES.c.id == enterprise_id))
        return rows.enterprise_of(row) if row else None

    async def holds_district(self, district: str) -> bool:
        """Some enterprise or site is registered in `district`."""
        held = union_all(
            select(ENTERPRISES.c.id).where(ENTERPRISES.c.district == district),
            select(SITES.c.id).where(SITES.c.district == district),
        ).limit(1)
        return (await self._execute(held)).first() is not None

    async def save_enterprise(self, enterprise: Enterprise) -> bool:
        """Write an amended enterprise over the version before it (a compare-and-set: of two
        concurrent amendments one finds it moved on)."""
        result = await self._execute(
            update(ENTERPRISES)
            .where(
                ENTERPRISES.c.id == enterprise.id, ENTERPRISES.c.version == enterprise.version - 1
            )
            .values(
                name=enterprise.name,
                industry=enterprise.industry,
                district=enterprise.district,
                version=enterprise.version,
            )
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def add_enterprise_version(self, version: EnterpriseVersion) -> None:
        await self._execute(insert(ENTERPRISE_VERSIONS), rows.enterprise_version_values(version))

    async def enterprise_versions(
        self, enterprise_ids: Iterable[str]
    ) -> dict[str, list[EnterpriseVersion]]:
        """Each enterprise's versions, oldest first."""
        wanted = sorted(set(enterprise_ids))
        found: dict[str, list[EnterpriseVersion]] = {i: [] for i in wanted}
        if wanted:
            statement = (
                select(ENTERPRISE_VERSIONS, ENTERPRISES.c.credit_code, ENTERPRISES.c.kind)
                .join(ENTERPRISES, ENTERPRISES.c.id == ENTERPRISE_VERSIONS.c.enterprise_id)
                .where(ENTERPRISE_VERSIONS.c.enterprise_id.in_(wanted))
                .order_by(ENTERPRISE_VERSIONS.c.enterprise_id, ENTERPRISE_VERSIONS.c.version)
            )
            for row in await self._rows(statement):
                found[row["enterprise_id"]].append(rows.enterprise_version_of(row))
        return found

    async def enterprises(self, ids: Iterable[str]) -> dict[str, Stored[Enterprise]]:
        found = [rows.enterprise_of(r) for r in await self._by_ids(ENTERPRISES, ids)]
        return {s.entity.id: s for s in found}

    async def enterprise_with_credit_code(self, credit_code: str) -> str | None:
        row = await self._one(
            select(ENTERPRISES.c.id).where(ENTERPRISES.c.credit_code == credit_code)
        )
        return str(row["id"]) if row else None

    # --- sites -------------------------------------------------------------------------

    async def add_site(self, site: Site, at: datetime) -> None:
        await self._execute(insert(SITES), rows.site_values(site, at))

    async def hold_sites(self) -> _KnownSites:
        """The sites this transaction reads, as they stand until it ends: the first call
        reads the count of site amendments under a shared lock (PostgreSQL), which an
        amendment waits for. A transaction that locks a listing and reads its site calls
        this first (the lock order: the count, then listings)."""
        read: _KnownSites | None = self.session.info.get(_SITES_READ)
        if read is None:
            count = await self._one(
                select(SITE_REGISTER.c.amendments)
                .where(SITE_REGISTER.c.id == _SITE_REGISTER_ROW)
                .with_for_update(read=True)
            )
            amendments = 0 if count is None else int(count["amendments"])
            read = self.session.info[_SITES_READ] = _KnownSites(amendments, {})
        return read

    async def site(self, site_id: str) -> Stored[Site] | None:
        """The site, read once per database while no site is amended (`_COMMITTED_SITES`),
        and once per transaction until it commits."""
        read = await self.hold_sites()
        committed = _COMMITTED_SITES.get(_engine_of(self.session.sync_session))
        if committed is not None and committed.amendments == read.amendments:
            known = committed.sites.get(site_id)
            if known is not None:
                return known
        if site_id not in read.sites:
            row = await self._one(select(SITES).where(SITES.c.id == site_id))
            if row is None:
                return None
            read.sites[site_id] = rows.site_of(row)
        return read.sites[site_id]

    async def site_to_amend(self, site_id: str) -> Stored[Site] | None:
        """The site, locked for an amendment once the count of amendments is raised under
        an exclusive lock: postings reading sites wait until the amendment commits, and
        then read the count it left, so no process goes on with the site as it was."""
        count = (
            update(SITE_REGISTER)
            .where(SITE_REGISTER.c.id == _SITE_REGISTER_ROW)
            .values(amendments=SITE_REGISTER.c.amendments + 1)
            .returning(SITE_REGISTER.c.amendments)
        )
        amendments = int((await self._execute(count)).scalar_one())
        # Whatever this transaction read before is of the count before.
        self.session.info[_SITES_READ] = _KnownSites(amendments, {})
        row = await self._one(select(SITES).where(SITES.c.id == site_id).with_for_update())
        return rows.site_of(row) if row else None

    async def save_site(self, site: Site) -> None:
        """Write an amended site (its row is locked: `site_to_amend`), and its district on
        every listing there, which copy it for regulators' scopes."""
        await self._execute(
            update(SITES)
            .where(SITES.c.id == site.id)
            .values(
                name=site.name,
                district=site.district,
                latitude=site.latitude,
                longitude=site.longitude,
                version=site.version,
            )
        )
        for table in (OFFERS, DEMANDS):
            await self._execute(
                update(table)
                .where(table.c.site_id == site.id, table.c.district != site.district)
                .values(district=site.district)
            )

    async def live_listings_at(self, site_id: str) -> list[Stored[Offer] | Stored[Demand]]:
        """The offers and demands at the site not withdrawn or expired, locked."""

        async def live_ids(table: Table) -> list[str]:
            # Locked with the filter, in id order: a listing expired meanwhile drops out.
            live = (
                select(table.c.id)
                .where(table.c.site_id == site_id, table.c.status.in_(LIVE))
                .order_by(table.c.id)
                .with_for_update()
            )
            return [row["id"] for row in await self._rows(live)]

        # Loaded whole once locked (the rows stay locked until the transaction ends).
        offers = await self.offers(await live_ids(OFFERS))
        demands = await self.demands(await live_ids(DEMANDS))
        return [*offers.values(), *demands.values()]

    async def add_site_version(self, version: SiteVersion) -> None:
        await self._execute(insert(SITE_VERSIONS), rows.site_version_values(version))

    async def site_versions(self, site_ids: Iterable[str]) -> dict[str, list[SiteVersion]]:
        """Each site's versions, oldest first."""
        wanted = sorted(set(site_ids))
        found: dict[str, list[SiteVersion]] = {i: [] for i in wanted}
        if wanted:
            statement = (
                select(SITE_VERSIONS, SITES.c.enterprise_id)
                .join(SITES, SITES.c.id == SITE_VERSIONS.c.site_id)
                .where(SITE_VERSIONS.c.site_id.in_(wanted))
                .order_by(SITE_VERSIONS.c.site_id, SITE_VERSIONS.c.version)
            )
            for row in await self._rows(statement):
                found[row["site_id"]].append(rows.site_version_of(row))
        return found

    async def sites(self, ids: Iterable[str]) -> dict[str, Stored[Site]]:
        found = [rows.site_of(r) for r in await self._by_ids(SITES, ids)]
        return {s.entity.id: s for s in found}

    async def sites_of(self, enterprise_ids: Iterable[str]) -> dict[str, list[Stored[Site]]]:
        wanted = sorted(set(enterprise_ids))
        found: dict[str, list[Stored[Site]]] = {e: [] for e in wanted}
        if wanted:
            statement = (
                select(SITES)
                .where(SITES.c.enterprise_id.in_(wanted))
                .order_by(SITES.c.created_at, SITES.c.id)
            )
            for row in await self._rows(statement):
                found[row["enterprise_id"]].append(rows.site_of(row))
        return found

    # --- licences ----------------------------------------------------------------------

    async def add_licence(self, licence: Licence, at: datetime) -> None:
        await self._execute(insert(LICENCES), rows.licence_values(licence, at))

    async def licence(self, licence_id: str) -> Stored[Licence] | None:
        row = await self._one(select(LICENCES).where(LICENCES.c.id == licence_id))
        return None if row is None else rows.licence_of(row)

    async def save_licence(self, licence: Licence) -> bool:
        """Write an amended or revoked licence over the version before it (a
        compare-and-set: of two concurrent changes one finds it moved on)."""
        result = await self._execute(
            update(LICENCES)
            .where(LICENCES.c.id == licence.id, LICENCES.c.version == licence.version - 1)
            .values(**rows.licence_changes(licence))
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def add_licence_version(self, version: LicenceVersion) -> None:
        await self._execute(insert(LICENCE_VERSIONS), rows.licence_version_values(version))

    async def licence_versions(self, licence_ids: Iterable[str]) -> dict[str, list[LicenceVersion]]:
        """Each licence's versions, oldest first."""
        wanted = sorted(set(licence_ids))
        found: dict[str, list[LicenceVersion]] = {i: [] for i in wanted}
        if wanted:
            identity = (LICENCES.c.enterprise_id, LICENCES.c.number, LICENCES.c.type)
            statement = (
                select(LICENCE_VERSIONS, *identity)
                .join(LICENCES, LICENCES.c.id == LICENCE_VERSIONS.c.licence_id)
                .where(LICENCE_VERSIONS.c.licence_id.in_(wanted))
                .order_by(LICENCE_VERSIONS.c.licence_id, LICENCE_VERSIONS.c.version)
            )
            for row in await self._rows(statement):
                found[row["licence_id"]].append(rows.licence_version_of(row))
        return found

    async def licence_number_taken(self, number_key: str) -> bool:
        statement = select(LICENCES.c.id).where(LICENCES.c.number_key == number_key)
        return await self._one(statement) is not None

    async def licences_of(self, enterprise_ids: Iterable[str]) -> dict[str, list[Stored[Licence]]]:
        wanted = sorted(set(enterprise_ids))
        found: dict[str, list[Stored[Licence]]] = {e: [] for e in wanted}
        if wanted:
            statement = (
                select(LICENCES)
                .where(LICENCES.c.enterprise_id.in_(wanted))
                .order_by(LICENCES.c.valid_from, LICENCES.c.id)
            )
            for row in await self._rows(statement):
                found[row["enterprise_id"]].append(rows.licence_of(row))
        return found

    # --- offers and demands --------------------------------------------------------------

    async def add_offer(self, offer: Offer, at: datetime) -> None:
        # Queued: a batch of postings becomes one executemany (every read here flushes first).
        write_later(self.session, _INSERT_OFFER, rows.offer_values(offer, at))

    async def add_demand(self, demand: Demand, at: datetime) -> None:
        await self._execute(insert(DEMANDS), rows.demand_values(demand, at))
        await self._execute(
            insert(DEMAND_CODES),
            [{"demand_id": demand.id, "waste_code": code} for code in demand.waste_codes],
        )

    async def offer(self, offer_id: str, *, for_update: bool = False) -> Stored[Offer] | None:
        found = await self.offers([offer_id], for_update=for_update)
        return found.get(offer_id)

    async def offers(
        self, ids: Iterable[str], *, for_update: bool = False
    ) -> dict[str, Stored[Offer]]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        statement = select(OFFERS).where(OFFERS.c.id.in_(wanted)).order_by(OFFERS.c.id)
        found = await self._rows(statement.with_for_update() if for_update else statement)
        held = await self.allocations_held("offer_id", wanted)
        return {r["id"]: rows.offer_of(r, held[r["id"]]) for r in found}

    async def demand(self, demand_id: str, *, for_update: bool = False) -> Stored[Demand] | None:
        found = await self.demands([demand_id], for_update=for_update)
        return found.get(demand_id)

    async def demands(
        self, ids: Iterable[str], *, for_update: bool = False
    ) -> dict[str, Stored[Demand]]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        statement = select(DEMANDS).where(DEMANDS.c.id.in_(wanted)).order_by(DEMANDS.c.id)
        found = await self._rows(statement.with_for_update() if for_update else statement)
        held = await self.allocations_held("demand_id", wanted)
        return {r["id"]: rows.demand_of(r, held[r["id"]]) for r in found}

    async def save_listing(self, listing: Listing, at: datetime, *, terms: bool = False) -> int:
        """Store a changed status, and with `terms` an amended listing's terms
        (`Listing.TERMS`, and a demand's licensed-until day); allocations are stored by
        `put_allocation`. Returns the new version."""
        table = OFFERS if isinstance(listing, Offer) else DEMANDS
        values: dict[str, Any] = {"status": listing.status.value, "updated_at": at}
        if terms:
            values |= {attr: getattr(listing, attr) for attr in listing.TERMS}
            if isinstance(listing, Demand):
                values["licensed_until"] = listing.licensed_until
                values["awaits_renewal_until"] = listing.awaits_renewal_until
        await self._execute(
            update(table)
            .where(table.c.id == listing.id)
            .values(version=table.c.version + 1, **values)
        )
        row = await self._one(select(table.c.version).where(table.c.id == listing.id))
        if row is None:
            raise LookupError(f"{listing.KIND} {listing.id} vanished while being saved")
        return int(row["version"])

    async def due_to_expire(self, table_name: str, today: date, limit: int) -> list[str]:
        """Ids of active offers or demands whose last day (`Listing.last_day`) was before
        `today`, or, for a demand, before its window."""
        table = OFFERS if table_name == "offers" else DEMANDS
        over = table.c.available_until < today
        if table is DEMANDS:
            until = func.coalesce(table.c.awaits_renewal_until, table.c.licensed_until)
            over = or_(over, until < today, until < table.c.available_from)
        statement = (
            select(table.c.id)
            .where(table.c.status.in_(ACTIVE), over)
            .order_by(table.c.available_until, table.c.id)
            .limit(limit)
        )
        return [row["id"] for row in await self._rows(statement)]

    async def live_demand_ids_of(self, enterprise_id: str) -> list[str]:
        """Its demands not withdrawn or expired (a fully matched one may be released yet)."""
        statement = select(DEMANDS.c.id).where(
            DEMANDS.c.enterprise_id == enterprise_id, DEMANDS.c.status.in_(LIVE)
        )
        return [row["id"] for row in await self._rows(statement)]

    async def lock_licence_holder(self, enterprise_id: str, *, changing: bool) -> None:
        """Serialise a change of an enterprise's licences (`changing`) with the demands it
        posts meanwhile, which are checked against them (PostgreSQL row locks on the
        enterprise: NO KEY UPDATE against SHARE, so inserts referring to it go on; SQLite's
        writers are serialised already)."""
        statement = select(ENTERPRISES.c.id).where(ENTERPRISES.c.id == enterprise_id)
        if changing:
            statement = statement.with_for_update(key_share=True)  # FOR NO KEY UPDATE
        else:
            statement = statement.with_for_update(read=True)
        await self._rows(statement)

    async def save_licensed_until(self, demand: Demand) -> None:
        """Store the last day a demand's licences cover it and the last it waits for a
        renewal: no event, no new version (nothing a reader keeps changes until the demand
        expires for it)."""
        await self._execute(
            update(DEMANDS)
            .where(DEMANDS.c.id == demand.id)
            .values(
                licensed_until=demand.licensed_until,
                awaits_renewal_until=demand.awaits_renewal_until,
            )
        )

    # --- match allocations (read model of matching's events) ----------------------------

    async def allocation(self, match_id: str) -> MatchAllocation | None:
        """The match's allocation as this transaction last put it, else as stored. The one
        read here that does not run the queue first: every allocation queued is in the view,
        so a batch of lifecycle events costs a look-up each and one upsert for them all."""
        put: dict[str, MatchAllocation] = queued_view(self.session, _ALLOCATIONS_PUT)
        if match_id in put:
            return put[match_id]
        result = await self.session.execute(
            select(MATCH_ALLOCATIONS).where(MATCH_ALLOCATIONS.c.match_id == match_id)
        )
        row: Any = result.mappings().first()
        return rows.allocation_of(row) if row else None

    async def put_allocation(self, allocation: MatchAllocation, at: datetime) -> None:
        """Store the allocation when the transaction's queue runs (`write_later`)."""
        values = {
            "match_id": allocation.match_id,
            "offer_id": allocation.offer_id,
            "demand_id": allocation.demand_id,
            "supplier_enterprise_id": allocation.supplier_enterprise_id,
            "recycler_enterprise_id": allocation.recycler_enterprise_id,
            "tonnes": allocation.tonnes,
            "state": allocation.state,
            "last_event_type": allocation.last_event_type,
            "updated_at": at,
        }
        upsert = upsert_overwriting(
            dialect_of(self.session), MATCH_ALLOCATIONS, "match_id", _ALLOCATION_COLUMNS
        )
        write_later(self.session, upsert, values)
        queued_view(self.session, _ALLOCATIONS_PUT)[allocation.match_id] = rows.allocation_of(
            values
        )

    async def allocations_held(
        self, column: str, ids: Sequence[str]
    ) -> defaultdict[str, list[MatchAllocation]]:
        """ALLOCATED rows per offer id (`column="offer_id"`) or demand id."""
        held: defaultdict[str, list[MatchAllocation]] = defaultdict(list)
        if ids:
            statement = (
                select(MATCH_ALLOCATIONS)
                .where(
                    MATCH_ALLOCATIONS.c[column].in_(list(ids)),
                    MATCH_ALLOCATIONS.c.state == MatchAllocation.ALLOCATED,
                )
                .order_by(MATCH_ALLOCATIONS.c.match_id)
            )
            for row in await self._rows(statement):
                held[row[column]].append(rows.allocation_of(row))
        return held

    async def forget_allocations(self) -> int:
        """Wipe the match read model and put every listing's status back to what it is
        without allocations (replay rebuilds them). Withdrawn and expired listings stay so:
        those are the catalog's own facts."""
        wiped = await self._execute(delete(MATCH_ALLOCATIONS))  # the queue run first
        queued_view(self.session, _ALLOCATIONS_PUT).clear()
        for table in (OFFERS, DEMANDS):
            await self._execute(
                update(table)
                .where(table.c.status.in_([*ACTIVE, ListingStatus.FULLY_MATCHED.value]))
                .values(status=ListingStatus.OPEN.value)
            )
        return int(getattr(wiped, "rowcount", 0) or 0)

    async def listing_snapshot(self) -> dict[tuple[str, str], ListingState]:
        """(kind, id) → status, matched tonnes and version of every offer and demand."""
        snapshot: dict[tuple[str, str], ListingState] = {}
        for kind, table in (("offer", OFFERS), ("demand", DEMANDS)):
            held = await self._rows(
                select(MATCH_ALLOCATIONS.c[f"{kind}_id"], MATCH_ALLOCATIONS.c.tonnes).where(
                    MATCH_ALLOCATIONS.c.state == MatchAllocation.ALLOCATED
                )
            )
            matched: defaultdict[str, Decimal] = defaultdict(Decimal)
            for row in held:
                matched[row[f"{kind}_id"]] += rows.tonnes(row["tonnes"])
            statement = select(table.c.id, table.c.status, table.c.version)
            for row in await self._rows(statement):
                snapshot[(kind, row["id"])] = ListingState(
                    row["status"], rows.tonnes(matched[row["id"]]), row["version"]
                )
        return snapshot

    async def set_version(self, kind: str, listing_id: str, version: int) -> None:
        table = OFFERS if kind == "offer" else DEMANDS
        await self._execute(update(table).where(table.c.id == listing_id).values(version=version))
