"""Hand-computed ledger scenarios on SQLite and PostgreSQL: exact Decimal figures and rates,
answered from the incremental projection kept in the same transaction as the entries."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from wastex_ledger.adapters.repository import (
    EntryFilter,
    ManifestFilter,
    Repository,
    entry_from_row,
    figures_to_row,
)
from wastex_ledger.adapters.tables import entries, manifests, messaging
from wastex_ledger.domain.entries import EntryKind
from wastex_ledger.domain.manifest import GapCause, Manifest, ManifestStatus
from wastex_ledger.domain.scope import Scope
from wastex_ledger.domain.visibility import Reach
from wastex_ledger.entrypoints.graphql import policy
from wastex_ledger.service import projection_deltas
from wastex_ledger.testing import Harness, Site, envelope, unique
from wastex_shared.auth import Principal, Role
from wastex_shared.envelope import derived_id
from wastex_shared.errors import DomainError
from wastex_shared.events.catalog import SiteAdded

D = Decimal
G = EntryKind.GENERATED
IN_PLANT = EntryKind.UTILISED_IN_PLANT
STORED = EntryKind.STORED
DISPOSED = EntryKind.DISPOSED
OPENING = EntryKind.OPENING_STOCK


async def report(
    ledger: Harness,
    site: Site,
    kind: EntryKind,
    tonnes: str,
    period: str,
    *,
    code: str = "SW01",
    prior: bool = False,
) -> str:
    entry = await ledger.service.report(
        site.enterprise_id,
        kind,
        site_id=site.site_id,
        waste_code=code,
        tonnes=tonnes,
        period=period,
        from_prior_stock=prior,
    )
    return entry.id


async def refused(code: str, awaitable: object) -> DomainError:
    with pytest.raises(DomainError) as caught:
        await awaitable  # type: ignore[misc]
    assert caught.value.code == code, caught.value
    return caught.value


def enterprise(site: Site) -> Scope:
    return Scope(enterprise_id=site.enterprise_id)


async def test_all_utilised_in_plant(ledger: Harness) -> None:
    steel = await ledger.register("青山区")
    await report(ledger, steel, G, "500.000", "2026-01")
    await report(ledger, steel, IN_PLANT, "500.000", "2026-01")

    u = await ledger.figures(enterprise(steel), "2026-01", "2026-12")
    assert u.generated == D("500.000")
    assert u.utilised == D("500.000")
    assert u.utilised_in_plant == D("500.000")
    assert u.transferred_for_utilisation == D("0.000")
    assert u.rate == D("1.0000")
    assert u.in_plant_share == D("1.0000")


async def test_all_transferred_counts_for_the_generator_at_the_received_weight(
    ledger: Harness,
) -> None:
    steel = await ledger.register("青山区", "C3120")
    cement = await ledger.register("新洲区", "C3011")
    await report(ledger, steel, G, "200.000", "2026-03")
    match_id = await ledger.confirm(steel, cement, "200.000", distance_km="35.2")

    dispatched = await ledger.service.dispatch(
        steel.enterprise_id, match_id, "200.000", period="2026-03"
    )
    assert dispatched.status is ManifestStatus.IN_TRANSIT
    # In transit: not yet utilised for the generator…
    before = await ledger.figures(enterprise(steel), "2026-03")
    assert before.rate == D("0.0000")
    # …but reserved: nothing more can be used of March's 200 t.
    await refused("BALANCE_VIOLATION", report(ledger, steel, IN_PLANT, "0.001", "2026-03"))

    received = await ledger.service.receive(cement.enterprise_id, dispatched.id, "199.000")
    assert received.status is ManifestStatus.RECEIVED  # 1 t of 200 = 0.5 % ≤ 2 %
    assert received.weight_gap_ratio == D("0.0050")
    # transport 199 t × 35.2 km × 0.078 kg/t·km = 546.3744 kg; avoided 199 t × 668 kg/t
    assert received.carbon is not None
    assert received.carbon.transport_co2e_kg == D("546.374")
    assert received.carbon.avoided_co2e_kg == D("132932.000")

    steel_figures = await ledger.figures(enterprise(steel), "2026-01", "2026-12")
    assert steel_figures.utilised == D("199.000")
    assert steel_figures.transferred_for_utilisation == D("199.000")
    assert steel_figures.rate == D("0.9950")
    assert steel_figures.in_plant_share == D("0.0000")
    assert steel_figures.figures.transfers == 1
    assert steel_figures.figures.transport_co2e_kg == D("546.374")

    cement_figures = await ledger.figures(enterprise(cement), "2026-01", "2026-12")
    assert cement_figures.generated == D("0.000")
    assert cement_figures.intake == D("199.000")
    assert cement_figures.rate is None
    # The 1 t lost on the road is the generator's again to account for.
    await report(ledger, steel, IN_PLANT, "1.000", "2026-03")
    await refused("BALANCE_VIOLATION", report(ledger, steel, STORED, "0.001", "2026-03"))


async def test_prior_year_stock_wuhan_2010(ledger: Harness) -> None:
    # 产生量 1324.84; 综合利用量 1337.27 of which 往年贮存 31.51 (万t, as tonnes here).
    wuhan = await ledger.register("武汉市")
    await report(ledger, wuhan, OPENING, "31.510", "2010-01")
    await report(ledger, wuhan, G, "1324.840", "2010-12")
    await report(ledger, wuhan, IN_PLANT, "1305.760", "2010-12")
    await report(ledger, wuhan, IN_PLANT, "31.510", "2010-12", prior=True)

    u = await ledger.figures(enterprise(wuhan), "2010-01", "2010-12")
    assert u.utilised == D("1337.270")
    assert u.prior_stock_utilised == D("31.510")
    assert u.rate == D("0.9859")  # 1337.27 ÷ (1324.84 + 31.51)
    # No more prior-year stock left to use.
    await refused(
        "BALANCE_VIOLATION", report(ledger, wuhan, DISPOSED, "0.001", "2010-12", prior=True)
    )


async def test_opening_stock_is_stock_from_before_the_records(ledger: Harness) -> None:
    """2024's storage is 2025's prior-year stock by itself: the same 500 t declared as opening
    stock in 2025 doubled what 2025 could draw, and lifted its rate (decision 035). Opening
    stock is declared with a month no later than the first year of the enterprise's records
    of the code, across its sites; nothing is booked in a year before one declared."""
    plant = await ledger.register("青山区")
    works = Site(unique("site"), plant.enterprise_id, "洪山区", plant.industry)
    await ledger.announce(works)
    await report(ledger, plant, G, "500.000", "2024-03")
    await report(ledger, plant, STORED, "500.000", "2024-03")
    # Declared at the enterprise's other site: the records are the enterprise's.
    twice = await refused("INVALID_PERIOD", report(ledger, works, OPENING, "500.000", "2025-01"))
    assert twice.field == "period"
    assert "a month of 2024 or earlier, not 2025-01" in twice.message
    await report(ledger, plant, G, "100.000", "2025-02")
    await report(ledger, plant, IN_PLANT, "100.000", "2025-02")
    await report(ledger, plant, IN_PLANT, "500.000", "2025-02", prior=True)
    await refused(
        "BALANCE_VIOLATION", report(ledger, plant, IN_PLANT, "0.001", "2025-02", prior=True)
    )
    u = await ledger.figures(enterprise(plant), "2025-01", "2025-12")
    assert u.rate == D("1.0000")  # (100 + 500) ÷ (100 + 500), and no more of it
    # Stock from before the records, declared late for their first year or an earlier one.
    old = await report(ledger, works, OPENING, "80.000", "2024-12")
    fixed = await ledger.service.correct_entry(plant.enterprise_id, old, "70.000", "recounted")
    await report(ledger, plant, OPENING, "20.000", "2023-06")
    # Records now begin in 2023: the 2024 declaration stands after them. A correction is
    # judged as a declaration; a reversal takes the stock away.
    later = fixed.replacement.id
    raised = ledger.service.correct_entry(plant.enterprise_id, later, "90.000", "more")
    await refused("INVALID_PERIOD", raised)
    await ledger.service.reverse_entry(plant.enterprise_id, later, "belongs to 2023")
    u = await ledger.figures(enterprise(plant), "2023-01", "2024-12")
    assert u.opening_stock == D("20.000")

    # The other order: opening stock declared first, then a year before it reported late.
    await report(ledger, plant, OPENING, "300.000", "2025-01", code="SW02")
    await report(ledger, plant, G, "10.000", "2025-04", code="SW02")
    backfill = await refused(
        "INVALID_PERIOD", report(ledger, works, G, "300.000", "2024-11", code="SW02")
    )
    assert "declared in 2025" in backfill.message
    assert backfill.field == "period"


async def test_weight_discrepancy_is_recorded_and_the_received_weight_booked(
    ledger: Harness,
) -> None:
    steel = await ledger.register("青山区")
    cement = await ledger.register("新洲区")
    await report(ledger, steel, G, "150.000", "2026-04")
    gap_match = await ledger.confirm(steel, cement, "100.000")
    edge_match = await ledger.confirm(steel, cement, "50.000")

    sent = await ledger.service.dispatch(
        steel.enterprise_id, gap_match, "100.000", period="2026-04"
    )
    got = await ledger.service.receive(cement.enterprise_id, sent.id, "95.000")
    assert got.status is ManifestStatus.DISCREPANCY  # 5 % > 2 %
    assert got.weight_gap_tonnes == D("-5.000")
    assert got.weight_gap_ratio == D("0.0500")

    edge = await ledger.service.dispatch(
        steel.enterprise_id, edge_match, "50.000", period="2026-04"
    )
    edge = await ledger.service.receive(cement.enterprise_id, edge.id, "49.000")
    assert edge.status is ManifestStatus.RECEIVED  # exactly 2 % is within the tolerance

    u = await ledger.figures(enterprise(steel), "2026-04")
    assert u.transferred_for_utilisation == D("144.000")
    assert u.rate == D("0.9600")  # 144 ÷ 150

    assessment = await ledger.service.assess(steel.enterprise_id, 2026)
    by_key = {r.key: r for r in assessment.results}
    assert not by_key["no-open-discrepancies"].passed
    assert by_key["no-open-discrepancies"].actual == "1"
    # 150 − 144 − 1: the edge shipment's 1 t gap is within the tolerance, part of the
    # shipment; the discrepancy's 5 t are not accounted for.
    assert by_key["generation-accounted"].actual == "5.000"
    assert not assessment.passed


@pytest.mark.parametrize(
    ("cause", "unaccounted"),
    [(GapCause.MOISTURE_CHANGE, "0.000"), (GapCause.LOSS_IN_TRANSIT, "5.000")],
)
async def test_a_discrepancy_both_parties_resolve_no_longer_fails_the_assessment(
    ledger: Harness, cause: GapCause, unaccounted: str
) -> None:
    steel = await ledger.register("青山区")
    cement = await ledger.register("新洲区")
    await report(ledger, steel, G, "100.000", "2026-04")
    match = await ledger.confirm(steel, cement, "100.000")
    sent = await ledger.service.dispatch(steel.enterprise_id, match, "100.000", period="2026-04")
    await ledger.service.receive(cement.enterprise_id, sent.id, "95.000")

    resolve = ledger.service.resolve_discrepancy
    proposed = await resolve(cement.enterprise_id, sent.id, cause, "as weighed at the gate")
    assert proposed.status is ManifestStatus.DISCREPANCY
    await refused("NOT_AUTHORIZED", resolve(unique("ent"), sent.id, cause, "not mine"))
    agreed = await resolve(steel.enterprise_id, sent.id, cause, "agreed")
    assert agreed.status is ManifestStatus.RESOLVED
    stored = await ledger.service.manifest(sent.id)
    assert stored is not None
    assert agreed == stored.manifest

    results = {r.key: r for r in (await ledger.service.assess(steel.enterprise_id, 2026)).results}
    assert results["no-open-discrepancies"].passed
    # Moisture was never waste left behind; a loss in transit is 5 t not accounted for.
    assert results["generation-accounted"].actual == unaccounted
    # The books keep the received weight: the rate does not move.
    assert (await ledger.figures(enterprise(steel), "2026-04")).rate == D("0.9500")
    async with ledger.uow() as uow:
        topics = (
            (
                await uow.session.execute(
                    select(messaging.outbox.c.topic).where(messaging.outbox.c.key == sent.id)
                )
            )
            .scalars()
            .all()
        )
    assert topics.count("ledger.discrepancy-resolved.v1") == 1  # at agreement, not proposal


async def test_a_load_lost_whole_leaves_the_road_as_a_discrepancy_booking_nothing(
    ledger: Harness,
) -> None:
    """A lorry that never arrives (an accident): the recycler receives 0 t. The manifest was
    stuck IN_TRANSIT for ever (a receipt of 0 refused), the load on the road in the
    supplier's books and on the regulator's list. Now it is a discrepancy the parties put
    down to LOSS_IN_TRANSIT; nothing is booked as transferred or taken in."""
    steel = await ledger.register("青山区")
    cement = await ledger.register("新洲区")
    await report(ledger, steel, G, "100.000", "2026-04")
    match = await ledger.confirm(steel, cement, "40.000")
    sent = await ledger.service.dispatch(steel.enterprise_id, match, "40.000", period="2026-04")
    got = await ledger.service.receive(cement.enterprise_id, sent.id, "0")
    assert got.status is ManifestStatus.DISCREPANCY
    assert got.weight_gap_ratio == D("1.0000")

    supplier = await ledger.figures(enterprise(steel), "2026-04")
    assert supplier.transferred_for_utilisation == D("0.000")
    assert supplier.rate == D("0.0000")
    recycler = await ledger.figures(enterprise(cement), "2026-04")
    assert recycler.intake == D("0.000")
    async with ledger.uow() as uow:
        assert await Repository(uow.session).in_transit(steel.enterprise_id, None) == {}
    await refused(
        "INVALID_MANIFEST_STATE", ledger.service.receive(cement.enterprise_id, sent.id, "40")
    )
    resolve = ledger.service.resolve_discrepancy
    await resolve(cement.enterprise_id, sent.id, GapCause.LOSS_IN_TRANSIT, "lorry overturned")
    agreed = await resolve(steel.enterprise_id, sent.id, GapCause.LOSS_IN_TRANSIT, "agreed")
    assert agreed.status is ManifestStatus.RESOLVED
    results = {r.key: r for r in (await ledger.service.assess(steel.enterprise_id, 2026)).results}
    assert results["no-open-discrepancies"].passed
    assert results["generation-accounted"].actual == "100.000"


@pytest.mark.parametrize("cause", [GapCause.WEIGHING_ERROR, GapCause.MOISTURE_CHANGE])
async def test_a_receipt_of_nothing_is_a_loss_not_a_weighing_or_moisture_gap(
    ledger: Harness, cause: GapCause
) -> None:
    """A gap put down to weighing or moisture counts as shipped in the assessment: two
    parties agreeing so of a load received as 0 t would count a load that never came as
    shipped. Nothing arrived: the cause is refused, LOSS_IN_TRANSIT is taken."""
    steel = await ledger.register("青山区")
    cement = await ledger.register("新洲区")
    await report(ledger, steel, G, "100.000", "2026-04")
    match = await ledger.confirm(steel, cement, "40.000")
    sent = await ledger.service.dispatch(steel.enterprise_id, match, "40.000", period="2026-04")
    await ledger.service.receive(cement.enterprise_id, sent.id, "0")
    resolve = ledger.service.resolve_discrepancy
    error = await refused("INVALID_CAUSE", resolve(cement.enterprise_id, sent.id, cause, "gate"))
    assert error.field == "cause"
    await resolve(cement.enterprise_id, sent.id, GapCause.LOSS_IN_TRANSIT, "overturned")
    agreed = await resolve(steel.enterprise_id, sent.id, GapCause.LOSS_IN_TRANSIT, "agreed")
    assert agreed.status is ManifestStatus.RESOLVED


async def test_correction_is_a_reversal_plus_a_new_entry(ledger: Harness) -> None:
    steel = await ledger.register("青山区")
    other = await ledger.register("青山区")
    original = await report(ledger, steel, G, "100.000", "2026-05")

    fixed = await ledger.service.correct_entry(
        steel.enterprise_id, original, "120.000", "weighbridge recalibrated"
    )
    assert fixed.reversal.tonnes == D("-100.000")
    assert fixed.reversal.reverses == original
    assert fixed.replacement.tonnes == D("120.000")
    u = await ledger.figures(enterprise(steel), "2026-05")
    assert u.generated == D("120.000")

    await refused(
        "ALREADY_REVERSED", ledger.service.reverse_entry(steel.enterprise_id, original, "again")
    )
    await refused(
        "NOT_REVERSIBLE",
        ledger.service.reverse_entry(steel.enterprise_id, fixed.reversal.id, "undo"),
    )
    await refused(
        "NOT_AUTHORIZED",
        ledger.service.reverse_entry(other.enterprise_id, fixed.replacement.id, "mine"),
    )
    await refused(
        "REASON_REQUIRED",
        ledger.service.reverse_entry(steel.enterprise_id, fixed.replacement.id, "  "),
    )
    used = await report(ledger, steel, IN_PLANT, "110.000", "2026-05")
    await refused(
        "BALANCE_VIOLATION",
        ledger.service.reverse_entry(steel.enterprise_id, fixed.replacement.id, "never generated"),
    )
    await ledger.service.reverse_entry(steel.enterprise_id, used, "booked twice")
    await ledger.service.reverse_entry(steel.enterprise_id, fixed.replacement.id, "not ours")
    u = await ledger.figures(enterprise(steel), "2026-05")
    assert u.figures.is_zero()
    # Nothing was updated: the journal holds all five entries.
    async with ledger.uow() as uow:
        count = (
            await uow.session.execute(
                select(func.count())
                .select_from(entries)
                .where(entries.c.enterprise_id == steel.enterprise_id)
            )
        ).scalar_one()
    assert count == 6


async def test_area_totals_count_each_tonne_once(ledger: Harness) -> None:
    steel = await ledger.register("青山区", "C3120")
    cement = await ledger.register("新洲区", "C3011")
    await report(ledger, steel, G, "100.000", "2026-06")
    await report(ledger, cement, G, "50.000", "2026-06", code="SW02")
    await report(ledger, cement, IN_PLANT, "50.000", "2026-06", code="SW02")
    match_id = await ledger.confirm(steel, cement, "80.000")
    sent = await ledger.service.dispatch(steel.enterprise_id, match_id, "80.000", period="2026-06")
    await ledger.service.receive(cement.enterprise_id, sent.id, "80.000")

    city = await ledger.figures(Scope(), "2026-06")
    assert city.generated == D("150.000")  # the recycler's 80 t intake is not generation
    assert city.utilised == D("130.000")  # 80 t transferred counted once, on the generator
    assert city.intake == D("80.000")
    assert city.rate == D("0.8667")  # 130 ÷ 150

    qingshan = await ledger.figures(Scope(district="青山区"), "2026-06")
    xinzhou = await ledger.figures(Scope(district="新洲区"), "2026-06")
    assert (qingshan.generated, qingshan.utilised, qingshan.rate) == (
        D("100.000"),
        D("80.000"),
        D("0.8000"),
    )
    assert (xinzhou.generated, xinzhou.utilised, xinzhou.rate) == (
        D("50.000"),
        D("50.000"),
        D("1.0000"),
    )
    assert qingshan.generated + xinzhou.generated == city.generated
    assert qingshan.utilised + xinzhou.utilised == city.utilised

    slag = await ledger.figures(Scope(waste_code="SW01"), "2026-06")
    assert (slag.generated, slag.utilised, slag.rate) == (D("100.000"), D("80.000"), D("0.8000"))
    steel_industry = await ledger.figures(Scope(industry="C3120"), "2026-06")
    assert steel_industry.rate == D("0.8000")
    intake_only = await ledger.figures(Scope(district="新洲区", waste_code="SW01"), "2026-06")
    assert intake_only.generated == D("0.000")
    assert intake_only.intake == D("80.000")
    assert intake_only.rate is None
    per_industry = await ledger.figures(Scope(district="新洲区", industry="C3011"), "2026-06")
    assert per_industry.rate == D("1.0000")


async def test_reports_are_validated_and_owned(ledger: Harness) -> None:
    steel = await ledger.register("青山区")
    other = await ledger.register("青山区")
    svc = ledger.service

    async def attempt(actor: str, site_id: str, **changes: object) -> object:
        fields: dict[str, object] = {
            "site_id": site_id,
            "waste_code": "SW01",
            "tonnes": "1.000",
            "period": "2026-01",
        }
        fields.update(changes)
        return await svc.report(actor, G, **fields)  # type: ignore[arg-type]

    await refused("UNKNOWN_SITE", attempt(steel.enterprise_id, "site-nowhere"))
    await refused("NOT_AUTHORIZED", attempt(other.enterprise_id, steel.site_id))
    await refused("UNKNOWN_WASTE_CODE", attempt(steel.enterprise_id, steel.site_id, waste_code="X"))
    await refused(
        "ABOLISHED_WASTE_CODE", attempt(steel.enterprise_id, steel.site_id, waste_code="HW41")
    )
    await refused("INVALID_QUANTITY", attempt(steel.enterprise_id, steel.site_id, tonnes="0"))
    await refused("INVALID_QUANTITY", attempt(steel.enterprise_id, steel.site_id, tonnes="1.0001"))
    await refused("INVALID_PERIOD", attempt(steel.enterprise_id, steel.site_id, period="2026-13"))
    await refused(
        "PRIOR_STOCK_NOT_APPLICABLE",
        attempt(steel.enterprise_id, steel.site_id, from_prior_stock=True),
    )
    err = await refused("BALANCE_VIOLATION", report(ledger, steel, IN_PLANT, "10.000", "2026-01"))
    assert "0.000 t was generated" in err.message


async def test_manifest_lifecycle_rules(ledger: Harness) -> None:
    steel = await ledger.register("青山区")
    cement = await ledger.register("新洲区")
    svc = ledger.service
    await report(ledger, steel, G, "10.000", "2026-07")
    match_id = await ledger.confirm(steel, cement, "10.000")
    manifest = await ledger.service.manifest(await _manifest_id(ledger, match_id))
    assert manifest is not None
    assert manifest.manifest.status is ManifestStatus.CREATED

    await refused("NOT_AUTHORIZED", svc.dispatch(steel.enterprise_id, "no-such-match", "1"))
    await refused("NOT_AUTHORIZED", svc.dispatch(cement.enterprise_id, match_id, "10"))
    # A stranger is told the same of a real match as of none: match ids derive from public
    # listing ids, so two answers would tell anyone which pairs were confirmed.
    stranger = (await ledger.register("新洲区")).enterprise_id
    for unknown in ("no-such-match", match_id):
        said = await refused("NOT_AUTHORIZED", svc.dispatch(stranger, unknown, "1"))
        assert said.message.replace(unknown, "X") == (
            "match X has no manifest of yours: it is unknown, not confirmed yet, or between "
            "other enterprises"
        )
    await refused(
        "INVALID_MANIFEST_STATE", svc.receive(cement.enterprise_id, manifest.manifest.id, "10")
    )
    await refused(
        "BALANCE_VIOLATION", svc.dispatch(steel.enterprise_id, match_id, "10.001", period="2026-07")
    )
    await refused(
        "BALANCE_VIOLATION",
        svc.dispatch(steel.enterprise_id, match_id, "1", from_prior_stock=True, period="2026-07"),
    )
    sent = await svc.dispatch(steel.enterprise_id, match_id, "10.000", period="2026-07")
    await refused(
        "INVALID_MANIFEST_STATE",
        svc.dispatch(steel.enterprise_id, match_id, "10", period="2026-07"),
    )
    await refused("NOT_AUTHORIZED", svc.receive(steel.enterprise_id, sent.id, "10"))
    for unknown, who in (("no-such-manifest", cement.enterprise_id), (sent.id, stranger)):
        said = await refused("NOT_AUTHORIZED", svc.receive(who, unknown, "10"))
        assert said.message == f"manifest {unknown} is outside what this token may read"
        said = await refused(
            "NOT_AUTHORIZED", svc.cancel_shipment(who, unknown, "no longer needed")
        )
        assert said.message == f"manifest {unknown} is outside what this token may read"
    await svc.receive(cement.enterprise_id, sent.id, "10.000")
    await refused("INVALID_MANIFEST_STATE", svc.receive(cement.enterprise_id, sent.id, "10"))


async def _manifest_id(ledger: Harness, match_id: str) -> str:
    async with ledger.uow() as uow:
        found = await Repository(uow.session).manifest_by_match(match_id)
    assert found is not None
    return found.id


async def test_a_confirmed_match_opens_one_manifest_however_often_it_arrives(
    ledger: Harness,
) -> None:
    steel = await ledger.register("青山区")
    cement = await ledger.register("新洲区")
    match_id = await ledger.confirm(steel, cement, "10.000")
    async with ledger.uow() as uow:
        repo = Repository(uow.session)
        existing = await repo.manifest_by_match(match_id)
    assert existing is not None
    # The same fact again (a redelivery under a new envelope id) changes nothing.
    from wastex_ledger.testing import envelope
    from wastex_shared.events.matching import MatchConfirmed

    async with ledger.uow() as uow:
        await ledger.service.on_match_confirmed(
            uow,
            envelope("matching.match-confirmed", match_id),
            MatchConfirmed(
                match_id=match_id,
                offer_id="o",
                demand_id="d",
                supplier_enterprise_id=steel.enterprise_id,
                supplier_site_id=steel.site_id,
                recycler_enterprise_id=cement.enterprise_id,
                recycler_site_id=cement.site_id,
                waste_code="SW01",
                tonnes=D("999"),
                distance_km=D("1"),
                co2e_kg=D("1"),
                freight_factor_key="freight_road_diesel_truck_30t_cn",
                freight_factor_kg_per_tkm=D("0.078"),
                status="CONFIRMED",
            ),
        )
        await uow.commit()
    async with ledger.uow() as uow:
        count = (
            await uow.session.execute(
                select(func.count()).select_from(manifests).where(manifests.c.match_id == match_id)
            )
        ).scalar_one()
        planned = (
            await uow.session.execute(
                select(manifests.c.planned_kilograms).where(manifests.c.match_id == match_id)
            )
        ).scalar_one()
    assert count == 1
    assert planned == 10_000


async def test_zero_waste_assessment(ledger: Harness) -> None:
    good = await ledger.register("青山区")
    poor = await ledger.register("青山区")
    cement = await ledger.register("新洲区")
    await report(ledger, good, G, "100.000", "2026-02")
    await report(ledger, good, IN_PLANT, "50.000", "2026-02")
    await report(ledger, good, STORED, "10.000", "2026-02")
    match_id = await ledger.confirm(good, cement, "40.000")
    sent = await ledger.service.dispatch(good.enterprise_id, match_id, "40.000", period="2026-02")
    await ledger.service.receive(cement.enterprise_id, sent.id, "40.000")

    passed = await ledger.service.assess(good.enterprise_id, 2026)
    assert passed.utilisation.rate == D("0.9000")
    assert passed.utilisation.in_plant_share == D("0.5000")
    assert [(r.key, r.passed) for r in passed.results if not r.passed] == []
    assert passed.passed

    await report(ledger, poor, G, "100.000", "2026-02")
    await report(ledger, poor, IN_PLANT, "10.000", "2026-02")
    await report(ledger, poor, DISPOSED, "30.000", "2026-02")
    await report(ledger, poor, G, "5.000", "2026-01", code="HW08")
    await report(ledger, poor, STORED, "5.000", "2026-02", code="HW08")
    failed = await ledger.service.assess(poor.enterprise_id, 2026)
    results = {r.key: r for r in failed.results}
    # The rates are of general waste (formulas.md §1): the 5 t of HW08 are judged by the
    # hazardous-stock rule, and by the accounting of every tonne generated.
    assert results["comprehensive-utilisation-rate"].actual == "0.1000"  # 10 ÷ 100
    assert not results["comprehensive-utilisation-rate"].passed
    assert not results["in-plant-share"].passed
    assert results["disposal-share"].actual == "0.3000"  # 30 ÷ 100
    assert not results["disposal-share"].passed
    assert results["no-unmatched-hazardous-stock"].actual == "5.000"
    assert results["generation-accounted"].actual == "60.000"  # 105 − 10 − 30 − 5
    assert results["no-open-discrepancies"].passed
    assert not failed.passed


async def test_hazardous_stock_is_weighed_code_by_code_against_its_own_manifests(
    ledger: Harness,
) -> None:
    plant = await ledger.register("青山区")
    incinerator = await ledger.register("新洲区")
    await report(ledger, plant, G, "10.000", "2024-03", code="HW49")
    await report(ledger, plant, STORED, "10.000", "2024-03", code="HW49")
    # HW08: 100 t of old stock shipped whole, weighed 2 t heavier at the gate (in tolerance).
    await report(ledger, plant, OPENING, "100.000", "2024-01", code="HW08")
    shipped = await ledger.confirm(plant, incinerator, "100.000", code="HW08")
    sent = await ledger.service.dispatch(
        plant.enterprise_id, shipped, "100.000", from_prior_stock=True, period="2025-02"
    )
    got = await ledger.service.receive(incinerator.enterprise_id, sent.id, "102.000")
    assert got.status is ManifestStatus.RECEIVED
    # A manifest for HW08 awaiting dispatch, opened in 2026: nothing of HW49's in either year.
    await ledger.confirm(
        plant, incinerator, "50.000", code="HW08", opened=datetime(2026, 5, 1, tzinfo=UTC)
    )

    async def unmoved(year: int) -> str | None:
        assessment = await ledger.service.assess(plant.enterprise_id, year)
        return {r.key: r for r in assessment.results}["no-unmatched-hazardous-stock"].actual

    assert await unmoved(2025) == "10.000"  # nothing of HW08's covers HW49's 10 t
    assert await unmoved(2026) == "10.000"  # nor does HW08's manifest
    await ledger.confirm(
        plant, incinerator, "10.000", code="HW49", opened=datetime(2026, 6, 1, tzinfo=UTC)
    )
    assert await unmoved(2025) == "10.000"  # opened after that year ended
    assert await unmoved(2026) == "0.000"


async def test_a_closed_year_s_hazardous_verdict_stands_when_its_lorry_leaves_next_year(
    ledger: Harness,
) -> None:
    # helper-45: 10 t of HW08 stored in November 2025, its manifest opened in December: the
    # stock had a manifest to move it at the end of 2025. The lorry left in January 2026,
    # and 2025's verdict flipped to 10 t unmoved, as if the manifest had never been.
    plant = await ledger.register("青山区")
    incinerator = await ledger.register("新洲区")
    await report(ledger, plant, G, "10.000", "2025-11", code="HW08")
    await report(ledger, plant, STORED, "10.000", "2025-11", code="HW08")
    december = datetime(2025, 12, 10, tzinfo=UTC)
    match_id = await ledger.confirm(plant, incinerator, "10.000", code="HW08", opened=december)
    called_off = await ledger.confirm(plant, incinerator, "5.000", code="HW08", opened=december)

    async def unmoved_2025() -> str | None:
        assessment = await ledger.service.assess(plant.enterprise_id, 2025)
        return {r.key: r for r in assessment.results}["no-unmatched-hazardous-stock"].actual

    assert await unmoved_2025() == "0.000"
    sent = await ledger.service.dispatch(
        plant.enterprise_id, match_id, "10.000", from_prior_stock=True, period="2026-01"
    )
    assert await unmoved_2025() == "0.000"
    await ledger.service.receive(incinerator.enterprise_id, sent.id, "10.000")
    assert await unmoved_2025() == "0.000"
    # A manifest open at the end of the year and cancelled since covered it then, too.
    async with ledger.uow() as uow:
        cancelled = await Repository(uow.session).manifest_by_match(called_off)
    assert cancelled is not None
    await ledger.service.cancel_shipment(plant.enterprise_id, cancelled.id, "not needed")
    assert await unmoved_2025() == "0.000"


async def test_a_weight_gap_within_the_tolerance_leaves_nothing_unaccounted(
    ledger: Harness,
) -> None:
    steel = await ledger.register("青山区")
    cement = await ledger.register("新洲区")
    await report(ledger, steel, G, "100.000", "2026-02")
    match_id = await ledger.confirm(steel, cement, "100.000")
    sent = await ledger.service.dispatch(steel.enterprise_id, match_id, "100.000", period="2026-02")
    got = await ledger.service.receive(cement.enterprise_id, sent.id, "99.000")
    assert got.status is ManifestStatus.RECEIVED
    assessment = await ledger.service.assess(steel.enterprise_id, 2026)
    results = {r.key: r for r in assessment.results}
    assert results["generation-accounted"].actual == "0.000"
    assert results["comprehensive-utilisation-rate"].actual == "0.9900"  # the received weight
    assert results["generation-accounted"].passed


async def test_a_heavier_load_credits_its_supplier_what_it_sent(ledger: Harness) -> None:
    steel = await ledger.register("青山区")
    cement = await ledger.register("新洲区")
    await report(ledger, steel, G, "100.000", "2026-02")
    match_id = await ledger.confirm(steel, cement, "100.000")
    sent = await ledger.service.dispatch(steel.enterprise_id, match_id, "100.000", period="2026-02")
    got = await ledger.service.receive(cement.enterprise_id, sent.id, "101.500")  # wet: 1.5 %
    assert got.status is ManifestStatus.RECEIVED
    steel_figures = await ledger.figures(enterprise(steel), "2026-01", "2026-12")
    assert steel_figures.transferred_for_utilisation == D("100.000")
    assert steel_figures.rate == D("1.0000")  # not 101.5 % of what it generated
    cement_figures = await ledger.figures(enterprise(cement), "2026-01", "2026-12")
    assert cement_figures.intake == D("101.500")  # the recycler's own measurement
    results = {r.key: r for r in (await ledger.service.assess(steel.enterprise_id, 2026)).results}
    assert results["generation-accounted"].actual == "0.000"
    assert results["comprehensive-utilisation-rate"].actual == "1.0000"
    # Its books are balanced: the generation is all accounted for, nothing more is.
    await refused("BALANCE_VIOLATION", report(ledger, steel, STORED, "0.001", "2026-02"))


@pytest.mark.parametrize("booked_whole", [False, True], ids=["credited", "before-020"])
async def test_a_heavier_load_is_judged_alike_however_it_was_booked(
    ledger: Harness, monkeypatch: pytest.MonkeyPatch, booked_whole: bool
) -> None:
    # 100 t generated, 99 t dispatched, 100 t received: 1 t of generation is nowhere, also
    # when the supplier was booked the received 100 t (as before decision 020).
    steel = await ledger.register("青山区")
    cement = await ledger.register("新洲区")
    await report(ledger, steel, G, "100.000", "2026-02")
    match_id = await ledger.confirm(steel, cement, "99.000")
    sent = await ledger.service.dispatch(steel.enterprise_id, match_id, "99.000", period="2026-02")
    with monkeypatch.context() as before_020:
        if booked_whole:
            before_020.setattr(Manifest, "credited_tonnes", property(lambda m: m.received_tonnes))
        await ledger.service.receive(cement.enterprise_id, sent.id, "100.000")
    results = {r.key: r for r in (await ledger.service.assess(steel.enterprise_id, 2026)).results}
    assert results["generation-accounted"].actual == "1.000"


async def test_a_manifest_opened_before_its_sites_were_known_is_found_by_district(
    ledger: Harness,
) -> None:
    # The match's confirmation overtook the catalog's facts of its sites (another topic).
    steel = Site(unique("site"), unique("ent"), "青山区", "C3120")
    cement = Site(unique("site"), unique("ent"), "新洲区", "C3011")
    await ledger.confirm(steel, cement, "10.000", ship_by=date(2020, 2, 1))
    for site in (steel, cement):
        await ledger.announce(site)
    overdue = ManifestFilter(overdue=(True, ledger.service.today()))
    for district, seen in (("青山区", 1), ("新洲区", 1), ("江岸区", 0)):
        page = await ledger.service.manifests(Reach.of_district(district), overdue, 10, None)
        assert page.total == seen, district


async def test_an_enterprise_known_by_its_sites_facts_alone_is_listed_by_its_regulator(
    ledger: Harness,
) -> None:
    # The site's fact (its enterprise registered in 江岸区, its works in 青山区) was read
    # before the enterprise's registration (another topic): 江岸区's regulator reads the
    # manifest and the entry by id and is pushed the manifest; its lists hold them too.
    steel = Site(unique("site"), unique("ent"), "青山区", "C3120")
    async with ledger.uow() as uow:
        await ledger.service.on_site(
            uow,
            envelope("catalog.site-added", steel.site_id),
            SiteAdded(
                site_id=steel.site_id,
                enterprise_id=steel.enterprise_id,
                name="works",
                district=steel.district,
                latitude=D("30.6"),
                longitude=D("114.3"),
                industry=steel.industry,
                enterprise_district="江岸区",
            ),
        )
        await uow.commit()
    cement = await ledger.register("新洲区")
    generated = await report(ledger, steel, G, "10.000", "2026-02")
    match_id = await ledger.confirm(steel, cement, "10.000")
    regulator = Principal(Role.REGULATOR, "regulator", None, "江岸区")
    view = await ledger.service.manifest(derived_id("manifest", match_id))
    assert view is not None
    assert policy.may_see_manifest(regulator, view)
    reach = policy.reach(regulator)
    listed = await ledger.service.manifests(reach, ManifestFilter(), 10, None)
    assert [row["match_id"] for row in listed.rows] == [match_id]
    booked = await ledger.service.entries(reach, EntryFilter(), 10, None)
    assert [row["id"] for row in booked.rows] == [generated]
    # Once registered (in 江岸区 as the site said), one answer still; elsewhere, none.
    await ledger.announce(steel, registered_in="江岸区")
    assert (await ledger.service.manifests(reach, ManifestFilter(), 10, None)).total == 1
    other = policy.reach(Principal(Role.REGULATOR, "regulator", None, "江夏区"))
    assert (await ledger.service.manifests(other, ManifestFilter(), 10, None)).total == 0


async def test_projection_equals_the_journal_and_every_entry_is_published(
    ledger: Harness,
) -> None:
    steel = await ledger.register("青山区")
    cement = await ledger.register("新洲区")
    await report(ledger, steel, OPENING, "40.000", "2025-01")
    await report(ledger, steel, G, "100.000", "2026-01")
    first = await report(ledger, steel, IN_PLANT, "30.000", "2026-01")
    await report(ledger, steel, DISPOSED, "10.000", "2026-02", prior=True)
    await ledger.service.correct_entry(steel.enterprise_id, first, "25.000", "typo")
    match_id = await ledger.confirm(steel, cement, "20.000")
    sent = await ledger.service.dispatch(
        steel.enterprise_id, match_id, "20.000", from_prior_stock=True, period="2026-02"
    )
    await ledger.service.receive(cement.enterprise_id, sent.id, "19.500")

    async with ledger.uow() as uow:
        journal = [
            entry_from_row(r) for r in (await uow.session.execute(select(entries))).mappings().all()
        ]
        published = (
            await uow.session.execute(
                select(func.count())
                .select_from(messaging.outbox)
                .where(messaging.outbox.c.topic == "ledger.entry-recorded.v1")
            )
        ).scalar_one()
    assert len(journal) == 8
    assert published == len(journal)
    expected = {key: figures_to_row(f) for key, f in projection_deltas(journal).items()}
    assert await ledger.projection() == expected

    u = await ledger.figures(enterprise(steel), "2026-01", "2026-12")
    assert u.prior_stock_utilised == D("19.500")
    assert u.utilised == D("44.500")  # 25 in-plant + 19.5 transferred from prior stock
    assert u.rate == D("0.3724")  # 44.5 ÷ (100 + 19.5)
    assert u.prior_stock_disposed == D("10.000")


async def test_a_shipment_leaving_after_midnight_in_china_counts_in_the_new_month(
    ledger: Harness,
) -> None:
    """helper-76: a dispatch with no month names the month in China Standard Time, which
    figures are cut by: 16:30 UTC on 30 November is 00:30 on 1 December in Wuhan."""
    steel = await ledger.register("青山区")
    cement = await ledger.register("新洲区")
    await report(ledger, steel, G, "100", "2026-11")
    late, early = (
        await ledger.confirm(steel, cement, "40"),
        await ledger.confirm(steel, cement, "60"),
    )
    ledger.clock.fixed = datetime(2026, 11, 30, 15, 59, 59, tzinfo=UTC)  # 23:59:59 in Wuhan
    november = await ledger.service.dispatch(steel.enterprise_id, early, "60")
    ledger.clock.fixed = datetime(2026, 11, 30, 16, 30, tzinfo=UTC)
    december = await ledger.service.dispatch(steel.enterprise_id, late, "40")
    assert (str(november.period), str(december.period)) == ("2026-11", "2026-12")
    for shipment, tonnes in ((november, "60"), (december, "40")):
        await ledger.service.receive(cement.enterprise_id, shipment.id, tonnes)
    ledger.clock.fixed = None
    nov = await ledger.figures(enterprise(steel), "2026-11", "2026-11")
    dec = await ledger.figures(enterprise(steel), "2026-12", "2026-12")
    assert (nov.transferred_for_utilisation, nov.rate) == (D("60.000"), D("0.6000"))
    assert (dec.transferred_for_utilisation, dec.rate) == (D("40.000"), None)
