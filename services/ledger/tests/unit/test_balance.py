"""The balance identity (domain/balance.py): hand-made cases and a property test."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wastex_ledger.domain.balance import (
    apply,
    checks,
    ensure_balanced,
    ensure_stock_before_records,
    violations,
)
from wastex_ledger.domain.figures import Figures
from wastex_ledger.domain.periods import Period
from wastex_shared.errors import DomainError

D = Decimal
JAN, FEB, MAR = Period(2026, 1), Period(2026, 2), Period(2026, 3)


def test_uses_within_generation_pass() -> None:
    sheet = {JAN: Figures(generated=D("100.000"))}
    ensure_balanced(sheet, {JAN: Figures(in_plant_current=D("60.000"), stored=D("40.000"))}, "SW01")


def test_uses_beyond_generation_are_refused_with_a_clear_message() -> None:
    sheet = {JAN: Figures(generated=D("100.000"), in_plant_current=D("60.000"))}
    with pytest.raises(DomainError) as caught:
        ensure_balanced(sheet, {JAN: Figures(disposed_current=D("40.001"))}, "SW01")
    assert caught.value.code == "BALANCE_VIOLATION"
    assert "100.001 t" in caught.value.message
    assert "100.000 t was generated" in caught.value.message


def test_a_use_of_stored_waste_is_told_to_take_it_out_of_storage_first() -> None:
    """Offered waste usually waits in storage: the refusal says how it leaves it."""
    sheet = {JAN: Figures(generated=D("100.000"), stored=D("100.000"))}
    with pytest.raises(DomainError) as caught:
        ensure_balanced(sheet, {FEB: Figures(transferred_out_current=D("10.000"))}, "SW01")
    assert "100.000 t of it is in storage" in caught.value.message
    assert "reportStorageRetrieval" in caught.value.message
    with pytest.raises(DomainError) as unstored:
        ensure_balanced(
            {JAN: Figures(generated=D("5.000"))},
            {JAN: Figures(disposed_current=D("6.000"))},
            "SW01",
        )
    assert "storage" not in unstored.value.message


def test_year_to_date_generation_must_come_first() -> None:
    # March generation cannot cover February's use.
    sheet = {MAR: Figures(generated=D("50.000"))}
    with pytest.raises(DomainError):
        ensure_balanced(sheet, {FEB: Figures(in_plant_current=D("10.000"))}, "SW01")
    # …but earlier generation covers a later use.
    ensure_balanced({FEB: Figures(generated=D("50.000"))}, {MAR: Figures(stored=D("50.000"))}, "X")


def test_generation_of_a_year_does_not_cover_the_next_year() -> None:
    sheet = {Period(2025, 12): Figures(generated=D("10.000"))}
    with pytest.raises(DomainError):
        ensure_balanced(sheet, {JAN: Figures(in_plant_current=D("1.000"))}, "SW01")


def test_prior_stock_uses_draw_on_opening_stock_and_earlier_storage() -> None:
    sheet = {
        Period(2025, 3): Figures(generated=D("20.000"), stored=D("20.000")),
        JAN: Figures(opening_stock=D("5.000")),
    }
    ensure_balanced(sheet, {FEB: Figures(in_plant_prior=D("25.000"))}, "SW01")
    with pytest.raises(DomainError) as caught:
        ensure_balanced(sheet, {FEB: Figures(disposed_prior=D("25.001"))}, "SW01")
    assert "prior-year stock" in caught.value.message


def test_this_years_storage_is_not_prior_stock_yet() -> None:
    sheet = {JAN: Figures(generated=D("10.000"), stored=D("10.000"))}
    with pytest.raises(DomainError):
        ensure_balanced(sheet, {FEB: Figures(in_plant_prior=D("1.000"))}, "SW01")


def test_reversing_generation_under_its_uses_is_refused() -> None:
    sheet = {JAN: Figures(generated=D("10.000"), in_plant_current=D("8.000"))}
    with pytest.raises(DomainError):
        ensure_balanced(sheet, {JAN: Figures(generated=D("-10.000"))}, "SW01")


def test_a_shortfall_left_by_a_receipt_blocks_only_what_deepens_it() -> None:
    # An overweight receipt booked whole, 12 t against 10 t generated, before decision 020.
    sheet = {JAN: Figures(generated=D("10.000"), transferred_out_current=D("12.000"))}
    ensure_balanced(sheet, {JAN: Figures(generated=D("1.000"))}, "SW01")
    ensure_balanced(sheet, {FEB: Figures(generated=D("3.000"))}, "SW01")
    with pytest.raises(DomainError):
        ensure_balanced(sheet, {JAN: Figures(stored=D("0.001"))}, "SW01")


def test_receivers_cannot_utilise_more_than_their_intake() -> None:
    sheet = {JAN: Figures(transferred_in=D("30.000"))}
    ensure_balanced(sheet, {FEB: Figures(received_utilised=D("30.000"))}, "SW01")
    with pytest.raises(DomainError):
        ensure_balanced(sheet, {FEB: Figures(received_utilised=D("30.001"))}, "SW01")


def test_receivers_intake_covers_what_it_uses_stores_and_disposes_of() -> None:
    """Check 3 (decision 027): utilised + stored (net) + disposed ≤ intake, cumulative."""
    sheet = {JAN: Figures(transferred_in=D("100.000"), received_utilised=D("50.000"))}
    both = {FEB: Figures(received_stored=D("30.000"), received_disposed=D("20.000"))}
    ensure_balanced(sheet, both, "SW01")
    with pytest.raises(DomainError) as caught:
        ensure_balanced(sheet, {FEB: Figures(received_stored=D("50.001"))}, "SW01")
    assert caught.value.code == "BALANCE_VIOLATION"
    assert "receiver's intake" in caught.value.message
    assert "100.001 t but only 100.000 t was received" in caught.value.message
    with pytest.raises(DomainError) as disposed:
        ensure_balanced(sheet, {FEB: Figures(received_disposed=D("50.001"))}, "SW01")
    assert "receiver's intake" in disposed.value.message


def test_intake_must_be_received_before_it_is_stored_or_disposed_of() -> None:
    # March's receipt does not cover February's storage, nor generation a receiver's disposal.
    sheet = {MAR: Figures(transferred_in=D("10.000")), JAN: Figures(generated=D("10.000"))}
    for column in ("received_stored", "received_disposed"):
        delta: dict[str, Any] = {column: D("1.000")}
        with pytest.raises(DomainError):
            ensure_balanced(sheet, {FEB: Figures(**delta)}, "SW01")
    ensure_balanced(sheet, {MAR: Figures(received_stored=D("10.000"))}, "SW01")


def test_intake_taken_out_of_storage_is_used_and_never_more_than_was_put_in() -> None:
    """Check 5: what is taken back out (a negative `received_stored`) ≤ what was put in."""
    sheet = {JAN: Figures(transferred_in=D("100.000"), received_stored=D("100.000"))}
    # Stored, the intake is all accounted for: nothing more is used before it is taken out.
    with pytest.raises(DomainError):
        ensure_balanced(sheet, {FEB: Figures(received_utilised=D("1.000"))}, "SW01")
    taken_out = {FEB: Figures(received_stored=D("-60.000"), received_utilised=D("60.000"))}
    ensure_balanced(sheet, taken_out, "SW01")
    with pytest.raises(DomainError) as caught:
        ensure_balanced(sheet, {FEB: Figures(received_stored=D("-100.001"))}, "SW01")
    assert "storage of intake" in caught.value.message
    assert "-0.001 t" in caught.value.message


def test_intake_stored_one_year_is_taken_out_the_next() -> None:
    """Storage of intake counts from the first records, not year to date (decision 027)."""
    sheet = {Period(2025, 12): Figures(transferred_in=D("40.000"), received_stored=D("40.000"))}
    ensure_balanced(
        sheet, {JAN: Figures(received_stored=D("-40.000"), received_disposed=D("40.000"))}, "X"
    )
    with pytest.raises(DomainError):
        ensure_balanced(sheet, {JAN: Figures(received_stored=D("-40.001"))}, "SW01")


def test_a_receivers_storage_and_disposal_are_not_the_generators() -> None:
    """Received tonnes never count against, or for, the enterprise's own generation."""
    sheet = {JAN: Figures(generated=D("10.000"), transferred_in=D("50.000"))}
    ensure_balanced(sheet, {JAN: Figures(received_stored=D("50.000"))}, "SW01")
    with pytest.raises(DomainError):  # its own storage still needs its own generation
        ensure_balanced(sheet, {JAN: Figures(stored=D("10.001"))}, "SW01")
    with pytest.raises(DomainError):  # and generation does not cover intake's disposal
        ensure_balanced(sheet, {JAN: Figures(received_disposed=D("50.001"))}, "SW01")


