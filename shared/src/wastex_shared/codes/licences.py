"""The two kinds of recycler licence and which waste codes each may carry."""

from __future__ import annotations

from enum import StrEnum

from wastex_shared.codes.catalogue import is_hazardous


class LicenceType(StrEnum):
    #: 危险废物经营许可证: needed for any HW code.
    HAZARDOUS_WASTE_OPERATING = "HAZARDOUS_WASTE_OPERATING"
    #: General industrial solid waste (SW codes) only.
    GENERAL_UTILISATION = "GENERAL_UTILISATION"


def may_carry(licence_type: LicenceType, code: str) -> bool:
    """Whether a licence of this type can carry `code` (hazardous needs an operating one)."""
    return not is_hazardous(code) or licence_type is LicenceType.HAZARDOUS_WASTE_OPERATING
