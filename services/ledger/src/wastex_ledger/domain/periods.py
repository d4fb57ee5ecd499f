"""Reporting periods: calendar months written "YYYY-MM".

The ledger books every entry to a month of China's calendar (`wastex_shared.calendar`),
the one the reporting enterprises keep their books in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from wastex_ledger.domain import errors
from wastex_shared.calendar import CHINA
from wastex_shared.errors import DomainError

_PATTERN = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
#: Years outside this range are typos, not ledger periods.
FIRST_YEAR = 1990
LAST_YEAR = 2100


@dataclass(frozen=True, slots=True, order=True)
class Period:
    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise ValueError(f"month {self.month} out of range")

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @classmethod
    def parse(cls, text: str, field: str = "period") -> Period:
        match = _PATTERN.match(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise DomainError(errors.INVALID_PERIOD, f"{text!r} is not a month 'YYYY-MM'", field)
        year, month = int(match.group(1)), int(match.group(2))
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise DomainError(
                errors.INVALID_PERIOD, f"year {year} is outside {FIRST_YEAR}–{LAST_YEAR}", field
            )
        return cls(year, month)

    @classmethod
    def of(cls, moment: datetime) -> Period:
        """The month `moment` falls in, in China Standard Time."""
        local = moment.astimezone(CHINA)
        return cls(local.year, local.month)

    def ends(self) -> datetime:
        """The moment this month ends (the next one begins), in China Standard Time."""
        year, month = (self.year + 1, 1) if self.month == 12 else (self.year, self.month + 1)
        return datetime(year, month, 1, tzinfo=CHINA)

    @classmethod
    def first_of(cls, year: int) -> Period:
        return cls(year, 1)

    @classmethod
    def last_of(cls, year: int) -> Period:
        return cls(year, 12)


def month_passed(text: str, now: datetime, field: str = "period") -> Period:
    """The month `text` names for what has happened: this month or an earlier one."""
    month, current = Period.parse(text, field), Period.of(now)
    if month > current:
        raise DomainError(
            errors.INVALID_PERIOD,
            f"{month} has not begun (it is {current} in China Standard Time): "
            "the ledger books what has happened",
            field,
        )
    return month


def period_range(start: str, end: str) -> tuple[Period, Period]:
    """An inclusive range of months, `start` ≤ `end`."""
    first = Period.parse(start, "from")
    last = Period.parse(end, "to")
    if first > last:
        raise DomainError(errors.INVALID_PERIOD, f"from {first} is after to {last}", "from")
    return first, last


def months_between(start: str | None, end: str | None) -> tuple[Period | None, Period | None]:
    """A list filter's months, either end open; `start` after `end` is refused as
    `period_range` refuses it (a typo is not answered with an empty list)."""
    if start is None or end is None:
        return (
            None if start is None else Period.parse(start, "from"),
            None if end is None else Period.parse(end, "to"),
        )
    return period_range(start, end)


def year_range(year: int) -> tuple[Period, Period]:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise DomainError(
            errors.INVALID_PERIOD, f"year {year} is outside {FIRST_YEAR}–{LAST_YEAR}", "year"
        )
    return Period.first_of(year), Period.last_of(year)


def year_to_judge(year: int, today: date) -> tuple[Period, Period]:
    """The months of `year`, to judge a verdict on: a year that has not begun on `today` (a
    day of China's calendar, as the months) has nothing booked to judge, and a verdict
    (`passed: false`) would read as a judgement. One in progress is judged provisionally."""
    first, last = year_range(year)
    if year > today.year:
        raise DomainError(
            errors.INVALID_PERIOD,
            f"{year} has not begun (it is {today} in China Standard Time): "
            "there is nothing to judge yet",
            "year",
        )
    return first, last
