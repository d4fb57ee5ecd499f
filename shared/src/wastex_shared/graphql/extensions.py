"""Error policy and limits every subgraph applies.

Errors: a DomainError becomes a GraphQL error with `extensions.code`; a lost database
connection is SERVICE_UNAVAILABLE (try again); anything else unexpected is logged and masked
(no stack trace, no internals) as INTERNAL_SERVER_ERROR; graphql-core's own errors get a code
too (GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED, BAD_USER_INPUT).

Limits (the gateway applies the first three too, so a subgraph reached directly is no weaker):
depth 10, 2,000 tokens, 15 aliases, and a query cost of at most 5,000 (`refuse_too_costly`,
see `query_cost`): an operation over the limit is refused before any resolver runs with
`extensions.code` QUERY_TOO_COMPLEX, never left to time out.

All of it is one strawberry extension, `OperationPolicy` (and strawberry's `ValidationCache`):
`standard_extensions()` is what a subgraph's schema takes.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLType,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    VariableNode,
    Visitor,
    get_named_type,
    get_operation_ast,
    parse,
    visit,
)
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.extensions import SchemaExtension, ValidationCache
from strawberry.types import ExecutionContext

from wastex_shared.envelope import UNSTORABLE_TEXT, holds_unstorable
from wastex_shared.errors import DomainError
from wastex_shared.graphql.connection import DEFAULT_PAGE, MAX_PAGE
from wastex_shared.graphql.context import Context
from wastex_shared.storage.failures import transient

log = logging.getLogger(__name__)

MAX_DEPTH = 10
MAX_TOKENS = 2000
MAX_ALIASES = 15
MAX_COST = 5000
#: What a list without a `first` argument is assumed to hold: the catalog's sites and licences
#: of an enterprise, a match's alternatives (at most 5), the waste codes' few fields.
LIST_ESTIMATE = 10
QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
BAD_USER_INPUT = "BAD_USER_INPUT"
SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"


_DEPTH_MESSAGE = re.compile(r"^'(?P<operation>.*)' exceeds maximum operation depth of \d+$")


def _core_error(error: GraphQLError) -> GraphQLError:
    """graphql-core's own errors (syntax, validation, variable values, limits) come without a
    code: give them one, and say the depth limit the way the gateway does."""
    message = error.message
    depth = _DEPTH_MESSAGE.match(message)
    if message.startswith("Syntax Error"):
        code = "GRAPHQL_PARSE_FAILED"
    elif message.startswith("Variable '$") and (
        "invalid value" in message or "was not provided" in message
    ):
        code = BAD_USER_INPUT
    elif error.path is None:  # refused before execution: validation and the limits
        code = "GRAPHQL_VALIDATION_FAILED"
    else:
        return error
    if depth:
        message = (
            f"'{depth['operation']}' exceeds the maximum operation depth of {MAX_DEPTH} "
            "(the leaf field counts as a level)"
        )
    return GraphQLError(
        message,
        nodes=error.nodes,
        path=error.path,
        original_error=error.original_error,
        extensions={**(error.extensions or {}), "code": code},
    )


def _rewrite(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if (original is None or isinstance(original, GraphQLError)) and not (
        error.extensions or {}
    ).get("code"):
        return _core_error(error)
    if original is None or isinstance(original, GraphQLError):
        return error
    if isinstance(original, DomainError):
        extensions = {"code": original.code}
        if original.field:
            extensions["field"] = original.field
        return GraphQLError(
            original.message, nodes=error.nodes, path=error.path, extensions=extensions
        )
    if transient(original):
        log.warning("database unavailable to a resolver (or a deadlock): %s", original)
        return GraphQLError(
            "The database could not complete this just now; try again shortly",
            nodes=error.nodes,
            path=error.path,
            extensions={"code": SERVICE_UNAVAILABLE},
        )
    log.error("unexpected error in resolver", exc_info=original)
    return GraphQLError(
        "Internal server error",
        nodes=error.nodes,
        path=error.path,
        extensions={"code": "INTERNAL_SERVER_ERROR"},
    )


# --- query cost ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Walk:
    schema: GraphQLSchema
    fragments: Mapping[str, FragmentDefinitionNode]
    variables: Mapping[str, Any]
    defaults: Mapping[str, ValueNode | None]
    #: A fragment's cost by (name, page), priced once: a fragment spreading another twice,
    #: that one the next twice and so on, sixty deep (a few hundred tokens), was walked
    #: 2**60 times, the subgraph's event loop (its consumers too) stuck in it for good.
    fragment_costs: dict[tuple[str, int | None], int] = field(default_factory=dict)


def query_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: Mapping[str, Any] | None = None,
    operation_name: str | None = None,
) -> int:
    """The estimated cost of one operation of a *valid* document.

    Every field costs 1 (introspection and `__typename` cost nothing). A field's selection is
    multiplied by how many objects the field may return:
    - a Relay connection (a field with a `first` argument returning a type with `edges`):
      its `edges` by `first` (null or absent: the default page, 20; capped at 100 as the
      resolvers refuse more); `totalCount` and `pageInfo` are counted once;
    - any other field with a `first` argument returning a list: by `first`, likewise;
    - federation's `_entities(representations: …)`: by the number of representations;
    - any other list of objects: by 10 (`LIST_ESTIMATE`: `sites`, `licences`, `alternatives`).
    Lists of scalars cost 1 like any leaf. Fragments are expanded where they are spread;
    every branch of a union or interface selection counts (an over-estimate, never under).
    """
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return 0
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    walk = _Walk(
        schema=schema,
        fragments={
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        },
        variables=variables or {},
        defaults=_variable_defaults(operation),
    )
    return _selection_cost(walk, root, operation.selection_set, page=None, seen=frozenset())


def _variable_defaults(operation: OperationDefinitionNode) -> dict[str, ValueNode | None]:
    return {v.variable.name.value: v.default_value for v in operation.variable_definitions or ()}


def _selection_cost(
    walk: _Walk,
    parent: GraphQLNamedType,
    selection_set: SelectionSetNode | None,
    page: int | None,
    seen: frozenset[str],
) -> int:
    if selection_set is None:
        return 0
    total = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            total += _field_cost(walk, parent, selection, page, seen)
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            target = walk.schema.get_type(condition.name.value) if condition else parent
            total += _selection_cost(walk, target or parent, selection.selection_set, page, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = walk.fragments.get(name)
            if fragment is None or name in seen:  # invalid documents never get here
                continue
            key = (name, page)
            if key not in walk.fragment_costs:
                target = walk.schema.get_type(fragment.type_condition.name.value) or parent
                walk.fragment_costs[key] = _selection_cost(
                    walk, target, fragment.selection_set, page, seen | {name}
                )
            total += walk.fragment_costs[key]
    return total


def _field_cost(
    walk: _Walk, parent: GraphQLNamedType, node: FieldNode, page: int | None, seen: frozenset[str]
) -> int:
    name = node.name.value
    if name.startswith("__"):
        return 0
    definition = _field_definition(parent, name)
    if definition is None:  # unknown field: validation reports it, not the cost
        return 1
    returns: GraphQLType = definition.type
    named = get_named_type(returns)
    is_list = isinstance(
        returns.of_type if isinstance(returns, GraphQLNonNull) else returns, GraphQLList
    )
    child_page: int | None = None
    multiplier = 1
    if "first" in definition.args:
        first = _page(walk, _argument(node, "first"))
        if is_list:
            multiplier = first
        else:
            child_page = first  # a connection: its `edges` take the page size
    elif name == "edges" and is_list and page is not None:
        multiplier = page
    elif name == "_entities":
        multiplier = _count(walk, _argument(node, "representations"))
    elif is_list and node.selection_set is not None:
        multiplier = LIST_ESTIMATE
    children = _selection_cost(walk, named, node.selection_set, child_page, seen)
    return 1 + multiplier * children


def _field_definition(parent: GraphQLNamedType, name: str) -> GraphQLField | None:
    if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        found: GraphQLField | None = parent.fields.get(name)
        return found
    return None


def _argument(node: FieldNode, name: str) -> ValueNode | None:
    for argument in node.arguments or ():
        if argument.name.value == name:
            return argument.value
    return None


def _resolve(walk: _Walk, value: ValueNode | None) -> Any:
    """A literal's or variable's value (None when absent); only ints and lists matter here."""
    if isinstance(value, VariableNode):
        name = value.name.value
        if name in walk.variables:
            return walk.variables[name]
        return _resolve(walk, walk.defaults.get(name))
    if isinstance(value, IntValueNode):
        return int(value.value)
    if isinstance(value, ListValueNode):
        return list(value.values)
    return None


def _page(walk: _Walk, value: ValueNode | None) -> int:
    first = _resolve(walk, value)
    if isinstance(first, float) and first.is_integer():
        first = int(first)  # JSON's 100.0 is an Int to graphql-core, and runs 100
    if not isinstance(first, int) or isinstance(first, bool):
        return DEFAULT_PAGE
    return max(0, min(first, MAX_PAGE))  # out of range is INVALID_PAGE_SIZE, not a cost


def _count(walk: _Walk, value: ValueNode | None) -> int:
    items = _resolve(walk, value)
    return len(items) if isinstance(items, list) else DEFAULT_PAGE


def refuse_too_costly(context: ExecutionContext, max_cost: int = MAX_COST) -> None:
    """Refuses an operation whose `query_cost` exceeds `max_cost`, before it executes.

    Runs after validation (the document is known to be valid) and needs the variables, so it
    is an execution check rather than a validation rule. The refusal is a GraphQL error
    with `extensions: {code: QUERY_TOO_COMPLEX, cost, maxCost}`; for a subscription it is the
    subscription's first and only message.
    """
    document = context.graphql_document
    if document is None:
        return
    cost = query_cost(context.schema._schema, document, context.variables, context.operation_name)
    if cost > max_cost:
        raise GraphQLError(
            f"Query cost {cost} exceeds the maximum of {max_cost}: ask for fewer "
            "items per page (`first`) or fewer nested lists, and page with `after`.",
            extensions={"code": QUERY_TOO_COMPLEX, "cost": cost, "maxCost": max_cost},
        )


def refuse_unstorable_text(context: ExecutionContext) -> None:
    """Refuses text holding U+0000 or a lone surrogate in an operation's variables or its
    literal arguments, before any resolver runs, as BAD_USER_INPUT: PostgreSQL's text
    refuses the first (where SQLite would store it), and no UTF-8 encodes the second (the
    statement, or the event published, would fail as an internal error)."""
    query, document = context.query or "", context.graphql_document
    # Only an escape (\u0000, \u{0}) writes the character into a document.
    in_document = "\\u" in query and document is not None and _holds_unstorable(document)
    if in_document or holds_unstorable(context.variables or {}):
        raise GraphQLError(
            UNSTORABLE_TEXT[0].upper() + UNSTORABLE_TEXT[1:],
            extensions={"code": BAD_USER_INPUT},
        )


def refuse_bad_token(context: ExecutionContext) -> None:
    """Refuses an operation sent with a bad token (forged, expired, not `Bearer <token>`) as
    UNAUTHENTICATED before any resolver runs, whatever it asks for: a caller's token is
    otherwise read only by fields that need a caller, so one asking for public fields alone
    (`wasteCodes`) was answered as if it had sent none (the contract: never anonymous)."""
    if isinstance(context.context, Context):
        _ = context.context.principal  # raises UNAUTHENTICATED for a bad token; cached when good


def _holds_unstorable(document: DocumentNode) -> bool:
    found = False

    class Finder(Visitor):
        def enter_string_value(self, node: StringValueNode, *_: object) -> None:
            nonlocal found
            found = found or holds_unstorable(node.value)

    visit(document, Finder())
    return found


_parse = functools.lru_cache(maxsize=128)(parse)


def parse_cached(context: ExecutionContext) -> None:
    """strawberry's ParserCache, except that a document that does not parse is left to
    strawberry's own parse, which reports it as GRAPHQL_PARSE_FAILED (ParserCache raises it
    from the extension hook, where no error policy sees it)."""
    if context.query:
        with contextlib.suppress(GraphQLError):
            context.graphql_document = _parse(context.query, **context.parse_options)


class _Fragments:
    """What the depth and alias limits read of a document's fragments, each fragment read
    once: strawberry's limiters walk a fragment again wherever it is spread, so a fragment
    spreading another twice, that one the next twice and so on, sixty deep (a few hundred
    tokens), was walked 2**60 times before any answer, the subgraph's event loop (its
    consumers too) stuck in it for good."""

    def __init__(self, document: DocumentNode, cap: int) -> None:
        self.definitions = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.cap = cap
        self.heights: dict[str, int] = {}
        self.aliases: dict[str, int] = {}
        self.open: set[str] = set()  # being read: a cycle, which validation refuses

    def height(self, selection_set: SelectionSetNode | None, level: int = 0) -> int:
        """How many levels below `selection_set` a selection lies, at most (its own
        selections are level 0), counted up to `cap`; introspection is not counted."""
        deepest = 0
        for selection in selection_set.selections if selection_set else ():
            if level + deepest >= self.cap:
                break
            if isinstance(selection, FieldNode):
                if selection.selection_set and not selection.name.value.startswith("__"):
                    below = self.height(selection.selection_set, level + 1)
                    deepest = max(deepest, 1 + below)
            elif isinstance(selection, InlineFragmentNode):
                deepest = max(deepest, self.height(selection.selection_set, level))
            elif isinstance(selection, FragmentSpreadNode):
                deepest = max(deepest, self._fragment(selection.name.value, self.heights))
        return min(deepest, self.cap)

    def alias_count(self, selection_set: SelectionSetNode | None) -> int:
        """The aliased fields of `selection_set`, a fragment's counted where it is spread."""
        count = 0
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                count += bool(selection.alias) + self.alias_count(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                count += self.alias_count(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                count += self._fragment(selection.name.value, self.aliases)
        return count

    def _fragment(self, name: str, known: dict[str, int]) -> int:
        """A fragment's height or alias count (`known` says which), read once."""
        if name not in known:
            fragment = self.definitions.get(name)
            if fragment is None or name in self.open:
                return 0  # unknown or cyclic: validation reports it
            read = self.height if known is self.heights else self.alias_count
            self.open.add(name)
            try:
                known[name] = read(fragment.selection_set)
            finally:
                self.open.discard(name)
        return known[name]


class DepthLimit(ASTValidationRule):
    """At most `MAX_DEPTH` levels, the leaf counted, as the gateway counts them (graphql-armor:
    the root field is level 1; fragments are flattened; introspection is exempt). Said in
    strawberry's words, which `_core_error` rewrites."""

    def enter_document(self, node: DocumentNode, *_: object) -> None:
        fragments = _Fragments(node, cap=MAX_DEPTH)
        for operation in node.definitions:
            if not isinstance(operation, OperationDefinitionNode):
                continue
            if fragments.height(operation.selection_set) >= MAX_DEPTH:
                name = operation.name.value if operation.name else "anonymous"
                message = f"'{name}' exceeds maximum operation depth of {MAX_DEPTH - 1}"
                self.report_error(GraphQLError(message, operation))


class AliasLimit(ASTValidationRule):
    """At most `MAX_ALIASES` aliased fields in the document's operations, a fragment counted
    wherever it is spread (strawberry's and graphql-armor's count)."""

    def enter_document(self, node: DocumentNode, *_: object) -> None:
        fragments = _Fragments(node, cap=MAX_DEPTH)
        total = sum(
            fragments.alias_count(d.selection_set)
            for d in node.definitions
            if isinstance(d, OperationDefinitionNode)
        )
        if total > MAX_ALIASES:
            self.report_error(GraphQLError(f"{total} aliases found. Allowed: {MAX_ALIASES}"))


#: The depth and alias limits as validation rules: the same classes for every request, so
#: the validation cache, keyed by the rules, hits (strawberry's limiters build a new rule
#: class per instance, that is per request).
_LIMIT_RULES: tuple[type[ASTValidationRule], ...] = (DepthLimit, AliasLimit)


class _RefusalsAreAnswers(logging.Filter):
    """strawberry logs every error of an answer at ERROR with its traceback, a caller's
    refusal (a `DomainError`: NOT_AUTHORIZED, INVALID_PERIOD, …), a variable the caller
    wrote wrong (a `Date` "20261201": BAD_USER_INPUT) or a document that does not fit the
    schema or its limits (raised by no code of ours) as much as a fault; those are answers,
    and filled the logs with tracebacks that hid the faults, which `ErrorPolicy` logs
    itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, GraphQLError) and record.msg.original_error is None:
            return False  # the document's own error: parsing, validation, a limit
        fault = record.exc_info[1] if record.exc_info else None
        return not isinstance(fault, DomainError | StrawberryInputCoercionError)


_REFUSALS_ARE_ANSWERS = _RefusalsAreAnswers()


class OperationPolicy(SchemaExtension):
    """The limits, checks and error policy of every operation, in one extension: strawberry
    makes each extension, and wraps each of its hooks, anew for every operation, and the
    seven small ones this was cost the subgraphs more than their own checks did (~20 µs an
    operation, a tenth of executing a one-field query; measured 2026-11-29).

    - `on_operation`: the token limit (`MAX_TOKENS`, strawberry's MaxTokensLimiter) and the
      depth and alias limits (validation rules) before it runs; the error policy
      (`_rewrite`) on its answer;
    - `on_parse`: the parse cache (`parse_cached`);
    - `on_execute`, in order: `refuse_too_costly`, `refuse_unstorable_text`,
      `refuse_bad_token`;
    - `on_stream_result`: the error policy on each message of a subscription."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.parse_options["max_tokens"] = MAX_TOKENS
        context.validation_rules = context.validation_rules + _LIMIT_RULES
        yield
        result = context.result
        if result is not None and result.errors:
            result.errors = [_rewrite(e) for e in result.errors]

    def on_parse(self) -> Iterator[None]:
        parse_cached(self.execution_context)
        yield

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        refuse_too_costly(context)
        refuse_unstorable_text(context)
        refuse_bad_token(context)
        yield

    def on_stream_result(self, result: Any) -> Iterator[None]:
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = [_rewrite(e) for e in errors]
        yield


def standard_extensions() -> list[type[SchemaExtension] | Callable[[], SchemaExtension]]:
    strawberry_log = logging.getLogger("strawberry.execution")
    if _REFUSALS_ARE_ANSWERS not in strawberry_log.filters:
        strawberry_log.addFilter(_REFUSALS_ARE_ANSWERS)
    # Clients send the same few documents again and again: parse (OperationPolicy) and
    # validate (ValidationCache) each once, in bounded LRUs so unique documents cannot grow
    # memory. The cache last, to see every rule.
    return [OperationPolicy, ValidationCache]
