"""The live feed (what GraphQL subscriptions are pushed from) keeps its place when it fails
as the broker goes down: its reconnects that cannot reach the broker are no sign of a batch
it cannot read, so once the broker is back it goes on from where it was, and what was
published before and after is pushed. On a broker of the module's own, tansu on s3 storage
(kept by a moto_server) so its log outlives the restart."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from bench.chaos_stack import MotoServer
from wastex_shared.devtools.tansu import TansuBroker, free_port
from wastex_shared.envelope import Envelope
from wastex_shared.messaging.admin import ensure_topics, wait_for_broker
from wastex_shared.messaging.live import STALLED_RECONNECTS, KafkaLiveFeed, LiveHub
from wastex_shared.topics import Topic

pytestmark = pytest.mark.reliability

#: tansu on s3 is slow, and slower still just after a restart (its storage cold).
TIMEOUT = 120.0


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TansuBroker]:
    root = tmp_path_factory.mktemp("outage")
    moto = MotoServer(log_path=root / "moto.log")
    moto.start()
    own = TansuBroker(
        port=free_port(), storage=moto.storage, log_path=root / "tansu.log", env=moto.broker_env
    )
    try:
        own.start()
        yield own
    finally:
        own.stop()
        moto.stop()


class _FailsAsTheBrokerGoes(KafkaLiveFeed):
    """Fails on the record naming `cut_at`, the broker stopped in the same moment (as a
    broker going away mid-read would make it fail); counts its failures."""

    def __init__(self, broker: TansuBroker, topic: str, hub: LiveHub, cut_at: str) -> None:
        super().__init__(broker.bootstrap, [topic], hub, fetch_max_wait_ms=50)
        self._broker = broker
        self._cut_at = cut_at.encode()
        self.cut = False
        self.failures = 0

    def _forward(self, record: Any) -> None:
        if not self.cut and self._cut_at in record.value:
            self.cut = True
            self._broker.stop()
            raise ConnectionError("connection lost")
        super()._forward(record)

    async def _consume(self) -> None:
        try:
            await super()._consume()
        except Exception:
            self.failures += 1
            raise


@contextlib.asynccontextmanager
async def producing(bootstrap: str, acks: int | str) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=acks)
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def until(check: Any) -> None:
    async with asyncio.timeout(TIMEOUT):
        while not check():
            await asyncio.sleep(0.1)


async def test_a_feed_failing_as_the_broker_goes_down_keeps_its_place(
    broker: TansuBroker,
) -> None:
    await wait_for_broker(broker.bootstrap)
    topic = f"live.outage.{uuid.uuid4().hex[:8]}"
    await ensure_topics(broker.bootstrap, [Topic(topic, 1)])
    run = uuid.uuid4().hex
    hub = LiveHub()
    feed = _FailsAsTheBrokerGoes(broker, topic, hub, cut_at=f"{run}-1")
    # Made after the feed: it pushes only what happened since it started.
    sent = [Envelope.new("test.thing", "test", f"{run}-{n}", {"n": n}) for n in range(3)]
    reading = asyncio.create_task(feed.run())
    heard: list[int] = []

    async def listen() -> None:
        async with hub.subscription(topic) as events:
            async for envelope in events:
                heard.append(envelope.data["n"])

    listening = asyncio.create_task(listen())
    try:
        await asyncio.wait_for(feed.ready.wait(), TIMEOUT)
        # acks=0: the broker is stopped as the feed reads the second, maybe before it
        # acknowledged it.
        async with producing(broker.bootstrap, acks=0) as producer:
            for envelope in sent[:2]:
                await producer.send_and_wait(topic, envelope.to_json(), key=b"k")
            await until(lambda: feed.cut)

        # More failures to reach the broker than the feed gives a batch it cannot read.
        await until(lambda: feed.failures > STALLED_RECONNECTS + 1)
        broker.start()
        await wait_for_broker(broker.bootstrap)
        async with producing(broker.bootstrap, acks="all") as producer:
            await producer.send_and_wait(topic, sent[2].to_json(), key=b"k")

        with contextlib.suppress(TimeoutError):
            await until(lambda: 2 in heard)
        # A feed that gave up its place would read from the end once the broker was back:
        # the second, published before, never pushed (the third only if after it).
        assert heard == [0, 1, 2]
    finally:
        for task in (reading, listening):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
