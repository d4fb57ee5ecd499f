"""The ledger's Kafka paths on the real tansu broker, on SQLite and PostgreSQL:

- ingest.ledger-reports.v1 → the same report use case as GraphQL; a duplicate id is handled
  once; poison (unauthenticated, forged, undecodable, schema-invalid, rule-breaking) is
  parked on ledger.dlq.v1 with `x-error-type`;
- catalog and matching facts build the site read model and open manifests;
- replay rebuilds the projection from ledger.entry-recorded.v1 equal to the incremental one.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import delete, select, update

from wastex_ledger.adapters.repository import Repository
from wastex_ledger.adapters.tables import entries, messaging, waiting_reports
from wastex_ledger.domain.entries import EntryKind, SiteFacts
from wastex_ledger.domain.figures import Utilisation
from wastex_ledger.domain.scope import Scope
from wastex_ledger.entrypoints.kafka import build_router
from wastex_ledger.main import build_process
from wastex_ledger.replay import replay
from wastex_ledger.settings import LedgerSettings
from wastex_ledger.testing import FREIGHT, Harness, Site, harness, unique
from wastex_shared.auth import JwtConfig, Role, issue_token
from wastex_shared.calendar import china_today
from wastex_shared.devtools.tansu import TansuBroker, free_port
from wastex_shared.envelope import Envelope, derived_id, utcnow
from wastex_shared.errors import DomainError
from wastex_shared.events.catalog import (
    EnterpriseRegistered,
    LicenceAmended,
    LicenceRegistered,
    SiteAdded,
    SiteAmended,
)
from wastex_shared.events.ledger import EntryRecorded
from wastex_shared.events.matching import MatchConfirmed
from wastex_shared.messaging import EventConsumer, OutboxRelay
from wastex_shared.messaging.admin import ensure_topics, wait_for_broker
from wastex_shared.messaging.relay import make_producer
from wastex_shared.messaging.topic_reader import read_topic
from wastex_shared.runtime import render_metrics, running
from wastex_shared.storage import UnitOfWorkFactory, make_engine
from wastex_shared.storage.presence import alone_on
from wastex_shared.testing.graphql_client import eventually
from wastex_shared.testing.kafka import serving

JWT = JwtConfig()
D = Decimal


def settings_for(bootstrap: str, database_url: str | None = None) -> LedgerSettings:
    # The common settings take their environment names (WASTEX_KAFKA_BOOTSTRAP) only.
    return LedgerSettings.model_validate(
        {"WASTEX_KAFKA_BOOTSTRAP": bootstrap, "database_url": database_url}
    )


@asynccontextmanager
async def consuming(
    bootstrap: str, ledger: Harness, settings: LedgerSettings | None = None
) -> AsyncIterator[EventConsumer]:
    """The ledger's consumers on the real broker until the block ends (the ingest one
    yielded)."""
    router, consumer = build_router(ledger.service, ledger.uow, settings or settings_for(bootstrap))
    async with serving(bootstrap, router):
        yield consumer


async def dead_letters(uow_factory: UnitOfWorkFactory, key: str) -> list[dict[str, Any]]:
    """The headers of the dead letters keyed `key` the ledger has written to its outbox."""
    async with uow_factory() as uow:
        rows = await uow.session.execute(
            select(messaging.outbox.c.headers).where(
                messaging.outbox.c.topic == "ledger.dlq.v1", messaging.outbox.c.key == key
            )
        )
        return [json.loads(headers) for headers in rows.scalars()]


async def waiting_for(uow_factory: UnitOfWorkFactory) -> dict[str, int]:
    """How many reports wait for each site (decision 029)."""
    async with uow_factory() as uow:
        rows = await uow.session.execute(select(waiting_reports.c.site_id))
        return dict(Counter(rows.scalars()))


def fact(kind: str, subject: str, data: Any) -> bytes:
    return Envelope.new(kind, "test", subject, data).to_json()


def command(kind: str, source: str, data: dict[str, Any], event_id: str | None = None) -> bytes:
    message = {
        "specversion": "1.0",
        "id": event_id or str(uuid.uuid4()),
        "type": kind,
        "source": source,
        "time": "2026-11-25T08:00:00Z",
        "data": data,
    }
    return json.dumps(message).encode()


async def produce(
    bootstrap: str, topic: str, messages: list[tuple[bytes, str, str | None]]
) -> None:
    """(value, key, bearer token or None) per message, in order."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for value, key, token in messages:
            headers = [("authorization", f"Bearer {token}".encode())] if token else []
            await producer.send_and_wait(topic, value, key=key.encode(), headers=headers)
    finally:
        await producer.stop()


async def drain(uow: UnitOfWorkFactory, bootstrap: str) -> int:
    relay = OutboxRelay(uow, make_producer(bootstrap))
    await relay._producer.start()
    try:
        total = 0
        while sent := await relay.drain_once():
            total += sent
        return total
    finally:
        await relay._producer.stop()


