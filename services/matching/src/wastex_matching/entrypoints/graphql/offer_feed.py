"""The offer subscriptions' feed: other enterprises' offers whose code the subscriber's
licences valid today permit (optionally only the codes it asked for), pushed as references
the gateway resolves at the catalog with the subscriber's token.

What an event says of its offer is read by a `Reader` per event type; the rest (who may
subscribe, the code filter, the subscriber's own offers left out, an offer's facts read
older than one already seen left out, the licences read again at most every
`LICENCE_REFRESH_SECONDS`, the end at the token's expiry) is the same for every offer
subscription.
"""

from __future__ import annotations

import asyncio
import math
from collections import OrderedDict
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import strawberry

from wastex_matching.domain.model import LicenceView
from wastex_matching.entrypoints.graphql import policy
from wastex_matching.entrypoints.graphql.types import OfferClosedType, OfferClosureType, OfferRef
from wastex_matching.entrypoints.graphql.wiring import services
from wastex_matching.service import MatchingService
from wastex_shared.events.catalog import OfferAmended, OfferPosted, OfferUpdated, OfferWithdrawn
from wastex_shared.graphql.context import Info
from wastex_shared.graphql.live import Decoder, signed_in_events, subscriber, topics_of

#: How long an offer subscription judges offers by the licences it last read.
LICENCE_REFRESH_SECONDS: Final = 5.0


@dataclass(frozen=True, slots=True)
class Sighting:
    """An offer an event tells of: its owner, its status and version after the event, and
    its code when the event carries it (events published before the catalog put it on
    every offer fact did not)."""

    offer_id: str
    enterprise_id: str
    status: str
    version: int
    waste_code: str | None = None


#: What an event's data says of its offer; None: nothing a subscriber is told of.
Reader = Decoder[Sighting]


#: The statuses in which the catalog shows another enterprise's offer (in the public view).
#: Off the market (WITHDRAWN, EXPIRED, FULLY_MATCHED) it shows the offer only to its owner,
#: its regulators and the holders of its accepted matches: a reference pushed then would
#: resolve to NOT_AUTHORIZED for the subscriber, so such a change is pushed by `offerClosed`
#: as an id and a status, not by `offerChanged`.
ON_THE_MARKET: Final = frozenset({"OPEN", "PARTIALLY_MATCHED"})


def _posted(data: Mapping[str, Any]) -> Sighting:
    offer = OfferPosted.model_validate(data)
    return Sighting(
        offer.offer_id, offer.enterprise_id, offer.status, offer.version, offer.waste_code
    )


def _amended(data: Mapping[str, Any]) -> Sighting:
    offer = OfferAmended.model_validate(data)
    return Sighting(
        offer.offer_id, offer.enterprise_id, offer.status, offer.version, offer.waste_code
    )


def _updated(data: Mapping[str, Any]) -> Sighting:
    """Tonnes taken up or released by a match, expiry, or the offer rebuilt by a replay."""
    change = OfferUpdated.model_validate(data)
    return Sighting(
        change.offer_id, change.enterprise_id, change.status, change.version, change.waste_code
    )


def _withdrawn(data: Mapping[str, Any]) -> Sighting:
    offer = OfferWithdrawn.model_validate(data)
    return Sighting(
        offer.offer_id, offer.enterprise_id, offer.status, offer.version, offer.waste_code
    )


#: The statuses `offerClosed` pushes.
CLOSURES: Final = frozenset(closure.value for closure in OfferClosureType)

#: `offerPosted`: new offers.
POSTINGS: Final[Mapping[str, Reader]] = {"catalog.offer-posted": _posted}
#: `offerChanged` and `offerClosed`: every status these events leave an offer in. The first
#: pushes an offer on the market after it (still, or again); `Closures` tells of one when it
#: leaves the market, and again only with another status (a withdrawal of an offer fully
#: matched) or after it came back. Both read all three, so that a fact read late, older than
#: one seen, is known as such whichever status it tells of.
CHANGES: Final[Mapping[str, Reader]] = {
    "catalog.offer-amended": _amended,
    "catalog.offer-updated": _updated,
    "catalog.offer-withdrawn": _withdrawn,
}


