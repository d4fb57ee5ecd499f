"""Outbox relay, idempotent consumer and dead letters, on the real broker and both databases."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from faststream.kafka import KafkaRouter
from sqlalchemy import (
    Column,
    MetaData,
    Numeric,
    String,
    Table,
    bindparam,
    delete,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.exc import (
    DBAPIError,
    IntegrityError,
    InterfaceError,
    InvalidRequestError,
    OperationalError,
    ResourceClosedError,
)

from wastex_shared import auth
from wastex_shared.auth import JwtConfig, Role, ingest_authenticator, issue_token
from wastex_shared.envelope import Envelope, utcnow
from wastex_shared.errors import DomainError
from wastex_shared.events.ingest import OfferSubmit
from wastex_shared.messaging import EventConsumer, OutboxRelay
from wastex_shared.messaging.consumer import LOG_APPEND_TIME, MAX_MESSAGE_BYTES
from wastex_shared.messaging.dead_letter import HEADER_TEXT_LENGTH
from wastex_shared.messaging.relay import make_producer
from wastex_shared.messaging.subscription import subscribe
from wastex_shared.messaging.unpacked_size import UNPACKED_LIMIT
from wastex_shared.settings import ServiceSettings
from wastex_shared.storage import (
    UnitOfWork,
    UnitOfWorkFactory,
    make_engine,
    messaging_tables,
    queued_view,
    write_later,
)
from wastex_shared.storage.failures import LostRace, connection_lost, transient
from wastex_shared.testing.kafka import serving
from wastex_shared.testing.plugin import PG_SERVER, create_pg_database, drop_pg_database
from wastex_shared.testing.record_batches import (
    NAME_TO_BREAK,
    UNDECODABLE_NAME,
    ZSTD,
    crc_of,
    record_batch,
)
from wastex_shared.topics import INGEST_OFFERS, dlq_for

metadata = MetaData()
tables = messaging_tables(metadata)
offers = Table(
    "offers",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("tonnes", Numeric(14, 3), nullable=False),
)
notes = Table(
    "notes",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("text", String(200), nullable=False),
)


async def store_offer(uow: UnitOfWork, event: Envelope, data: OfferSubmit) -> None:
    if data.quantity_tonnes <= 0:
        raise DomainError("INVALID_QUANTITY", "tonnes must be > 0", "quantityTonnes")
    await uow.session.execute(insert(offers).values(id=event.id, tonnes=data.quantity_tonnes))


def offer_event(tonnes: str, event_id: str | None = None) -> Envelope:
    data = {
        "siteId": "s1",
        "wasteCode": "SW01",
        "quantityTonnes": tonnes,
        "availableFrom": "2026-12-01",
        "availableUntil": "2027-01-31",
    }
    return Envelope.new("wastex.offer.submit", "ent-1", "ent-1", data, id=event_id)


@pytest.fixture
async def uow_factory(database_url: str) -> AsyncIterator[UnitOfWorkFactory]:
    engine = make_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield UnitOfWorkFactory(engine, tables)
    await engine.dispose()


async def stored_tonnes(factory: UnitOfWorkFactory) -> list[Decimal]:
    async with factory() as uow:
        return list((await uow.session.execute(select(offers.c.tonnes))).scalars())


async def consume_all(bootstrap: str, topic: str, expected: int) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    found: list[Any] = []
    try:
        async with asyncio.timeout(20):
            while len(found) < expected:
                batch = await consumer.getmany(timeout_ms=200)
                for records in batch.values():
                    found.extend(records)
    finally:
        await consumer.stop()
    return found


async def sent_once(bootstrap: str, uow_factory: UnitOfWorkFactory) -> int:
    """What an outbox relay sends of the outbox in one pass (then stopped)."""
    relay = OutboxRelay(uow_factory, make_producer(bootstrap))
    await relay._producer.start()
    try:
        return await relay.drain_once()
    finally:
        await relay._producer.stop()


@contextlib.asynccontextmanager
async def consuming(
    bootstrap: str, factory: UnitOfWorkFactory, topic: str, group: str
) -> AsyncIterator[EventConsumer]:
    """`store_offer` subscribed to `topic` through the real subscription, while inside."""
    consumer = EventConsumer(group, factory, {"wastex.offer.submit": store_offer})
    router = KafkaRouter()
    subscribe(router, consumer, [topic], ServiceSettings(service=group))
    async with serving(bootstrap, router):
        yield consumer


async def waited_for(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(30):
        while not condition():
            await asyncio.sleep(0.05)


async def run_consumer(
    bootstrap: str, factory: UnitOfWorkFactory, topic: str, group: str, until: int
) -> EventConsumer:
    async with consuming(bootstrap, factory, topic, group) as consumer:
        stats = consumer.stats
        await waited_for(lambda: stats.handled + stats.dead_lettered + stats.duplicates >= until)
    return consumer


async def produce(bootstrap: str, topic: str, payloads: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for payload in payloads:
            await producer.send_and_wait(topic, payload, key=b"ent-1")
    finally:
        await producer.stop()


async def test_rejected_message_goes_to_dead_letter_topic_and_consumer_goes_on(
    kafka_bootstrap: str, uow_factory: UnitOfWorkFactory
) -> None:
    topic, group = f"t-{uuid.uuid4().hex[:8]}", f"g{uuid.uuid4().hex[:8]}"
    await produce(
        kafka_bootstrap,
        topic,
        [
            offer_event("1.500").to_json(),
            b"{not json",
            offer_event("-3").to_json(),
            offer_event("2.000").to_json(),
        ],
    )
    consumer = await run_consumer(kafka_bootstrap, uow_factory, topic, group, until=4)
    assert sorted(await stored_tonnes(uow_factory)) == [Decimal("1.500"), Decimal("2.000")]
    assert consumer.stats.dead_lettered == 2

    assert await sent_once(kafka_bootstrap, uow_factory) == 2
    parked = await consume_all(kafka_bootstrap, consumer.dlq_topic, 2)
    reasons = {dict(r.headers)["x-error-type"].decode() for r in parked}
    assert reasons == {"INVALID_ENVELOPE", "INVALID_QUANTITY"}
    for record in parked:
        headers = dict(record.headers)
        assert headers["x-original-topic"].decode() == topic
        assert headers["x-error"]
        assert "x-original-offset" in headers


async def test_same_event_delivered_twice_changes_state_once(
    kafka_bootstrap: str, uow_factory: UnitOfWorkFactory
) -> None:
    topic, group = f"t-{uuid.uuid4().hex[:8]}", f"g{uuid.uuid4().hex[:8]}"
    event = offer_event("7.000", event_id="same-id")
    await produce(kafka_bootstrap, topic, [event.to_json(), event.to_json()])
    consumer = await run_consumer(kafka_bootstrap, uow_factory, topic, group, until=2)
    assert await stored_tonnes(uow_factory) == [Decimal("7.000")]
    assert consumer.stats.duplicates == 1


async def test_outbox_rows_are_published_in_order_and_marked_sent(
    kafka_bootstrap: str, uow_factory: UnitOfWorkFactory
) -> None:
    topic = f"t-{uuid.uuid4().hex[:8]}"
    events = [offer_event(f"{i}.000") for i in range(1, 6)]
    async with uow_factory() as uow:
        for event in events:
            await uow.publish(topic, event)
        await uow.commit()
    relay = OutboxRelay(uow_factory, make_producer(kafka_bootstrap))
    await relay._producer.start()
    try:
        assert await relay.drain_once() == 5
        assert await relay.drain_once() == 0
    finally:
        await relay._producer.stop()
    received = await consume_all(kafka_bootstrap, topic, 5)
    assert [json.loads(r.value)["id"] for r in received] == [e.id for e in events]


async def test_events_leave_as_structured_mode_cloudevents(
    kafka_bootstrap: str, uow_factory: UnitOfWorkFactory
) -> None:
    """The CloudEvents Kafka binding: a structured-mode message says so in `content-type`;
    without it, SDKs (Java's `KafkaMessageFactory`, say) read the value as the data of a
    binary-mode event and find no `ce_` headers."""
    topic = f"t-{uuid.uuid4().hex[:8]}"
    async with uow_factory() as uow:
        await uow.publish(topic, offer_event("1.000"), {"trace": "t1"})
        await uow.commit()
    assert await sent_once(kafka_bootstrap, uow_factory) == 1
    [record] = await consume_all(kafka_bootstrap, topic, 1)
    assert dict(record.headers) == {
        "content-type": b"application/cloudevents+json; charset=UTF-8",
        "trace": b"t1",
    }


async def test_a_binary_mode_cloudevent_is_parked_saying_the_mode_to_send(
    kafka_bootstrap: str, uow_factory: UnitOfWorkFactory
) -> None:
    topic, group = f"t-{uuid.uuid4().hex[:8]}", f"g{uuid.uuid4().hex[:8]}"
    event = offer_event("1.000")
    binary = [("ce_specversion", b"1.0"), ("ce_id", event.id.encode()), ("ce_type", b"x")]
    data = json.dumps(json.loads(event.to_json())["data"]).encode()
    await produce_batch(kafka_bootstrap, topic, [(data, binary)])
    consumer = await run_consumer(kafka_bootstrap, uow_factory, topic, group, until=1)
    _, headers = await the_one_letter(kafka_bootstrap, uow_factory, consumer)
    assert headers["x-error-type"] == "INVALID_ENVELOPE"
    assert "structured mode" in headers["x-error"]


async def unsent(uow_factory: UnitOfWorkFactory) -> int:
    outbox = tables.outbox
    async with uow_factory.reading() as uow:
        found = await uow.session.execute(select(outbox.c.id).where(outbox.c.sent_at.is_(None)))
        return len(found.all())


async def test_publishing_goes_on_while_stamping_waits_without_publishing_twice(
    kafka_bootstrap: str, uow_factory: UnitOfWorkFactory
) -> None:
    """Stamping rows sent waits for the write lock on SQLite; publishing does not wait for
    stamping, and what the broker acknowledged is not published again meanwhile."""
    topic = f"t-{uuid.uuid4().hex[:8]}"
    first, second = [offer_event("1.000")], [offer_event("2.000"), offer_event("3.000")]
    relay = OutboxRelay(uow_factory, make_producer(kafka_bootstrap))
    await relay._producer.start()
    try:
        for batch, expected in ((first, 1), (second, 2)):
            async with uow_factory() as uow:
                for event in batch:
                    await uow.publish(topic, event)
                await uow.commit()
            assert await relay.publish_once() == expected  # nothing stamped in between
        assert await relay.publish_once() == 0
        assert await unsent(uow_factory) == 3
        await relay.stamp_sent()
        assert await unsent(uow_factory) == 0
        # The running relay stamps on its own.
        async with uow_factory() as uow:
            await uow.publish(topic, offer_event("4.000"))
            await uow.commit()
        running = asyncio.create_task(relay.run())
        try:
            async with asyncio.timeout(20):
                while await unsent(uow_factory):
                    await asyncio.sleep(0.05)
        finally:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
    finally:
        await relay._producer.stop()
    ids = [json.loads(r.value)["id"] for r in await consume_all(kafka_bootstrap, topic, 4)]
    assert ids[:3] == [e.id for e in (*first, *second)]
    assert len(set(ids)) == len(ids) == 4  # nothing published twice


async def test_a_row_stamped_while_the_relay_looks_is_not_published_again(
    kafka_bootstrap: str, uow_factory: UnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The look for unsent rows reads a snapshot; stamping may commit (and forget the row)
    after that snapshot and before the look filters out what was acknowledged."""
    topic = f"t-{uuid.uuid4().hex[:8]}"
    relay = OutboxRelay(uow_factory, make_producer(kafka_bootstrap))
    async with uow_factory() as uow:
        await uow.publish(topic, offer_event("1.000"))
        await uow.commit()
    await relay._producer.start()
    try:
        assert await relay.publish_once() == 1  # acknowledged, not stamped
        reading = uow_factory.reading

        def reading_then_stamping() -> UnitOfWork:
            uow = reading()
            execute = uow.session.execute

            async def execute_then_stamp(*args: Any, **kwargs: Any) -> Any:
                frozen = (await execute(*args, **kwargs)).freeze()
                await relay.stamp_sent()
                return frozen()

            monkeypatch.setattr(uow.session, "execute", execute_then_stamp)
            return uow

        monkeypatch.setattr(uow_factory, "reading", reading_then_stamping)
        assert await relay.publish_once() == 0
    finally:
        await relay._producer.stop()
    assert await unsent(uow_factory) == 0


async def test_rolled_back_unit_of_work_publishes_nothing(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async def publish_then_fail() -> None:
        async with uow_factory() as uow:
            await uow.publish("t", offer_event("1"))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await publish_then_fail()
    async with uow_factory() as uow:
        rows = (await uow.session.execute(select(tables.outbox.c.id))).all()
    assert rows == []


@dataclass
class Delivered:
    """A record as the consumer reads it (the consumer's `Record` protocol)."""

    topic: str
    value: bytes | None
    partition: int = 0
    offset: int = 0
    key: bytes | None = b"ent-1"
    headers: Sequence[tuple[str, bytes]] = ()
    timestamp: int = -1
    timestamp_type: int = 0  # the producer's time (CreateTime)


async def test_a_type_on_a_topic_of_the_contract_not_its_own_is_dead_lettered(
    uow_factory: UnitOfWorkFactory,
) -> None:
    """A fact carries no token: smuggled onto a topic of authenticated commands, it must not
    pass as a command-free fact (the ledger reads both kinds in one consumer)."""
    consumer = EventConsumer(
        "g-wrong-topic",
        uow_factory,
        {"wastex.offer.submit": store_offer},
        authenticate=lambda envelope, headers, at: None,
    )
    smuggled = offer_event("4.000")
    await consumer.handle_batch(
        [
            Delivered("ingest.ledger-reports.v1", smuggled.to_json()),
            Delivered("ingest.offers.v1", offer_event("5.000").to_json(), offset=1),
        ]
    )
    assert await stored_tonnes(uow_factory) == [Decimal("5.000")]
    assert consumer.stats.dead_lettered == 1
    async with uow_factory() as uow:
        [headers] = (await uow.session.execute(select(tables.outbox.c.headers))).scalars()
    assert json.loads(headers)["x-error-type"] == "WRONG_TOPIC"


def authenticate_good_token(
    envelope: Envelope, headers: Mapping[str, str], at: float | None
) -> str | None:
    if envelope.type.startswith(("catalog.", "matching.")):
        return None  # a fact needs no token (and proves no sender)
    if headers.get("authorization") != "Bearer good":
        raise DomainError("UNAUTHENTICATED", "not the good token")
    return envelope.source


async def test_a_dead_letter_keeps_no_token_but_says_as_whom_it_was_authenticated(
    uow_factory: UnitOfWorkFactory,
) -> None:
    consumer = EventConsumer(
        "g-credentials",
        uow_factory,
        {"wastex.offer.submit": store_offer},
        authenticate=authenticate_good_token,
    )
    good = [("authorization", b"Bearer good"), ("traceparent", b"00-abc-def-01")]
    unsigned = offer_event("1.000").to_json()
    refused = offer_event("-2").to_json()  # passes the token, refused by the handler
    malformed = json.dumps(
        {**json.loads(offer_event("1.000").to_json()), "data": {"siteId": "s1"}}
    ).encode()  # passes the token, refused by its schema
    body = json.loads(offer_event("1.000").to_json())
    future = json.dumps({**body, "type": "wastex.offer.amend"}).encode()  # not known yet
    fact = json.dumps({**body, "type": "catalog.offer-posted"}).encode()  # no token needed
    await consumer.handle_batch(
        [
            Delivered("t-creds", unsigned, headers=[("Authorization", b"Bearer stolen")]),
            Delivered("t-creds", refused, offset=1, headers=good),
            Delivered("t-creds", malformed, offset=2, headers=good),
            Delivered("t-creds", future, offset=3, headers=good),
            Delivered("t-creds", fact, offset=4, headers=good),
        ]
    )
    assert consumer.stats.dead_lettered == 5
    async with uow_factory() as uow:
        parked = [
            json.loads(h)
            for h in (await uow.session.execute(select(tables.outbox.c.headers))).scalars()
        ]
    by_offset = {h["x-original-offset"]: h for h in parked}
    assert {k for h in parked for k in h if k.lower() == "authorization"} == set()
    assert by_offset["0"]["x-error-type"] == "UNAUTHENTICATED"
    assert "x-authenticated-source" not in by_offset["0"]
    assert (by_offset["1"]["x-error-type"], by_offset["1"]["x-authenticated-source"]) == (
        "INVALID_QUANTITY",
        "ent-1",
    )
    assert (by_offset["2"]["x-error-type"], by_offset["2"]["x-authenticated-source"]) == (
        "SCHEMA_INVALID",
        "ent-1",
    )
    assert by_offset["1"]["traceparent"] == "00-abc-def-01"  # other headers stay
    # Parked for its type, it still says whose it was: re-driven once the consumer knows it.
    assert (by_offset["3"]["x-error-type"], by_offset["3"]["x-authenticated-source"]) == (
        "UNKNOWN_EVENT_TYPE",
        "ent-1",
    )
    # A fact proves no sender, whatever its envelope says: nothing to sign a token for.
    assert by_offset["4"]["x-error-type"] == "UNKNOWN_EVENT_TYPE"
    assert "x-authenticated-source" not in by_offset["4"]


async def test_a_token_is_judged_when_the_broker_took_the_message_if_it_says_so(
    uow_factory: UnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A factory's token that expired while its messages waited in a backlog: where the
    broker stamped them (LogAppendTime, as on the ingest topics) they were sent while it
    held, and go through; a producer's own timestamp proves nothing, so those are judged
    now."""
    config = JwtConfig()
    now = time.time()
    monkeypatch.setattr(auth, "utcnow", lambda: datetime.fromtimestamp(now - 7200, UTC))
    token = issue_token(config, Role.ENTERPRISE, "ent-1", ttl=timedelta(hours=1))
    monkeypatch.undo()  # issued two hours ago, expired one hour ago
    consumer = EventConsumer(
        "g-backlog",
        uow_factory,
        {"wastex.offer.submit": store_offer},
        authenticate=ingest_authenticator(config),
    )
    signed = [("authorization", f"Bearer {token}".encode())]
    held, expired = int((now - 5400) * 1000), int((now - 1800) * 1000)

    def sent(tonnes: str, offset: int, at: int, stamped_by: int) -> Delivered:
        value = offer_event(tonnes).to_json()
        return Delivered(INGEST_OFFERS.name, value, 0, offset, b"ent-1", signed, at, stamped_by)

    await consumer.handle_batch(
        [
            sent("1.000", 0, held, LOG_APPEND_TIME),  # taken while the token held
            sent("2.000", 1, held, 0),  # the producer says so: judged now
            sent("3.000", 2, expired, LOG_APPEND_TIME),  # taken after it expired
        ]
    )
    assert await stored_tonnes(uow_factory) == [Decimal("1.000")]
    async with uow_factory() as uow:
        parked = [
            json.loads(h)
            for h in (await uow.session.execute(select(tables.outbox.c.headers))).scalars()
        ]
    assert sorted((h["x-original-offset"], h["x-error-type"]) for h in parked) == [
        ("1", "UNAUTHENTICATED"),
        ("2", "UNAUTHENTICATED"),
    ]


async def store_publish_then_check(uow: UnitOfWork, event: Envelope, data: OfferSubmit) -> None:
    """Writes and publishes first, refuses afterwards: the refusal must undo both."""
    await store_offer(uow, event, data)
    await uow.publish("t.stored", event)
    if data.quantity_tonnes == 13:
        raise DomainError("UNLUCKY", "13 t is refused after it was written")
    if data.quantity_tonnes == 14:
        raise RuntimeError("a bug after the write")


async def test_a_message_refused_after_its_writes_is_undone_and_the_rest_of_the_batch_kept(
    uow_factory: UnitOfWorkFactory,
) -> None:
    """The batch goes straight through first; a refusal redoes it message by message."""
    consumer = EventConsumer(
        "g-undo", uow_factory, {"wastex.offer.submit": store_publish_then_check}
    )
    batch = [offer_event(t) for t in ("1.000", "13.000", "2.000", "14.000", "3.000")]
    await consumer.handle_batch(
        [Delivered("t.in", e.to_json(), offset=i) for i, e in enumerate(batch)]
    )
    assert sorted(await stored_tonnes(uow_factory)) == [Decimal(t) for t in ("1", "2", "3")]
    assert (consumer.stats.handled, consumer.stats.dead_lettered) == (3, 2)
    async with uow_factory() as uow:
        outbox = (
            await uow.session.execute(
                select(tables.outbox.c.topic, tables.outbox.c.event_id).order_by(tables.outbox.c.id)
            )
        ).all()
        inbox = set((await uow.session.execute(select(tables.inbox.c.event_type))).scalars())
    published = [event_id for topic, event_id in outbox if topic == "t.stored"]
    assert published == [batch[0].id, batch[2].id, batch[4].id]
    assert [topic for topic, _ in outbox].count(consumer.dlq_topic) == 2
    assert inbox == {"wastex.offer.submit", "UNLUCKY", "HANDLER_ERROR"}


async def test_a_batch_that_all_goes_through_is_stored_once(
    uow_factory: UnitOfWorkFactory,
) -> None:
    consumer = EventConsumer(
        "g-through", uow_factory, {"wastex.offer.submit": store_publish_then_check}
    )
    batch = [offer_event(f"{i}.000") for i in range(1, 6)]
    records = [Delivered("t.in", e.to_json(), offset=i) for i, e in enumerate(batch)]
    await consumer.handle_batch(records)
    await consumer.handle_batch(records)  # redelivered after a lost offset commit
    assert len(await stored_tonnes(uow_factory)) == 5
    assert (consumer.stats.handled, consumer.stats.duplicates) == (5, 5)
    async with uow_factory() as uow:
        published = await uow.session.execute(
            select(tables.outbox.c.event_id).order_by(tables.outbox.c.id)
        )
        assert list(published.scalars()) == [e.id for e in batch]


async def test_poison_with_an_oversized_key_is_still_parked(
    uow_factory: UnitOfWorkFactory,
) -> None:
    """A factory's key is not ours to trust: one longer than the outbox's key column must
    not stop the batch from committing (PostgreSQL enforces the length)."""
    consumer = EventConsumer("g-long-key", uow_factory, {"wastex.offer.submit": store_offer})
    await consumer.handle_batch(
        [
            Delivered("t.in", b"{not json", key=b"k" * 5000),
            Delivered("t.in", offer_event("1.000").to_json(), offset=1, key=b"k" * 5000),
        ]
    )
    assert (consumer.stats.handled, consumer.stats.dead_lettered) == (1, 1)


async def test_an_event_whose_source_and_id_outgrow_the_inbox_key_is_handled_once(
    uow_factory: UnitOfWorkFactory,
) -> None:
    consumer = EventConsumer("g-long-id", uow_factory, {"wastex.offer.submit": store_offer})
    event = offer_event("2.000", event_id="i" * 200)  # the envelope allows 200 characters
    records = [Delivered("t.in", event.to_json())]
    await consumer.handle_batch(records)
    await consumer.handle_batch(records)
    assert await stored_tonnes(uow_factory) == [Decimal("2.000")]
    assert (consumer.stats.handled, consumer.stats.duplicates) == (1, 1)


async def test_a_header_without_a_value_neither_stops_the_batch_nor_its_dead_letter(
    uow_factory: UnitOfWorkFactory,
) -> None:
    """Kafka allows a header with a null value (aiokafka gives None)."""
    consumer = EventConsumer("g-null-header", uow_factory, {"wastex.offer.submit": store_offer})
    empty: Sequence[tuple[str, Any]] = (("trace", None),)
    await consumer.handle_batch(
        [
            Delivered("t.in", offer_event("1.000").to_json(), headers=empty),
            Delivered("t.in", b"{not json", offset=1, headers=empty),
        ]
    )
    assert (consumer.stats.handled, consumer.stats.dead_lettered) == (1, 1)
    async with uow_factory() as uow:
        [headers] = (await uow.session.execute(select(tables.outbox.c.headers))).scalars()
    assert json.loads(headers)["trace"] == ""


async def test_headers_faststream_cannot_decode_reach_the_consumer(
    kafka_bootstrap: str, uow_factory: UnitOfWorkFactory
) -> None:
    """A header with no value or with bytes that are not UTF-8 must not fail the batch
    before the consumer sees it (through the real subscription, on the real broker)."""
    topic, group = f"t-{uuid.uuid4().hex[:8]}", f"g{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic, offer_event("1.000").to_json(), key=b"ent-1", headers=[("trace", None)]
        )
        await producer.send_and_wait(topic, b"{not json", key=b"ent-1", headers=[("x", b"\xff")])
    finally:
        await producer.stop()
    consumer = await run_consumer(kafka_bootstrap, uow_factory, topic, group, until=2)
    assert (consumer.stats.handled, consumer.stats.dead_lettered) == (1, 1)
    assert await stored_tonnes(uow_factory) == [Decimal("1.000")]


async def produce_batch(
    bootstrap: str,
    topic: str,
    records: Sequence[tuple[bytes, Sequence[tuple[str, bytes]]]],
    *,
    crc_matches: bool = True,
) -> bytes:
    """`records` as one record batch on partition 0, as a raw producer (librdkafka takes header
    names as bytes) may write it: a header named `NAME_TO_BREAK` goes as `UNDECODABLE_NAME`.
    aiokafka's producer takes names as text only, so the built batch is edited and its CRC
    (over everything after the CRC field, at bytes 17-21 of a v2 batch) computed again; or
    not, and its last byte changed, as a disk or a broker may damage it. Returns the batch."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        batch = producer.create_batch()
        for value, headers in records:
            assert batch.append(key=b"ent-1", value=value, timestamp=None, headers=headers)
        built = bytearray(batch._build())
        built = built.replace(NAME_TO_BREAK.encode(), UNDECODABLE_NAME)
        built[17:21] = crc_of(built)
        if not crc_matches:
            built[-1] ^= 0xFF
    finally:
        await producer.stop()
    await send_batch_as_built(bootstrap, topic, bytes(built))
    return bytes(built)


async def send_batch_as_built(bootstrap: str, topic: str, built: bytes) -> None:
    """A record batch's bytes as they are, to partition 0 (aiokafka frames only the request)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        batch = producer.create_batch()
        # aiokafka sends no batch it counts no record in: one is counted, then replaced.
        assert batch.append(key=None, value=b"", timestamp=None)
        batch._buffer = bytearray(built)
        await (await producer.send_batch(batch, topic, partition=0))
    finally:
        await producer.stop()


async def the_one_letter(
    bootstrap: str, uow_factory: UnitOfWorkFactory, consumer: EventConsumer
) -> tuple[Any, dict[str, str]]:
    """The one dead letter `consumer` wrote, sent by the relay and read back from its DLQ."""
    assert await sent_once(bootstrap, uow_factory) == 1
    [parked] = await consume_all(bootstrap, consumer.dlq_topic, 1)
    return parked, {k: v.decode() for k, v in parked.headers}


async def test_a_header_name_that_is_not_utf8_is_dead_lettered_and_the_records_after_it_handled(
    kafka_bootstrap: str, uow_factory: UnitOfWorkFactory
) -> None:
    """aiokafka decodes header names as UTF-8 while it unpacks a fetched batch: one that is not
    raised out of every fetch of the partition, and nothing from that batch on was read."""
    topic, group = f"t-{uuid.uuid4().hex[:8]}", f"g{uuid.uuid4().hex[:8]}"
    await produce_batch(
        kafka_bootstrap,
        topic,
        [
            (offer_event("1.000").to_json(), []),
            (offer_event("2.000").to_json(), [(NAME_TO_BREAK, b"v"), ("trace", b"t1")]),
            (offer_event("3.000").to_json(), []),
        ],
    )
    await produce_batch(kafka_bootstrap, topic, [(offer_event("4.000").to_json(), [])])
    consumer = await run_consumer(kafka_bootstrap, uow_factory, topic, group, until=4)
    assert sorted(await stored_tonnes(uow_factory)) == [Decimal(t) for t in "134"]
    assert (consumer.stats.handled, consumer.stats.dead_lettered) == (3, 1)

    parked, headers = await the_one_letter(kafka_bootstrap, uow_factory, consumer)
    assert headers["x-error-type"] == "INVALID_HEADER"
    assert "\\xff\\xfe" in headers["x-error"]
    assert (headers["x-original-topic"], headers["x-original-offset"]) == (topic, "1")
    assert headers["trace"] == "t1"
    assert headers["\\xff\\xfe"] == "v"
    assert Envelope.from_json(parked.value).data["quantityTonnes"] == "2.000"


async def test_a_batch_that_cannot_be_read_is_dead_lettered_whole_and_the_next_one_handled(
    kafka_bootstrap: str, uow_factory: UnitOfWorkFactory
) -> None:
    """aiokafka raised on a batch whose CRC does not match out of every fetch of its
    partition; the consumer read nothing more (Apache Kafka checks CRCs on produce: a disk or a
    broker damages a batch). It is parked whole, its bytes as the letter's value."""
    topic, group = f"t-{uuid.uuid4().hex[:8]}", f"g{uuid.uuid4().hex[:8]}"
    three: list[tuple[bytes, list[tuple[str, bytes]]]] = [
        (offer_event(t).to_json(), []) for t in ("1.000", "2.000", "3.000")
    ]
    damaged = await produce_batch(kafka_bootstrap, topic, three, crc_matches=False)
    await produce_batch(kafka_bootstrap, topic, [(offer_event("4.000").to_json(), [])])
    consumer = await run_consumer(kafka_bootstrap, uow_factory, topic, group, until=2)
    assert await stored_tonnes(uow_factory) == [Decimal("4.000")]
    assert (consumer.stats.handled, consumer.stats.dead_lettered) == (1, 1)

    parked, headers = await the_one_letter(kafka_bootstrap, uow_factory, consumer)
    assert headers["x-error-type"] == "UNREADABLE_BATCH"
    assert headers["x-error"].startswith("records 0-2 of a batch cannot be read")
    assert (headers["x-original-topic"], headers["x-original-offset"]) == (topic, "2")
    assert parked.value == damaged


async def test_a_damaged_batch_last_in_its_partition_loses_no_record_that_can_be_read(
    kafka_bootstrap: str, uow_factory: UnitOfWorkFactory
) -> None:
    """Its end is known only from the batch after it. Raising once the records before it in
    the fetch were handed out lost them (aiokafka drops them with the exception and goes on
    past them): three poison messages of the chaos run were never parked. Fetched alone, it
    is skipped as aiokafka skips a record too large (one offset; nothing can be read)."""
    topic, group = f"t-{uuid.uuid4().hex[:8]}", f"g{uuid.uuid4().hex[:8]}"
    await produce_batch(kafka_bootstrap, topic, [(offer_event("1.000").to_json(), [])])
    damaged: list[tuple[bytes, list[tuple[str, bytes]]]] = [(offer_event("2.000").to_json(), [])]
    await produce_batch(kafka_bootstrap, topic, damaged, crc_matches=False)
    async with consuming(kafka_bootstrap, uow_factory, topic, group) as consumer:
        await waited_for(lambda: consumer.stats.handled >= 1)
        await asyncio.sleep(1)  # fetching the damaged batch alone, as the last one
        assert consumer.stats.dead_lettered == 0
        await produce_batch(kafka_bootstrap, topic, [(offer_event("3.000").to_json(), [])])
        await waited_for(lambda: consumer.stats.handled >= 2)
    assert sorted(await stored_tonnes(uow_factory)) == [Decimal("1.000"), Decimal("3.000")]
    assert consumer.stats.handled == 2


async def test_a_batch_unpacking_to_more_than_a_service_should_hold_is_dead_lettered_unpacked(
    kafka_bootstrap: str, uow_factory: UnitOfWorkFactory
) -> None:
    """A few KB of zstd that unpack to 100 MiB: aiokafka would have unpacked it whole, and a
    few such messages could take a service's memory."""
    topic, group = f"t-{uuid.uuid4().hex[:8]}", f"g{uuid.uuid4().hex[:8]}"
    bomb = record_batch([(bytes(UNPACKED_LIMIT + 1), [])], compression=ZSTD)
    assert len(bomb) < 64 * 1024
    await send_batch_as_built(kafka_bootstrap, topic, bomb)
    await produce_batch(kafka_bootstrap, topic, [(offer_event("4.000").to_json(), [])])
    consumer = await run_consumer(kafka_bootstrap, uow_factory, topic, group, until=2)
    assert await stored_tonnes(uow_factory) == [Decimal("4.000")]
    assert (consumer.stats.handled, consumer.stats.dead_lettered) == (1, 1)
    parked, headers = await the_one_letter(kafka_bootstrap, uow_factory, consumer)
    assert headers["x-error-type"] == "UNREADABLE_BATCH"  # not unpacked: not MESSAGE_TOO_LARGE
    assert f"more than {UNPACKED_LIMIT} bytes" in headers["x-error"]
    assert parked.value == bomb


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
async def test_batches_compressed_with_any_kafka_codec_are_read(
    codec: str, kafka_bootstrap: str, uow_factory: UnitOfWorkFactory
) -> None:
    """A factory's producer may compress with any of Kafka's codecs; aiokafka reads only gzip
    without cramjam, and failed every fetch of a partition holding another."""
    topic, group = f"t-{uuid.uuid4().hex[:8]}", f"g{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, compression_type=codec)
    await producer.start()
    try:
        await producer.send_and_wait(topic, offer_event("1.000").to_json(), key=b"ent-1")
    finally:
        await producer.stop()
    consumer = await run_consumer(kafka_bootstrap, uow_factory, topic, group, until=1)
    assert (consumer.stats.handled, consumer.stats.dead_lettered) == (1, 0)


async def test_a_reading_unit_of_work_reads_beside_an_open_write(
    uow_factory: UnitOfWorkFactory,
) -> None:
    """On SQLite a writer holds the write lock until it commits; a reader does not wait for
    it (the relay's look for unsent rows, a matching round's read of the market)."""
    async with uow_factory() as writer:
        await writer.session.execute(insert(offers).values(id="written", tonnes=1))
        async with uow_factory.reading() as reader:
            found = await asyncio.wait_for(reader.session.execute(select(offers.c.id)), 5)
            assert list(found.scalars()) == []  # not committed yet
        await writer.commit()
    async with uow_factory.reading() as reader:
        found = await reader.session.execute(select(offers.c.id))
        assert list(found.scalars()) == ["written"]


async def test_a_reading_unit_of_work_cannot_commit(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory.reading() as reader:
        with pytest.raises(RuntimeError, match="reading"):
            await reader.commit()


async def queue_offer(uow: UnitOfWork, event: Envelope, data: OfferSubmit) -> None:
    """Queues its row (`write_later`), keyed by site: a second offer of one site collides."""
    write_later(uow.session, insert(offers), {"id": data.site_id, "tonnes": data.quantity_tonnes})


def offer_at(site: str, tonnes: str) -> Envelope:
    event = offer_event(tonnes)
    return event.model_copy(update={"data": {**event.data, "siteId": site}})


async def test_queued_writes_run_at_commit_and_a_failing_one_parks_only_its_message(
    uow_factory: UnitOfWorkFactory,
) -> None:
    """The batch's queued rows run together before the commit; when one fails the batch is
    redone message by message and only the one whose write failed is parked."""
    consumer = EventConsumer("g-later", uow_factory, {"wastex.offer.submit": queue_offer})
    events = [offer_at("s1", "1.000"), offer_at("s2", "2.000"), offer_at("s1", "3.000")]
    await consumer.handle_batch(
        [Delivered("t-later", e.to_json(), offset=i) for i, e in enumerate(events)]
    )
    assert sorted(await stored_tonnes(uow_factory)) == [Decimal("1.000"), Decimal("2.000")]
    assert (consumer.stats.handled, consumer.stats.dead_lettered) == (2, 1)


async def test_queued_writes_run_as_one_statement_per_table_each_in_its_order(
    uow_factory: UnitOfWorkFactory,
) -> None:
    """A handler writing two tables per message queues their rows interleaved: they run as
    one statement per table, not two per message (matching's projection did the latter), and
    a table's rows run in the order they were queued (the update comes after its insert)."""
    writes: list[str] = []

    def note_write(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE")):
            writes.append(statement)

    engine = uow_factory.engine.sync_engine
    event.listen(engine, "before_cursor_execute", note_write)
    try:
        # One statement object per kind of write, as repositories keep them.
        add_offer, add_note = insert(offers), insert(notes)
        change = update(offers).where(offers.c.id == bindparam("offer")).values(tonnes=99)
        async with uow_factory() as uow:
            for i in range(40):
                write_later(uow.session, add_offer, {"id": f"o{i}", "tonnes": i + 1})
                write_later(uow.session, add_note, {"id": f"n{i}", "text": f"note {i}"})
            write_later(uow.session, change, {"offer": "o7"})
            await uow.commit()
    finally:
        event.remove(engine, "before_cursor_execute", note_write)
    assert len(writes) == 3
    async with uow_factory.reading() as uow:
        tonnes = dict((await uow.session.execute(select(offers.c.id, offers.c.tonnes))).all())
        texts = list((await uow.session.execute(select(notes.c.id))).scalars())
    assert (len(tonnes), tonnes["o7"], tonnes["o8"], len(texts)) == (40, 99, 9, 40)


async def test_a_rolled_back_savepoint_drops_its_queued_writes(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        write_later(uow.session, insert(offers), {"id": "kept", "tonnes": 1})

        async def refused_block() -> None:
            async with uow.savepoint():
                write_later(uow.session, insert(offers), {"id": "dropped", "tonnes": 2})
                raise RuntimeError("refused")

        with pytest.raises(RuntimeError):
            await refused_block()
        write_later(uow.session, insert(offers), {"id": "after", "tonnes": 3})
        await uow.commit()
    async with uow_factory.reading() as uow:
        found = await uow.session.execute(select(offers.c.id).order_by(offers.c.id))
        assert list(found.scalars()) == ["after", "kept"]


async def test_a_queued_view_shows_only_rows_that_will_be_written(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        queued_view(uow.session, "offers")["kept"] = 1

        async def refused_block() -> None:
            async with uow.savepoint():
                queued_view(uow.session, "offers")["dropped"] = 2
                raise RuntimeError("refused")

        with pytest.raises(RuntimeError):
            await refused_block()
        # Undone with its savepoint (what came before it was run on entering it, so the
        # database has it now).
        assert queued_view(uow.session, "offers") == {}
        queued_view(uow.session, "offers")["after"] = 3
        await uow.rollback()
        assert queued_view(uow.session, "offers") == {}


async def test_a_batch_failing_outside_its_handlers_is_retried_not_given_up(
    uow_factory: UnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PostgreSQL connection cut mid-batch once surfaced as SQLAlchemy's "This connection
    is closed", not counted as transient: the batch was given up and, its offsets covered
    by the next batch's commit, lost."""
    consumer = EventConsumer("g-cut", uow_factory, {"wastex.offer.submit": store_offer})
    failures = iter([InvalidRequestError("This connection is closed")])
    seen_among = UnitOfWork.seen_among

    async def cut_once(self: UnitOfWork, keys: Sequence[str]) -> set[str]:
        if (failure := next(failures, None)) is not None:
            raise failure
        return await seen_among(self, keys)

    monkeypatch.setattr(UnitOfWork, "seen_among", cut_once)
    await consumer.handle_batch([Delivered("ingest.offers.v1", offer_event("3.000").to_json())])
    assert await stored_tonnes(uow_factory) == [Decimal("3.000")]
    assert (consumer.stats.handled, consumer.stats.retries) == (1, 1)


@pytest.mark.parametrize(
    ("failure", "transient"),
    [
        (InvalidRequestError("This connection is closed"), True),
        (ResourceClosedError("This Connection is closed"), True),
        (InterfaceError("SELECT 1", {}, Exception("another operation is in progress")), True),
        (OperationalError("SELECT 1", {}, Exception("server closed the connection")), True),
        (IntegrityError("INSERT", {}, Exception("duplicate key")), False),
        (InterfaceError("INSERT", {}, Exception("Error binding parameter 1")), False),
        (InvalidRequestError("A value is required for bind parameter 'x'"), False),
        (KeyError("a bug"), False),
    ],
)
def test_connection_failures_are_told_from_bugs(failure: Exception, transient: bool) -> None:
    assert connection_lost(failure) is transient


async def real_deadlock(factory: UnitOfWorkFactory) -> DBAPIError:
    """The error PostgreSQL's deadlock detector gives one of two transactions that each
    wait for a row the other updated."""
    async with factory() as uow:
        await uow.session.execute(
            insert(offers), [{"id": "a", "tonnes": 1}, {"id": "b", "tonnes": 1}]
        )
        await uow.commit()

    async def crossing(first: str, then: str) -> None:
        async with factory() as uow:
            for ident in (first, then):
                bump = update(offers).where(offers.c.id == ident).values(tonnes=offers.c.tonnes + 1)
                await uow.session.execute(bump)
                await asyncio.sleep(0.2)
            await uow.commit()

    outcomes = await asyncio.gather(crossing("a", "b"), crossing("b", "a"), return_exceptions=True)
    async with factory() as uow:
        await uow.session.execute(delete(offers))
        await uow.commit()
    (error,) = [o for o in outcomes if isinstance(o, BaseException)]
    assert isinstance(error, DBAPIError), error
    return error


@pytest.fixture
async def pg_factory() -> AsyncIterator[UnitOfWorkFactory]:
    """PostgreSQL only: SQLite has one writer, so no deadlock to detect."""
    name = await create_pg_database()
    engine = make_engine(f"{PG_SERVER}/{name}")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        yield UnitOfWorkFactory(engine, tables)
    finally:
        await engine.dispose()
        await drop_pg_database(name)


async def test_a_handler_caught_in_a_deadlock_is_run_again_not_dead_lettered(
    pg_factory: UnitOfWorkFactory,
) -> None:
    uow_factory = pg_factory
    deadlock = await real_deadlock(uow_factory)
    assert transient(deadlock)
    failures = iter([deadlock, deadlock])  # the batch's first pass, then the isolated one

    async def store_after_deadlocks(uow: UnitOfWork, event: Envelope, data: OfferSubmit) -> None:
        if (failure := next(failures, None)) is not None:
            raise failure
        await store_offer(uow, event, data)

    consumer = EventConsumer(
        "g-deadlock", uow_factory, {"wastex.offer.submit": store_after_deadlocks}
    )
    await consumer.handle_batch([Delivered("ingest.offers.v1", offer_event("3.000").to_json())])
    assert await stored_tonnes(uow_factory) == [Decimal("3.000")]
    assert (consumer.stats.handled, consumer.stats.dead_lettered) == (1, 0)


async def test_a_handler_that_lost_a_race_is_run_again_not_dead_lettered(
    uow_factory: UnitOfWorkFactory,
) -> None:
    lost = iter([LostRace("the match moved on"), LostRace("again, isolated")])

    async def store_after_losing(uow: UnitOfWork, event: Envelope, data: OfferSubmit) -> None:
        if (failure := next(lost, None)) is not None:
            raise failure
        await store_offer(uow, event, data)

    consumer = EventConsumer("g-race", uow_factory, {"wastex.offer.submit": store_after_losing})
    await consumer.handle_batch([Delivered("ingest.offers.v1", offer_event("4.000").to_json())])
    assert await stored_tonnes(uow_factory) == [Decimal("4.000")]
    assert (consumer.stats.handled, consumer.stats.dead_lettered) == (1, 0)


async def test_a_batch_whose_handling_raised_is_delivered_again(
    kafka_bootstrap: str, uow_factory: UnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Offsets are committed for everything fetched: a batch that raised must be rewound, or
    the next batch's commit covers it."""
    topic, group = f"t-{uuid.uuid4().hex[:8]}", f"g{uuid.uuid4().hex[:8]}"
    handle_batch = EventConsumer.handle_batch
    failures = iter([RuntimeError("the first batch fails")])

    async def fail_once(self: EventConsumer, records: Sequence[Any]) -> None:
        if (failure := next(failures, None)) is not None:
            raise failure
        await handle_batch(self, records)

    monkeypatch.setattr(EventConsumer, "handle_batch", fail_once)
    await produce(kafka_bootstrap, topic, [offer_event("1.000").to_json()])
    consumer = await run_consumer(kafka_bootstrap, uow_factory, topic, group, until=1)
    assert await stored_tonnes(uow_factory) == [Decimal("1.000")]
    assert consumer.stats.handled == 1


async def test_nul_characters_neither_stall_the_batch_nor_reach_the_database(
    uow_factory: UnitOfWorkFactory,
) -> None:
    """PostgreSQL refuses U+0000 in text: a key, an event id or a field carrying one must be
    parked (SQLite would store it), not fail the batch's commit again and again."""
    consumer = EventConsumer("g-nul", uow_factory, {"wastex.offer.submit": store_offer})
    nul_id = json.loads(offer_event("1.000").to_json())
    nul_id["id"] = "e\x00vil"
    nul_field = json.loads(offer_event("2.000").to_json())
    nul_field["data"]["siteId"] = "s\x001"
    # A lone surrogate, which JSON's \ud800 writes and no UTF-8 encodes, is parked alike.
    surrogate = json.loads(offer_event("4.000").to_json())
    surrogate["data"]["siteId"] = "s\ud8001"
    async with asyncio.timeout(20):
        await consumer.handle_batch(
            [
                Delivered("t.in", b"{not json", key=b"k\x00ey"),
                Delivered("t.in", json.dumps(nul_id).encode(), offset=1),
                Delivered("t.in", json.dumps(nul_field).encode(), offset=2),
                Delivered("t.in", offer_event("3.000").to_json(), offset=3, key=b"k\x00"),
                Delivered("t.in", json.dumps(surrogate).encode(), offset=4),
            ]
        )
    assert await stored_tonnes(uow_factory) == [Decimal("3.000")]
    assert (consumer.stats.handled, consumer.stats.dead_lettered) == (1, 4)


async def test_a_message_unpacked_past_the_limit_is_parked_by_its_head_and_the_outbox_goes_on(
    kafka_bootstrap: str, uow_factory: UnitOfWorkFactory
) -> None:
    # 3 MB of JSON travel gzip-compressed in a few KB; kept whole, its dead letter was more
    # than the relay may publish, and every row after it waited for ever.
    group = f"g{uuid.uuid4().hex[:8]}"
    consumer = EventConsumer(group, uow_factory, {"wastex.offer.submit": store_offer})
    big = b"{" + b" " * (3 * 1024 * 1024) + b"}"
    topic = f"t-{uuid.uuid4().hex[:8]}"
    await consumer.handle_batch([Delivered(topic, big, headers=[("trace", big)])])
    after = offer_event("1.000")
    async with uow_factory() as uow:
        await uow.publish(topic, after)
        await uow.commit()
    assert await sent_once(kafka_bootstrap, uow_factory) == 2
    assert await unsent(uow_factory) == 0
    (letter,) = await consume_all(kafka_bootstrap, dlq_for(group), 1)
    assert len(letter.value) == MAX_MESSAGE_BYTES
    assert dict(letter.headers)["x-truncated-from-bytes"] == str(len(big)).encode()
    assert dict(letter.headers)["x-error-type"] == b"MESSAGE_TOO_LARGE"
    assert len(dict(letter.headers)["trace"]) == HEADER_TEXT_LENGTH
    (published,) = await consume_all(kafka_bootstrap, topic, 1)
    assert json.loads(published.value)["id"] == after.id


async def test_a_row_the_producer_refuses_for_good_is_left_and_the_rows_after_it_go_on(
    kafka_bootstrap: str, uow_factory: UnitOfWorkFactory
) -> None:
    topic = f"t-{uuid.uuid4().hex[:8]}"
    after = offer_event("2.000")
    async with uow_factory() as uow:
        await uow.publish_raw(
            topic, key="k", event_id="huge", payload=b"x" * (3 * 1024 * 1024), headers={}
        )
        await uow.publish(topic, after)
        await uow.commit()
    relay = OutboxRelay(uow_factory, make_producer(kafka_bootstrap))
    await relay._producer.start()
    try:
        await relay.drain_once()
        assert await relay.drain_once() == 0  # not tried again by this relay
    finally:
        await relay._producer.stop()
    assert (relay.published, len(relay.refused), await unsent(uow_factory)) == (1, 1, 1)
    (published,) = await consume_all(kafka_bootstrap, topic, 1)
    assert json.loads(published.value)["id"] == after.id


async def test_another_message_where_a_parked_one_was_is_not_taken_for_it(
    uow_factory: UnitOfWorkFactory,
) -> None:
    # A broker on memory storage restarted while the databases kept their inboxes (or a
    # topic recreated): offsets begin again, and a new offer lands where poison was parked.
    consumer = EventConsumer("g-reused", uow_factory, {"wastex.offer.submit": store_offer})
    await consumer.handle_batch([Delivered("t.in", b"{not json", offset=0)])
    await consumer.handle_batch([Delivered("t.in", b"{not json", offset=0)])  # redelivered
    await consumer.handle_batch([Delivered("t.in", offer_event("5.000").to_json(), offset=0)])
    stats = consumer.stats
    assert (stats.dead_lettered, stats.duplicates, stats.handled) == (1, 1, 1)
    assert await stored_tonnes(uow_factory) == [Decimal("5.000")]


async def test_rows_sent_long_ago_are_pruned_and_the_others_kept(
    kafka_bootstrap: str, uow_factory: UnitOfWorkFactory
) -> None:
    topic = f"t-{uuid.uuid4().hex[:8]}"
    async with uow_factory() as uow:
        for i in range(1, 5):
            await uow.publish(topic, offer_event(f"{i}.000"))
        await uow.commit()
    assert await sent_once(kafka_bootstrap, uow_factory) == 4
    async with uow_factory() as uow:
        await uow.session.execute(  # two of them went out eight days ago
            update(tables.outbox)
            .where(tables.outbox.c.id.in_(select(tables.outbox.c.id).limit(2)))
            .values(sent_at=utcnow() - timedelta(days=8))
        )
        await uow.publish(topic, offer_event("5.000"))  # and one is still to go
        await uow.commit()
    relay = OutboxRelay(uow_factory, make_producer(kafka_bootstrap))
    assert await relay.prune_sent() == 2
    assert await relay.prune_sent() == 0
    async with uow_factory.reading() as uow:
        left = (await uow.session.execute(select(tables.outbox.c.sent_at))).scalars().all()
    assert len(left) == 3
    assert sum(sent is None for sent in left) == 1