def test_reversing_intake_storage_that_was_taken_out_and_used_is_refused() -> None:
    sheet = {
        JAN: Figures(transferred_in=D("10.000"), received_stored=D("10.000")),
        FEB: Figures(received_stored=D("-10.000"), received_utilised=D("10.000")),
    }
    with pytest.raises(DomainError):  # reversing the storage: −10 t stored ever
        ensure_balanced(sheet, {JAN: Figures(received_stored=D("-10.000"))}, "SW01")
    with pytest.raises(DomainError):  # reversing the retrieval: 10 t stored and used
        ensure_balanced(sheet, {FEB: Figures(received_stored=D("10.000"))}, "SW01")


# -- opening stock is stock from before the records (decision 035) --------------------------


def refused_period(sheet: dict[Period, Figures], month: Period, *, opening: bool) -> str:
    with pytest.raises(DomainError) as caught:
        ensure_stock_before_records(sheet, month, opening=opening, waste_code="SW01")
    assert (caught.value.code, caught.value.field) == ("INVALID_PERIOD", "period")
    return caught.value.message


def test_opening_stock_is_declared_no_later_than_the_first_year_of_the_records() -> None:
    """2026's storage is 2027's prior-year stock by itself: the same pile declared again as
    opening stock in 2027 would count twice in what 2027 may draw (and in its rate)."""
    sheet = {Period(2026, 3): Figures(generated=D("500.000"), stored=D("500.000"))}
    message = refused_period(sheet, Period(2027, 1), opening=True)
    assert "from 2026" in message
    assert "a month of 2026 or earlier, not 2027-01" in message
    # Any month of the first year, or of a year before it (a late declaration), is allowed.
    for month in (Period(2026, 12), Period(2026, 1), Period(2019, 7)):
        ensure_stock_before_records(sheet, month, opening=True, waste_code="SW01")
    # With no records of the code, any month.
    ensure_stock_before_records({}, Period(2027, 1), opening=True, waste_code="SW01")


