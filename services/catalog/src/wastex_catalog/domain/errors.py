"""Stable error codes the catalog domain raises inside `DomainError`.

They reach GraphQL `userErrors.code` and the DLQ's `x-error-type`, so they are part of the
public contract: add new ones freely, never rename one.
"""

from __future__ import annotations

from typing import Final

from wastex_shared.codes import industry

# Raised by `wastex_shared.codes.validate_code`; repeated here so callers need one import.
UNKNOWN_WASTE_CODE: Final = "UNKNOWN_WASTE_CODE"
ABOLISHED_WASTE_CODE: Final = "ABOLISHED_WASTE_CODE"
# Raised by `wastex_shared.codes.DistrictRegister.validate`: a district the register lacks.
UNKNOWN_DISTRICT: Final = "UNKNOWN_DISTRICT"
# Raised by `wastex_shared.errors.NotAuthorized`.
NOT_AUTHORIZED: Final = "NOT_AUTHORIZED"

REQUIRED_FIELD: Final = "REQUIRED_FIELD"
TEXT_TOO_LONG: Final = "TEXT_TOO_LONG"
INVALID_CREDIT_CODE: Final = "INVALID_CREDIT_CODE"
INVALID_INDUSTRY_CODE: Final = industry.INVALID_INDUSTRY_CODE
INVALID_ENTERPRISE_KIND: Final = "INVALID_ENTERPRISE_KIND"
INVALID_COORDINATES: Final = "INVALID_COORDINATES"
OUTSIDE_SERVICE_AREA: Final = "OUTSIDE_SERVICE_AREA"
INVALID_LICENCE_TYPE: Final = "INVALID_LICENCE_TYPE"
INVALID_DATE: Final = "INVALID_DATE"
INVALID_WINDOW: Final = "INVALID_WINDOW"
INVALID_QUANTITY: Final = "INVALID_QUANTITY"
INVALID_PROPERTY: Final = "INVALID_PROPERTY"
INVALID_DISTANCE: Final = "INVALID_DISTANCE"
EMPTY_WASTE_CODES: Final = "EMPTY_WASTE_CODES"
TOO_MANY_WASTE_CODES: Final = "TOO_MANY_WASTE_CODES"
HAZARDOUS_NEEDS_OPERATING_LICENCE: Final = "HAZARDOUS_NEEDS_OPERATING_LICENCE"
LICENCE_NOT_COVERING_CODE: Final = "LICENCE_NOT_COVERING_CODE"
LICENCE_EXPIRED: Final = "LICENCE_EXPIRED"
LICENCE_NOT_YET_VALID: Final = "LICENCE_NOT_YET_VALID"
LICENCE_REVOKED: Final = "LICENCE_REVOKED"
NOTHING_TO_AMEND: Final = "NOTHING_TO_AMEND"
INVALID_TRANSITION: Final = "INVALID_TRANSITION"
ALLOCATION_EXCEEDS_REMAINING: Final = "ALLOCATION_EXCEEDS_REMAINING"
ALLOCATION_CONFLICT: Final = "ALLOCATION_CONFLICT"
QUANTITY_BELOW_MATCHED: Final = "QUANTITY_BELOW_MATCHED"
# Raised by `wastex_shared.errors.NotFound`.
NOT_FOUND: Final = "NOT_FOUND"
DUPLICATE_CREDIT_CODE: Final = "DUPLICATE_CREDIT_CODE"
DUPLICATE_LICENCE_NUMBER: Final = "DUPLICATE_LICENCE_NUMBER"
#: A matching event that contradicts the catalog (other parties, code or listing).
MATCH_INCONSISTENT: Final = "MATCH_INCONSISTENT"
#: Two writers raced on the same record; the caller may simply try again.
CONFLICT: Final = "CONFLICT"
