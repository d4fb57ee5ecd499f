"""When a year's books close (decision 036): its figures are final from then on.

综合利用率 is an annual figure the enterprises declare after the year ends; the ledger takes
reports, reversals, corrections and dispatches booked to earlier months, so without a close
a year's rate, league table and zero-waste verdict could change years later. A year closes
on a configured day of the next year (`WASTEX_LEDGER_YEAR_CLOSES_ON`, month-day, `03-31` by
default), a day of China's calendar as every day the ledger reasons about: that day the year
is still open, from the day after nothing more is booked to it.

The rule is judged when a command is taken, never on replay: replay rebuilds what was booked.
A receipt is never refused (decision 020): one of a shipment dispatched to a month of a closed
year is booked to the month it is received in, as prior-year stock (`receipt_booking`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from wastex_ledger.domain import errors
from wastex_ledger.domain.entries import Entry, EntryKind
from wastex_ledger.domain.figures import Figures
from wastex_ledger.domain.periods import Period
from wastex_shared.calendar import CHINA
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
        try:
            date(2001, self.month, self.day)
        except ValueError:  # Python's words ("day is out of range for month") name no day
            raise ValueError(f"{self} is no day of the calendar (MM-DD, e.g. 03-31)") from None

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


def closed_on(year: int, today: date, closes_on: YearClose | None) -> date | None:
    """The day `year`'s books closed on, when they have by `today`; None while open."""
    if closes_on is None or not closed(Period.first_of(year), today, closes_on):
        return None
    return closes_on.of(year)


def close_ends(year: int, closes_on: YearClose) -> datetime:
    """The instant `year`'s books close: its close day ends (midnight in China)."""
    return datetime.combine(closes_on.of(year) + timedelta(days=1), time(), CHINA)


def verdict_as_at(year: int, today: date, closes_on: YearClose | None) -> datetime | None:
    """The instant a zero-waste verdict of `year` reads manifests as at: its close, once it
    has closed (the verdict is final); None while open (as they stand, provisional). What
    the parties agree or receive after the close is a fact of the year it happens in."""
    if closed_on(year, today, closes_on) is None:
        return None
    assert closes_on is not None
    return close_ends(year, closes_on)


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


@dataclass(frozen=True, slots=True)
class ReceiptBooking:
    """Where a receipt's entries are booked."""

    period: Period
    #: Whether the supplier's entry draws on prior-year stock.
    from_prior_stock: bool
    #: Said on both entries when they are not booked to the month of dispatch.
    reason: str | None = None

    @property
    def carried(self) -> bool:
        """Booked after the year it was dispatched in closed."""
        return self.reason is not None


def receipt_booking(
    dispatched_to: Period,
    from_prior_stock: bool,
    received_on: date,
    closes_on: YearClose | None,
) -> ReceiptBooking:
    """The month of dispatch while its year is open; once it has closed, the month the
    shipment is received in (always open), the supplier's tonnes then counting as prior-year
    stock: the closed year's generation, utilised in a later year (综合利用往年贮存量)."""
    if not closed(dispatched_to, received_on, closes_on):
        return ReceiptBooking(dispatched_to, from_prior_stock)
    assert closes_on is not None
    month = Period(received_on.year, received_on.month)
    return ReceiptBooking(
        month,
        True,
        f"dispatched in {dispatched_to}, received after {dispatched_to.year} closed on "
        f"{closes_on.of(dispatched_to.year).isoformat()}: booked to {month} as prior-year stock",
    )


def booked_as(transfers: Iterable[Entry], booking: ReceiptBooking) -> tuple[Entry, ...]:
    """A receipt's entries (`manifest.receipt_entries`) booked where `booking` says."""
    return tuple(
        replace(
            entry,
            period=booking.period,
            from_prior_stock=booking.from_prior_stock and entry.kind is EntryKind.TRANSFERRED_OUT,
            reason=booking.reason,
        )
        for entry in transfers
    )


#: Shipments received after the year they were dispatched to closed, of one supplier:
#: (waste code, sent from prior-year stock, month dispatched to, month booked to) → the
#: tonnes credited to it.
Carried = Mapping[tuple[str, bool, Period, Period], Decimal]


def carried_as_storage(carried: Carried, waste_code: str) -> dict[Period, Figures]:
    """What the balance identity reads of `carried` shipments of `waste_code` sent as their
    year's waste: storage of the month they left in. They count against that year's
    generation as they did on the road at its close, and the next years draw on them as on
    prior-year stock, as their receipt did. One sent from prior-year stock drew on it as its
    receipt does: nothing to add."""
    months: dict[Period, Figures] = {}
    for (code, prior, sent, _), tonnes in carried.items():
        if code == waste_code and not prior:
            months[sent] = months.get(sent, Figures()) + Figures(stored=tonnes)
    return months
