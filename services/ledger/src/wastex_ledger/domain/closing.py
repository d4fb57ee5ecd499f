"""When a year's books close (decision 036): its figures are final from then on.

综合利用率 is an annual figure the enterprises declare after the year ends; the ledger takes
reports, reversals, corrections and dispatches booked to earlier months, so without a close
a year's rate, league table and zero-waste verdict could change years later. A year closes
on a configured day of the next year (`WASTEX_LEDGER_YEAR_CLOSES_ON`, month-day, `03-31` by
default), a day of China's calendar as every day the ledger reasons about: that day the year
is still open, from the day after nothing more is booked to it.

The rule is judged when a command is taken, never on replay: replay rebuilds what was booked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from wastex_ledger.domain import errors
from wastex_ledger.domain.periods import Period
from wastex_shared.errors import DomainError

_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")


@dataclass(frozen=True, slots=True)
class YearClose:
    """The day of the next year a year's books close on (the day itself still open)."""

    month: int
    day: int

    def __post_init__(self) -> None:
        # 29 February is not a day of every year: a close that moves is no close.
        if (self.month, self.day) == (2, 29):
            raise ValueError("a year cannot close on 02-29: not every year has one")
        date(2001, self.month, self.day)  # ValueError for a day no month has

    @classmethod
    def parse(cls, text: str) -> YearClose:
        """`"MM-DD"`, e.g. `"03-31"`."""
        found = _MONTH_DAY.match(text.strip())
        if found is None:
            raise ValueError(f"{text!r} is not a month and day 'MM-DD' (e.g. '03-31')")
        return cls(int(found.group(1)), int(found.group(2)))

    def of(self, year: int) -> date:
        """The day `year` closes on: its last open day, in the next year."""
        return date(year + 1, self.month, self.day)

    def __str__(self) -> str:
        return f"{self.month:02d}-{self.day:02d}"


#: Most provinces want the annual declaration (年度申报) by the end of March.
DEFAULT_CLOSE = YearClose(3, 31)


def closed(period: Period, today: date, closes_on: YearClose | None) -> bool:
    """Whether `period`'s year has closed by `today` (China's calendar day); never when
    `closes_on` is None (years kept open: tools and tests that book history)."""
    return closes_on is not None and today > closes_on.of(period.year)


def require_open(
    period: Period, today: date, closes_on: YearClose | None, field: str = "period"
) -> None:
    """Refuse (`PERIOD_CLOSED`) booking anything to `period` once its year has closed."""
    if closes_on is not None and closed(period, today, closes_on):
        raise DomainError(
            errors.PERIOD_CLOSED,
            f"{period.year} closed on {closes_on.of(period.year).isoformat()}: its figures "
            f"are final and nothing more is booked to {period}",
            field,
        )
