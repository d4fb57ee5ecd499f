"""The stack under test: the same processes `make run` starts, on free ports, with
PostgreSQL databases created for the run and, for broker restarts, tansu on s3 storage
kept by a `moto_server` process that outlives the broker (broker-notes.md)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import text

from wastex_cli.stack import REPO, SERVICES, Ports, Stack
from wastex_shared.devtools.tansu import TansuBroker, free_port, port_open

PG_SERVER = os.environ.get("WASTEX_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432")


def pg_available(server: str = PG_SERVER) -> bool:
    host_port = server.rsplit("@", 1)[-1].split("/", 1)[0]
    host, _, port = host_port.partition(":")
    return port_open(int(port or 5432), host or "127.0.0.1")


def _admin_execute(statements: list[str], server: str = PG_SERVER) -> list[object]:
    """Run statements on the server's `postgres` database (AUTOCOMMIT), from sync code."""
    import asyncio

    from sqlalchemy.ext.asyncio import create_async_engine

    async def run() -> list[object]:
        engine = create_async_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
        results: list[object] = []
        try:
            async with engine.connect() as conn:
                for statement in statements:
                    result = await conn.execute(text(statement))
                    results.append(result.rowcount)
        finally:
            await engine.dispose()
        return results

    return asyncio.run(run())


@dataclass
class Databases:
    """One PostgreSQL database per service, created for this run and dropped after."""

    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    server: str = PG_SERVER

    def name(self, service: str) -> str:
        return f"wx_chaos_{self.tag}_{service}"

    @property
    def names(self) -> list[str]:
        return [self.name(s) for s in SERVICES]

    def urls(self) -> dict[str, str]:
        return {s: f"{self.server}/{self.name(s)}" for s in SERVICES}

    def create(self) -> None:
        _admin_execute([f'CREATE DATABASE "{n}"' for n in self.names], self.server)

    def drop(self) -> None:
        _admin_execute(
            [f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)' for n in self.names], self.server
        )


@dataclass
class MotoServer:
    """An S3 endpoint for tansu's s3:// storage, in its own process (it outlives brokers)."""

    port: int = field(default_factory=free_port)
    bucket: str = "tansu"
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def broker_env(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": "chaos",
            "AWS_SECRET_ACCESS_KEY": "chaos",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT": self.endpoint,
            "AWS_ALLOW_HTTP": "true",
        }

    @property
    def storage(self) -> str:
        return f"s3://{self.bucket}/"

    def start(self, timeout: float = 30.0) -> None:
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("moto_server did not start")
            time.sleep(0.1)
        # moto does not check signatures: a plain PUT makes the bucket.
        httpx.put(f"{self.endpoint}/{self.bucket}", timeout=10).raise_for_status()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self.process = None


@dataclass
class ChaosStack(Stack):
    """`Stack` whose broker may keep its log on s3 storage and be restarted."""

    broker_storage: str = "memory://tansu/"
    broker_env: dict[str, str] = field(default_factory=dict)

    def start(self, timeout: float = 120.0) -> None:
        # Stack.start with the broker's storage chosen here (Stack always uses memory).
        self.check_ports_free()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.start_broker()
            # Made here once, before the services race to make them (on a slow machine with
            # s3 storage, their concurrent CreateTopics time out and a service exits).
            asyncio.run(prepare_topics(self.bootstrap))
            for service in SERVICES:
                self._spawn(service, [sys.executable, "-m", f"wastex_{service}"])
            for service in SERVICES:
                self._wait_healthy(service, f"{self.service_url(service)}/healthz", timeout)
            self.restart("gateway", timeout)
        except BaseException:
            self.stop()
            raise

    def start_broker(self) -> None:
        self.broker = TansuBroker(
            self.ports.broker,
            storage=self.broker_storage,
            log_path=self.run_dir / "tansu.log",
            env=self.broker_env,
        )
        self.broker.start()

    def kill_broker(self) -> None:
        """SIGKILL the broker (its log survives only on s3 storage)."""
        assert self.broker is not None
        assert self.broker.process is not None
        os.killpg(self.broker.process.pid, signal.SIGKILL)
        self.broker.process.wait(10)
        self.broker.process = None
        deadline = time.monotonic() + 10
        while port_open(self.ports.broker) and time.monotonic() < deadline:
            time.sleep(0.05)

    def pids(self) -> dict[str, int]:
        found = {name: p.pid for name, p in self.processes.items() if p.poll() is None}
        if self.broker is not None and self.broker.process is not None:
            found["broker"] = self.broker.process.pid
        return found


