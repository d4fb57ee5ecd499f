"""Sites are read once per database (both databases): a site changes only by an amendment,
which raises a count every transaction reads, so while the count stays, what a committed
transaction read is served to later ones without a query; a site from a transaction that
rolled back is never served. An amendment read by another process: test_site_amendments."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from wastex_catalog.adapters.repository import CatalogRepository
from wastex_catalog.service import AddSite, CatalogService, RegisterEnterprise
from wastex_catalog.testing import DISTRICTS, unique_credit_code
from wastex_shared.storage import UnitOfWorkFactory


@contextmanager
def site_queries(uow_factory: UnitOfWorkFactory) -> Iterator[list[str]]:
    """The statements that read the sites table, as they run."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM sites" in statement:
            seen.append(statement)

    engine = uow_factory.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def add_site(uow_factory: UnitOfWorkFactory, *, commit: bool) -> str:
    service = CatalogService(districts=DISTRICTS)
    async with uow_factory() as uow:
        factory = await service.register_enterprise(
            uow,
            RegisterEnterprise("Wuhan Steel", unique_credit_code(), "C3120", "青山区", "FACTORY"),
        )
        site = await service.add_site(
            uow, AddSite(factory.entity.id, "works", "青山区", "30.64", "114.41")
        )
        # Read in the transaction that adds it, as a batch posting offers there would.
        assert await CatalogRepository(uow.session).site(site.entity.id) is not None
        if commit:
            await uow.commit()
        else:
            await uow.rollback()
    return site.entity.id


async def read_site(uow_factory: UnitOfWorkFactory, site_id: str) -> str | None:
    async with uow_factory() as uow:
        stored = await CatalogRepository(uow.session).site(site_id)
        await uow.commit()
    return stored.entity.enterprise_id if stored else None


async def test_a_committed_site_is_served_without_a_query(
    uow_factory: UnitOfWorkFactory,
) -> None:
    site_id = await add_site(uow_factory, commit=True)
    with site_queries(uow_factory) as queries:
        assert await read_site(uow_factory, site_id) is not None
        assert await read_site(uow_factory, site_id) is not None
    assert queries == []  # read by the transaction that added it, kept once it committed


async def test_a_site_rolled_back_is_never_served(uow_factory: UnitOfWorkFactory) -> None:
    site_id = await add_site(uow_factory, commit=False)
    with site_queries(uow_factory) as queries:
        assert await read_site(uow_factory, site_id) is None
    assert len(queries) == 1  # looked for, not taken from the transaction that was undone
