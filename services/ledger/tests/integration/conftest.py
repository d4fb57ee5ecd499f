"""Fixtures for the ledger's integration tests: the service on a migrated database, on
SQLite and PostgreSQL (`database_url`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from wastex_ledger.testing import Harness, harness, migrated
from wastex_shared.storage import UnitOfWorkFactory


@pytest.fixture
async def uow_factory(database_url: str) -> AsyncIterator[UnitOfWorkFactory]:
    async with migrated(database_url) as uow:
        yield uow


@pytest.fixture
def ledger(uow_factory: UnitOfWorkFactory) -> Harness:
    return harness(uow_factory)
