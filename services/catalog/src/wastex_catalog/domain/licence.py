"""Licences: an enterprise's legal basis to take waste codes in, and the coverage rule.

Two kinds (contract): HAZARDOUS_WASTE_OPERATING (危险废物经营许可证), required for any HW
code, and GENERAL_UTILISATION, the verified capability record for general industrial
solid waste (the default). What an enterprise may demand is what its licences cover.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Final

from wastex_catalog.domain import errors
from wastex_catalog.domain.common import (
    DateInput,
    TonnesInput,
    Window,
    covered_by_union,
    parse_tonnes,
    parse_waste_codes,
    parse_window,
    require_text,
)
from wastex_shared.codes import is_hazardous
from wastex_shared.errors import DomainError

NUMBER_MAX_LENGTH: Final = 100


class LicenceType(StrEnum):
    HAZARDOUS_WASTE_OPERATING = "HAZARDOUS_WASTE_OPERATING"
    GENERAL_UTILISATION = "GENERAL_UTILISATION"

    @classmethod
    def parse(cls, value: LicenceType | str | None, field: str = "type") -> LicenceType:
        if value is None:
            return cls.GENERAL_UTILISATION
        try:
            return cls(value.strip().upper() if isinstance(value, str) else value)
        except ValueError as exc:
            raise DomainError(
                errors.INVALID_LICENCE_TYPE,
                f"{value!r} is not a licence type "
                "(HAZARDOUS_WASTE_OPERATING or GENERAL_UTILISATION)",
                field,
            ) from exc


@dataclass(frozen=True, slots=True, kw_only=True)
class Licence:
    id: str
    enterprise_id: str
    number: str
    waste_codes: tuple[str, ...]
    annual_capacity_tonnes: Decimal
    valid_from: date
    valid_until: date
    type: LicenceType = LicenceType.GENERAL_UTILISATION

    @classmethod
    def register(
        cls,
        *,
        id: str,
        enterprise_id: str,
        number: str,
        waste_codes: Iterable[str],
        annual_capacity_tonnes: TonnesInput,
        valid_from: DateInput,
        valid_until: DateInput,
        type: LicenceType | str | None = None,
    ) -> Licence:
        licence_type = LicenceType.parse(type, "type")
        codes = parse_waste_codes(waste_codes, "wasteCodes")
        if licence_type is LicenceType.GENERAL_UTILISATION:
            hazardous = [code for code in codes if is_hazardous(code)]
            if hazardous:
                raise DomainError(
                    errors.HAZARDOUS_NEEDS_OPERATING_LICENCE,
                    f"{', '.join(hazardous)} hazardous: a GENERAL_UTILISATION licence cannot "
                    "list HW codes; register a HAZARDOUS_WASTE_OPERATING licence",
                    "wasteCodes",
                )
        validity = parse_window(
            valid_from, valid_until, start_field="validFrom", end_field="validUntil"
        )
        return cls(
            id=id,
            enterprise_id=enterprise_id,
            number=require_text(number, "number", max_length=NUMBER_MAX_LENGTH),
            waste_codes=codes,
            annual_capacity_tonnes=parse_tonnes(annual_capacity_tonnes, "annualCapacityTonnes"),
            valid_from=validity.start,
            valid_until=validity.end,
            type=licence_type,
        )

    @property
    def validity(self) -> Window:
        return Window(self.valid_from, self.valid_until)

    def is_valid_on(self, day: date) -> bool:
        return self.valid_from <= day <= self.valid_until

    def lists(self, code: str) -> bool:
        return code.strip().upper() in self.waste_codes

    def may_take(self, code: str) -> bool:
        """Listed and of a type that can carry the code (HW needs an operating licence).

        Checked again here, not only at registration, because a stored licence predates
        whatever rule change a reader might bring.
        """
        if not self.lists(code):
            return False
        return not is_hazardous(code) or self.type is LicenceType.HAZARDOUS_WASTE_OPERATING


def check_demand_coverage(
    codes: Iterable[str],
    licences: Sequence[Licence],
    window: Window,
    field: str = "wasteCodes",
) -> None:
    """Refuse the first code the licences do not cover over every day of `window`.

    Pass only the demanding enterprise's licences. Several licences may cover a code
    together (a renewal taking over from an expiring one). Errors, per code:
    HAZARDOUS_NEEDS_OPERATING_LICENCE when only a GENERAL_UTILISATION licence lists an HW
    code, LICENCE_NOT_COVERING_CODE when none lists it, LICENCE_EXPIRED when those listing
    it are not valid over the whole window (expired, or not yet in force).
    """
    for code in codes:
        listing = [lic for lic in licences if lic.lists(code)]
        usable = [lic for lic in listing if lic.may_take(code)]
        if not listing:
            raise DomainError(
                errors.LICENCE_NOT_COVERING_CODE, f"no licence of yours lists {code}", field
            )
        if not usable:
            raise DomainError(
                errors.HAZARDOUS_NEEDS_OPERATING_LICENCE,
                f"{code} is hazardous and needs a HAZARDOUS_WASTE_OPERATING licence",
                field,
            )
        if not covered_by_union(window, (lic.validity for lic in usable)):
            spans = ", ".join(f"{lic.number} {lic.valid_from}–{lic.valid_until}" for lic in usable)
            raise DomainError(
                errors.LICENCE_EXPIRED,
                f"no licence covers {code} from {window.start} to {window.end} ({spans})",
                field,
            )


def covering_licences(code: str, licences: Iterable[Licence], day: date) -> list[Licence]:
    """Licences allowing `code` on `day` (for matching read models and display)."""
    return [lic for lic in licences if lic.may_take(code) and lic.is_valid_on(day)]
