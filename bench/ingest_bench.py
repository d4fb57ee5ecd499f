"""Ingest: offers produced to `ingest.offers.v1` through catalog and matching, on a fresh stack.

Figures
- sustained offers/s through catalog (and into matching) ÷ raw aiokafka consume msg/s of the
  same payloads on the same broker (goal ≥ 0.25);
- p50/p99 of offer-posted → match-proposed at 500 offers/s offered load (goal p99 < 1 s),
  between the two events' record timestamps (their publication by each service's relay);
- peak RSS of each service (with its child processes) during the run.

The offers are lots of a seeded city's factories (`ingest_city`: of 2,000 generated lots of
many codes from a few hundred sites, those some recycler can take; 100 recycler sites with
their licences and demands), so each round plans a real market and each proposal is
explained against the offer's other takers.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.ingest_city import City, Lot, set_up
from bench.report import Figure
from bench.stacks import postgresql_databases, running_stack
from wastex_catalog.service import aggregate_id
from wastex_cli.stack import SERVICES, Stack
from wastex_shared.envelope import Envelope
from wastex_shared.settings import ServiceSettings

JWT = ServiceSettings().jwt
#: The city (`ingest_city`): lots the factories post in turn, recycler sites, its seed.
LOTS, RECYCLERS, SEED = 2_000, 100, 11


async def produce(producer: AIOKafkaProducer, lot: Lot, message: bytes) -> Any:
    """Send one offer as the lot's factory would: keyed by enterprise, with its token."""
    return await producer.send(
        "ingest.offers.v1",
        message,
        key=lot.enterprise_id.encode(),
        headers=[("authorization", f"Bearer {lot.token}".encode())],
    )


async def raw_consume_rate(bootstrap: str, payloads: list[bytes]) -> float:
    """Baseline: aiokafka consuming the same payloads from the same broker, nothing else."""
    topic = f"bench.raw.{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(topic, p, key=b"k") for p in payloads]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        seen, started = 0, time.perf_counter()
        while seen < len(payloads):
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            seen += sum(len(records) for records in batch.values())
        return len(payloads) / (time.perf_counter() - started)
    finally:
        await consumer.stop()


