"""Tonnes as exact decimals with kilogram precision; the ledger never sees a float."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Final

KILOGRAM = Decimal("0.001")
#: Largest quantity accepted in one message (10 Mt): anything bigger is a typo, not a shipment.
MAX_TONNES = Decimal("10000000")
#: Digits left of the point that still quantize to kilograms in the default 28-digit context.
_MAX_DIGITS_BEFORE_POINT = 24


class QuantityError(ValueError):
    """A quantity that is not a positive, finite, kilogram-precision number of tonnes."""


#: What a sender is told of a number it did not write as one (GraphQL's Decimal, the ingest).
NUMBER_WRITTEN: Final = 'A number is written in ASCII digits, without digit groups, e.g. "120.500".'
#: What a sender is told of a day it did not write as one (GraphQL's Date, the ingest).
DAY_WRITTEN: Final = 'a day is written YYYY-MM-DD, e.g. "2026-12-01"'


def plain_number_text(text: str) -> bool:
    """Whether `text` is free of what Python's `Decimal` reads but nobody writes a quantity
    as: digit groups with underscores ("1_000") and other scripts' digits ("１２",
    full-width), where a typo becomes a number nobody meant."""
    return text.isascii() and "_" not in text


#: How a day is written: Python's `date.fromisoformat` (and pydantic) also read "20261201",
#: ISO week dates ("2026-W49-1") and, pydantic, a Unix timestamp: none a day anyone writes.
_DAY_TEXT: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def plain_day_text(text: str) -> bool:
    """Whether `text` is a day written YYYY-MM-DD (valid or not: the parser judges that)."""
    return _DAY_TEXT.fullmatch(text) is not None


def as_written(value: object) -> str:
    """A refused number as its sender wrote it, for the message: text quoted as sent (a
    Kafka message's), a number (GraphQL's Decimal) in digits; `repr` gave Python's
    spelling, "Decimal('1E+30')", which no client wrote."""
    return repr(value) if isinstance(value, str) else str(value)


def decimal_of(value: str | int | Decimal) -> Decimal:
    """`Decimal(value)`, refusing text (InvalidOperation) that is not `plain_number_text`."""
    if isinstance(value, str) and not plain_number_text(value):
        raise InvalidOperation(f"{value!r} is not written in ASCII digits")
    return Decimal(value)


def tonnes(value: str | int | Decimal) -> Decimal:
    """Parse tonnes exactly; refuse floats (inexact), NaN, infinities and sub-kilogram digits."""
    if isinstance(value, float):
        raise QuantityError("tonnes must be given as a decimal string, not a float")
    try:
        amount = decimal_of(value)
    except (InvalidOperation, ValueError) as exc:
        raise QuantityError(f"{as_written(value)} is not a number") from exc
    if not amount.is_finite():
        raise QuantityError(f"{as_written(value)} is not a finite number")
    if amount.adjusted() >= _MAX_DIGITS_BEFORE_POINT:
        # quantize would need more digits than the decimal context holds (and raise)
        raise QuantityError(f"{as_written(value)} is far beyond any real quantity")
    if amount != amount.quantize(KILOGRAM, rounding=ROUND_HALF_EVEN):
        raise QuantityError(
            f"{as_written(value)} has more precision than one kilogram (3 decimal places)"
        )
    return amount.quantize(KILOGRAM)


def positive_tonnes(value: str | int | Decimal) -> Decimal:
    """Tonnes that must be > 0 and below :data:`MAX_TONNES`."""
    amount = tonnes(value)
    if amount <= 0:
        raise QuantityError("tonnes must be greater than zero")
    if amount > MAX_TONNES:
        raise QuantityError(f"tonnes must not exceed {MAX_TONNES}")
    return amount


def to_kilograms(amount: Decimal) -> int:
    """Integer kilograms, as the optimiser works in integers."""
    return int((amount / KILOGRAM).to_integral_value())


def from_kilograms(kilograms: int) -> Decimal:
    return (Decimal(kilograms) * KILOGRAM).quantize(KILOGRAM)
