"""The matching subgraph: queries, mutations and subscriptions over matches."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from datetime import UTC, datetime
from typing import Final

import strawberry

from wastex_matching.adapters.repository import MatchRecord
from wastex_matching.domain.lifecycle import MatchStatus
from wastex_matching.entrypoints.graphql import offer_feed, policy
from wastex_matching.entrypoints.graphql.types import (
    DemandRef,
    MatchFilter,
    MatchPayload,
    MatchType,
    OfferClosedType,
    OfferRef,
    match_for,
)
from wastex_matching.entrypoints.graphql.wiring import services
from wastex_shared.envelope import holds_unstorable
from wastex_shared.errors import DomainError
from wastex_shared.events.matching import MatchAccepted, MatchFacts
from wastex_shared.graphql.connection import (
    Connection,
    connection,
    decode_cursor,
    page_size,
)
from wastex_shared.graphql.context import Info
from wastex_shared.graphql.errors import UserError
from wastex_shared.graphql.extensions import standard_extensions
from wastex_shared.graphql.live import signed_in_events, spec_of, subscriber, topics_of
from wastex_shared.graphql.scalars import SCALARS
from wastex_shared.storage.failures import retry_conflicts


def _cursor(record: MatchRecord) -> str:
    moment = record.proposed_at
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return f"{moment.isoformat()}|{record.id}"


def _after(cursor: str | None) -> tuple[datetime, str] | None:
    value = decode_cursor(cursor)
    if value is None:
        return None
    moment, sep, ident = value.partition("|")
    refused = DomainError("INVALID_CURSOR", "cursor is not one this API gave out", "after")
    # A position names a match: no id part, or one no database may hold (a NUL reached
    # PostgreSQL's driver: an internal error), is not one this API gave out.
    if not sep or not ident or holds_unstorable(ident):
        raise refused
    try:
        when = datetime.fromisoformat(moment)
        # In UTC here: a forged moment at the calendar's edge overflows now, not in the
        # database driver (an internal error on PostgreSQL).
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC), ident
    except (ValueError, OverflowError) as exc:
        raise refused from exc


@strawberry.type
class Query:
    @strawberry.field(description="Matches the caller may see, newest first.")
    async def matches(
        self,
        info: Info,
        filter: MatchFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[MatchType] | None:
        principal = policy.caller(info.context)
        enterprise_id = str(filter.enterprise_id) if filter and filter.enterprise_id else None
        scope = policy.list_scope(principal, enterprise_id)
        size = page_size(first)
        status = MatchStatus(filter.status.value) if filter and filter.status else None
        records, total = await services(info).matching.list_matches(
            scope,
            status=status,
            enterprise_id=enterprise_id,
            limit=size + 1,
            after=_after(after),
        )
        return connection(
            [match_for(principal, r) for r in records], [_cursor(r) for r in records], size, total
        )

    @strawberry.field(description="One match, if the caller may see it.")
    async def match(self, info: Info, id: strawberry.ID) -> MatchType | None:
        principal = policy.caller(info.context)
        record = await services(info).matching.get(str(id))
        return match_for(principal, policy.visible(principal, str(id), record))


async def _act(info: Info, match_id: str, reason: str | None) -> MatchPayload:
    try:
        principal = policy.caller(info.context)
        matching = services(info).matching
        record = policy.visible(principal, match_id, await matching.get(match_id))
        party = policy.acting_party(principal, record)
        if reason is None:
            updated = await retry_conflicts(lambda: matching.accept(match_id, party))
        else:
            updated = await retry_conflicts(lambda: matching.reject(match_id, party, reason))
    except DomainError as err:
        return MatchPayload(match=None, user_errors=[UserError.of(err)])
    return MatchPayload(match=match_for(principal, updated), user_errors=[])


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description=(
            "Accept a match as its supplier or recycler: the first acceptance holds the "
            "tonnes (ACCEPTED_BY_*), the second confirms it (CONFIRMED)."
        )
    )
    async def accept_match(self, info: Info, id: strawberry.ID) -> MatchPayload:
        return await _act(info, str(id), None)

    @strawberry.mutation(description="Turn a match down (before confirmation), with a reason.")
    async def reject_match(self, info: Info, id: strawberry.ID, reason: str) -> MatchPayload:
        return await _act(info, str(id), reason)


#: The match facts each subscription pushes, by event type (`wastex_shared.events`).
PROPOSALS: Final = ("matching.match-proposed",)
CHANGES: Final = (
    "matching.match-accepted",
    "matching.match-confirmed",
    "matching.match-rejected",
    "matching.match-expired",
    "matching.match-superseded",
    "matching.match-cancelled",
    "matching.match-shipped",
)


#: The topics of `CHANGES` (the live feed reads them).
MATCH_CHANGES: Final = topics_of(CHANGES)


def _told_by_its_confirmation(facts: MatchFacts) -> bool:
    """The acceptance that confirmed its match: `match-confirmed`, published with it, pushes
    that one change (each pushed, a party heard the same CONFIRMED match twice)."""
    return isinstance(facts, MatchAccepted) and facts.status == MatchStatus.CONFIRMED.value


async def _pushed_matches(
    info: Info, event_types: Sequence[str]
) -> AsyncGenerator[MatchType, None]:
    """The matches of the facts of `event_types` that the subscriber may see, read as they
    stand; ends when the subscriber's token expires."""
    principal = subscriber(info.context)
    wiring = services(info)
    decoders = {event_type: spec_of(event_type).model.model_validate for event_type in event_types}
    async for facts in signed_in_events(wiring.hub, principal, decoders):
        if not isinstance(facts, MatchFacts) or _told_by_its_confirmation(facts):
            continue
        if not policy.might_see(principal, facts):
            continue
        record = await wiring.matching.get(facts.match_id)
        if record is None or not policy.may_see(principal, record):
            continue
        yield match_for(principal, record)


