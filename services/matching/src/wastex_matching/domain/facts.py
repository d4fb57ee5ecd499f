"""Catalog facts checked as a round will read them back, before matching stores them.

Matching keeps what the catalog says, and every round turns the stored rows into slots and
licence views, which refuse what no plan can use. A fact that would not turn into one (a
window ending before it starts, a position off the globe, tonnes past any listing's, an
unknown licence type) was stored all the same and failed every round after it, for the
whole city and for ever (the catalog never sends one, but any writer to its topics could).
Refused here with a `DomainError`, it is parked like any other bad message.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Protocol

from wastex_matching.domain import errors
from wastex_matching.domain.model import LicenceType, Point, Window, check_tonnes
from wastex_shared.errors import DomainError
from wastex_shared.units import MAX_TONNES


class ListingTerms(Protocol):
    """What an offer's and a demand's facts both say of the listing."""

    @property
    def latitude(self) -> Decimal: ...
    @property
    def longitude(self) -> Decimal: ...
    @property
    def quantity_tonnes(self) -> Decimal: ...
    @property
    def available_from(self) -> date: ...
    @property
    def available_until(self) -> date: ...


def check_listing(terms: ListingTerms, max_distance_km: Decimal | None = None) -> None:
    """An offer's or a demand's terms (`max_distance_km`: a demand's radius)."""
    Point(float(terms.latitude), float(terms.longitude))
    Window(terms.available_from, terms.available_until)
    _tonnes(terms.quantity_tonnes, "quantity_tonnes")
    if max_distance_km is not None and not (
        max_distance_km.is_finite() and Decimal(0) < max_distance_km
    ):
        raise DomainError(errors.INVALID_DISTANCE, "max_distance_km must be positive")


class LicenceTerms(Protocol):
    """What a licence's facts say of what it permits."""

    @property
    def licence_type(self) -> str: ...
    @property
    def annual_capacity_tonnes(self) -> Decimal: ...
    @property
    def valid_from(self) -> date: ...
    @property
    def valid_until(self) -> date: ...


def check_licence(terms: LicenceTerms) -> None:
    if terms.licence_type not in set(LicenceType):
        raise DomainError(errors.INVALID_PARAMETER, f"unknown licence type {terms.licence_type!r}")
    _tonnes(terms.annual_capacity_tonnes, "annual_capacity_tonnes")
    Window(terms.valid_from, terms.valid_until)


def _tonnes(value: Decimal, field: str) -> None:
    if check_tonnes(value, field, allow_zero=False) > MAX_TONNES:
        raise DomainError(errors.INVALID_QUANTITY, f"{field} exceeds {MAX_TONNES} t", field)
