"""Queries and row ↔ value mapping for the matching database.

Every function takes the unit of work's session; none commits (the use case does).
"""

from __future__ import annotations

import functools
import json
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import compress
from operator import attrgetter, itemgetter
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    ColumnElement,
    Result,
    Row,
    Table,
    and_,
    case,
    func,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from wastex_matching.adapters.tables import (
    DEMANDS,
    LISTING_STATUS,
    MATCHES,
    OFFERS,
    REOPTIMISE_STATE,
    DemandRow,
    EnterpriseRow,
    LicenceRow,
    ListingStatusRow,
    MatchRow,
    OfferRow,
    ReoptimiseStateRow,
    SiteRow,
    table_of,
)
from wastex_matching.domain.lifecycle import ACCEPTED_BY, FIXED, MatchStatus
from wastex_matching.domain.listing_terms import Hold, MatchTerms
from wastex_matching.domain.model import (
    DemandSlot,
    FixedMatch,
    LicenceType,
    LicenceView,
    OfferSlot,
    Point,
    Window,
    tonnes_held,
)
from wastex_matching.domain.reoptimise import ProposalIndex, ProvisionalMatch
from wastex_shared.events.catalog import EnterpriseFacts, LicenceFacts, SiteAdded
from wastex_shared.storage import dialect_of, upsert_into, upsert_overwriting, write_later
from wastex_shared.units import KILOGRAM

SlotT = TypeVar("SlotT", OfferSlot, DemandSlot)

#: Listing statuses after which nothing more is offered or taken.
CLOSED_LISTING = ("WITHDRAWN", "EXPIRED")
#: Counters in `reoptimise_state`: changes that may alter the best allocation, and
#: transactions that wrote matches.
#:
#: Lock order (PostgreSQL; SQLite has one writer at a time): the market version, then the
#: match-writes counter, then match rows, then licence and listing rows. Both counters stay
#: locked until commit: a transaction that took one after a match row, or the two the other
#: way round, deadlocked with one taking them in the other order (a round superseding the
#: proposal being accepted, a rejection beside a batch with a posting and a cancellation),
#: and PostgreSQL aborted one of them after a second. So whatever writes matches counts them
#: (`note_match_writes`) before it locks or writes any, and bumps the market version, if it
#: changes the market, before that. A consumer handler writing a match that changes no market
#: (a load dispatched whole) still holds the version first: a later message of its batch
#: may bump it.
#:
#: Licence and listing rows are locked only under the market version: a consumer batch
#: bumps it before it queues any (every handler writing them changes the market), and an
#: acceptance, which locks its licence, offer and demand but changes no market, holds it
#: first (`hold_market_version`). No two transactions hold such rows at once, so the order
#: each takes them in cannot deadlock: neither a batch writing them in the order it queued
#: them against an acceptance's order, nor a batch re-run message by message (a message's
#: rows written before a later message counts match writes) against an acceptance holding
#: that counter. A round locks none. No cycle is left; the price: on PostgreSQL an
#: acceptance waits for a consumer batch under way (as every writer does on SQLite).
MARKET_VERSION_ROW = 1
MATCH_WRITES_ROW = 2


@dataclass(frozen=True, slots=True)
class Alternative:
    """Another demand the offer could have gone to, and why it did not."""

    demand_id: str
    reason: str
    distance_km: Decimal | None
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchRecord:
    """A stored match: the row as a value (the lifecycle rules live in the domain)."""

    id: str
    offer_id: str
    demand_id: str
    licence_id: str | None
    supplier_enterprise_id: str
    supplier_site_id: str
    supplier_district: str
    recycler_enterprise_id: str
    recycler_site_id: str
    recycler_district: str
    waste_code: str
    tonnes: Decimal
    distance_km: Decimal
    co2e_kg: Decimal
    avoided_co2e_kg: Decimal | None
    avoided_factor_key: str | None
    freight_factor_key: str
    freight_factor_kg_per_tkm: Decimal
    freight_factor_source: str
    window_from: date
    window_until: date
    licence_year: int
    status: MatchStatus
    proposed_at: datetime
    updated_at: datetime
    supplier_accepted_at: datetime | None = None
    recycler_accepted_at: datetime | None = None
    rejected_by: str | None = None
    rejection_reason: str | None = None
    #: Why an EXPIRED match could not go ahead (its window ended, its licence changed).
    expiry_reason: str | None = None
    #: Who called a CONFIRMED match's shipment off before it left, and why.
    cancelled_by: str | None = None
    cancel_reason: str | None = None
    #: The tonnes a CONFIRMED match's shipment left with (decision 032), once dispatched.
    shipped_tonnes: Decimal | None = None
    explanation: str = ""
    alternatives: tuple[Alternative, ...] = field(default=())
    generation: int = 0
    version: int = 1

    @property
    def window(self) -> Window:
        """The shipping window the match was proposed for."""
        return Window(self.window_from, self.window_until)

    def is_party(self, enterprise_id: str) -> bool:
        return enterprise_id in (self.supplier_enterprise_id, self.recycler_enterprise_id)

    @property
    def held_tonnes(self) -> Decimal:
        """What it holds of its offer, demand and licence year: its tonnes, or what left
        under it when that was less (decision 032)."""
        return tonnes_held(self.tonnes, self.shipped_tonnes)


def _held_column() -> ColumnElement[Any]:
    """`tonnes_held` in SQL: what a fixed match holds, where commitments are counted."""
    m = MATCHES.c
    return case(
        (and_(m.shipped_tonnes.is_not(None), m.shipped_tonnes < m.tonnes), m.shipped_tonnes),
        else_=m.tonnes,
    )


