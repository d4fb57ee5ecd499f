"""Reference codes: the waste-code catalogue (hazardous categories HW01–HW50 and general
industrial SW categories) and the city's district register.

Vendored from the project reference (`docs/reference/SOURCES.md` says where each list comes
from; the district file's own header says where its names come from).
"""

from wastex_shared.codes.catalogue import (
    WasteCode,
    all_codes,
    canonical,
    is_hazardous,
    known,
    lookup,
    search,
    validate_code,
)
from wastex_shared.codes.districts import (
    UNKNOWN_DISTRICT,
    District,
    DistrictKind,
    DistrictRegister,
)
from wastex_shared.codes.licences import LicenceType, may_carry

__all__ = [
    "UNKNOWN_DISTRICT",
    "District",
    "DistrictKind",
    "DistrictRegister",
    "LicenceType",
    "WasteCode",
    "all_codes",
    "canonical",
    "is_hazardous",
    "known",
    "lookup",
    "may_carry",
    "search",
    "validate_code",
]
