"""Stable error codes the ledger's rules raise (they reach `userErrors` and `x-error-type`)."""

from __future__ import annotations

from typing import Final

UNKNOWN_SITE: Final = "UNKNOWN_SITE"
NOT_AUTHORIZED: Final = "NOT_AUTHORIZED"
NOT_FOUND: Final = "NOT_FOUND"
INVALID_QUANTITY: Final = "INVALID_QUANTITY"
INVALID_PERIOD: Final = "INVALID_PERIOD"
INVALID_SCOPE: Final = "INVALID_SCOPE"
INVALID_RATE: Final = "INVALID_RATE"
BALANCE_VIOLATION: Final = "BALANCE_VIOLATION"
PRIOR_STOCK_NOT_APPLICABLE: Final = "PRIOR_STOCK_NOT_APPLICABLE"
NOT_REVERSIBLE: Final = "NOT_REVERSIBLE"
ALREADY_REVERSED: Final = "ALREADY_REVERSED"
#: A correction to the tonnes the entry already books.
NOTHING_TO_AMEND: Final = "NOTHING_TO_AMEND"
REASON_REQUIRED: Final = "REASON_REQUIRED"
INVALID_MANIFEST_STATE: Final = "INVALID_MANIFEST_STATE"
INVALID_RULES: Final = "INVALID_RULES"
INVALID_CAUSE: Final = "INVALID_CAUSE"
INVALID_NOTE: Final = "INVALID_NOTE"
TEXT_TOO_LONG: Final = "TEXT_TOO_LONG"
LICENCE_NO_LONGER_VALID: Final = "LICENCE_NO_LONGER_VALID"
INVALID_LICENCE: Final = "INVALID_LICENCE"
#: Dispatched before the first day of its match's shipping window (decision 037).
SHIPPING_WINDOW_NOT_OPEN: Final = "SHIPPING_WINDOW_NOT_OPEN"
#: Booked to a month of a year whose books have closed (decision 036).
PERIOD_CLOSED: Final = "PERIOD_CLOSED"
