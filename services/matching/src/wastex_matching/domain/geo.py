"""Distances: great-circle (haversine) kilometres, scaled by a road factor, in whole metres.

Feasibility compares *integer metres* (distance rounded to the metre against the radius
floored to the metre), so the scalar path (`candidate_reason`, explanations) and the
vectorised path (the optimiser's candidate edges) agree even where `math` and numpy
differ in the last bit of a float.
"""

from __future__ import annotations

import math
from decimal import ROUND_FLOOR, Decimal
from typing import Final

import numpy as np
from numpy.typing import NDArray

from wastex_matching.domain.model import Point

#: IUGG mean Earth radius.
EARTH_RADIUS_KM: Final = 6371.0088
METRE: Final = Decimal("0.001")


def haversine_km(a: Point, b: Point) -> float:
    """Great-circle distance between two points, in kilometres."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat = lat2 - lat1
    dlon = math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def cos_latitudes(lat: NDArray[np.float64]) -> NDArray[np.float64]:
    """cos(latitude) of each point (degrees in): what `haversine_km_arrays` needs of a place,
    computed once per place rather than once per pair."""
    result: NDArray[np.float64] = np.cos(np.radians(lat))
    return result


def haversine_km_arrays(
    lat1: NDArray[np.float64],
    lon1: NDArray[np.float64],
    lat2: NDArray[np.float64],
    lon2: NDArray[np.float64],
    *,
    cos_lat1: NDArray[np.float64] | None = None,
    cos_lat2: NDArray[np.float64] | None = None,
) -> NDArray[np.float64]:
    """Element-wise (broadcasting) great-circle distance in kilometres; degrees in.

    The same operations in the same order as `haversine_km`, so the same floats; done in
    place on millions of pairs (each temporary array costs as much as an operation).
    """
    c1 = cos_latitudes(lat1) if cos_lat1 is None else cos_lat1
    c2 = cos_latitudes(lat2) if cos_lat2 is None else cos_lat2
    h = np.radians(lat2) - np.radians(lat1)
    h /= 2
    np.sin(h, out=h)
    np.square(h, out=h)
    across = np.radians(lon2 - lon1)
    across /= 2
    np.sin(across, out=across)
    np.square(across, out=across)
    h += c1 * c2 * across
    np.sqrt(h, out=h)
    np.minimum(h, 1.0, out=h)
    np.arcsin(h, out=h)
    h *= 2 * EARTH_RADIUS_KM
    return h


def road_metres(a: Point, b: Point, road_factor: float) -> int:
    """Estimated road distance in whole metres."""
    return round(haversine_km(a, b) * 1000.0 * road_factor)


def road_metres_arrays(
    lat1: NDArray[np.float64],
    lon1: NDArray[np.float64],
    lat2: NDArray[np.float64],
    lon2: NDArray[np.float64],
    road_factor: float,
    *,
    cos_lat1: NDArray[np.float64] | None = None,
    cos_lat2: NDArray[np.float64] | None = None,
) -> NDArray[np.int64]:
    km = haversine_km_arrays(lat1, lon1, lat2, lon2, cos_lat1=cos_lat1, cos_lat2=cos_lat2)
    return np.rint(km * 1000.0 * road_factor).astype(np.int64)


def radius_metres(max_distance_km: Decimal) -> int:
    """A demand's radius in whole metres, floored (never reaching further than declared)."""
    return int((max_distance_km * 1000).to_integral_value(rounding=ROUND_FLOOR))


def metres_to_km(metres: int) -> Decimal:
    return (Decimal(metres) * METRE).quantize(METRE)
