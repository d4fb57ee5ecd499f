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
E2E_DISTRICTS = ("矩阵X区", "矩阵Y区", "限额区", "模糊区", "跨站区")


def e2e_register(path: Path) -> Path:
    """Wuhan's register with the e2e districts added, as a city's own file would be."""
    rows = "".join(f"{name},functional_zone,,e2e test district\n" for name in E2E_DISTRICTS)
    path.write_text(packaged_text() + rows, "utf-8")
    return path


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The reliability suite last, whatever order the paths were given in (or --ff/--lf
    chose): it stops the e2e modules' stack for good before starting its own."""
    items.sort(key=lambda item: "reliability" in item.path.parts)


class E2EStack:
    """The e2e modules' stack: started for the first that asks, stopped when the
    reliability suite starts its own (an idle stack's consumers polling its broker take a
    share of the CPU a broker restart's recovery needs on a two-core machine) or at the
    session's end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.running: Stack | None = None
        self.closed = False

    def get(self) -> Stack:
        if self.closed:
            raise RuntimeError("the e2e stack was stopped (the reliability suite runs last)")
        if self.running is None:
            running = Stack(
                ports=Ports.free(),
                data_dir=self.root / "data",
                run_dir=self.root / "run",
                extra_env={
                    "WASTEX_DISTRICTS_FILE": str(e2e_register(self.root / "districts.csv")),
                    # A revocation calls off what it cuts at once (the walking skeleton).
                    "WASTEX_LEDGER_REVOCATION_GRACE_DAYS": "0",
                },
            )
            running.start()
            self.running = running
        return self.running

    def stop(self) -> None:
        """For good: no module may start it again beside the reliability stacks."""
        self.closed = True
        running, self.running = self.running, None
        if running is not None:
            running.stop()


@pytest.fixture(scope="session")
def e2e_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2EStack]:
    holder = E2EStack(tmp_path_factory.mktemp("stack"))
    try:
        yield holder
    finally:
        holder.stop()


@pytest.fixture(scope="module")
def stack(e2e_stack: E2EStack) -> Stack:
    """The whole stack as `make run` starts it, shared by the e2e modules."""
    return e2e_stack.get()
