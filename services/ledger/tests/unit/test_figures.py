"""Rates exactly as formulas.md: hand-computed figures, exact Decimal results."""

from __future__ import annotations

from decimal import Decimal

from wastex_ledger.domain.entries import Entry, EntryKind
from wastex_ledger.domain.figures import Figures, Utilisation, delta_of, ratio
from wastex_ledger.domain.periods import Period

D = Decimal


def entry(kind: EntryKind, tonnes: str, *, prior: bool = False) -> Entry:
    return Entry(
        id="e",
        kind=kind,
        enterprise_id="ent",
        site_id="site",
        district="青山区",
        industry="C3120",
        waste_code="SW01",
        tonnes=D(tonnes),
        period=Period(2010, 12),
        cause_event_id="cause",
        from_prior_stock=prior,
    )


def total(*entries: Entry) -> Utilisation:
    figures = Figures()
    for e in entries:
        figures = figures + delta_of(e)
    return Utilisation(figures)


def test_wuhan_2010_prior_year_stock_enters_numerator_and_denominator() -> None:
    # 产生量 1324.84; 综合利用量 1337.27 含往年贮存量 31.51 → 1337.27 ÷ (1324.84 + 31.51)
    u = total(
        entry(EntryKind.GENERATED, "1324.840"),
        entry(EntryKind.UTILISED_IN_PLANT, "1305.760"),
        entry(EntryKind.UTILISED_IN_PLANT, "31.510", prior=True),
    )
    assert u.utilised == D("1337.270")
    assert u.prior_stock_utilised == D("31.510")
    assert u.denominator == D("1356.350")
    assert u.rate == D("0.9859")
    assert str(u.rate) == "0.9859"


def test_all_in_plant() -> None:
    u = total(entry(EntryKind.GENERATED, "500.000"), entry(EntryKind.UTILISED_IN_PLANT, "500.000"))
    assert u.rate == D("1.0000")
    assert u.in_plant_share == D("1.0000")
    assert u.transferred_for_utilisation == 0


def test_all_transferred_counts_as_utilised_but_not_in_plant() -> None:
    u = total(entry(EntryKind.GENERATED, "200.000"), entry(EntryKind.TRANSFERRED_OUT, "150.000"))
    assert u.utilised == D("150.000")
    assert u.rate == D("0.7500")
    assert u.in_plant_share == D("0.0000")


def test_prior_stock_disposal_is_not_in_the_denominator() -> None:
    u = total(
        entry(EntryKind.GENERATED, "100.000"),
        entry(EntryKind.UTILISED_IN_PLANT, "60.000"),
        entry(EntryKind.DISPOSED, "30.000", prior=True),
    )
    assert u.denominator == D("100.000")
    assert u.rate == D("0.6000")
    assert u.disposed == D("30.000")
    assert u.disposal_rate == D("0.3000")


def test_receivers_intake_is_not_generation() -> None:
    u = total(entry(EntryKind.TRANSFERRED_IN, "80.000"), entry(EntryKind.UTILISED, "80.000"))
    assert u.generated == 0
    assert u.utilised == 0
    assert u.intake == D("80.000")
    assert u.rate is None


def test_a_receivers_storage_and_disposal_are_its_intake_figures_not_the_rate_s() -> None:
    """Decision 027: kept apart from generation, storage, disposal and the rate."""
    own = (entry(EntryKind.GENERATED, "100.000"), entry(EntryKind.UTILISED_IN_PLANT, "60.000"))
    u = total(
        *own,
        entry(EntryKind.TRANSFERRED_IN, "80.000"),
        entry(EntryKind.UTILISED, "30.000"),
        entry(EntryKind.RECEIVED_STORED, "40.000"),
        entry(EntryKind.RECEIVED_STORAGE_RETRIEVED, "15.000"),
        entry(EntryKind.RECEIVED_DISPOSED, "10.000"),
    )
    alone = total(*own)
    assert (u.rate, u.denominator, u.utilised) == (alone.rate, alone.denominator, alone.utilised)
    assert (u.stored, u.disposed, u.disposal_rate) == (D(0), D(0), D("0.0000"))
    assert (u.intake, u.received_utilised) == (D("80.000"), D("30.000"))
    assert (u.received_stored, u.received_disposed) == (D("25.000"), D("10.000"))


def test_rate_is_none_without_a_denominator_and_rounds_half_even() -> None:
    assert ratio(D("1"), D("0")) is None
    assert ratio(D("1"), D("3")) == D("0.3333")
    assert ratio(D("2"), D("3")) == D("0.6667")
    assert ratio(D("0.00005"), D("1")) == D("0.0000")  # half-even: ties go to even
    assert ratio(D("0.00015"), D("1")) == D("0.0002")
    assert str(ratio(D("0"), D("300.000"))) == "0.0000"


def test_reversal_cancels_exactly() -> None:
    u = total(entry(EntryKind.GENERATED, "10.500"), entry(EntryKind.GENERATED, "-10.500"))
    assert u.figures.is_zero()
