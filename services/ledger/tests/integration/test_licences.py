"""Licences in the ledger, on both databases: a shipment cannot leave when no licence of the
recycler lets it take the waste that day, and the revocation sweep calls off the shipments a
revocation in force for its grace days leaves no licence for (decision 023)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from wastex_ledger.adapters.repository import Repository
from wastex_ledger.adapters.tables import messaging
from wastex_ledger.domain.entries import EntryKind
from wastex_ledger.domain.licences import Drop
from wastex_ledger.domain.manifest import Manifest, ManifestStatus
from wastex_ledger.testing import Harness, Site, unique
from wastex_shared.errors import DomainError


async def parties(ledger: Harness, *months: str) -> tuple[Site, Site]:
    """A steelworks that generated 100 t of slag in each of `months` (June 2026 if none)
    and a cement works recycling it."""
    steel = await ledger.register("青山区")
    cement = await ledger.register("新洲区", kind="RECYCLER")
    ledger.clock.fixed = on(19)
    for month in months or ("2026-06",):
        await ledger.service.report(
            steel.enterprise_id,
            EntryKind.GENERATED,
            site_id=steel.site_id,
            waste_code="SW01",
            tonnes="100",
            period=month,
        )
    return steel, cement


async def manifest_of(ledger: Harness, match_id: str) -> Manifest:
    async with ledger.uow() as uow:
        found = await Repository(uow.session).manifest_by_match(match_id)
    assert found is not None
    return found


async def cancellations(ledger: Harness, manifest_id: str) -> list[dict[str, object]]:
    async with ledger.uow() as uow:
        rows = await uow.session.execute(
            select(messaging.outbox.c.payload).where(
                messaging.outbox.c.topic == "ledger.shipment-cancelled.v1",
                messaging.outbox.c.key == manifest_id,
            )
        )
        return [json.loads(payload)["data"] for payload in rows.scalars()]


def on(day: int) -> datetime:
    """China's `day` June 2026, 10:00."""
    return datetime(2026, 6, day, 2, 0, tzinfo=UTC)


async def swept(ledger: Harness, day: int) -> int:
    ledger.clock.fixed = on(day)
    return await ledger.service.cancel_cut(batch=2)  # pages of two: paging is tested


async def test_a_revocation_in_force_for_its_grace_days_calls_off_what_has_not_left(
    ledger: Harness,
) -> None:
    steel, cement = await parties(ledger)
    licence = await ledger.licence(cement)
    waiting = [await ledger.confirm(steel, cement, "10", licence_id=licence) for _ in range(3)]
    on_the_road = await ledger.confirm(steel, cement, "10", licence_id=licence)
    ledger.clock.fixed = on(12)
    await ledger.service.dispatch(steel.enterprise_id, on_the_road, "10")
    # Another recycler's shipment under its own licence is none of this revocation's business.
    other = await ledger.register("江夏区", kind="RECYCLER")
    others = await ledger.confirm(steel, other, "10", licence_id=await ledger.licence(other))
    # A shipment whose licence the ledger does not know is not judged.
    unknown = await ledger.confirm(steel, cement, "10", licence_id="lic-unknown")

    ledger.clock.fixed = on(12)
    assert not ledger.service.revocations.is_set()
    await ledger.licence(cement, licence_id=licence, revoked_on=date(2026, 6, 13), version=2)
    assert ledger.service.revocations.is_set()  # the sweep is woken once it is stored

    assert await swept(ledger, 19) == 0  # in force six days: the grace is seven
    assert await swept(ledger, 20) == 3
    for match_id in waiting:
        called_off = await manifest_of(ledger, match_id)
        assert called_off.status is ManifestStatus.CANCELLED
        assert called_off.cancellation is not None
        assert called_off.cancellation.by == cement.enterprise_id
        assert called_off.cancellation.reason == (
            f"licence 鄂危废-{licence} was revoked from 2026-06-13: "
            "the recycler may no longer take SW01"
        )
        [told] = await cancellations(ledger, called_off.id)
        assert (told["matchId"], told["cancelledBy"]) == (match_id, cement.enterprise_id)
    # What left before stays on the road; the others wait as they did.
    assert (await manifest_of(ledger, on_the_road)).status is ManifestStatus.IN_TRANSIT
    assert (await manifest_of(ledger, others)).status is ManifestStatus.CREATED
    assert (await manifest_of(ledger, unknown)).status is ManifestStatus.CREATED
    assert await swept(ledger, 21) == 0


