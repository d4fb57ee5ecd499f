"""The electronic manifest (电子联单): states, who may act, tolerance, carbon, receipt entries."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from wastex_ledger.domain import manifest
from wastex_ledger.domain.entries import EntryKind
from wastex_ledger.domain.manifest import (
    Cancellation,
    DiscrepancyState,
    GapCause,
    Manifest,
    ManifestStatus,
    Resolution,
)
from wastex_ledger.domain.periods import Period
from wastex_shared.errors import DomainError

from .conftest import AT, CEMENT, POWER, STEEL, route

D = Decimal
APRIL = Period(2026, 4)
#: When the manifests below are dispatched and received: in April, after they were opened.
IN_APRIL = datetime(2026, 4, 20, 9, 0, tzinfo=UTC)


def created(planned: str = "50") -> Manifest:
    return manifest.create(
        manifest_id="m-1", match_id="match-1", route=route(planned=planned), at=AT
    )


def dispatched(tonnes: str = "50", *, prior: bool = False) -> Manifest:
    return created().dispatch(
        actor_enterprise_id="ent-steel",
        tonnes=tonnes,
        from_prior_stock=prior,
        period=APRIL,
        at=IN_APRIL,
    )


def receive(m: Manifest, tonnes: str, tolerance: str = "0.02") -> Manifest:
    return m.receive(
        actor_enterprise_id="ent-cement", tonnes=tonnes, tolerance=D(tolerance), at=IN_APRIL
    )


def test_lifecycle_created_in_transit_received() -> None:
    m = created()
    assert m.status is ManifestStatus.CREATED
    assert m.involves("ent-steel")
    assert m.involves("ent-cement")
    assert not m.involves("ent-power")
    sent = dispatched("50")
    assert (sent.status, sent.dispatched_tonnes, sent.period) == (
        ManifestStatus.IN_TRANSIT,
        D("50.000"),
        APRIL,
    )
    got = receive(sent, "49.5")
    assert got.status is ManifestStatus.RECEIVED
    assert got.received_tonnes == D("49.500")
    assert got.weight_gap_tonnes == D("-0.500")
    assert got.weight_gap_ratio == D("0.0100")
    assert not got.discrepancy


def test_a_manifest_needs_planned_tonnes() -> None:
    with pytest.raises(DomainError) as caught:
        created(planned="0")
    assert caught.value.code == "INVALID_QUANTITY"


@pytest.mark.parametrize("actor", ["ent-cement", "ent-power"])
def test_only_the_supplier_dispatches(actor: str) -> None:
    with pytest.raises(DomainError) as caught:
        created().dispatch(
            actor_enterprise_id=actor,
            tonnes="50",
            from_prior_stock=False,
            period=APRIL,
            at=IN_APRIL,
        )
    assert caught.value.code == "NOT_AUTHORIZED"


@pytest.mark.parametrize("actor", ["ent-steel", "ent-power"])
def test_only_the_recycler_receives(actor: str) -> None:
    with pytest.raises(DomainError) as caught:
        dispatched().receive(
            actor_enterprise_id=actor, tonnes="50", tolerance=D("0.02"), at=IN_APRIL
        )
    assert caught.value.code == "NOT_AUTHORIZED"


def test_states_are_followed_in_order() -> None:
    with pytest.raises(DomainError) as early:
        receive(created(), "50")
    assert early.value.code == "INVALID_MANIFEST_STATE"
    sent = dispatched()
    with pytest.raises(DomainError) as again:
        sent.dispatch(
            actor_enterprise_id="ent-steel",
            tonnes="50",
            from_prior_stock=False,
            period=APRIL,
            at=AT,
        )
    assert again.value.code == "INVALID_MANIFEST_STATE"
    for done in (receive(sent, "50"), receive(sent, "40")):
        with pytest.raises(DomainError) as late:
            receive(done, "50")
        assert late.value.code == "INVALID_MANIFEST_STATE"


@pytest.mark.parametrize("tonnes", ["0", "-1", "1.0001", "abc", "-0.000"])
def test_weights_must_be_positive_kilogram_tonnes(tonnes: str) -> None:
    with pytest.raises(DomainError) as caught:
        dispatched(tonnes)
    assert caught.value.code == "INVALID_QUANTITY"
    if tonnes in ("0", "-0.000"):
        return  # a receipt of nothing: a load lost whole (below)
    with pytest.raises(DomainError) as caught:
        receive(dispatched(), tonnes)
    assert caught.value.code == "INVALID_QUANTITY"


def test_a_receipt_over_twice_the_dispatched_weight_is_refused_as_a_slip_of_unit() -> None:
    """50,000 t received for a 50 t load (kilograms typed as tonnes) was booked as the
    recycler's intake for good (transfers cannot be reversed by hand); twice is still taken
    (a discrepancy), one kilogram more is refused and nothing changes."""
    sent = dispatched("50")
    assert receive(sent, "100.000").status is ManifestStatus.DISCREPANCY
    for slip in ("100.001", "50000"):
        with pytest.raises(DomainError) as caught:
            receive(sent, slip)
        assert (caught.value.code, caught.value.field) == ("INVALID_QUANTITY", "tonnes")
        assert "in tonnes" in caught.value.message


@pytest.mark.parametrize("nothing", ["0", "0.000", "-0.000"])
def test_a_load_lost_whole_is_received_as_nothing_a_discrepancy(nothing: str) -> None:
    """A lorry that never arrives: the recycler receives 0 t, so the manifest leaves the
    road as a discrepancy the parties resolve (LOSS_IN_TRANSIT), instead of staying
    IN_TRANSIT for ever (a receipt of 0 was refused)."""
    got = receive(dispatched(), nothing)
    assert got.status is ManifestStatus.DISCREPANCY
    assert got.received_tonnes == D("0.000")
    assert got.weight_gap_tonnes == D("-50.000")
    assert got.credited_tonnes == D("0.000")
    assert str(got.received_tonnes) == "0.000"  # not "-0.000"
    # Whatever the tolerance: nothing arrived.
    assert receive(dispatched(), nothing, tolerance="1").status is ManifestStatus.DISCREPANCY


def test_a_negative_receipt_is_refused_saying_zero_is_taken() -> None:
    with pytest.raises(DomainError) as caught:
        receive(dispatched(), "-1")
    assert (caught.value.code, caught.value.field) == ("INVALID_QUANTITY", "tonnes")
    assert "0 for a load lost whole" in caught.value.message


@pytest.mark.parametrize(
    ("received", "tolerance", "status"),
    [
        ("49.000", "0.02", ManifestStatus.RECEIVED),  # exactly 2 % short: within
        ("51.000", "0.02", ManifestStatus.RECEIVED),  # exactly 2 % over: within
        ("48.999", "0.02", ManifestStatus.DISCREPANCY),
        ("51.001", "0.02", ManifestStatus.DISCREPANCY),
        ("48.000", "0.05", ManifestStatus.RECEIVED),  # the tolerance is a parameter
        ("50.001", "0", ManifestStatus.DISCREPANCY),
        ("50.000", "0", ManifestStatus.RECEIVED),
    ],
)
def test_gap_above_tolerance_is_a_discrepancy(
    received: str, tolerance: str, status: ManifestStatus
) -> None:
    got = receive(dispatched("50"), received, tolerance)
    assert got.status is status
    assert got.received_tonnes == D(received)  # received either way


def test_default_tolerance_is_two_percent() -> None:
    assert D("0.02") == manifest.DEFAULT_TOLERANCE


def test_carbon_uses_the_received_weight_and_names_its_factors() -> None:
    got = receive(dispatched("50"), "40")
    assert got.carbon is not None
    # 40 t × 35.2 km × 0.078 kg/t·km = 109.824 kg; 40 t × 668 kg/t = 26 720 kg avoided.
    assert got.carbon.transport_co2e_kg == D("109.824")
    assert got.carbon.avoided_co2e_kg == D("26720.000")
    assert got.route.freight_factor_key == "freight_road_diesel_truck_30t_cn"
    assert got.route.avoided_factor_key == "avoided_ggbs_replacing_cement_cn_derived"


def test_a_heavier_load_is_credited_and_costed_at_the_dispatched_weight() -> None:
    got = receive(dispatched("50"), "51")  # 2 % over: water or the scales, within tolerance
    assert (got.received_tonnes, got.credited_tonnes) == (D("51.000"), D("50.000"))
    assert got.carbon is not None
    # 50 t × 35.2 km × 0.078 kg/t·km = 137.28 kg; 50 t × 668 kg/t = 33 400 kg avoided.
    assert got.carbon.transport_co2e_kg == D("137.280")
    assert got.carbon.avoided_co2e_kg == D("33400.000")
    assert receive(dispatched("50"), "40").credited_tonnes == D("40.000")
    assert dispatched("50").credited_tonnes is None


def test_no_avoided_factor_means_zero_avoided() -> None:
    m = manifest.create(
        manifest_id="m-2", match_id="match-2", route=route(code="SW02", planned="10"), at=AT
    )
    sent = m.dispatch(
        actor_enterprise_id="ent-steel",
        tonnes="10",
        from_prior_stock=False,
        period=APRIL,
        at=IN_APRIL,
    )
    got = receive(sent, "10")
    assert got.carbon is not None
    assert got.carbon.avoided_co2e_kg == D("0.000")
    assert got.carbon.transport_co2e_kg == D("27.456")  # 10 × 35.2 × 0.078


def test_receipt_entries_generator_out_receiver_in() -> None:
    got = receive(dispatched("50", prior=True), "48.5")
    out, into = manifest.receipt_entries(
        got,
        supplier_site=STEEL,
        recycler_site=CEMENT,
        out_entry_id="e-out",
        in_entry_id="e-in",
        cause_event_id="evt-received",
    )
    assert out.kind is EntryKind.TRANSFERRED_OUT
    assert (out.enterprise_id, out.site_id, out.district, out.industry) == (
        "ent-steel",
        "site-steel",
        "青山区",
        "C31",
    )
    assert into.kind is EntryKind.TRANSFERRED_IN
    assert (into.enterprise_id, into.district) == ("ent-cement", "新洲区")
    assert out.tonnes == into.tonnes == D("48.500")
    assert out.period == into.period == APRIL  # booked to the month of dispatch
    assert out.from_prior_stock  # the generator's prior-stock part…
    assert not into.from_prior_stock  # …is not the receiver's
    assert out.carbon == got.carbon
    assert into.carbon is None
    assert out.cause_event_id == into.cause_event_id == "evt-received"
    assert out.manifest_id == into.manifest_id == "m-1"


def test_receipt_entries_need_a_received_manifest_and_its_sites() -> None:
    with pytest.raises(ValueError, match="not received"):
        manifest.receipt_entries(
            dispatched(),
            supplier_site=STEEL,
            recycler_site=CEMENT,
            out_entry_id="a",
            in_entry_id="b",
            cause_event_id="c",
        )
    got = receive(dispatched(), "50")
    with pytest.raises(ValueError, match="do not match"):
        manifest.receipt_entries(
            got,
            supplier_site=STEEL,
            recycler_site=POWER,
            out_entry_id="a",
            in_entry_id="b",
            cause_event_id="c",
        )
    with pytest.raises(ValueError, match="do not match"):
        manifest.receipt_entries(
            got,
            supplier_site=replace(STEEL, enterprise_id="ent-other"),
            recycler_site=CEMENT,
            out_entry_id="a",
            in_entry_id="b",
            cause_event_id="c",
        )


@pytest.mark.parametrize(
    "period",
    [Period(2026, 2), Period(2026, 5), Period(2099, 3)],
    ids=["before-opened", "not-begun", "far-ahead"],
)
def test_a_shipment_is_booked_to_a_month_between_its_manifest_opening_and_now(
    period: Period,
) -> None:
    # Opened in March (AT), dispatched on 20 April: March or April, nothing else.
    with pytest.raises(DomainError) as refused:
        created().dispatch(
            actor_enterprise_id="ent-steel",
            tonnes="50",
            from_prior_stock=False,
            period=period,
            at=IN_APRIL,
        )
    assert (refused.value.code, refused.value.field) == ("INVALID_PERIOD", "period")
    for month in (Period(2026, 3), APRIL):
        sent = created().dispatch(
            actor_enterprise_id="ent-steel",
            tonnes="50",
            from_prior_stock=False,
            period=month,
            at=IN_APRIL,
        )
        assert sent.period == month


# -- a discrepancy's resolution -----------------------------------------------------------

LATER = datetime(2026, 4, 22, 10, 0, tzinfo=UTC)
SUPPLIER, RECYCLER = "ent-steel", "ent-cement"


def resolve(m: Manifest, actor: str, cause: GapCause, note: str = "checked") -> Manifest:
    return m.resolve(actor_enterprise_id=actor, cause=cause, note=note, at=LATER)


def short() -> Manifest:
    """50 t dispatched, 45 t received: a 10 % discrepancy."""
    return receive(dispatched("50"), "45")


def test_a_discrepancy_is_resolved_when_the_other_party_names_the_same_cause() -> None:
    proposed = resolve(short(), SUPPLIER, GapCause.MOISTURE_CHANGE, " wet slag dried out ")
    assert proposed.status is ManifestStatus.DISCREPANCY
    assert proposed.resolution == Resolution(
        GapCause.MOISTURE_CHANGE, "wet slag dried out", SUPPLIER, LATER
    )
    agreed = resolve(proposed, RECYCLER, GapCause.MOISTURE_CHANGE, "dry on arrival")
    assert agreed.status is ManifestStatus.RESOLVED
    assert agreed.discrepancy  # the gap was over the tolerance, resolved or not
    assert agreed.resolution == Resolution(
        GapCause.MOISTURE_CHANGE, "wet slag dried out", SUPPLIER, LATER, "dry on arrival", LATER
    )
    # The booked weights stay as they were received.
    assert (agreed.received_tonnes, agreed.weight_gap_tonnes) == (D("45.000"), D("-5.000"))


def test_another_cause_or_the_same_party_again_replaces_the_proposal() -> None:
    first = resolve(short(), RECYCLER, GapCause.WEIGHING_ERROR, "our scale")
    countered = resolve(first, SUPPLIER, GapCause.LOSS_IN_TRANSIT, "tarp torn")
    assert countered.status is ManifestStatus.DISCREPANCY
    assert countered.resolution is not None
    assert (countered.resolution.cause, countered.resolution.proposed_by) == (
        GapCause.LOSS_IN_TRANSIT,
        SUPPLIER,
    )
    # The supplier repeating its own cause is not the recycler's agreement.
    again = resolve(countered, SUPPLIER, GapCause.LOSS_IN_TRANSIT, "tarp torn, photos sent")
    assert again.status is ManifestStatus.DISCREPANCY
    assert resolve(again, RECYCLER, GapCause.LOSS_IN_TRANSIT).status is ManifestStatus.RESOLVED


EARLIER = datetime(2026, 4, 21, 9, 0, tzinfo=UTC)


def test_naming_another_cause_in_answer_disputes_the_discrepancy_until_they_agree() -> None:
    gap = short()
    assert gap.discrepancy_state is DiscrepancyState.OPEN
    first = gap.resolve(
        actor_enterprise_id=RECYCLER, cause=GapCause.WEIGHING_ERROR, note="scale", at=EARLIER
    )
    assert first.discrepancy_state is DiscrepancyState.PROPOSED
    # Changing one's own mind is no dispute.
    changed = resolve(first, RECYCLER, GapCause.MOISTURE_CHANGE)
    assert changed.discrepancy_state is DiscrepancyState.PROPOSED
    countered = resolve(changed, SUPPLIER, GapCause.LOSS_IN_TRANSIT, "tarp torn")
    assert countered.discrepancy_state is DiscrepancyState.DISPUTED
    assert countered.resolution is not None
    assert countered.resolution.disputed_at == LATER
    # Still disputed after another round, dated from the first disagreement.
    later = datetime(2026, 5, 2, tzinfo=UTC)
    recountered = countered.resolve(
        actor_enterprise_id=RECYCLER, cause=GapCause.WEIGHING_ERROR, note="no", at=later
    )
    assert recountered.discrepancy_state is DiscrepancyState.DISPUTED
    assert recountered.resolution is not None
    assert recountered.resolution.disputed_at == LATER
    agreed = resolve(recountered, SUPPLIER, GapCause.WEIGHING_ERROR)
    assert agreed.discrepancy_state is DiscrepancyState.RESOLVED
    assert agreed.resolution is not None
    assert agreed.resolution.disputed_at == LATER  # the record of it stays
    assert receive(dispatched("50"), "49.5").discrepancy_state is None  # within tolerance


@pytest.mark.parametrize(
    ("m", "actor", "cause", "note", "code", "field"),
    [
        (
            dispatched(),
            SUPPLIER,
            GapCause.WEIGHING_ERROR,
            "x",
            "INVALID_MANIFEST_STATE",
            "manifestId",
        ),
        (
            receive(dispatched(), "49.5"),
            SUPPLIER,
            GapCause.WEIGHING_ERROR,
            "x",
            "INVALID_MANIFEST_STATE",
            "manifestId",
        ),
        (short(), "ent-power", GapCause.WEIGHING_ERROR, "x", "NOT_AUTHORIZED", None),
        (short(), SUPPLIER, GapCause.WEIGHING_ERROR, "  ", "REASON_REQUIRED", "note"),
        (short(), SUPPLIER, GapCause.WEIGHING_ERROR, "x" * 501, "INVALID_NOTE", "note"),
        # Arriving heavier is no loss.
        (
            receive(dispatched("50"), "55"),
            RECYCLER,
            GapCause.LOSS_IN_TRANSIT,
            "x",
            "INVALID_CAUSE",
            "cause",
        ),
    ],
    ids=["in-transit", "within-tolerance", "outsider", "no-note", "long-note", "heavier-lost"],
)
def test_what_a_resolution_refuses(
    m: Manifest, actor: str, cause: GapCause, note: str, code: str, field: str | None
) -> None:
    with pytest.raises(DomainError) as refused:
        resolve(m, actor, cause, note)
    assert (refused.value.code, refused.value.field) == (code, field)


def test_a_resolved_discrepancy_is_final() -> None:
    agreed = resolve(
        resolve(short(), SUPPLIER, GapCause.WEIGHING_ERROR), RECYCLER, GapCause.WEIGHING_ERROR
    )
    with pytest.raises(DomainError) as refused:
        resolve(agreed, SUPPLIER, GapCause.LOSS_IN_TRANSIT)
    assert refused.value.code == "INVALID_MANIFEST_STATE"
    assert resolve(short(), SUPPLIER, GapCause.WEIGHING_ERROR, "x" * 500).resolution is not None


def test_only_a_loss_is_waste_apart_from_the_shipment() -> None:
    assert {c for c in GapCause if not c.part_of_shipment} == {GapCause.LOSS_IN_TRANSIT}


# -- calling a shipment off ----------------------------------------------------------------


def test_either_party_calls_off_a_shipment_not_yet_dispatched() -> None:
    for party in (SUPPLIER, RECYCLER):
        off = created().cancel(actor_enterprise_id=party, reason=" kiln down ", at=LATER)
        assert off.status is ManifestStatus.CANCELLED
        assert off.cancellation == Cancellation(party, "kiln down", LATER)
        assert off.discrepancy_state is None
    # A cancelled shipment is final: it cannot be dispatched, nor cancelled again.
    with pytest.raises(DomainError) as refused:
        off.dispatch(
            actor_enterprise_id=SUPPLIER,
            tonnes="50",
            from_prior_stock=False,
            period=APRIL,
            at=IN_APRIL,
        )
    assert refused.value.code == "INVALID_MANIFEST_STATE"


@pytest.mark.parametrize(
    ("m", "actor", "reason", "code", "field"),
    [
        (dispatched(), SUPPLIER, "x", "INVALID_MANIFEST_STATE", "manifestId"),
        (short(), RECYCLER, "x", "INVALID_MANIFEST_STATE", "manifestId"),
        (created(), "ent-power", "x", "NOT_AUTHORIZED", None),
        (created(), SUPPLIER, "  ", "REASON_REQUIRED", "reason"),
        (created(), SUPPLIER, "x" * 501, "TEXT_TOO_LONG", "reason"),
    ],
    ids=["on-the-road", "received", "outsider", "no-reason", "long-reason"],
)
def test_what_a_cancellation_refuses(
    m: Manifest, actor: str, reason: str, code: str, field: str | None
) -> None:
    with pytest.raises(DomainError) as refused:
        m.cancel(actor_enterprise_id=actor, reason=reason, at=LATER)
    assert (refused.value.code, refused.value.field) == (code, field)


def test_a_shipment_still_waiting_after_its_window_is_overdue() -> None:
    waiting = replace(created(), ship_by=date(2026, 4, 30))
    assert not waiting.overdue_on(date(2026, 4, 30))  # its last day counts
    assert waiting.overdue_on(date(2026, 5, 1))
    sent = replace(dispatched(), ship_by=date(2026, 4, 30))
    assert not sent.overdue_on(date(2026, 5, 1))
    assert not created().overdue_on(date(2099, 1, 1))  # no window known: never overdue


def test_a_load_heavier_than_planned_by_more_than_the_margin_is_refused() -> None:
    # helper-43: 5,000 t left under a match planned at 10 t, past the offer, the demand and
    # the recycler's licence tonnage, all of which counted only what was planned.
    assert dispatched("55").dispatched_tonnes == D("55")  # 50 t planned, 10 % over
    with pytest.raises(DomainError) as refused:
        dispatched("55.001")
    assert (refused.value.code, refused.value.field) == ("INVALID_QUANTITY", "tonnes")
    assert "at most 55.000 t may leave" in refused.value.message
    with pytest.raises(DomainError):  # no margin: not a kilogram more
        created().dispatch(
            actor_enterprise_id="ent-steel",
            tonnes="50.001",
            from_prior_stock=False,
            period=APRIL,
            at=IN_APRIL,
            over_plan=D(0),
        )


@pytest.mark.parametrize(
    ("tonnes", "tolerance", "status", "ratio"),
    [
        # 1 kg over 2 % of 100 t: a DISCREPANCY, and its ratio reads over 2 % (it read 0.0200).
        ("97.999", "0.02", ManifestStatus.DISCREPANCY, "0.0201"),
        ("102.001", "0.02", ManifestStatus.DISCREPANCY, "0.0201"),
        ("98", "0.02", ManifestStatus.RECEIVED, "0.0200"),  # exactly the tolerance: within
        ("98.001", "0.02", ManifestStatus.RECEIVED, "0.0200"),
        ("90", "0.02", ManifestStatus.DISCREPANCY, "0.1000"),
        # A tolerance finer than 4 places is shown to its own places.
        ("98.74", "0.01255", ManifestStatus.DISCREPANCY, "0.01260"),
        ("99.999", "0.0000000001", ManifestStatus.DISCREPANCY, "0.000010"),  # 6 at most
    ],
)
def test_the_gap_ratio_reads_over_the_tolerance_exactly_when_it_is_a_discrepancy(
    tonnes: str, tolerance: str, status: ManifestStatus, ratio: str
) -> None:
    sent = created("100").dispatch(
        actor_enterprise_id="ent-steel",
        tonnes="100",
        from_prior_stock=False,
        period=APRIL,
        at=IN_APRIL,
    )
    got = receive(sent, tonnes, tolerance)
    assert (got.status, str(got.weight_gap_ratio)) == (status, ratio)
    assert got.weight_gap_ratio is not None
    assert (got.weight_gap_ratio > D(tolerance)) is got.discrepancy


def dispatch_on(m: Manifest, at: datetime, period: Period = APRIL) -> Manifest:
    return m.dispatch(
        actor_enterprise_id="ent-steel", tonnes="50", from_prior_stock=False, period=period, at=at
    )


def test_a_shipment_cannot_leave_before_its_window_opens() -> None:
    # The recycler takes it in from the window's first day, and matching checked its
    # licences for the window's days only (decision 037).
    waiting = replace(created(), ship_from=date(2026, 4, 21), ship_by=date(2026, 5, 31))
    with pytest.raises(DomainError) as refused:
        dispatch_on(waiting, IN_APRIL)  # 20 April in China
    assert (refused.value.code, refused.value.field) == ("SHIPPING_WINDOW_NOT_OPEN", "matchId")
    assert "may leave from 2026-04-21" in refused.value.message
    # The day is China's: 17:00 UTC on 20 April is 01:00 on the 21st there.
    evening = datetime(2026, 4, 20, 17, 0, tzinfo=UTC)
    assert dispatch_on(waiting, evening).status is ManifestStatus.IN_TRANSIT


def test_a_shipment_leaves_on_its_window_s_first_day_and_after_its_last() -> None:
    window = replace(created(), ship_from=date(2026, 4, 20), ship_by=date(2026, 4, 20))
    assert dispatch_on(window, IN_APRIL).status is ManifestStatus.IN_TRANSIT
    # Late, it still leaves (overdue until then: the parties dispatch late or cancel).
    later = datetime(2026, 5, 6, 9, 0, tzinfo=UTC)
    sent = dispatch_on(window, later, Period(2026, 5))
    assert sent.status is ManifestStatus.IN_TRANSIT
    # A manifest opened before the ledger kept the window's first day leaves any day.
    assert dispatch_on(created(), IN_APRIL).status is ManifestStatus.IN_TRANSIT


def test_a_late_report_booked_to_a_month_before_the_window_is_refused() -> None:
    # Booked to March (opened 15 March), it left on some day of March: none of them is in a
    # window opening on 1 April, so the month is at fault.
    in_april = replace(created(), ship_from=date(2026, 4, 1))
    with pytest.raises(DomainError) as refused:
        dispatch_on(in_april, IN_APRIL, Period(2026, 3))
    assert (refused.value.code, refused.value.field) == ("SHIPPING_WINDOW_NOT_OPEN", "period")
    assert "2026-04-01" in refused.value.message
    # A window opening on 31 March takes March's last day: the report stands.
    on_the_31st = replace(created(), ship_from=date(2026, 3, 31))
    assert dispatch_on(on_the_31st, IN_APRIL, Period(2026, 3)).period == Period(2026, 3)