async def test_ingest_reports_go_through_the_same_use_case_and_poison_to_the_dlq(
    kafka_bootstrap: str, uow_factory: UnitOfWorkFactory
) -> None:
    ledger = harness(uow_factory)
    settings = settings_for(kafka_bootstrap)
    enterprise, site = f"ent-{uuid.uuid4().hex[:8]}", f"site-{uuid.uuid4().hex[:8]}"
    recycler = await ledger.register("新洲区")
    other = f"ent-{uuid.uuid4().hex[:8]}"
    token = issue_token(JWT, Role.ENTERPRISE, enterprise)

    await produce(
        kafka_bootstrap,
        "catalog.enterprise-registered.v1",
        [
            (
                fact(
                    "catalog.enterprise-registered",
                    enterprise,
                    EnterpriseRegistered(
                        enterprise_id=enterprise,
                        name="Kafka Steel",
                        credit_code="91420100MA4K0000XX",
                        industry="C3120",
                        district="青山区",
                        kind="FACTORY",
                    ),
                ),
                enterprise,
                None,
            )
        ],
    )
    await produce(
        kafka_bootstrap,
        "catalog.site-added.v1",
        [
            (
                fact(
                    "catalog.site-added",
                    site,
                    SiteAdded(
                        site_id=site,
                        enterprise_id=enterprise,
                        name="works",
                        district="青山区",
                        latitude=D("30.64"),
                        longitude=D("114.41"),
                        industry="C3120",
                        enterprise_district="青山区",
                    ),
                ),
                site,
                None,
            )
        ],
    )

    recycler_moved = SiteAmended(
        site_id=recycler.site_id,
        enterprise_id=recycler.enterprise_id,
        name="works",
        district="江夏区",
        latitude=D("30.36"),
        longitude=D("114.30"),
        industry=recycler.industry,
        enterprise_district=recycler.district,
        version=2,
        reason="surveyed again",
    )
    await produce(
        kafka_bootstrap,
        "catalog.site-amended.v1",
        [
            (
                fact("catalog.site-amended", recycler.site_id, recycler_moved),
                recycler.site_id,
                None,
            )
        ],
    )

    async def recycler_moved_in() -> bool:
        kept = await ledger.service.site(recycler.site_id)
        return kept is not None and kept.district == "江夏区"

    async with consuming(kafka_bootstrap, ledger, settings):
        await eventually(lambda: ledger.service.site(site), timeout=30)
        assert await ledger.service.enterprise_district(enterprise) == "青山区"
        await eventually(recycler_moved_in, timeout=30)

        def report(kind: str, event_id: str | None = None, **data: Any) -> bytes:
            body = {"siteId": site, "wasteCode": "SW01", "period": "2026-11", **data}
            return command(kind, enterprise, body, event_id)

        generation = report("wastex.report.generation", "gen-1", tonnes="300.000")
        nowhere = f"site-{uuid.uuid4().hex[:8]}"
        forged = command(
            "wastex.report.generation",
            enterprise,
            {"siteId": site, "wasteCode": "SW01", "tonnes": "1", "period": "2026-11"},
        )
        await produce(
            kafka_bootstrap,
            "ingest.ledger-reports.v1",
            [
                (generation, enterprise, token),
                (generation, enterprise, token),  # the same id again: handled once
                (report("wastex.report.in-plant-utilisation", tonnes="100.000"), enterprise, token),
                (report("wastex.report.storage", tonnes="20.000"), enterprise, token),
                (report("wastex.report.storage-retrieval", tonnes="5.000"), enterprise, token),
                (
                    report("wastex.report.disposal", tonnes="1.000", fromPriorStock=True),
                    enterprise,
                    token,
                ),  # no prior-year stock → BALANCE_VIOLATION
                (report("wastex.report.storage", tonnes="1.000"), enterprise, None),
                (forged, enterprise, issue_token(JWT, Role.ENTERPRISE, other)),
                (b'{"specversion": "1.0", "id": ', enterprise, token),
                (report("wastex.report.storage", tonnes="1", colour="red"), enterprise, token),
                (  # a site not known yet: it waits for its fact (decision 029)
                    command(
                        "wastex.report.generation",
                        enterprise,
                        {
                            "siteId": nowhere,
                            "wasteCode": "SW01",
                            "tonnes": "1",
                            "period": "2026-11",
                        },
                    ),
                    enterprise,
                    token,
                ),
            ],
        )
        match_id = f"match-{uuid.uuid4().hex[:8]}"
        await produce(
            kafka_bootstrap,
            "matching.match-confirmed.v1",
            [
                (
                    fact(
                        "matching.match-confirmed",
                        match_id,
                        MatchConfirmed(
                            match_id=match_id,
                            offer_id="offer",
                            demand_id="demand",
                            supplier_enterprise_id=enterprise,
                            supplier_site_id=site,
                            recycler_enterprise_id=recycler.enterprise_id,
                            recycler_site_id=recycler.site_id,
                            waste_code="SW01",
                            tonnes=D("50.000"),
                            distance_km=D("30"),
                            co2e_kg=D("117.000"),
                            freight_factor_key=FREIGHT,
                            freight_factor_kg_per_tkm=D("0.078"),
                            status="CONFIRMED",
                        ),
                    ),
                    match_id,
                    None,
                )
            ],
        )

        async def parked() -> list[Any] | None:
            letters = await dead_letters(uow_factory, enterprise)
            return letters if len(letters) >= 5 else None

        await eventually(parked, timeout=30)

        async def kept() -> Any:
            return (await waiting_for(uow_factory)).get(nowhere)

        assert await eventually(kept, timeout=30) == 1

        async def booked() -> Any:
            u = await ledger.figures(Scope(enterprise_id=enterprise), "2026-11")
            return u if (u.utilised_in_plant, u.stored) == (D("100.000"), D("15.000")) else None

        figures = await booked() or await eventually(booked, timeout=30)
        assert figures.generated == D("300.000")  # not 600: the duplicate was skipped
        assert figures.rate == D("0.3333")

        async def manifest_opened() -> Any:
            async with uow_factory() as uow:
                return await Repository(uow.session).manifest_by_match(match_id)

        await eventually(manifest_opened, timeout=30)

        # Licence facts build the licences read model; one of a type the ledger does not know
        # is parked (INVALID_LICENCE), not retried for ever.
        def licence(licence_id: str, licence_type: str) -> bytes:
            return fact(
                "catalog.licence-registered",
                licence_id,
                LicenceRegistered(
                    licence_id=licence_id,
                    enterprise_id=recycler.enterprise_id,
                    number=f"N-{licence_id}",
                    waste_codes=["SW01"],
                    annual_capacity_tonnes=D(1000),
                    valid_from=date(2026, 1, 1),
                    valid_until=date(2026, 12, 31),
                    licence_type=licence_type,
                ),
            )

        good, bad = f"lic-{uuid.uuid4().hex[:8]}", f"lic-{uuid.uuid4().hex[:8]}"
        await produce(
            kafka_bootstrap,
            "catalog.licence-registered.v1",
            [
                (licence(bad, "FISHING"), bad, None),
                (licence(good, "GENERAL_UTILISATION"), good, None),
            ],
        )

        async def licence_kept() -> Any:
            async with uow_factory() as uow:
                held = await Repository(uow.session).licences_of(recycler.enterprise_id)
            return [lic.id for lic in held] or None

        assert await eventually(licence_kept, timeout=30) == [good]

        async def licence_parked() -> Any:
            return await dead_letters(uow_factory, bad) or None

        [letter] = await eventually(licence_parked, timeout=30)
        assert letter["x-error-type"] == "INVALID_LICENCE"
        # The same use case as GraphQL: the entry is the enterprise's own, from its site.
        async with uow_factory() as uow:
            repo = Repository(uow.session)
            entry = await repo.entry(derived_id("entry", enterprise, "gen-1"))
        assert entry is not None
        assert (entry.kind, entry.site_id, entry.district) == (
            EntryKind.GENERATED,
            site,
            "青山区",
        )
        assert entry.cause_event_id == f"{enterprise}/gen-1"

    await drain(uow_factory, kafka_bootstrap)
    found: list[dict[str, bytes]] = []
    async for record in read_topic(kafka_bootstrap, "ledger.dlq.v1"):
        if record.key == enterprise.encode():
            found.append(dict(record.headers))
    reasons = sorted(h["x-error-type"].decode() for h in found)
    assert reasons == sorted(
        [
            "BALANCE_VIOLATION",
            "UNAUTHENTICATED",
            "FORGED_SOURCE",
            "INVALID_ENVELOPE",
            "SCHEMA_INVALID",
        ]
    )
    for headers in found:
        assert headers["x-error"]
        assert headers["x-original-topic"] == b"ingest.ledger-reports.v1"


