"""Ledger use cases: load → domain → save + outbox, in one unit of work.

GraphQL mutations and the Kafka ingest consumer call the *same* use cases: the `*_in`
methods work inside a unit of work the caller owns (the consumer commits once per batch),
the plain ones open and commit their own. `actor` is the enterprise acting, already
authenticated (GraphQL policy or the ingest authenticator); the use cases check it owns
what it touches.

Every booked entry is inserted into the journal, added to the projection rows of all its
scopes and published as `ledger.entry-recorded` in the same transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from wastex_ledger.adapters import league
from wastex_ledger.adapters.closing import carried_over
from wastex_ledger.adapters.repository import (
    EntryFilter,
    ManifestFilter,
    Page,
    ProjectionKey,
    Repository,
)
from wastex_ledger.adapters.waiting import Census, WaitingReport, WaitingReports
from wastex_ledger.domain import balance, closing, errors
from wastex_ledger.domain import entries as ledger
from wastex_ledger.domain import manifest as manifests
from wastex_ledger.domain.entries import Entry, EntryKind, TonnesInput
from wastex_ledger.domain.figures import ZERO, Figures, Utilisation, delta_of
from wastex_ledger.domain.league import LeagueFilter
from wastex_ledger.domain.licences import Licence
from wastex_ledger.domain.manifest import GapCause, Manifest, ManifestStatus, Route
from wastex_ledger.domain.periods import Period, period_range, year_to_judge
from wastex_ledger.domain.scope import Scope, ScopeKind, WasteClass, grain_of, projection_keys
from wastex_ledger.domain.visibility import ManifestView, Reach
from wastex_ledger.domain.zero_waste import Assessment, Records, Rule, assess, facts_of
from wastex_shared.calendar import china_day
from wastex_shared.codes import DistrictRegister, LicenceType
from wastex_shared.codes.district_file import load_districts
from wastex_shared.emission_factors import factor
from wastex_shared.envelope import Envelope, derived_id, new_id, utcnow
from wastex_shared.errors import DomainError, NotAuthorized
from wastex_shared.events import spec_for
from wastex_shared.events.catalog import EnterpriseFacts, LicenceFacts, SiteAdded
from wastex_shared.events.ledger import (
    DiscrepancyCauseNamed,
    DiscrepancyResolved,
    EntryRecorded,
    ManifestCreated,
    ManifestFacts,
    ShipmentCancelled,
    ShipmentDispatched,
    ShipmentReceived,
)
from wastex_shared.events.matching import MatchConfirmed
from wastex_shared.messaging.consumer import (
    Delivery,
    broker_time,
    current_delivery,
    park_kept,
    poison_of,
)
from wastex_shared.storage import UnitOfWork, UnitOfWorkFactory
from wastex_shared.topics import (
    LEDGER_DISCREPANCY_CAUSE_NAMED,
    LEDGER_DISCREPANCY_RESOLVED,
    LEDGER_DLQ,
    LEDGER_ENTRY_RECORDED,
    LEDGER_MANIFEST_CREATED,
    LEDGER_SHIPMENT_CANCELLED,
    LEDGER_SHIPMENT_DISPATCHED,
    LEDGER_SHIPMENT_RECEIVED,
)

log = logging.getLogger(__name__)

SOURCE = "ledger"

#: Ingest event type → the kind of entry it reports.
REPORT_TYPES: dict[str, EntryKind] = {
    "wastex.report.generation": EntryKind.GENERATED,
    "wastex.report.in-plant-utilisation": EntryKind.UTILISED_IN_PLANT,
    "wastex.report.storage": EntryKind.STORED,
    "wastex.report.storage-retrieval": EntryKind.STORAGE_RETRIEVED,
    "wastex.report.disposal": EntryKind.DISPOSED,
    "wastex.report.opening-stock": EntryKind.OPENING_STOCK,
    "wastex.report.received-utilisation": EntryKind.UTILISED,
    "wastex.report.received-storage": EntryKind.RECEIVED_STORED,
    "wastex.report.received-storage-retrieval": EntryKind.RECEIVED_STORAGE_RETRIEVED,
    "wastex.report.received-disposal": EntryKind.RECEIVED_DISPOSED,
}


def _broker_day(delivery: Delivery | None) -> date | None:
    """China's day when the broker took a Kafka report (its topic stamps it, as the token is
    judged then: decision 021), for the year's close; None when the broker did not say."""
    at = None if delivery is None else broker_time(delivery.record)
    return None if at is None else china_day(datetime.fromtimestamp(at, UTC))


def _report_terms_of(fields: dict[str, Any]) -> dict[str, Any]:
    """What an ingest report says (`LedgerReport`'s fields), as `report_in` and
    `entries.report_terms` take it."""
    return {
        "waste_code": fields["waste_code"],
        "tonnes": fields["tonnes"],
        "period": fields["period"],
        "from_prior_stock": bool(fields.get("from_prior_stock", False)),
    }


