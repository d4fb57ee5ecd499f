"""Hand-computed ledger scenarios: every rate is worked out on paper and compared exactly.

The rates follow shared/reference/formulas.md:
  rate          = (in-plant + transferred out at the received weight, both incl. prior stock)
                  ÷ (generated + prior-year stock utilised)
  in_plant_share = in-plant ÷ (generated + prior-year stock utilised)
  disposal_rate  = disposed ÷ generated
as fractions with 4 places, half-even; None when the denominator is 0.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from wastex_ledger.domain.entries import EntryKind
from wastex_ledger.domain.figures import Figures, Utilisation
from wastex_ledger.domain.manifest import ManifestStatus
from wastex_ledger.domain.scope import SEPARATOR
from wastex_shared.errors import DomainError

from .conftest import CEMENT, FLY_ASH, POWER, SLAG, STEEL, Journal, route

D = Decimal
GEN, IN_PLANT, STORED, DISPOSED, OPENING = (
    EntryKind.GENERATED,
    EntryKind.UTILISED_IN_PLANT,
    EntryKind.STORED,
    EntryKind.DISPOSED,
    EntryKind.OPENING_STOCK,
)
RETRIEVED = EntryKind.STORAGE_RETRIEVED


def test_all_in_plant(journal: Journal) -> None:
    journal.report(GEN, STEEL, "100", "2026-01")
    journal.report(IN_PLANT, STEEL, "60", "2026-01")
    journal.report(IN_PLANT, STEEL, "40", "2026-02")

    steel = journal.enterprise("ent-steel")
    assert steel.generated == D("100.000")
    assert steel.utilised == D("100.000")
    assert steel.utilised_in_plant == D("100.000")
    assert steel.transferred_for_utilisation == D("0.000")
    assert str(steel.rate) == "1.0000"
    assert str(steel.in_plant_share) == "1.0000"
    assert str(steel.disposal_rate) == "0.0000"
    # January alone: 60 of 100.
    assert str(journal.scope("enterprise", "ent-steel", "2026-01", "2026-01").rate) == "0.6000"


def test_all_transferred_counts_at_receipt(journal: Journal) -> None:
    journal.report(GEN, STEEL, "80", "2026-03")
    shipment = journal.open_manifest(route(planned="80"))
    journal.dispatch(shipment.id, "80", "2026-03")
    # In transit: reserved against the balance, but not yet utilised for the generator.
    assert str(journal.enterprise("ent-steel").rate) == "0.0000"
    with pytest.raises(DomainError) as caught:
        journal.report(IN_PLANT, STEEL, "0.001", "2026-03")
    assert caught.value.code == "BALANCE_VIOLATION"

    journal.receive(shipment.id, "80")
    steel = journal.enterprise("ent-steel")
    assert steel.transferred_for_utilisation == D("80.000")
    assert steel.utilised == D("80.000")
    assert str(steel.rate) == "1.0000"
    assert str(steel.in_plant_share) == "0.0000"
    # The recycler's intake is not its generation: it has no rate of its own.
    cement = journal.enterprise("ent-cement")
    assert cement.generated == D("0.000")
    assert cement.intake == D("80.000")
    assert cement.rate is None


def test_wuhan_2010_prior_year_stock_utilised(journal: Journal) -> None:
    """formulas.md §1: 产生量 1324.84, 综合利用量 1337.27 (含往年贮存量 31.51) → 98.59 %.

    Published in 万t; booked here as tonnes (1324.84 万t is above one message's 10 Mt cap),
    which leaves every ratio unchanged.
    """
    journal.report(OPENING, STEEL, "31.51", "2010-01")  # stock from before 2010
    journal.report(GEN, STEEL, "1324.84", "2010-06")
    journal.report(IN_PLANT, STEEL, "1000.00", "2010-06")
    journal.report(IN_PLANT, STEEL, "31.51", "2010-07", prior=True)
    shipment = journal.open_manifest(route(planned="305.76"))
    journal.dispatch(shipment.id, "305.76", "2010-09")
    journal.receive(shipment.id, "305.76")
    journal.report(STORED, STEEL, "19.08", "2010-12")  # 1324.84 − 1305.76: identity exact

    steel = journal.enterprise("ent-steel")
    assert steel.utilised == D("1337.270")  # utilisation above generation: old stock used
    assert steel.prior_stock_utilised == D("31.510")
    assert steel.denominator == D("1356.350")
    assert steel.rate == D("0.9859")  # 1337.27 ÷ (1324.84 + 31.51) = 0.98593…
    assert steel.in_plant_share == D("0.7605")  # 1031.51 ÷ 1356.35 = 0.76050…
    # Without the prior-year term in the denominator the rate would exceed 100 %.
    assert steel.utilised / steel.generated > 1


def test_prior_stock_comes_from_earlier_years_storage(journal: Journal) -> None:
    journal.report(GEN, STEEL, "50", "2009-05")
    journal.report(STORED, STEEL, "50", "2009-05")
    # This year's storage is not prior-year stock within the same year…
    with pytest.raises(DomainError) as caught:
        journal.report(IN_PLANT, STEEL, "10", "2009-11", prior=True)
    assert caught.value.code == "BALANCE_VIOLATION"
    assert "prior-year stock" in caught.value.message
    # …but it is the next year.
    journal.report(IN_PLANT, STEEL, "30", "2010-02", prior=True)
    journal.report(DISPOSED, STEEL, "20", "2010-03", prior=True)
    with pytest.raises(DomainError):
        journal.report(DISPOSED, STEEL, "0.001", "2010-04", prior=True)

    year_2010 = journal.scope("enterprise", "ent-steel", "2010-01", "2010-12")
    # Only old stock used in 2010: rate 30 ÷ (0 + 30); prior disposal is in no denominator.
    assert year_2010.rate == D("1.0000")
    assert year_2010.disposal_rate is None  # nothing generated in 2010
    assert year_2010.disposed == D("20.000")


def test_prior_stock_disposal_is_not_in_the_denominator(journal: Journal) -> None:
    journal.report(OPENING, STEEL, "50", "2026-01")
    journal.report(GEN, STEEL, "100", "2026-01")
    journal.report(IN_PLANT, STEEL, "80", "2026-01")
    journal.report(DISPOSED, STEEL, "50", "2026-02", prior=True)
    steel = journal.enterprise("ent-steel")
    assert steel.rate == D("0.8000")  # 80 ÷ (100 + 0)
    assert steel.disposal_rate == D("0.5000")  # 50 ÷ 100 (处置量 includes its prior part)


def test_weight_discrepancy_books_the_received_weight(journal: Journal) -> None:
    journal.report(GEN, STEEL, "50", "2026-04")
    shipment = journal.open_manifest(route(planned="50"))
    journal.dispatch(shipment.id, "50", "2026-04")
    received = journal.receive(shipment.id, "48.5")  # 3 % short, tolerance 2 %

    assert received.status is ManifestStatus.DISCREPANCY
    assert received.discrepancy
    assert received.weight_gap_tonnes == D("-1.500")
    assert received.weight_gap_ratio == D("0.0300")
    out, into = journal.entries[-2:]
    assert (out.kind, out.enterprise_id, out.tonnes) == (
        EntryKind.TRANSFERRED_OUT,
        "ent-steel",
        D("48.500"),
    )
    assert (into.kind, into.enterprise_id, into.tonnes) == (
        EntryKind.TRANSFERRED_IN,
        "ent-cement",
        D("48.500"),
    )
    assert out.manifest_id == into.manifest_id == shipment.id
    assert str(journal.enterprise("ent-steel").rate) == "0.9700"  # 48.5 ÷ 50
    # Carbon at the received weight: 48.5 t × 35.2 km × 0.078 = 133.1616 kg; 48.5 × 668.
    assert out.carbon is not None
    assert out.carbon.transport_co2e_kg == D("133.162")
    assert out.carbon.avoided_co2e_kg == D("32398.000")
    assert into.carbon is None


def test_an_overweight_receipt_credits_the_supplier_what_it_sent(journal: Journal) -> None:
    journal.report(GEN, STEEL, "50", "2026-04")
    shipment = journal.open_manifest(route(planned="50"))
    journal.dispatch(shipment.id, "50", "2026-04")
    received = journal.receive(shipment.id, "52")  # 4 % over: a discrepancy to resolve
    assert received.status is ManifestStatus.DISCREPANCY
    out, into = journal.entries[-2:]
    assert (out.kind, out.tonnes) == (EntryKind.TRANSFERRED_OUT, D("50.000"))
    assert (into.kind, into.tonnes) == (EntryKind.TRANSFERRED_IN, D("52.000"))  # as measured
    # The supplier utilised all it generated, not 104 % of it; its books stay balanced.
    assert journal.enterprise("ent-steel").rate == D("1.0000")
    journal.report(GEN, STEEL, "1", "2026-05")
    journal.report(DISPOSED, STEEL, "1", "2026-05")
    with pytest.raises(DomainError) as caught:
        journal.report(DISPOSED, STEEL, "0.001", "2026-05")
    assert caught.value.code == "BALANCE_VIOLATION"


def test_correction_is_a_reversal_plus_a_new_entry(journal: Journal) -> None:
    generated = journal.report(GEN, STEEL, "100", "2026-05")
    journal.report(IN_PLANT, STEEL, "90", "2026-05")
    assert journal.enterprise("ent-steel").rate == D("0.9000")

    reversal, replacement = journal.correct(generated, "120")
    assert reversal.reverses == generated.id
    assert reversal.tonnes == D("-100.000")
    assert replacement.tonnes == D("120.000")
    assert replacement.reverses is None
    assert generated in journal.entries  # the original stays: entries are never updated
    steel = journal.enterprise("ent-steel")
    assert steel.generated == D("120.000")
    assert steel.rate == D("0.7500")  # 90 ÷ 120

    # Correcting below what was already used would break the identity: nothing is booked.
    booked = len(journal.entries)
    with pytest.raises(DomainError) as caught:
        journal.correct(replacement, "80")
    assert caught.value.code == "BALANCE_VIOLATION"
    assert len(journal.entries) == booked
    with pytest.raises(DomainError) as twice:
        journal.reverse(generated)
    assert twice.value.code == "ALREADY_REVERSED"


def test_reversing_a_use_lowers_the_rate(journal: Journal) -> None:
    journal.report(GEN, STEEL, "40", "2026-02")
    use = journal.report(IN_PLANT, STEEL, "10", "2026-02")
    journal.report(IN_PLANT, STEEL, "30", "2026-02")
    journal.reverse(use)
    assert journal.enterprise("ent-steel").rate == D("0.7500")
    # A reversal of generation that would leave uses uncovered is refused.
    with pytest.raises(DomainError):
        journal.reverse(journal.entries[0])


def test_two_districts_count_each_tonne_once(journal: Journal) -> None:
    # 青山区: the steelworks generates 100 t slag and ships it to the cement plant.
    journal.report(GEN, STEEL, "100", "2026-06")
    shipment = journal.open_manifest(route(planned="100"))
    journal.dispatch(shipment.id, "100", "2026-06")
    assert journal.receive(shipment.id, "98").status is ManifestStatus.RECEIVED  # 2 %: ok
    # 新洲区: the cement plant uses the intake and its own 10 t; the power plant 10 of 40.
    journal.report(EntryKind.UTILISED, CEMENT, "98", "2026-06")
    journal.report(GEN, CEMENT, "10", "2026-06")
    journal.report(IN_PLANT, CEMENT, "10", "2026-06")
    journal.report(GEN, POWER, "40", "2026-06", code=FLY_ASH)
    journal.report(IN_PLANT, POWER, "10", "2026-06", code=FLY_ASH)
    journal.report(STORED, POWER, "30", "2026-06", code=FLY_ASH)

    city = journal.scope("city", "*")
    assert city.generated == D("150.000")  # 100 + 10 + 40; the 98 t intake is not generation
    assert city.utilised == D("118.000")  # 98 + 10 + 10; the receiver's use is not again
    assert city.rate == D("0.7867")  # 118 ÷ 150 = 0.78666…
    assert city.in_plant_share == D("0.1333")  # 20 ÷ 150
    assert city.intake == D("98.000")

    qingshan = journal.scope("district", "青山区")
    assert (qingshan.generated, qingshan.utilised, qingshan.rate) == (
        D("100.000"),
        D("98.000"),
        D("0.9800"),
    )
    xinzhou = journal.scope("district", "新洲区")
    assert (xinzhou.generated, xinzhou.utilised, xinzhou.rate) == (
        D("50.000"),
        D("20.000"),
        D("0.4000"),
    )
    assert journal.scope("industry", "C30").rate == D("1.0000")
    assert journal.scope("industry", "D44").rate == D("0.2500")
    assert journal.scope("waste_code", SLAG).rate == D("0.9818")  # 108 ÷ 110
    assert journal.scope("district_code", f"新洲区|{FLY_ASH}").stored == D("30.000")
    assert journal.scope("enterprise_code", f"ent-steel|{SLAG}").rate == D("0.9800")

    # Every partition of the city sums back to the city, column by column.
    for kind in ("district", "industry", "enterprise", "waste_code"):
        parts = sum((f for (k, _, _), f in journal.rows.items() if k == kind), Figures())
        assert parts == city.figures, kind


def test_storage_is_what_stays_stored_this_year(journal: Journal) -> None:
    """贮存量 in the identity is the part of this year's generation that is (still) stored.

    So waste put into storage in January and used in June is corrected out of storage (a
    reversal or correction of the January entry), not used on top of it.
    """
    journal.report(GEN, STEEL, "100", "2026-01")
    stored = journal.report(STORED, STEEL, "100", "2026-01")
    with pytest.raises(DomainError) as caught:
        journal.report(IN_PLANT, STEEL, "60", "2026-06")
    assert caught.value.code == "BALANCE_VIOLATION"
    journal.correct(stored, "40")
    journal.report(IN_PLANT, STEEL, "60", "2026-06")
    steel = journal.enterprise("ent-steel")
    assert (steel.stored, steel.rate) == (D("40.000"), D("0.6000"))


def test_this_years_storage_taken_back_out_frees_it_for_use(journal: Journal) -> None:
    # January's slag is stored; in February it is taken out again and used in the plant.
    journal.report(GEN, STEEL, "100", "2026-01")
    journal.report(STORED, STEEL, "100", "2026-01")
    with pytest.raises(DomainError):  # all of it is in storage
        journal.report(IN_PLANT, STEEL, "60", "2026-02")
    journal.report(RETRIEVED, STEEL, "60", "2026-02")
    journal.report(IN_PLANT, STEEL, "60", "2026-02")
    steel = journal.enterprise("ent-steel")
    assert (steel.stored, steel.utilised_in_plant, steel.rate) == (
        D("40.000"),
        D("60.000"),
        D("0.6000"),
    )
    assert journal.scope("enterprise", "ent-steel", "2026-01", "2026-01").stored == D("100.000")


@pytest.mark.parametrize(
    ("stored_in", "taken_in"),
    [("2026-03", "2026-02"), ("2025-11", "2026-02"), ("2026-01", "2026-01")],
    ids=["before-it-was-stored", "last-years-storage", "more-than-stored"],
)
def test_no_more_is_taken_out_of_storage_than_this_year_put_in_so_far(
    journal: Journal, stored_in: str, taken_in: str
) -> None:
    journal.report(OPENING, STEEL, "500", "2025-01")
    journal.report(GEN, STEEL, "50", stored_in)
    journal.report(STORED, STEEL, "50", stored_in)
    with pytest.raises(DomainError) as caught:
        journal.report(RETRIEVED, STEEL, "50.001", taken_in)
    assert caught.value.code == "BALANCE_VIOLATION"
    assert "fromPriorStock" in caught.value.message


def small_city(journal: Journal) -> None:
    """Three plants in two districts, 2026, every kind of figure once (helper-76).

    青山区, the steelworks (C31): slag SW01 generated 120 t in January, 30 t used in the
    plant, 40 t stored in February, 50 t shipped in April and received as 49.5 t (1 % light:
    within the tolerance, credited 49.5 t); hazardous HW08 10 t generated and disposed of.
    新洲区, the power plant (D44): fly ash SW02, 200 t opening stock, 80 t generated in May,
    60 t of it used, 20 t stored; 40 t of old stock used and 20 t of it disposed of in June.
    新洲区, the cement plant (C30): takes the 49.5 t (intake, not generation) and uses it; its
    own 10 t of slag generated and used in January.
    """
    journal.report(GEN, STEEL, "120", "2026-01")
    journal.report(IN_PLANT, STEEL, "30", "2026-01")
    journal.report(STORED, STEEL, "40", "2026-02")
    journal.report(GEN, STEEL, "10", "2026-02", code="HW08")
    journal.report(DISPOSED, STEEL, "10", "2026-02", code="HW08")
    shipment = journal.open_manifest(route(planned="50"))
    journal.dispatch(shipment.id, "50", "2026-04")
    assert journal.receive(shipment.id, "49.5").status is ManifestStatus.RECEIVED
    journal.report(OPENING, POWER, "200", "2026-01", code=FLY_ASH)
    journal.report(GEN, POWER, "80", "2026-05", code=FLY_ASH)
    journal.report(IN_PLANT, POWER, "60", "2026-05", code=FLY_ASH)
    journal.report(STORED, POWER, "20", "2026-05", code=FLY_ASH)
    journal.report(IN_PLANT, POWER, "40", "2026-06", code=FLY_ASH, prior=True)
    journal.report(DISPOSED, POWER, "20", "2026-06", code=FLY_ASH, prior=True)
    journal.report(EntryKind.UTILISED, CEMENT, "49.5", "2026-04")
    journal.report(GEN, CEMENT, "10", "2026-01")
    journal.report(IN_PLANT, CEMENT, "10", "2026-01")


def general(journal: Journal, kind: str, value: str, first: str, last: str) -> Utilisation:
    """A code-less scope's general-waste figures, as `utilisation` answers by default."""
    total = Utilisation()
    for (k, v, month), figures in journal.rows.items():
        if (k, v) == (kind, f"{value}{SEPARATOR}general") and first <= month <= last:
            total = total + Utilisation(figures)
    return total


def test_a_small_city_hand_computed_for_every_scope_and_cut(journal: Journal) -> None:
    small_city(journal)
    year = ("2026-01", "2026-12")

    steel = general(journal, "enterprise", "ent-steel", *year)
    # 30 in the plant + 49.5 received ÷ 120: the 0.5 t weighing gap was not utilised.
    assert (steel.generated, steel.utilised, steel.denominator) == (
        D("120.000"),
        D("79.500"),
        D("120.000"),
    )
    assert (steel.rate, steel.in_plant_share, steel.stored) == (
        D("0.6625"),
        D("0.2500"),
        D("40.000"),
    )
    assert steel.disposal_rate == D("0.0000")  # the HW08 disposal is hazardous waste's
    power = general(journal, "enterprise", "ent-power", *year)
    # (60 + 40 old stock) ÷ (80 + 40): old stock used is in both; old stock disposed in none.
    assert (power.utilised, power.denominator, power.rate) == (
        D("100.000"),
        D("120.000"),
        D("0.8333"),
    )
    assert (power.disposed, power.disposal_rate) == (D("20.000"), D("0.2500"))  # 20 ÷ 80
    assert power.opening_stock == D("200.000")
    cement = general(journal, "enterprise", "ent-cement", *year)
    assert (cement.rate, cement.intake, cement.received_utilised) == (
        D("1.0000"),
        D("49.500"),
        D("49.500"),
    )

    # Areas add tonnes, not rates: 新洲区 is (100 + 10) ÷ (120 + 10) = 0.84615…, not the
    # mean of 0.8333 and 1.
    xinzhou = general(journal, "district", "新洲区", *year)
    assert (xinzhou.generated, xinzhou.utilised, xinzhou.denominator) == (
        D("90.000"),
        D("110.000"),
        D("130.000"),
    )
    assert xinzhou.rate == D("0.8462")
    city = general(journal, "city", "*", *year)
    assert (city.generated, city.utilised, city.denominator) == (
        D("210.000"),
        D("189.500"),
        D("250.000"),
    )
    assert city.rate == D("0.7580")  # not the mean of the three plants' rates, 0.8319
    assert city.intake == D("49.500")  # received once, never generation
    assert general(journal, "industry", "C31", *year).rate == D("0.6625")
    assert general(journal, "district_industry", f"青山区{SEPARATOR}C31", *year).rate == D("0.6625")
    # Every class: the steelworks' HW08 joins generation and disposal, not utilisation.
    assert journal.scope("enterprise", "ent-steel").rate == D("0.6115")  # 79.5 ÷ 130
    hw = journal.scope("enterprise_code", f"ent-steel{SEPARATOR}HW08")
    assert (hw.rate, hw.disposal_rate) == (D("0.0000"), D("1.0000"))

    # Quarters: the shipment counts in the month it left (April), not the month generated.
    q1 = general(journal, "enterprise", "ent-steel", "2026-01", "2026-03")
    assert (q1.utilised, q1.rate) == (D("30.000"), D("0.2500"))
    q2 = general(journal, "enterprise", "ent-steel", "2026-04", "2026-06")
    # Nothing generated in the quarter: no rate, though 49.5 t were utilised in it.
    assert (q2.generated, q2.utilised, q2.rate) == (D("0.000"), D("49.500"), None)
    # A month with nothing at all reads zeros and no rate.
    empty = general(journal, "enterprise", "ent-steel", "2026-09", "2026-09")
    assert empty.figures.is_zero()
    assert (empty.rate, empty.disposal_rate) == (None, None)


def test_a_range_across_the_year_end_counts_last_years_storage_used_twice(
    journal: Journal,
) -> None:
    """docs/api.md (helper-45): 综合利用率 is annual; over a range across a year end, stock
    stored inside the range and used after the year end is both generation and prior-year
    stock (the rate reads low). Pinned here so that a change to it is a decision."""
    journal.report(GEN, STEEL, "100", "2026-11")
    journal.report(STORED, STEEL, "100", "2026-11")
    journal.report(IN_PLANT, STEEL, "100", "2027-01", prior=True)

    across = journal.scope("enterprise", "ent-steel", "2026-11", "2027-02")
    assert (across.generated, across.utilised, across.denominator) == (
        D("100.000"),
        D("100.000"),
        D("200.000"),
    )
    assert across.rate == D("0.5000")
    # Each calendar year is the indicator as defined: 0 % in 2026, 100 % in 2027.
    assert journal.scope("enterprise", "ent-steel", "2026-01", "2026-12").rate == D("0.0000")
    assert journal.scope("enterprise", "ent-steel", "2027-01", "2027-12").rate == D("1.0000")
