"""The scalars every subgraph reads the same way (`SCALARS`, the schemas' overrides).

`Decimal`: strawberry's reads any text Python's `Decimal` does, which takes digit groups
written with underscores ("1_000") and any script's digits ("１２", full-width). Neither is
how a tonnage or a coordinate is written, and a typo slipping through either is a number
nobody meant: such text is refused as the scalar's error (BAD_USER_INPUT) before any
resolver runs. The rest (a bad number, NaN, too many places) is left to the domain's rules,
which answer it as a typed user error.

`Date`: strawberry's reads what `date.fromisoformat` does, "20261201" and "2026-W49-1" too;
a day is written YYYY-MM-DD, as the Kafka ingest takes it.
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Final

from strawberry.schema.types.base_scalars import DateDefinition, DecimalDefinition, wrap_parser
from strawberry.types.scalar import ScalarDefinition, ScalarWrapper

from wastex_shared.units import DAY_WRITTEN, NUMBER_WRITTEN, decimal_of, plain_day_text


def parse_decimal(value: str) -> decimal.Decimal:
    """The number `value` writes, or ValueError saying how one is written: Python's own
    error (`[<class 'decimal.ConversionSyntax'>]`) is no answer to a client."""
    try:
        return decimal_of(value)
    except decimal.InvalidOperation:
        raise ValueError(NUMBER_WRITTEN) from None


DECIMAL: Final = ScalarDefinition(
    name=DecimalDefinition.name,
    description=DecimalDefinition.description,
    specified_by_url=None,
    serialize=str,
    # A JSON number is read through its text (accept_non_string): 12.5 is 12.5.
    parse_value=wrap_parser(parse_decimal, "Decimal", include_error=True, accept_non_string=True),
    parse_literal=None,
    origin=decimal.Decimal,
)


def parse_date(value: str) -> dt.date:
    if not plain_day_text(value):
        raise ValueError(DAY_WRITTEN)
    return dt.date.fromisoformat(value)


DATE: Final = ScalarDefinition(
    name=DateDefinition.name,
    description="A day, written YYYY-MM-DD.",
    specified_by_url=None,
    serialize=dt.date.isoformat,
    parse_value=wrap_parser(parse_date, "Date", include_error=True),
    parse_literal=None,
    origin=dt.date,
)

#: The schemas' `scalar_overrides`.
SCALARS: Final[dict[object, type | ScalarWrapper | ScalarDefinition]] = {
    decimal.Decimal: DECIMAL,
    dt.date: DATE,
}
