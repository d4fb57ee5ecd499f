"""Regulator queries over a large ledger, and rebuilding the ledger's projections by replay.

Figures
- city-wide `utilisation` by district × waste code × month through the gateway (regulator
  token): req/s and p50/p99 (goal p99 < 300 ms), ÷ the same aggregate in raw SQL on the
  ledger's journal, with an index that suits it (goal ≥ 0.5): one request at a time, and
  with `CLIENTS` in flight on both sides (throughput under load, where the gateway and the
  ledger, two processes, work at once: one request at a time never has both busy);
- ledger replay: events/s rebuilding the projection from `ledger.entry-recorded.v1`
  (goal ≥ 20k/s).

The journal is loaded with the ledger's own domain (`domain.entries.report`), repository and
projection code in batches of 10,000 per transaction (one transaction per report would take
the better part of an hour for a million entries), and the matching `entry-recorded` events
are produced the way the outbox would publish them. Size: WASTEX_BENCH_ENTRIES (1,000,000).
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer

from bench.report import Figure
from bench.stacks import postgresql_databases, running_stack
from wastex_cli.stack import Stack
from wastex_ledger.adapters.repository import Repository
from wastex_ledger.adapters.tables import messaging
from wastex_ledger.domain.entries import EntryKind, SiteFacts, report
from wastex_ledger.replay import replay
from wastex_ledger.service import entry_recorded, projection_deltas
from wastex_ledger.settings import LedgerSettings
from wastex_shared.auth import Role, issue_token
from wastex_shared.codes import DistrictKind
from wastex_shared.codes.district_file import load_districts
from wastex_shared.envelope import Envelope, derived_id, utcnow
from wastex_shared.settings import ServiceSettings
from wastex_shared.storage import UnitOfWorkFactory, make_engine
from wastex_shared.topics import LEDGER_ENTRY_RECORDED

#: The city: the register's 13 administrative districts.
DISTRICTS = tuple(
    d.name for d in load_districts() if d.kind is DistrictKind.ADMINISTRATIVE_DISTRICT
)
CODES = ("SW01", "SW02", "SW03", "SW04", "SW06", "SW07", "SW10", "SW17", "HW08", "HW49")
INDUSTRIES = ("C3120", "D4411", "C3011", "C3670", "C2614")
MONTHS = tuple(f"2026-{m:02d}" for m in range(1, 13))
#: When the year's reports are booked: after its last month, as a year's journal is.
REPORTED = datetime(2027, 1, 15, tzinfo=UTC)
BATCH = 10_000

QUERY = """
query($scope: UtilisationScope!, $m: String!) {
  utilisation(scope: $scope, from: $m, to: $m) {
    generatedTonnes utilisedTonnes utilisedInPlantTonnes storedTonnes disposedTonnes rate
  }
}"""
RAW_SQL = """
SELECT kind, from_prior_stock, sum(kilograms) FROM entries
WHERE district = $1 AND waste_code = $2 AND period = $3 GROUP BY kind, from_prior_stock
"""


def sites(n: int) -> list[SiteFacts]:
    rng = random.Random(11)
    return [
        SiteFacts(f"site-{i}", f"ent-{i}", rng.choice(DISTRICTS), rng.choice(INDUSTRIES))
        for i in range(n)
    ]


def kinds(rng: random.Random) -> tuple[EntryKind, bool]:
    roll = rng.random()
    if roll < 0.5:
        return EntryKind.GENERATED, False
    if roll < 0.75:
        return EntryKind.UTILISED_IN_PLANT, rng.random() < 0.1
    if roll < 0.9:
        return EntryKind.STORED, False
    return EntryKind.DISPOSED, False


async def load(uow: UnitOfWorkFactory, bootstrap: str, total: int) -> float:
    """Write `total` entries (journal + projection) and publish their events; return seconds."""
    rng = random.Random(7)
    population = sites(2_000)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=256_000)
    await producer.start()
    started = time.perf_counter()
    try:
        for start in range(0, total, BATCH):
            batch = []
            for i in range(start, min(start + BATCH, total)):
                kind, prior = kinds(rng)
                site = rng.choice(population)
                batch.append(
                    report(
                        entry_id=derived_id("bench-entry", i),
                        kind=kind,
                        actor_enterprise_id=site.enterprise_id,
                        site=site,
                        waste_code=rng.choice(CODES),
                        tonnes=Decimal(rng.randint(1, 500_000)) / 1000,
                        period=rng.choice(MONTHS),
                        from_prior_stock=prior,
                        cause_event_id=f"bench/{i}",
                        now=REPORTED,
                    )
                )
            async with uow() as unit:
                repo = Repository(unit.session)
                await repo.insert_entries(batch, utcnow())
                await repo.add_to_projection(projection_deltas(batch))
                await unit.commit()
            futures = []
            for entry in batch:
                event = Envelope.new(
                    "ledger.entry-recorded",
                    "ledger",
                    entry.enterprise_id,
                    entry_recorded(entry),
                    id=derived_id("entry-recorded", entry.id),
                )
                futures.append(
                    await producer.send(
                        LEDGER_ENTRY_RECORDED.name, event.to_json(), key=event.key.encode()
                    )
                )
            await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return time.perf_counter() - started


#: A district, a waste code and a month.
Combo = tuple[str, str, str]


def combos(n: int) -> list[tuple[str, str, str]]:
    rng = random.Random(3)
    return [(rng.choice(DISTRICTS), rng.choice(CODES), rng.choice(MONTHS)) for _ in range(n)]


async def through_gateway(url: str, token: str, wanted: list[tuple[str, str, str]]) -> list[float]:
    timings = []
    async with httpx.AsyncClient(timeout=30, headers={"authorization": f"Bearer {token}"}) as http:
        for district, code, month in wanted:
            variables = {"scope": {"district": district, "wasteCode": code}, "m": month}
            started = time.perf_counter()
            response = await http.post(url, json={"query": QUERY, "variables": variables})
            timings.append(time.perf_counter() - started)
            body = response.json()
            if response.status_code != 200 or body.get("errors"):
                raise RuntimeError(f"utilisation query failed: {response.status_code} {body}")
    return timings


#: Regulators' dashboards ask at once: the throughput figures keep this many requests in
#: flight, through the gateway and on the raw SQL baseline alike.
CLIENTS = 8


async def in_flight(
    clients: int, wanted: list[Combo], one: Callable[[Combo], Awaitable[None]]
) -> tuple[float, list[float]]:
    """`wanted` asked by `clients` concurrent askers: requests per second over the whole
    run, and each request's latency."""
    pending = iter(wanted)
    timings: list[float] = []

    async def asker() -> None:
        for combo in pending:
            started = time.perf_counter()
            await one(combo)
            timings.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(asker() for _ in range(clients)))
    return len(wanted) / (time.perf_counter() - started), timings


