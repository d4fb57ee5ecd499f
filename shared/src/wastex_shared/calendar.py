"""The city's calendar: every day wastex reasons about is a day in China.

Availability windows, licence validity, shipping windows and reporting months are local
dates; the enterprises keep their books on them. China keeps one time zone and no daylight
saving, so a fixed offset is exact and needs no time-zone database.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone

#: China Standard Time, UTC+8 all year.
CHINA = timezone(timedelta(hours=8), "CST")

#: What a service asks for "today" (a test fixes it).
Clock = Callable[[], date]


def china_day(moment: datetime) -> date:
    """The calendar day in China at `moment` (an aware time)."""
    return moment.astimezone(CHINA).date()


def china_today() -> date:
    """Today's calendar day in China."""
    return datetime.now(CHINA).date()