def test_every_kind_of_record_counts_and_a_month_wholly_reversed_does_not() -> None:
    later = Period(2027, 2)
    records: list[dict[str, Decimal | int]] = [
        {"opening_stock": D("1.000")},  # opening stock itself
        {"transferred_out_prior": D("1.000"), "transfers": 1},  # a shipment (in transit)
        {"transferred_in": D("1.000")},  # intake
        {"received_disposed": D("1.000")},
        {"disposed_current": D("1.000")},
    ]
    for columns in records:
        refused_period({Period(2026, 5): Figures.of(columns)}, later, opening=True)
    # Generated and reversed: the month holds nothing, no record of waste.
    ensure_stock_before_records({Period(2026, 5): Figures()}, later, opening=True, waste_code="X")


def test_nothing_is_booked_in_a_year_before_an_opening_stock() -> None:
    """The other order: opening stock declared in 2027, then 2026's storage reported late
    would put the same pile in 2027's prior-year stock twice."""
    sheet = {Period(2027, 1): Figures(opening_stock=D("500.000"))}
    message = refused_period(sheet, Period(2026, 12), opening=False)
    assert "declared in 2027" in message
    assert "a month of 2026 or earlier" in message
    assert "reverse" in message
    ensure_stock_before_records(sheet, Period(2027, 1), opening=False, waste_code="SW01")
    ensure_stock_before_records(sheet, Period(2028, 4), opening=False, waste_code="SW01")
    # Moving the stock to an earlier year: declare it there (allowed), then reverse the other.
    ensure_stock_before_records(sheet, Period(2026, 1), opening=True, waste_code="SW01")
    moved = {Period(2026, 1): Figures(opening_stock=D("500.000")), Period(2027, 1): Figures()}
    ensure_stock_before_records(moved, Period(2026, 12), opening=False, waste_code="SW01")