# -- replay -------------------------------------------------------------------------------


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[TansuBroker]:
    """A broker of this test's own, so the topics hold only this test's events."""
    broker = TansuBroker(port=free_port(), log_path=tmp_path / "tansu.log")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
async def replay_bootstrap(own_broker: TansuBroker) -> str:
    await wait_for_broker(own_broker.bootstrap)
    await ensure_topics(own_broker.bootstrap)
    return own_broker.bootstrap


async def scenario(ledger: Harness) -> None:
    steel = await ledger.register("青山区", "C3120")
    cement = await ledger.register("新洲区", "C3011")
    svc = ledger.service

    async def report(site: Any, kind: EntryKind, tonnes: str, period: str, **kw: Any) -> str:
        entry = await svc.report(
            site.enterprise_id,
            kind,
            site_id=site.site_id,
            waste_code=kw.pop("code", "SW01"),
            tonnes=tonnes,
            period=period,
            **kw,
        )
        return entry.id

    await report(steel, EntryKind.OPENING_STOCK, "25.000", "2025-06")
    await report(steel, EntryKind.GENERATED, "120.500", "2025-11")
    await report(steel, EntryKind.STORED, "20.500", "2025-12")
    await report(steel, EntryKind.GENERATED, "300.000", "2026-01")
    used = await report(steel, EntryKind.UTILISED_IN_PLANT, "90.000", "2026-01")
    await report(steel, EntryKind.DISPOSED, "5.000", "2026-02", from_prior_stock=True)
    await svc.correct_entry(steel.enterprise_id, used, "95.000", "meter fixed")
    await report(cement, EntryKind.GENERATED, "40.000", "2026-02", code="SW02")
    await report(cement, EntryKind.UTILISED_IN_PLANT, "40.000", "2026-02", code="SW02")
    for tonnes, received, prior in (("100.000", "99.000", False), ("30.000", "25.000", True)):
        match_id = await ledger.confirm(steel, cement, tonnes)
        sent = await svc.dispatch(
            steel.enterprise_id, match_id, tonnes, from_prior_stock=prior, period="2026-02"
        )
        await svc.receive(cement.enterprise_id, sent.id, received)
    await report(cement, EntryKind.UTILISED, "99.000", "2026-03")
    # What the recycler stored, took back out and disposed of (decision 027).
    await report(cement, EntryKind.RECEIVED_STORED, "20.000", "2026-03")
    await report(cement, EntryKind.RECEIVED_STORAGE_RETRIEVED, "5.000", "2026-04")
    disposed = await report(cement, EntryKind.RECEIVED_DISPOSED, "5.000", "2026-04")
    await svc.correct_entry(cement.enterprise_id, disposed, "4.000", "residue re-weighed")


async def test_replay_rebuilds_the_projection_equal_to_the_incremental_one(
    replay_bootstrap: str, database_url: str, uow_factory: UnitOfWorkFactory
) -> None:
    ledger = harness(uow_factory)
    await scenario(ledger)
    incremental = await ledger.projection()
    assert len(incremental) > 40
    assert any(row["received_stored"] and row["received_disposed"] for row in incremental.values())

    # Publish the outbox, then publish it all again: the topic holds every event twice.
    published = await drain(uow_factory, replay_bootstrap)
    async with uow_factory() as uow:
        await uow.session.execute(update(messaging.outbox).values(sent_at=None))
        await uow.commit()
    assert await drain(uow_factory, replay_bootstrap) == published

    # Lose the projection entirely (and a site of the read model); replay brings both back.
    async with uow_factory() as uow:
        await Repository(uow.session).wipe_projection()
        await uow.commit()
    assert await ledger.projection() == {}
    site = SiteAdded(
        site_id="site-from-catalog",
        enterprise_id="ent-x",
        name="x",
        district="江夏区",
        latitude=D("30.3"),
        longitude=D("114.3"),
        industry="C30",
        enterprise_district="江夏区",
    )
    await produce(
        replay_bootstrap,
        "catalog.site-added.v1",
        [(fact("catalog.site-added", site.site_id, site), site.site_id, None)],
    )
    # The site amended since (another topic): replay keeps the amendment.
    moved = SiteAmended(
        **site.model_dump(exclude={"district", "version"}),
        district="洪山区",
        version=2,
        reason="surveyed again",
    )
    await produce(
        replay_bootstrap,
        "catalog.site-amended.v1",
        [(fact("catalog.site-amended", site.site_id, moved), site.site_id, None)],
    )

    # A licence's revocation read before its registration: the later version stands.
    terms = {
        "licence_id": "lic-from-catalog",
        "enterprise_id": "ent-x",
        "number": "鄂危废-x",
        "waste_codes": ["SW01"],
        "annual_capacity_tonnes": D(1000),
        "valid_from": date(2026, 1, 1),
        "valid_until": date(2026, 12, 31),
        "licence_type": "GENERAL_UTILISATION",
    }
    revoked = LicenceAmended(**terms, revoked_on=date(2026, 6, 1), version=2, reason="吊销")
    await produce(
        replay_bootstrap,
        "catalog.licence-amended.v1",
        [(fact("catalog.licence-amended", "lic-from-catalog", revoked), "lic-from-catalog", None)],
    )
    registered = LicenceRegistered(**terms)
    await produce(
        replay_bootstrap,
        "catalog.licence-registered.v1",
        [
            (
                fact("catalog.licence-registered", "lic-from-catalog", registered),
                "lic-from-catalog",
                None,
            )
        ],
    )

    settings = settings_for(replay_bootstrap, database_url)
    report = await replay(settings)
    assert "WARNING" not in report, report
    assert "2 licence facts" in report, report
    assert await ledger.projection() == incremental
    replayed_site = await ledger.service.site("site-from-catalog")
    assert replayed_site is not None
    assert replayed_site.district == "洪山区"
    async with uow_factory() as uow:
        [kept] = await Repository(uow.session).licences_of("ent-x")
    assert kept.revoked_on == date(2026, 6, 1)
    # And once more: replay is idempotent.
    await replay(settings)
    assert await ledger.projection() == incremental
    await asyncio.sleep(0)


