"""Small value objects and input parsers shared by the catalog entities.

Every parser turns a raw input value into a domain value or raises `DomainError` whose
`field` is the GraphQL camelCase input field, so a service can map it straight to
`userErrors`.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Final

from wastex_catalog.domain import errors
from wastex_shared.codes import validate_code
from wastex_shared.errors import DomainError
from wastex_shared.units import QuantityError, as_written, decimal_of, positive_tonnes

#: Raw date inputs: GraphQL hands us `date`, Kafka ingest JSON hands us ISO strings.
DateInput = date | str
#: Raw number inputs for measured properties (not ledger quantities, so floats are tolerated).
NumberInput = Decimal | int | str | float
TonnesInput = Decimal | int | str
#: Measured properties beyond this are typos (and would overflow the stored scale).
MAX_MEASURE: Final = Decimal(10) ** 8


def new_id() -> str:
    """A fresh aggregate id; the one place the catalog mints ids."""
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class Window:
    """An inclusive range of calendar days (`start` and `end` both belong to it)."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise DomainError(
                errors.INVALID_WINDOW, f"window starts {self.start} after it ends {self.end}"
            )

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def covers(self, other: Window) -> bool:
        return self.start <= other.start and other.end <= self.end

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def from_day(self, day: date | None) -> Window:
        """Its days from `day` on (all of them without a day, or from its start); `day`
        must not be after its end."""
        return self if day is None or day <= self.start else Window(day, self.end)


def covered_by_union(window: Window, parts: Iterable[Window]) -> bool:
    """Whether the days of `window` all lie in some of `parts`.

    Needed for licence renewals: a demand over New Year is covered by last year's licence
    ending 31 Dec together with its renewal starting 1 Jan.
    """
    cursor = window.start
    for part in sorted(parts, key=lambda w: w.start):
        if part.start > cursor:
            break  # a gap before the next part starts: `cursor` is uncovered
        if part.end >= cursor:
            if part.end >= window.end:
                return True
            cursor = part.end + timedelta(days=1)
    return False


#: The days a listing's window or a licence's validity may name. Outside them a date is a
#: slip of the keyboard, and at the ends of the calendar day arithmetic overflows (a demand
#: from 0001-01-01 made every later licence change of its holder fail).
EARLIEST_DAY, LATEST_DAY = date(1990, 1, 1), date(2099, 12, 31)


def parse_date(value: DateInput, field: str) -> date:
    if isinstance(value, datetime):
        # A timestamp carries more than we need; the calendar day is what counts.
        day = value.date()
    elif isinstance(value, date):
        day = value
    else:
        try:
            day = date.fromisoformat(value.strip())
        except (ValueError, AttributeError) as exc:
            raise DomainError(
                errors.INVALID_DATE, f"{as_written(value)} is not a date (YYYY-MM-DD)", field
            ) from exc
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise DomainError(
            errors.INVALID_DATE, f"{day} is not between {EARLIEST_DAY} and {LATEST_DAY}", field
        )
    return day


def parse_window(
    start: DateInput,
    end: DateInput,
    *,
    start_field: str,
    end_field: str,
    today: date | None = None,
) -> Window:
    """A validated window; with `today`, a window already over is refused too."""
    first = parse_date(start, start_field)
    last = parse_date(end, end_field)
    if first > last:
        raise DomainError(
            errors.INVALID_WINDOW, f"{end_field} {last} is before {start_field} {first}", end_field
        )
    if today is not None and last < today:
        raise DomainError(errors.INVALID_WINDOW, f"{end_field} {last} is in the past", end_field)
    return Window(first, last)


def parse_tonnes(value: TonnesInput, field: str = "quantityTonnes") -> Decimal:
    """Positive tonnes with kilogram precision, or INVALID_QUANTITY naming `field`."""
    if isinstance(value, bool):  # bool is an int: True would pass as one tonne
        raise DomainError(errors.INVALID_QUANTITY, f"{as_written(value)} is not a number", field)
    try:
        return positive_tonnes(value)
    except QuantityError as exc:
        raise DomainError(errors.INVALID_QUANTITY, str(exc), field) from exc
    except TypeError as exc:  # e.g. None or a list sneaking through an untyped caller
        shown = as_written(value)
        raise DomainError(errors.INVALID_QUANTITY, f"{shown} is not a number", field) from exc


def parse_number(value: NumberInput, field: str, code: str, *, places: int = 3) -> Decimal:
    """A finite decimal with at most `places` decimals; floats go through `str` (0.1 stays 0.1).

    Rounded because the value is stored with that scale: the catalog's events and its
    database must hold the same number.
    """
    if isinstance(value, bool):
        raise DomainError(code, f"{as_written(value)} is not a number", field)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise DomainError(code, f"{as_written(value)} is not a finite number", field)
        value = str(value)
    try:
        number = decimal_of(value)
    except (InvalidOperation, ValueError, TypeError) as exc:
        raise DomainError(code, f"{as_written(value)} is not a number", field) from exc
    if not number.is_finite():
        raise DomainError(code, f"{as_written(value)} is not a finite number", field)
    if number.copy_abs() >= MAX_MEASURE:  # exact: abs() would round, and overflow on 1E+999999999
        raise DomainError(code, f"{as_written(value)} is out of range", field)
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -places:
        # Only excess digits are rounded: "30.64" stays "30.64", not "30.640000".
        return number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    if isinstance(exponent, int) and exponent > 0:
        return number.quantize(Decimal(1))  # "1E+2" is stored and answered as "100"
    return number


def require_a_term(what: str, *terms: object) -> None:
    """Refuse an amendment of `what` that names no term (each None: left out or null, which
    keeps a term as it is). It asks for nothing, and "already reads so" would say the terms
    it sent were the record's own."""
    if all(term is None for term in terms):
        raise DomainError(
            errors.NOTHING_TO_AMEND,
            f"no term of {what} was given to amend: name at least one "
            "(a term left out or null stays as it is)",
            "input",
        )


def require_text(value: str, field: str, *, max_length: int) -> str:
    """Trimmed, non-empty text no longer than `max_length` characters. Zero-width
    characters (U+200B, a byte-order mark) pasted alone are no name: not a visible one."""
    text = (value or "").strip()
    if not any(char.isprintable() and not char.isspace() for char in text):
        raise DomainError(errors.REQUIRED_FIELD, f"{field} must not be empty", field)
    return limit_text(text, field, max_length=max_length)


def limit_text(value: str, field: str, *, max_length: int) -> str:
    text = (value or "").strip()
    if len(text) > max_length:
        raise DomainError(
            errors.TEXT_TOO_LONG, f"{field} is longer than {max_length} characters", field
        )
    return text


#: More codes than the catalogue holds (470 hazardous codes and the general categories).
MAX_WASTE_CODES: Final = 600


def parse_waste_codes(codes: Iterable[str], field: str = "wasteCodes") -> tuple[str, ...]:
    """Each code validated against the catalogue, normalised, duplicates dropped, order kept."""
    if isinstance(codes, str):
        codes = [codes]  # a bare string would otherwise be iterated letter by letter
    codes = list(codes)
    if len(codes) > MAX_WASTE_CODES:
        raise DomainError(
            errors.TOO_MANY_WASTE_CODES, f"at most {MAX_WASTE_CODES} waste codes", field
        )
    seen: dict[str, None] = {}
    for raw in codes:
        seen[validate_code(raw, field).code] = None
    if not seen:
        raise DomainError(errors.EMPTY_WASTE_CODES, "at least one waste code is required", field)
    return tuple(seen)
