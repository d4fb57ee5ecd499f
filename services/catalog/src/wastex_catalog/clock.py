"""The city's calendar day: availability windows and licences are local dates."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone

#: China keeps one time zone and no daylight saving: a fixed offset is exact.
CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")

Clock = Callable[[], date]


def china_today() -> date:
    """The calendar day in China: availability windows and licences are local dates."""
    return datetime.now(CHINA).date()


def china_day(moment: datetime) -> date:
    """The calendar day in China at `moment` (an aware time)."""
    return moment.astimezone(CHINA).date()
