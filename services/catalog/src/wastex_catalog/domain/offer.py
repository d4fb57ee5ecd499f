"""Offers: waste a site has on hand for an availability window.

`hazardous` is derived from the waste code, never taken from input: a factory cannot
declare HW waste non-hazardous.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import ClassVar, Final

from wastex_catalog.domain import errors
from wastex_catalog.domain.common import (
    DateInput,
    NumberInput,
    TonnesInput,
    limit_text,
    parse_number,
    parse_tonnes,
    parse_window,
)
from wastex_catalog.domain.enterprise import Site
from wastex_catalog.domain.listing import Listing, ListingStatus
from wastex_shared.codes import is_hazardous, validate_code
from wastex_shared.errors import DomainError

DESCRIPTION_MAX_LENGTH: Final = 2000

OfferStatus = ListingStatus


def _moisture(value: NumberInput | None) -> Decimal | None:
    if value is None:
        return None
    number = parse_number(value, "moisturePercent", errors.INVALID_PROPERTY)
    if not 0 <= number <= 100:
        raise DomainError(
            errors.INVALID_PROPERTY, "moisturePercent must be between 0 and 100", "moisturePercent"
        )
    return number


def _particle_size(value: NumberInput | None) -> Decimal | None:
    if value is None:
        return None
    number = parse_number(value, "particleSizeMm", errors.INVALID_PROPERTY)
    if number < 0:
        raise DomainError(
            errors.INVALID_PROPERTY, "particleSizeMm must not be negative", "particleSizeMm"
        )
    return number


@dataclass(frozen=True, slots=True, kw_only=True)
class Offer(Listing):
    KIND: ClassVar[str] = "offer"
    TERMS: ClassVar[dict[str, str]] = {
        **Listing.TERMS,
        "description": "description",
        "moisture_percent": "moisturePercent",
        "particle_size_mm": "particleSizeMm",
    }

    waste_code: str
    description: str = ""
    moisture_percent: Decimal | None = None
    particle_size_mm: Decimal | None = None

    @classmethod
    def post(
        cls,
        *,
        id: str,
        site: Site,
        waste_code: str,
        quantity_tonnes: TonnesInput,
        available_from: DateInput,
        available_until: DateInput,
        description: str | None = "",
        moisture_percent: NumberInput | None = None,
        particle_size_mm: NumberInput | None = None,
        today: date | None = None,
    ) -> Offer:
        """A new OPEN offer at `site`, owned by the site's enterprise.

        With `today`, a window that has already ended is refused. The caller checks that
        whoever posts may act for `site.enterprise_id`.
        """
        code = validate_code(waste_code, "wasteCode").code
        quantity = parse_tonnes(quantity_tonnes, "quantityTonnes")
        window = parse_window(
            available_from,
            available_until,
            start_field="availableFrom",
            end_field="availableUntil",
            today=today,
        )
        return cls(
            id=id,
            enterprise_id=site.enterprise_id,
            site_id=site.id,
            district=site.district,
            quantity_tonnes=quantity,
            available_from=window.start,
            available_until=window.end,
            waste_code=code,
            description=limit_text(
                description or "", "description", max_length=DESCRIPTION_MAX_LENGTH
            ),
            moisture_percent=_moisture(moisture_percent),
            particle_size_mm=_particle_size(particle_size_mm),
        )

    def amend(
        self,
        by_enterprise_id: str,
        *,
        today: date,
        quantity_tonnes: TonnesInput | None = None,
        available_from: DateInput | None = None,
        available_until: DateInput | None = None,
        description: str | None = None,
        moisture_percent: NumberInput | None = None,
        particle_size_mm: NumberInput | None = None,
    ) -> Offer:
        """The offer with the terms given replaced (None: as it is); its site and waste
        code stay (another waste, or waste elsewhere, is another offer)."""
        own: dict[str, object] = {}
        if description is not None:
            own["description"] = limit_text(
                description, "description", max_length=DESCRIPTION_MAX_LENGTH
            )
        if moisture_percent is not None:
            own["moisture_percent"] = _moisture(moisture_percent)
        if particle_size_mm is not None:
            own["particle_size_mm"] = _particle_size(particle_size_mm)
        return self._amended(
            by_enterprise_id,
            quantity_tonnes=quantity_tonnes,
            available_from=available_from,
            available_until=available_until,
            today=today,
            **own,
        )

    @property
    def hazardous(self) -> bool:
        return is_hazardous(self.waste_code)
