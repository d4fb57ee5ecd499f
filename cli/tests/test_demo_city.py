"""The demo city's dates are good on the day it is seeded, whichever day that is: judged by
the rules the services judge them by, on that day's clock."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from wastex_catalog.domain.common import parse_window
from wastex_cli.demo_city import DemoDates
from wastex_ledger.domain.closing import DEFAULT_CLOSE, require_open
from wastex_ledger.domain.periods import month_passed
from wastex_shared.calendar import CHINA

DAYS = [
    date(2026, 11, 29),
    date(2026, 12, 31),  # next month is next year's
    date(2027, 1, 1),  # last month is last year's, its books still open
    date(2027, 3, 31),
    date(2027, 4, 1),  # 2026 closed yesterday
    date(2028, 2, 29),
    date(2028, 6, 15),
    date(2029, 12, 31),
]


@pytest.mark.parametrize("today", DAYS, ids=str)
def test_the_demo_citys_dates_are_valid_on_the_day_it_is_seeded(today: date) -> None:
    dates = DemoDates.on(today)
    # The catalog refuses a listing window already over on the day; a licence must be
    # valid today and cover the window for matching to use it.
    window = parse_window(
        *dates.window, start_field="availableFrom", end_field="availableUntil", today=today
    )
    licence = parse_window(
        *dates.licence_validity, start_field="validFrom", end_field="validUntil", today=today
    )
    assert window.start > today  # still to come: matching plans it whole
    assert licence.contains(today)
    assert licence.covers(window)
    # The ledger books a month that has begun, of a year whose books are open.
    period = month_passed(dates.report_period, datetime.combine(today, time(12), CHINA))
    require_open(period, today, DEFAULT_CLOSE)