async def test_replay_counts_the_entries_the_outbox_has_not_published_yet(
    replay_bootstrap: str, database_url: str, uow_factory: UnitOfWorkFactory
) -> None:
    """The ledger is stopped to be replayed (`wastex replay`'s help says so), and a stopped
    ledger's relay publishes nothing: entries booked in its last moments are in the journal
    and the outbox, not yet on the topic. The rebuilt projection counts them all the same;
    else their figures would be missing for good (the relay publishes them later, but
    publishing adds nothing to the projection)."""
    ledger = harness(uow_factory)
    steel = await ledger.register("青山区", "C3120")
    svc = ledger.service
    for kind, tonnes in ((EntryKind.GENERATED, "80.000"), (EntryKind.UTILISED_IN_PLANT, "30.000")):
        await svc.report(
            steel.enterprise_id,
            kind,
            site_id=steel.site_id,
            waste_code="SW01",
            tonnes=tonnes,
            period="2026-10",
        )
    assert await drain(uow_factory, replay_bootstrap)
    # Booked just before the stop: not published.
    stored = await svc.report(
        steel.enterprise_id,
        EntryKind.STORED,
        site_id=steel.site_id,
        waste_code="SW01",
        tonnes="12.000",
        period="2026-10",
    )
    await svc.correct_entry(steel.enterprise_id, stored.id, "10.000", "re-weighed")
    incremental = await ledger.projection()

    report = await replay(settings_for(replay_bootstrap, database_url))

    assert await ledger.projection() == incremental
    assert "3 journal entries are not on" in report, report
    # Published afterwards, each entry is still counted once.
    assert await drain(uow_factory, replay_bootstrap)
    assert "WARNING" not in await replay(settings_for(replay_bootstrap, database_url))
    assert await ledger.projection() == incremental
    # The journal short of what the topic holds (a database restored from an older backup):
    # counted all the same, and said.
    async with uow_factory() as uow:
        await uow.session.execute(delete(entries).where(entries.c.id == stored.id))
        await uow.commit()
    report = await replay(settings_for(replay_bootstrap, database_url))
    assert "WARNING: 1 entries on ledger.entry-recorded.v1 are not in the journal" in report
    assert await ledger.projection() == incremental


async def one_generation_published(
    ledger: Harness, uow_factory: UnitOfWorkFactory, bootstrap: str
) -> tuple[Site, Any]:
    """A steelworks reporting one generation, its fact on the ledger's topic: the site, and
    the projection a replay must leave as it is."""
    steel = await ledger.register("青山区", "C3120")
    await ledger.service.report(
        steel.enterprise_id,
        EntryKind.GENERATED,
        site_id=steel.site_id,
        waste_code="SW01",
        tonnes="80.000",
        period="2026-10",
    )
    assert await drain(uow_factory, bootstrap)
    return steel, await ledger.projection()


def entry_of(steel: Site, entry_id: str, kind: str) -> EntryRecorded:
    """An entry fact of the steelworks (80 t of SW01 in 2026-10), of any `kind`."""
    return EntryRecorded(
        entry_id=entry_id,
        kind=kind,
        enterprise_id=steel.enterprise_id,
        site_id=steel.site_id,
        district="青山区",
        industry="C3120",
        waste_code="SW01",
        tonnes=D("80000"),
        period="2026-10",
        cause_event_id=f"cause-of-{entry_id}",
    )


async def test_a_replay_meeting_facts_of_a_newer_schema_version_replaces_nothing(
    replay_bootstrap: str, database_url: str, uow_factory: UnitOfWorkFactory
) -> None:
    """A v2 fact is one this ledger cannot read (its consumer parks it
    UNSUPPORTED_SCHEMA_VERSION): replay neither reads it as a v1 (a v2 entry's tonnes may
    mean something else) nor rebuilds without it; it refuses, and says to upgrade first."""
    ledger = harness(uow_factory)
    steel, incremental = await one_generation_published(ledger, uow_factory, replay_bootstrap)
    newer = entry_of(steel, "entry-of-v2", "generated")
    v2 = Envelope.new("ledger.entry-recorded", "ledger", "entry-of-v2", newer, schema_version=2)
    await produce(replay_bootstrap, "ledger.entry-recorded.v1", [(v2.to_json(), "e", None)])
    site = SiteAmended(
        site_id=steel.site_id,
        enterprise_id=steel.enterprise_id,
        name="moved",
        district="洪山区",
        latitude=D("30.3"),
        longitude=D("114.3"),
        industry="C3120",
        enterprise_district="青山区",
        version=9,
        reason="v2",
    )
    amended = Envelope.new("catalog.site-amended", "catalog", site.site_id, site, schema_version=2)
    await produce(replay_bootstrap, "catalog.site-amended.v1", [(amended.to_json(), "s", None)])

    with pytest.raises(DomainError, match=r"ledger\.entry-recorded v2") as refused:
        await replay(settings_for(replay_bootstrap, database_url))
    assert refused.value.code == "UNSUPPORTED_SCHEMA_VERSION"
    assert "catalog.site-amended v2" in refused.value.message

    assert await ledger.projection() == incremental
    kept = await ledger.service.site(steel.site_id)
    assert kept is not None
    assert kept.district == "青山区"


Report = tuple[bytes, str, str | None]


def report_of(site: Site, kind: str, **fields: Any) -> Report:
    """A factory's `wastex.report.<kind>` of 2026-11's SW01 at `site`, signed by its owner;
    `fields` (camelCase) add to or replace those."""
    data = {"siteId": site.site_id, "wasteCode": "SW01", "period": "2026-11", **fields}
    token = issue_token(JWT, Role.ENTERPRISE, site.enterprise_id)
    return command(f"wastex.report.{kind}", site.enterprise_id, data), site.enterprise_id, token


async def ingested(
    bootstrap: str,
    ledger: Harness,
    site: Site,
    reports: list[Report],
    booked: Callable[[Utilisation], bool],
) -> tuple[Utilisation, list[dict[str, Any]]]:
    """`reports` through the ledger's consumers on the real broker, until `booked` holds of
    the site's enterprise's 2026-11 figures: those figures, and what was dead-lettered."""
    async with consuming(bootstrap, ledger):
        await produce(bootstrap, "ingest.ledger-reports.v1", reports)

        async def figures() -> Utilisation | None:
            u = await ledger.figures(Scope(enterprise_id=site.enterprise_id), "2026-11")
            return u if booked(u) else None

        async def parked() -> list[dict[str, Any]] | None:
            return await dead_letters(ledger.uow, site.enterprise_id) or None

        return await eventually(figures, timeout=60), await eventually(parked, timeout=30)


