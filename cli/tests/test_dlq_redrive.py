"""`wastex dlq redrive` on the real broker: what is still broken is re-driven once a run."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import MetaData
from typer.testing import CliRunner

from wastex_cli.dlq import (
    IDLE_SECONDS,
    REDRIVE_OF,
    DeadLetter,
    Filter,
    originals,
    read_all,
    redrive_letters,
)
from wastex_cli.main import app
from wastex_shared.auth import Role, issue_token, verify_token
from wastex_shared.envelope import Envelope
from wastex_shared.messaging import EventConsumer, OutboxRelay
from wastex_shared.messaging.relay import make_producer
from wastex_shared.settings import ServiceSettings
from wastex_shared.storage import UnitOfWork, UnitOfWorkFactory, make_engine, messaging_tables
from wastex_shared.topics import dlq_for

metadata = MetaData()
tables = messaging_tables(metadata)


async def never_called(uow: UnitOfWork, event: Envelope, data: Any) -> None:
    raise AssertionError("the message is broken: no handler should see it")


@pytest.fixture
async def uow_factory(database_url: str) -> AsyncIterator[UnitOfWorkFactory]:
    engine = make_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield UnitOfWorkFactory(engine, tables)
    await engine.dispose()


async def records(bootstrap: str, topic: str) -> list[Any]:
    return [record async for record in read_all(bootstrap, topic)]


async def test_a_letter_still_broken_is_re_driven_once_a_run_not_doubled(
    kafka_bootstrap: str, uow_factory: UnitOfWorkFactory
) -> None:
    topic, group = f"t-{uuid.uuid4().hex[:8]}", f"g{uuid.uuid4().hex[:8]}"
    consumer = EventConsumer(group, uow_factory, {"wastex.offer.submit": never_called})
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"{still broken", key=b"k")
    finally:
        await producer.stop()
    relay = OutboxRelay(uow_factory, make_producer(kafka_bootstrap))
    await relay._producer.start()
    sent_per_run = []
    try:
        handled = 0
        for _ in range(3):
            arrived = await records(kafka_bootstrap, topic)
            await consumer.handle_batch(arrived[handled:])  # parks it (again)
            handled = len(arrived)
            await relay.drain_once()
            sent_per_run.append(len(await redrive_letters(kafka_bootstrap, group, Filter())))
    finally:
        await relay._producer.stop()
    assert sent_per_run == [1, 1, 1]
    assert len(await records(kafka_bootstrap, dlq_for(group))) == 3
    redriven = (await records(kafka_bootstrap, topic))[1:]
    dlq = dlq_for(group)
    assert [dict(r.headers)[REDRIVE_OF] for r in redriven] == [
        f"{dlq}@{offset}".encode() for offset in range(3)
    ]


async def parked_then_chosen(
    bootstrap: str,
    uow_factory: UnitOfWorkFactory,
    group: str,
    messages: list[tuple[bytes, list[tuple[str, bytes]]]],
) -> list[Any]:
    """`messages` (value, headers), all keyed alike (one partition here and in the DLQ, which
    has one), parked by `group`'s consumer: the letters a dry-run re-drive would send."""
    topic = f"t-{uuid.uuid4().hex[:8]}"
    consumer = EventConsumer(group, uow_factory, {"wastex.offer.submit": never_called})
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for value, headers in messages:
            await producer.send_and_wait(topic, value, key=b"k", headers=headers)
    finally:
        await producer.stop()
    relay = OutboxRelay(uow_factory, make_producer(bootstrap))
    await relay._producer.start()
    try:
        await consumer.handle_batch(await records(bootstrap, topic))
        await relay.drain_once()
    finally:
        await relay._producer.stop()
    return list(await redrive_letters(bootstrap, group, Filter(), dry_run=True))


async def test_a_letter_of_another_dlq_named_in_the_marker_is_not_taken_for_ours(
    kafka_bootstrap: str, uow_factory: UnitOfWorkFactory
) -> None:
    # Re-driven from another group's DLQ and parked by ours: its marker names that DLQ's
    # offset 0, which must not hide our letter at offset 0 (another message).
    group = f"g{uuid.uuid4().hex[:8]}"
    sent = await parked_then_chosen(
        kafka_bootstrap,
        uow_factory,
        group,
        [(b"{first broken", []), (b"{second broken", [(REDRIVE_OF, b"other.dlq.v1@0")])],
    )
    assert sorted(letter.offset for letter in sent) == [0, 1]


