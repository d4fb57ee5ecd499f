"""A licence and its renewal cover a shipping window together (decision 031): a recycler
licensed by calendar year is proposed, and keeps, the pairs whose windows cross the new
year; a gap or a renewal that may not carry the code leaves them out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

import pytest

from wastex_matching.adapters.repository import MatchRecord, MatchScope
from wastex_matching.domain.lifecycle import MatchStatus, Party
from wastex_matching.service import MatchingService
from wastex_matching.testing import JIANGXIA_CEMENT, QINGSHAN_STEEL, Catalog
from wastex_shared.errors import DomainError
from wastex_shared.messaging import EventConsumer

#: Offer and demand both listed from 10 December to 20 January.
WINDOW = (date(2026, 12, 10), date(2027, 1, 20))


async def seed(
    catalog: Catalog,
    consumer: EventConsumer,
    renewal_from: date | None = date(2027, 1, 1),
    renewal_codes: Sequence[str] = ("SW01",),
) -> None:
    """A steel works' slag offer and a cement plant's demand over the new year; the cement
    plant's licence runs to 31 December 2026, its renewal from `renewal_from` (None: not
    registered yet)."""
    start, end = WINDOW
    renewal = catalog.licence(
        "lic-2027",
        "cement",
        renewal_codes,
        valid_from=renewal_from or date(2027, 1, 1),
        valid_until=date(2027, 12, 31),
    )
    await catalog.feed(
        consumer,
        catalog.enterprise("steel", "Wuhan Steel"),
        catalog.enterprise("cement", "Jiangxia Cement", "江夏区"),
        catalog.site("steel-site", "steel", QINGSHAN_STEEL, "青山区"),
        catalog.site("cement-site", "cement", JIANGXIA_CEMENT, "江夏区"),
        catalog.licence("lic-2026", "cement", ["SW01"], valid_until=date(2026, 12, 31)),
        *([renewal] if renewal_from is not None else []),
        catalog.demand(
            "cement-demand",
            "cement",
            "cement-site",
            JIANGXIA_CEMENT,
            available_from=start,
            available_until=end,
        ),
        catalog.offer(
            "slag-1",
            "steel",
            "steel-site",
            QINGSHAN_STEEL,
            available_from=start,
            available_until=end,
        ),
    )


async def live(service: MatchingService) -> list[MatchRecord]:
    records, _ = await service.list_matches(
        MatchScope(everything=True), status=None, enterprise_id=None, limit=100, after=None
    )
    return [r for r in records if r.status is not MatchStatus.SUPERSEDED]


async def test_a_window_over_the_new_year_is_proposed_under_the_licence_and_its_renewal(
    service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> None:
    await seed(catalog, consumer)
    await service.reoptimise()
    [match] = await live(service)
    assert match.status is MatchStatus.PROPOSED
    # The licence valid on the window's first day carries its tonnes, as ever.
    assert (match.licence_id, match.licence_year) == ("lic-2026", 2026)
    assert (match.window_from, match.window_until) == WINDOW


@pytest.mark.parametrize(
    ("renewal_from", "renewal_codes"),
    [(date(2027, 1, 2), ("SW01",)), (date(2027, 1, 1), ("SW02",))],
    ids=["a day's gap", "renewal without the code"],
)
async def test_a_gap_or_a_renewal_without_the_code_leaves_the_pair_out(
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
    renewal_from: date,
    renewal_codes: Sequence[str],
) -> None:
    await seed(catalog, consumer, renewal_from, renewal_codes)
    await service.reoptimise()
    assert await live(service) == []


async def test_a_match_accepted_in_december_is_confirmed_in_january_under_the_renewal(
    service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> None:
    await seed(catalog, consumer)
    await service.reoptimise()
    [proposal] = await live(service)
    await service.accept(proposal.id, Party.SUPPLIER)
    assert await service.expire_due() == 0
    service.clock = lambda: datetime(2027, 1, 5, 1, tzinfo=UTC)
    assert await service.expire_due() == 0  # the licence ran out: its renewal holds the rest
    confirmed = await service.accept(proposal.id, Party.RECYCLER)
    assert confirmed.status is MatchStatus.CONFIRMED
    assert (confirmed.licence_id, confirmed.licence_year) == ("lic-2026", 2026)


async def test_a_december_proposal_left_till_january_goes_to_the_renewal(
    service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> None:
    await seed(catalog, consumer)
    await service.reoptimise()
    [december] = await live(service)
    service.clock = lambda: datetime(2027, 1, 2, 1, tzinfo=UTC)
    # Accepted now, its tonnes would count against a licence run out.
    with pytest.raises(DomainError) as refused:
        await service.accept(december.id, Party.SUPPLIER)
    assert refused.value.code == "LICENCE_NO_LONGER_VALID"
    await service.reoptimise()
    [january] = await live(service)
    assert january.id != december.id
    assert (january.licence_id, january.licence_year) == ("lic-2027", 2027)
    assert (january.window_from, january.window_until) == (date(2027, 1, 2), WINDOW[1])


async def test_a_renewal_revoked_before_it_begins_ends_the_match_it_carried(
    service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> None:
    await seed(catalog, consumer)
    await service.reoptimise()
    [proposal] = await live(service)
    await service.accept(proposal.id, Party.SUPPLIER)
    await catalog.feed(
        consumer,
        catalog.amended_licence(
            "lic-2027",
            "cement",
            ["SW01"],
            2,
            revoked_on=date(2027, 1, 1),
            valid_from=date(2027, 1, 1),
            valid_until=date(2027, 12, 31),
        ),
    )
    assert await service.expire_due() == 1
    ended = await service.get(proposal.id)
    assert ended is not None
    assert ended.status is MatchStatus.EXPIRED
    assert ended.expiry_reason is not None
    assert "no longer holds over 2026-12-10–2027-01-20" in ended.expiry_reason


async def test_no_match_is_made_while_a_demand_waits_for_its_renewal(
    service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> None:
    """The catalog keeps a demand OPEN for a few days after its holder's licence runs out on
    its term, waiting for the renewal (decision 034): matching reads the licences itself,
    so nothing is proposed under the demand for days no licence covers, until the renewal
    is registered."""
    _, end = WINDOW
    await seed(catalog, consumer, renewal_from=None)
    service.clock = lambda: datetime(2027, 1, 3, 1, tzinfo=UTC)  # the grace's third day
    await service.reoptimise()
    assert await live(service) == []
    await catalog.feed(
        consumer,
        catalog.licence(
            "lic-2027",
            "cement",
            ["SW01"],
            valid_from=date(2027, 1, 1),
            valid_until=date(2027, 12, 31),
        ),
    )
    await service.reoptimise()
    [match] = await live(service)
    assert (match.licence_id, match.window_from, match.window_until) == (
        "lic-2027",
        date(2027, 1, 3),
        end,
    )


async def test_a_demand_posted_past_its_licence_is_proposed_only_what_the_licence_covers(
    service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> None:
    """Since decision 034's update the catalog posts a demand whose window runs past its
    holder's licences (December to March under a licence to 31 December, the renewal not yet
    registered); its `catalog.demand-posted` is as any other's. Matching proposes it the
    offers whose common window from today the licence covers (December's), the others only
    once the renewal is registered (031)."""
    await catalog.feed(
        consumer,
        catalog.enterprise("steel", "Wuhan Steel"),
        catalog.enterprise("cement", "Jiangxia Cement", "江夏区"),
        catalog.site("steel-site", "steel", QINGSHAN_STEEL, "青山区"),
        catalog.site("cement-site", "cement", JIANGXIA_CEMENT, "江夏区"),
        catalog.licence("lic-2026", "cement", ["SW01"], valid_until=date(2026, 12, 31)),
        catalog.demand(
            "cement-demand",
            "cement",
            "cement-site",
            JIANGXIA_CEMENT,
            available_from=date(2026, 12, 1),
            available_until=date(2027, 3, 31),
        ),
        catalog.offer(
            "december",
            "steel",
            "steel-site",
            QINGSHAN_STEEL,
            available_from=date(2026, 12, 1),
            available_until=date(2026, 12, 20),
        ),
        catalog.offer(
            "winter",
            "steel",
            "steel-site",
            QINGSHAN_STEEL,
            available_from=date(2026, 12, 1),
            available_until=date(2027, 6, 30),
        ),
    )
    service.clock = lambda: datetime(2026, 12, 1, 1, tzinfo=UTC)
    await service.reoptimise()
    [december] = await live(service)
    assert (december.offer_id, december.licence_id) == ("december", "lic-2026")
    assert (december.window_from, december.window_until) == (date(2026, 12, 1), date(2026, 12, 20))
    await catalog.feed(
        consumer,
        catalog.licence(
            "lic-2027",
            "cement",
            ["SW01"],
            valid_from=date(2027, 1, 1),
            valid_until=date(2027, 12, 31),
        ),
    )
    await service.reoptimise()
    found = {m.offer_id: m for m in await live(service)}
    assert set(found) == {"december", "winter"}
    winter = found["winter"]
    assert (winter.licence_id, winter.window_from, winter.window_until) == (
        "lic-2026",
        date(2026, 12, 1),
        date(2027, 3, 31),
    )
