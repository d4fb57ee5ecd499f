"""`read_topic` (what `wastex replay` reads history with) on the real broker: a broker that
stalls for a moment mid-read is waited for; one that stays silent fails the read. Either
way a replay never rebuilds from part of the history as if it were all of it."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from wastex_shared.devtools.tansu import TansuBroker, free_port
from wastex_shared.messaging.admin import ensure_topics, wait_for_broker
from wastex_shared.messaging.topic_reader import IncompleteRead, read_topic
from wastex_shared.topics import Topic

RECORDS = 60
#: Large enough that the records take many fetches to read.
RECORD_BYTES = 200_000


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[TansuBroker]:
    """A broker of this test's own: it is paused (SIGSTOP) as a stalled broker would be."""
    own = TansuBroker(port=free_port(), log_path=tmp_path / "tansu.log")
    own.start()
    try:
        yield own
    finally:
        _signal(own, signal.SIGCONT)
        own.stop()


def _signal(broker: TansuBroker, signum: signal.Signals) -> None:
    if broker.process is not None:
        os.kill(broker.process.pid, signum)


async def _topic(bootstrap: str) -> str:
    await wait_for_broker(bootstrap)
    name = f"reader.stall.{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, [Topic(name, 1)])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=2 * RECORD_BYTES)
    await producer.start()
    try:
        for _ in range(RECORDS):
            await producer.send_and_wait(name, b"x" * RECORD_BYTES, key=b"k")
    finally:
        await producer.stop()
    return name


async def test_a_broker_that_stalls_mid_read_is_waited_for(broker: TansuBroker) -> None:
    topic = await _topic(broker.bootstrap)
    read = 0
    async for _ in read_topic(broker.bootstrap, topic, batch=1):
        read += 1
        if read == 1:  # the broker stops answering for 3 s (a pause, a leader moving)
            _signal(broker, signal.SIGSTOP)
            asyncio.get_running_loop().call_later(3, _signal, broker, signal.SIGCONT)
    assert read == RECORDS


async def test_a_broker_that_stays_silent_fails_the_read(broker: TansuBroker) -> None:
    topic = await _topic(broker.bootstrap)
    read = 0

    async def read_while_the_broker_stops() -> None:
        nonlocal read
        async for _ in read_topic(broker.bootstrap, topic, batch=1, stall_ms=2000):
            read += 1
            if read == 1:
                _signal(broker, signal.SIGSTOP)

    with pytest.raises(IncompleteRead, match=topic):
        await read_while_the_broker_stops()
    assert 0 < read < RECORDS