async def metric_lines(stack: Stack, service: str) -> list[tuple[str, float]]:
    """The service's /metrics samples: (name with its labels, value).

    Asked without blocking the loop, and patiently: a service busy ingesting as fast as it
    can may answer its metrics late, which is not a failure of the run."""
    async with httpx.AsyncClient(timeout=60) as http:
        text = (await http.get(f"{stack.service_url(service)}/metrics")).text
    samples = [line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#")]
    return [(name, float(value)) for name, value in samples]


async def metric(stack: Stack, service: str, *names: str) -> float:
    """The sum of the service's /metrics lines named `names` (all their labels)."""
    return sum(
        value for name, value in await metric_lines(stack, service) if name.startswith(names)
    )


ROUND_COUNTERS = (
    "rounds",
    "grown_rounds",
    "contested_rounds",
    "proposed",
    "superseded",
    "seconds",
    "planning_seconds",
    "writing_seconds",
    "growth_refused",
    "conflicts",
)


REFUSED = "wastex_reoptimise_growth_refused_total"


async def round_totals(stack: Stack) -> dict[str, float]:
    """Matching's re-optimisation counters (`wastex_reoptimise_*_total`), and the refused
    growths by reason (`refused:REASON`)."""
    samples = await metric_lines(stack, "matching")
    totals = {
        name: sum(v for n, v in samples if n.startswith(f"wastex_reoptimise_{name}_total"))
        for name in ROUND_COUNTERS
    }
    for name, value in samples:
        if name.startswith(REFUSED) and 'reason="' in name:
            reason = name.split('reason="', 1)[1].split('"', 1)[0]
            totals[f"refused:{reason}"] = value
    return totals


def rounds_between(before: dict[str, float], after: dict[str, float]) -> dict[str, Any]:
    """The rounds of a phase: how many, what they proposed and superseded, mean seconds."""
    done = {name: after[name] - before[name] for name in ROUND_COUNTERS}
    rounds = done["rounds"] or 1.0
    return {
        "rounds": done["rounds"],
        # Of them, rounds that only placed new offers on the last allocation (and of
        # those, rounds that re-solved the part the newcomers contested).
        "grown": done["grown_rounds"],
        "grown_contested": done["contested_rounds"],
        # The others: refused (a reason the growth could not apply: summed over reasons) or
        # without a growth to build on (a conflict retried, another writer, a first round).
        "refused": done["growth_refused"],
        "refused_by_reason": {
            name.split(":", 1)[1]: after[name] - before.get(name, 0.0)
            for name in after
            if name.startswith("refused:") and after[name] > before.get(name, 0.0)
        },
        "without_growth": done["rounds"] - done["grown_rounds"] - done["growth_refused"],
        "conflicts": done["conflicts"],
        "proposed": done["proposed"],
        "superseded": done["superseded"],
        "mean_round_s": round(done["seconds"] / rounds, 3),
        "mean_planning_s": round(done["planning_seconds"] / rounds, 3),
        "mean_writing_s": round(done["writing_seconds"] / rounds, 3),
    }


async def consumer_handled(stack: Stack, service: str) -> int:
    """Messages the service's consumers have finished (handled or dead-lettered)."""
    return int(
        await metric(
            stack, service, "wastex_consumer_handled_total", "wastex_consumer_dead_lettered_total"
        )
    )


async def settled(stack: Stack, timeout: float = 300.0) -> None:
    """Wait until the stack has caught up with everything produced so far: outboxes empty
    and matching's consumers idle for a second, so a latency run starts on a quiet city."""
    deadline = time.perf_counter() + timeout
    last = -1
    while time.perf_counter() < deadline:
        backlog = sum([await metric(stack, s, "wastex_outbox_backlog") for s in SERVICES])
        handled = await consumer_handled(stack, "matching")
        if backlog == 0 and handled == last:
            return
        last = handled
        await asyncio.sleep(1.0)
    raise TimeoutError(f"the stack did not settle within {timeout:.0f}s")


@contextmanager
def peak_rss(stack: Stack) -> Iterator[dict[str, float]]:
    peaks = {name: 0.0 for name in SERVICES}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            for name in SERVICES:
                try:
                    process = psutil.Process(stack.processes[name].pid)
                    # With its children: a service that starts helpers pays for them.
                    family = [process, *process.children(recursive=True)]
                    rss = sum(p.memory_info().rss for p in family) / 2**20
                except psutil.Error:
                    continue
                peaks[name] = max(peaks[name], rss)
            stop.wait(0.2)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peaks
    finally:
        stop.set()
        thread.join()


async def sustained_rate(stack: Stack, city: City, n: int) -> float:
    messages = city.messages(n)
    before = await consumer_handled(stack, "catalog")
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, linger_ms=5)
    await producer.start()
    started = time.perf_counter()
    try:
        futures = [await produce(producer, lot, message) for lot, message in messages]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    while await consumer_handled(stack, "catalog") - before < n:
        await asyncio.sleep(0.2)
    return n / (time.perf_counter() - started)


async def latency_at(
    stack: Stack, city: City, rate: int, seconds: int
) -> tuple[list[float], list[float]]:
    """offer-posted → match-proposed, seconds, for offers produced at `rate` per second:
    by the two events' record timestamps (when each service's relay published them) and,
    for comparison, by when this watcher received them.

    Only the offers produced here are timed (their ids derive from the message ids). The
    watcher polls as the services do (50 ms): polling every 5 ms cost the broker and this
    process a quarter of a core, an eighth of the 2-core machine under test."""
    messages = city.messages(rate * seconds)
    # The offer id the catalog gives each message, by the catalog's own rule.
    ours = {aggregate_id("offer", Envelope.from_json(m)) for _, m in messages}
    posted: dict[str, tuple[float, float]] = {}  # offer id → (record timestamp, received)
    proposed: dict[str, tuple[float, float]] = {}
    watcher = AIOKafkaConsumer(
        "catalog.offer-posted.v1",
        "matching.match-proposed.v1",
        bootstrap_servers=stack.bootstrap,
        auto_offset_reset="latest",
        fetch_max_wait_ms=ServiceSettings().fetch_max_wait_ms,
    )
    await watcher.start()
    await asyncio.sleep(1.0)  # let the assignment settle before producing

    async def watch() -> None:
        async for record in watcher:
            seen = (record.timestamp / 1000, time.time())
            event = json.loads(record.value)
            offer_id = event["data"].get("offerId")
            if offer_id not in ours:
                continue
            if record.topic == "catalog.offer-posted.v1":
                posted.setdefault(offer_id, seen)
            else:
                proposed.setdefault(offer_id, seen)

    task = asyncio.create_task(watch())
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, linger_ms=0)
    await producer.start()
    try:
        start = time.perf_counter()
        for i, (lot, message) in enumerate(messages):
            await produce(producer, lot, message)
            delay = start + (i + 1) / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        await producer.flush()
        deadline = time.perf_counter() + 15
        while time.perf_counter() < deadline and len(set(posted) - set(proposed)) > 0:
            await asyncio.sleep(0.2)
    finally:
        await producer.stop()
        task.cancel()
        await watcher.stop()
    timed = [o for o in posted if o in proposed]
    return (
        [proposed[o][0] - posted[o][0] for o in timed],
        [proposed[o][1] - posted[o][1] for o in timed],
    )


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return (
        statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]
        if len(values) > 1
        else values[0]
    )


