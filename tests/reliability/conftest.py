"""The reliability suite's fixtures, started the way `make chaos` starts them: a stack
(PostgreSQL databases made for the run when PostgreSQL is up) with a city and a load
generator on it.

Two kinds of stack, never both at once nor beside the e2e modules' stack (the machine may
have two cores):
- `chaos`: tansu on memory storage, for everything but the broker's own restart;
- `s3_chaos`: tansu on s3 storage kept by a moto_server, so the broker can be killed and
  started again with its log. tansu on s3 answers a few dozen storage requests a second,
  so this one carries a small city and a light load, and its tests run last.

The suite's machinery lives in `bench/chaos*.py` (shared with `make chaos`); the repository
root is put on `sys.path` so `bench` imports under pytest's importlib mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.chaos import Session, session  # noqa: E402
from bench.chaos_stack import chaos_stack, pg_available  # noqa: E402

if TYPE_CHECKING:
    from tests.conftest import E2EStack

#: Session settings per stack kind (the s3 broker is slow: a small city, a light load).
KINDS: dict[str, dict[str, float | int]] = {
    "memory": {"rate": 15.0, "max_deals": 12},
    "s3": {"rate": 4.0, "max_deals": 2, "factories": 2, "recyclers": 1},
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "reliability: crashes, restarts, replay and poison (tests/reliability)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests on the s3 stack after all others, so each kind of stack starts once."""
    items.sort(key=lambda item: "s3_chaos" in getattr(item, "fixturenames", ()))


class Stacks:
    """Hands out a running session on a stack of the asked kind; the other kind, when
    running, is stopped first."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.kind: str | None = None
        self.current: Session | None = None
        self._exits: contextlib.AsyncExitStack | None = None

    async def session(self, kind: str) -> Session:
        if self.kind == kind and self.current is not None:
            return self.current
        await self.close()
        exits = contextlib.AsyncExitStack()
        try:
            stack_cm = chaos_stack(
                self.root / kind, postgres=pg_available(), s3_broker=kind == "s3"
            )
            # Starting and stopping a stack blocks (and runs event loops of its own).
            stack = await asyncio.to_thread(stack_cm.__enter__)
            exits.push_async_callback(asyncio.to_thread, stack_cm.__exit__, None, None, None)
            settings = KINDS[kind]
            self.current = await exits.enter_async_context(
                session(
                    stack,
                    rate=float(settings["rate"]),
                    max_deals=int(settings["max_deals"]),
                    factories=int(settings.get("factories", 4)),
                    recyclers=int(settings.get("recyclers", 2)),
                )
            )
        except BaseException:
            await exits.aclose()
            raise
        self.kind, self._exits = kind, exits
        return self.current

    async def close(self) -> None:
        exits, self._exits, self.kind, self.current = self._exits, None, None, None
        if exits is not None:
            await exits.aclose()


@pytest.fixture(scope="session")
async def stacks(
    tmp_path_factory: pytest.TempPathFactory, e2e_stack: E2EStack
) -> AsyncIterator[Stacks]:
    # One stack at a time: the e2e modules' stack, idle by now, is stopped first.
    await asyncio.to_thread(e2e_stack.stop)
    running = Stacks(tmp_path_factory.mktemp("reliability"))
    try:
        yield running
    finally:
        await running.close()


@pytest.fixture(scope="module")
async def chaos(stacks: Stacks) -> Session:
    """A session on the stack with tansu on memory storage."""
    return await stacks.session("memory")


@pytest.fixture(scope="module")
async def s3_chaos(stacks: Stacks) -> Session:
    """A session on the stack with tansu on s3 storage (its broker can be restarted)."""
    return await stacks.session("s3")
