"""A year's books close on a configured day of the next year (decision 036)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from wastex_ledger.domain.closing import (
    DEFAULT_CLOSE,
    YearClose,
    closed,
    receipt_booking,
    require_open,
    verdict_as_at,
)
from wastex_ledger.domain.periods import Period
from wastex_shared.calendar import china_day
from wastex_shared.errors import DomainError

DEC_2025 = Period(2025, 12)


def test_the_close_day_itself_is_open_and_the_next_day_closed() -> None:
    assert YearClose(3, 31) == DEFAULT_CLOSE
    assert not closed(DEC_2025, date(2026, 3, 31), DEFAULT_CLOSE)
    assert closed(DEC_2025, date(2026, 4, 1), DEFAULT_CLOSE)
    # Every month of the year closes on the same day; the next year stays open.
    assert closed(Period(2025, 1), date(2026, 4, 1), DEFAULT_CLOSE)
    assert not closed(Period(2026, 1), date(2026, 4, 1), DEFAULT_CLOSE)
    assert not closed(DEC_2025, date(2026, 4, 1), None)


def test_a_closed_years_verdict_reads_manifests_as_at_the_midnight_its_close_day_ends() -> None:
    # 16:00 UTC on 31 March is midnight in China: the instant 2025's books closed.
    as_at = verdict_as_at(2025, date(2026, 4, 1), DEFAULT_CLOSE)
    assert as_at == datetime(2026, 3, 31, 16, 0, tzinfo=UTC)
    assert verdict_as_at(2025, date(2026, 3, 31), DEFAULT_CLOSE) is None  # open: as they stand
    assert verdict_as_at(2025, date(2030, 1, 1), None) is None


def test_the_day_is_chinas_at_midnight() -> None:
    # 16:00 UTC on 31 March is midnight in China: 1 April there, the year closed.
    before = china_day(datetime(2026, 3, 31, 15, 59, 59, tzinfo=UTC))
    after = china_day(datetime(2026, 3, 31, 16, 0, 0, tzinfo=UTC))
    assert (before, after) == (date(2026, 3, 31), date(2026, 4, 1))
    assert not closed(DEC_2025, before, DEFAULT_CLOSE)
    assert closed(DEC_2025, after, DEFAULT_CLOSE)


def test_a_closed_period_is_refused_naming_the_year_and_the_day() -> None:
    require_open(DEC_2025, date(2026, 3, 31), DEFAULT_CLOSE)
    with pytest.raises(DomainError) as refused:
        require_open(DEC_2025, date(2026, 4, 1), DEFAULT_CLOSE, "id")
    err = refused.value
    assert (err.code, err.field) == ("PERIOD_CLOSED", "id")
    assert "2025 closed on 2026-03-31" in err.message


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("03-31", YearClose(3, 31)), (" 12-31 ", YearClose(12, 31)), ("01-01", YearClose(1, 1))],
)
def test_the_setting_is_a_month_and_day(text: str, parsed: YearClose) -> None:
    assert YearClose.parse(text) == parsed
    assert str(parsed) == text.strip()


@pytest.mark.parametrize("text", ["3-31", "2026-03-31", "04-31", "13-01", "02-29", "", "0331"])
def test_a_day_that_is_not_one_of_every_year_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"MM-DD|02-29|no day of the calendar"):
        YearClose.parse(text)


def test_a_receipt_is_booked_to_the_month_of_dispatch_while_its_year_is_open() -> None:
    booking = receipt_booking(DEC_2025, False, date(2026, 3, 31), DEFAULT_CLOSE)
    assert (booking.period, booking.from_prior_stock, booking.carried) == (DEC_2025, False, False)


def test_a_receipt_after_the_close_is_booked_to_its_own_month_as_prior_year_stock() -> None:
    booking = receipt_booking(DEC_2025, False, date(2026, 4, 1), DEFAULT_CLOSE)
    assert (booking.period, booking.from_prior_stock) == (Period(2026, 4), True)
    assert booking.carried
    assert booking.reason is not None
    assert "dispatched in 2025-12" in booking.reason
    assert "2025 closed on 2026-03-31" in booking.reason
