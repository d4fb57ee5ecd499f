"""A router's subscribers served on the real broker for the length of a block."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from faststream.kafka import KafkaBroker, KafkaRouter

from wastex_shared.runtime import make_broker


@asynccontextmanager
async def serving(bootstrap: str, router: KafkaRouter) -> AsyncIterator[KafkaBroker]:
    """`router` included in a broker of `bootstrap`, as a service's runtime includes it,
    started while inside and stopped after, also on error."""
    broker = make_broker(bootstrap)
    broker.include_router(router)
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()
