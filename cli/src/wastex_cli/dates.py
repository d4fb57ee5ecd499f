"""Dates taken from a day, for what the demo seed and the tests send a running stack.

A stack judges days on its own clock, China's calendar (`wastex_shared.calendar`): a
listing whose window has ended is refused, a licence must cover the days a match ships, and
the ledger books only months that have begun, of years whose books are still open (decision
036). A fixed date passes only until its day goes by; these are counted from `today`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from wastex_shared.calendar import china_today


def first_of_month(day: date, months: int = 0) -> date:
    """The first day of `day`'s month, `months` months on (back when negative)."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Dates:
    """Dates counted from `today`, as the ISO text the API takes."""

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