@dataclass(frozen=True, slots=True)
class LedgerConfig:
    weight_tolerance: Decimal = manifests.DEFAULT_TOLERANCE
    #: How much more than planned a shipment may weigh.
    load_over_plan: Decimal = manifests.DEFAULT_OVER_PLAN
    rules: tuple[Rule, ...] = ()
    #: Days a revocation is in force before it calls off what it cuts (decision 023).
    revocation_grace_days: int = 7
    #: The city's districts: what a query may filter by, with the names records hold.
    districts: DistrictRegister = field(default_factory=load_districts)
    #: How long a report read from Kafka waits for its site's fact (decision 029).
    report_wait: timedelta = timedelta(hours=24)
    #: The day of the next year a year's books close on; None keeps every year open
    #: (decision 036).
    year_closes_on: closing.YearClose | None = closing.DEFAULT_CLOSE


@dataclass(frozen=True, slots=True)
class Correction:
    reversal: Entry
    replacement: Entry


def projection_deltas(booked: Sequence[Entry]) -> dict[ProjectionKey, Figures]:
    """What `booked` adds to each projection row (the replay uses the same function)."""
    # Only the columns an entry changes are added (one or two of sixteen), and the rows of
    # entries sharing a grain are computed once: a replay adds up a million entries.
    rows: dict[ProjectionKey, dict[str, Decimal | int]] = defaultdict(dict)
    keys_of: dict[tuple[str, ...], list[ProjectionKey]] = {}
    for entry in booked:
        grain = grain_of(entry)
        keys = keys_of.get(grain)
        if keys is None:
            keys = keys_of[grain] = projection_keys(entry)
        changes = delta_of(entry).changes()
        for key in keys:
            row = rows[key]
            for name, value in changes:
                row[name] = row.get(name, 0) + value
    return {key: Figures.of(row) for key, row in rows.items()}


def entry_recorded(entry: Entry) -> EntryRecorded:
    carbon = entry.carbon
    return EntryRecorded(
        entry_id=entry.id,
        kind=str(entry.kind),
        enterprise_id=entry.enterprise_id,
        site_id=entry.site_id,
        district=entry.district,
        industry=entry.industry,
        waste_code=entry.waste_code,
        tonnes=entry.tonnes,
        period=str(entry.period),
        from_prior_stock=entry.from_prior_stock,
        reverses=entry.reverses,
        reason=entry.reason,
        manifest_id=entry.manifest_id,
        transport_co2e_kg=None if carbon is None else carbon.transport_co2e_kg,
        avoided_co2e_kg=None if carbon is None else carbon.avoided_co2e_kg,
        cause_event_id=entry.cause_event_id,
    )


def entry_from_event(data: EntryRecorded) -> Entry:
    carbon = None
    if data.transport_co2e_kg is not None:
        carbon = ledger.Carbon(data.transport_co2e_kg, data.avoided_co2e_kg or ZERO)
    return Entry(
        id=data.entry_id,
        kind=EntryKind(data.kind),
        enterprise_id=data.enterprise_id,
        site_id=data.site_id,
        district=data.district,
        industry=data.industry,
        waste_code=data.waste_code,
        tonnes=data.tonnes,
        period=Period.parse(data.period),
        cause_event_id=data.cause_event_id,
        from_prior_stock=data.from_prior_stock,
        reverses=data.reverses,
        reason=data.reason,
        manifest_id=data.manifest_id,
        carbon=carbon,
    )


def manifest_facts(manifest: Manifest) -> dict[str, Any]:
    route, carbon = manifest.route, manifest.carbon
    return {
        "manifest_id": manifest.id,
        "match_id": manifest.match_id,
        "supplier_enterprise_id": route.supplier_enterprise_id,
        "supplier_site_id": route.supplier_site_id,
        "recycler_enterprise_id": route.recycler_enterprise_id,
        "recycler_site_id": route.recycler_site_id,
        "waste_code": route.waste_code,
        "planned_tonnes": route.planned_tonnes,
        "distance_km": route.distance_km,
        "period": None if manifest.period is None else str(manifest.period),
        "from_prior_stock": manifest.from_prior_stock,
        "dispatched_tonnes": manifest.dispatched_tonnes,
        "received_tonnes": manifest.received_tonnes,
        "weight_gap_ratio": manifest.weight_gap_ratio,
        "transport_co2e_kg": None if carbon is None else carbon.transport_co2e_kg,
        "avoided_co2e_kg": None if carbon is None else carbon.avoided_co2e_kg,
        "freight_factor_key": route.freight_factor_key,
        "avoided_factor_key": route.avoided_factor_key,
        "status": str(manifest.status),
    }


def _changed_meanwhile(manifest: Manifest) -> DomainError:
    """The manifest changed while this command ran (a concurrent one won)."""
    return DomainError(
        errors.INVALID_MANIFEST_STATE,
        f"manifest {manifest.id} (read as {manifest.status}) was changed meanwhile by "
        "another command; read it again",
    )


def _avoided_factor(data: MatchConfirmed) -> tuple[str | None, Decimal | None]:
    """The avoided-emission factor matching used, when it is a per-tonne factor we know."""
    key = data.avoided_factor_key
    if not key:
        return None, None
    try:
        found = factor(key)
    except KeyError:
        return key, None
    return key, found.value if found.per_tonne else None


