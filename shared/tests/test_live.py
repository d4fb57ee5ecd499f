"""The live hub fans events out without letting a slow subscriber hold anyone up, and the
live feed, against the real broker, pushes what was published across a reconnect."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from wastex_shared.envelope import Envelope
from wastex_shared.messaging.live import KafkaLiveFeed, LiveHub, RecentIds, Reconnects
from wastex_shared.runtime import live_lines
from wastex_shared.topics import MATCHING_MATCH_PROPOSED

#: On a broker of this module's own: the events here are no service's.
TOPIC = MATCHING_MATCH_PROPOSED.name


class _Cut(KafkaLiveFeed):
    """Fails reading `cut_at`, `times` times, as a lost connection or a broker error would
    (every time: as a batch no reader can take would)."""

    def __init__(self, bootstrap: str, hub: LiveHub, cut_at: str, times: float = 1) -> None:
        super().__init__(bootstrap, [TOPIC], hub, fetch_max_wait_ms=50)
        self._cut_at = cut_at.encode()
        self._times = times
        self.cuts = 0

    def _forward(self, record: Any) -> None:
        if self.cuts < self._times and self._cut_at in record.value:
            self.cuts += 1
            raise ConnectionError("connection lost")
        super()._forward(record)


async def sent_and_heard(
    producer: AIOKafkaProducer, hub: LiveHub, run: str, count: int
) -> list[int]:
    """`count` events of `run` sent, all of them before any is read; the numbers of those
    the hub pushes, in the order pushed, once it has pushed as many."""
    sent = [Envelope.new("test.thing", "test", f"{run}-{n}", {"n": n}) for n in range(count)]
    async with hub.subscription(TOPIC) as events:
        for envelope in sent:
            await producer.send_and_wait(TOPIC, envelope.to_json(), key=b"k")
        heard: list[int] = []
        async with asyncio.timeout(30):
            async for envelope in events:
                if (envelope.subject or "").startswith(run):
                    heard.append(envelope.data["n"])
                if len(heard) == count:
                    break
    return heard


async def test_a_feed_that_reconnects_pushes_what_was_published_meanwhile(
    module_kafka_bootstrap: str,
) -> None:
    run = uuid.uuid4().hex
    hub = LiveHub()
    feed = _Cut(module_kafka_bootstrap, hub, cut_at=f"{run}-0")
    reading = asyncio.create_task(feed.run())
    producer = AIOKafkaProducer(bootstrap_servers=module_kafka_bootstrap)
    await producer.start()
    try:
        await asyncio.wait_for(feed.ready.wait(), 30)
        # All three are in the log before the feed fails on the first: a reader that
        # started again from the end would never push them.
        heard = await sent_and_heard(producer, hub, run, 3)
        assert feed.cuts == 1
        assert heard == [0, 1, 2]
    finally:
        await producer.stop()
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading


async def test_a_feed_failing_at_the_same_place_goes_on_from_the_end(
    module_kafka_bootstrap: str,
) -> None:
    """A record that fails every reconnect would stop every subscription of the process:
    after a few reconnects that read nothing, the feed goes on from the end."""
    run = uuid.uuid4().hex
    hub = LiveHub()
    feed = _Cut(module_kafka_bootstrap, hub, cut_at=f"{run}-stuck", times=math.inf)
    reading = asyncio.create_task(feed.run())
    producer = AIOKafkaProducer(bootstrap_servers=module_kafka_bootstrap)
    await producer.start()
    try:
        await asyncio.wait_for(feed.ready.wait(), 30)
        async with hub.subscription(TOPIC) as events:
            stuck = Envelope.new("test.thing", "test", f"{run}-stuck", {"n": -1})
            await producer.send_and_wait(TOPIC, stuck.to_json(), key=b"k")

            async def keep_sending() -> None:
                for n in itertools.count():
                    later = Envelope.new("test.thing", "test", f"{run}-{n}", {"n": n})
                    await producer.send_and_wait(TOPIC, later.to_json(), key=b"k")
                    await asyncio.sleep(0.3)

            sending = asyncio.create_task(keep_sending())
            try:
                async with asyncio.timeout(30):
                    heard = await anext(
                        e async for e in events if (e.subject or "").startswith(run)
                    )
            finally:
                sending.cancel()
        assert heard.data["n"] >= 0
        assert feed.cuts >= 3
    finally:
        await producer.stop()
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading


class _FailsOnceOnEach(KafkaLiveFeed):
    """Fails the first time it reads each record naming `run`: every reconnect reads one
    record more before failing."""

    def __init__(self, bootstrap: str, hub: LiveHub, run: str) -> None:
        super().__init__(bootstrap, [TOPIC], hub, fetch_max_wait_ms=50)
        self._run = run.encode()
        self._seen: set[int] = set()

    def _forward(self, record: Any) -> None:
        if self._run in record.value and record.offset not in self._seen:
            self._seen.add(record.offset)
            raise ConnectionError("connection lost")
        super()._forward(record)


async def test_a_feed_that_reads_again_waits_the_shortest_before_its_next_reconnect(
    module_kafka_bootstrap: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A wait that only grew would make every failure after a few, over the process's
    life, wait the longest."""
    run = uuid.uuid4().hex
    hub = LiveHub()
    feed = _FailsOnceOnEach(module_kafka_bootstrap, hub, run)
    reading = asyncio.create_task(feed.run())
    producer = AIOKafkaProducer(bootstrap_servers=module_kafka_bootstrap)
    await producer.start()
    try:
        await asyncio.wait_for(feed.ready.wait(), 30)
        with caplog.at_level(logging.ERROR, logger="wastex_shared.messaging.live"):
            heard = await sent_and_heard(producer, hub, run, 4)
        assert heard == [0, 1, 2, 3]
        waits = [
            r.args[0]
            for r in caplog.records
            if "reconnecting" in str(r.msg) and isinstance(r.args, tuple)
        ]
        # The first failure read nothing; each later one came after reading a record more.
        assert waits == [0.2, 0.2, 0.2, 0.2]
    finally:
        await producer.stop()
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading


