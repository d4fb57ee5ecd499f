"""The city's calendar: every day wastex reasons about is a day in China.

Availability windows, licence validity, shipping windows and reporting months are local
dates; the enterprises keep their books on them. China keeps one time zone and no daylight
saving, so a fixed offset is exact and needs no time-zone database.

`Dates` counts dates from a day, for what the demo seed and the tests send a running
service: it judges days on this calendar, so a fixed date passes only until its day goes by.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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


def first_of_month(day: date, months: int = 0) -> date:
    """The first day of `day`'s month, `months` months on (back when negative)."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Dates:
    """Dates counted from `today`, as the ISO text the API takes.

    A service refuses a listing whose window has ended, a licence must cover the days a
    match ships, and the ledger books only months that have begun, of years whose books are
    still open (decision 036): what the demo seed and the tests send are counted from here.
    """

    today: date

    @classmethod
    def now(cls) -> Dates:
        """From today in China."""
        return cls(china_today())

    def days(self, n: int) -> str:
        """`n` days from today (before it when negative)."""
        return (self.today + timedelta(days=n)).isoformat()

    def month(self, months: int = 0) -> str:
        """A reporting period, `YYYY-MM`: this month, or `months` on (-1: last month)."""
        return first_of_month(self.today, months).strftime("%Y-%m")

    def window(self, months: int) -> tuple[str, str]:
        """From the first of next month to the last day of the `months`-th month from then:
        a window still to come, whole months long."""
        first = first_of_month(self.today, 1)
        last = first_of_month(self.today, 1 + months) - timedelta(days=1)
        return first.isoformat(), last.isoformat()

    def licence_validity(self, years: int) -> tuple[str, str]:
        """From 1 January of this year to 31 December of the `years`-th year (this one the
        first)."""
        year = self.today.year
        return date(year, 1, 1).isoformat(), date(year + years - 1, 12, 31).isoformat()
