"""The request context: who is calling (from the forwarded `Authorization` header over HTTP,
or the `connection_init` payload over WebSocket) and per-request DataLoaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from graphql import GraphQLError
from strawberry.types import Info as StrawberryInfo

from wastex_shared.auth import JwtConfig, Principal, Unauthenticated, principal_from_header
from wastex_shared.errors import NotAuthorized


@dataclass
class Context:
    jwt: JwtConfig
    request: Any = None
    response: Any = None
    connection_params: dict[str, Any] | None = None
    loaders: dict[str, Any] = field(default_factory=dict)
    services: Any = None

    def _authorization(self) -> str | None:
        headers = getattr(self.request, "headers", None)
        if headers is not None and headers.get("authorization"):
            return str(headers.get("authorization"))
        params = self.connection_params or {}
        value = params.get("Authorization") or params.get("authorization")
        return str(value) if value else None

    @property
    def principal(self) -> Principal | None:
        """The caller, or None without a token; a bad token is a GraphQL UNAUTHENTICATED error."""
        try:
            return principal_from_header(self.jwt, self._authorization())
        except Unauthenticated as err:
            raise GraphQLError(err.message, extensions={"code": err.code}) from err

    def require_principal(self) -> Principal:
        principal = self.principal
        if principal is None:
            raise NotAuthorized("sign in: this needs an 'Authorization: Bearer <token>' header")
        return principal


Info = StrawberryInfo[Context, None]

S = TypeVar("S")


def services_of(info: Info, kind: type[S]) -> S:
    """What the subgraph's app put in `Context.services`, as the subgraph's own type."""
    services = info.context.services
    assert isinstance(services, kind), type(services)
    return services
