"""Emission factors vendored from the project reference, looked up by key."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources

#: Default freight factor: China GB/T 51366 30 t diesel truck (several sources agree on 0.078).
DEFAULT_FREIGHT_FACTOR = "freight_road_diesel_truck_30t_cn"

#: Avoided-emission factor per waste code where the reference has one (1:1 substitution assumed).
AVOIDED_BY_CODE: dict[str, str] = {
    "SW01": "avoided_ggbs_replacing_cement_cn_derived",
    "SW06": "avoided_fgd_gypsum_in_wallboard_us_derived",
    "SW17": "avoided_scrap_steel_cn_2014_derived",
}


#: kg CO2(e) per tonne of something ("kgCO2e/t", "kgCO2/t scrap"), not per t·km, kWh or m³.
_PER_TONNE = re.compile(r"^kgCO2e?/t(\s|$)")


@dataclass(frozen=True, slots=True)
class EmissionFactor:
    key: str
    value: Decimal
    unit: str
    scope: str
    source: str

    @property
    def per_tonne(self) -> bool:
        return _PER_TONNE.match(self.unit) is not None


@cache
def _factors() -> dict[str, EmissionFactor]:
    text = (
        resources.files("wastex_shared.codes")
        .joinpath("data", "emission-factors.csv")
        .read_text("utf-8")
    )
    return {
        row["key"]: EmissionFactor(
            row["key"], Decimal(row["value"]), row["unit"], row["scope"], row["source"]
        )
        for row in csv.DictReader(text.splitlines())
    }


def factor(key: str) -> EmissionFactor:
    return _factors()[key]


def freight_factor_keys() -> tuple[str, ...]:
    """The factors a match's transport may be priced by (kg CO2e per tonne-km)."""
    return tuple(key for key, row in _factors().items() if row.unit == "kgCO2e/t.km")


def avoided_factor(waste_code: str) -> EmissionFactor | None:
    key = AVOIDED_BY_CODE.get(waste_code)
    return factor(key) if key else None