def _alternatives_json(items: Sequence[Alternative]) -> str:
    return json.dumps(
        [
            {
                "demandId": a.demand_id,
                "reason": a.reason,
                "distanceKm": None if a.distance_km is None else str(a.distance_km),
                "detail": a.detail,
            }
            for a in items
        ],
        ensure_ascii=False,
    )


def _alternatives_from(text: str) -> tuple[Alternative, ...]:
    return tuple(
        Alternative(
            demand_id=item["demandId"],
            reason=item["reason"],
            distance_km=None if item.get("distanceKm") is None else Decimal(item["distanceKm"]),
            detail=item.get("detail", ""),
        )
        for item in json.loads(text or "[]")
    )


_RECORD_FIELDS = fields(MatchRecord)


def _tonnes(value: Any) -> Decimal:
    """A tonnage as read from the database, to the kilogram."""
    return Decimal(value).quantize(KILOGRAM)


def _tonnes_or_none(value: Any) -> Decimal | None:
    return None if value is None else _tonnes(value)


def to_record(row: MatchRow | Row[Any]) -> MatchRecord:
    values: dict[str, Any] = {f.name: getattr(row, f.name) for f in _RECORD_FIELDS}
    values["status"] = MatchStatus(row.status)
    values["alternatives"] = _alternatives_from(row.alternatives)
    values["shipped_tonnes"] = _tonnes_or_none(row.shipped_tonnes)
    return MatchRecord(**values)


def _row_values(record: MatchRecord) -> dict[str, Any]:
    values = {f.name: getattr(record, f.name) for f in _RECORD_FIELDS}
    values["status"] = str(record.status)
    values["alternatives"] = _alternatives_json(record.alternatives)
    return values


# --- read models ------------------------------------------------------------------------


async def upsert(
    session: AsyncSession, row_type: type[SQLModel], ident: str, **values: Any
) -> None:
    """Insert the row, or overwrite its columns with `values` (events are the truth); queued
    with the batch's other rows (`write_later`: projections are not read back in a batch)."""
    statement = upsert_overwriting(dialect_of(session), table_of(row_type), "id", tuple(values))
    write_later(session, statement, {"id": ident, **values})


async def upsert_listing(
    session: AsyncSession,
    row_type: type[OfferRow | DemandRow],
    ident: str,
    terms_version: int,
    **values: Any,
) -> None:
    """Keep an offer's or demand's terms of the highest `terms_version` (its posting and
    amendments travel on two topics: the older fact read later changes nothing), stamped
    with this transaction's market version (and so marking the market changed); queued
    like `upsert`. Every fact carries the whole listing, so the first one read inserts it
    complete, whichever it is."""
    values |= {"terms_version": terms_version, "market_version": await bump_version(session)}
    statement = _listing_upsert(dialect_of(session), table_of(row_type), tuple(values))
    write_later(session, statement, {"id": ident, **values})


@functools.cache
def _listing_upsert(dialect: str, table: Table, columns: tuple[str, ...]) -> Any:
    # One statement per table and columns, so that a batch's rows run as one executemany.
    statement = upsert_into(dialect, table)
    new = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=[table.c.id],
        set_={name: new[name] for name in columns},
        # The same version again (a fact re-driven) rewrites the same terms: harmless.
        where=new.terms_version >= table.c.terms_version,
    )


async def set_listing_status(
    session: AsyncSession,
    ident: str,
    kind: str,
    status: str,
    remaining: Decimal | None,
    version: int,
) -> None:
    """Keep the catalog's word with the highest listing version; WITHDRAWN and EXPIRED stay
    final whatever comes later (events of one listing travel on several topics). A newer
    version stored is stamped with this transaction's market version (which is bumped),
    whether or not its status or tonnes moved: the next round re-reads the listing."""
    values = {
        "id": ident,
        "kind": kind,
        "status": status,
        "remaining_tonnes": remaining,
        "version": version,
        "market_version": await bump_version(session),
    }
    write_later(session, _listing_status_upsert(dialect_of(session)), values)


async def bump_version(session: AsyncSession) -> int:
    """Mark the market changed (one upsert, atomic on both databases); the new version.

    Once per transaction is enough, and a batch of 500 postings need not queue 500 writes
    on the one hot row; inside a savepoint it bumps again, as the savepoint may roll back.
    The row stays locked until commit, so versions commit in the order they are given."""
    return await _count_once(session, MARKET_VERSION_ROW)


async def hold_market_version(session: AsyncSession) -> None:
    """Lock the market version until the transaction ends, without changing it: for one
    that locks licence or listing rows but leaves the market as it is (the lock order).
    The row exists once any listing was stored, so wherever there is a match to accept."""
    table = REOPTIMISE_STATE
    await session.execute(
        select(table.c.id).where(table.c.id == MARKET_VERSION_ROW).with_for_update()
    )


async def note_match_writes(session: AsyncSession) -> int:
    """Count this transaction as one that writes matches; the counter's new value.

    Every write to `matches` goes through here (`insert_matches`, `update_match`), so an
    unchanged counter means unchanged matches: what lets a round keep them in memory."""
    return await _count_once(session, MATCH_WRITES_ROW)


