"""Tonnes parse exactly, or fail with a QuantityError (never another exception)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from wastex_shared.units import (
    MAX_TONNES,
    QuantityError,
    from_kilograms,
    positive_tonnes,
    to_kilograms,
    tonnes,
)


@pytest.mark.parametrize(
    ("given", "expected"),
    [("12.5", Decimal("12.500")), (3, Decimal("3.000")), ("0.001", Decimal("0.001"))],
)
def test_tonnes_keep_kilogram_precision(given: str | int, expected: Decimal) -> None:
    assert tonnes(given) == expected
    assert str(tonnes(given)) == str(expected)


@pytest.mark.parametrize(
    "given",
    # helper-43: Python reads "1_000" and full-width "１２"; nobody writes tonnes so.
    [
        "abc",
        "NaN",
        "Infinity",
        "-Infinity",
        "1.0001",
        "1e30",
        "9" * 40,
        "1E+9999",
        "",
        "1_000",
        "１２",
    ],
)
def test_anything_else_is_a_quantity_error(given: str) -> None:
    with pytest.raises(QuantityError):
        positive_tonnes(given)


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        (Decimal("1E+30"), "1E+30 is far beyond"),
        (Decimal("NaN"), "NaN is not a finite number"),
        (Decimal("1.23456"), "1.23456 has more precision"),
        ("1e30", "'1e30' is far beyond"),  # text (a Kafka message's) is shown as sent
    ],
)
def test_a_refused_quantity_is_shown_as_written(given: str | Decimal, shown: str) -> None:
    # GraphQL hands the rules a Decimal: the message read "Decimal('1E+30') is far beyond
    # any real quantity", Python's spelling of the number, not the client's.
    with pytest.raises(QuantityError) as caught:
        positive_tonnes(given)
    assert str(caught.value).startswith(shown)
    assert "Decimal(" not in str(caught.value)


def test_floats_are_refused_as_inexact() -> None:
    with pytest.raises(QuantityError, match="float"):
        tonnes(1.5)  # type: ignore[arg-type]  # the runtime guard for untyped callers


@pytest.mark.parametrize("given", ["0", "-1", str(MAX_TONNES + Decimal("0.001"))])
def test_positive_tonnes_are_above_zero_and_below_the_cap(given: str) -> None:
    with pytest.raises(QuantityError):
        positive_tonnes(given)
    assert positive_tonnes(str(MAX_TONNES)) == MAX_TONNES


def test_kilograms_round_trip() -> None:
    assert to_kilograms(Decimal("120.505")) == 120_505
    assert from_kilograms(120_505) == Decimal("120.505")
