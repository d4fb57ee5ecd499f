"""`wastex replay ledger`: rebuild the ledger's read models from their topics.

- The projection (sums per scope and month) is wiped and rebuilt from
  `ledger.entry-recorded.v1` read from offset 0, and the journal's entries not published
  yet: every entry once (the outbox may publish an event twice; entries are deduplicated by
  id), added up exactly as the incremental path adds them (`service.projection_deltas`), so
  the result equals the incremental projection.
- The site, enterprise and licence read models are upserted again from
  `catalog.site-added.v1` / `-amended.v1`, `catalog.enterprise-registered.v1` /
  `-amended.v1` and `catalog.licence-registered.v1` / `-amended.v1` (a site, an enterprise
  or a licence keeps its latest version).

The journal (`entries`), the manifests and the reports waiting for their site are the
ledger's own state, not read models: they are not touched (a report waiting for a site
replay brings is booked when its wait runs out: the sweep tries it once more, decision
029). Run it with the ledger stopped. Entries of the journal its outbox has not published
yet (booked in the moments before the stop) are counted from the journal, so the
projection holds every entry the journal or the topic holds; the report says how many.
Every topic is read before anything is written: a fact of a schema version newer than the
ledger reads, or an entry of a kind it does not know, stops the replay with nothing replaced
(`UNSUPPORTED_SCHEMA_VERSION`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from wastex_ledger.adapters.migrations import LOCATION
from wastex_ledger.adapters.repository import Repository
from wastex_ledger.adapters.tables import messaging
from wastex_ledger.domain.entries import Entry, EntryKind, SiteFacts
from wastex_ledger.service import entry_from_event, licence_of, projection_deltas
from wastex_ledger.settings import LedgerSettings
from wastex_shared.calendar import china_day
from wastex_shared.envelope import Envelope, utcnow
from wastex_shared.errors import DomainError
from wastex_shared.events import spec_for
from wastex_shared.events.catalog import (
    EnterpriseAmended,
    EnterpriseFacts,
    EnterpriseRegistered,
    LicenceAmended,
    LicenceFacts,
    LicenceRegistered,
    SiteAdded,
    SiteAmended,
)
from wastex_shared.events.ledger import EntryRecorded
from wastex_shared.messaging.topic_reader import read_topic
from wastex_shared.storage import UnitOfWorkFactory, make_engine
from wastex_shared.storage.migrate import upgrade
from wastex_shared.topics import (
    CATALOG_ENTERPRISE_AMENDED,
    CATALOG_ENTERPRISE_REGISTERED,
    CATALOG_LICENCE_AMENDED,
    CATALOG_LICENCE_REGISTERED,
    CATALOG_SITE_ADDED,
    CATALOG_SITE_AMENDED,
    LEDGER_ENTRY_RECORDED,
    Topic,
)


@dataclass
class ReplayReport:
    entries: int = 0
    duplicates: int = 0
    undecodable: int = 0
    projection_rows: int = 0
    sites: int = 0
    enterprises: int = 0
    licences: int = 0
    missing_from_topic: int = 0
    missing_from_journal: int = 0
    #: Facts newer than this ledger reads (a schema version, an entry kind), by type.
    newer: Counter[str] = field(default_factory=Counter)

    def readable(self, envelope_type: str, schema_version: int) -> bool:
        """Whether this ledger reads `envelope_type` at `schema_version`; a newer one is
        counted, to refuse the replay (`refuse_newer`)."""
        spec = spec_for(envelope_type)
        if spec is None or schema_version <= spec.version:
            return True
        self.newer[f"{envelope_type} v{schema_version}"] += 1
        return False

    def refuse_newer(self) -> None:
        """Not a v1 to read as one (a field it needs means something else, or is new), nor
        one to leave out (the history without it is not the history): nothing replaced."""
        if self.newer:
            raise DomainError(
                "UNSUPPORTED_SCHEMA_VERSION",
                "facts newer than this ledger reads ("
                + ", ".join(f"{n} × {kind}" for kind, n in sorted(self.newer.items()))
                + "): upgrade the ledger, then replay; nothing replaced",
            )

    def __str__(self) -> str:
        text = (
            f"ledger: projection rebuilt from {self.entries} entries "
            f"({self.duplicates} duplicate events skipped, {self.undecodable} undecodable) "
            f"into {self.projection_rows} rows; {self.sites} sites, {self.enterprises} "
            f"enterprises and {self.licences} licence facts re-read from the catalog"
        )
        if self.missing_from_topic:
            text += (
                f"; {self.missing_from_topic} journal entries are not on "
                f"{LEDGER_ENTRY_RECORDED.name} yet (the outbox will publish them): "
                f"counted from the journal"
            )
        if self.missing_from_journal:
            text += (
                f"; WARNING: {self.missing_from_journal} entries on "
                f"{LEDGER_ENTRY_RECORDED.name} are not in the journal (a database restored "
                f"from an older backup, or another city's broker?): counted all the same"
            )
        return text


LEDGER_ENTRY_RECORDED_TYPE = "ledger.entry-recorded"
ENTRY_KINDS = frozenset(EntryKind)


class _EntryRecordedEvent(BaseModel):
    """What replay reads of an event on the ledger's own topic: its type, schema version and
    data, decoded in one pass from the raw JSON (a million of them: the envelope's other
    fields are not needed)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    type: str = LEDGER_ENTRY_RECORDED_TYPE
    schema_version: int = Field(default=1, alias="schemaversion")
    data: EntryRecorded


