"""A batch of catalog events is written as a few statements whatever its size. Both databases.

Each posting writes two tables (the listing and its status); queued rows run as one
executemany per table. Before, the rows alternated between the two statements and ran one
by one, and the status upsert's NOT IN list could not run as an executemany at all, so a
batch was redone with a savepoint per message: ~6× slower under a steady feed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from wastex_matching.testing import QINGSHAN_STEEL, Catalog
from wastex_shared.messaging import EventConsumer
from wastex_shared.storage import UnitOfWorkFactory

from .test_reoptimisation import seed_market


async def test_a_batch_of_postings_is_a_few_statements_not_a_few_per_posting(
    consumer: EventConsumer, catalog: Catalog, uow_factory: UnitOfWorkFactory
) -> None:
    await seed_market(catalog, consumer)
    statements: list[str] = []

    def note(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        statements.append(statement.lstrip().split(None, 1)[0].upper())

    engine = uow_factory.engine.sync_engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        postings = [
            catalog.offer(f"slag-{i}", "steel", "steel-site", QINGSHAN_STEEL) for i in range(2, 42)
        ]
        await catalog.feed(consumer, *postings)
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert (consumer.stats.handled, consumer.stats.dead_lettered) == (47, 0)
    assert "SAVEPOINT" not in statements
    # The inbox look-up, the market version, the two projection tables, the inbox marks.
    assert statements.count("INSERT") <= 5, statements