async def _count_once(session: AsyncSession, row_id: int) -> int:
    transaction = _transaction(session)
    counted = session.info.setdefault("counted", {})
    if transaction is not None and row_id in counted and counted[row_id][0] is transaction:
        return int(counted[row_id][1])
    table = REOPTIMISE_STATE
    statement = upsert_into(dialect_of(session), table).values(id=row_id, version=1)
    counted_up = statement.on_conflict_do_update(
        index_elements=[table.c.id], set_={"version": table.c.version + 1}
    ).returning(table.c.version)
    value = int((await session.execute(counted_up)).scalar_one())
    # Keyed by the transaction as it is now: when the count was its first statement, the
    # transaction began only with it (keyed by None, the next call would count again).
    counted[row_id] = (_transaction(session), value)
    return value


def _transaction(session: AsyncSession) -> object | None:
    sync = session.sync_session
    return sync.get_nested_transaction() or sync.get_transaction()


async def _read_counter(session: AsyncSession, row_id: int) -> int:
    row = await session.get(ReoptimiseStateRow, row_id)
    return row.version if row is not None else 0


@functools.cache
def _listing_status_upsert(dialect: str) -> Any:
    table = LISTING_STATUS
    statement = upsert_into(dialect, table)
    new = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=[table.c.id],
        set_={
            "status": new.status,
            "version": new.version,
            "remaining_tonnes": func.coalesce(new.remaining_tonnes, table.c.remaining_tonnes),
            "market_version": new.market_version,
        },
        # `!=` per closed status rather than NOT IN: an expanding IN list cannot run as one
        # executemany, and these rows are queued by the batch (`write_later`).
        where=and_(
            new.version > table.c.version, *(table.c.status != closed for closed in CLOSED_LISTING)
        ),
    )


async def upsert_enterprise(session: AsyncSession, data: EnterpriseFacts) -> None:
    """Keep the catalog's latest word on an enterprise (its registration and amendments
    travel on two topics); queued like `upsert`."""
    values = {
        "id": data.enterprise_id,
        "name": data.name,
        "credit_code": data.credit_code,
        "industry": data.industry,
        "district": data.district,
        "kind": data.kind,
        "version": data.version,
    }
    write_later(session, _newer_version_upsert(dialect_of(session), EnterpriseRow), values)


async def upsert_site(session: AsyncSession, data: SiteAdded) -> None:
    """Keep the catalog's latest word on a site (its addition and amendments travel on two
    topics: decision 026); queued like `upsert`."""
    values = {
        "id": data.site_id,
        "enterprise_id": data.enterprise_id,
        "name": data.name,
        "district": data.district,
        "latitude": data.latitude,
        "longitude": data.longitude,
        "version": data.version,
    }
    write_later(session, _newer_version_upsert(dialect_of(session), SiteRow), values)


async def upsert_licence(session: AsyncSession, data: LicenceFacts) -> None:
    """Keep the catalog's latest word on a licence (its registration and amendments travel
    on two topics), with its validity ending the day before any revocation."""
    last_day = data.valid_until
    if data.revoked_on is not None:
        last_day = min(last_day, data.revoked_on - timedelta(days=1))
    values = {
        "id": data.licence_id,
        "enterprise_id": data.enterprise_id,
        "number": data.number,
        "waste_codes": codes_json(data.waste_codes),
        "annual_capacity_tonnes": data.annual_capacity_tonnes,
        "valid_from": data.valid_from,
        "valid_until": last_day,
        "licence_type": data.licence_type,
        "version": data.version,
    }
    write_later(session, _newer_version_upsert(dialect_of(session), LicenceRow), values)


@functools.cache
def _newer_version_upsert(dialect: str, row_type: type[SQLModel]) -> Any:
    """Insert the row, or overwrite it when the new one's `version` is higher."""
    table = table_of(row_type)
    statement = upsert_into(dialect, table)
    new = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=[table.c.id],
        set_={c.name: new[c.name] for c in table.c if c.name != "id"},
        where=new.version > table.c.version,
    )


async def licence(
    session: AsyncSession, licence_id: str, *, for_share: bool = False
) -> LicenceView | None:
    """A licence as the read model has it; `for_share` holds its row against a concurrent
    amendment until the transaction ends (PostgreSQL; SQLite has one writer anyway)."""
    statement = select(LicenceRow).where(table_of(LicenceRow).c.id == licence_id)
    if for_share:
        statement = statement.with_for_update()
    row = (await session.execute(statement)).scalars().first()
    return None if row is None else licence_view(row)


async def read_version(session: AsyncSession) -> int:
    return await _read_counter(session, MARKET_VERSION_ROW)


def _codes(text: str) -> frozenset[str]:
    return frozenset(json.loads(text))


def codes_json(codes: Sequence[str]) -> str:
    return json.dumps(sorted(set(codes)))


def licence_view(row: LicenceRow | Row[Any]) -> LicenceView:
    return LicenceView(
        licence_id=row.id,
        enterprise_id=row.enterprise_id,
        waste_codes=_codes(row.waste_codes),
        licence_type=LicenceType(row.licence_type),
        annual_capacity_tonnes=_tonnes(row.annual_capacity_tonnes),
        valid_from=row.valid_from,
        valid_until=row.valid_until,
    )


def offer_slot(row: OfferRow | Row[Any]) -> OfferSlot:
    return OfferSlot(
        offer_id=row.id,
        enterprise_id=row.enterprise_id,
        site_id=row.site_id,
        district=row.district,
        point=Point(float(row.latitude), float(row.longitude)),
        waste_code=row.waste_code,
        remaining_tonnes=_tonnes(row.quantity_tonnes),
        window=Window(row.available_from, row.available_until),
    )


async def offer(
    session: AsyncSession, offer_id: str, *, for_update: bool = False
) -> OfferSlot | None:
    """An offer as the read model has it (`remaining_tonnes`: its whole quantity);
    `for_update` locks its row (PostgreSQL; SQLite's writers are serialised already)."""
    return await _listing(session, OFFERS, offer_id, offer_slot, for_update)


