"""CO2e of a route: transport emitted, emissions avoided by using the waste, penalty.

All in kg CO2e, exact `Decimal` arithmetic rounded to the gram at the end.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from wastex_shared.emission_factors import avoided_factor

GRAM: Final = Decimal("0.001")


def transport_co2e_kg(tonnes: Decimal, distance_km: Decimal, kg_per_tkm: Decimal) -> Decimal:
    """tonne-km × freight factor."""
    return (tonnes * distance_km * kg_per_tkm).quantize(GRAM)


def avoided_co2e_kg(tonnes: Decimal, waste_code: str) -> tuple[Decimal | None, str | None]:
    """tonnes × the code's avoided-emission factor, with the factor's key; (None, None)
    when the reference has no factor for the code."""
    found = avoided_factor(waste_code)
    if found is None:
        return None, None
    return (tonnes * found.value).quantize(GRAM), found.key


def penalty_co2e_kg(unmatched_tonnes: Decimal, kg_per_tonne: Decimal) -> Decimal:
    return (unmatched_tonnes * kg_per_tonne).quantize(GRAM)