async def test_every_report_takes_the_graphql_inputs_fields_from_prior_stock_included(
    kafka_bootstrap: str, uow_factory: UnitOfWorkFactory
) -> None:
    """Every report mutation takes `LedgerReportInput`, `fromPriorStock` included (false by
    default; true refused by the rule where it does not apply). Over Kafka, only in-plant
    use and disposal took it: a factory's system sending the same fields for every report
    had its generation, storage and opening stock parked as SCHEMA_INVALID."""
    ledger = harness(uow_factory)
    site = await ledger.register("青山区")

    def report(kind: str, tonnes: str, prior: bool) -> Report:
        return report_of(site, kind, tonnes=tonnes, fromPriorStock=prior)

    reports = [
        report("generation", "300.000", False),
        report("generation", "1.000", True),  # refused by the rule, as over GraphQL
        report("storage", "20.000", False),
        report("storage-retrieval", "5.000", False),
        report("opening-stock", "40.000", False),
        report("in-plant-utilisation", "100.000", False),
    ]
    figures, letters = await ingested(
        kafka_bootstrap, ledger, site, reports, lambda u: u.utilised_in_plant == D("100.000")
    )
    assert (figures.generated, figures.stored) == (D("300.000"), D("15.000"))
    assert [letter["x-error-type"] for letter in letters] == ["PRIOR_STOCK_NOT_APPLICABLE"]


async def test_a_report_of_a_code_the_catalogue_lacks_is_refused_as_over_graphql(
    kafka_bootstrap: str, uow_factory: UnitOfWorkFactory
) -> None:
    """A code longer than 16 characters was refused by the ingest schema (SCHEMA_INVALID),
    where GraphQL says UNKNOWN_WASTE_CODE, and a code padded as a fixed-width field (which
    the catalogue's look-up trims) was not booked at all."""
    ledger = harness(uow_factory)
    site = await ledger.register("青山区")
    reports = [
        report_of(site, "generation", wasteCode="HW08 (900-249-08)", tonnes="1.000"),
        report_of(site, "generation", wasteCode="SW01".ljust(20), tonnes="7.000"),
    ]
    _, letters = await ingested(
        kafka_bootstrap, ledger, site, reports, lambda u: u.generated == D("7.000")
    )
    assert [letter["x-error-type"] for letter in letters] == ["UNKNOWN_WASTE_CODE"]


async def test_a_report_period_is_judged_by_the_ledgers_rule_as_over_graphql(
    kafka_bootstrap: str, uow_factory: UnitOfWorkFactory
) -> None:
    """The ingest schema checked the period by a pattern of its own: '2026-13' was
    SCHEMA_INVALID where GraphQL says INVALID_PERIOD (field period), and a period with a
    trailing space, which GraphQL books, was refused."""
    ledger = harness(uow_factory)
    site = await ledger.register("青山区")
    reports = [
        report_of(site, "generation", period="2026-13", tonnes="1.000"),
        report_of(site, "generation", period="2026-11 ", tonnes="7.000"),
    ]
    _, letters = await ingested(
        kafka_bootstrap, ledger, site, reports, lambda u: u.generated == D("7.000")
    )
    assert [(h["x-error-type"], h.get("x-error-field")) for h in letters] == [
        ("INVALID_PERIOD", "period")
    ]


async def test_a_recycler_reports_what_it_did_with_its_intake_over_kafka_as_over_graphql(
    kafka_bootstrap: str, uow_factory: UnitOfWorkFactory
) -> None:
    """A recycler's system reports its intake's use, storage, retrieval and disposal as the
    `reportReceived*` mutations do (decision 027), the same checks included: more put into
    storage than was received is BALANCE_VIOLATION."""
    ledger = harness(uow_factory)
    steel, cement = await ledger.register("青山区"), await ledger.register("新洲区")
    await ledger.service.report(
        steel.enterprise_id,
        EntryKind.GENERATED,
        site_id=steel.site_id,
        waste_code="SW01",
        tonnes="50.000",
        period="2026-11",
    )
    match = await ledger.confirm(steel, cement, "50.000")
    sent = await ledger.service.dispatch(steel.enterprise_id, match, "50.000", period="2026-11")
    await ledger.service.receive(cement.enterprise_id, sent.id, "50.000")
    reports = [
        report_of(cement, "received-utilisation", tonnes="20.000"),
        report_of(cement, "received-storage", tonnes="10.000"),
        report_of(cement, "received-storage", tonnes="100.000"),  # more than came in
        report_of(cement, "received-storage-retrieval", tonnes="4.000"),
        report_of(cement, "received-disposal", tonnes="5.000"),
    ]
    figures, letters = await ingested(
        kafka_bootstrap, ledger, cement, reports, lambda u: u.received_disposed == D("5.000")
    )
    assert (figures.received_utilised, figures.received_stored) == (D("20.000"), D("6.000"))
    assert figures.generated == D("0.000")  # none of it is the recycler's own generation
    assert [letter["x-error-type"] for letter in letters] == ["BALANCE_VIOLATION"]


# -- reports that wait for their site (decision 029) -----------------------------------------


def site_added(site: Site) -> bytes:
    return fact(
        "catalog.site-added",
        site.site_id,
        SiteAdded(
            site_id=site.site_id,
            enterprise_id=site.enterprise_id,
            name="new works",
            district=site.district,
            latitude=D("30.64"),
            longitude=D("114.41"),
            industry=site.industry,
            enterprise_district=site.district,
        ),
    )


def signed_report(
    site: Site, kind: str, event_id: str, by: str | None = None, **fields: Any
) -> Report:
    """`report_of` under the id `event_id`, sent by `by` (the site's owner by default)."""
    sender = by or site.enterprise_id
    data = {"siteId": site.site_id, "wasteCode": "SW01", "period": "2026-11", **fields}
    token = issue_token(JWT, Role.ENTERPRISE, sender)
    return command(f"wastex.report.{kind}", sender, data, event_id), sender, token