async def demand(
    session: AsyncSession, demand_id: str, *, for_update: bool = False
) -> DemandSlot | None:
    """A demand as the read model has it; see `offer`."""
    return await _listing(session, DEMANDS, demand_id, demand_slot, for_update)


async def _listing(
    session: AsyncSession,
    table: Table,
    ident: str,
    to_slot: Callable[[Row[Any]], SlotT],
    for_update: bool,
) -> SlotT | None:
    statement = select(table).where(table.c.id == ident)
    if for_update:
        statement = statement.with_for_update()
    row = (await session.execute(statement)).first()
    return None if row is None else to_slot(row)


async def held_tonnes(session: AsyncSession, match: MatchRecord) -> tuple[Decimal, Decimal]:
    """The tonnes the other accepted and confirmed matches of `match`'s offer, and of its
    demand, hold (not its own: the other party's acceptance of it may have committed since
    it was read)."""
    offer = await _others_fixed(session, match, MATCHES.c.offer_id == match.offer_id)
    demand = await _others_fixed(session, match, MATCHES.c.demand_id == match.demand_id)
    return offer, demand


async def licence_committed_tonnes(session: AsyncSession, match: MatchRecord, year: int) -> Decimal:
    """The tonnes the other accepted and confirmed matches of `match`'s licence commit to
    `year` of it."""
    return await _others_fixed(
        session,
        match,
        MATCHES.c.licence_id == match.licence_id,
        MATCHES.c.licence_year == year,
    )


async def _others_fixed(
    session: AsyncSession, match: MatchRecord, *where: ColumnElement[bool]
) -> Decimal:
    """The tonnes the accepted and confirmed matches `where` says, but `match`, hold (a
    shipped one what left under it when lighter: decision 032)."""
    fixed = [str(status) for status in FIXED]
    total = await session.execute(
        select(func.coalesce(func.sum(_held_column()), 0)).where(
            *where, MATCHES.c.status.in_(fixed), MATCHES.c.id != match.id
        )
    )
    return _tonnes(total.scalar_one())


def match_terms(match: MatchRecord | Row[Any]) -> MatchTerms:
    """What a match (a record, or a row of its columns) promised its offer and demand."""
    return MatchTerms(
        offer_id=match.offer_id,
        demand_id=match.demand_id,
        tonnes=_tonnes(match.tonnes),
        window=Window(match.window_from, match.window_until),
        distance_km=Decimal(match.distance_km),
        districts=(match.supplier_district, match.recycler_district),
    )


def demand_slot(row: DemandRow | Row[Any]) -> DemandSlot:
    return DemandSlot(
        demand_id=row.id,
        enterprise_id=row.enterprise_id,
        site_id=row.site_id,
        district=row.district,
        point=Point(float(row.latitude), float(row.longitude)),
        waste_codes=_codes(row.waste_codes),
        remaining_tonnes=_tonnes(row.quantity_tonnes),
        max_distance_km=Decimal(row.max_distance_km),
        window=Window(row.available_from, row.available_until),
    )


@dataclass
class MarketSnapshot:
    """Everything re-optimisation reads, in one transaction."""

    version: int
    offers: list[OfferSlot]
    demands: list[DemandSlot]
    licences: list[LicenceView]
    #: The fixed matches and the PROPOSED ones, as much of them as planning needs (the
    #: rest is read only for the few a round supersedes), with the version each was read at.
    matches: LiveMatches
    #: By match id, the PROPOSED matches of listings amended since a round last looked
    #: (`ListingCache.amended`): whether they still fit is the round's to check.
    amended: dict[str, MatchTerms] = field(default_factory=dict)

    @property
    def fixed(self) -> list[FixedMatch]:
        return self.matches.fixed

    @property
    def rejected(self) -> frozenset[tuple[str, str]]:
        return self.matches.rejected

    @property
    def proposals(self) -> ProposalIndex:
        return self.matches.index

    def proposal_version(self, match_id: str) -> int:
        return self.matches.proposals[match_id][1]


class OpenSlots(Generic[SlotT]):
    """Open listings kept in id order, with the earliest end of their windows.

    A round takes them in id order (the allocation's, so ties break alike every round)
    without sorting 20,000 ids, and visits every slot only on a day some window has ended:
    a pass over slots scattered on the heap costs ~0.5 µs each."""

    def __init__(self) -> None:
        self._ids: list[str] = []
        self._slots: list[SlotT] = []
        self._earliest_end: date | None = None

    def __len__(self) -> int:
        return len(self._ids)

    def get(self, ident: str) -> SlotT | None:
        i, found = self._locate(ident)
        return self._slots[i] if found else None

    def put(self, ident: str, slot: SlotT) -> None:
        i, found = self._locate(ident)
        if found:
            self._slots[i] = slot
        else:
            self._ids.insert(i, ident)
            self._slots.insert(i, slot)
        end = slot.window.end
        if self._earliest_end is None or end < self._earliest_end:
            self._earliest_end = end

    def discard(self, ident: str) -> None:
        i, found = self._locate(ident)
        if found:
            del self._ids[i], self._slots[i]  # the earliest end may now be early: harmless

    def reset(self, slots: Iterable[tuple[str, SlotT]]) -> None:
        """Exactly these (id, slot) pairs."""
        ordered = sorted(slots, key=itemgetter(0))
        self._ids = [ident for ident, _ in ordered]
        self._slots = [slot for _, slot in ordered]
        self._earliest_end = min((slot.window.end for slot in self._slots), default=None)

    def open_on(self, today: date) -> list[SlotT]:
        """The slots still available on `today`, in id order; the others leave."""
        if self._earliest_end is not None and self._earliest_end < today:
            stay = [slot.window.end >= today for slot in self._slots]
            self.reset(zip(compress(self._ids, stay), compress(self._slots, stay), strict=True))
        return list(self._slots)

    def _locate(self, ident: str) -> tuple[int, bool]:
        """Where `ident` is, or would go, in the sorted ids; and whether it is there."""
        i = bisect_left(self._ids, ident)
        return i, i < len(self._ids) and self._ids[i] == ident


