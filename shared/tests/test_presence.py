"""A service's processes and a replay on its database: never both, on both databases."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from wastex_shared.errors import DomainError
from wastex_shared.storage.presence import alone_on, running_on


async def test_processes_of_a_service_run_together_and_a_replay_waits_for_none(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    first, second = engines
    async with running_on(first, "ledger"), running_on(second, "ledger"):
        with pytest.raises(DomainError) as refused:
            async with alone_on(second, "ledger"):
                pytest.fail("a replay beside a running ledger")
        assert refused.value.code == "SERVICE_RUNNING"
        async with alone_on(second, "catalog"):  # another service's name is another lock
            pass
    async with alone_on(second, "ledger"):  # all stopped: the replay goes ahead
        pass


async def test_a_service_starting_during_a_replay_waits_for_it(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    first, second = engines
    started = asyncio.Event()

    async def start() -> None:
        async with running_on(first, "ledger"):
            started.set()

    async with alone_on(second, "ledger"):
        starting = asyncio.create_task(start())
        await asyncio.sleep(1)  # the start has looked, and looked again
        assert not started.is_set()
    async with asyncio.timeout(10):
        await starting
    assert started.is_set()
