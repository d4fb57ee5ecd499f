"""Queries and row ↔ domain mapping for the ledger tables (Core statements on one session).

Quantities cross this boundary as exact Decimal tonnes / kg CO2e in the domain and integer
kilograms / grams in the database.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    union,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from wastex_ledger.adapters.tables import (
    balance_guard,
    enterprises,
    entries,
    licences,
    manifests,
    projection,
    sites,
)
from wastex_ledger.domain.entries import Carbon, Entry, EntryKind, SiteFacts
from wastex_ledger.domain.figures import COLUMNS, COUNT_COLUMNS, ZERO, Figures
from wastex_ledger.domain.licences import Drop, Licence, as_read, with_older
from wastex_ledger.domain.manifest import (
    OVER_TOLERANCE,
    Cancellation,
    DiscrepancyState,
    GapCause,
    Manifest,
    ManifestStatus,
    Resolution,
    Route,
)
from wastex_ledger.domain.periods import Period
from wastex_ledger.domain.visibility import ManifestView, Reach
from wastex_shared.codes import LicenceType, is_hazardous
from wastex_shared.envelope import holds_unstorable
from wastex_shared.errors import DomainError
from wastex_shared.storage import upsert_into

THOUSANDTH = Decimal("0.001")

#: A projection row's key: (scope kind, scope value, period).
ProjectionKey = tuple[str, str, str]


def to_milli(value: Decimal) -> int:
    """Tonnes → kilograms, kg → grams (exact: every quantity has at most 3 places)."""
    return int((value * 1000).to_integral_value())


def from_milli(value: int | None) -> Decimal:
    return (Decimal(value or 0) / 1000).quantize(THOUSANDTH)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def micros(moment: datetime) -> int:
    return (moment - EPOCH) // MICROSECOND


def from_micros(value: int) -> datetime:
    return EPOCH + value * MICROSECOND


#: The advisory lock a PostgreSQL transaction holds from stamping a listed row to its commit
#: ("wastex" in ASCII, then 1): any number no other lock of the database uses.
LIST_ORDER_LOCK = 0x7761737465780001


def figures_to_row(figures: Figures) -> dict[str, int]:
    # Every column, zero unless set: a row changes one or two of them (replays write many).
    row = dict.fromkeys(COLUMNS, 0)
    for name, value in figures.changes():
        row[name] = int(value) if name in COUNT_COLUMNS else to_milli(Decimal(value))
    return row


def figures_from_row(row: Mapping[Any, Any]) -> Figures:
    values: dict[str, Any] = {}
    for name in COLUMNS:
        raw = row[name]
        values[name] = int(raw or 0) if name in COUNT_COLUMNS else from_milli(raw)
    return Figures(**values)


@functools.cache
def _sum_of_scope() -> Select[Any]:
    """A scope's figures summed over a range of months, bound per call. Built once: the
    sums' SQL functions were a tenth of a query's time, and working out the cache key of
    a statement built afresh another tenth."""
    p = projection.c
    sums = (func.coalesce(func.sum(p[name]), 0).label(name) for name in COLUMNS)
    return select(*sums).where(
        p.scope_kind == bindparam("kind"),
        p.scope_value == bindparam("value"),
        p.period >= bindparam("first"),
        p.period <= bindparam("last"),
    )


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[Any]
    total: int


@dataclass(frozen=True, slots=True)
class ManifestFilter:
    status: str | None = None
    enterprise_id: str | None = None
    waste_code: str | None = None
    discrepancy: bool | None = None
    discrepancy_state: DiscrepancyState | None = None
    #: With a day: only manifests overdue on it (True) or only the others (False).
    overdue: tuple[bool, date] | None = None
    period_from: Period | None = None
    period_to: Period | None = None


@dataclass(frozen=True, slots=True)
class EntryFilter:
    enterprise_id: str | None = None
    site_id: str | None = None
    waste_code: str | None = None
    kind: EntryKind | None = None
    period_from: Period | None = None
    period_to: Period | None = None


#: The stamps a cursor may carry: a BIGINT column's (a forged larger one would reach the
#: database and fail there, as an internal error).
_LOWEST_STAMP, _HIGHEST_STAMP = -(2**63), 2**63 - 1


def decode_after(after: str | None) -> tuple[int, str] | None:
    if after is None:
        return None
    stamp, sep, ident = after.partition(":")
    refused = DomainError("INVALID_CURSOR", "cursor is not one this API gave out", "after")
    try:
        position = int(stamp)
    except ValueError as exc:
        raise refused from exc
    if not sep or holds_unstorable(ident) or not _LOWEST_STAMP <= position <= _HIGHEST_STAMP:
        raise refused
    return position, ident


class Repository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        bind = session.bind
        self.dialect = bind.dialect.name if bind is not None else "sqlite"

    # -- read models of catalog facts ---------------------------------------------------

    async def upsert_site(
        self,
        site: SiteFacts,
        name: str,
        enterprise_district: str,
        enterprise_version: int = 1,
        version: int = 1,
    ) -> None:
        """Keep the site, and give its district to the manifests opened before it was known
        (a match confirmed ahead of the site's fact, which travels on another topic):
        district regulators find manifests by those columns. Its name and district are those
        of the highest site `version` read (added, then amended: two topics; decision 026).
        The enterprise's industry and district are those of the latest version of it read:
        the site's fact carries them as they stood when it was added or amended
        (`enterprise_version`), perhaps before an amendment, perhaps after one not read yet."""
        owner = (
            await self.session.execute(
                select(enterprises.c.industry, enterprises.c.district, enterprises.c.version)
                .where(enterprises.c.enterprise_id == site.enterprise_id)
                # Shared lock: an amendment committing meanwhile waits, or is seen; else it
                # would update the sites before this one is written, and miss it.
                .with_for_update(read=True)
            )
        ).first()
        if owner is not None and owner.version >= enterprise_version:
            site = replace(site, industry=owner.industry)
            enterprise_district, enterprise_version = owner.district, owner.version
        values = {
            "site_id": site.site_id,
            "enterprise_id": site.enterprise_id,
            "name": name,
            "district": site.district,
            "version": version,
            "industry": site.industry,
            "enterprise_district": enterprise_district,
            "enterprise_version": enterprise_version,
        }
        kept = await self.session.execute(_site_upsert(self.dialect).values(values))
        kept_district = kept.scalar_one()
        for site_column, district_column in (
            (manifests.c.supplier_site_id, manifests.c.supplier_district),
            (manifests.c.recycler_site_id, manifests.c.recycler_district),
        ):
            await self.session.execute(
                update(manifests)
                .where(site_column == site.site_id, district_column.is_(None))
                .values({district_column: kept_district})
            )

    async def upsert_enterprise(
        self,
        enterprise_id: str,
        name: str,
        industry: str,
        district: str,
        kind: str,
        version: int = 1,
    ) -> None:
        """Keep the enterprise unless a later version is kept already (registration and
        amendments travel on two topics, so they may arrive out of order), and give its
        sites its industry and district: entries booked from now on carry them (decision
        025)."""
        values = {
            "enterprise_id": enterprise_id,
            "name": name,
            "industry": industry,
            "district": district,
            "kind": kind,
            "version": version,
        }
        statement = upsert_into(self.dialect, enterprises).values(values)
        # One statement decides: two versions read at once by two transactions cannot both
        # win, whichever inserts first.
        statement = statement.on_conflict_do_update(
            index_elements=["enterprise_id"],
            set_={k: statement.excluded[k] for k in values if k != "enterprise_id"},
            where=statement.excluded.version > enterprises.c.version,
        )
        written = await self.session.execute(statement.returning(enterprises.c.enterprise_id))
        if written.first() is None:
            return  # an older or the same version: the kept one stands
        await self.session.execute(
            update(sites)
            .where(sites.c.enterprise_id == enterprise_id, sites.c.enterprise_version < version)
            .values(industry=industry, enterprise_district=district, enterprise_version=version)
        )

    async def site(self, site_id: str) -> SiteFacts | None:
        row = (
            (await self.session.execute(select(sites).where(sites.c.site_id == site_id)))
            .mappings()
            .first()
        )
        if row is None:
            return None
        return SiteFacts(row["site_id"], row["enterprise_id"], row["district"], row["industry"])

    async def holds_district(self, district: str) -> bool:
        """Some enterprise or site the ledger knows is registered in `district`."""
        held = union_all(
            select(enterprises.c.enterprise_id).where(enterprises.c.district == district),
            select(sites.c.site_id).where(
                or_(sites.c.district == district, sites.c.enterprise_district == district)
            ),
        ).limit(1)
        return (await self.session.execute(held)).first() is not None

    async def enterprise_district(self, enterprise_id: str) -> str | None:
        """The enterprise's registered district (from its registration, else its sites)."""
        found = await self.session.execute(select(_registered_district(enterprise_id)))
        district = found.scalar_one_or_none()
        return None if district is None else str(district)

    async def upsert_licence(
        self, licence: Licence, version: int, made_on: date, read_on: date
    ) -> Licence | None:
        """Keep the licence, a version the catalog made on `made_on`, unless a later version
        is kept already (registration and amendments travel on two topics, so they may
        arrive out of order), with what cut it as the version it replaces gives it
        (`as_read`); an older version read late adds the codes it listed that were dropped
        since (`with_older`). Returns the licence as kept when that changed it, else None."""
        found = (
            (
                await self.session.execute(
                    select(licences).where(licences.c.licence_id == licence.id).with_for_update()
                )
            )
            .mappings()
            .first()
        )
        if found is not None and found["version"] >= version:
            if found["version"] == version:
                return None  # read again
            kept = with_older(licence_from_row(found), licence, made_on, read_on)
            if kept is not None:
                await self.session.execute(
                    update(licences)
                    .where(licences.c.licence_id == licence.id)
                    .values(codes_dropped=_codes_dropped_value(kept))
                )
            return kept
        before = None if found is None else licence_from_row(found)
        licence = as_read(licence, before, made_on, read_on)
        values = {
            "licence_id": licence.id,
            "enterprise_id": licence.enterprise_id,
            "number": licence.number,
            "waste_codes": sorted(licence.waste_codes),
            "licence_type": str(licence.type),
            "valid_from": licence.valid_from,
            "valid_until": licence.valid_until,
            "revoked_on": licence.revoked_on,
            "revocation_read_on": licence.revocation_read_on,
            "codes_dropped": _codes_dropped_value(licence),
            "version": version,
        }
        stmt = upsert_into(self.dialect, licences).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["licence_id"],
            set_={name: stmt.excluded[name] for name in values if name != "licence_id"},
            where=licences.c.version < stmt.excluded.version,
        )
        await self.session.execute(stmt)
        return licence

    async def licences_of(self, enterprise_id: str) -> list[Licence]:
        rows = (
            (
                await self.session.execute(
                    select(licences).where(licences.c.enterprise_id == enterprise_id)
                )
            )
            .mappings()
            .all()
        )
        return [licence_from_row(row) for row in rows]

    # -- entries ------------------------------------------------------------------------

    async def hold_list_order(self) -> None:
        """Stamp the rows of an oldest-first list (`manifests`, `ledgerEntries`) after this.

        A reader follows such a list by cursor (stamp, id). On PostgreSQL writers run side by
        side: a row stamped before another but committed after it would fall behind a cursor
        already given out. So a writer stamps under a lock it holds until it commits, and
        stamps come in commit order (on SQLite the one writer at a time already does that)."""
        if self.dialect == "postgresql":
            await self.session.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": LIST_ORDER_LOCK}
            )

    async def insert_entries(self, new: Sequence[Entry], at: datetime) -> None:
        """Append `new` in one executemany (a replay batch holds thousands)."""
        if not new:
            return
        await self.hold_list_order()
        # The stamp only orders the list: after the latest one, whatever the clock says (set
        # back, or another host's).
        latest = (await self.session.execute(select(func.max(entries.c.recorded_at_us)))).scalar()
        stamp = micros(at) if latest is None else max(micros(at), int(latest) + 1)
        rows = []
        for entry in new:
            carbon = entry.carbon
            rows.append(
                {
                    "id": entry.id,
                    "kind": str(entry.kind),
                    "enterprise_id": entry.enterprise_id,
                    "site_id": entry.site_id,
                    "district": entry.district,
                    "industry": entry.industry,
                    "waste_code": entry.waste_code,
                    "kilograms": to_milli(entry.tonnes),
                    "period": str(entry.period),
                    "from_prior_stock": entry.from_prior_stock,
                    "cause_event_id": entry.cause_event_id,
                    "reverses": entry.reverses,
                    "reason": entry.reason,
                    "manifest_id": entry.manifest_id,
                    "transport_co2e_grams": to_milli(carbon.transport_co2e_kg) if carbon else None,
                    "avoided_co2e_grams": to_milli(carbon.avoided_co2e_kg) if carbon else None,
                    "recorded_at_us": stamp,
                }
            )
        await self.session.execute(entries.insert(), rows)

    async def entry(self, entry_id: str) -> Entry | None:
        row = (
            (await self.session.execute(select(entries).where(entries.c.id == entry_id)))
            .mappings()
            .first()
        )
        return None if row is None else entry_from_row(row)

    async def entry_exists(self, entry_id: str) -> bool:
        found = await self.session.execute(select(entries.c.id).where(entries.c.id == entry_id))
        return found.first() is not None

    async def is_reversed(self, entry_id: str) -> bool:
        found = await self.session.execute(
            select(entries.c.id).where(entries.c.reverses == entry_id)
        )
        return found.first() is not None

    async def list_entries(
        self, reach: Reach, flt: EntryFilter, first: int, after: str | None
    ) -> Page:
        conditions: list[ColumnElement[bool]] = [_entry_reach(reach)]
        if flt.enterprise_id is not None:
            conditions.append(entries.c.enterprise_id == flt.enterprise_id)
        if flt.site_id is not None:
            conditions.append(entries.c.site_id == flt.site_id)
        if flt.waste_code is not None:
            conditions.append(entries.c.waste_code == flt.waste_code)
        if flt.kind is not None:
            conditions.append(entries.c.kind == str(flt.kind))
        if flt.period_from is not None:
            conditions.append(entries.c.period >= str(flt.period_from))
        if flt.period_to is not None:
            conditions.append(entries.c.period <= str(flt.period_to))
        return await self._page(
            select(entries), entries.c.recorded_at_us, entries.c.id, conditions, first, after
        )

    async def entry_ids(self) -> set[str]:
        return set((await self.session.execute(select(entries.c.id))).scalars())

    async def entries_among(self, entry_ids: Iterable[str]) -> list[Entry]:
        """The journal's entries of these ids (those it has), a thousand ids a query."""
        wanted = sorted(entry_ids)
        found: list[Entry] = []
        for start in range(0, len(wanted), 1000):
            chunk = wanted[start : start + 1000]
            rows = await self.session.execute(select(entries).where(entries.c.id.in_(chunk)))
            found += [entry_from_row(row) for row in rows.mappings()]
        return found

    # -- projection ---------------------------------------------------------------------

    async def add_to_projection(self, deltas: Mapping[ProjectionKey, Figures]) -> None:
        """Add `deltas` to their rows; keys in sorted order so concurrent writers lock alike.

        One upsert statement for all keys (executemany): a report touches a dozen scope
        rows and a replay batch thousands, and building a statement per row cost more than
        the database's work."""
        if not deltas:
            return
        insert = upsert_into(self.dialect, projection)
        stmt = insert.on_conflict_do_update(
            index_elements=["scope_kind", "scope_value", "period"],
            set_={name: projection.c[name] + insert.excluded[name] for name in COLUMNS},
        )
        rows = [
            {"scope_kind": kind, "scope_value": value, "period": period, **figures_to_row(d)}
            for (kind, value, period), d in sorted(deltas.items())
        ]
        await self.session.execute(stmt, rows)

    async def sum_projection(
        self, keys: Sequence[tuple[str, str]], first: Period, last: Period
    ) -> Figures:
        """The figures of the rows of `keys` (scope kind, scope value) over the months."""
        total = Figures()
        for kind, value in keys:
            bound = {"kind": kind, "value": value, "first": str(first), "last": str(last)}
            row = (await self.session.execute(_sum_of_scope(), bound)).mappings().one()
            total = total + figures_from_row(row)
        return total

    async def monthly(self, kind: str, value: str) -> dict[Period, Figures]:
        rows = (
            await self.session.execute(
                select(projection).where(
                    projection.c.scope_kind == kind, projection.c.scope_value == value
                )
            )
        ).mappings()
        return {Period.parse(row["period"]): figures_from_row(row) for row in rows}

    async def monthly_like(self, kind: str, prefix: str) -> dict[str, dict[Period, Figures]]:
        """Monthly rows of every scope value starting with `prefix`, by value."""
        rows = (
            await self.session.execute(
                select(projection).where(
                    projection.c.scope_kind == kind,
                    projection.c.scope_value.startswith(prefix, autoescape=True),
                )
            )
        ).mappings()
        result: dict[str, dict[Period, Figures]] = {}
        for row in rows:
            result.setdefault(row["scope_value"], {})[Period.parse(row["period"])] = (
                figures_from_row(row)
            )
        return result

    async def projection_rows(self) -> dict[ProjectionKey, dict[str, int]]:
        """Every projection row as stored (to compare an incremental and a replayed state)."""
        rows = (await self.session.execute(select(projection))).mappings()
        return {
            (r["scope_kind"], r["scope_value"], r["period"]): {n: int(r[n]) for n in COLUMNS}
            for r in rows
        }

    async def wipe_projection(self) -> None:
        await self.session.execute(delete(projection))

    async def replace_projection(self, sums: Mapping[ProjectionKey, Figures]) -> None:
        """Make the projection exactly `sums` (a replay's): wiped, then loaded in bulk.

        Nothing is there to add to, so the rows are inserted, not upserted: by COPY on
        PostgreSQL (160,000 rows took 9.8 s as an upsert executemany, most of a 200,000-entry
        replay's write), by one INSERT executemany on SQLite."""
        await self.wipe_projection()
        names = ["scope_kind", "scope_value", "period", *COLUMNS]
        rows = [(*key, *figures_to_row(f).values()) for key, f in sums.items()]
        if not rows:
            return
        if self.dialect != "postgresql":
            await self.session.execute(
                insert(projection), [dict(zip(names, r, strict=True)) for r in rows]
            )
            return
        # asyncpg's own COPY: SQLAlchemy has no bulk-load statement.
        driver = (await (await self.session.connection()).get_raw_connection()).driver_connection
        assert driver is not None  # a checked-out connection always has its driver's
        await driver.copy_records_to_table(projection.name, records=rows, columns=names)

    async def lock_balance(self, enterprise_id: str, waste_code: str) -> None:
        values = {"enterprise_id": enterprise_id, "waste_code": waste_code, "version": 1}
        stmt = upsert_into(self.dialect, balance_guard).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["enterprise_id", "waste_code"],
            set_={"version": balance_guard.c.version + 1},
        )
        await self.session.execute(stmt)

    # -- manifests ----------------------------------------------------------------------

    async def manifest(self, manifest_id: str) -> Manifest | None:
        row = (
            (await self.session.execute(select(manifests).where(manifests.c.id == manifest_id)))
            .mappings()
            .first()
        )
        return None if row is None else manifest_from_row(row)

    async def manifest_by_match(self, match_id: str) -> Manifest | None:
        row = (
            (await self.session.execute(select(manifests).where(manifests.c.match_id == match_id)))
            .mappings()
            .first()
        )
        return None if row is None else manifest_from_row(row)

    async def insert_manifest(
        self, manifest: Manifest, supplier_district: str | None, recycler_district: str | None
    ) -> None:
        route = manifest.route
        await self.session.execute(
            manifests.insert().values(
                id=manifest.id,
                match_id=manifest.match_id,
                supplier_enterprise_id=route.supplier_enterprise_id,
                supplier_site_id=route.supplier_site_id,
                recycler_enterprise_id=route.recycler_enterprise_id,
                recycler_site_id=route.recycler_site_id,
                supplier_district=supplier_district,
                recycler_district=recycler_district,
                waste_code=route.waste_code,
                planned_kilograms=to_milli(route.planned_tonnes),
                distance_km=str(route.distance_km),
                planned_co2e_kg=str(route.planned_co2e_kg),
                freight_factor_key=route.freight_factor_key,
                freight_factor=str(route.freight_factor_kg_per_tkm),
                avoided_factor_key=route.avoided_factor_key,
                avoided_factor=(
                    None
                    if route.avoided_factor_kg_per_tonne is None
                    else str(route.avoided_factor_kg_per_tonne)
                ),
                from_prior_stock=manifest.from_prior_stock,
                created_at_us=micros(manifest.created_at),
                ship_from=manifest.ship_from,
                ship_by=manifest.ship_by,
                licence_id=manifest.licence_id,
                **_mutable_manifest_values(manifest),
            )
        )

    async def update_manifest(
        self,
        manifest: Manifest,
        supplier_district: str | None = None,
        recycler_district: str | None = None,
        *,
        read: Manifest | None = None,
    ) -> bool:
        """Write `manifest`; with `read`, only if the stored one is still as `read` was (its
        status and proposed resolution): a compare-and-set, of two concurrent transitions one
        finds it changed. Returns whether the row was written. A site's district fills the
        manifest's when it was not known yet, and never replaces one: a site amended since
        the manifest opened leaves it the district it opened under (decision 026)."""
        values = _mutable_manifest_values(manifest)
        values["from_prior_stock"] = manifest.from_prior_stock
        for column, district in (
            (manifests.c.supplier_district, supplier_district),
            (manifests.c.recycler_district, recycler_district),
        ):
            if district is not None:
                values[column.name] = func.coalesce(column, district)
        statement = update(manifests).where(manifests.c.id == manifest.id)
        if read is not None:
            proposal = _resolution_values(read.resolution)
            statement = statement.where(
                manifests.c.status == str(read.status),
                *(
                    manifests.c[name].is_not_distinct_from(proposal[name])
                    for name in ("gap_cause", "gap_proposed_by", "gap_proposed_at_us")
                ),
            )
        result = await self.session.execute(statement.values(**values))
        return bool(getattr(result, "rowcount", 0) == 1)

    async def created_for_cut_holders(self, cut_by: date, after: str, limit: int) -> list[Manifest]:
        """CREATED manifests with a licence, of recyclers holding a licence revoked from
        `cut_by` or earlier and read by then, or one that dropped a code, in id order after
        `after` (the revocation sweep's candidates: the domain decides which of them a cut
        calls off)."""
        holders = select(licences.c.enterprise_id).where(
            or_(
                and_(
                    licences.c.revoked_on <= cut_by,
                    func.coalesce(licences.c.revocation_read_on, licences.c.revoked_on) <= cut_by,
                ),
                licences.c.codes_dropped.is_not(None),
            )
        )
        rows = (
            (
                await self.session.execute(
                    select(manifests)
                    .where(
                        manifests.c.status == str(ManifestStatus.CREATED),
                        manifests.c.recycler_enterprise_id.in_(holders),
                        manifests.c.licence_id.is_not(None),
                        manifests.c.id > after,
                    )
                    .order_by(manifests.c.id)
                    .limit(limit)
                )
            )
            .mappings()
            .all()
        )
        return [manifest_from_row(row) for row in rows]

    async def manifest_view(self, manifest_id: str) -> ManifestView | None:
        """The manifest with its sites' districts and its parties' registered ones, in one
        read."""
        supplier = _registered_district(manifests.c.supplier_enterprise_id)
        recycler = _registered_district(manifests.c.recycler_enterprise_id)
        row = (
            (
                await self.session.execute(
                    select(
                        manifests,
                        supplier.label("supplier_registered"),
                        recycler.label("recycler_registered"),
                    ).where(manifests.c.id == manifest_id)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        registered = (row["supplier_registered"], row["recycler_registered"])
        return ManifestView(
            manifest_from_row(row),
            row["supplier_district"],
            row["recycler_district"],
            tuple(str(district) for district in registered if district is not None),
        )

    async def mark_booked_to(self, manifest_id: str, period: Period) -> None:
        """Keep the month `manifest_id`'s receipt was booked to, not its own (decision 036)."""
        await self.session.execute(
            update(manifests).where(manifests.c.id == manifest_id).values(booked_period=str(period))
        )

    async def in_transit(self, supplier_id: str, waste_code: str | None) -> dict[Period, Figures]:
        """Shipments of `supplier_id` on the road (of one code, or all), as transfers at
        their dispatched weight."""
        conditions = [
            manifests.c.supplier_enterprise_id == supplier_id,
            manifests.c.status == str(ManifestStatus.IN_TRANSIT),
        ]
        if waste_code is not None:
            conditions.append(manifests.c.waste_code == waste_code)
        rows = (
            await self.session.execute(
                select(
                    manifests.c.period,
                    manifests.c.from_prior_stock,
                    func.sum(manifests.c.dispatched_kilograms),
                )
                .where(*conditions)
                .group_by(manifests.c.period, manifests.c.from_prior_stock)
            )
        ).all()
        result: dict[Period, Figures] = {}
        for period, prior, kilograms in rows:
            tonnes = from_milli(int(kilograms or 0))
            delta = (
                Figures(transferred_out_prior=tonnes)
                if prior
                else Figures(transferred_out_current=tonnes)
            )
            month = Period.parse(period)
            result[month] = result.get(month, Figures()) + delta
        return result

    async def open_discrepancies(
        self, enterprise_id: str, first: Period, last: Period, as_at: datetime | None = None
    ) -> int:
        """Manifests of `enterprise_id` (either side) booked to `first`..`last` in
        discrepancy: as they stand, or as at `as_at` (a closed year's close, decision 036),
        when one its parties agreed on only since was still open, and one carried over it
        and received since was on the road. A carried one counts in the month its receipt
        was booked to (`booked_period`): its own month's year had closed when it came."""
        booked = func.coalesce(manifests.c.booked_period, manifests.c.period)
        found = await self.session.execute(
            select(func.count())
            .select_from(manifests)
            .where(
                or_(
                    manifests.c.supplier_enterprise_id == enterprise_id,
                    manifests.c.recycler_enterprise_id == enterprise_id,
                ),
                _in_discrepancy(as_at),
                booked >= str(first),
                booked <= str(last),
            )
        )
        return int(found.scalar_one())

    async def hazardous_pipeline(self, supplier_id: str, up_to: Period) -> dict[str, Decimal]:
        """Hazardous tonnes of `supplier_id` by code that manifests will move out of stock,
        as at the end of `up_to`: planned on manifests opened by then that had not left by
        then, whatever became of them since (dispatched to a later month, or cancelled
        after it: a closed year's verdict does not change when its lorry leaves), or on the
        road from prior-year stock, booked up to `up_to`, not received yet."""
        ends = micros(up_to.ends())
        rows = (
            await self.session.execute(
                select(
                    manifests.c.waste_code,
                    manifests.c.status,
                    manifests.c.period,
                    manifests.c.from_prior_stock,
                    manifests.c.planned_kilograms,
                    manifests.c.dispatched_kilograms,
                    manifests.c.cancelled_at_us,
                ).where(
                    manifests.c.supplier_enterprise_id == supplier_id,
                    manifests.c.created_at_us < ends,
                    or_(
                        manifests.c.status.in_(
                            [str(ManifestStatus.CREATED), str(ManifestStatus.IN_TRANSIT)]
                        ),
                        manifests.c.period > str(up_to),
                        manifests.c.cancelled_at_us >= ends,
                    ),
                )
            )
        ).all()
        moving: dict[str, Decimal] = {}
        for code, status, period, prior, planned, dispatched, cancelled_at in rows:
            if not is_hazardous(code):
                continue
            waiting_at_end = (
                status == str(ManifestStatus.CREATED)
                or (cancelled_at is not None and cancelled_at >= ends)
                or (period is not None and period > str(up_to))
            )
            if waiting_at_end:
                moving[code] = moving.get(code, ZERO) + from_milli(planned)
            elif status == str(ManifestStatus.IN_TRANSIT) and prior and period is not None:
                moving[code] = moving.get(code, ZERO) + from_milli(dispatched)
        return moving

    async def weighing_gaps(
        self, supplier_id: str, up_to: Period, as_at: datetime | None = None
    ) -> dict[tuple[str, bool, Period], Decimal]:
        """Dispatched less credited tonnes (the supplier's `transferred_out` entry) of
        `supplier_id`'s shipments that lost nothing, booked up to `up_to`, by code,
        prior-stock flag and month: received within the tolerance, or resolved as a gap that
        was part of the shipment (not a loss); by `as_at` when given (a closed year's close,
        decision 036: one carried over it and received after was on the road, whole). A
        lighter load's gap is what it did not bring;
        a heavier one has none (it is credited its dispatched weight, decision 020), or a
        negative one when it was booked whole before that, which takes the extra back out.
        A receipt of 0 t (a load lost whole) books no entry: credited nothing, its whole
        dispatched weight is the gap."""
        credited = entries.alias("credited")
        gap = func.sum(manifests.c.dispatched_kilograms - func.coalesce(credited.c.kilograms, 0))
        key = (manifests.c.waste_code, manifests.c.from_prior_stock, manifests.c.period)
        rows = await self.session.execute(
            select(*key, gap)
            .outerjoin(
                credited,
                and_(
                    credited.c.manifest_id == manifests.c.id,
                    credited.c.enterprise_id == supplier_id,
                    credited.c.kind == str(EntryKind.TRANSFERRED_OUT),
                ),
            )
            .where(
                manifests.c.supplier_enterprise_id == supplier_id,
                or_(
                    _within_tolerance(as_at),
                    and_(
                        _resolved(as_at),
                        manifests.c.gap_cause.in_([str(c) for c in GapCause if c.part_of_shipment]),
                    ),
                ),
                manifests.c.period <= str(up_to),
            )
            .group_by(*key)
        )
        return {
            (code, bool(prior), Period.parse(period)): from_milli(int(kilograms or 0))
            for code, prior, period, kilograms in rows
        }

    async def list_manifests(
        self, reach: Reach, flt: ManifestFilter, first: int, after: str | None
    ) -> Page:
        conditions: list[ColumnElement[bool]] = [_manifest_reach(reach)]
        if flt.status is not None:
            conditions.append(manifests.c.status == flt.status)
        if flt.enterprise_id is not None:
            conditions.append(
                or_(
                    manifests.c.supplier_enterprise_id == flt.enterprise_id,
                    manifests.c.recycler_enterprise_id == flt.enterprise_id,
                )
            )
        if flt.waste_code is not None:
            conditions.append(manifests.c.waste_code == flt.waste_code)
        if flt.discrepancy is not None:
            is_gap = manifests.c.status.in_([str(status) for status in OVER_TOLERANCE])
            conditions.append(is_gap if flt.discrepancy else ~is_gap)
        if flt.discrepancy_state is not None:
            conditions.append(_in_state(flt.discrepancy_state))
        if flt.overdue is not None:
            wanted, day = flt.overdue
            late = and_(
                manifests.c.status == str(ManifestStatus.CREATED), manifests.c.ship_by < day
            )
            conditions.append(late if wanted else or_(~late, manifests.c.ship_by.is_(None)))
        if flt.period_from is not None:
            conditions.append(manifests.c.period >= str(flt.period_from))
        if flt.period_to is not None:
            conditions.append(manifests.c.period <= str(flt.period_to))
        return await self._page(
            select(manifests), manifests.c.created_at_us, manifests.c.id, conditions, first, after
        )

    # -- helpers ------------------------------------------------------------------------

    async def _page(
        self,
        query: Select[Any],
        stamp: Any,
        ident: Any,
        conditions: Iterable[ColumnElement[bool]],
        first: int,
        after: str | None,
    ) -> Page:
        where = and_(*conditions)
        total = (
            await self.session.execute(
                select(func.count()).select_from(query.where(where).subquery())
            )
        ).scalar_one()
        position = decode_after(after)
        page_where = where
        if position is not None:
            at, last_id = position
            page_where = and_(where, or_(stamp > at, and_(stamp == at, ident > last_id)))
        rows = (
            (
                await self.session.execute(
                    query.where(page_where).order_by(stamp, ident).limit(first + 1)
                )
            )
            .mappings()
            .all()
        )
        return Page(list(rows), int(total))


@functools.cache
def _site_upsert(dialect: str) -> Any:
    """Insert a site, or update it column group by column group: its name and district when
    the new site `version` is higher, its enterprise's industry and district when the new
    `enterprise_version` is (the two versions move apart: an enterprise amendment leaves
    the site's version, a site amendment may carry an enterprise version not read yet).
    One statement decides, as for enterprises: two facts read at once cannot both win.
    Returns the district kept."""
    statement = upsert_into(dialect, sites)
    new = statement.excluded
    by_version = {
        "version": ("name", "district", "version"),
        "enterprise_version": ("industry", "enterprise_district", "enterprise_version"),
    }
    return statement.on_conflict_do_update(
        index_elements=[sites.c.site_id],
        set_={
            column: case((new[version] > sites.c[version], new[column]), else_=sites.c[column])
            for version, columns in by_version.items()
            for column in columns
        },
    ).returning(sites.c.district)


def _entry_reach(reach: Reach) -> ColumnElement[bool]:
    if reach.everything:
        return entries.c.id.is_not(None)
    if reach.enterprise_id is not None:
        return entries.c.enterprise_id == reach.enterprise_id
    if reach.district is not None:
        registered = _registered_in(reach.district)
        return or_(entries.c.district == reach.district, entries.c.enterprise_id.in_(registered))
    return entries.c.id.is_(None)


def _registered_district(enterprise_id: ColumnElement[Any] | str) -> ColumnElement[Any]:
    """An enterprise's registered district: its registration's, else the one its sites'
    facts carry (a site read before the registration)."""
    return func.coalesce(
        select(enterprises.c.district)
        .where(enterprises.c.enterprise_id == enterprise_id)
        .scalar_subquery(),
        select(sites.c.enterprise_district)
        .where(sites.c.enterprise_id == enterprise_id)
        .limit(1)
        .scalar_subquery(),
    )


def _registered_in(district: str) -> CompoundSelect[Any]:
    """The enterprises registered in `district`, as `_registered_district` reads it (the
    registration's district, else the one its sites' facts carry): its regulators read
    their records wherever their sites lie. The lists ask this, `manifest(id)`,
    `ledgerEntry(id)` and `manifestChanged` ask `_registered_district`: one answer."""
    registered = select(enterprises.c.enterprise_id)
    return union(
        registered.where(enterprises.c.district == district),
        # A site read before its enterprise's registration (another topic) tells it.
        select(sites.c.enterprise_id).where(
            sites.c.enterprise_district == district, sites.c.enterprise_id.not_in(registered)
        ),
    )


def _manifest_reach(reach: Reach) -> ColumnElement[bool]:
    if reach.everything:
        return manifests.c.id.is_not(None)
    if reach.enterprise_id is not None:
        return or_(
            manifests.c.supplier_enterprise_id == reach.enterprise_id,
            manifests.c.recycler_enterprise_id == reach.enterprise_id,
        )
    if reach.district is not None:
        registered = _registered_in(reach.district)
        return or_(
            manifests.c.supplier_district == reach.district,
            manifests.c.recycler_district == reach.district,
            manifests.c.supplier_enterprise_id.in_(registered),
            manifests.c.recycler_enterprise_id.in_(registered),
        )
    return manifests.c.id.is_(None)


def _mutable_manifest_values(manifest: Manifest) -> dict[str, Any]:
    carbon = manifest.carbon
    return {
        "status": str(manifest.status),
        "period": None if manifest.period is None else str(manifest.period),
        "dispatched_kilograms": (
            None if manifest.dispatched_tonnes is None else to_milli(manifest.dispatched_tonnes)
        ),
        "received_kilograms": (
            None if manifest.received_tonnes is None else to_milli(manifest.received_tonnes)
        ),
        "weight_gap_ratio": (
            None if manifest.weight_gap_ratio is None else str(manifest.weight_gap_ratio)
        ),
        "transport_co2e_grams": None if carbon is None else to_milli(carbon.transport_co2e_kg),
        "avoided_co2e_grams": None if carbon is None else to_milli(carbon.avoided_co2e_kg),
        "dispatched_at_us": (
            None if manifest.dispatched_at is None else micros(manifest.dispatched_at)
        ),
        "received_at_us": None if manifest.received_at is None else micros(manifest.received_at),
        **_resolution_values(manifest.resolution),
        **_cancellation_values(manifest.cancellation),
    }


def _cancellation_values(cancellation: Cancellation | None) -> dict[str, Any]:
    if cancellation is None:
        return {"cancelled_by": None, "cancel_reason": None, "cancelled_at_us": None}
    return {
        "cancelled_by": cancellation.by,
        "cancel_reason": cancellation.reason,
        "cancelled_at_us": micros(cancellation.at),
    }


def _cancellation_of(row: Mapping[Any, Any]) -> Cancellation | None:
    if row["cancelled_by"] is None:
        return None
    return Cancellation(
        row["cancelled_by"], row["cancel_reason"], from_micros(int(row["cancelled_at_us"]))
    )


def _in_state(state: DiscrepancyState) -> ColumnElement[bool]:
    """`Manifest.discrepancy_state` in SQL."""
    c = manifests.c
    if state is DiscrepancyState.RESOLVED:
        return c.status == str(ManifestStatus.RESOLVED)
    unresolved = c.status == str(ManifestStatus.DISCREPANCY)
    if state is DiscrepancyState.OPEN:
        return and_(unresolved, c.gap_cause.is_(None))
    if state is DiscrepancyState.DISPUTED:
        return and_(unresolved, c.gap_disputed_at_us.is_not(None))
    return and_(unresolved, c.gap_cause.is_not(None), c.gap_disputed_at_us.is_(None))


def _received_by(as_at: datetime) -> ColumnElement[bool]:
    """A receipt a year closing at `as_at` counts: one before then, or one booked to its month
    of dispatch whenever it came (a close day changed since). One carried over the close
    (`booked_period`, decision 036) after it was on the road then."""
    c = manifests.c
    return or_(c.received_at_us < micros(as_at), c.booked_period.is_(None))


def _within_tolerance(as_at: datetime | None) -> ColumnElement[bool]:
    """Received within the tolerance: by now, or by `as_at`."""
    received = manifests.c.status == str(ManifestStatus.RECEIVED)
    return received if as_at is None else and_(received, _received_by(as_at))


def _resolved(as_at: datetime | None) -> ColumnElement[bool]:
    """A discrepancy its parties agreed on: by now, or by `as_at`."""
    c = manifests.c
    resolved = c.status == str(ManifestStatus.RESOLVED)
    return resolved if as_at is None else and_(resolved, c.gap_agreed_at_us < micros(as_at))


def _in_discrepancy(as_at: datetime | None) -> ColumnElement[bool]:
    """A discrepancy its parties had not agreed on: now, or at `as_at` (one agreed on since
    was still open then; one received since was on the road)."""
    c = manifests.c
    unresolved = c.status == str(ManifestStatus.DISCREPANCY)
    if as_at is None:
        return unresolved
    agreed_since = and_(
        c.status == str(ManifestStatus.RESOLVED), c.gap_agreed_at_us >= micros(as_at)
    )
    return and_(or_(unresolved, agreed_since), _received_by(as_at))


def _resolution_values(resolution: Resolution | None) -> dict[str, Any]:
    if resolution is None:
        return dict.fromkeys(_RESOLUTION_COLUMNS)
    agreed_at, disputed_at = resolution.agreed_at, resolution.disputed_at
    return {
        "gap_cause": str(resolution.cause),
        "gap_note": resolution.note,
        "gap_proposed_by": resolution.proposed_by,
        "gap_proposed_at_us": micros(resolution.proposed_at),
        "gap_agreed_note": resolution.agreed_note,
        "gap_agreed_at_us": None if agreed_at is None else micros(agreed_at),
        "gap_disputed_at_us": None if disputed_at is None else micros(disputed_at),
    }


_RESOLUTION_COLUMNS = tuple(c.name for c in manifests.c if c.name.startswith("gap_"))


def _resolution_of(row: Mapping[Any, Any]) -> Resolution | None:
    if row["gap_cause"] is None:
        return None
    agreed_at, disputed_at = row["gap_agreed_at_us"], row["gap_disputed_at_us"]
    return Resolution(
        cause=GapCause(row["gap_cause"]),
        note=row["gap_note"],
        proposed_by=row["gap_proposed_by"],
        proposed_at=from_micros(int(row["gap_proposed_at_us"])),
        agreed_note=row["gap_agreed_note"],
        agreed_at=None if agreed_at is None else from_micros(int(agreed_at)),
        disputed_at=None if disputed_at is None else from_micros(int(disputed_at)),
    )


def entry_from_row(row: Mapping[Any, Any]) -> Entry:
    carbon = None
    if row["transport_co2e_grams"] is not None:
        carbon = Carbon(
            transport_co2e_kg=from_milli(row["transport_co2e_grams"]),
            avoided_co2e_kg=from_milli(row["avoided_co2e_grams"]),
        )
    return Entry(
        id=row["id"],
        kind=EntryKind(row["kind"]),
        enterprise_id=row["enterprise_id"],
        site_id=row["site_id"],
        district=row["district"],
        industry=row["industry"],
        waste_code=row["waste_code"],
        tonnes=from_milli(row["kilograms"]),
        period=Period.parse(row["period"]),
        cause_event_id=row["cause_event_id"],
        from_prior_stock=bool(row["from_prior_stock"]),
        reverses=row["reverses"],
        reason=row["reason"],
        manifest_id=row["manifest_id"],
        carbon=carbon,
    )


def manifest_from_row(row: Mapping[Any, Any]) -> Manifest:
    carbon = None
    if row["transport_co2e_grams"] is not None:
        carbon = Carbon(
            transport_co2e_kg=from_milli(row["transport_co2e_grams"]),
            avoided_co2e_kg=from_milli(row["avoided_co2e_grams"]),
        )
    dispatched = row["dispatched_kilograms"]
    received = row["received_kilograms"]
    gap = None
    if dispatched is not None and received is not None:
        gap = from_milli(received) - from_milli(dispatched)
    return Manifest(
        id=row["id"],
        match_id=row["match_id"],
        route=Route(
            supplier_enterprise_id=row["supplier_enterprise_id"],
            supplier_site_id=row["supplier_site_id"],
            recycler_enterprise_id=row["recycler_enterprise_id"],
            recycler_site_id=row["recycler_site_id"],
            waste_code=row["waste_code"],
            planned_tonnes=from_milli(row["planned_kilograms"]),
            distance_km=Decimal(row["distance_km"]),
            planned_co2e_kg=Decimal(row["planned_co2e_kg"]),
            freight_factor_key=row["freight_factor_key"],
            freight_factor_kg_per_tkm=Decimal(row["freight_factor"]),
            avoided_factor_key=row["avoided_factor_key"],
            avoided_factor_kg_per_tonne=(
                None if row["avoided_factor"] is None else Decimal(row["avoided_factor"])
            ),
        ),
        status=ManifestStatus(row["status"]),
        created_at=from_micros(int(row["created_at_us"])),
        period=None if row["period"] is None else Period.parse(row["period"]),
        from_prior_stock=bool(row["from_prior_stock"]),
        dispatched_tonnes=None if dispatched is None else from_milli(dispatched),
        dispatched_at=(
            None if row["dispatched_at_us"] is None else from_micros(int(row["dispatched_at_us"]))
        ),
        received_tonnes=None if received is None else from_milli(received),
        received_at=(
            None if row["received_at_us"] is None else from_micros(int(row["received_at_us"]))
        ),
        weight_gap_tonnes=gap,
        weight_gap_ratio=(
            None if row["weight_gap_ratio"] is None else Decimal(row["weight_gap_ratio"])
        ),
        carbon=carbon,
        resolution=_resolution_of(row),
        cancellation=_cancellation_of(row),
        ship_from=row["ship_from"],
        ship_by=row["ship_by"],
        licence_id=row["licence_id"],
    )


def _codes_dropped_value(licence: Licence) -> dict[str, dict[str, str]] | None:
    """`licences.codes_dropped` of `licence`: {code: {"on": ISO day, "read": ISO day}},
    NULL when none."""
    return {
        drop.code: {"on": drop.on.isoformat(), "read": drop.read_on.isoformat()}
        for drop in licence.codes_dropped
    } or None


def licence_from_row(row: Mapping[Any, Any]) -> Licence:
    return Licence(
        id=row["licence_id"],
        enterprise_id=row["enterprise_id"],
        number=row["number"],
        waste_codes=frozenset(row["waste_codes"]),
        type=LicenceType(row["licence_type"]),
        valid_from=row["valid_from"],
        valid_until=row["valid_until"],
        revoked_on=row["revoked_on"],
        revocation_read_on=row["revocation_read_on"],
        codes_dropped=tuple(
            Drop(code, date.fromisoformat(days["on"]), date.fromisoformat(days["read"]))
            for code, days in sorted((row["codes_dropped"] or {}).items())
        ),
    )


def cursor_of(row: Mapping[Any, Any], stamp_column: str) -> str:
    return f"{int(row[stamp_column])}:{row['id']}"