@dataclass
class ListingCache:
    """The open offers' and demands' slots, kept from one round to the next.

    A listing's row is written by its posting and its amendments (withdrawals, updates and
    expiry change `listing_status`, never the row), and both are stamped with the market
    version of the transaction that wrote them. The first round reads every open listing;
    later rounds read only the rows and statuses stamped after the version they last read.
    Versions commit in order (`bump_version`), so none is missed; one read twice is
    harmless."""

    offers: OpenSlots[OfferSlot] = field(default_factory=OpenSlots)
    demands: OpenSlots[DemandSlot] = field(default_factory=OpenSlots)
    #: The market version the slots are current at; None until the first read.
    version: int | None = None
    #: Open listings read with amended terms whose proposals no round has checked yet:
    #: kept until a round commits (one that conflicts goes again with them).
    amended: set[str] = field(default_factory=set)


def _open_ids(table: Table, today: date) -> Any:
    closed = select(LISTING_STATUS.c.id).where(LISTING_STATUS.c.status.in_(CLOSED_LISTING))
    return (
        select(table.c.id)
        .where(table.c.available_until >= today)
        .where(table.c.id.not_in(closed))
        .order_by(table.c.id)
    )


async def _all_open(
    session: AsyncSession,
    table: Table,
    today: date,
    known: OpenSlots[SlotT],
    to_slot: Callable[[Row[Any]], SlotT],
    amended: set[str],
) -> None:
    """Make `known` the open listings of `table`, reading only the rows it lacks; those
    read with amended terms go into `amended`."""
    ids = list((await session.execute(_open_ids(table, today))).scalars())
    have = {ident: slot for ident in ids if (slot := known.get(ident)) is not None}
    for chunk in _chunks([ident for ident in ids if ident not in have]):
        for row in await session.execute(select(table).where(table.c.id.in_(chunk))):
            have[row.id] = to_slot(row)
            if row.terms_version > 1:
                amended.add(row.id)
    known.reset(have.items())


async def _changes_since(
    session: AsyncSession,
    table: Table,
    kind: str,
    versions: tuple[int, int],
    known: OpenSlots[SlotT],
    to_slot: Callable[[Row[Any]], SlotT],
    amended: set[str],
) -> None:
    """Apply to `known` the listings of `table` whose row or status changed in `versions`
    (after the first, up to the second); the open ones with amended terms go into
    `amended`.

    Up to the version the read began with, not to whatever has committed since: on
    PostgreSQL each statement reads afresh, and a listing stamped later was read in this
    round and again in the next, a new slot for the same offer, which the next round took
    for a changed offer and planned the whole market (`Refused.OFFER_CHANGED`). Stamps up to
    the version read have all committed: the counter row stays locked until its
    transaction commits."""
    after, upto = versions
    status = LISTING_STATUS.c
    changed = (
        select(table.c.id)
        .where(table.c.market_version > after, table.c.market_version <= upto)
        .union(
            select(status.id).where(
                status.market_version > after, status.market_version <= upto, status.kind == kind
            )
        )
    )
    rows = await session.execute(
        select(table, status.status.label("listing_status"))
        .outerjoin(LISTING_STATUS, status.id == table.c.id)
        .where(table.c.id.in_(changed))
    )
    for row in rows:
        if row.listing_status in CLOSED_LISTING:
            known.discard(row.id)
        else:
            known.put(row.id, to_slot(row))
            # Its terms rewritten in these versions (not only its status): an amendment.
            if row.terms_version > 1 and row.market_version > after:
                amended.add(row.id)


@dataclass
class LiveMatches:
    """The fixed and proposed matches as they stood at `writes` (the match-writes counter).

    A round keeps them for the next one when its own write was the only one in between
    (`after_round`); any other write to matches (an acceptance, a rejection, an expiry, a
    second re-optimiser) moves the counter on and the next round reads them afresh."""

    writes: int
    fixed: list[FixedMatch]
    #: By match id, with the version each was read or written at.
    proposals: dict[str, tuple[ProvisionalMatch, int]]
    #: (offer, demand) pairs a party turned down: never proposed again (a rejection is a
    #: match write, so these too are current while the counter stands).
    rejected: frozenset[tuple[str, str]] = frozenset()
    #: The same by (offer, demand), as planning compares them; derived from the last
    #: round's when it is kept, built from `proposals` otherwise.
    known_index: ProposalIndex | None = field(default=None, compare=False, repr=False)

    @property
    def index(self) -> ProposalIndex:
        if self.known_index is None:
            self.known_index = ProposalIndex.of(match for match, _ in self.proposals.values())
        return self.known_index

    def after_round(
        self, writes: int, superseded: Iterable[str], proposed: Iterable[MatchRecord]
    ) -> LiveMatches | None:
        """These matches once a round committed its changes and counted `writes`; None when
        someone else wrote matches since they were read."""
        if writes != self.writes + 1:
            return None
        gone, added = list(superseded), [(_provisional(r), r.version) for r in proposed]
        proposals = dict(self.proposals)
        for match_id in gone:
            del proposals[match_id]
        for match, version in added:
            proposals[match.match_id] = (match, version)
        index = self.index.changed(removed=gone, added=(match for match, _ in added))
        return LiveMatches(writes, self.fixed, proposals, self.rejected, index)