@pytest.mark.parametrize(
    ("first", "then", "cut_on"),
    [
        # Revoked from 2 June, read on the 19th (the ledger was behind), amended on the 22nd
        # with the same day: the grace runs from the 19th, though in force since the 2nd.
        ((2, 19), (2, 22), 26),
        # Revoked from 20 June (read on the 10th), moved on the 22nd to 2 June: read anew.
        ((20, 10), (2, 22), 29),
    ],
)
async def test_a_revocation_waits_its_grace_from_the_day_it_was_read(
    ledger: Harness, first: tuple[int, int], then: tuple[int, int], cut_on: int
) -> None:
    steel, cement = await parties(ledger)
    licence = await ledger.licence(cement)
    waiting = await ledger.confirm(steel, cement, "10", licence_id=licence)
    for version, (revoked_from, read_on) in enumerate((first, then), start=2):
        ledger.clock.fixed = on(read_on)
        revoked_on = date(2026, 6, revoked_from)
        await ledger.licence(cement, licence_id=licence, revoked_on=revoked_on, version=version)
    assert await swept(ledger, cut_on - 1) == 0
    assert await swept(ledger, cut_on) == 1
    assert (await manifest_of(ledger, waiting)).status is ManifestStatus.CANCELLED


async def test_an_amendment_dropping_the_code_calls_off_what_has_not_left_after_its_grace(
    ledger: Harness,
) -> None:
    steel, cement = await parties(ledger)
    licence = await ledger.licence(cement, codes=("SW01", "SW02"))
    waiting = await ledger.confirm(steel, cement, "10", licence_id=licence)
    ledger.clock.fixed = on(12)
    await ledger.licence(cement, licence_id=licence, codes=("SW02",), version=2)
    assert ledger.service.revocations.is_set()  # the sweep is woken once it is stored
    # A later amendment keeps the day SW01 was first read dropped.
    ledger.clock.fixed = on(15)
    await ledger.licence(cement, licence_id=licence, codes=("SW02", "SW03"), version=3)
    assert await swept(ledger, 18) == 0
    assert await swept(ledger, 19) == 1
    called_off = await manifest_of(ledger, waiting)
    assert called_off.cancellation is not None
    assert called_off.cancellation.reason == (
        f"licence 鄂危废-{licence} no longer lists SW01 from 2026-06-12: "
        "the recycler may no longer take SW01"
    )


async def test_a_revocation_refuses_the_dispatch_from_its_first_day(ledger: Harness) -> None:
    steel, cement = await parties(ledger, "2026-05", "2026-06")
    licence = await ledger.licence(cement)
    match_id = await ledger.confirm(steel, cement, "10", licence_id=licence)
    late = await ledger.confirm(steel, cement, "10", licence_id=licence)
    ledger.clock.fixed = on(19)
    await ledger.licence(cement, licence_id=licence, revoked_on=date(2026, 6, 20), version=2)

    ledger.clock.fixed = on(20)
    with pytest.raises(DomainError) as caught:
        await ledger.service.dispatch(steel.enterprise_id, match_id, "10")
    assert caught.value.code == "LICENCE_NO_LONGER_VALID"
    assert "was revoked from 2026-06-20" in caught.value.message
    # A shipment that left in May, reported late, is booked: the licence held then.
    sent = await ledger.service.dispatch(steel.enterprise_id, late, "10", period="2026-05")
    assert sent.status is ManifestStatus.IN_TRANSIT


async def test_the_latest_version_of_a_licence_stands_whatever_order_its_facts_come_in(
    ledger: Harness,
) -> None:
    steel, cement = await parties(ledger)
    licence = await ledger.licence(
        cement, licence_id="lic-late", revoked_on=date(2026, 6, 1), version=2
    )
    await ledger.licence(cement, licence_id=licence)  # the registration, arriving after
    match_id = await ledger.confirm(steel, cement, "10", licence_id=licence)
    ledger.clock.fixed = on(19)
    with pytest.raises(DomainError) as caught:
        await ledger.service.dispatch(steel.enterprise_id, match_id, "10")
    assert caught.value.code == "LICENCE_NO_LONGER_VALID"


async def test_a_successor_licence_keeps_the_shipment_going_whichever_fact_comes_first(
    ledger: Harness,
) -> None:
    steel, cement = await parties(ledger)
    licence = await ledger.licence(cement)
    match_id = await ledger.confirm(steel, cement, "10", licence_id=licence)
    ledger.clock.fixed = on(12)
    await ledger.licence(cement, licence_id=licence, revoked_on=date(2026, 6, 13), version=2)
    await ledger.licence(cement, valid_from=date(2026, 6, 13))  # the renewal, read after
    assert await swept(ledger, 20) == 0
    assert (await manifest_of(ledger, match_id)).status is ManifestStatus.CREATED
    sent = await ledger.service.dispatch(steel.enterprise_id, match_id, "10")
    assert sent.status is ManifestStatus.IN_TRANSIT