async def gateway_in_flight(url: str, token: str, wanted: list[Combo]) -> tuple[float, list[float]]:
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    headers = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=30, headers=headers, limits=limits) as http:

        async def one(combo: Combo) -> None:
            district, code, month = combo
            variables = {"scope": {"district": district, "wasteCode": code}, "m": month}
            response = await http.post(url, json={"query": QUERY, "variables": variables})
            if response.status_code != 200 or response.json().get("errors"):
                raise RuntimeError(f"utilisation query failed: {response.status_code}")

        return await in_flight(CLIENTS, wanted, one)


async def raw_sql_in_flight(dsn: str, wanted: list[Combo]) -> tuple[float, list[float]]:
    async with asyncpg.create_pool(dsn, min_size=CLIENTS, max_size=CLIENTS) as pool:

        async def one(combo: Combo) -> None:
            async with pool.acquire() as conn:
                await conn.fetch(RAW_SQL, *combo)

        return await in_flight(CLIENTS, wanted, one)


async def raw_sql(dsn: str, wanted: list[tuple[str, str, str]]) -> list[float]:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE INDEX IF NOT EXISTS bench_entries_dcp ON entries (district, waste_code, period)"
        )
        await conn.execute("ANALYZE entries")
        timings = []
        for district, code, month in wanted:
            started = time.perf_counter()
            await conn.fetch(RAW_SQL, district, code, month)
            timings.append(time.perf_counter() - started)
        return timings
    finally:
        await conn.close()


def p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def _measure(stack: Stack, db_url: str, total: int) -> tuple[list[Figure], dict[str, Any]]:
    engine = make_engine(db_url)
    uow = UnitOfWorkFactory(engine, messaging)
    load_seconds = await load(uow, stack.bootstrap, total)
    await engine.dispose()
    wanted = combos(400)
    token = issue_token(ServiceSettings().jwt, Role.REGULATOR, district="*")
    await through_gateway(stack.graphql_url, token, wanted[:20])  # warm-up
    api = await through_gateway(stack.graphql_url, token, wanted)
    dsn = db_url.replace("postgresql+asyncpg", "postgresql")
    sql = await raw_sql(dsn, wanted)
    api_rps, sql_rps = len(api) / sum(api), len(sql) / sum(sql)
    # The raw query's index exists by now (raw_sql made it): both sides read warm.
    api_load_rps, api_load = await gateway_in_flight(stack.graphql_url, token, wanted)
    sql_load_rps, _ = await raw_sql_in_flight(dsn, wanted)

    settings = LedgerSettings(database_url=db_url, kafka_bootstrap=stack.bootstrap)
    started = time.perf_counter()
    outcome = str(await replay(settings))
    replay_rate = total / (time.perf_counter() - started)
    figures = [
        Figure(
            "regulator",
            "utilisation district×code×month req/s (gateway)",
            api_rps,
            "req/s",
            sql_rps,
            "raw SQL req/s",
            "ratio ≥ 0.5",
            api_rps / sql_rps >= 0.5,
        ),
        Figure(
            "regulator",
            f"utilisation req/s (gateway), {CLIENTS} in flight",
            api_load_rps,
            "req/s",
            sql_load_rps,
            f"raw SQL req/s, {CLIENTS} in flight",
            "ratio ≥ 0.5",
            api_load_rps / sql_load_rps >= 0.5,
        ),
        Figure(
            "regulator",
            f"utilisation p99 (gateway), {CLIENTS} in flight",
            p(api_load, 99) * 1000,
            "ms",
            goal="< 300 ms",
            met=p(api_load, 99) < 0.3,
        ),
        Figure("regulator", "utilisation p50 (gateway)", p(api, 50) * 1000, "ms"),
        Figure(
            "regulator",
            "utilisation p99 (gateway)",
            p(api, 99) * 1000,
            "ms",
            goal="< 300 ms",
            met=p(api, 99) < 0.3,
        ),
        Figure(
            "replay",
            "ledger replay events/s",
            replay_rate,
            "events/s",
            goal="≥ 20000",
            met=replay_rate >= 20_000,
        ),
    ]
    details = {
        "entries": total,
        "load_seconds": load_seconds,
        "raw_sql_p99_ms": p(sql, 99) * 1000,
        "replay": outcome,
    }
    return figures, details


def run() -> tuple[list[Figure], dict[str, Any]]:
    total = int(os.environ.get("WASTEX_BENCH_ENTRIES", "1000000"))
    with postgresql_databases(["ledger"]) as urls, running_stack(urls) as stack:
        return asyncio.run(_measure(stack, urls["ledger"], total))