async def test_an_event_the_log_holds_twice_is_pushed_once(module_kafka_bootstrap: str) -> None:
    """The outbox relay publishes a row again when the broker's acknowledgement was lost (a
    broker restarting mid-send): the log then holds the event twice, and a subscriber must
    hear it once."""
    run = uuid.uuid4().hex
    hub = LiveHub()
    feed = KafkaLiveFeed(module_kafka_bootstrap, [TOPIC], hub, fetch_max_wait_ms=50)
    reading = asyncio.create_task(feed.run())
    producer = AIOKafkaProducer(bootstrap_servers=module_kafka_bootstrap)
    await producer.start()
    try:
        await asyncio.wait_for(feed.ready.wait(), 30)
        twice = Envelope.new("test.thing", "test", f"{run}-twice", {"n": 0})
        last = Envelope.new("test.thing", "test", f"{run}-last", {"n": 1})
        async with hub.subscription(TOPIC) as events:
            for envelope in (twice, twice, last):
                await producer.send_and_wait(TOPIC, envelope.to_json(), key=b"k")
            heard: list[str] = []
            async with asyncio.timeout(30):
                async for envelope in events:
                    if (envelope.subject or "").startswith(run):
                        heard.append(envelope.id)
                    if envelope.id == last.id:
                        break
        assert heard == [twice.id, last.id]
    finally:
        await producer.stop()
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading


def test_reconnects_wait_longer_while_reading_nothing_and_the_shortest_after_reading() -> None:
    reconnects = Reconnects(first=0.2, longest=1.0, give_up_after=100)
    waits = [reconnects.failed(positioned=True, progressed=False).wait for _ in range(5)]
    assert waits == [0.2, 0.4, 0.8, 1.0, 1.0]
    assert reconnects.failed(positioned=True, progressed=True).wait == 0.2
    assert reconnects.failed(positioned=True, progressed=False).wait == 0.4