async def test_a_code_dropped_the_day_its_licence_is_revoked_is_cut_by_the_revocation(
    ledger: Harness,
) -> None:
    # helper-41: SW01 amended off on 12 June and the licence revoked from that day. Neither
    # cut counted (the code was no longer listed for the revocation, and the revocation
    # was no later than the drop), so the shipment waited for good.
    steel, cement = await parties(ledger)
    licence = await ledger.licence(cement, codes=("SW01", "SW02"))
    waiting = await ledger.confirm(steel, cement, "10", licence_id=licence)
    ledger.clock.fixed = on(12)
    await ledger.licence(cement, licence_id=licence, codes=("SW02",), version=2)
    revoked = date(2026, 6, 12)
    await ledger.licence(cement, licence_id=licence, codes=("SW02",), revoked_on=revoked, version=3)
    assert await swept(ledger, 25) == 1
    cancelled = await manifest_of(ledger, waiting)
    assert cancelled.status is ManifestStatus.CANCELLED
    assert cancelled.cancellation is not None
    assert "was revoked from 2026-06-12" in cancelled.cancellation.reason


async def test_a_drop_read_late_after_the_revocation_waits_its_grace_from_the_read(
    ledger: Harness,
) -> None:
    # Both versions read on the 14th, the revocation from the 13th: the revocation cuts
    # SW01, its grace counted from the 14th.
    steel, cement = await parties(ledger)
    licence = await ledger.licence(cement, codes=("SW01", "SW02"))
    await ledger.confirm(steel, cement, "10", licence_id=licence)
    ledger.clock.fixed = on(14)
    await ledger.licence(cement, licence_id=licence, codes=("SW02",), version=2)
    await ledger.licence(
        cement, licence_id=licence, codes=("SW02",), revoked_on=date(2026, 6, 13), version=3
    )
    assert await swept(ledger, 20) == 0  # within the grace from the 14th
    assert await swept(ledger, 28) == 1


async def test_an_amendment_read_before_its_registration_still_cuts_what_it_dropped(
    ledger: Harness,
) -> None:
    # The two topics deliver v2 (SW01 dropped) before v1 (SW01, SW02, registered on the
    # 1st): v1, read late, says what v2 dropped, dated no later than v1 (v2's day is not
    # known); read again, it changes nothing.
    steel, cement = await parties(ledger)
    licence = unique("lic")
    ledger.clock.fixed = on(12)
    await ledger.licence(cement, licence_id=licence, codes=("SW02",), version=2)
    registered = on(1)
    await ledger.licence(
        cement, licence_id=licence, codes=("SW01", "SW02"), version=1, made=registered
    )
    ledger.clock.fixed = on(13)
    await ledger.licence(
        cement, licence_id=licence, codes=("SW01", "SW02"), version=1, made=registered
    )
    async with ledger.uow() as uow:
        [kept] = await Repository(uow.session).licences_of(cement.enterprise_id)
    assert kept.codes_dropped == (Drop("SW01", date(2026, 6, 1), date(2026, 6, 12)),)
    waiting = await ledger.confirm(steel, cement, "10", licence_id=licence)
    assert await swept(ledger, 25) == 1
    assert (await manifest_of(ledger, waiting)).status is ManifestStatus.CANCELLED


# helper-41's open point: the drop's day was the day the ledger read it, so a drop made the
# day before the manifest opened but read three days late called the manifest off, and read
# on time did not. The catalog's day (the event's time) now decides; the grace counts from
# the day read.
@pytest.mark.parametrize(("made", "called_off_on"), [(10, None), (11, 21)])
async def test_a_drop_counts_from_the_day_the_catalog_made_it_however_late_it_is_read(
    ledger: Harness, made: int, called_off_on: int | None
) -> None:
    steel, cement = await parties(ledger)
    licence = await ledger.licence(cement, codes=("SW01", "SW02"))
    waiting = await ledger.confirm(steel, cement, "10", licence_id=licence, opened=on(11))
    ledger.clock.fixed = on(14)
    await ledger.licence(cement, licence_id=licence, codes=("SW02",), version=2, made=on(made))
    assert await swept(ledger, 20) == 0
    assert await swept(ledger, called_off_on or 30) == (0 if called_off_on is None else 1)
    status = (await manifest_of(ledger, waiting)).status
    assert status is (ManifestStatus.CREATED if called_off_on is None else ManifestStatus.CANCELLED)
