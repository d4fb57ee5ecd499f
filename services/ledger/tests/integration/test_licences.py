"""Licences in the ledger, on both databases: a shipment cannot leave when no licence of the
recycler lets it take the waste that day, and a revocation calls off for good the shipments
it leaves no licence for, at once or when its day comes (decision 023)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from wastex_ledger.adapters.repository import Repository
from wastex_ledger.adapters.tables import messaging
from wastex_ledger.domain.entries import EntryKind
from wastex_ledger.domain.manifest import Manifest, ManifestStatus
from wastex_ledger.testing import Harness, Site
from wastex_shared.errors import DomainError

#: China's 20 June 2026, 10:00 (the ledger's days are China's).
ON_20_JUNE = datetime(2026, 6, 20, 2, 0, tzinfo=UTC)
ON_19_JUNE = datetime(2026, 6, 19, 2, 0, tzinfo=UTC)


async def parties(ledger: Harness) -> tuple[Site, Site]:
    steel = await ledger.register("青山区")
    cement = await ledger.register("新洲区", kind="RECYCLER")
    ledger.clock.fixed = ON_19_JUNE
    await ledger.service.report(
        steel.enterprise_id,
        EntryKind.GENERATED,
        site_id=steel.site_id,
        waste_code="SW01",
        tonnes="100",
        period="2026-06",
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


async def test_a_revocation_in_force_calls_off_what_has_not_left(ledger: Harness) -> None:
    steel, cement = await parties(ledger)
    licence = await ledger.licence(cement)
    waiting = await ledger.confirm(steel, cement, "10", licence_id=licence)
    on_the_road = await ledger.confirm(steel, cement, "10", licence_id=licence)
    ledger.clock.fixed = ON_19_JUNE
    await ledger.service.dispatch(steel.enterprise_id, on_the_road, "10")
    # Another recycler's shipment under its own licence is none of this revocation's business.
    other = await ledger.register("江夏区", kind="RECYCLER")
    others = await ledger.confirm(steel, other, "10", licence_id=await ledger.licence(other))

    ledger.clock.fixed = ON_20_JUNE
    await ledger.licence(cement, licence_id=licence, revoked_on=date(2026, 6, 20), version=2)

    called_off = await manifest_of(ledger, waiting)
    assert called_off.status is ManifestStatus.CANCELLED
    assert called_off.cancellation is not None
    assert called_off.cancellation.by == cement.enterprise_id
    assert called_off.cancellation.reason == (
        f"licence 鄂危废-{licence} was revoked from 2026-06-20: "
        "the recycler may no longer take SW01"
    )
    [told] = await cancellations(ledger, called_off.id)
    assert (told["matchId"], told["cancelledBy"]) == (waiting, cement.enterprise_id)
    # What left before stays on the road; the other recycler's shipment waits as it did.
    assert (await manifest_of(ledger, on_the_road)).status is ManifestStatus.IN_TRANSIT
    assert (await manifest_of(ledger, others)).status is ManifestStatus.CREATED
    # The fact again (a redelivery) calls nothing off twice.
    await ledger.licence(cement, licence_id=licence, revoked_on=date(2026, 6, 20), version=2)
    assert len(await cancellations(ledger, called_off.id)) == 1


async def test_a_revocation_from_a_later_day_refuses_the_dispatch_then_and_the_sweep_ends_it(
    ledger: Harness,
) -> None:
    steel, cement = await parties(ledger)
    licence = await ledger.licence(cement)
    match_id = await ledger.confirm(steel, cement, "10", licence_id=licence)
    ledger.clock.fixed = ON_19_JUNE
    await ledger.licence(cement, licence_id=licence, revoked_on=date(2026, 6, 20), version=2)
    assert (await manifest_of(ledger, match_id)).status is ManifestStatus.CREATED
    async with ledger.uow() as uow:
        assert await ledger.service.cancel_revoked(uow) == 0  # it may still leave today

    ledger.clock.fixed = ON_20_JUNE
    with pytest.raises(DomainError) as caught:
        await ledger.service.dispatch(steel.enterprise_id, match_id, "10")
    assert caught.value.code == "LICENCE_NO_LONGER_VALID"
    async with ledger.uow() as uow:
        assert await ledger.service.cancel_revoked(uow) == 1
        await uow.commit()
    assert (await manifest_of(ledger, match_id)).status is ManifestStatus.CANCELLED
    async with ledger.uow() as uow:
        assert await ledger.service.cancel_revoked(uow) == 0


async def test_the_latest_version_of_a_licence_stands_whatever_order_its_facts_come_in(
    ledger: Harness,
) -> None:
    steel, cement = await parties(ledger)
    licence = await ledger.licence(
        cement, licence_id="lic-late", revoked_on=date(2026, 6, 1), version=2
    )
    await ledger.licence(cement, licence_id=licence)  # the registration, arriving after
    match_id = await ledger.confirm(steel, cement, "10", licence_id=licence)
    ledger.clock.fixed = ON_19_JUNE
    with pytest.raises(DomainError) as caught:
        await ledger.service.dispatch(steel.enterprise_id, match_id, "10")
    assert caught.value.code == "LICENCE_NO_LONGER_VALID"


async def test_a_successor_licence_keeps_the_shipment_going(ledger: Harness) -> None:
    steel, cement = await parties(ledger)
    licence = await ledger.licence(cement)
    match_id = await ledger.confirm(steel, cement, "10", licence_id=licence)
    await ledger.licence(cement, valid_from=date(2026, 6, 1))
    ledger.clock.fixed = ON_20_JUNE
    await ledger.licence(cement, licence_id=licence, revoked_on=date(2026, 6, 20), version=2)
    assert (await manifest_of(ledger, match_id)).status is ManifestStatus.CREATED
    sent = await ledger.service.dispatch(steel.enterprise_id, match_id, "10")
    assert sent.status is ManifestStatus.IN_TRANSIT
