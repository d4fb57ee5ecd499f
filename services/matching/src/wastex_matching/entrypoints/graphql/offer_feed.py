"""The offer subscriptions' feed: other enterprises' offers whose code the subscriber's
licences valid today permit (optionally only the codes it asked for), pushed as references
the gateway resolves at the catalog with the subscriber's token.

What an event says of its offer is read by a `Reader` per event type; the rest (who may
subscribe, the code filter, the subscriber's own offers left out, an offer's facts read
older than one already seen left out (a posting: pushed once, unless a newer fact read
first took the offer off the market), the licences read again at most every
`LICENCE_REFRESH_SECONDS`, the end at the token's expiry) is the same for every offer
subscription.
"""

from __future__ import annotations

import asyncio
import math
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import strawberry

from wastex_matching.domain.model import LicenceView
from wastex_matching.entrypoints.graphql import policy
from wastex_matching.entrypoints.graphql.types import OfferClosedType, OfferClosureType, OfferRef
from wastex_matching.entrypoints.graphql.wiring import services
from wastex_matching.service import MatchingService
from wastex_shared.codes import known
from wastex_shared.events.catalog import OfferAmended, OfferPosted, OfferUpdated, OfferWithdrawn
from wastex_shared.graphql.context import Info
from wastex_shared.graphql.live import Decoder, signed_in_events, subscriber, topics_of

#: How long an offer subscription judges offers by the licences it last read.
LICENCE_REFRESH_SECONDS: Final = 5.0


@dataclass(frozen=True, slots=True)
class Sighting:
    """An offer an event tells of: its owner, its status and version after the event, and
    its code when the event carries it (events published before the catalog put it on
    every offer fact did not), and whether the event posted it."""

    offer_id: str
    enterprise_id: str
    status: str
    version: int
    waste_code: str | None = None
    posting: bool = False


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
        offer.offer_id,
        offer.enterprise_id,
        offer.status,
        offer.version,
        offer.waste_code,
        posting=True,
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
#: `offerPosted`: new offers; it reads their changes too, which the feed may read before
#: the posting (a withdrawal a moment after it: the reference would resolve to
#: NOT_AUTHORIZED, the catalog no longer showing the offer to others).
POSTINGS: Final[Mapping[str, Reader]] = {"catalog.offer-posted": _posted, **CHANGES}


@dataclass(frozen=True, slots=True)
class Reading:
    """One fact of an offer against what a subscription read of it before."""

    #: Newer than every fact of the offer read before.
    fresh: bool
    #: The status the newest fact read of the offer leaves it in (this one's, if fresh).
    standing: str
    #: The offer's posting, read for the first time.
    first_posting: bool


class Latest:
    """The newest fact of each offer one subscription has read: an offer's facts travel on
    several topics, which the live feed reads in no set order between them, so a fact may
    be read after a newer one (decision 019): it is no news, whatever it says, but for a
    posting, which is news once if the offer is still on the market."""

    #: Offers remembered; the oldest are forgotten past it (an older fact of one of them
    #: would then be taken as news: a repeat of what was once true).
    LIMIT: Final = 10_000

    def __init__(self) -> None:
        #: By offer: its newest fact read, and whether its posting was read.
        self._offers: OrderedDict[str, tuple[Sighting, bool]] = OrderedDict()

    def read(self, sighting: Sighting) -> Reading:
        """`sighting` against the facts of its offer read before; remembered."""
        newest, posted = self._offers.get(sighting.offer_id, (None, False))
        fresh = newest is None or sighting.version > newest.version
        if newest is None or fresh:
            newest = sighting
        first_posting = sighting.posting and not posted
        if fresh or first_posting:
            self._offers[sighting.offer_id] = (newest, posted or sighting.posting)
            self._offers.move_to_end(sighting.offer_id)
            if len(self._offers) > self.LIMIT:
                self._offers.popitem(last=False)
        return Reading(fresh, newest.status, first_posting)


#: Whether a subscription pushes a fact of an offer, read as `Reading` tells.
Judge = Callable[[Sighting, Reading], bool]


def posted_on_the_market(_: Sighting, reading: Reading) -> bool:
    """`offerPosted`: a posting, once, unless a newer fact took the offer off the market."""
    return reading.first_posting and reading.standing in ON_THE_MARKET


def changed_on_the_market(sighting: Sighting, reading: Reading) -> bool:
    """`offerChanged`: a change newer than what was read, after which the offer is on the
    market."""
    return reading.fresh and sighting.status in ON_THE_MARKET


def changed(_: Sighting, reading: Reading) -> bool:
    """`offerClosed` (before `Closures`): any change newer than what was read."""
    return reading.fresh


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
    info: Info, waste_codes: list[str] | None, readers: Mapping[str, Reader], judge: Judge
) -> AsyncGenerator[OfferRef, None]:
    """References to the offers of `watched_offers`, for the gateway to resolve."""
    async for sighting in watched_offers(info, waste_codes, readers, judge):
        yield OfferRef(id=strawberry.ID(sighting.offer_id))


async def closed_offers(
    info: Info, waste_codes: list[str] | None
) -> AsyncGenerator[OfferClosedType, None]:
    """Offers of `watched_offers` that left the market: their id and why, once."""
    closures = Closures()
    async for sighting in watched_offers(info, waste_codes, CHANGES, changed):
        if closures.news(sighting):
            yield OfferClosedType(
                offer_id=strawberry.ID(sighting.offer_id),
                status=OfferClosureType(sighting.status),
            )


async def watched_offers(
    info: Info,
    waste_codes: list[str] | None,
    readers: Mapping[str, Reader],
    judge: Judge,
) -> AsyncGenerator[Sighting, None]:
    """The offers the events of `readers` tell of that the subscriber (a tenant) is to hear
    of, each as `judge` finds it against what was read of it before; ends when its token
    expires. An offer whose event does not carry its code
    (one published before they all did) is looked up in matching's own store (`offer_code`,
    once a process), after the cheaper filters (one matching never heard of is left out)."""
    principal = subscriber(info.context)
    enterprise_id = policy.offer_watcher(principal)
    # A typo is refused: a feed of a code no offer can hold would never say a word.
    wanted = {known(code, "wasteCodes").code for code in waste_codes} if waste_codes else None
    wiring = services(info)
    licences = _Licences(wiring.matching, enterprise_id)
    latest = Latest()
    async for sighting in signed_in_events(wiring.hub, principal, readers):
        if sighting.enterprise_id == enterprise_id:
            continue
        if not judge(sighting, latest.read(sighting)):
            continue
        code = sighting.waste_code or await wiring.matching.offer_code(sighting.offer_id)
        if code is None or (wanted is not None and code not in wanted):
            continue
        if await licences.permit(code):
            yield sighting