def licence_of(data: LicenceFacts) -> Licence:
    """The licence a catalog fact states (refused: a type the ledger does not know)."""
    try:
        licence_type = LicenceType(data.licence_type)
    except ValueError:
        raise DomainError(
            errors.INVALID_LICENCE, f"unknown licence type {data.licence_type!r}", "licenceType"
        ) from None
    return Licence(
        id=data.licence_id,
        enterprise_id=data.enterprise_id,
        number=data.number,
        waste_codes=frozenset(code.strip().upper() for code in data.waste_codes),
        type=licence_type,
        valid_from=data.valid_from,
        valid_until=data.valid_until,
        revoked_on=data.revoked_on,
    )


class LedgerService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        config: LedgerConfig | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._uow = uow
        self.config = config or LedgerConfig()
        self._clock = clock
        #: Set when a revocation or a dropped code has been stored: the revocation sweep runs
        #: without waiting.
        self.revocations = asyncio.Event()

    def today(self) -> date:
        """The calendar day in China (shipping windows are local days)."""
        return china_day(self._clock())

    def final(self, period: Period) -> bool:
        """Whether `period`'s year has closed today: its figures no longer move."""
        return closing.closed(period, self.today(), self.config.year_closes_on)

    def _require_open(
        self, period: Period, field: str = "period", *, taken_on: date | None = None
    ) -> None:
        """Refuse (PERIOD_CLOSED) what would book to a year whose books closed by the day
        the command was taken (today, or a Kafka report's `taken_on`; decision 036): judged
        when a command is taken, never on replay."""
        today = self.today()
        on = today if taken_on is None else min(taken_on, today)
        closing.require_open(period, on, self.config.year_closes_on, field)

    async def require_known_district(self, name: str | None, field: str) -> None:
        """Refuse (UNKNOWN_DISTRICT) a district a query names that neither the register
        lists nor the ledger's records hold: a typo would read as figures of zero."""
        if name is None:
            return

        async def stored(district: str) -> bool:
            # A read: on SQLite a writing unit of work would queue for the write lock.
            async with self._uow.reading() as uow:
                return await Repository(uow.session).holds_district(district)

        await self.config.districts.require_queried(name, stored, field)

    # -- commands: reports --------------------------------------------------------------

    async def report(
        self,
        actor: str,
        kind: EntryKind,
        *,
        site_id: str,
        waste_code: str,
        tonnes: TonnesInput,
        period: str,
        from_prior_stock: bool = False,
    ) -> Entry:
        command_id = new_id()
        async with self._uow() as uow:
            entry = await self.report_in(
                uow,
                actor,
                kind,
                entry_id=command_id,
                cause_event_id=f"graphql/{command_id}",
                site_id=site_id,
                waste_code=waste_code,
                tonnes=tonnes,
                period=period,
                from_prior_stock=from_prior_stock,
            )
            await uow.commit()
        return entry

    async def report_in(
        self,
        uow: UnitOfWork,
        actor: str,
        kind: EntryKind,
        *,
        entry_id: str,
        cause_event_id: str,
        site_id: str,
        waste_code: str,
        tonnes: TonnesInput,
        period: str,
        from_prior_stock: bool = False,
        cause: Envelope | None = None,
        taken_on: date | None = None,
    ) -> Entry:
        """Record one report of `actor` on one of its sites (balance identity checked);
        `taken_on`, the day a Kafka report was taken, for the year's close."""
        repo = Repository(uow.session)
        site = await self._known_site(repo, site_id)
        entry = ledger.report(
            entry_id=entry_id,
            kind=kind,
            actor_enterprise_id=actor,
            site=site,
            waste_code=waste_code,
            tonnes=tonnes,
            period=period,
            from_prior_stock=from_prior_stock,
            cause_event_id=cause_event_id,
            now=self._clock(),
        )
        self._require_open(entry.period, taken_on=taken_on)
        await self._book(uow, repo, [entry], cause=cause, checked=True)
        return entry

    async def reverse_entry(self, actor: str, entry_id: str, reason: str) -> Entry:
        command_id = new_id()
        async with self._uow() as uow:
            repo = Repository(uow.session)
            original = await self._entry_or_fail(repo, entry_id, actor)
            await self._guard_reversal(repo, original)
            reversal = ledger.reverse(
                original,
                entry_id=command_id,
                actor_enterprise_id=actor,
                reason=reason,
                already_reversed=await repo.is_reversed(entry_id),
                cause_event_id=f"graphql/{command_id}",
            )
            self._require_open(original.period, "id")
            await self._book(uow, repo, [reversal], cause=None, checked=True)
            await uow.commit()
        return reversal

    async def correct_entry(
        self, actor: str, entry_id: str, tonnes: TonnesInput, reason: str
    ) -> Correction:
        """Reverse an entry and record it again with the right tonnes, in one transaction."""
        command_id = new_id()
        async with self._uow() as uow:
            repo = Repository(uow.session)
            original = await self._entry_or_fail(repo, entry_id, actor)
            await self._guard_reversal(repo, original)
            reversal = ledger.reverse(
                original,
                entry_id=derived_id(command_id, "reversal"),
                actor_enterprise_id=actor,
                reason=reason,
                already_reversed=await repo.is_reversed(entry_id),
                cause_event_id=f"graphql/{command_id}",
            )
            replacement = ledger.corrected(
                original,
                entry_id=derived_id(command_id, "replacement"),
                tonnes=tonnes,
                reason=reason,
                cause_event_id=f"graphql/{command_id}",
            )
            self._require_open(original.period, "id")
            await self._book(uow, repo, [reversal, replacement], cause=None, checked=True)
            await uow.commit()
        return Correction(reversal, replacement)

    # -- commands: manifests ------------------------------------------------------------

    async def dispatch(
        self,
        actor: str,
        match_id: str,
        tonnes: TonnesInput,
        from_prior_stock: bool = False,
        period: str | None = None,
    ) -> Manifest:
        """The supplier sends the shipment of a confirmed match with its origin weight."""
        now = self._clock()
        async with self._uow() as uow:
            repo = Repository(uow.session)
            current = await repo.manifest_by_match(match_id)
            if current is None or not current.involves(actor):  # one answer: see below
                raise NotAuthorized(
                    f"match {match_id} has no manifest of yours: it is unknown, not confirmed "
                    "yet, or between other enterprises",
                    "matchId",
                )
            month = Period.of(now) if period is None else Period.parse(period)
            licences = (
                [] if current.licence_id is None else await repo.licences_of(current.recycler)
            )
            dispatched = current.dispatch(
                actor_enterprise_id=actor,
                tonnes=tonnes,
                from_prior_stock=from_prior_stock,
                period=month,
                at=now,
                recycler_licences=licences,
                over_plan=self.config.load_over_plan,
            )
            self._require_open(month)
            supplier_site = await self._known_site(repo, current.route.supplier_site_id)
            assert dispatched.dispatched_tonnes is not None
            reserved = (
                Figures(transferred_out_prior=dispatched.dispatched_tonnes)
                if from_prior_stock
                else Figures(transferred_out_current=dispatched.dispatched_tonnes)
            )
            await self._ensure_balanced(
                repo, actor, current.waste_code, {month: reserved}, placed=[(month, False)]
            )
            recycler_site = await repo.site(current.route.recycler_site_id)
            written = await repo.update_manifest(
                dispatched,
                supplier_district=supplier_site.district,
                recycler_district=None if recycler_site is None else recycler_site.district,
                read=current,
            )
            if not written:
                raise _changed_meanwhile(current)
            await self._publish_manifest(uow, LEDGER_SHIPMENT_DISPATCHED.name, dispatched)
            await uow.commit()
        return dispatched

    async def receive(self, actor: str, manifest_id: str, tonnes: TonnesInput) -> Manifest:
        """The recycler confirms receipt with the destination weight; the transfer is booked."""
        now = self._clock()
        async with self._uow() as uow:
            repo = Repository(uow.session)
            current = await self._manifest_or_fail(repo, manifest_id, actor)
            received = current.receive(
                actor_enterprise_id=actor,
                tonnes=tonnes,
                tolerance=self.config.weight_tolerance,
                at=now,
            )
            route = received.route
            supplier_site = await self._known_site(repo, route.supplier_site_id)
            recycler_site = await self._known_site(repo, route.recycler_site_id)
            assert received.received_tonnes is not None
            assert received.period is not None
            # The receipt moves the shipment from the road into the supplier's books: under
            # the supplier's balance guard, or a report checked meanwhile could read the
            # books before it and the road after it, and count the shipment nowhere.
            await repo.lock_balance(route.supplier_enterprise_id, route.waste_code)
            # Claimed first: a concurrent receipt of the same manifest waits here and then
            # finds it received, instead of colliding on the transfer entries' ids.
            written = await repo.update_manifest(
                received,
                supplier_district=supplier_site.district,
                recycler_district=recycler_site.district,
                read=current,
            )
            if not written:
                raise _changed_meanwhile(current)
            event = await self._publish_manifest(uow, LEDGER_SHIPMENT_RECEIVED.name, received)
            transfers = manifests.receipt_entries(
                received,
                supplier_site=supplier_site,
                recycler_site=recycler_site,
                out_entry_id=derived_id(received.id, EntryKind.TRANSFERRED_OUT),
                in_entry_id=derived_id(received.id, EntryKind.TRANSFERRED_IN),
                cause_event_id=event.id,
            )
            # Of a shipment dispatched to a year closed since: booked to this month, as
            # prior-year stock (decision 036).
            booking = closing.receipt_booking(
                received.period,
                received.from_prior_stock,
                china_day(now),
                self.config.year_closes_on,
            )
            transfers = closing.booked_as(transfers, booking)
            if booking.carried and transfers:
                await repo.mark_booked_to(received.id, booking.period)
            # The receipt is the receiver's measurement: booked, never refused for balance.
            await self._book(uow, repo, list(transfers), cause=event, checked=False)
            await uow.commit()
        return received

    async def resolve_discrepancy(
        self, actor: str, manifest_id: str, cause: GapCause, note: str
    ) -> Manifest:
        """One party's word on a discrepancy's cause; the other party's agreement resolves it."""
        now = self._clock()
        async with self._uow() as uow:
            repo = Repository(uow.session)
            current = await self._manifest_or_fail(repo, manifest_id, actor)
            resolved = current.resolve(actor_enterprise_id=actor, cause=cause, note=note, at=now)
            if not await repo.update_manifest(resolved, read=current):
                raise _changed_meanwhile(current)
            if resolved.status is ManifestStatus.RESOLVED:
                await self._publish_manifest(uow, LEDGER_DISCREPANCY_RESOLVED.name, resolved)
            else:  # the other party hears what it is asked to agree to (`manifestChanged`)
                await self._publish_manifest(uow, LEDGER_DISCREPANCY_CAUSE_NAMED.name, resolved)
            await uow.commit()
        return resolved

    async def cancel_shipment(self, actor: str, manifest_id: str, reason: str) -> Manifest:
        """A party calls off a shipment not yet dispatched; matching then cancels the match."""
        async with self._uow() as uow:
            repo = Repository(uow.session)
            current = await self._manifest_or_fail(repo, manifest_id, actor)
            cancelled = current.cancel(actor_enterprise_id=actor, reason=reason, at=self._clock())
            if not await repo.update_manifest(cancelled, read=current):
                raise _changed_meanwhile(current)
            await self._publish_manifest(uow, LEDGER_SHIPMENT_CANCELLED.name, cancelled)
            await uow.commit()
        return cancelled

    async def cancel_cut(self, batch: int = 200) -> int:
        """Call off the shipments not yet dispatched that revocations, or amendments
        dropping their code, in force for the grace period leave no licence to take: each
        publishes `ledger.shipment-cancelled`, so matching cancels its match and its tonnes
        go back. A page per transaction; returns how many were called off."""
        today, grace = self.today(), self.config.revocation_grace_days
        cut_by = today - timedelta(days=grace)
        cancelled, after = 0, ""
        while True:
            async with self._uow() as uow:
                repo = Repository(uow.session)
                page = await repo.created_for_cut_holders(cut_by, after, batch)
                held: dict[str, list[Licence]] = {}
                for current in page:
                    if current.recycler not in held:
                        held[current.recycler] = await repo.licences_of(current.recycler)
                    called_off = current.cancel_if_cut(
                        held[current.recycler], today=today, grace_days=grace, at=self._clock()
                    )
                    # Unchanged: still lawful, or not judged. Not written: it moved on.
                    if called_off is not current and await repo.update_manifest(
                        called_off, read=current
                    ):
                        await self._publish_manifest(
                            uow, LEDGER_SHIPMENT_CANCELLED.name, called_off
                        )
                        cancelled += 1
                await uow.commit()
            if len(page) < batch:
                return cancelled
            after = page[-1].id

    async def give_up_waiting(self, batch: int = 200) -> int:
        """The reports that waited for their site longer than `report_wait`, tried once more
        (their site may have come meanwhile by a replay): one whose site is still unknown is
        parked UNKNOWN_SITE, as the ledger parked it at once before reports waited. A page
        per transaction; returns how many were taken."""
        due = self._clock() - self.config.report_wait
        taken = 0
        while True:
            async with self._uow() as uow:
                await Repository(uow.session).hold_list_order()  # as `_hold_site` says
                page = await WaitingReports(uow.session).take_arrived_by(due, batch)
                await self._book_waiting(uow, page)
                await uow.commit()
            taken += len(page)
            if len(page) < batch:
                return taken

    # -- event handlers (inside the consumer's unit of work) ----------------------------

    async def on_licence(self, uow: UnitOfWork, envelope: Envelope, data: LicenceFacts) -> None:
        """A licence registered or amended (revoked, or its codes changed): kept for the
        dispatches to come. The revocation sweep (woken once this commits) calls off what a
        revocation or a dropped code cuts for good, never this handler: a successor's
        registration on the other topic may not have been read yet, and the consumer's
        batch must not lock manifests (lock order)."""
        kept = await Repository(uow.session).upsert_licence(
            licence_of(data), data.version, made_on=china_day(envelope.time), read_on=self.today()
        )
        if data.revoked_on is not None or (kept is not None and kept.codes_dropped):
            uow.after_commit(self.revocations.set)

    async def on_site(self, uow: UnitOfWork, _: Envelope, data: SiteAdded) -> None:
        """A site added or amended (`SiteAmended` is a `SiteAdded`): the highest site version
        read is kept whatever the order the two topics arrive in. Entries booked from then on
        count in its district; those booked before keep theirs (decision 026)."""
        site = ledger.SiteFacts(data.site_id, data.enterprise_id, data.district, data.industry)
        repo = Repository(uow.session)
        # The reports that waited for it are booked now, in the order they arrived; the
        # locks in the order every writer of waiting reports takes them (`_hold_site`).
        await self._hold_site(repo, data.site_id)
        await repo.upsert_site(
            site, data.name, data.enterprise_district, data.enterprise_version, data.version
        )
        await self._book_waiting(uow, await WaitingReports(uow.session).take_for_site(site.site_id))

    async def on_enterprise(self, uow: UnitOfWork, _: Envelope, data: EnterpriseFacts) -> None:
        """An enterprise registered or amended: the latest version is kept whatever the
        order the two topics arrive in."""
        await Repository(uow.session).upsert_enterprise(
            data.enterprise_id, data.name, data.industry, data.district, data.kind, data.version
        )

    async def on_match_confirmed(
        self, uow: UnitOfWork, envelope: Envelope, data: MatchConfirmed
    ) -> None:
        """Open the manifest of a confirmed match (once, however often the event arrives)."""
        repo = Repository(uow.session)
        if await repo.manifest_by_match(data.match_id) is not None:
            return
        avoided_key, avoided_value = _avoided_factor(data)
        await repo.hold_list_order()  # before `at`: the manifests list is in creation order
        manifest = manifests.create(
            manifest_id=derived_id("manifest", data.match_id),
            match_id=data.match_id,
            route=Route(
                supplier_enterprise_id=data.supplier_enterprise_id,
                supplier_site_id=data.supplier_site_id,
                recycler_enterprise_id=data.recycler_enterprise_id,
                recycler_site_id=data.recycler_site_id,
                waste_code=data.waste_code,
                planned_tonnes=data.tonnes,
                distance_km=data.distance_km,
                planned_co2e_kg=data.co2e_kg,
                freight_factor_key=data.freight_factor_key,
                freight_factor_kg_per_tkm=data.freight_factor_kg_per_tkm,
                avoided_factor_key=avoided_key,
                avoided_factor_kg_per_tonne=avoided_value,
            ),
            at=self._clock(),
            ship_from=data.window_from,
            ship_by=data.window_until,
            licence_id=data.licence_id,
        )
        supplier_site = await repo.site(data.supplier_site_id)
        recycler_site = await repo.site(data.recycler_site_id)
        await repo.insert_manifest(
            manifest,
            None if supplier_site is None else supplier_site.district,
            None if recycler_site is None else recycler_site.district,
        )
        await self._publish_manifest(uow, LEDGER_MANIFEST_CREATED.name, manifest, cause=envelope)

    async def on_report(self, uow: UnitOfWork, envelope: Envelope, data: BaseModel) -> None:
        """A report from a factory's own system (ingest): the same use case as GraphQL. One
        naming a site the ledger does not know yet waits for the site's fact (decision 029)."""
        delivery = current_delivery()
        taken_on = _broker_day(delivery)
        try:
            await self._report_of(uow, envelope, data, taken_on)
        except DomainError as err:
            # The site is looked up before anything is written: nothing to undo.
            if err.code != errors.UNKNOWN_SITE or delivery is None:
                raise
            await self._keep_for_site(uow, envelope, data, delivery, taken_on)

    async def _report_of(
        self, uow: UnitOfWork, envelope: Envelope, data: BaseModel, taken_on: date | None
    ) -> None:
        fields = data.model_dump()
        await self.report_in(
            uow,
            envelope.source,  # the ingest authenticator checked it is the token's enterprise
            REPORT_TYPES[envelope.type],
            entry_id=derived_id("entry", envelope.source, envelope.id),
            cause_event_id=envelope.reference,
            site_id=fields["site_id"],
            **_report_terms_of(fields),
            cause=envelope,
            taken_on=taken_on,
        )

    async def _keep_for_site(
        self,
        uow: UnitOfWork,
        envelope: Envelope,
        data: BaseModel,
        delivery: Delivery,
        taken_on: date | None,
    ) -> None:
        """Keep a report whose site the ledger did not know until the site's fact arrives
        (booked now if the fact committed meanwhile)."""
        fields = data.model_dump()
        site_id = str(fields["site_id"])
        # What does not depend on the site is judged now: a wrong code or a month still to
        # come is told at once, not after a day's wait (nor let through by a later month).
        now = self._clock()
        terms = ledger.report_terms(
            REPORT_TYPES[envelope.type], **_report_terms_of(fields), now=now
        )
        self._require_open(terms.period, taken_on=taken_on)
        # Its fact may be committing now: read the site again once it has.
        repo = Repository(uow.session)
        await self._hold_site(repo, site_id)
        if await repo.site(site_id) is not None:
            await self._report_of(uow, envelope, data, taken_on)
            return
        kept = WaitingReport(envelope.reference, site_id, delivery, now)
        await WaitingReports(uow.session).keep(kept)
        log.info("report %s waits for site %s", envelope.reference, site_id)

    @staticmethod
    async def _hold_site(repo: Repository, site_id: str) -> None:
        """Hold the waiting reports of `site_id` to the end of the transaction. The lists'
        order lock first (decision 028): whoever keeps, books or gives up waiting reports
        takes the two in one order, so none waits for the other's while holding its own."""
        await repo.hold_list_order()
        await WaitingReports(repo.session).hold_site(site_id)

    async def _book_waiting(self, uow: UnitOfWork, reports: list[WaitingReport]) -> None:
        """Book `reports` in order, each as `on_report` would have when it was read; one
        refused is parked with the reason it would have been parked for then."""
        # What the transaction queued before is not these reports' to fail (the consumer
        # redoes its batch message by message when it does).
        await uow.flush_writes()
        for report in reports:
            try:
                async with uow.savepoint():
                    envelope = Envelope.from_json(report.delivery.record.value or b"")
                    spec = spec_for(envelope.type)
                    assert spec is not None  # it was decoded by that spec before it waited
                    data = spec.model.model_validate(envelope.data)
                    # Taken when the ledger first read it, for the year's close: a report
                    # sent before the close is not refused for its site's lateness.
                    await self._report_of(uow, envelope, data, china_day(report.arrived))
            except Exception as exc:
                poison = poison_of(exc)
                if poison is None:
                    raise
                if poison.code == "HANDLER_ERROR":
                    log.exception("booking report %s that waited failed", report.reference)
                await park_kept(uow, LEDGER_DLQ.name, report.delivery, report.reference, poison)

    # -- queries ------------------------------------------------------------------------

    async def waiting_census(self) -> Census:
        """The Kafka reports waiting for their site (decision 029): for `/metrics`."""
        async with self._uow.reading() as uow:
            return await WaitingReports(uow.session).census()

    async def site(self, site_id: str) -> ledger.SiteFacts | None:
        async with self._uow.reading() as uow:
            return await Repository(uow.session).site(site_id)

    async def enterprise_district(self, enterprise_id: str) -> str | None:
        async with self._uow.reading() as uow:
            return await Repository(uow.session).enterprise_district(enterprise_id)

    async def entry(self, entry_id: str) -> Entry | None:
        async with self._uow.reading() as uow:
            return await Repository(uow.session).entry(entry_id)

    async def entries(self, reach: Reach, flt: EntryFilter, first: int, after: str | None) -> Page:
        async with self._uow.reading() as uow:
            return await Repository(uow.session).list_entries(reach, flt, first, after)

    async def manifest(self, manifest_id: str) -> ManifestView | None:
        async with self._uow.reading() as uow:
            return await Repository(uow.session).manifest_view(manifest_id)

    async def manifests(
        self, reach: Reach, flt: ManifestFilter, first: int, after: str | None
    ) -> Page:
        async with self._uow.reading() as uow:
            return await Repository(uow.session).list_manifests(reach, flt, first, after)

    async def utilisation(self, scope: Scope, start: str, end: str) -> Utilisation:
        first, last = period_range(start, end)
        keys = scope.keys
        async with self._uow.reading() as uow:
            figures = await Repository(uow.session).sum_projection(keys, first, last)
        return Utilisation(figures)

    async def enterprise_utilisation(
        self, flt: LeagueFilter, start: str, end: str, first: int, after: str | None
    ) -> Page:
        """The league table: a page of `Standing`s, rate ascending, no rate last, then by
        enterprise id; each with the figures `utilisation` gives the enterprise's scope."""
        months = period_range(start, end)
        async with self._uow.reading() as uow:
            return await league.standings(uow.session, flt, months, first, after)

    async def assess(self, enterprise_id: str, year: int) -> Assessment:
        """The zero-waste assessment of one enterprise for one calendar year that has begun."""
        today = self.today()
        first, last = year_to_judge(year, today)
        # A closed year's verdict is final: it reads manifests as at its close (decision 036).
        as_at = closing.verdict_as_at(year, today, self.config.year_closes_on)
        async with self._uow.reading() as uow:
            repo = Repository(uow.session)
            # The rate's rules judge general waste (formulas.md §1); every tonne generated,
            # hazardous too, must be accounted for.
            hazardous = Scope(enterprise_id, waste_class=WasteClass.HAZARDOUS).keys
            general = await repo.sum_projection(Scope(enterprise_id).keys, first, last)
            by_code = await repo.monthly_like(str(ScopeKind.ENTERPRISE_CODE), f"{enterprise_id}|")
            records = Records(
                year=year,
                general=general,
                every_class=general + await repo.sum_projection(hazardous, first, last),
                open_discrepancies=await repo.open_discrepancies(enterprise_id, first, last, as_at),
                by_code={v.rsplit("|", 1)[-1]: months for v, months in by_code.items()},
                moving=await repo.hazardous_pipeline(enterprise_id, last),
                in_transit=await repo.in_transit(enterprise_id, None),
                weighing_gaps=await repo.weighing_gaps(enterprise_id, last, as_at),
                carried=await carried_over(uow.session, enterprise_id, None, as_at),
            )
        return assess(enterprise_id, self.config.rules, facts_of(records))

    # -- internals ----------------------------------------------------------------------

    async def _known_site(self, repo: Repository, site_id: str) -> ledger.SiteFacts:
        site = await repo.site(site_id)
        if site is None:
            raise DomainError(
                errors.UNKNOWN_SITE,
                f"site {site_id} is not known to the ledger (not registered in the catalog, "
                "or not yet propagated)",
                "siteId",
            )
        return site

    # Manifest ids derive from match ids, which derive from public listing ids, and receipt
    # entries' ids from manifests': a record that is not there and one of another enterprise
    # get one answer, or anyone could tell which pairs were confirmed and shipped.

    async def _manifest_or_fail(self, repo: Repository, manifest_id: str, actor: str) -> Manifest:
        """The manifest, if `actor` is a party to it; NOT_AUTHORIZED if absent or not."""
        found = await repo.manifest(manifest_id)
        if found is None or not found.involves(actor):
            raise NotAuthorized(
                f"manifest {manifest_id} is outside what this token may read", "manifestId"
            )
        return found

    async def _entry_or_fail(self, repo: Repository, entry_id: str, actor: str) -> Entry:
        """The entry, if it is `actor`'s; NOT_AUTHORIZED if absent or not."""
        found = await repo.entry(entry_id)
        if found is None or found.enterprise_id != actor:
            raise NotAuthorized(f"entry {entry_id} is outside what this token may read", "id")
        return found

    @staticmethod
    async def _guard_reversal(repo: Repository, original: Entry) -> None:
        """Take the entry's balance guard before asking whether it was reversed: of two
        reversals at once, the second then reads the first's and answers ALREADY_REVERSED
        (not a clash on the unique `reverses` column). Only its owner gets here
        (`_entry_or_fail`)."""
        await repo.lock_balance(original.enterprise_id, original.waste_code)

    async def _ensure_balanced(
        self,
        repo: Repository,
        enterprise_id: str,
        waste_code: str,
        deltas: dict[Period, Figures],
        placed: Sequence[tuple[Period, bool]],
    ) -> None:
        """Refuse a change of `deltas` that breaks the balance identity, or `placed` (each
        month booked, and whether as opening stock) that puts opening stock after records."""
        await repo.lock_balance(enterprise_id, waste_code)
        sheet = await repo.monthly(
            str(ScopeKind.ENTERPRISE_CODE), Scope(enterprise_id, waste_code=waste_code).value
        )
        sheet = balance.apply(sheet, await repo.in_transit(enterprise_id, waste_code))
        carried = await carried_over(repo.session, enterprise_id, waste_code)
        sheet = balance.apply(sheet, closing.carried_as_storage(carried, waste_code))
        today, closes_on = self.today(), self.config.year_closes_on
        for month, opening in placed:
            balance.ensure_stock_before_records(
                sheet,
                month,
                opening=opening,
                waste_code=waste_code,
                closed_on=lambda year: closing.closed_on(year, today, closes_on),
            )
        balance.ensure_balanced(sheet, deltas, waste_code)

    async def _book(
        self,
        uow: UnitOfWork,
        repo: Repository,
        booked: Sequence[Entry],
        *,
        cause: Envelope | None,
        checked: bool,
    ) -> None:
        if not booked:
            return
        if checked:
            groups: dict[tuple[str, str], dict[Period, Figures]] = {}
            placed: dict[tuple[str, str], list[tuple[Period, bool]]] = defaultdict(list)
            for entry in booked:
                key = (entry.enterprise_id, entry.waste_code)
                months = groups.setdefault(key, {})
                months[entry.period] = months.get(entry.period, Figures()) + delta_of(entry)
                if not entry.is_reversal:  # a reversal only takes away
                    placed[key].append((entry.period, entry.kind is EntryKind.OPENING_STOCK))
            for key, deltas in sorted(groups.items()):
                await self._ensure_balanced(repo, *key, deltas, placed[key])
        await repo.insert_entries(booked, self._clock())
        await repo.add_to_projection(projection_deltas(booked))
        for entry in booked:
            await uow.publish(
                LEDGER_ENTRY_RECORDED.name,
                Envelope.new(
                    "ledger.entry-recorded",
                    SOURCE,
                    entry.enterprise_id,
                    entry_recorded(entry),
                    id=derived_id("ledger.entry-recorded", entry.id),
                    cause=cause,
                ),
            )

    async def _publish_manifest(
        self, uow: UnitOfWork, topic: str, manifest: Manifest, cause: Envelope | None = None
    ) -> Envelope:
        facts = manifest_facts(manifest)
        data: ManifestFacts
        #: Distinguishes the events of one kind a manifest has more than one of.
        which: tuple[str, ...] = ()
        if topic == LEDGER_MANIFEST_CREATED.name:
            kind, data = "ledger.manifest-created", ManifestCreated(**facts)
        elif topic == LEDGER_SHIPMENT_DISPATCHED.name:
            kind, data = "ledger.shipment-dispatched", ShipmentDispatched(**facts)
        elif topic == LEDGER_SHIPMENT_RECEIVED.name:
            kind = "ledger.shipment-received"
            data = ShipmentReceived(**facts, discrepancy=manifest.discrepancy)
        elif topic == LEDGER_SHIPMENT_CANCELLED.name:
            cancellation = manifest.cancellation
            assert cancellation is not None
            kind = "ledger.shipment-cancelled"
            data = ShipmentCancelled(
                **facts, cancelled_by=cancellation.by, reason=cancellation.reason
            )
        elif topic == LEDGER_DISCREPANCY_CAUSE_NAMED.name:
            named = manifest.resolution
            assert named is not None
            kind = "ledger.discrepancy-cause-named"
            which = (named.proposed_by, named.proposed_at.isoformat())
            data = DiscrepancyCauseNamed(
                **facts,
                cause=str(named.cause),
                note=named.note,
                named_by=named.proposed_by,
                disputed=named.disputed_at is not None,
            )
        else:
            resolution = manifest.resolution
            assert resolution is not None
            assert resolution.agreed_note is not None
            kind = "ledger.discrepancy-resolved"
            data = DiscrepancyResolved(
                **facts,
                cause=str(resolution.cause),
                note=resolution.note,
                proposed_by=resolution.proposed_by,
                agreed_note=resolution.agreed_note,
            )
        event = Envelope.new(
            kind, SOURCE, manifest.id, data, id=derived_id(kind, manifest.id, *which), cause=cause
        )
        await uow.publish(topic, event)
        return event
