"""Use cases of the matching service: load → domain → save + outbox, in one unit of work.

- **Catalog projection**: handlers keep the read models (enterprises, sites, licences,
  offers, demands, listing status) from catalog events and mark the market changed. A
  listing keeps the terms of its newest version, posted or amended, whatever order the
  topics deliver them in.
- **Re-optimisation** (`reoptimise`): reads the market, runs the min-cost-flow allocation
  over everything not held by accepted or confirmed matches, and applies the *difference*
  to the stored proposals in one unit of work: unchanged proposals stay, replaced ones
  become SUPERSEDED (matching.match-superseded.v1), new routes become PROPOSED
  (matching.match-proposed.v1) with ids derived from (offer, demand, generation), so a
  replay of the same facts yields the same ids. A background task runs it in micro-batches:
  handlers wake it, it waits for a quiet moment (`changes.MarketChanges`) and re-optimises
  once for them all; what arrives during a round goes into the next one at once. Between
  rounds it keeps the open listings and the live matches in memory; a counter of the
  transactions that wrote matches says when anyone else did, and the next round reads them
  afresh (`repository.LiveMatches`). Rounds run in the one process holding the database's
  lease; another process on it stands by.
- **Lifecycle** (`accept`, `reject`, `expire_due`): the domain's state machine on a stored
  match, guarded by an optimistic version check, one event per step. A proposal its
  listings' amendments no longer fit is refused acceptance (`LISTING_CHANGED`) and
  superseded by the next round (`domain.listing_terms`).

The solve reads in one short transaction and writes in another, so the database is not
held while the solver runs; every write re-checks what it read (match versions), and a
concurrent change makes the round retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError

from wastex_matching.adapters import repository as repo
from wastex_matching.adapters.repository import Alternative, MatchRecord, MatchScope
from wastex_matching.adapters.tables import (
    DemandRow,
    OfferRow,
)
from wastex_matching.changes import MarketChanges
from wastex_matching.domain import errors, facts, lifecycle, reasons
from wastex_matching.domain.capacity import NetCapacities, licence_year
from wastex_matching.domain.explain import CandidateExplanation, Explainer, Verdicts
from wastex_matching.domain.feasibility import licence_refusal, licence_tonnage_refusal
from wastex_matching.domain.growth import Growth, Refused
from wastex_matching.domain.lifecycle import MatchStatus, Party
from wastex_matching.domain.listing_terms import holds_past, listing_change
from wastex_matching.domain.model import (
    AllocationResult,
    LicenceView,
    OfferSlot,
    ProposedMatch,
    Route,
    Window,
    check_tonnes,
)
from wastex_matching.domain.optimiser import allocate_growing
from wastex_matching.domain.params import MatchingParams
from wastex_matching.domain.reoptimise import ReoptimisationPlan, plan_reoptimisation
from wastex_matching.settings import MatchingSettings
from wastex_shared.calendar import china_day
from wastex_shared.codes import lookup
from wastex_shared.envelope import Envelope, derived_id, utcnow
from wastex_shared.errors import DomainError, NotFound
from wastex_shared.events.catalog import (
    DemandAmended,
    DemandFacts,
    DemandPosted,
    DemandUpdated,
    DemandWithdrawn,
    EnterpriseFacts,
    LicenceFacts,
    OfferAmended,
    OfferFacts,
    OfferPosted,
    OfferUpdated,
    OfferWithdrawn,
    SiteAdded,
)
from wastex_shared.events.ledger import ShipmentCancelled, ShipmentDispatched
from wastex_shared.events.matching import (
    MatchAccepted,
    MatchCancelled,
    MatchConfirmed,
    MatchExpired,
    MatchFacts,
    MatchProposed,
    MatchRejected,
    MatchShipped,
    MatchSuperseded,
)
from wastex_shared.storage import Lease, UnitOfWork, UnitOfWorkFactory
from wastex_shared.storage.failures import LostRace
from wastex_shared.topics import (
    MATCHING_MATCH_ACCEPTED,
    MATCHING_MATCH_CANCELLED,
    MATCHING_MATCH_CONFIRMED,
    MATCHING_MATCH_EXPIRED,
    MATCHING_MATCH_PROPOSED,
    MATCHING_MATCH_REJECTED,
    MATCHING_MATCH_SHIPPED,
    MATCHING_MATCH_SUPERSEDED,
)

log = logging.getLogger(__name__)

SOURCE = "matching"
#: Held by the process that runs the rounds (and by `wastex replay matching` while it runs).
REOPTIMISER_LEASE = "wastex.matching.reoptimiser"
#: Offers whose codes `offer_code` keeps (a few MB at most).
OFFER_CODES_KEPT = 50_000
#: Error codes of this layer (the domain's are in `wastex_matching.domain.errors`).
#: A match changed between its read and its write: read it again and retry (api.md).
CONFLICT = "CONFLICT"
LISTING_CLOSED = "LISTING_CLOSED"

#: The explain words → the public alternative reasons (GraphQL `AlternativeReason`).
#: The alternative's reason when a party turned that very pairing down before.
REJECTED = "REJECTED"
PUBLIC_REASON = {
    reasons.FEASIBLE_BUT_FULL: "NO_CAPACITY",
    reasons.FEASIBLE_BUT_COSTLIER: "COSTLIER",
    reasons.FEASIBLE: "COSTLIER",
}


class Conflict(Exception):
    """What a round read changed before it wrote: the round is retried."""


@dataclass(frozen=True)
class ReoptimiseReport:
    version: int
    proposed: int
    superseded: int
    kept: int
    matched_tonnes: Decimal
    unmatched_tonnes: Decimal
    seconds: float
    #: Of `seconds`: in the planning thread (allocation, plan diff, explanations), and in
    #: the write transaction (which holds the database's write lock on SQLite).
    planning_seconds: float = 0.0
    writing_seconds: float = 0.0
    #: Whether the round only placed new offers on the last allocation (`growth.Growth`),
    #: re-solving the part they contest, or why it could not (None: there was none to
    #: build on).
    grown: bool = False
    contested: bool = False
    refused: Refused | None = None


@dataclass
class RoundTotals:
    """What the rounds of this process have done so far (`/metrics`)."""

    rounds: int = 0
    proposed: int = 0
    superseded: int = 0
    seconds: float = 0.0
    planning_seconds: float = 0.0
    writing_seconds: float = 0.0
    grown: int = 0
    contested: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    #: Attempts that found their matches changed by another writer and went again.
    conflicts: int = 0

    def add(self, report: ReoptimiseReport) -> None:
        self.rounds += 1
        self.grown += report.grown
        self.contested += report.contested
        if report.refused is not None:
            self.refused[report.refused] += 1
        self.proposed += report.proposed
        self.superseded += report.superseded
        self.seconds += report.seconds
        self.planning_seconds += report.planning_seconds
        self.writing_seconds += report.writing_seconds

    def to_json(self) -> dict[str, Any]:
        # Not `asdict`: it rebuilds a Counter from (key, value) pairs, counting the pairs.
        return {**vars(self), "refused": dict(self.refused)}

    def plus(self, other: RoundTotals) -> RoundTotals:
        """Both together (a service's totals over the re-optimiser processes it has run)."""
        summed = {
            name: getattr(self, name) + getattr(other, name)
            for name in vars(self)
            if name != "refused"
        }
        return RoundTotals(**summed, refused=self.refused + other.refused)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RoundTotals:
        return cls(**{**data, "refused": Counter(data["refused"])})


class MatchingService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        settings: MatchingSettings,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._uow = uow
        self.settings = settings
        self.clock = clock
        self.params = MatchingParams(
            road_factor=settings.road_factor, freight_factor_key=settings.freight_factor_key
        )
        #: Set by anything that may change the best allocation; wakes the re-optimiser.
        self.changed = MarketChanges()
        #: Set once a licence change, a listing's amendment or its withdrawal has committed:
        #: the expiry sweep runs at once (in the child, when rounds run in one:
        #: `ReoptimiserProcess` forwards it).
        self.sweep_soon = asyncio.Event()
        #: The market version the last completed round saw (-1: none yet).
        self.processed_version = -1
        #: The day of the last completed round: a new day is a new market (windows open and
        #: close, licences start, last year's matches stop using this year's tonnage).
        self.processed_day: date | None = None
        self.last_report: ReoptimiseReport | None = None
        self.totals = RoundTotals()
        #: Set whenever `totals` changed (a round done, or an attempt conflicted).
        self.totals_changed = asyncio.Event()
        #: Open listings already read, and the live matches as the last round left them
        #: (rounds run one at a time, under `_round`).
        self._listings = repo.ListingCache()
        #: Offers' codes read for the offer subscriptions (`offer_code`), newest last.
        self._offer_codes: OrderedDict[str, str] = OrderedDict()
        self._live: repo.LiveMatches | None = None
        #: What the last round's allocation leaves for a round that only adds offers, and
        #: the live matches it holds for (after that round's own write).
        self._growth: tuple[Growth, repo.LiveMatches] | None = None
        #: Pairs assessed for the explanations of earlier rounds (only rounds use it).
        self._verdicts = Verdicts()
        self._round = asyncio.Lock()
        #: Rounds run in one process per database; another one stands by (`run_reoptimiser`).
        self.lease = Lease(uow.engine, REOPTIMISER_LEASE)
        self._was_leading = True  # so a first holder says nothing, a first standby says so
        #: Whether this process held the lease when the re-optimiser last asked (None: not
        #: asked yet); the expiry sweeper follows it.
        self.leading: bool | None = None

    @property
    def uow_factory(self) -> UnitOfWorkFactory:
        return self._uow

    # --- time --------------------------------------------------------------------------

    def today(self) -> date:
        """The city's calendar day (windows and expiry are in local days)."""
        return china_day(self.clock())

    # --- catalog projection (consumer handlers: no commit here) -------------------------

    def handlers(self) -> dict[str, Callable[[UnitOfWork, Envelope, Any], Any]]:
        return {
            "catalog.enterprise-registered": self.on_enterprise,
            "catalog.enterprise-amended": self.on_enterprise,
            "catalog.site-added": self.on_site,
            "catalog.site-amended": self.on_site,
            "catalog.licence-registered": self.on_licence,
            "catalog.licence-amended": self.on_licence,
            "catalog.offer-posted": self.on_offer_posted,
            "catalog.offer-amended": self.on_offer_amended,
            "catalog.offer-withdrawn": self.on_offer_withdrawn,
            "catalog.offer-updated": self.on_offer_updated,
            "catalog.demand-posted": self.on_demand_posted,
            "catalog.demand-amended": self.on_demand_amended,
            "catalog.demand-withdrawn": self.on_demand_withdrawn,
            "catalog.demand-updated": self.on_demand_updated,
            "ledger.shipment-cancelled": self.on_shipment_cancelled,
            "ledger.shipment-dispatched": self.on_shipment_dispatched,
        }

    async def _market_changed(self, uow: UnitOfWork) -> None:
        """Bump the market version, and wake the re-optimiser once that has committed (woken
        before, a round could read the version before it, and skip the change until the
        next poll)."""
        await repo.bump_version(uow.session)
        uow.after_commit(self.changed.set)

    async def on_enterprise(self, uow: UnitOfWork, _: Envelope, data: EnterpriseFacts) -> None:
        """An enterprise registered or amended: the highest version read is kept."""
        await repo.upsert_enterprise(uow.session, data)

    async def on_site(self, uow: UnitOfWork, _: Envelope, data: SiteAdded) -> None:
        """A site added or amended (`SiteAmended` is a `SiteAdded`): the highest version read
        is kept. Listings carry their own place (the catalog re-publishes a moved site's live
        offers and demands), so nothing else follows."""
        await repo.upsert_site(uow.session, data)

    async def on_licence(self, uow: UnitOfWork, _: Envelope, data: LicenceFacts) -> None:
        """A licence registered or amended (revoked): the next round plans with it, and the
        expiry sweep ends accepted matches it no longer allows."""
        facts.check_licence(data)
        await repo.upsert_licence(uow.session, data)
        await self._market_changed(uow)
        uow.after_commit(self.sweep_soon.set)

    async def on_offer_posted(self, uow: UnitOfWork, _: Envelope, data: OfferPosted) -> None:
        await self._offer_terms(uow, data, None)

    async def on_offer_amended(self, uow: UnitOfWork, _: Envelope, data: OfferAmended) -> None:
        """Its owner changed its quantity, window or description: the next round plans with
        the new terms, and supersedes the proposals they no longer allow; the expiry sweep
        ends accepted matches its quantity no longer holds."""
        await self._offer_terms(uow, data, data.remaining_tonnes)
        uow.after_commit(self.sweep_soon.set)

    async def _offer_terms(
        self, uow: UnitOfWork, data: OfferFacts, remaining: Decimal | None
    ) -> None:
        """The offer as a posting or an amendment has it, whichever of them is newer."""
        facts.check_listing(data)
        await repo.upsert_listing(
            uow.session,
            OfferRow,
            data.offer_id,
            data.version,
            enterprise_id=data.enterprise_id,
            site_id=data.site_id,
            district=data.district,
            latitude=data.latitude,
            longitude=data.longitude,
            waste_code=data.waste_code,
            hazardous=data.hazardous,
            quantity_tonnes=data.quantity_tonnes,
            available_from=data.available_from,
            available_until=data.available_until,
            description=data.description,
        )
        await repo.set_listing_status(
            uow.session, data.offer_id, "offer", data.status, remaining, data.version
        )
        await self._market_changed(uow)

    async def on_offer_withdrawn(self, uow: UnitOfWork, _: Envelope, data: OfferWithdrawn) -> None:
        """Its owner took it off the market: the next round supersedes its proposals, and the
        sweep rejects the matches one side has accepted (`expire_due`)."""
        await self._status_changed(uow, data.offer_id, "offer", data)
        uow.after_commit(self.sweep_soon.set)

    async def on_offer_updated(self, uow: UnitOfWork, _: Envelope, data: OfferUpdated) -> None:
        # The remaining tonnage the catalog reports is what *our* accepted matches took;
        # matching counts those itself (FixedMatch), so only the status matters here.
        await self._status_changed(uow, data.offer_id, "offer", data)

    async def on_demand_posted(self, uow: UnitOfWork, _: Envelope, data: DemandPosted) -> None:
        await self._demand_terms(uow, data, None)

    async def on_demand_amended(self, uow: UnitOfWork, _: Envelope, data: DemandAmended) -> None:
        """Its owner changed its quantity, radius or window: as `on_offer_amended`."""
        await self._demand_terms(uow, data, data.remaining_tonnes)
        uow.after_commit(self.sweep_soon.set)

    async def _demand_terms(
        self, uow: UnitOfWork, data: DemandFacts, remaining: Decimal | None
    ) -> None:
        """The demand as a posting or an amendment has it, whichever of them is newer."""
        facts.check_listing(data, data.max_distance_km)
        await repo.upsert_listing(
            uow.session,
            DemandRow,
            data.demand_id,
            data.version,
            enterprise_id=data.enterprise_id,
            site_id=data.site_id,
            district=data.district,
            latitude=data.latitude,
            longitude=data.longitude,
            waste_codes=repo.codes_json(data.waste_codes),
            quantity_tonnes=data.quantity_tonnes,
            max_distance_km=data.max_distance_km,
            available_from=data.available_from,
            available_until=data.available_until,
        )
        await repo.set_listing_status(
            uow.session, data.demand_id, "demand", data.status, remaining, data.version
        )
        await self._market_changed(uow)

    async def on_demand_withdrawn(
        self, uow: UnitOfWork, _: Envelope, data: DemandWithdrawn
    ) -> None:
        """As `on_offer_withdrawn`."""
        await self._status_changed(uow, data.demand_id, "demand", data)
        uow.after_commit(self.sweep_soon.set)

    async def on_demand_updated(self, uow: UnitOfWork, _: Envelope, data: DemandUpdated) -> None:
        await self._status_changed(uow, data.demand_id, "demand", data)

    async def _status_changed(
        self,
        uow: UnitOfWork,
        listing_id: str,
        kind: str,
        data: OfferWithdrawn | OfferUpdated | DemandWithdrawn | DemandUpdated,
    ) -> None:
        """The listing's status, remaining tonnes and version as the catalog now has them;
        the market re-plans."""
        await repo.set_listing_status(
            uow.session, listing_id, kind, data.status, data.remaining_tonnes, data.version
        )
        await self._market_changed(uow)

    # --- the ledger's word on confirmed matches (consumer handler: no commit here) -------

    async def on_shipment_cancelled(
        self, uow: UnitOfWork, envelope: Envelope, data: ShipmentCancelled
    ) -> None:
        """A party called off a confirmed match's shipment in the ledger before it left: the
        match is CANCELLED and gives its tonnes back (the catalog hears
        `matching.match-cancelled`)."""
        record = await self._load(uow, data.match_id)
        if record.status is MatchStatus.CANCELLED:
            return  # told twice (a re-driven event with another id)
        parties = {
            record.supplier_enterprise_id: Party.SUPPLIER,
            record.recycler_enterprise_id: Party.RECYCLER,
        }
        party = parties.get(data.cancelled_by)
        if party is None:
            raise DomainError(
                "NOT_A_PARTY",
                f"{data.cancelled_by} is no party of match {record.id}: it cannot call it off",
            )
        cancelled = replace(
            record,
            status=lifecycle.cancel(record.status),
            cancelled_by=party.value,
            cancel_reason=data.reason,
        )
        await self._market_changed(uow)  # its tonnes come free; before the match (lock order)
        cancelled = await self._save_or_read_again(uow, record, cancelled)
        await self._publish(
            uow,
            MATCHING_MATCH_CANCELLED.name,
            "matching.match-cancelled",
            cancelled,
            "cancelled",
            MatchCancelled(**self._facts(cancelled), cancelled_by=party.value, reason=data.reason),
            cause=envelope,
        )

    async def on_shipment_dispatched(
        self, uow: UnitOfWork, envelope: Envelope, data: ShipmentDispatched
    ) -> None:
        """A confirmed match's shipment left, weighing what the ledger says: the match
        records it and from then on holds min(its tonnes, the load) of the offer, the demand
        and the licence's year; the shortfall goes back (the catalog hears
        `matching.match-shipped`; decision 032). A load as heavy or heavier frees nothing."""
        record = await self._load(uow, data.match_id)
        if record.shipped_tonnes is not None:
            return  # told twice (a re-driven event with another id)
        if data.dispatched_tonnes is None:
            raise DomainError(
                errors.INVALID_QUANTITY,
                f"the dispatch of match {record.id} gives no weight",
                "dispatchedTonnes",
            )
        shipped = check_tonnes(data.dispatched_tonnes, "dispatchedTonnes", allow_zero=False)
        if record.status is not MatchStatus.CONFIRMED:
            # The ledger opens a manifest only for a confirmed match, and a dispatched one
            # can no longer be cancelled: nothing else can be shipped.
            raise DomainError(
                errors.INVALID_TRANSITION,
                f"match {record.id} is {record.status.value}: only a CONFIRMED match ships",
            )
        updated = replace(record, shipped_tonnes=shipped)
        released = record.held_tonnes - updated.held_tonnes
        if released > 0:
            await self._market_changed(uow)  # the shortfall comes free; before the match
        else:
            # Nothing comes free, but the market version still comes first (lock order): a
            # later message of the batch may bump it, after this one counted a match write.
            await repo.hold_market_version(uow.session)
        updated = await self._save_or_read_again(uow, record, updated)
        await self._publish(
            uow,
            MATCHING_MATCH_SHIPPED.name,
            "matching.match-shipped",
            updated,
            "shipped",
            MatchShipped(**self._facts(updated), shipped_tonnes=shipped, released_tonnes=released),
            cause=envelope,
        )

    # --- queries ------------------------------------------------------------------------

    async def get(self, match_id: str) -> MatchRecord | None:
        async with self._uow.reading() as uow:
            return await repo.get_match(uow.session, match_id)

    async def list_matches(
        self,
        scope: MatchScope,
        *,
        status: MatchStatus | None,
        enterprise_id: str | None,
        limit: int,
        after: tuple[datetime, str] | None,
    ) -> tuple[list[MatchRecord], int]:
        async with self._uow.reading() as uow:
            return await repo.list_matches(
                uow.session,
                scope,
                status=status,
                enterprise_id=enterprise_id,
                limit=limit,
                after=after,
            )

    async def licences_of(self, enterprise_id: str) -> list[LicenceView]:
        async with self._uow.reading() as uow:
            return await repo.licences_of(uow.session, enterprise_id)

    async def offer(self, offer_id: str) -> OfferSlot | None:
        """The offer as matching heard of it (its code and owner); None if it never did."""
        async with self._uow.reading() as uow:
            return await repo.offer(uow.session, offer_id)

    async def offer_code(self, offer_id: str) -> str | None:
        """The offer's waste code (None if matching never heard of it), read once: a code
        never changes, and the offer subscriptions ask on every change of every offer, once
        per subscriber."""
        code = self._offer_codes.get(offer_id)
        if code is None:
            known = await self.offer(offer_id)
            if known is None:
                return None
            code = self._offer_codes[offer_id] = known.waste_code
            if len(self._offer_codes) > OFFER_CODES_KEPT:
                self._offer_codes.popitem(last=False)
        return code

    # --- lifecycle ----------------------------------------------------------------------

    async def accept(self, match_id: str, party: Party) -> MatchRecord:
        """`party` accepts: the first acceptance fixes the match, the second confirms it."""
        async with self._uow() as uow:
            # The market version held, then counted, then locked, first (the lock order:
            # `repository`): a consumer batch writing the licence or listing rows locked below
            # takes turns with it, and so do both parties accepting at once, the second
            # confirming (on PostgreSQL the second read the proposal and lost the version check).
            await repo.hold_market_version(uow.session)
            await repo.note_match_writes(uow.session)
            record = await self._load(uow, match_id, for_update=True)
            status = lifecycle.accept(record.status, party)
            # One moment for the whole acceptance: read again at each step, the clock could
            # pass midnight between them, and an acceptance stamped on 1 January commit its
            # tonnes to the year before (or one judged in its window stamped after it).
            now = self.clock()
            today = china_day(now)
            if record.window_until < today:
                raise DomainError(
                    errors.INVALID_TRANSITION,
                    f"the shipping window of match {match_id} ended on {record.window_until}",
                    lifecycle.MATCH_FIELD,
                )
            # The first acceptance commits the tonnes: to the year they ship in, or this one
            # if that has passed (a December proposal accepted in January).
            year = (
                licence_year(record.window_from, today)
                if record.status is MatchStatus.PROPOSED
                else None
            )
            # Read under a lock: an amendment of the licence waits for this acceptance, or
            # this acceptance reads the amendment (the sweep then has nothing to undo), and
            # first acceptances on one licence count each other's tonnes.
            licence = None
            if record.licence_id is not None:
                licence = await repo.licence(uow.session, record.licence_id, for_share=True)
            if licence is not None:  # (a licence not in the read model refuses nothing)
                # With its holder's others: a renewal continues it (decision 031). Their
                # rows are written only under the market version held above.
                held = await repo.licences_of(uow.session, licence.enterprise_id)
                refusal = licence_refusal(
                    licence,
                    record.waste_code,
                    record.window,
                    today,
                    held,
                    first=record.status is MatchStatus.PROPOSED,
                )
                if refusal is None and year is not None:
                    committed = await repo.licence_committed_tonnes(uow.session, record, year)
                    refusal = licence_tonnage_refusal(
                        licence, year, committed, record.tonnes, told=party
                    )
                if refusal is not None:
                    raise DomainError(errors.LICENCE_NO_LONGER_VALID, refusal)
            for ident, what in ((record.offer_id, "offer"), (record.demand_id, "demand")):
                listing = await repo.listing_status(uow.session, ident)
                if record.status is MatchStatus.PROPOSED and listing in repo.CLOSED_LISTING:
                    raise DomainError(
                        LISTING_CLOSED, f"the {what} {ident} is no longer on the market"
                    )
                if listing == "WITHDRAWN":  # the sweep is about to reject it (decision 030)
                    raise DomainError(
                        LISTING_CLOSED,
                        f"the {what} {ident} was withdrawn by its owner: match {match_id} "
                        "can no longer be confirmed",
                    )
            await self._check_listing_terms(uow, record, today)
            updated = replace(
                record,
                status=status,
                licence_year=record.licence_year if year is None else year,
                supplier_accepted_at=now
                if party is Party.SUPPLIER
                else record.supplier_accepted_at,
                recycler_accepted_at=now
                if party is Party.RECYCLER
                else record.recycler_accepted_at,
            )
            updated = await self._save(uow, record, updated)
            await self._publish(
                uow,
                MATCHING_MATCH_ACCEPTED.name,
                "matching.match-accepted",
                updated,
                "accepted",
                MatchAccepted(**self._facts(updated), accepted_by=party.value),
            )
            if status is MatchStatus.CONFIRMED:
                await self._publish(
                    uow,
                    MATCHING_MATCH_CONFIRMED.name,
                    "matching.match-confirmed",
                    updated,
                    "confirmed",
                    MatchConfirmed(**self._facts(updated)),
                )
            await uow.commit()
            return updated

    async def _check_listing_terms(self, uow: UnitOfWork, record: MatchRecord, today: date) -> None:
        """Refuse an acceptance its offer or demand, amended since, no longer fits: a
        proposal (the next round supersedes it), or the second acceptance of a match whose
        tonnes the amended quantity no longer leaves (`listing_terms`)."""
        # Locked (offer, then demand): acceptances of one listing's matches run one after
        # the other, each counting what the ones before it hold; an amendment waits too.
        offer = await repo.offer(uow.session, record.offer_id, for_update=True)
        demand = await repo.demand(uow.session, record.demand_id, for_update=True)
        if offer is None or demand is None:
            return  # a gap in the read model is no amendment: it refuses nothing
        held = await repo.held_tonnes(uow.session, record)
        proposed = record.status is MatchStatus.PROPOSED
        terms = repo.match_terms(record)
        change = listing_change(
            terms,
            offer,
            demand,
            today,
            held=held,
            tonnes_only=not proposed,
            road_factor=self.params.road_factor,
        )
        if change is not None:
            raise DomainError(
                errors.LISTING_CHANGED,
                f"match {record.id} was proposed before its listings changed: {change}"
                + ("; the next round proposes on the new terms" if proposed else ""),
            )

    async def reject(self, match_id: str, party: Party, reason: str) -> MatchRecord:
        """Either party turns the match down before confirmation; its tonnes are released."""
        async with self._uow() as uow:
            # As in `accept`, after the market version (the tonnes it frees; lock order).
            await self._market_changed(uow)
            await repo.note_match_writes(uow.session)
            record = await self._load(uow, match_id, for_update=True)
            status = lifecycle.reject(record.status, party, reason)
            updated = replace(
                record, status=status, rejected_by=party.value, rejection_reason=reason.strip()
            )
            updated = await self._save(uow, record, updated)
            await self._publish(
                uow,
                MATCHING_MATCH_REJECTED.name,
                "matching.match-rejected",
                updated,
                "rejected",
                MatchRejected(
                    **self._facts(updated), rejected_by=party.value, reason=reason.strip()
                ),
            )
            await uow.commit()
            return updated

    async def expire_due(self) -> int:
        """Expire open matches whose shipping window has passed, and accepted ones whose
        licence was amended or revoked and no longer allows them, or whose offer's or
        demand's amended quantity no longer holds them; reject, on its owner's side, the
        accepted ones whose offer or demand was withdrawn (decision 030); returns how many
        ended.

        (A PROPOSED match of such a licence or listing is superseded by the next round, and
        none can be accepted meanwhile: `accept` checks the licence and the listings.)"""
        today = self.today()
        async with self._uow() as uow:
            # Held before anything is read (the lock order: `repository`): what it judges by,
            # the other matches' holds and the licences, is written only under it, so a
            # rejection or a licence change committing meanwhile is seen, not the state
            # before it (on PostgreSQL each statement reads what has committed by then).
            await repo.hold_market_version(uow.session)
            due = {
                record.id: (record, f"its shipping window ended on {record.window_until}")
                for record in await repo.due_to_expire(uow.session, today)
            }
            accepted = await repo.accepted_with_licences(uow.session)
            held = await repo.licences_of_holders(
                uow.session, {licence.enterprise_id for _, licence in accepted if licence}
            )
            for record, licence in accepted:
                if licence is None:
                    continue  # a gap in the read model is no revocation: nothing to undo
                refusal = licence_refusal(
                    licence,
                    record.waste_code,
                    record.window,
                    today,
                    held[licence.enterprise_id],
                    first=False,
                )
                if refusal is not None and record.id not in due:
                    due[record.id] = (record, refusal)
            left = {
                record.id: (record, kind)
                for record, kind in await repo.accepted_on_withdrawn_listings(uow.session)
                if record.id not in due
            }
            for record, reason in await self._no_longer_held(uow, set(due) | set(left)):
                due[record.id] = (record, reason)
            if due or left:  # their tonnes come free; before the matches (lock order)
                await self._market_changed(uow)
            for record, kind in left.values():
                await self._reject_withdrawn(uow, record, kind)
            for record, reason in due.values():
                expired = lifecycle.expire(record.status)
                updated = replace(record, status=expired, expiry_reason=reason)
                updated = await self._save(uow, record, updated)
                await self._publish(
                    uow,
                    MATCHING_MATCH_EXPIRED.name,
                    "matching.match-expired",
                    updated,
                    "expired",
                    MatchExpired(**self._facts(updated), reason=reason),
                )
            await uow.commit()
        return len(due) + len(left)

    async def _reject_withdrawn(self, uow: UnitOfWork, record: MatchRecord, kind: str) -> None:
        """End an accepted match whose `kind` of listing its owner withdrew: rejected on the
        owner's side (withdrawing its acceptance, if it had given one), as if it had said so."""
        party = Party.SUPPLIER if kind == "offer" else Party.RECYCLER
        ident = record.offer_id if kind == "offer" else record.demand_id
        reason = f"the {kind} {ident} was withdrawn by its owner"
        rejected = replace(
            record,
            status=lifecycle.reject(record.status, party, reason),
            rejected_by=party.value,
            rejection_reason=reason,
        )
        rejected = await self._save(uow, record, rejected)
        await self._publish(
            uow,
            MATCHING_MATCH_REJECTED.name,
            "matching.match-rejected",
            rejected,
            "rejected",
            MatchRejected(**self._facts(rejected), rejected_by=party.value, reason=reason),
        )

    async def _no_longer_held(
        self, uow: UnitOfWork, due: set[str]
    ) -> list[tuple[MatchRecord, str]]:
        """Matches accepted by one side only that their offer's or demand's amended quantity
        no longer holds beside the matches staying (`holds_past`; the catalog let the
        quantity go down before it heard of them): they cannot be confirmed, so they end
        now, each with why. The `due` ones end anyway."""
        past: dict[str, str] = {}
        for kind, ident, quantity, holds in await repo.holds_on_amended_listings(uow.session):
            # The ones this sweep ends for another reason (window, licence) hold nothing from
            # now on: the later ones may have room.
            staying = [hold for hold in holds if hold.match_id not in due]
            for hold in holds_past(quantity, staying):
                past.setdefault(
                    hold.match_id,
                    f"the {kind} {ident} was amended to {quantity} t, which the matches "
                    f"accepted before this one hold",
                )
        records = await repo.matches_by_id(uow.session, set(past) - due)
        return [(records[ident], past[ident]) for ident in sorted(records)]

    async def _load(
        self, uow: UnitOfWork, match_id: str, *, for_update: bool = False
    ) -> MatchRecord:
        record = await repo.get_match(uow.session, match_id, for_update=for_update)
        if record is None:
            raise NotFound("match", match_id)
        return record

    async def _save_or_read_again(
        self, uow: UnitOfWork, old: MatchRecord, new: MatchRecord
    ) -> MatchRecord:
        """`_save` in a consumer's handler: a match that moved on since it was read is read
        again (`LostRace`: the consumer runs the message again), not refused."""
        try:
            return await self._save(uow, old, new)
        except DomainError as err:
            raise LostRace(err.message) from err

    async def _save(self, uow: UnitOfWork, old: MatchRecord, new: MatchRecord) -> MatchRecord:
        stamped = replace(new, updated_at=self.clock(), version=old.version + 1)
        if not await repo.update_match(uow.session, stamped, old.version):
            raise DomainError(
                CONFLICT, f"match {old.id} changed meanwhile; read it again and retry"
            )
        return stamped

    # --- events -------------------------------------------------------------------------

    def _facts(self, record: MatchRecord) -> dict[str, Any]:
        return dict(
            match_id=record.id,
            offer_id=record.offer_id,
            demand_id=record.demand_id,
            supplier_enterprise_id=record.supplier_enterprise_id,
            supplier_site_id=record.supplier_site_id,
            recycler_enterprise_id=record.recycler_enterprise_id,
            recycler_site_id=record.recycler_site_id,
            waste_code=record.waste_code,
            tonnes=record.tonnes,
            distance_km=record.distance_km,
            co2e_kg=record.co2e_kg,
            avoided_co2e_kg=record.avoided_co2e_kg,
            freight_factor_key=record.freight_factor_key,
            freight_factor_kg_per_tkm=record.freight_factor_kg_per_tkm,
            avoided_factor_key=record.avoided_factor_key,
            status=record.status.value,
            licence_id=record.licence_id,
            supplier_district=record.supplier_district,
            recycler_district=record.recycler_district,
            freight_factor_source=record.freight_factor_source,
            window_from=record.window_from,
            window_until=record.window_until,
        )

    async def _publish(
        self,
        uow: UnitOfWork,
        topic: str,
        event_type: str,
        record: MatchRecord,
        step: str,
        data: MatchFacts,
        cause: Envelope | None = None,
    ) -> None:
        await uow.publish(*self._event(topic, event_type, record, step, data, cause))

    @staticmethod
    def _event(
        topic: str,
        event_type: str,
        record: MatchRecord,
        step: str,
        data: MatchFacts,
        cause: Envelope | None = None,
    ) -> tuple[str, Envelope]:
        """The fact, carrying the ids of the message that caused it (`cause`: the ledger's
        fact a handler moved the match for), as the catalog's and the ledger's do."""
        # Derived from the match and its version: re-running the same step yields the same id.
        event_id = derived_id(SOURCE, record.id, step, record.version)
        return topic, Envelope.new(event_type, SOURCE, record.id, data, id=event_id, cause=cause)

    # --- re-optimisation ----------------------------------------------------------------

    async def reoptimise(self) -> ReoptimiseReport:
        """One round: allocate what is not fixed, apply the difference; retried on conflict."""
        async with self._round:
            for attempt in range(5):
                day = self.today()
                try:
                    report = await self._reoptimise_once()
                except Conflict as conflict:
                    self.totals.conflicts += 1
                    self.totals_changed.set()
                    log.info("re-optimisation conflict (%s); retrying", conflict)
                    await asyncio.sleep(0.05 * (attempt + 1))
                    continue
                self.processed_version, self.processed_day = report.version, day
                self.last_report = report
                self.totals.add(report)
                self.totals_changed.set()
                return report
            raise DomainError(CONFLICT, "re-optimisation kept conflicting; will retry")

    async def _reoptimise_once(self) -> ReoptimiseReport:
        started = time.perf_counter()
        today = self.today()
        async with self._uow.reading() as uow:
            snapshot = await repo.load_market(uow.session, today, self._listings, self._live)
            await uow.rollback()
        rejected = snapshot.rejected
        outdated = self._outdated(snapshot, today)
        self._live = snapshot.matches
        # A round builds on the last allocation only if no one else wrote matches since.
        last, self._growth = self._growth, None
        growth = last[0] if last is not None and last[1] is snapshot.matches else None
        # The pure part of the round, off the event loop: consumers and queries go on.
        planning = time.perf_counter()
        result, plan, explanations, next_growth, refused = await asyncio.to_thread(
            self._plan, snapshot, today, rejected, growth, outdated
        )
        planning = time.perf_counter() - planning
        now = self.clock()
        # The records and events are built before the write transaction, which holds
        # SQLite's one write lock that the consumers wait for. Only rounds insert matches
        # and they run one at a time; were a generation taken meanwhile, the insert
        # conflicts and the round is retried.
        routes = [result.explain(route) for route in plan.propose]
        async with self._uow.reading() as uow:
            pairs = [(route.offer_id, route.demand_id) for route in routes]
            generations = await repo.generations(uow.session, pairs)
            stored = await repo.matches_by_id(uow.session, (m.match_id for m in plan.supersede))
            await uow.rollback()
        new_records: list[MatchRecord] = []
        for route in routes:
            pair = (route.offer_id, route.demand_id)
            generation = generations.get(pair, 0)
            generations[pair] = generation + 1
            new_records.append(
                self._new_record(result.net, route, generation, today, now, explanations, rejected)
            )
        superseded = self._superseded(plan, snapshot, stored, now)
        events = self._round_events(superseded, new_records)
        new_matches = repo.NewMatches.of(new_records)
        writing = time.perf_counter()
        async with self._uow() as uow:
            # Counted before the matches are written (lock order: `repository`).
            writes = await repo.note_match_writes(uow.session)
            # Compare-and-set against the versions planning saw, not the ones read now.
            if await repo.update_statuses(uow.session, superseded) != len(superseded):
                raise Conflict("a proposal to supersede changed during the round")
            try:
                await repo.insert_matches(uow.session, new_matches)
            except IntegrityError as exc:
                raise Conflict("a match of this round exists already") from exc
            for topic, envelope, payload in events:
                await uow.publish_raw(topic, envelope.key, envelope.id, payload)
            await uow.commit()
        self._listings.amended.clear()  # their proposals are checked, and what was stale gone
        writing = time.perf_counter() - writing
        grown = growth is not None and refused is None
        self._live = snapshot.matches.after_round(
            writes,
            superseded=(stale.match_id for stale in plan.supersede),
            proposed=new_records,
        )
        if self._live is not None and next_growth is not None:
            self._growth = (next_growth, self._live)
        return ReoptimiseReport(
            version=snapshot.version,
            proposed=len(new_records),
            superseded=len(plan.supersede),
            kept=len(plan.kept),
            matched_tonnes=result.matched_tonnes,
            unmatched_tonnes=result.unmatched_total_tonnes,
            seconds=time.perf_counter() - started,
            planning_seconds=planning,
            writing_seconds=writing,
            grown=grown,
            contested=grown and result.rounds > 0,  # a grown round's solves: its re-solve
            refused=refused,
        )

    @staticmethod
    def _superseded(
        plan: ReoptimisationPlan,
        snapshot: repo.MarketSnapshot,
        stored: dict[str, MatchRecord],
        now: datetime,
    ) -> list[MatchRecord]:
        """The proposals `plan` supersedes as they will be stored: each as planning saw it
        (else the round conflicts), one version on."""
        superseded = []
        for stale in plan.supersede:
            old = stored.get(stale.match_id)
            if old is None or old.version != snapshot.proposal_version(stale.match_id):
                raise Conflict(f"match {stale.match_id} changed during the round")
            status = lifecycle.supersede(old.status)
            superseded.append(replace(old, status=status, updated_at=now, version=old.version + 1))
        return superseded

    def _round_events(
        self, superseded: Sequence[MatchRecord], proposed: Sequence[MatchRecord]
    ) -> list[tuple[str, Envelope, bytes]]:
        """A round's events, serialised: each superseded match names its successors (the new
        proposals of its offer or demand), then the new proposals."""
        replaced_by: dict[str, list[str]] = defaultdict(list)
        for record in proposed:
            replaced_by[record.offer_id].append(record.id)
            replaced_by[record.demand_id].append(record.id)
        events = [
            self._event(
                MATCHING_MATCH_SUPERSEDED.name,
                "matching.match-superseded",
                record,
                "superseded",
                MatchSuperseded(
                    **self._facts(record),
                    replaced_by=sorted(
                        set(replaced_by[record.offer_id] + replaced_by[record.demand_id])
                    ),
                ),
            )
            for record in superseded
        ]
        events += (
            self._event(
                MATCHING_MATCH_PROPOSED.name,
                "matching.match-proposed",
                record,
                "proposed",
                MatchProposed(**self._facts(record)),
            )
            for record in proposed
        )
        return [(topic, envelope, envelope.to_json()) for topic, envelope in events]

    def _outdated(self, snapshot: repo.MarketSnapshot, today: date) -> frozenset[str]:
        """The proposals of amended listings that no longer fit them (`listing_terms`): the
        allocation may repeat one whose window the amendment narrowed, tonnes alike."""
        offers, demands = self._listings.offers, self._listings.demands
        outdated: set[str] = set()
        for match_id, terms in snapshot.amended.items():
            offer, demand = offers.get(terms.offer_id), demands.get(terms.demand_id)
            if offer is None or demand is None:
                continue  # no longer open: the allocation routes nothing there anyway
            change = listing_change(
                terms, offer, demand, today, road_factor=self.params.road_factor
            )
            if change is not None:
                outdated.add(match_id)
        return frozenset(outdated)

    def _plan(
        self,
        snapshot: repo.MarketSnapshot,
        today: date,
        rejected: frozenset[tuple[str, str]],
        growth: Growth | None,
        outdated: frozenset[str] = frozenset(),
    ) -> tuple[
        AllocationResult,
        ReoptimisationPlan,
        dict[str, list[CandidateExplanation]],
        Growth | None,
        Refused | None,
    ]:
        """Allocate (on the last allocation when only offers were added), diff against the
        stored proposals (superseding the `outdated` ones whatever), explain the new ones
        (no I/O); and what the next round can grow on, and why this one could not grow on
        `growth`."""
        listings = (snapshot.offers, snapshot.demands, snapshot.licences)
        market: dict[str, Any] = dict(
            today=today, fixed=snapshot.fixed, params=self.params, excluded_pairs=rejected
        )
        grown = growth.added(*listings, **market) if growth is not None else None
        next_growth: Growth | None
        if grown is None or isinstance(grown, Refused):
            result, next_growth = allocate_growing(*listings, **market, standing=snapshot.proposals)
        else:
            result, next_growth = grown
        plan = plan_reoptimisation(snapshot.proposals, result, outdated=outdated)
        explanations = self._explanations(result, plan.propose, today)
        refused = grown if isinstance(grown, Refused) else None
        return result, plan, explanations, next_growth, refused

    def _explanations(
        self, result: AllocationResult, routes: Sequence[Route], today: date
    ) -> dict[str, list[CandidateExplanation]]:
        """For each offer that gets a new proposal, the other demands it could have gone to
        (the first `alternatives_limit` of its explanation)."""
        explainer = Explainer(
            result.net,
            today=today,
            params=self.params,
            allocation=result,
            verdicts=self._verdicts,
        )
        limit = self.settings.alternatives_limit
        return {
            offer_id: explainer.alternatives(offer_id, limit)
            for offer_id in sorted({r.offer_id for r in routes})
        }

    def _new_record(
        self,
        net: NetCapacities,
        route: ProposedMatch,
        generation: int,
        today: date,
        now: datetime,
        explanations: dict[str, list[CandidateExplanation]],
        rejected: frozenset[tuple[str, str]],
    ) -> MatchRecord:
        offer, demand = net.offer(route.offer_id), net.demand(route.demand_id)
        overlap = offer.window.overlap(demand.window)
        window = overlap.from_day(today) if overlap is not None else None
        if window is None:  # the domain only routes pairs whose windows meet from today on
            raise Conflict(f"no shipping window for {route.offer_id} → {route.demand_id}")
        freight = self.params.freight_factor()
        alternatives = tuple(
            Alternative(
                demand_id=line.demand_id,
                reason=REJECTED
                if (route.offer_id, line.demand_id) in rejected
                else (PUBLIC_REASON.get(line.outcome, line.outcome)),
                distance_km=line.distance_km,
                detail="a party rejected this pairing before"
                if (route.offer_id, line.demand_id) in rejected
                else line.message,
            )
            for line in explanations.get(route.offer_id, [])
        )
        return MatchRecord(
            id=derived_id("match", route.offer_id, route.demand_id, generation),
            offer_id=route.offer_id,
            demand_id=route.demand_id,
            licence_id=route.licence_id,
            supplier_enterprise_id=route.supplier_enterprise_id,
            supplier_site_id=route.supplier_site_id,
            supplier_district=offer.district,
            recycler_enterprise_id=route.recycler_enterprise_id,
            recycler_site_id=route.recycler_site_id,
            recycler_district=demand.district,
            waste_code=route.waste_code,
            tonnes=route.tonnes,
            distance_km=route.distance_km,
            co2e_kg=route.co2e_kg,
            avoided_co2e_kg=route.avoided_co2e_kg,
            avoided_factor_key=route.avoided_factor_key,
            freight_factor_key=route.freight_factor_key,
            freight_factor_kg_per_tkm=route.freight_factor_kg_per_tkm,
            freight_factor_source=freight.source,
            window_from=window.start,
            window_until=window.end,
            licence_year=licence_year(window.start, today),
            status=MatchStatus.PROPOSED,
            proposed_at=now,
            updated_at=now,
            explanation=self._explain(
                (offer.district, demand.district), route, window, freight.source
            ),
            alternatives=alternatives,
            generation=generation,
        )

    def _explain(
        self,
        districts: tuple[str, str],
        route: ProposedMatch,
        window: Window,
        source: str,
    ) -> str:
        code = lookup(route.waste_code)
        what = f"{route.waste_code} ({code.name_en})" if code else route.waste_code
        # Places by district, parties unnamed: the catalog shows neither party the other's
        # enterprise or site (a recycler reads the public view of the offer), and this text
        # is read by both.
        origin, destination = districts
        parts = [
            f"{route.tonnes} t of {what} from a site in {origin} to a site in {destination}, "
            f"between {window.start} and {window.end}.",
            f"Distance {route.distance_km} km by road (great-circle × road factor "
            f"{self.params.road_factor}).",
            f"Transport {route.co2e_kg} kg CO2e = {route.tonnes} t × {route.distance_km} km × "
            f"{route.freight_factor_kg_per_tkm} kg CO2e/t·km ({route.freight_factor_key}; "
            f"{source}).",
        ]
        if route.avoided_co2e_kg is not None:
            parts.append(
                f"Avoids {route.avoided_co2e_kg} kg CO2e by using the waste "
                f"({route.avoided_factor_key})."
            )
        else:
            parts.append(f"No avoided-emission factor is on record for {route.waste_code}.")
        parts.append(
            "Chosen by a min-cost flow over every open offer and demand: the allocation with "
            "the least transport CO2e that places as much waste as the capacities allow."
        )
        return " ".join(parts)

    # --- background tasks (Runtime) -----------------------------------------------------

    async def run_reoptimiser(self) -> None:
        """Re-optimise after changes, debounced: a quiet moment or at most the max delay.

        Only while holding the lease: a second process on the same database stands by,
        asking again at each poll, and takes over when the holder stops or dies."""
        settings = self.settings
        self.changed.set()  # start-up: whatever happened while down
        try:
            while True:
                # Changes that arrived during the last round have waited it out, gathered by
                # it: they go into the next one at once. Only a change into a quiet market
                # waits for its burst to arrive (the debounce).
                if not self.changed.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            self.changed.wait(), settings.reoptimise_poll_seconds
                        )
                    await self.changed.settle(
                        settings.reoptimise_debounce_seconds,
                        settings.reoptimise_max_delay_seconds,
                    )
                self.changed.take()
                try:
                    if not await self._leading():
                        continue
                    version, day = await self._version(), self.today()
                    if (version, day) != (self.processed_version, self.processed_day):
                        report = await self.reoptimise()
                        log.info("re-optimised: %s", report)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("re-optimisation failed; will retry")
                    await asyncio.sleep(1.0)
                    self.changed.set()
        finally:
            self.leading = None
            await self.lease.release()

    async def _leading(self) -> bool:
        """Whether this process holds the lease, taking it if free; logs each change."""
        leading = self.leading = await self.lease.hold()
        if leading != self._was_leading:
            log.info(
                "took over re-optimisation of this database"
                if leading
                else "another process re-optimises this database; standing by"
            )
            self._was_leading = leading
        return leading

    async def _version(self) -> int:
        async with self._uow.reading() as uow:
            version = await repo.read_version(uow.session)
            await uow.rollback()
            return version

    async def run_expiry_sweeper(self) -> None:
        """End due matches every `expiry_sweep_seconds` (and at once after a licence
        change, an amendment or a withdrawal was consumed: `sweep_soon`) in the process that
        holds the re-optimiser's lease: a process standing by would only race it for the same
        rows (and lose, with a CONFLICT logged), and takes over with the lease."""
        period = self.settings.expiry_sweep_seconds
        retry = 0.0  # after a failed sweep: 1 s, doubling up to the period
        while True:
            if self.leading:
                try:
                    expired = await self.expire_due()
                    retry = 0.0
                    if expired:
                        log.info("ended %d match(es)", expired)
                except asyncio.CancelledError:
                    raise
                except DomainError as err:
                    # A party acted on a due match meanwhile (CONFLICT): the sweep is one
                    # transaction, so nothing expired; sweep again soon, not a period later.
                    retry = min(max(2 * retry, 1.0), period)
                    log.info("expiry sweep met a change (%s); again in %.0f s", err, retry)
                except Exception:
                    retry = min(max(2 * retry, 1.0), period)
                    log.exception("expiry sweep failed; again in %.0f s", retry)
            # Until the re-optimiser has asked for the lease, look again soon.
            wait = retry or (period if self.leading is not None else 0.5)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.sweep_soon.wait(), min(wait, period))
            self.sweep_soon.clear()