async def test_a_report_read_before_its_sites_fact_waits_and_is_booked_once_the_fact_arrives(
    kafka_bootstrap: str, uow_factory: UnitOfWorkFactory
) -> None:
    """A factory's system adds a site (GraphQL, catalog) and at once reports on it over
    Kafka: the report was read before the catalog's `site-added` and parked UNKNOWN_SITE.
    It now waits for the fact and is booked then, in arrival order and once; one then
    refused for another reason is parked with that reason, as it would have been at once,
    and may be sent again, fixed, under its id."""
    ledger = harness(uow_factory)
    known = await ledger.register("青山区")  # the enterprise, and a site the ledger knows
    new = Site(unique("site"), known.enterprise_id, "洪山区", known.industry)
    stranger = await ledger.register("新洲区")
    generation = signed_report(new, "generation", "w-gen", tonnes="100.000")
    async with consuming(kafka_bootstrap, ledger) as consumer:
        await produce(
            kafka_bootstrap,
            "ingest.ledger-reports.v1",
            [
                generation,
                generation,  # the same message twice: it waits once
                signed_report(new, "in-plant-utilisation", "w-use", tonnes="30.000"),
                # No prior-year stock to dispose of: refused once the site is known.
                signed_report(new, "disposal", "w-prior", tonnes="5.000", fromPriorStock=True),
                # Another enterprise's report on the site: refused once it is known whose.
                signed_report(new, "generation", "w-other", by=stranger.enterprise_id, tonnes="1"),
            ],
        )

        async def four_waiting() -> Any:
            return (await waiting_for(uow_factory)).get(new.site_id) == 4

        await eventually(four_waiting, timeout=30)
        assert consumer.stats.duplicates >= 1
        assert await dead_letters(uow_factory, new.enterprise_id) == []
        nothing = await ledger.figures(Scope(enterprise_id=new.enterprise_id), "2026-11")
        assert nothing.generated == 0

        await produce(
            kafka_bootstrap, "catalog.site-added.v1", [(site_added(new), new.site_id, None)]
        )

        async def booked() -> Any:
            u = await ledger.figures(Scope(enterprise_id=new.enterprise_id), "2026-11")
            return u if u.utilised_in_plant == D("30.000") else None

        figures = await eventually(booked, timeout=30)
        assert figures.generated == D("100.000")  # booked before the use that needs it
        assert await waiting_for(uow_factory) == {}
        async with uow_factory() as uow:
            entry = await Repository(uow.session).entry(
                derived_id("entry", new.enterprise_id, "w-gen")
            )
        assert entry is not None
        assert (entry.site_id, entry.district) == (new.site_id, "洪山区")

        async def letters_of(key: str) -> Any:
            return await dead_letters(uow_factory, key) or None

        [refused] = await letters_of(new.enterprise_id) or []
        [foreign] = await letters_of(stranger.enterprise_id) or []
        for letter, code, sender in (
            (refused, "BALANCE_VIOLATION", new.enterprise_id),
            (foreign, "NOT_AUTHORIZED", stranger.enterprise_id),
        ):
            assert letter["x-error-type"] == code
            assert letter["x-error"]
            assert letter["x-original-topic"] == "ingest.ledger-reports.v1"
            assert int(letter["x-original-offset"]) >= 0
            assert letter["x-authenticated-source"] == sender
            assert "authorization" not in letter  # no token kept (decision 002)

        # The generation again (booked: a duplicate), the refused disposal again under its
        # id, fixed (handled: a parked message is remembered by its place), then a marker.
        await produce(
            kafka_bootstrap,
            "ingest.ledger-reports.v1",
            [
                generation,
                signed_report(new, "disposal", "w-prior", tonnes="5.000"),
                signed_report(new, "storage", "w-marker", tonnes="10.000"),
            ],
        )

        async def marker() -> Any:
            u = await ledger.figures(Scope(enterprise_id=new.enterprise_id), "2026-11")
            return u if u.stored == D("10.000") else None

        after = await eventually(marker, timeout=30)
        assert after.generated == D("100.000")  # not 200
        assert after.disposed == D("5.000")

    # The dead letters leave like any other: through the outbox (decision 002).
    await drain(uow_factory, kafka_bootstrap)
    found = [
        dict(record.headers)
        async for record in read_topic(kafka_bootstrap, "ledger.dlq.v1")
        if record.key in (new.enterprise_id.encode(), stranger.enterprise_id.encode())
    ]
    assert sorted(h["x-error-type"].decode() for h in found) == [
        "BALANCE_VIOLATION",
        "NOT_AUTHORIZED",
    ]


async def test_what_a_report_says_is_judged_at_once_though_its_site_is_not_known_yet(
    kafka_bootstrap: str, uow_factory: UnitOfWorkFactory
) -> None:
    """Only the site waits: a code the catalogue lacks, a month still to come or prior-year
    stock on a generation are parked at once, as for a known site, not after a day's wait
    (and a month still to come is not let through once it has begun)."""
    ledger = harness(uow_factory)
    known = await ledger.register("青山区")
    new = Site(unique("site"), known.enterprise_id, "洪山区", known.industry)
    ahead = (china_today().replace(day=1) + timedelta(days=32)).strftime("%Y-%m")
    async with consuming(kafka_bootstrap, ledger):
        await produce(
            kafka_bootstrap,
            "ingest.ledger-reports.v1",
            [
                signed_report(new, "generation", "j-ok", tonnes="1.000"),
                signed_report(new, "generation", "j-code", wasteCode="SW1", tonnes="1.000"),
                signed_report(new, "generation", "j-ahead", period=ahead, tonnes="1.000"),
                signed_report(new, "generation", "j-prior", fromPriorStock=True, tonnes="1"),
            ],
        )

        async def three_parked() -> Any:
            letters = await dead_letters(uow_factory, new.enterprise_id)
            return letters if len(letters) == 3 else None

        letters = await eventually(three_parked, timeout=30)
    assert sorted(letter["x-error-type"] for letter in letters) == [
        "INVALID_PERIOD",
        "PRIOR_STOCK_NOT_APPLICABLE",
        "UNKNOWN_WASTE_CODE",
    ]
    assert await waiting_for(uow_factory) == {new.site_id: 1}


async def test_opening_stock_after_the_records_is_parked_whether_it_waited_or_not(
    kafka_bootstrap: str, uow_factory: UnitOfWorkFactory
) -> None:
    """Over Kafka the rule of GraphQL (decision 035): opening stock of 2026 after 2025's
    records of the code is parked INVALID_PERIOD on field period; one waiting for its site
    (decision 029) is judged when it is booked, on the enterprise's records across its
    sites; one declared for 2024, before the records, is booked."""
    ledger = harness(uow_factory)
    known = await ledger.register("青山区")
    new = Site(unique("site"), known.enterprise_id, "洪山区", known.industry)
    for kind in (EntryKind.GENERATED, EntryKind.STORED):
        await ledger.service.report(
            known.enterprise_id,
            kind,
            site_id=known.site_id,
            waste_code="SW01",
            tonnes="500.000",
            period="2025-03",
        )
    async with consuming(kafka_bootstrap, ledger):
        await produce(
            kafka_bootstrap,
            "ingest.ledger-reports.v1",
            [
                signed_report(known, "opening-stock", "o-late", tonnes="500.000"),
                signed_report(new, "opening-stock", "o-waits", tonnes="500.000"),
                signed_report(known, "opening-stock", "o-old", tonnes="40.000", period="2024-06"),
            ],
        )

        async def waiting_and_booked() -> Any:
            u = await ledger.figures(Scope(enterprise_id=known.enterprise_id), "2024-06")
            waits = await waiting_for(uow_factory) == {new.site_id: 1}
            return waits and u.opening_stock == D("40.000")

        await eventually(waiting_and_booked, timeout=30)
        await produce(
            kafka_bootstrap, "catalog.site-added.v1", [(site_added(new), new.site_id, None)]
        )

        async def two_parked() -> Any:
            letters = await dead_letters(uow_factory, known.enterprise_id)
            return letters if len(letters) == 2 else None

        letters = await eventually(two_parked, timeout=30)
    assert [(h["x-error-type"], h["x-error-field"]) for h in letters] == [
        ("INVALID_PERIOD", "period"),
        ("INVALID_PERIOD", "period"),
    ]
    assert await waiting_for(uow_factory) == {}
    u = await ledger.figures(Scope(enterprise_id=known.enterprise_id), "2024-01", "2026-12")
    assert u.opening_stock == D("40.000")


