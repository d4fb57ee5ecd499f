"""pytest plugin (loaded by the root pytest config): real infrastructure for tests.

- `kafka_bootstrap`: a tansu broker on a free port for this test session, with topics made.
- `module_kafka_bootstrap`: a broker of the test module's own, for tests whose processes
  read whole topics from offset 0 (a session broker carries every other test's events).
- `empty_broker`: a broker of the test's own with nothing on it (a setting naming another
  cluster than the city's).
- `database_url`: a fresh database per test, parametrised over SQLite (temp file) and
  PostgreSQL (a database created for the test and dropped after). PostgreSQL is expected
  on 127.0.0.1:5432 (`WASTEX_TEST_PG` overrides); `.ci/run` starts it when it is down.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from wastex_shared.devtools.tansu import TansuBroker, free_port
from wastex_shared.messaging.admin import ensure_topics, wait_for_broker

PG_SERVER = os.environ.get("WASTEX_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432")


@contextmanager
def _broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TansuBroker]:
    log = tmp_path_factory.mktemp("tansu") / "tansu.log"
    broker = TansuBroker(port=free_port(), log_path=log)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


async def _ready(broker: TansuBroker) -> str:
    await wait_for_broker(broker.bootstrap)
    await ensure_topics(broker.bootstrap)
    return broker.bootstrap


@pytest.fixture(scope="session")
def tansu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TansuBroker]:
    with _broker(tmp_path_factory) as broker:
        yield broker


@pytest.fixture(scope="session")
async def kafka_bootstrap(tansu: TansuBroker) -> str:
    return await _ready(tansu)


@pytest.fixture(scope="module")
async def module_kafka_bootstrap(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[str]:
    with _broker(tmp_path_factory) as broker:
        yield await _ready(broker)


@pytest.fixture
async def empty_broker(tmp_path: Path) -> AsyncIterator[str]:
    """Another broker, every topic empty: a WASTEX_KAFKA_BOOTSTRAP left at its default on a
    machine running a broker of its own, or naming the wrong cluster."""
    broker = TansuBroker(port=free_port(), log_path=tmp_path / "empty-tansu.log")
    broker.start()
    try:
        await wait_for_broker(broker.bootstrap)
        yield broker.bootstrap
    finally:
        broker.stop()


async def create_pg_database() -> str:
    name = f"wx_test_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
    return name


async def drop_pg_database(name: str) -> None:
    admin = create_async_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


async def terminate_backends(conn: AsyncConnection, pids: Iterable[int]) -> None:
    """End these PostgreSQL sessions and wait until they have exited: terminating only
    signals a backend, and its session locks go when it is gone."""
    pids = list(pids)
    for pid in pids:
        await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    alive = text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)")
    for _ in range(100):
        still = await conn.scalar(alive, {"pids": pids})
        await conn.commit()  # a fresh snapshot of pg_stat_activity for the next look
        if not still:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"backends {pids} still there 5 s after being terminated")


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database for one test, on each storage engine."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    name = await create_pg_database()
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        await drop_pg_database(name)
