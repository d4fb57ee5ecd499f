"""Service processes: the garbage collector tuned at start-up; faststream's own failures logged."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from wastex_shared.runtime import make_broker, start_up_problem, tune_garbage_collector
from wastex_shared.settings import ServiceSettings


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_gc")
def test_start_up_objects_are_frozen_and_young_collections_are_rarer() -> None:
    gc.unfreeze()
    _, middle, old = gc.get_threshold()
    tune_garbage_collector(ServiceSettings().gc_young_threshold)
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (50_000, middle, old)


async def test_a_failure_inside_faststream_reaches_the_log(
    kafka_bootstrap: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Such failures happen before our consumer runs, so only faststream can report them."""
    topic = f"t-{uuid.uuid4().hex[:8]}"
    broker = make_broker(kafka_bootstrap)

    async def broken_parser(message: Any, original: Any) -> Any:
        raise ValueError("cannot parse this")

    seen = asyncio.Event()

    @broker.subscriber(
        topic,
        group_id=f"g{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        parser=broken_parser,
    )
    async def handle(body: bytes) -> None:  # never reached
        seen.set()

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"anything")
    finally:
        await producer.stop()
    with caplog.at_level(logging.INFO, logger="faststream"):
        await broker.start()
        try:
            async with asyncio.timeout(20):
                while not any(r.levelno >= logging.ERROR for r in caplog.records):
                    await asyncio.sleep(0.05)
        finally:
            await broker.stop()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "cannot parse this" in repr(errors[0].exc_info)
    assert not seen.is_set()
    # What faststream logs per message ("Received", "Processed") stays at DEBUG.
    assert not [r for r in caplog.records if r.levelno < logging.ERROR and "Received" in r.message]


@pytest.mark.parametrize(
    ("host", "secret", "public_key", "refused"),
    [
        ("127.0.0.1", None, None, False),
        ("localhost", None, None, False),
        ("::1", None, None, False),
        ("0.0.0.0", None, None, True),
        ("10.1.2.3", None, None, True),
        ("catalog.internal", None, None, True),
        ("0.0.0.0", "a-secret-of-this-deployment-0123456789abcdef", None, False),
        ("0.0.0.0", None, "RSA public key", False),
        ("127.0.0.1 kafka-1:9092,kafka-2:9092", None, None, True),
        ("127.0.0.1 127.0.0.1:9092,[::1]:9093", None, None, False),
        ("127.0.0.1 kafka-1:9092", "a-secret-of-this-deployment-0123456789abcdef", None, False),
        # Shorter than 32 bytes: found offline from any one token.
        ("0.0.0.0", "s3cret-of-31-bytes-xxxxxxxxxxxx", None, True),
        ("127.0.0.1 kafka-1:9092", "short", None, True),
        ("127.0.0.1", "short", None, False),  # a local stack may
        ("0.0.0.0", "s3cret-of-32-bytes-xxxxxxxxxxxxx", None, False),
    ],
)
def test_the_published_dev_secret_is_refused_beyond_loopback(
    host: str, secret: str | None, public_key: str | None, refused: bool
) -> None:
    """The dev secret is in this repository: a service reachable from other machines (over
    HTTP, or through a broker factories write to) would take anyone's admin token."""
    host, _, bootstrap = host.partition(" ")
    where: dict[str, Any] = {"host": host, "kafka_bootstrap": bootstrap or "127.0.0.1:9092"}
    settings = ServiceSettings(**where, jwt_public_key=public_key and rsa_public_key())
    if secret is not None:
        settings = ServiceSettings(**where, jwt_secret=secret)
    assert settings.forgeable_from_afar is refused


def rsa_public_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem.decode()


async def catalog_refusing_to_start(tmp_path: Path, **settings: str) -> bytes:
    """`python -m wastex_catalog` with no WASTEX_JWT_* but `settings`: it exits 2 before it
    listens or migrates (no database made); what it wrote to stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WASTEX_JWT_")}
    env |= {**settings, "WASTEX_DATA_DIR": str(tmp_path)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wastex_catalog", env=env, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    assert not os.listdir(tmp_path)  # no database made
    return stderr


async def test_a_service_forgetting_its_secret_does_not_start_beyond_loopback(
    tmp_path: Path,
) -> None:
    stderr = await catalog_refusing_to_start(tmp_path, WASTEX_CATALOG_HOST="0.0.0.0")
    assert b"WASTEX_JWT_SECRET" in stderr


async def test_a_service_given_an_empty_secret_does_not_start(tmp_path: Path) -> None:
    """`WASTEX_JWT_SECRET=$(cat /run/secrets/jwt)` with the file missing: the service ran and
    answered every authenticated request with an internal error."""
    stderr = await catalog_refusing_to_start(tmp_path, WASTEX_JWT_SECRET="")
    assert b"WASTEX_JWT_SECRET is set but empty" in stderr


async def test_a_service_given_settings_it_cannot_use_says_which_in_a_line_each(
    tmp_path: Path,
) -> None:
    """It stopped on pydantic's or a district file's traceback, or (a port of -5) went on
    to start; an operator reads which variable is wrong and why, and exit code 2."""
    stderr = await catalog_refusing_to_start(
        tmp_path,
        WASTEX_CATALOG_PORT="abc",
        WASTEX_DISTRICTS_FILE=str(tmp_path / "missing.csv"),
    )
    lines = stderr.decode().splitlines()
    assert [line.split("=")[0] for line in lines] == [
        "catalog: refusing to start: WASTEX_CATALOG_PORT",
        "catalog: refusing to start: WASTEX_DISTRICTS_FILE",
    ], lines
    assert "No such file" in lines[1]


async def test_a_service_whose_database_cannot_be_opened_says_so_in_one_line(
    tmp_path: Path,
) -> None:
    """It was uvicorn's "Application startup failed" after a traceback, exit code 3."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WASTEX_")}
    env["WASTEX_CATALOG_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path}/no/such/dir.db"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wastex_catalog", env=env, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1
    [line] = stderr.decode().splitlines()
    assert "catalog: refusing to start: cannot open the catalog database" in line
    assert line.endswith("check WASTEX_CATALOG_DATABASE_URL")


async def test_a_broker_that_does_not_answer_is_named_with_the_setting(tmp_path: Path) -> None:
    settings = ServiceSettings(data_dir=tmp_path, kafka_bootstrap="127.0.0.1:1")
    problem = await start_up_problem(settings, broker_wait=0.5)
    assert problem is not None
    assert problem.startswith("cannot reach the Kafka broker at 127.0.0.1:1 within 0.5 s")
    assert problem.endswith("check WASTEX_KAFKA_BOOTSTRAP")


async def test_a_service_whose_database_and_broker_answer_may_start(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    settings = ServiceSettings(data_dir=tmp_path, kafka_bootstrap=kafka_bootstrap)
    assert await start_up_problem(settings) is None
