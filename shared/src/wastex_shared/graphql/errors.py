"""Typed user errors: every mutation payload carries `userErrors { field message code }`."""

from __future__ import annotations

import strawberry

from wastex_shared.errors import DomainError


@strawberry.federation.type(shareable=True, description="A problem with the caller's input.")
class UserError:
    field: str | None
    message: str
    code: str

    @classmethod
    def of(cls, error: DomainError) -> UserError:
        return cls(field=error.field, message=error.message, code=error.code)