async def prepare_topics(bootstrap: str, timeout: float = 120.0) -> None:
    """Every topic, with its final partition count, retried until the broker answers."""
    from wastex_shared.messaging.admin import ensure_topics, wait_for_broker

    deadline = time.monotonic() + timeout
    await wait_for_broker(bootstrap, timeout)
    while True:
        try:
            await ensure_topics(bootstrap)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(1.0)


def compose_supergraph(directory: Path) -> Path:
    """Compose a supergraph from the services' current code into `directory` (for runs
    while the committed gateway/supergraph.graphql lags behind the subgraphs)."""
    from wastex_cli.dev import subgraph_sdls

    subgraphs = directory / "subgraphs"
    subgraphs.mkdir(parents=True, exist_ok=True)
    for name, sdl in subgraph_sdls().items():
        (subgraphs / name).write_text(sdl)
    out = directory / "supergraph.graphql"
    env = {**os.environ, "WASTEX_SUBGRAPH_DIR": str(subgraphs), "WASTEX_SUPERGRAPH": str(out)}
    subprocess.run(
        ["node", str(REPO / "gateway" / "compose.mjs")],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out


@contextmanager
def chaos_stack(
    root: Path,
    *,
    postgres: bool = True,
    s3_broker: bool = False,
    fresh_supergraph: bool | None = None,
) -> Iterator[ChaosStack]:
    """Start the stack under `root`, yield it, and tear everything down (databases too)."""
    root.mkdir(parents=True, exist_ok=True)
    if fresh_supergraph is None:
        fresh_supergraph = os.environ.get("WASTEX_CHAOS_COMPOSE", "") == "1"
    extra_env: dict[str, str] = {
        # A report naming a site the ledger never hears of waits for it (decision 029), a
        # day by default: the poison run's unknown site is parked within seconds instead.
        "WASTEX_LEDGER_REPORT_WAIT_HOURS": "0.001",
        "WASTEX_LEDGER_REPORT_WAIT_SWEEP_SECONDS": "1",
    }
    if s3_broker:
        # The services' 10 ms fetch wait is shorter than tansu on s3 takes to read a
        # partition: after a broker restart (cold) their fetches come back empty for
        # minutes. 500 ms (the Kafka default) lets tansu answer with what is there.
        for service in ("catalog", "matching", "ledger"):
            extra_env[f"WASTEX_{service.upper()}_FETCH_MAX_WAIT_MS"] = "500"
    if fresh_supergraph:
        extra_env["WASTEX_SUPERGRAPH"] = str(compose_supergraph(root / "gateway"))
    databases = Databases() if postgres else None
    moto = MotoServer(log_path=root / "moto.log") if s3_broker else None
    stack = ChaosStack(
        ports=Ports.free(),
        data_dir=root / "data",
        run_dir=root / "run",
        database_urls=databases.urls() if databases else {},
        extra_env=extra_env,
    )
    try:
        if databases:
            databases.create()
        if moto:
            moto.start()
            stack.broker_storage, stack.broker_env = moto.storage, moto.broker_env
        stack.start()
        yield stack
    finally:
        stack.stop()
        if moto:
            moto.stop()
        if databases:
            databases.drop()


class PgAdmin:
    """An AUTOCOMMIT connection pool on the server's `postgres` database (async)."""

    def __init__(self, server: str = PG_SERVER) -> None:
        from sqlalchemy.ext.asyncio import create_async_engine

        self.engine = create_async_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")

    async def terminate_backends(self, names: list[str]) -> int:
        """Kill every server process serving `names` (what a PostgreSQL crash does to its
        clients); returns how many were terminated."""
        async with self.engine.connect() as conn:
            result = await conn.execute(
                text(
                    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) "
                    "FROM pg_stat_activity WHERE datname = ANY(:names) "
                    "AND pid <> pg_backend_pid()"
                ),
                {"names": names},
            )
            return int(result.scalar_one())

    async def close(self) -> None:
        await self.engine.dispose()
