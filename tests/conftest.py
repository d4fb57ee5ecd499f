"""End-to-end fixtures: the whole stack started exactly as `make run` starts it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from wastex_cli.stack import Ports, Stack
from wastex_shared.devtools.tansu import free_port


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root: Path = tmp_path_factory.mktemp("stack")
    ports = Ports(
        broker=free_port(),
        gateway=free_port(),
        catalog=free_port(),
        matching=free_port(),
        ledger=free_port(),
    )
    running = Stack(ports=ports, data_dir=root / "data", run_dir=root / "run")
    running.start()
    try:
        yield running
    finally:
        running.stop()