def test_reconnects_give_up_the_place_after_failures_in_a_row_that_read_nothing() -> None:
    reconnects = Reconnects(give_up_after=3)

    def gives_up(progressed: bool = False) -> bool:
        return reconnects.failed(positioned=True, progressed=progressed).from_the_end

    assert [gives_up() for _ in range(3)] == [False, False, True]
    assert not gives_up()  # counted afresh
    assert not gives_up(progressed=True)
    assert [gives_up() for _ in range(3)] == [False, False, True]


def test_reconnects_that_cannot_reach_the_broker_never_give_up_the_place() -> None:
    """A broker down fails every reconnect before the reader is positioned: no sign of a
    batch it cannot read. Given up, the feed would read from the end once the broker is
    back, and never push what the services published in between."""
    reconnects = Reconnects(give_up_after=3, longest=5.0)
    retries = [reconnects.failed(positioned=False, progressed=False) for _ in range(10)]
    assert not any(retry.from_the_end for retry in retries)
    assert retries[-1].wait == 5.0
    stuck = [reconnects.failed(positioned=True, progressed=False) for _ in range(3)]
    assert [retry.from_the_end for retry in stuck] == [False, False, True]


def test_recent_ids_forget_the_oldest_past_their_limit() -> None:
    recent = RecentIds(limit=2)
    assert [recent.first_sight(i) for i in ("a", "b", "a", "c")] == [True, True, False, True]
    assert recent.first_sight("a")  # forgotten when "c" came: a repeat this late is news
    assert not recent.first_sight("c")


def event(n: int) -> Envelope:
    return Envelope.new("test.thing", "test", f"s{n}", {"n": n})


async def test_hub_fans_out_and_drops_the_oldest_for_a_slow_subscriber() -> None:
    hub = LiveHub(queue_size=2)
    async with hub.subscription("t") as first, hub.subscription("t") as second:
        assert hub.subscribers("t") == 2
        for n in range(3):
            hub.publish("t", event(n))
        hub.publish("other", event(99))
        assert [(await anext(first)).data["n"] for _ in range(2)] == [1, 2]
        assert [(await anext(second)).data["n"] for _ in range(2)] == [1, 2]
    assert hub.subscribers("t") == 0
    assert hub.dropped == 2


async def test_one_subscription_hears_several_topics_in_order() -> None:
    hub = LiveHub()
    async with hub.subscription("a", "b") as events:
        assert (hub.subscribers("a"), hub.subscribers("b")) == (1, 1)
        hub.publish("a", event(1))
        hub.publish("c", event(2))
        hub.publish("b", event(3))
        assert [(await anext(events)).data["n"] for _ in range(2)] == [1, 3]
    assert (hub.subscribers("a"), hub.subscribers("b")) == (0, 0)


async def test_the_feed_decodes_only_what_someone_listens_to() -> None:
    hub = LiveHub()
    feed = KafkaLiveFeed("unused:9092", ["t"], hub, started_at=event(0).time)
    record = SimpleNamespace(topic="t", partition=0, offset=0, value=event(1).to_json())
    feed._forward(record)
    assert hub.published == 0
    async with hub.subscription("t") as events:
        feed._forward(record)
        assert (await anext(events)).data["n"] == 1
    assert hub.published == 1


async def test_metrics_count_the_subscriptions_open_and_the_events_lost() -> None:
    """An operator sees how many subscriptions are open (one on several topics counts once;
    a count that only grows is subscriptions not ended when their clients left) and how
    many events slow subscribers lost."""

    def figures(*hubs: LiveHub) -> dict[str, int]:
        lines = live_lines("ledger", hubs)
        return {
            line.split("{")[0]: int(line.rsplit(" ", 1)[1])
            for line in lines
            if not line.startswith("#")
        }

    hub, other = LiveHub(queue_size=1), LiveHub()
    async with hub.subscription("a", "b"), other.subscription("a"):
        for n in range(3):
            hub.publish("a", event(n))
        assert figures(hub, other) == {
            "wastex_live_subscriptions": 2,
            "wastex_live_events_published_total": 3,
            "wastex_live_events_dropped_total": 2,
        }
    assert figures(hub, other)["wastex_live_subscriptions"] == 0
