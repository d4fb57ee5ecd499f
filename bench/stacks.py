"""The whole stack for a bench: started on free ports in a temporary directory, on the
embedded SQLite default or on PostgreSQL databases made for the run, and gone afterwards."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from tempfile import TemporaryDirectory

from wastex_cli.stack import Ports, Stack
from wastex_shared.testing.plugin import PG_SERVER, create_pg_database, drop_pg_database


@contextmanager
def postgresql_databases(services: Iterable[str]) -> Iterator[dict[str, str]]:
    """A fresh PostgreSQL database for each of `services` (service → URL), dropped after."""
    names = {service: asyncio.run(create_pg_database()) for service in services}
    try:
        yield {service: f"{PG_SERVER}/{name}" for service, name in names.items()}
    finally:
        for name in names.values():
            asyncio.run(drop_pg_database(name))


@contextmanager
def running_stack(database_urls: dict[str, str] | None = None) -> Iterator[Stack]:
    """Broker, services and gateway started; services not in `database_urls` on SQLite."""
    with TemporaryDirectory() as tmp:
        ports = Ports.free()
        stack = Stack(
            ports=ports,
            data_dir=Path(tmp) / "data",
            run_dir=Path(tmp) / "run",
            database_urls=database_urls or {},
        )
        stack.start()
        try:
            yield stack
        finally:
            stack.stop()