# -- property: the check is exact ----------------------------------------------------------

MONTHS = [Period(y, m) for y in (2025, 2026) for m in (1, 6, 12)]
KINDS = [
    "generated",
    "in_plant_current",
    "in_plant_prior",
    "transferred_out_current",
    "transferred_out_prior",
    "stored",
    "disposed_current",
    "disposed_prior",
    "opening_stock",
    "transferred_in",
    "received_utilised",
    "received_stored",
    "received_retrieved",  # a negative `received_stored`: taken back out of that storage
    "received_disposed",
]
tonnes = st.integers(min_value=1, max_value=50_000).map(lambda kg: D(kg) / 1000)
operation = st.tuples(st.sampled_from(MONTHS), st.sampled_from(KINDS), tonnes, st.booleans())


def holds(sheet: dict[Period, Figures]) -> bool:
    return all(check.slack >= 0 for check in checks(sheet).values())


def totals_hold(sheet: dict[Period, Figures]) -> bool:
    """The identity restated independently of `checks`: brute force over every month."""
    for year in (2025, 2026):
        for last in range(1, 13):
            months = [m for m in sheet if m.year == year and m.month <= last]
            used = sum(
                (
                    sheet[m].in_plant_current
                    + sheet[m].transferred_out_current
                    + sheet[m].stored
                    + sheet[m].disposed_current
                    for m in months
                ),
                D(0),
            )
            if used > sum((sheet[m].generated for m in months), D(0)):
                return False
        upto = [m for m in sheet if m.year <= year]
        prior = sum(
            (
                sheet[m].in_plant_prior + sheet[m].transferred_out_prior + sheet[m].disposed_prior
                for m in upto
            ),
            D(0),
        )
        pool = sum((sheet[m].opening_stock for m in upto), D(0)) + sum(
            (sheet[m].stored for m in sheet if m.year < year), D(0)
        )
        if prior > pool:
            return False
    ordered = sorted(sheet)
    for i in range(len(ordered)):
        upto = ordered[: i + 1]
        stored = sum((sheet[m].received_stored for m in upto), D(0))
        if stored < 0:
            return False
        accounted = stored + sum(
            (sheet[m].received_utilised + sheet[m].received_disposed for m in upto), D(0)
        )
        if accounted > sum((sheet[m].transferred_in for m in upto), D(0)):
            return False
    return True


@settings(max_examples=300, deadline=None)
@given(st.lists(operation, max_size=25))
def test_accepted_reports_always_keep_the_identity_and_only_breaking_ones_are_refused(
    ops: list[tuple[Period, str, Decimal, bool]],
) -> None:
    sheet: dict[Period, Figures] = {}
    booked: list[tuple[Period, Figures]] = []
    for month, kind, amount, reverse in ops:
        if reverse and booked:
            # A reversal of an earlier booking: the same figures negated.
            at, delta = booked.pop(0)
            negated: dict[str, Any] = {k: -v for k, v in delta.as_dict().items()}
            delta = Figures(**negated)
            month = at
        else:
            if kind == "received_retrieved":
                kind, amount = "received_stored", -amount
            column: dict[str, Any] = {kind: amount}
            delta = Figures(**column)
        after = apply(sheet, {month: delta})
        refused: DomainError | None = None
        try:
            ensure_balanced(sheet, {month: delta}, "SW01")
        except DomainError as err:
            refused = err
        if refused is not None:
            assert refused.code == "BALANCE_VIOLATION"
            assert not totals_hold(after), "refused a change that keeps the identity"
            continue
        assert totals_hold(after), "accepted a change that breaks the identity"
        assert holds(after)
        assert not violations(sheet, after)
        sheet = after
        if not (reverse and delta.is_zero()):
            booked.append((month, delta))
