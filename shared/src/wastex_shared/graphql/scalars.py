"""The scalars every subgraph reads the same way (`SCALARS`, the schemas' overrides).

`Decimal`: strawberry's reads any text Python's `Decimal` does, which takes digit groups
written with underscores ("1_000") and any script's digits ("１２", full-width). Neither is
how a tonnage or a coordinate is written, and a typo slipping through either is a number
nobody meant: such text is refused as the scalar's error (BAD_USER_INPUT) before any
resolver runs. The rest (a bad number, NaN, too many places) is left to the domain's rules,
which answer it as a typed user error.
"""

from __future__ import annotations

import decimal
from typing import Final

from strawberry.schema.types.base_scalars import DecimalDefinition, wrap_parser
from strawberry.types.scalar import ScalarDefinition, ScalarWrapper

from wastex_shared.units import plain_number_text


def parse_decimal(value: object) -> decimal.Decimal:
    if isinstance(value, str) and not plain_number_text(value):
        raise ValueError(f'{value!r} is not a decimal written in ASCII digits, e.g. "120.500"')
    return decimal.Decimal(value if isinstance(value, str) else str(value))


DECIMAL: Final = ScalarDefinition(
    name=DecimalDefinition.name,
    description=DecimalDefinition.description,
    specified_by_url=None,
    serialize=str,
    parse_value=wrap_parser(
        parse_decimal,
        "Decimal",
        exceptions=(decimal.DecimalException,),
        include_error=True,
        accept_non_string=True,
    ),
    parse_literal=None,
    origin=decimal.Decimal,
)

#: The schemas' `scalar_overrides`.
SCALARS: Final[dict[object, type | ScalarWrapper | ScalarDefinition]] = {decimal.Decimal: DECIMAL}