async def test_a_report_whose_site_never_comes_is_parked_unknown_site_after_the_wait(
    kafka_bootstrap: str, uow_factory: UnitOfWorkFactory
) -> None:
    """A report still waiting after `report_wait` (24 hours by default) is parked
    UNKNOWN_SITE, as it was at once before; the same message read again is a duplicate, and
    the factory may send it again under its id once the site exists."""
    ledger = harness(uow_factory)
    known = await ledger.register("青山区")
    late = Site(unique("site"), known.enterprise_id, "青山区", known.industry)
    report = signed_report(late, "generation", "never", tonnes="7.000")
    async with consuming(kafka_bootstrap, ledger) as consumer:
        await produce(kafka_bootstrap, "ingest.ledger-reports.v1", [report])

        async def kept() -> Any:
            return (await waiting_for(uow_factory)).get(late.site_id)

        assert await eventually(kept, timeout=30) == 1
        now = utcnow()
        ledger.clock.fixed = now + timedelta(hours=23)
        assert await ledger.service.give_up_waiting() == 0  # still within its wait
        ledger.clock.fixed = now + timedelta(hours=25)
        assert await ledger.service.give_up_waiting() == 1
        ledger.clock.fixed = None
        assert await waiting_for(uow_factory) == {}
        [letter] = await dead_letters(uow_factory, late.enterprise_id)
        assert letter["x-error-type"] == "UNKNOWN_SITE"
        assert letter["x-error-field"] == "siteId"
        assert late.site_id in letter["x-error"]
        assert letter["x-original-topic"] == "ingest.ledger-reports.v1"
        assert letter["x-authenticated-source"] == late.enterprise_id
        assert "authorization" not in letter

        # The original message read again (a group's offsets lost): parked already.
        [original] = [
            record
            async for record in read_topic(kafka_bootstrap, "ingest.ledger-reports.v1")
            if record.value == report[0]
        ]
        duplicates = consumer.stats.duplicates
        await consumer.handle_batch([original])
        assert consumer.stats.duplicates == duplicates + 1
        assert await waiting_for(uow_factory) == {}

        # The site exists now; the factory sends the report again under the same id.
        await ledger.announce(late)
        await produce(kafka_bootstrap, "ingest.ledger-reports.v1", [report])

        async def booked() -> Any:
            u = await ledger.figures(Scope(enterprise_id=late.enterprise_id), "2026-11")
            return u if u.generated == D("7.000") else None

        await eventually(booked, timeout=30)
        assert len(await dead_letters(uow_factory, late.enterprise_id)) == 1
    ledger.clock.fixed = None


async def test_a_report_kept_waiting_is_booked_by_the_sweep_when_its_site_came_meanwhile(
    kafka_bootstrap: str, uow_factory: UnitOfWorkFactory
) -> None:
    """A site known by other means than its fact through the consumer (a replay) books a
    report still waiting when the wait runs out, instead of parking it UNKNOWN_SITE."""
    ledger = harness(uow_factory)
    known = await ledger.register("青山区")
    later = Site(unique("site"), known.enterprise_id, "青山区", known.industry)
    async with consuming(kafka_bootstrap, ledger):
        await produce(
            kafka_bootstrap,
            "ingest.ledger-reports.v1",
            [signed_report(later, "generation", "replayed", tonnes="3.000")],
        )

        async def kept() -> Any:
            return (await waiting_for(uow_factory)).get(later.site_id)

        await eventually(kept, timeout=30)
    async with uow_factory() as uow:  # as `wastex replay ledger` keeps a site
        await Repository(uow.session).upsert_site(
            SiteFacts(later.site_id, later.enterprise_id, later.district, later.industry),
            "works",
            later.district,
        )
        await uow.commit()
    ledger.clock.fixed = utcnow() + timedelta(hours=25)
    try:
        assert await ledger.service.give_up_waiting() == 1
    finally:
        ledger.clock.fixed = None
    u = await ledger.figures(Scope(enterprise_id=later.enterprise_id), "2026-11")
    assert u.generated == D("3.000")
    assert await dead_letters(uow_factory, later.enterprise_id) == []


async def test_a_report_read_while_its_sites_fact_commits_is_booked_not_left_waiting(
    kafka_bootstrap: str, uow_factory: UnitOfWorkFactory
) -> None:
    """The site's fact and the report in two transactions at once (another partition,
    another ledger process): the report read the site as unknown before the fact
    committed, and was kept after the fact had taken the reports waiting for it, so it
    waited out its day for a site the ledger knew. It now waits for the fact to commit,
    reads the site again and is booked."""
    ledger = harness(uow_factory)
    known = await ledger.register("青山区")
    new = Site(unique("site"), known.enterprise_id, "青山区", known.industry)
    report = signed_report(new, "generation", "racing", tonnes="4.000")
    await produce(kafka_bootstrap, "ingest.ledger-reports.v1", [report])
    [record] = [
        r
        async for r in read_topic(kafka_bootstrap, "ingest.ledger-reports.v1")
        if r.value == report[0]
    ]
    _, consumer = build_router(ledger.service, uow_factory, settings_for(kafka_bootstrap))

    async with uow_factory() as uow:  # the site's fact, not committed yet
        await ledger.service.on_site(
            uow,
            Envelope.from_json(site_added(new)),
            SiteAdded.model_validate(Envelope.from_json(site_added(new)).data),
        )
        reading = asyncio.create_task(consumer.handle_batch([record]))
        await asyncio.sleep(1)
        assert not reading.done()  # it waits for the fact's transaction
        await uow.commit()
    await asyncio.wait_for(reading, 30)

    assert await waiting_for(uow_factory) == {}
    u = await ledger.figures(Scope(enterprise_id=new.enterprise_id), "2026-11")
    assert u.generated == D("4.000")


