"""`wastex replay catalog`: rebuild the catalog's read model of matching's lifecycle.

The catalog's own records (enterprises, sites, licences, offers, demands and their
withdrawals and expiries) are its system of record and stay. What it learned from matching
— which match holds how many tonnes of which offer and demand, hence the listings' matched
tonnes and status — is wiped and re-learned by reading the matching topics from offset 0
through the same handlers the live consumer uses.

All of it is one transaction: a reader sees the old state or the new, never half. Events
are applied in the order they happened (envelope time), not topic by topic, so tonnage
held and released by different matches adds up as it did live. Nothing is published while
re-learning; at the end every offer or demand whose state differs from before gets one
offer-updated / demand-updated (`reason` REBUILT), and unchanged ones keep their version.
Run it with the catalog's lifecycle consumer stopped, or accept that it may retry a batch.
A lifecycle fact of a schema version newer than the catalog reads stops it before anything
is replaced (`UNSUPPORTED_SCHEMA_VERSION`): upgrade the catalog first.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from wastex_catalog.adapters.migrations import LOCATION
from wastex_catalog.adapters.repository import CatalogRepository, ListingState
from wastex_catalog.adapters.tables import messaging
from wastex_catalog.domain import Demand, Offer
from wastex_catalog.entrypoints.kafka import LIFECYCLE_TOPICS, lifecycle_handlers
from wastex_catalog.matches import HOLDING, RELEASING, SHIPPING, publish_update
from wastex_catalog.records import Stored
from wastex_catalog.settings import CatalogSettings
from wastex_shared.envelope import Envelope
from wastex_shared.errors import DomainError
from wastex_shared.events import spec_for
from wastex_shared.messaging.topic_reader import read_topic
from wastex_shared.storage import UnitOfWork, make_engine
from wastex_shared.storage.migrate import upgrade

log = logging.getLogger(__name__)

#: Within one instant, a match is accepted before it is confirmed or released (every
#: lifecycle event the live consumer applies, so replay can never know fewer).
_RANK = {
    "matching.match-accepted": 0,
    "matching.match-confirmed": 1,
    **dict.fromkeys(sorted(RELEASING), 2),
    # After its confirmation (a shipment leaves only once a match is confirmed).
    **dict.fromkeys(sorted(SHIPPING), 2),
}
assert set(_RANK) == HOLDING | RELEASING | SHIPPING


class _ReplayUnitOfWork(UnitOfWork):
    """A unit of work whose publishing can be muted while history is re-applied."""

    muted = True

    async def publish_raw(
        self,
        topic: str,
        key: str,
        event_id: str,
        payload: bytes,
        headers: dict[str, str] | None = None,
    ) -> None:
        if not self.muted:
            await super().publish_raw(topic, key, event_id, payload, headers)


@dataclass
class ReplayReport:
    read: int = 0
    applied: int = 0
    refused: int = 0
    undecodable: int = 0
    changed: int = 0
    allocations_before: int = 0

    def describe(self) -> str:
        return (
            f"catalog: replayed {self.applied} of {self.read} matching events "
            f"({self.refused} refused, {self.undecodable} undecodable; "
            f"{self.allocations_before} allocation rows rebuilt); "
            f"{self.changed} offers/demands changed and were re-announced"
        )


class _Newer(Exception):
    """A lifecycle fact of a schema version newer than this catalog knows."""

    def __init__(self, version: str) -> None:
        super().__init__(version)
        self.version = version


def _decode(raw: bytes | None) -> tuple[Envelope, Any] | None:
    if raw is None:
        return None
    try:
        envelope = Envelope.from_json(raw)
        spec = spec_for(envelope.type)
        if spec is None or envelope.type not in _RANK:
            return None
        if envelope.schema_version > spec.version:
            # Not a v1 to read as one (a field it needs means something else, or is new),
            # nor one to leave out: the history without it is not the history.
            raise _Newer(f"{envelope.type} v{envelope.schema_version}")
        return envelope, spec.model.model_validate(envelope.data)
    except ValidationError:
        return None


async def read_lifecycle(bootstrap: str) -> tuple[list[tuple[Envelope, Any]], int]:
    """Every matching lifecycle event, in the order they happened; and how many were not
    decodable (the live consumer dead-lettered those). `UNSUPPORTED_SCHEMA_VERSION` when
    any is of a schema version newer than this catalog reads: it changes what a match
    holds, so no rebuild without it is right; upgrade the catalog, then replay."""
    events: dict[str, tuple[Envelope, Any]] = {}
    undecodable = 0
    newer: Counter[str] = Counter()
    async for record in read_topic(bootstrap, *LIFECYCLE_TOPICS):
        try:
            decoded = _decode(record.value)
        except _Newer as fact:
            newer[fact.version] += 1
            continue
        if decoded is None:
            undecodable += 1
            continue
        envelope = decoded[0]
        events.setdefault(envelope.reference, decoded)  # the inbox's key
    if newer:
        raise DomainError(
            "UNSUPPORTED_SCHEMA_VERSION",
            "matching facts of a schema version newer than this catalog reads ("
            + ", ".join(f"{n} × {version}" for version, n in sorted(newer.items()))
            + "): upgrade the catalog, then replay; nothing replaced",
        )
    ordered = sorted(events.values(), key=lambda e: (e[0].time, _RANK[e[0].type], e[0].id))
    return ordered, undecodable


async def rebuild(
    uow: _ReplayUnitOfWork, events: list[tuple[Envelope, Any]], report: ReplayReport
) -> None:
    """Wipe the allocations, re-apply `events`, re-announce what changed (no commit)."""
    repository = CatalogRepository(uow.session)
    before = await repository.listing_snapshot()
    report.allocations_before = await repository.forget_allocations()
    if report.allocations_before and not events:
        # Only matching's events make allocations: none read means another broker than
        # matching's (or one whose topics were lost), not a market without matches.
        raise DomainError(
            "REPLAY_INCOMPLETE",
            f"no matching event read, yet {report.allocations_before} allocation rows are "
            "kept (another broker than matching's?): nothing replaced",
        )
    handlers = lifecycle_handlers()
    for envelope, data in events:
        report.read += 1
        try:
            async with uow.savepoint():
                await handlers[envelope.type](uow, envelope, data)
            report.applied += 1
        except DomainError as err:
            # Refused live too (it is in the DLQ): a refusal rests on the match's own facts,
            # not on the order events arrive in, so refusing it again keeps the state equal.
            log.info("replay: %s %s refused: %s", envelope.type, envelope.id, err.message)
            report.refused += 1
    after = await repository.listing_snapshot()
    uow.muted = False
    await _settle_versions(repository, uow, before, after, report)


async def _settle_versions(
    repository: CatalogRepository,
    uow: UnitOfWork,
    before: dict[tuple[str, str], ListingState],
    after: dict[tuple[str, str], ListingState],
    report: ReplayReport,
) -> None:
    changed: dict[str, list[str]] = {"offer": [], "demand": []}
    for key, state in after.items():
        old = before.get(key, state)
        if state.same_as(old):
            # Re-applying bumped the version; the listing did not change, so neither does it.
            await repository.set_version(*key, old.version)
        else:
            await repository.set_version(*key, old.version + 1)
            changed[key[0]].append(key[1])
    listings: list[Stored[Offer] | Stored[Demand]] = [
        *(await repository.offers(changed["offer"])).values(),
        *(await repository.demands(changed["demand"])).values(),
    ]
    for stored in listings:
        version = before[(stored.entity.KIND, stored.entity.id)].version + 1
        await publish_update(uow, stored.entity, version, "REBUILT")
        report.changed += 1


async def replay(settings: CatalogSettings) -> str:
    """Rebuild the match allocations from the matching topics; returns a one-line report."""
    engine = make_engine(settings.db_url)
    try:
        await upgrade(engine, LOCATION)
        events, undecodable = await read_lifecycle(settings.kafka_bootstrap)
        report = ReplayReport(undecodable=undecodable)
        uow = _ReplayUnitOfWork(AsyncSession(engine, expire_on_commit=False), messaging, _no_op)
        async with uow:
            await rebuild(uow, events, report)
            await uow.commit()
        return report.describe()
    finally:
        await engine.dispose()


def _no_op() -> None:
    """No relay runs in the replay process; the service's relay drains the outbox."""
