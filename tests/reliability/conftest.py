"""The reliability suite's fixtures: one stack for the whole package, started the way
`make chaos` starts it (PostgreSQL databases made for the run when PostgreSQL is up,
tansu on s3 storage kept by a moto_server so the broker can be restarted), and one city
with a load generator on it.

The suite's machinery lives in `bench/chaos*.py` (shared with `make chaos`); the repository
root is put on `sys.path` so `bench` imports under pytest's importlib mode.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.chaos import Session, session  # noqa: E402
from bench.chaos_stack import ChaosStack, chaos_stack, pg_available  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "reliability: crashes, restarts, replay and poison (tests/reliability)"
    )


@pytest.fixture(scope="session")
def reliability_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChaosStack]:
    root = tmp_path_factory.mktemp("reliability")
    with chaos_stack(root, postgres=pg_available(), s3_broker=True) as stack:
        yield stack


@pytest.fixture(scope="session")
async def chaos(reliability_stack: ChaosStack) -> AsyncIterator[Session]:
    async with session(reliability_stack, rate=15.0, max_deals=12) as running:
        yield running
