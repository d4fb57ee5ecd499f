"""Error policy and limits every subgraph applies.

Errors: a DomainError becomes a GraphQL error with `extensions.code`; anything unexpected is
logged and masked (no stack trace, no internals) as INTERNAL_SERVER_ERROR.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from functools import partial

from graphql import GraphQLError
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)

from wastex_shared.errors import DomainError

log = logging.getLogger(__name__)

MAX_DEPTH = 10
MAX_TOKENS = 2000
MAX_ALIASES = 15


def _rewrite(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return error
    if isinstance(original, DomainError):
        extensions = {"code": original.code}
        if original.field:
            extensions["field"] = original.field
        return GraphQLError(
            original.message, nodes=error.nodes, path=error.path, extensions=extensions
        )
    log.error("unexpected error in resolver", exc_info=original)
    return GraphQLError(
        "Internal server error",
        nodes=error.nodes,
        path=error.path,
        extensions={"code": "INTERNAL_SERVER_ERROR"},
    )


class ErrorPolicy(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [_rewrite(e) for e in result.errors]


def standard_extensions() -> list[type[SchemaExtension] | Callable[[], SchemaExtension]]:
    return [
        partial(QueryDepthLimiter, max_depth=MAX_DEPTH),
        partial(MaxTokensLimiter, max_token_count=MAX_TOKENS),
        partial(MaxAliasesLimiter, max_alias_count=MAX_ALIASES),
        ErrorPolicy,
    ]
