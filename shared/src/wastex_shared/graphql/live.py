"""What every subscription does, in every subgraph: who subscribes (the token checked in
the resolver, UNAUTHENTICATED without one), and its feed: the live hub's topics of the
event types it pushes, read while the subscriber's token holds, each event decoded by its
type's decoder (one that does not decode, or decodes to None, is nothing to push); the feed
ends with UNAUTHENTICATED when the token expires."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Iterable, Mapping
from typing import Any, TypeVar

from graphql import GraphQLError
from pydantic import ValidationError

from wastex_shared.auth import Principal
from wastex_shared.events import EventSpec, spec_for
from wastex_shared.graphql.context import Context
from wastex_shared.messaging.live import LiveHub

T = TypeVar("T")

#: What an event's data says, for one subscription; None: nothing to push.
Decoder = Callable[[Mapping[str, Any]], T | None]


def subscriber(context: Context) -> Principal:
    """The caller of a subscription; refused in the resolver (not at connection_init), so
    the error reaches the client through the gateway at once."""
    principal = context.principal  # a bad token raises UNAUTHENTICATED here
    if principal is None:
        raise GraphQLError(
            "sign in: send 'Authorization: Bearer <token>' in connection_init",
            extensions={"code": "UNAUTHENTICATED"},
        )
    return principal


def still_signed_in(principal: Principal) -> None:
    """Ends a subscription whose token has expired: the token is checked when the
    subscription starts, and a stream must not outlive it (its feed stops at the expiry)."""
    if principal.expired:
        raise GraphQLError(
            "the token has expired: subscribe again with a fresh one",
            extensions={"code": "UNAUTHENTICATED"},
        )


def spec_of(event_type: str) -> EventSpec:
    spec = spec_for(event_type)
    assert spec is not None, event_type
    return spec


def topics_of(event_types: Iterable[str]) -> tuple[str, ...]:
    """The topics the events of `event_types` travel on (the live feed must read them)."""
    return tuple(spec_of(event_type).topic.name for event_type in event_types)


async def signed_in_events(
    hub: LiveHub, principal: Principal, decoders: Mapping[str, Decoder[T]]
) -> AsyncGenerator[T, None]:
    """The decoded events of the decoders' types, from now until the token expires."""
    async with hub.subscription(*topics_of(decoders), until=principal.expires_at) as events:
        async for envelope in events:
            still_signed_in(principal)
            decode = decoders.get(envelope.type)
            if decode is None:
                continue
            try:
                decoded = decode(envelope.data)
            except ValidationError:
                continue
            if decoded is not None:
                yield decoded
    still_signed_in(principal)  # the feed stops when the token expires
