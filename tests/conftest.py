"""End-to-end fixtures: the whole stack started as `make run` starts it, its district
register Wuhan's and the e2e modules' own districts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from wastex_cli.stack import Ports, Stack
from wastex_shared.codes.district_file import packaged_text

#: A district of each e2e module's own, so that what one module's regulators see and its
#: district figures hold no other module's records. The modules name them as written here.
E2E_DISTRICTS = ("矩阵X区", "矩阵Y区", "限额区", "模糊区")


def e2e_register(path: Path) -> Path:
    """Wuhan's register with the e2e districts added, as a city's own file would be."""
    rows = "".join(f"{name},functional_zone,,e2e test district\n" for name in E2E_DISTRICTS)
    path.write_text(packaged_text() + rows, "utf-8")
    return path


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root: Path = tmp_path_factory.mktemp("stack")
    districts = e2e_register(root / "districts.csv")
    running = Stack(
        ports=Ports.free(),
        data_dir=root / "data",
        run_dir=root / "run",
        extra_env={
            "WASTEX_DISTRICTS_FILE": str(districts),
            # A revocation calls off what it cuts at once (the walking skeleton shows it).
            "WASTEX_LEDGER_REVOCATION_GRACE_DAYS": "0",
        },
    )
    running.start()
    try:
        yield running
    finally:
        running.stop()
