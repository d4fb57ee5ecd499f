"""Checks every subgraph's subscriptions must pass, on a stream fed by a live hub."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from wastex_shared.envelope import Envelope
from wastex_shared.messaging.live import LiveHub


async def ends_at_the_first_event_after_expiry(
    stream: AsyncIterator[Any], hub: LiveHub, topic: str, envelope: Envelope, ttl: float
) -> None:
    """`stream` (a subscription whose token lasts `ttl` seconds, listening on `topic` of
    `hub`) pushes `envelope` while the token holds, and ends with UNAUTHENTICATED at the
    first event after it expired."""
    first = asyncio.ensure_future(anext(stream))
    while not hub.subscribers(topic):
        await asyncio.sleep(0.01)
    hub.publish(topic, envelope)
    assert (await asyncio.wait_for(first, 5)).errors is None  # in time: pushed
    await asyncio.sleep(ttl + 0.1)
    after = asyncio.ensure_future(anext(stream))
    hub.publish(topic, envelope)
    ended = await asyncio.wait_for(after, 5)
    assert ended.errors is not None
    assert ended.errors[0].extensions == {"code": "UNAUTHENTICATED"}
