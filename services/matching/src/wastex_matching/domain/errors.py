"""Stable error codes the matching domain raises inside `wastex_shared.errors.DomainError`.

They reach GraphQL `userErrors.code` and the DLQ's `x-error-type`: add freely, never rename.
"""

from __future__ import annotations

from typing import Final

INVALID_QUANTITY: Final = "INVALID_QUANTITY"
INVALID_COORDINATES: Final = "INVALID_COORDINATES"
INVALID_WINDOW: Final = "INVALID_WINDOW"
INVALID_DISTANCE: Final = "INVALID_DISTANCE"
INVALID_PARAMETER: Final = "INVALID_PARAMETER"
INVALID_TRANSITION: Final = "INVALID_TRANSITION"
INVALID_PARTY: Final = "INVALID_PARTY"
REQUIRED_FIELD: Final = "REQUIRED_FIELD"
#: The match's licence was amended or revoked and no longer allows it.
LICENCE_NO_LONGER_VALID: Final = "LICENCE_NO_LONGER_VALID"
#: The match's offer or demand was amended and no longer has room for it (tonnes, window,
#: radius): the next round proposes on the new terms.
LISTING_CHANGED: Final = "LISTING_CHANGED"
TEXT_TOO_LONG: Final = "TEXT_TOO_LONG"
#: Kilograms × cost units would overflow the solver's 64-bit integers.
INSTANCE_TOO_LARGE: Final = "INSTANCE_TOO_LARGE"
#: The solver reported something other than an optimum (a bug, not a user error).
SOLVER_FAILED: Final = "SOLVER_FAILED"