async def test_a_marker_a_producer_wrote_hides_no_other_letter(
    kafka_bootstrap: str, uow_factory: UnitOfWorkFactory
) -> None:
    """A factory's system may set any header: one naming our DLQ's offset 0 in the marker on
    a broken message of its own hid the letter there (another factory's message) from every
    re-drive. A marker counts only for a letter holding the same message."""
    group = f"g{uuid.uuid4().hex[:8]}"
    rogue_marker = [(REDRIVE_OF, f"{dlq_for(group)}@0".encode())]
    sent = await parked_then_chosen(
        kafka_bootstrap,
        uow_factory,
        group,
        [(b"{victim's broken", []), (b"{rogue broken", rogue_marker)],
    )
    assert sorted(letter.original_offset for letter in sent) == [0, 1]


async def test_every_chosen_letter_is_sent_however_long_the_sends_take(
    kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second reading stopped once its sends had taken 2 s (the topic's idle clock ran
    while the caller sent), after the first fetched 1,000 letters, and still reported the
    rest as re-driven."""
    letters = 1200
    topic, group = f"t-{uuid.uuid4().hex[:8]}", f"g{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, max_batch_size=1_000_000, linger_ms=200
    )
    await producer.start()
    try:
        for n in range(letters):
            headers = [
                ("x-error-type", b"HANDLER_ERROR"),
                ("x-error", b"boom"),
                ("x-original-topic", topic.encode()),
                ("x-original-partition", b"0"),
                ("x-original-offset", str(n).encode()),
            ]
            await producer.send(dlq_for(group), b"{}", key=b"k", partition=0, headers=headers)
        await producer.flush()
    finally:
        await producer.stop()
    send = AIOKafkaProducer.send_and_wait

    async def a_broker_3_ms_away(self: AIOKafkaProducer, *args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0.003)
        return await send(self, *args, **kwargs)

    monkeypatch.setattr(AIOKafkaProducer, "send_and_wait", a_broker_3_ms_away)
    reported = await redrive_letters(kafka_bootstrap, group, Filter())
    monkeypatch.undo()
    assert len(reported) == letters
    assert len(await records(kafka_bootstrap, topic)) == letters


def test_a_letter_named_that_cannot_go_says_why(kafka_bootstrap: str) -> None:
    """`wastex dlq redrive catalog --offset N` of a letter that kept only the head of its
    message: the operator is told why nothing went, not only 'would re-drive 0'."""

    async def park_a_head() -> int:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            sent = await producer.send_and_wait(
                dlq_for("catalog"),
                b'{"id": "e-1", "data": {"quantit',
                key=b"k",
                headers=[
                    ("x-error-type", b"MESSAGE_TOO_LARGE"),
                    ("x-original-topic", b"ingest.offers.v1"),
                    ("x-original-offset", b"41"),
                    ("x-truncated-from-bytes", b"9000000"),
                ],
            )
        finally:
            await producer.stop()
        return int(sent.offset)

    offset = asyncio.run(park_a_head())
    result = CliRunner().invoke(
        app,
        ["dlq", "redrive", "catalog", "--bootstrap", kafka_bootstrap, "--offset", str(offset)],
    )
    assert result.exit_code == 0, result.output
    assert f"{offset}  not re-driven: it kept only the head of a message too large" in (
        result.output
    )
    assert "re-drove 0 message(s)" in result.output


def letter_headers(
    topic: str, partition: bytes, offset: bytes, claimed: str
) -> list[tuple[str, bytes]]:
    """A dead letter's headers as anyone able to write the DLQ topic may write them."""
    return [
        ("x-error-type", b"BALANCE_VIOLATION"),
        ("x-original-topic", topic.encode()),
        ("x-original-partition", partition),
        ("x-original-offset", offset),
        ("x-authenticated-source", claimed.encode()),
    ]


async def test_a_redrive_signs_only_for_whom_the_original_on_its_topic_proves(
    empty_broker: str,
) -> None:
    """Anyone able to write a DLQ topic can write a letter saying any enterprise sent it:
    the re-drive signed a fresh token for whatever `x-authenticated-source` said. It now
    signs only where the original, still at its position on the ingest topic, is the same
    message under a token of that enterprise; the others do not go, and say why."""
    jwt = ServiceSettings().jwt
    topic, group = "ingest.ledger-reports.v1", f"g{uuid.uuid4().hex[:8]}"
    genuine, unsigned, later = b'{"id": "genuine"}', b'{"id": "forged"}', b'{"id": "later"}'
    producer = AIOKafkaProducer(bootstrap_servers=empty_broker)
    await producer.start()
    try:
        token = issue_token(jwt, Role.ENTERPRISE, "ent-a")
        auth = [("Authorization", f"Bearer {token}".encode())]  # its name in any case
        for value, headers in ((genuine, auth), (unsigned, []), (later, auth)):
            await producer.send_and_wait(topic, value, key=b"k", headers=headers)
        letters = [  # (value, original offset, the enterprise it claims)
            (genuine, 0, "ent-a"),  # goes, signed for ent-a
            (unsigned, 1, "ent-a"),  # its original carries no token
            (later, 2, "ent-b"),  # its original's token is ent-a's
            (b'{"id": "other"}', 1, "ent-a"),  # not the message there
            (genuine, 10_000, "ent-a"),  # its original is gone
        ]
        for value, offset, claimed in letters:
            headers = letter_headers(topic, b"0", str(offset).encode(), claimed)
            await producer.send_and_wait(dlq_for(group), value, key=b"k", headers=headers)
    finally:
        await producer.stop()
    skipped: list[tuple[DeadLetter, str]] = []
    sent = await redrive_letters(empty_broker, group, Filter(), jwt=jwt, skipped=skipped)
    assert [letter.offset for letter in sent] == [0]
    assert [(letter.offset, why) for letter, why in skipped] == [
        (1, "its original carries no token of ent-a"),
        (2, "its original carries no token of ent-b"),
        (3, f"it does not hold the message at its original position ({topic}[0]@1)"),
        (
            4,
            f"its original ({topic}[0]@10000) is no longer on the broker to prove whom it came "
            "from: the factory must send it again",
        ),
    ]
    [redriven] = (await records(empty_broker, topic))[3:]
    assert redriven.value == genuine
    signed = dict(redriven.headers)["authorization"].decode()
    assert verify_token(jwt, signed.removeprefix("Bearer ")).enterprise_id == "ent-a"


async def test_a_letter_naming_no_position_does_not_stop_the_others_going(
    empty_broker: str,
) -> None:
    """A letter whose `x-original-offset` (or partition) is left out, garbled or negative
    made the proof's seek raise, and the whole re-drive stopped with "cannot sign re-driven
    messages: Offset must be a positive integer": one forged letter kept every other from
    going. It now does not go itself, and says why."""
    jwt = ServiceSettings().jwt
    topic, group = "ingest.ledger-reports.v1", f"g{uuid.uuid4().hex[:8]}"
    genuine = b'{"id": "genuine"}'
    producer = AIOKafkaProducer(bootstrap_servers=empty_broker)
    await producer.start()
    try:
        token = issue_token(jwt, Role.ENTERPRISE, "ent-a")
        auth = [("authorization", f"Bearer {token}".encode())]
        await producer.send_and_wait(topic, genuine, key=b"k", headers=auth)
        for partition, offset in ((b"-1", b"0"), (b"0", b"garbage"), (b"0", b"-3"), (b"0", b"0")):
            headers = letter_headers(topic, partition, offset, "ent-a")
            await producer.send_and_wait(dlq_for(group), genuine, key=b"k", headers=headers)
    finally:
        await producer.stop()
    skipped: list[tuple[DeadLetter, str]] = []
    sent = await redrive_letters(empty_broker, group, Filter(), jwt=jwt, skipped=skipped)
    assert [letter.offset for letter in sent] == [3]
    why = f"it names no position of its original on {topic} to prove whom it came from"
    assert [(letter.offset, reason) for letter, reason in skipped] == [
        (0, why),
        (1, why),
        (2, why),
    ]


async def test_letters_whose_originals_aged_out_of_a_quiet_partition_are_not_each_waited_for(
    empty_broker: str,
) -> None:
    """Dead letters are kept 30 days, ingest messages 7: a partition that heard nothing
    since is empty, and each seek into it waited the idle time, 2 s a letter (a re-drive or
    a dry run over a thousand such letters took over half an hour). One wait now tells that
    the partition holds nothing from there on. Offsets past the log's end stand for those
    aged out here (the test broker keeps everything)."""
    topic = "ingest.ledger-reports.v1"
    producer = AIOKafkaProducer(bootstrap_servers=empty_broker)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"kept", key=b"k")
    finally:
        await producer.stop()
    gone = [
        DeadLetter(n, "BALANCE_VIOLATION", "", topic, 0, 1_000 + n, "k", None, None, None, "a")
        for n in range(20)
    ]
    there = replace(gone[0], offset=20, original_offset=0)
    started = asyncio.get_running_loop().time()
    found = await originals(empty_broker, [*gone, there])
    took = asyncio.get_running_loop().time() - started
    assert [record.value for record in found.values()] == [b"kept"]
    assert took < 8 * IDLE_SECONDS  # 20 letters waited for one by one: 20 × IDLE_SECONDS