def _provisional(match: MatchRecord | Row[Any]) -> ProvisionalMatch:
    """What planning needs of a stored proposal (a row read, or a record just written)."""
    return ProvisionalMatch(
        match_id=match.id,
        offer_id=match.offer_id,
        demand_id=match.demand_id,
        tonnes=_tonnes(match.tonnes),
        licence_id=match.licence_id,
    )


async def live_matches(session: AsyncSession, known: LiveMatches | None) -> LiveMatches:
    """Fixed and proposed matches: `known` while the counter says nothing changed."""
    # The counter is read first: a write landing between the two reads then shows as a
    # counter ahead of what was read, which only costs a fresh read next round.
    writes = await _read_counter(session, MATCH_WRITES_ROW)
    if known is not None and known.writes == writes:
        return known
    # Fixed matches and proposals in one statement: read apart (READ COMMITTED), a match
    # accepted between the two reads would be in neither, its tonnes free to propose again.
    live = [str(s) for s in FIXED] + [MatchStatus.PROPOSED.value]
    m = MATCHES.c
    columns = (m.id, m.offer_id, m.demand_id, m.licence_id, m.tonnes, m.licence_year)
    match_rows: Result[Any] = await session.execute(
        select(*columns, m.shipped_tonnes, m.status, m.version)
        .where(m.status.in_(live))
        .order_by(m.id)
    )
    fixed: list[FixedMatch] = []
    proposals: dict[str, tuple[ProvisionalMatch, int]] = {}
    for r in match_rows:
        tonnes = _tonnes(r.tonnes)
        if r.status == MatchStatus.PROPOSED.value:
            proposals[r.id] = (_provisional(r), r.version)
            continue
        fixed.append(
            FixedMatch(
                match_id=r.id,
                offer_id=r.offer_id,
                demand_id=r.demand_id,
                licence_id=r.licence_id,
                # A lighter load gave the rest back (decision 032).
                tonnes=tonnes_held(tonnes, _tonnes_or_none(r.shipped_tonnes)),
                licence_year=r.licence_year,
            )
        )
    return LiveMatches(writes, fixed, proposals, await _rejected_pairs(session))


async def load_market(
    session: AsyncSession,
    today: date,
    cache: ListingCache | None = None,
    known: LiveMatches | None = None,
) -> MarketSnapshot:
    cache = cache or ListingCache()
    # Read first: what is stamped later than this is read again next round.
    version = await read_version(session)
    amended = cache.amended
    if cache.version is None:
        await _all_open(session, OFFERS, today, cache.offers, offer_slot, amended)
        await _all_open(session, DEMANDS, today, cache.demands, demand_slot, amended)
    else:
        versions = (cache.version, version)
        await _changes_since(session, OFFERS, "offer", versions, cache.offers, offer_slot, amended)
        await _changes_since(
            session, DEMANDS, "demand", versions, cache.demands, demand_slot, amended
        )
    cache.version = version
    offers = cache.offers.open_on(today)
    demands = cache.demands.open_on(today)
    recyclers = {d.enterprise_id for d in demands}
    licences_table = table_of(LicenceRow)
    licence_rows = await session.execute(select(licences_table))
    # In Python's id order, as the offers and demands: an allocation's routes come in the
    # order of its inputs, whatever the database's collation.
    licences = sorted(
        (licence_view(r) for r in licence_rows if r.enterprise_id in recyclers),
        key=attrgetter("licence_id"),
    )
    matches = await live_matches(session, known)
    return MarketSnapshot(
        version=version,
        offers=offers,
        demands=demands,
        licences=licences,
        matches=matches,
        amended=await _proposals_of(session, amended),
    )


async def _proposals_of(session: AsyncSession, listing_ids: Iterable[str]) -> dict[str, MatchTerms]:
    """The PROPOSED matches of these offers or demands, by match id, with their terms."""
    m = MATCHES.c
    terms = select(
        m.id,
        m.offer_id,
        m.demand_id,
        m.tonnes,
        m.window_from,
        m.window_until,
        m.distance_km,
        m.supplier_district,
        m.recycler_district,
    )
    found: dict[str, MatchTerms] = {}
    for chunk in _chunks(sorted(listing_ids)):
        for listing in (m.offer_id, m.demand_id):
            rows: Result[Any] = await session.execute(
                terms.where(listing.in_(chunk), m.status == MatchStatus.PROPOSED.value)
            )
            found.update((row.id, match_terms(row)) for row in rows)
    return found


async def licences_of(session: AsyncSession, enterprise_id: str) -> list[LicenceView]:
    rows = await session.execute(
        select(LicenceRow).where(table_of(LicenceRow).c.enterprise_id == enterprise_id)
    )
    return [licence_view(r) for r in rows.scalars()]


async def licences_of_holders(
    session: AsyncSession, enterprise_ids: Iterable[str]
) -> dict[str, list[LicenceView]]:
    """Each enterprise's licences (an empty list for one holding none)."""
    found: dict[str, list[LicenceView]] = {ident: [] for ident in enterprise_ids}
    column = table_of(LicenceRow).c.enterprise_id
    for chunk in _chunks(sorted(found)):
        rows = await session.execute(select(LicenceRow).where(column.in_(chunk)))
        for row in rows.scalars():
            found[row.enterprise_id].append(licence_view(row))
    return found