class _EventHead(BaseModel):
    """An event's type and schema version alone: what a newer one is told by."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    type: str = LEDGER_ENTRY_RECORDED_TYPE
    schema_version: int = Field(default=1, alias="schemaversion")


async def _entries_from_topic(bootstrap: str, report: ReplayReport) -> list[Entry]:
    seen: dict[str, Entry] = {}
    async for record in read_topic(bootstrap, LEDGER_ENTRY_RECORDED.name):
        head: _EntryRecordedEvent | _EventHead
        try:
            head = event = _EntryRecordedEvent.model_validate_json(record.value)
        except (ValidationError, ValueError, TypeError):
            try:  # a newer version's data need not read as this one's
                head = _EventHead.model_validate_json(record.value)
            except (ValidationError, ValueError, TypeError):
                report.undecodable += 1
                continue
            if report.readable(head.type, head.schema_version):
                report.undecodable += 1
            continue
        if not report.readable(head.type, head.schema_version):
            continue
        data = event.data
        if data.entry_id in seen:
            report.duplicates += 1
            continue
        if data.kind not in ENTRY_KINDS:  # a newer ledger's kind: not to be left out either
            report.newer[f"{LEDGER_ENTRY_RECORDED_TYPE} of kind {data.kind!r}"] += 1
            continue
        seen[data.entry_id] = entry_from_event(data)
    report.entries = len(seen)
    return list(seen.values())


F = TypeVar("F", bound=BaseModel)

#: The catalog's topics each read model is upserted from, in the order they are read.
ENTERPRISE_FACTS: tuple[tuple[Topic, type[EnterpriseFacts]], ...] = (
    (CATALOG_ENTERPRISE_REGISTERED, EnterpriseRegistered),
    (CATALOG_ENTERPRISE_AMENDED, EnterpriseAmended),
)
SITE_FACTS: tuple[tuple[Topic, type[SiteAdded]], ...] = (
    (CATALOG_SITE_ADDED, SiteAdded),
    (CATALOG_SITE_AMENDED, SiteAmended),
)
LICENCE_FACTS: tuple[tuple[Topic, type[LicenceFacts]], ...] = (
    (CATALOG_LICENCE_REGISTERED, LicenceRegistered),
    (CATALOG_LICENCE_AMENDED, LicenceAmended),
)


async def _catalog_facts(
    bootstrap: str, report: ReplayReport, sources: Sequence[tuple[Topic, type[F]]]
) -> AsyncIterator[tuple[Envelope, F]]:
    """Every fact on `sources`' topics, one topic after the other from offset 0, with its
    envelope: one that does not decode is counted undecodable, one newer than this ledger
    reads is counted to refuse the replay (`ReplayReport.readable`); neither is yielded."""
    for topic, model in sources:
        async for record in read_topic(bootstrap, topic.name):
            try:
                event = Envelope.from_json(record.value)
                if not report.readable(event.type, event.schema_version):
                    continue
                facts = model.model_validate(event.data)
            except (ValidationError, ValueError, TypeError):
                report.undecodable += 1
                continue
            yield event, facts


async def rebuild(uow_factory: UnitOfWorkFactory, bootstrap: str) -> ReplayReport:
    report = ReplayReport()
    read_on = china_day(utcnow())
    # Every topic is read before anything is written: a fact this ledger cannot read
    # stops the replay with nothing replaced.
    entries = await _entries_from_topic(bootstrap, report)
    async with uow_factory() as uow:
        repo = Repository(uow.session)
        async for _, ent in _catalog_facts(bootstrap, report, ENTERPRISE_FACTS):
            await repo.upsert_enterprise(
                ent.enterprise_id, ent.name, ent.industry, ent.district, ent.kind, ent.version
            )
            report.enterprises += 1
        async for _, site in _catalog_facts(bootstrap, report, SITE_FACTS):
            facts = SiteFacts(site.site_id, site.enterprise_id, site.district, site.industry)
            await repo.upsert_site(
                facts,
                site.name,
                site.enterprise_district,
                site.enterprise_version,
                site.version,
            )
            report.sites += 1
        async for event, licence in _catalog_facts(bootstrap, report, LICENCE_FACTS):
            try:
                # A revocation or a drop not read before counts its grace from today.
                await repo.upsert_licence(
                    licence_of(licence), licence.version, china_day(event.time), read_on
                )
            except (ValidationError, ValueError, TypeError, DomainError):
                report.undecodable += 1
                continue
            report.licences += 1
        report.refuse_newer()  # before the commit: the read models stay as they were
        await uow.commit()

    async with uow_factory() as uow:
        repo = Repository(uow.session)
        # Entries booked and not published yet (the relay stopped with the service) are
        # counted from the journal: publishing them later adds nothing to the projection.
        journal, on_topic = await repo.entry_ids(), {e.id for e in entries}
        unpublished = await repo.entries_among(journal - on_topic)
        deltas = projection_deltas([*entries, *unpublished])
        await repo.replace_projection(deltas)
        await uow.commit()
    report.projection_rows = len(deltas)
    report.missing_from_topic = len(unpublished)
    report.missing_from_journal = len(on_topic - journal)
    return report


async def replay(settings: LedgerSettings) -> str:
    engine = make_engine(settings.db_url)
    try:
        await upgrade(engine, LOCATION)
        report = await rebuild(UnitOfWorkFactory(engine, messaging), settings.kafka_bootstrap)
    finally:
        await engine.dispose()
    return str(report)
