from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from wastex_shared.calendar import Dates, china_day, first_of_month


def test_the_day_turns_at_midnight_in_china_not_in_utc() -> None:
    assert china_day(datetime(2026, 12, 31, 15, 59, tzinfo=UTC)) == date(2026, 12, 31)
    assert china_day(datetime(2026, 12, 31, 16, 0, tzinfo=UTC)) == date(2027, 1, 1)


def test_a_moment_written_in_another_zone_is_the_same_day_in_china() -> None:
    new_york = timezone(timedelta(hours=-5))
    assert china_day(datetime(2026, 6, 30, 11, 30, tzinfo=new_york)) == date(2026, 7, 1)


def test_dates_count_whole_months_from_the_first_of_next_month() -> None:
    dates = Dates(date(2027, 12, 31))
    assert dates.window(2) == ("2028-01-01", "2028-02-29")
    assert dates.window(7) == ("2028-01-01", "2028-07-31")
    assert (dates.month(), dates.month(-1), dates.month(1)) == ("2027-12", "2027-11", "2028-01")
    assert dates.licence_validity(3) == ("2027-01-01", "2029-12-31")
    assert (dates.days(1), dates.days(-365)) == ("2028-01-01", "2026-12-31")
    assert first_of_month(date(2027, 1, 15), -1) == date(2026, 12, 1)
    assert first_of_month(date(2027, 1, 15), -13) == date(2025, 12, 1)