async def listing_status(session: AsyncSession, ident: str) -> str | None:
    """The catalog's latest word on a listing's status (None if none was read)."""
    row = await session.get(ListingStatusRow, ident)
    return None if row is None else row.status


# --- matches ----------------------------------------------------------------------------


async def get_match(
    session: AsyncSession, ident: str, *, for_update: bool = False
) -> MatchRecord | None:
    """A match; `for_update` locks its row until the transaction ends (PostgreSQL)."""
    row = await session.get(
        MatchRow, ident, with_for_update=for_update, populate_existing=for_update
    )
    return to_record(row) if row is not None else None


@dataclass(frozen=True)
class NewMatches:
    """Matches as the rows `insert_matches` writes, built before the write transaction (the
    alternatives' JSON and all) so that it holds the write lock only to write."""

    rows: list[dict[str, Any]]

    @classmethod
    def of(cls, records: Iterable[MatchRecord]) -> NewMatches:
        return cls([_row_values(record) for record in records])


async def insert_matches(session: AsyncSession, matches: NewMatches) -> None:
    """Add new matches (one statement); an id already taken raises IntegrityError."""
    if matches.rows:
        await note_match_writes(session)
        await session.execute(insert(MATCHES), matches.rows)


async def update_match(session: AsyncSession, record: MatchRecord, expected_version: int) -> bool:
    """Write `record` if the stored match is still at `expected_version` (optimistic lock)."""
    await note_match_writes(session)
    values = _row_values(record)
    values.pop("id")
    table = MATCHES
    result = await session.execute(
        update(table)
        .where(table.c.id == record.id, table.c.version == expected_version)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


async def update_statuses(session: AsyncSession, records: Sequence[MatchRecord]) -> int:
    """Write each record's status, `updated_at` and version where the stored match is still
    at the version before (optimistic lock, as `update_match`); how many were written.

    One statement per status, time and chunk, not one per match: a round supersedes tens
    to hundreds at once, all stamped alike. Only those three columns change."""
    if not records:
        return 0
    await note_match_writes(session)
    table = MATCHES
    alike: dict[tuple[str, datetime], list[MatchRecord]] = {}
    for record in records:
        alike.setdefault((str(record.status), record.updated_at), []).append(record)
    written = 0
    for (status, updated_at), group in alike.items():
        for at in range(0, len(group), CHUNK):
            read = [(record.id, record.version - 1) for record in group[at : at + CHUNK]]
            result = await session.execute(
                update(table)
                .where(tuple_(table.c.id, table.c.version).in_(read))
                .values(status=status, updated_at=updated_at, version=table.c.version + 1)
                .returning(table.c.id)
                .execution_options(synchronize_session=False)
            )
            written += len(result.all())
    return written


@dataclass(frozen=True)
class MatchScope:
    """Which matches a caller may list: everything, or those touching these enterprises or
    districts (a match is in a district when either party's site is)."""

    everything: bool = False
    enterprise_ids: frozenset[str] = frozenset()
    districts: frozenset[str] = frozenset()


def _scope_clause(scope: MatchScope) -> Any:
    if scope.everything:
        return None
    clauses = []
    if scope.enterprise_ids:
        ids = list(scope.enterprise_ids)
        clauses.append(MATCHES.c.supplier_enterprise_id.in_(ids))
        clauses.append(MATCHES.c.recycler_enterprise_id.in_(ids))
    if scope.districts:
        names = list(scope.districts)
        clauses.append(MATCHES.c.supplier_district.in_(names))
        clauses.append(MATCHES.c.recycler_district.in_(names))
    return or_(*clauses) if clauses else MATCHES.c.id.is_(None)


async def list_matches(
    session: AsyncSession,
    scope: MatchScope,
    *,
    status: MatchStatus | None = None,
    enterprise_id: str | None = None,
    limit: int,
    after: tuple[datetime, str] | None = None,
) -> tuple[list[MatchRecord], int]:
    """Newest first; `after` is the (proposed_at, id) of the last match already seen."""
    conditions = []
    scope_clause = _scope_clause(scope)
    if scope_clause is not None:
        conditions.append(scope_clause)
    if status is not None:
        conditions.append(MATCHES.c.status == status.value)
    if enterprise_id is not None:
        conditions.append(
            or_(
                MATCHES.c.supplier_enterprise_id == enterprise_id,
                MATCHES.c.recycler_enterprise_id == enterprise_id,
            )
        )
    where = and_(*conditions) if conditions else None
    count = select(func.count()).select_from(MatchRow)
    query = select(MatchRow)
    if where is not None:
        count = count.where(where)
        query = query.where(where)
    total = int((await session.execute(count)).scalar_one())
    if after is not None:
        at, ident = after
        query = query.where(
            or_(
                MATCHES.c.proposed_at < at,
                and_(MATCHES.c.proposed_at == at, MATCHES.c.id < ident),
            )
        )
    query = query.order_by(MATCHES.c.proposed_at.desc(), MATCHES.c.id.desc()).limit(limit)
    rows = (await session.execute(query)).scalars()
    return [to_record(r) for r in rows], total


async def due_to_expire(session: AsyncSession, today: date) -> list[MatchRecord]:
    open_statuses = [
        MatchStatus.PROPOSED.value,
        MatchStatus.ACCEPTED_BY_SUPPLIER.value,
        MatchStatus.ACCEPTED_BY_RECYCLER.value,
    ]
    rows = await session.execute(
        select(MatchRow)
        .where(MATCHES.c.status.in_(open_statuses))
        .where(MATCHES.c.window_until < today)
        .order_by(MATCHES.c.id)
    )
    return [to_record(r) for r in rows.scalars()]


async def accepted_with_licences(
    session: AsyncSession,
) -> list[tuple[MatchRecord, LicenceView | None]]:
    """Matches one party has accepted, each with its licence as it stands (None if gone)."""
    licences = table_of(LicenceRow)
    rows = await session.execute(
        select(MatchRow, LicenceRow)
        .outerjoin(licences, licences.c.id == MATCHES.c.licence_id)
        .where(
            MATCHES.c.status.in_([status.value for status in ACCEPTED_BY.values()]),
            MATCHES.c.licence_id.is_not(None),
        )
        .order_by(MATCHES.c.id)
    )
    return [
        (to_record(match), None if licence is None else licence_view(licence))
        for match, licence in rows.all()
    ]


async def accepted_on_withdrawn_listings(session: AsyncSession) -> list[tuple[MatchRecord, str]]:
    """Matches one party has accepted whose offer or demand its owner withdrew, each with
    which of the two was withdrawn ("offer" when both were)."""
    offer = LISTING_STATUS.alias("offer_status")
    demand = LISTING_STATUS.alias("demand_status")
    gone = "WITHDRAWN"
    rows = await session.execute(
        select(MATCHES, (offer.c.status == gone).label("offer_withdrawn"))
        .outerjoin(offer, offer.c.id == MATCHES.c.offer_id)
        .outerjoin(demand, demand.c.id == MATCHES.c.demand_id)
        .where(
            MATCHES.c.status.in_([status.value for status in ACCEPTED_BY.values()]),
            or_(offer.c.status == gone, demand.c.status == gone),
        )
        .order_by(MATCHES.c.id)
    )
    return [(to_record(row), "offer" if row.offer_withdrawn else "demand") for row in rows]


async def holds_on_amended_listings(
    session: AsyncSession,
) -> list[tuple[str, str, Decimal, list[Hold]]]:
    """(kind, id, quantity, holds) of each amended offer and demand (terms version above
    1) with a match accepted by one side only: every fixed match's hold of it."""
    accepted = [status.value for status in ACCEPTED_BY.values()]
    fixed = [status.value for status in FIXED]
    m = MATCHES.c
    found: list[tuple[str, str, Decimal, list[Hold]]] = []
    for kind, table, column in (
        ("offer", OFFERS, m.offer_id),
        ("demand", DEMANDS, m.demand_id),
    ):
        listings = await session.execute(
            select(table.c.id, table.c.quantity_tonnes)
            .where(
                table.c.terms_version > 1,
                table.c.id.in_(select(column).where(m.status.in_(accepted))),
            )
            .order_by(table.c.id)
        )
        quantities = {row.id: _tonnes(row.quantity_tonnes) for row in listings}
        holds: dict[str, list[Hold]] = {ident: [] for ident in quantities}
        for chunk in _chunks(list(quantities)):
            rows = await session.execute(
                select(
                    column.label("listing_id"),
                    m.id,
                    _held_column().label("tonnes"),
                    m.status,
                    m.supplier_accepted_at,
                    m.recycler_accepted_at,
                    m.updated_at,
                ).where(column.in_(chunk), m.status.in_(fixed))
            )
            for row in rows:
                firsts = [t for t in (row.supplier_accepted_at, row.recycler_accepted_at) if t]
                holds[row.listing_id].append(
                    Hold(
                        match_id=row.id,
                        tonnes=_tonnes(row.tonnes),
                        confirmed=row.status == MatchStatus.CONFIRMED.value,
                        # (A fixed match has an acceptance time; `updated_at` for rows
                        # from before there were any.)
                        accepted_at=min(firsts, default=row.updated_at),
                    )
                )
        found.extend((kind, ident, quantities[ident], holds[ident]) for ident in quantities)
    return found


#: Ids per IN list: well under the bound parameters both databases take in one statement.
CHUNK = 5000


def _chunks(items: Sequence[str]) -> list[Sequence[str]]:
    return [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]


async def matches_by_id(session: AsyncSession, ids: Iterable[str]) -> dict[str, MatchRecord]:
    found: dict[str, MatchRecord] = {}
    for chunk in _chunks(sorted(set(ids))):
        rows = await session.execute(select(MATCHES).where(MATCHES.c.id.in_(chunk)))
        found.update((r.id, to_record(r)) for r in rows)
    return found


async def generations(
    session: AsyncSession, pairs: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """(offer id, demand id) → how many matches that pair ever had."""
    wanted = set(pairs)
    found: dict[tuple[str, str], int] = {}
    for chunk in _chunks(sorted({offer for offer, _ in wanted})):
        rows = await session.execute(
            select(MATCHES.c.offer_id, MATCHES.c.demand_id, func.count())
            .where(MATCHES.c.offer_id.in_(chunk))
            .group_by(MATCHES.c.offer_id, MATCHES.c.demand_id)
        )
        found.update(((o, d), int(n)) for o, d, n in rows if (o, d) in wanted)
    return found


async def _rejected_pairs(session: AsyncSession) -> frozenset[tuple[str, str]]:
    """(offer, demand) pairs a party turned down, or whose confirmed shipment it called off:
    never proposed again."""
    ended = [MatchStatus.REJECTED.value, MatchStatus.CANCELLED.value]
    rows = await session.execute(
        select(MATCHES.c.offer_id, MATCHES.c.demand_id)
        .where(MATCHES.c.status.in_(ended))
        .distinct()
    )
    return frozenset((row[0], row[1]) for row in rows.all())
