"""The same command arriving twice at once (a client retrying after a timeout, both
parties clicking together) takes effect once: one wins, the other gets a userError, and
nothing is booked or announced twice."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from bench.chaos import Session
from bench.chaos_api import (
    ACCEPT_MATCH,
    DISPATCH,
    ENTRIES,
    MANIFESTS,
    POST_OFFER,
    RECEIVE,
    Applied,
    Outcome,
)
from bench.chaos_city import (
    YICHANG,
    City,
    Party,
    build_city,
    current_period,
    report_graphql,
)
from bench.chaos_load import MATCH, PROPOSED
from wastex_shared.calendar import china_today

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]


async def _until(probe: Any, timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await probe()
        if found:
            return found
        await asyncio.sleep(0.3)
    raise AssertionError(f"not within {timeout}s")


def _ok(outcome: Outcome) -> bool:
    return isinstance(outcome, Applied) and outcome.ok


@pytest.fixture(scope="module")
async def probe_city(chaos: Session) -> City:
    """A city of its own, far from the load's (its matches and entries are not in the
    load generator's record)."""
    city = await build_city(chaos.api, factories=1, recyclers=1, origin=YICHANG)
    await report_graphql(
        chaos.api,
        city.factories[0],
        "wastex.report.generation",
        "SW02",
        Decimal("500.000"),
        current_period(),
    )
    return city


async def _proposed_match(chaos: Session, city: City) -> dict[str, Any]:
    factory = city.factories[0]
    today = china_today()
    posted = await chaos.api.mutate(
        factory.token,
        POST_OFFER,
        "postOffer",
        input={
            "siteId": factory.site_id,
            "wasteCode": "SW02",
            "quantityTonnes": "3.210",
            "availableFrom": today.isoformat(),
            "availableUntil": (today + timedelta(days=30)).isoformat(),
            "description": "concurrency probe",
        },
    )
    assert _ok(posted), posted
    assert isinstance(posted, Applied)
    offer_id = posted.payload["offer"]["id"]

    async def proposal() -> dict[str, Any] | None:
        data = await chaos.api.query(
            factory.token, PROPOSED, filter={"enterpriseId": factory.id, "status": "PROPOSED"}
        )
        for edge in data["matches"]["edges"]:
            if edge["node"]["offer"]["id"] == offer_id:
                node: dict[str, Any] = edge["node"]
                return node
        return None

    found: dict[str, Any] = await _until(proposal)
    return found


def _parties(city: City, match: dict[str, Any]) -> tuple[Party, Party]:
    """The probe's supplier and the recycler whose demand the match takes (a proposal
    names neither to the other, decision 022)."""
    return city.factories[0], city.party(city.demands[match["demand"]["id"]])


async def test_both_parties_accepting_at_once_confirm_the_match_once(
    chaos: Session, probe_city: City
) -> None:
    match = await _proposed_match(chaos, probe_city)
    supplier, recycler = _parties(probe_city, match)

    async def accept(token: str) -> Outcome:
        for _ in range(20):  # CONFLICT asks the client to read again and retry
            outcome = await chaos.api.mutate(token, ACCEPT_MATCH, "acceptMatch", id=match["id"])
            if not (isinstance(outcome, Applied) and "CONFLICT" in outcome.errors):
                return outcome
            await asyncio.sleep(0.1)
        return outcome

    outcomes = await asyncio.gather(accept(supplier.token), accept(recycler.token))

    assert all(_ok(o) for o in outcomes), outcomes
    status = (await chaos.api.query(supplier.token, MATCH, id=match["id"]))["match"]["status"]
    assert status == "CONFIRMED"

    async def manifests() -> list[dict[str, Any]]:
        nodes = await chaos.api.all_nodes(
            probe_city.regulator_token,
            MANIFESTS,
            "manifests",
            filter={"enterpriseId": supplier.id},
        )
        return [m for m in nodes if m["matchId"] == match["id"]]

    assert len(await _until(manifests)) == 1


async def test_a_shipment_dispatched_and_received_twice_at_once_is_booked_once(
    chaos: Session, probe_city: City
) -> None:
    match = await _proposed_match(chaos, probe_city)
    supplier, recycler = _parties(probe_city, match)
    for token in (supplier.token, recycler.token):
        assert _ok(await chaos.api.mutate(token, ACCEPT_MATCH, "acceptMatch", id=match["id"]))

    async def manifest() -> dict[str, Any] | None:
        nodes = await chaos.api.all_nodes(
            supplier.token, MANIFESTS, "manifests", filter={"enterpriseId": supplier.id}
        )
        return next((m for m in nodes if m["matchId"] == match["id"]), None)

    created = await _until(manifest)
    tonnes = Decimal(match["tonnes"])
    dispatches = await asyncio.gather(
        *(
            chaos.api.mutate(
                supplier.token,
                DISPATCH,
                "dispatchShipment",
                input={"matchId": match["id"], "tonnes": str(tonnes - Decimal(k) / 1000)},
            )
            for k in (0, 1)
        )
    )
    won = [o for o in dispatches if _ok(o)]
    assert len(won) == 1, f"both dispatches took effect (a lost update): {dispatches}"
    assert isinstance(won[0], Applied)
    dispatched = won[0].payload["manifest"]["dispatchedTonnes"]
    stored = await manifest()
    assert stored is not None
    assert stored["dispatchedTonnes"] == dispatched

    receipts = await asyncio.gather(
        *(
            chaos.api.mutate(
                recycler.token,
                RECEIVE,
                "receiveShipment",
                input={"manifestId": created["id"], "tonnes": dispatched},
            )
            for _ in range(2)
        )
    )
    assert sum(_ok(o) for o in receipts) == 1, receipts
    loser = next(o for o in receipts if not _ok(o))
    assert isinstance(loser, Applied), f"the second receipt failed as an internal error: {loser}"
    entries = await chaos.api.all_nodes(
        probe_city.regulator_token, ENTRIES, "ledgerEntries", filter={"enterpriseId": supplier.id}
    )
    booked = [e for e in entries if e["manifestId"] == created["id"]]
    assert [e["kind"] for e in booked] == ["TRANSFERRED_OUT"]