@strawberry.type
class Subscription:
    @strawberry.subscription(description="New proposals the caller may see (parties: theirs).")
    async def match_proposed(self, info: Info) -> AsyncGenerator[MatchType, None]:
        async for match in _pushed_matches(info, PROPOSALS):
            yield match

    @strawberry.subscription(
        description=(
            "The caller's matches (all a regulator or admin may see) as their status changes: "
            "accepted by one side, confirmed, rejected, expired, superseded or cancelled (its "
            "shipment called off before it left), and once its shipment left (shippedTonnes); "
            "each pushed as it stands when read."
        )
    )
    async def match_changed(self, info: Info) -> AsyncGenerator[MatchType, None]:
        async for match in _pushed_matches(info, CHANGES):
            yield match

    @strawberry.subscription(
        description=(
            "Offers posted from now on whose code the caller's licences valid today permit "
            "(optionally only these codes)."
        )
    )
    async def offer_posted(
        self, info: Info, waste_codes: list[str] | None = None
    ) -> AsyncGenerator[OfferRef, None]:
        async for offer in offer_feed.pushed_offers(
            info, waste_codes, offer_feed.POSTINGS, offer_feed.posted_on_the_market
        ):
            yield offer

    @strawberry.subscription(
        description=(
            "Offers whose code the caller's licences valid today permit, each time they "
            "change after posting while on the market: amended, or tonnes taken up or "
            "released by matches (optionally only these codes); each pushed as it stands "
            "when read. A change that takes an offer off the market (withdrawn, expired, "
            "fully matched) is pushed by offerClosed instead: other enterprises may no "
            "longer read the offer; one that brings it back is pushed here."
        )
    )
    async def offer_changed(
        self, info: Info, waste_codes: list[str] | None = None
    ) -> AsyncGenerator[OfferRef, None]:
        async for offer in offer_feed.pushed_offers(
            info, waste_codes, offer_feed.CHANGES, offer_feed.changed_on_the_market
        ):
            yield offer

    @strawberry.subscription(
        description=(
            "Offers whose code the caller's licences valid today permit (optionally only "
            "these codes) as they leave the market: withdrawn, expired or fully matched; "
            "each as its id and why, since other enterprises may no longer read it."
        )
    )
    async def offer_closed(
        self, info: Info, waste_codes: list[str] | None = None
    ) -> AsyncGenerator[OfferClosedType, None]:
        async for closed in offer_feed.closed_offers(info, waste_codes):
            yield closed


schema = strawberry.federation.Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    types=[OfferRef, DemandRef, MatchType],
    federation_version="2.9",
    extensions=standard_extensions(),
    scalar_overrides=SCALARS,
)