async def test_a_report_kept_and_refused_in_the_batch_of_its_sites_fact_may_be_sent_again(
    kafka_bootstrap: str, uow_factory: UnitOfWorkFactory
) -> None:
    """The report and its site's fact in one batch (the consumer reads both topics): the
    report waits, the fact books what waits and a refused one is parked, the inbox
    remembering it as parked. The batch's own mark of the report as handled came after
    that, at the batch's end: the factory's fixed copy under the same id was dropped as a
    duplicate, though the dead letter told it to send it again."""
    ledger = harness(uow_factory)
    known = await ledger.register("青山区")
    new = Site(unique("site"), known.enterprise_id, "洪山区", known.industry)
    generation = signed_report(new, "generation", "b-gen", tonnes="100.000")
    refused = signed_report(new, "disposal", "b-prior", tonnes="5.000", fromPriorStock=True)
    fixed = signed_report(new, "disposal", "b-prior", tonnes="5.000")
    await produce(kafka_bootstrap, "ingest.ledger-reports.v1", [generation, refused, fixed])
    await produce(kafka_bootstrap, "catalog.site-added.v1", [(site_added(new), new.site_id, None)])
    wanted = {generation[0], refused[0], fixed[0]}
    # The session's broker holds other tests' messages too, malformed ones among them: the
    # site's fact is told by its topic and key, not by decoding every record.
    records = {
        r.value: r
        async for r in read_topic(
            kafka_bootstrap, "ingest.ledger-reports.v1", "catalog.site-added.v1"
        )
        if r.value in wanted
        or (r.topic == "catalog.site-added.v1" and r.key == new.site_id.encode())
    }
    [site_record] = [
        r for v, r in records.items() if v not in (generation[0], refused[0], fixed[0])
    ]
    _, consumer = build_router(ledger.service, uow_factory, settings_for(kafka_bootstrap))

    await consumer.handle_batch([records[generation[0]], records[refused[0]], site_record])
    [letter] = await dead_letters(uow_factory, new.enterprise_id)
    assert letter["x-error-type"] == "BALANCE_VIOLATION"
    assert await waiting_for(uow_factory) == {}

    await consumer.handle_batch([records[fixed[0]]])  # sent again, fixed, under its id
    u = await ledger.figures(Scope(enterprise_id=new.enterprise_id), "2026-11")
    assert (u.generated, u.disposed) == (D("100.000"), D("5.000"))


async def test_metrics_count_the_reports_waiting_for_their_site_and_the_oldest_wait(
    empty_broker: str, database_url: str
) -> None:
    """An operator sees on `/metrics` how many Kafka reports wait for their site and how
    long the oldest has (one waiting hours names a site that may never come). A broker of
    its own: the service's group would read other tests' reports on unknown sites too."""
    kafka_bootstrap = empty_broker
    built = build_process(settings_for(kafka_bootstrap, database_url))

    async def waiting() -> dict[str, float]:
        lines = (await render_metrics(built.runtime)).splitlines()
        return {
            line.split("{")[0]: float(line.rsplit(" ", 1)[1])
            for line in lines
            if line.startswith("wastex_ledger_reports_waiting")
        }

    async with running(built.runtime):
        ledger = harness(built.runtime.uow)
        known = await ledger.register("青山区")
        new = Site(unique("site"), known.enterprise_id, "洪山区", known.industry)
        assert await waiting() == {
            "wastex_ledger_reports_waiting": 0,
            "wastex_ledger_reports_waiting_oldest_seconds": 0,
        }
        await produce(
            kafka_bootstrap,
            "ingest.ledger-reports.v1",
            [signed_report(new, "generation", f"m-{n}", tonnes="1.000") for n in range(2)],
        )

        async def two_waiting() -> Any:
            found = await waiting()
            return found if found["wastex_ledger_reports_waiting"] == 2 else None

        found = await eventually(two_waiting, timeout=30)
        assert 0 < found["wastex_ledger_reports_waiting_oldest_seconds"] < 60
        await produce(
            kafka_bootstrap, "catalog.site-added.v1", [(site_added(new), new.site_id, None)]
        )

        async def none_waiting() -> Any:
            found = await waiting()
            return found if found["wastex_ledger_reports_waiting"] == 0 else None

        found = await eventually(none_waiting, timeout=30)
        assert found["wastex_ledger_reports_waiting_oldest_seconds"] == 0


async def test_a_fact_with_a_field_this_ledger_does_not_know_is_read_as_before(
    kafka_bootstrap: str, uow_factory: UnitOfWorkFactory
) -> None:
    """A catalog deployed before the ledger adds an optional field to `site-added`: the
    ledger parked the fact SCHEMA_INVALID, so the site stayed unknown and the factory's
    reports on it waited a day and were parked UNKNOWN_SITE (decision 033: facts are read
    tolerantly; the factories' commands stay strict)."""
    ledger = harness(uow_factory)
    known = await ledger.register("青山区")
    new = Site(unique("site"), known.enterprise_id, "洪山区", known.industry)
    newer = json.loads(site_added(new))
    newer["data"]["siteManagerPhone"] = "027-8888-0000"  # a field of a newer catalog
    async with consuming(kafka_bootstrap, ledger):
        await produce(
            kafka_bootstrap,
            "catalog.site-added.v1",
            [(json.dumps(newer).encode(), new.site_id, None)],
        )

        async def site_known() -> Any:
            return await ledger.service.site(new.site_id)

        site = await eventually(site_known, timeout=30)
    assert (site.enterprise_id, site.district) == (new.enterprise_id, "洪山区")


async def test_a_replay_meeting_an_entry_of_a_kind_it_does_not_know_replaces_nothing(
    replay_bootstrap: str, database_url: str, uow_factory: UnitOfWorkFactory
) -> None:
    """A kind added by a newer ledger (not under a new version, as it should have been) is a
    fact this one cannot book: replay said nothing but a bare ValueError; it refuses as it
    does a newer version, naming the kind."""
    ledger = harness(uow_factory)
    steel, incremental = await one_generation_published(ledger, uow_factory, replay_bootstrap)
    composted = entry_of(steel, "entry-of-a-new-kind", "composted")
    fact = Envelope.new("ledger.entry-recorded", "ledger", composted.entry_id, composted)
    await produce(replay_bootstrap, "ledger.entry-recorded.v1", [(fact.to_json(), "e", None)])

    with pytest.raises(DomainError, match="kind 'composted'") as refused:
        await replay(settings_for(replay_bootstrap, database_url))
    assert refused.value.code == "UNSUPPORTED_SCHEMA_VERSION"
    assert await ledger.projection() == incremental


async def test_a_running_ledger_holds_its_database_against_a_replay(
    kafka_bootstrap: str, database_url: str
) -> None:
    """`wastex replay ledger` beside a running ledger would rebuild the projection from a
    read of the topics its consumer keeps adding to: every process holds the database while
    it runs, and the replay's `alone_on` refuses."""
    built = build_process(settings_for(kafka_bootstrap, database_url))
    async with running(built.runtime):
        with pytest.raises(DomainError) as refused:
            async with alone_on(built.runtime.uow.engine, "ledger"):
                pytest.fail("a replay beside a running ledger")
    assert refused.value.code == "SERVICE_RUNNING"
    engine = make_engine(database_url)
    try:
        async with alone_on(engine, "ledger"):  # stopped: nothing holds it
            pass
    finally:
        await engine.dispose()
