from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from wastex_shared.calendar import china_day


def test_the_day_turns_at_midnight_in_china_not_in_utc() -> None:
    assert china_day(datetime(2026, 12, 31, 15, 59, tzinfo=UTC)) == date(2026, 12, 31)
    assert china_day(datetime(2026, 12, 31, 16, 0, tzinfo=UTC)) == date(2027, 1, 1)


def test_a_moment_written_in_another_zone_is_the_same_day_in_china() -> None:
    new_york = timezone(timedelta(hours=-5))
    assert china_day(datetime(2026, 6, 30, 11, 30, tzinfo=new_york)) == date(2026, 7, 1)