class Latest:
    """The newest version of each offer one subscription has read: an offer's facts travel
    on several topics, which the live feed reads in no set order between them, so a fact
    may be read after a newer one (decision 019): it is no news, whatever it says."""

    #: Offers remembered; the oldest are forgotten past it (an older fact of one of them
    #: would then be taken as news: a repeat of what was once true).
    LIMIT: Final = 10_000

    def __init__(self) -> None:
        self._versions: OrderedDict[str, int] = OrderedDict()

    def newest(self, sighting: Sighting) -> bool:
        """Whether `sighting` is newer than every fact of its offer read before."""
        seen = self._versions.get(sighting.offer_id)
        if seen is not None and seen >= sighting.version:
            return False
        self._versions[sighting.offer_id] = sighting.version
        self._versions.move_to_end(sighting.offer_id)
        if len(self._versions) > self.LIMIT:
            self._versions.popitem(last=False)
        return True


class Closures:
    """What one `offerClosed` subscription told: an offer fully matched is updated again
    while off the market (its matches confirmed, cancelled …), which is no news."""

    #: Offers remembered; the oldest are forgotten past it (a repeat then is harmless).
    LIMIT: Final = 10_000

    def __init__(self) -> None:
        self._told: dict[str, str] = {}

    def news(self, sighting: Sighting) -> bool:
        if sighting.status not in CLOSURES:
            self._told.pop(sighting.offer_id, None)  # back on the market
            return False
        if self._told.get(sighting.offer_id) == sighting.status:
            return False
        self._told[sighting.offer_id] = sighting.status
        if len(self._told) > self.LIMIT:
            del self._told[next(iter(self._told))]
        return True


#: The topics the offer subscriptions other than `offerPosted` read (the live feed reads
#: them).
OFFER_CHANGES: Final = tuple(sorted(topics_of(CHANGES)))


class _Licences:
    """The subscriber's licences, read again at most every `LICENCE_REFRESH_SECONDS`, not
    for every offer: a new licence counts a moment late, the database is spared a read per
    event."""

    def __init__(self, matching: MatchingService, enterprise_id: str) -> None:
        self._matching = matching
        self._enterprise_id = enterprise_id
        self._clock = asyncio.get_running_loop().time
        self._licences: list[LicenceView] = []
        self._read_at = -math.inf

    async def permit(self, code: str) -> bool:
        if self._clock() - self._read_at > LICENCE_REFRESH_SECONDS:
            self._licences = await self._matching.licences_of(self._enterprise_id)
            self._read_at = self._clock()
        return policy.licences_permit(self._licences, code, self._matching.today())


async def pushed_offers(
    info: Info, waste_codes: list[str] | None, readers: Mapping[str, Reader]
) -> AsyncGenerator[OfferRef, None]:
    """References to the offers of `watched_offers` on the market after the event, for the
    gateway to resolve."""
    async for sighting in watched_offers(info, waste_codes, readers, ON_THE_MARKET):
        yield OfferRef(id=strawberry.ID(sighting.offer_id))


async def closed_offers(
    info: Info, waste_codes: list[str] | None
) -> AsyncGenerator[OfferClosedType, None]:
    """Offers of `watched_offers` that left the market: their id and why, once."""
    closures = Closures()
    async for sighting in watched_offers(info, waste_codes, CHANGES):
        if closures.news(sighting):
            yield OfferClosedType(
                offer_id=strawberry.ID(sighting.offer_id),
                status=OfferClosureType(sighting.status),
            )


async def watched_offers(
    info: Info,
    waste_codes: list[str] | None,
    readers: Mapping[str, Reader],
    statuses: frozenset[str] | None = None,
) -> AsyncGenerator[Sighting, None]:
    """The offers the events of `readers` tell of that the subscriber (a tenant) is to hear
    of, each newer than what was read of it before and in one of `statuses` after it (any
    if None); ends when its token expires. An offer whose event does not carry its code
    (one published before they all did) is looked up in matching's own store (`offer_code`,
    once a process), after the cheaper filters (one matching never heard of is left out)."""
    principal = subscriber(info.context)
    enterprise_id = policy.offer_watcher(principal)
    wanted = {code.strip().upper() for code in waste_codes} if waste_codes else None
    wiring = services(info)
    licences = _Licences(wiring.matching, enterprise_id)
    latest = Latest()
    async for sighting in signed_in_events(wiring.hub, principal, readers):
        if sighting.enterprise_id == enterprise_id or not latest.newest(sighting):
            continue
        if statuses is not None and sighting.status not in statuses:
            continue
        code = sighting.waste_code or await wiring.matching.offer_code(sighting.offer_id)
        if code is None or (wanted is not None and code not in wanted):
            continue
        if await licences.permit(code):
            yield sighting
