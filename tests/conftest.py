"""End-to-end fixtures: the whole stack started exactly as `make run` starts it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from wastex_cli.stack import Ports, Stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root: Path = tmp_path_factory.mktemp("stack")
    running = Stack(ports=Ports.free(), data_dir=root / "data", run_dir=root / "run")
    running.start()
    try:
        yield running
    finally:
        running.stop()
