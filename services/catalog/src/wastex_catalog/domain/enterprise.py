"""Enterprises (the legal entities that trade waste) and their sites (where waste lies).

Factories classmethods (`register`, `add`) validate raw input; the plain constructors do
not, so a repository can rehydrate stored rows without re-running today's rules on
yesterday's data (a district named before the register existed stays as it was stored).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from typing import Final

from wastex_catalog.domain import errors
from wastex_catalog.domain.common import (
    NumberInput,
    parse_number,
    require_a_term,
    require_text,
)
from wastex_catalog.domain.credit_code import validate_credit_code
from wastex_shared.codes import DistrictRegister
from wastex_shared.codes.industry import IndustrySection, section_of, validate_industry_code
from wastex_shared.errors import DomainError

NAME_MAX_LENGTH: Final = 200
DISTRICT_MAX_LENGTH: Final = 100

#: A generous rectangle around mainland China, Hainan and the islands: it catches swapped
#: latitude/longitude and sign slips, not border precision.
CHINA_BOUNDS: Final = (
    Decimal("3.5"),
    Decimal(54),
    Decimal(73),
    Decimal(136),
)  # lat min, lat max, lon min, lon max


class EnterpriseKind(StrEnum):
    FACTORY = "FACTORY"
    RECYCLER = "RECYCLER"

    @classmethod
    def parse(cls, value: EnterpriseKind | str, field: str = "kind") -> EnterpriseKind:
        try:
            return cls(value.strip().upper() if isinstance(value, str) else value)
        except ValueError as exc:
            raise DomainError(
                errors.INVALID_ENTERPRISE_KIND,
                f"{value!r} is not an enterprise kind (FACTORY or RECYCLER)",
                field,
            ) from exc


@dataclass(frozen=True, slots=True, kw_only=True)
class Enterprise:
    id: str
    name: str
    credit_code: str
    industry: str
    district: str
    kind: EnterpriseKind
    #: 1 when registered, one more with each amendment (consumers keep the highest).
    version: int = 1

    @classmethod
    def register(
        cls,
        *,
        id: str,
        name: str,
        credit_code: str,
        industry: str,
        district: str,
        kind: EnterpriseKind | str,
        districts: DistrictRegister,
    ) -> Enterprise:
        return cls(
            id=id,
            name=require_text(name, "name", max_length=NAME_MAX_LENGTH),
            credit_code=validate_credit_code(credit_code, "creditCode"),
            industry=validate_industry_code(industry, "industry"),
            district=registered_district(district, districts),
            kind=EnterpriseKind.parse(kind, "kind"),
        )

    def amend(
        self,
        *,
        name: str | None = None,
        industry: str | None = None,
        district: str | None = None,
        districts: DistrictRegister,
    ) -> Enterprise:
        """This enterprise corrected: what is given replaces what was registered, checked
        as a registration is. The credit code (its legal identity) and its kind (what its
        licences and listings were checked against) are not amended."""
        require_a_term(f"enterprise {self.name}", name, industry, district)
        if name is not None:
            name = require_text(name, "name", max_length=NAME_MAX_LENGTH)
        if district is not None:
            district = registered_district(district, districts)
        amended = replace(
            self,
            name=name or self.name,
            industry=self.industry if industry is None else validate_industry_code(industry),
            district=district or self.district,
        )
        if amended == self:
            raise DomainError(
                errors.NOTHING_TO_AMEND, f"enterprise {self.name} already reads so", "input"
            )
        return replace(amended, version=self.version + 1)

    @property
    def industry_section(self) -> IndustrySection:
        return section_of(self.industry)


def registered_district(district: str, districts: DistrictRegister) -> str:
    """`district` trimmed, when the city's register lists it (UNKNOWN_DISTRICT otherwise):
    a district decides a record's regulator and the figures it is added to."""
    return districts.validate(require_text(district, "district", max_length=DISTRICT_MAX_LENGTH))


def in_china_bounds(latitude: Decimal, longitude: Decimal) -> bool:
    lat_min, lat_max, lon_min, lon_max = CHINA_BOUNDS
    return lat_min <= latitude <= lat_max and lon_min <= longitude <= lon_max


def _coordinate(value: NumberInput, field: str, limit: int) -> Decimal:
    # Decimal like the events carry; a float input goes through str so 30.64 stays 30.64.
    number = parse_number(value, field, errors.INVALID_COORDINATES, places=6)
    if not -limit <= number <= limit:
        raise DomainError(
            errors.INVALID_COORDINATES, f"{field} must be between -{limit} and {limit}", field
        )
    return number


@dataclass(frozen=True, slots=True, kw_only=True)
class Site:
    """A place of an enterprise where waste arises or is taken in (WGS-84 decimal degrees)."""

    id: str
    enterprise_id: str
    name: str
    district: str
    latitude: Decimal
    longitude: Decimal
    #: 1 when added, one more with each amendment (consumers keep the highest).
    version: int = 1

    @classmethod
    def add(
        cls,
        *,
        id: str,
        enterprise_id: str,
        name: str,
        district: str,
        latitude: NumberInput,
        longitude: NumberInput,
        districts: DistrictRegister,
        require_china: bool = False,
    ) -> Site:
        lat, lon = _place(latitude, longitude, require_china)
        return cls(
            id=id,
            enterprise_id=enterprise_id,
            name=require_text(name, "name", max_length=NAME_MAX_LENGTH),
            district=registered_district(district, districts),
            latitude=lat,
            longitude=lon,
        )

    def amend(
        self,
        *,
        name: str | None = None,
        district: str | None = None,
        latitude: NumberInput | None = None,
        longitude: NumberInput | None = None,
        districts: DistrictRegister,
        require_china: bool = False,
    ) -> Site:
        """This site corrected: what is given replaces what was added, checked as an
        addition is (a new place needs both coordinates: half of one is a typo's repair
        that could land anywhere). Its enterprise is not amended."""
        require_a_term(f"site {self.name}", name, district, latitude, longitude)
        if (latitude is None) != (longitude is None):
            missing = "longitude" if longitude is None else "latitude"
            raise DomainError(
                errors.INVALID_COORDINATES,
                "a site is moved by both its latitude and its longitude",
                missing,
            )
        amended = replace(
            self,
            name=self.name
            if name is None
            else require_text(name, "name", max_length=NAME_MAX_LENGTH),
            district=self.district
            if district is None
            else registered_district(district, districts),
        )
        if latitude is not None and longitude is not None:
            lat, lon = _place(latitude, longitude, require_china)
            amended = replace(amended, latitude=lat, longitude=lon)
        if amended == self:
            raise DomainError(
                errors.NOTHING_TO_AMEND, f"site {self.name} already reads so", "input"
            )
        return replace(amended, version=self.version + 1)


def _place(
    latitude: NumberInput, longitude: NumberInput, require_china: bool
) -> tuple[Decimal, Decimal]:
    lat = _coordinate(latitude, "latitude", 90)
    lon = _coordinate(longitude, "longitude", 180)
    if require_china and not in_china_bounds(lat, lon):
        raise DomainError(
            errors.OUTSIDE_SERVICE_AREA,
            f"({lat}, {lon}) is outside China; are latitude and longitude swapped?",
            "latitude",
        )
    return lat, lon
