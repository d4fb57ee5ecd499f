"""The waste-code catalogue: hazardous categories HW01–HW50 and general industrial SW categories.

Vendored from the project reference (`docs/reference/SOURCES.md` says where each list comes from).
"""

from wastex_shared.codes.catalogue import (
    WasteCode,
    all_codes,
    is_hazardous,
    lookup,
    search,
    validate_code,
)
from wastex_shared.codes.licences import LicenceType, may_carry

__all__ = [
    "LicenceType",
    "WasteCode",
    "all_codes",
    "is_hazardous",
    "lookup",
    "may_carry",
    "search",
    "validate_code",
]
