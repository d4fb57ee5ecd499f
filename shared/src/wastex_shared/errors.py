"""The one error type the domain raises for a rule a caller broke.

`code` is a stable SCREAMING_SNAKE word (it reaches GraphQL `userErrors` and the DLQ's
`x-error-type`), `field` names the input field at fault when there is one.
"""

from __future__ import annotations


class DomainError(Exception):
    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def __repr__(self) -> str:
        return f"DomainError({self.code!r}, {self.message!r}, field={self.field!r})"


class NotAuthorized(DomainError):
    def __init__(self, message: str = "not authorized", field: str | None = None) -> None:
        super().__init__("NOT_AUTHORIZED", message, field)


class NotFound(DomainError):
    def __init__(self, what: str, ident: str, field: str | None = "id") -> None:
        super().__init__("NOT_FOUND", f"{what} {ident} not found", field)