def latency_figures(latencies: list[float], market: str) -> list[Figure]:
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    label = f"offer-posted → match-proposed p%d @500/s, {market}"
    return [
        Figure("ingest", label % 50, p50, "s"),
        Figure(
            "ingest",
            label % 99,
            p99,
            "s",
            goal="< 1 s",
            met=None if p99 is None else p99 < 1.0,
        ),
    ]


async def _run(stack: Stack, n: int) -> tuple[list[Figure], dict[str, Any]]:
    city = await set_up(stack.graphql_url, JWT, lots=LOTS, recyclers=RECYCLERS, seed=SEED)
    baseline = await raw_consume_rate(stack.bootstrap, [m for _, m in city.messages(n)])
    with peak_rss(stack) as peaks:
        # Latency twice: from an empty market (it grows to 5,000 offers over the run), then
        # with the sustained run's offers still open (every round re-plans 20,000+ of them).
        start = await round_totals(stack)
        fresh, fresh_seen = await latency_at(stack, city, 500, seconds=10)
        after_fresh = await round_totals(stack)
        await settled(stack)
        sustained = await sustained_rate(stack, city, n)
        await settled(stack)
        before_loaded = await round_totals(stack)
        loaded, loaded_seen = await latency_at(stack, city, 500, seconds=10)
        after_loaded = await round_totals(stack)
    figures = [
        Figure(
            "ingest",
            "sustained offers/s (catalog)",
            sustained,
            "offers/s",
            baseline,
            "raw aiokafka consume msg/s",
            "ratio ≥ 0.25",
            sustained / baseline >= 0.25,
        ),
        *latency_figures(fresh, "market from empty"),
        *latency_figures(loaded, f"{n // 1000}k+ offers open"),
    ]
    figures += [Figure("memory", f"peak RSS {name}", peaks[name], "MiB") for name in SERVICES]
    details = {
        "city": city.description,
        # Matching's rounds in each latency phase (its /metrics counters).
        "rounds": {
            "market from empty": rounds_between(start, after_fresh),
            "offers open": rounds_between(before_loaded, after_loaded),
        },
        "offers": n,
        "latency_samples": {"market from empty": len(fresh), "offers open": len(loaded)},
        "latencies_s": loaded,
        "latencies_from_empty_s": fresh,
        # The same offers timed by when the bench's watcher received the two events.
        "received_p50_p99_s": {
            "market from empty": [percentile(fresh_seen, 50), percentile(fresh_seen, 99)],
            "offers open": [percentile(loaded_seen, 50), percentile(loaded_seen, 99)],
        },
    }
    return figures, details


def run(n: int = 20_000, *, postgresql: bool = False) -> tuple[list[Figure], dict[str, Any]]:
    """The bench on the embedded SQLite default, or with every service on a fresh PostgreSQL
    database of its own (`postgresql`, as deployed)."""
    with postgresql_databases(SERVICES if postgresql else ()) as urls, running_stack(urls) as stack:
        return asyncio.run(_run(stack, n))
