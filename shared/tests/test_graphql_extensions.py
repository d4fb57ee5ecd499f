"""The limits and error policy every subgraph applies (`standard_extensions`), on a toy schema."""

from __future__ import annotations

import asyncio
import datetime
import decimal
import logging
import threading
from collections.abc import AsyncGenerator
from typing import Any

import pytest
import strawberry
from graphql import parse
from sqlalchemy.exc import OperationalError
from strawberry.extensions.validation_cache import DEFAULT_MAXSIZE, _get_validate_cache

from wastex_shared.errors import DomainError
from wastex_shared.graphql.connection import Connection, connection, page_size
from wastex_shared.graphql.extensions import MAX_COST, query_cost, standard_extensions
from wastex_shared.graphql.scalars import SCALARS


@strawberry.type
class Leaf:
    name: str

    @strawberry.field
    def children(self) -> list[Leaf]:
        return [Leaf(name=f"{self.name}.{i}") for i in range(2)]

    @strawberry.field
    def parent(self) -> Leaf:
        return Leaf(name=f"{self.name}^")


@strawberry.type
class Query:
    @strawberry.field
    def leaves(self, first: int | None = None) -> Connection[Leaf]:
        size = page_size(first)
        nodes = [Leaf(name=str(i)) for i in range(size + 1)]
        return connection(nodes, [n.name for n in nodes], size, 1000)

    @strawberry.field
    def top(self) -> list[Leaf]:
        return [Leaf(name="t")]

    @strawberry.field
    def echo(self, text: str, more: list[str] | None = None) -> str:
        return text

    @strawberry.field
    def day(self, on: datetime.date) -> str:
        return on.isoformat()

    @strawberry.field
    def amount(self, value: decimal.Decimal) -> str:
        return str(value)

    @strawberry.field
    def refused(self) -> str:
        raise DomainError("NOT_AUTHORIZED", "not yours")

    @strawberry.field
    def broken(self) -> str:
        raise RuntimeError("secret internals at /srv/app.py line 12")

    @strawberry.field
    def cut(self) -> str:
        cause = ConnectionResetError("secret: connection reset by 10.0.0.7:5432")
        raise OperationalError("SELECT secret FROM t", {}, cause)


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def ticks(self, fail: str = "") -> AsyncGenerator[Leaf, None]:
        if fail == "domain":
            raise DomainError("NOT_AUTHORIZED", "not yours")
        if fail == "crash":
            raise RuntimeError("secret internals at /srv/app.py line 12")
        yield Leaf(name="tick")


schema = strawberry.federation.Schema(
    query=Query,
    subscription=Subscription,
    federation_version="2.9",
    extensions=standard_extensions(),
    scalar_overrides=SCALARS,
)


def cost(document: str, variables: dict[str, Any] | None = None) -> int:
    return query_cost(schema._schema, parse(document), variables)


def test_every_field_costs_one_and_introspection_nothing() -> None:
    assert cost("{ top { name } }") == 1 + 10 * 1
    assert cost("{ __typename __schema { types { name } } }") == 0


def test_a_connection_multiplies_its_edges_by_first() -> None:
    # leaves 1 + totalCount 1 + pageInfo (1 + 1) + edges (1 + first × (node 1 + name 1))
    assert cost(
        "{ leaves(first: 50) { totalCount pageInfo { hasNextPage } edges { node { name } } } }"
    ) == (1 + 1 + 2 + 1 + 50 * 2)
    assert cost("{ leaves { edges { node { name } } } }") == 1 + 1 + 20 * 2  # the default page
    assert cost("query($n: Int) { leaves(first: $n) { edges { node { name } } } }", {"n": 7}) == (
        1 + 1 + 7 * 2
    )
    # JSON's 7.0 is an Int to graphql-core (the resolver gets 7): priced as 7, not the default
    assert cost("query($n: Int) { leaves(first: $n) { edges { node { name } } } }", {"n": 7.0}) == (
        1 + 1 + 7 * 2
    )
    assert (
        cost("query($n: Int = 3) { leaves(first: $n) { edges { node { name } } } }")
        == 1 + 1 + 3 * 2
    )
    # more than 100 is refused by the resolver (INVALID_PAGE_SIZE), so it costs like 100
    assert cost("{ leaves(first: 5000) { edges { node { name } } } }") == 1 + 1 + 100 * 2


def test_nested_lists_multiply_and_fragments_count_where_spread() -> None:
    nested = "{ top { children { children { name } } } }"
    assert cost(nested) == 1 + 10 * (1 + 10 * (1 + 10 * 1))
    with_fragment = "fragment F on Leaf { children { name } } { top { ...F parent { ...F } } }"
    assert cost(with_fragment) == 1 + 10 * ((1 + 10) + (1 + (1 + 10)))


async def test_an_operation_over_the_cost_limit_is_refused_before_it_runs() -> None:
    heavy = "{ leaves(first: 100) { edges { node { children { children { name } } } } } }"
    assert cost(heavy) > MAX_COST
    result = await schema.execute(heavy)
    assert result.data is None
    assert result.errors is not None
    (error,) = result.errors
    assert error.extensions == {
        "code": "QUERY_TOO_COMPLEX",
        "cost": cost(heavy),
        "maxCost": MAX_COST,
    }
    assert "first" in error.message
    light = "{ leaves(first: 100) { edges { node { children { name } } } } }"
    assert cost(light) <= MAX_COST
    assert (await schema.execute(light)).errors is None


async def test_errors_get_codes_and_never_internals() -> None:
    refused = await schema.execute("{ refused }")
    broken = await schema.execute("{ broken }")
    syntax = await schema.execute("{ top { ")
    unknown = await schema.execute("{ nope }")
    bad_variable = await schema.execute(
        "query($n: Int) { leaves(first: $n) { totalCount } }", variable_values={"n": "x"}
    )
    page = await schema.execute("{ leaves(first: 101) { totalCount } }")
    cut = await schema.execute("{ cut }")
    codes = [
        r.errors[0].extensions["code"] if r.errors and r.errors[0].extensions else None
        for r in (refused, broken, cut, syntax, unknown, bad_variable, page)
    ]
    assert codes == [
        "NOT_AUTHORIZED",
        "INTERNAL_SERVER_ERROR",
        "SERVICE_UNAVAILABLE",  # the database, not the request: try again
        "GRAPHQL_PARSE_FAILED",
        "GRAPHQL_VALIDATION_FAILED",
        "BAD_USER_INPUT",
        "INVALID_PAGE_SIZE",
    ]
    assert broken.errors is not None
    assert broken.errors[0].message == "Internal server error"
    assert cut.errors is not None
    assert "secret" not in cut.errors[0].message


async def test_text_holding_nul_is_refused_before_any_resolver_runs() -> None:
    # PostgreSQL's text refuses U+0000 (SQLite stores it): refused alike on both, as input.
    literal = await schema.execute('{ echo(text: "a\\u0000b") }')
    nested = await schema.execute(
        "query($t: String!, $m: [String!]) { echo(text: $t, more: $m) }",
        variable_values={"t": "fine", "m": ["ok", "n\x00ul"]},
    )
    for result in (literal, nested):
        assert result.data is None
        assert result.errors is not None
        assert result.errors[0].extensions == {"code": "BAD_USER_INPUT"}
    # helper-43: a lone surrogate (no UTF-8 encodes it) in a variable failed the statement or
    # the event as an internal error, on every subgraph.
    surrogate = await schema.execute(
        "query($t: String!) { echo(text: $t) }", variable_values={"t": "a\ud800b"}
    )
    assert surrogate.errors is not None
    assert surrogate.errors[0].extensions == {"code": "BAD_USER_INPUT"}
    fine = await schema.execute('{ echo(text: "caf\\u00e9 \\\\u0000") }')
    assert fine.errors is None
    assert fine.data == {"echo": "café \\u0000"}


@pytest.mark.parametrize(
    ("value", "written"),
    [("abc", "abc"), ("", ""), (True, "True"), ([1], "[1]"), ("1_000", "1_000"), ("１２", "１２")],
)
async def test_a_decimal_that_is_not_one_is_told_so_in_words_a_client_reads(
    value: object, written: str
) -> None:
    """Text Python's Decimal cannot read was answered with its exception's text,
    `[<class 'decimal.ConversionSyntax'>]`; "1_000" with graphql-core's wrapping of the
    scalar's own message ("but encountered error ''1_000' is not …'; found: …")."""
    result = await schema.execute(
        "query($v: Decimal!) { amount(value: $v) }", variable_values={"v": value}
    )
    assert result.errors is not None
    assert result.errors[0].extensions == {"code": "BAD_USER_INPUT"}
    assert result.errors[0].message == (
        f"Variable '$v' has invalid value: Value cannot represent a Decimal: \"{written}\". "
        'A number is written in ASCII digits, without digit groups, e.g. "120.500".'
    )
    fine = await schema.execute(
        "query($v: Decimal!) { amount(value: $v) }", variable_values={"v": " 12.5 "}
    )
    assert fine.data == {"amount": "12.5"}


async def test_a_variable_nested_hundreds_deep_is_bad_input_not_a_recursion_error() -> None:
    """The NUL guard walked variables by recursion: a list 600 deep (any JSON a client posts
    to a subgraph) answered Python's "maximum recursion depth exceeded", without a code."""
    deep: Any = "n\x00ul"
    for _ in range(600):
        deep = [deep]
    for variables in ({"t": "fine", "m": deep}, {"t": "fine", "m": [{"k": deep}]}):
        result = await schema.execute(
            "query($t: String!, $m: [String!]) { echo(text: $t, more: $m) }",
            variable_values=variables,
        )
        assert result.data is None
        assert result.errors is not None
        assert result.errors[0].extensions == {"code": "BAD_USER_INPUT"}, result.errors


async def test_the_depth_limit_counts_levels_like_the_gateway() -> None:
    def chain(levels: int) -> str:
        body = "name"
        for _ in range(levels - 2):
            body = f"parent {{ {body} }}"
        return f"{{ top {{ {body} }} }}"

    assert (await schema.execute(chain(10))).errors is None
    deep = await schema.execute(chain(11))
    assert deep.errors is not None
    assert "maximum operation depth of 10" in deep.errors[0].message
    assert deep.errors[0].extensions == {"code": "GRAPHQL_VALIDATION_FAILED"}


def doubling(levels: int, leaf: str) -> str:
    """A document whose fragment F0 spreads F1 twice, F1 spreads F2 twice, and so on: a few
    tokens per level, 2**levels copies of `leaf` once spread out."""
    chain = "".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }} " for i in range(levels))
    return f"{chain} fragment F{levels} on Query {{ {leaf} }} {{ ...F0 }}"


@pytest.mark.parametrize(
    ("leaf", "refusal"),
    [
        ("top { name }", "Query cost"),
        ("a: top { name }", "aliases found"),
        ("top { " + "parent { " * 9 + "name" + " }" * 10, "maximum operation depth"),
    ],
)
def test_fragments_spread_twice_at_every_level_are_refused_at_once(leaf: str, refusal: str) -> None:
    """The limits walked a fragment again wherever it was spread: sixty levels of fragments
    (a few hundred tokens) was 2**60 walks of the cost, depth and alias checks, the
    subgraph's event loop stuck in them for good. Each fragment is now read once."""
    answers: list[Any] = []
    worker = threading.Thread(
        target=lambda: answers.append(asyncio.run(schema.execute(doubling(60, leaf)))),
        daemon=True,  # without the fix it never ends: leave it behind
    )
    worker.start()
    worker.join(timeout=10)
    assert answers, "still checking the limits after 10 s"
    (result,) = answers
    assert result.data is None
    assert result.errors is not None
    assert refusal in result.errors[0].message, result.errors


@pytest.mark.parametrize(
    ("fail", "code", "message"),
    [("domain", "NOT_AUTHORIZED", "not yours"), ("crash", "INTERNAL_SERVER_ERROR", None)],
)
async def test_subscription_errors_follow_the_same_policy(
    fail: str, code: str, message: str | None
) -> None:
    stream = await schema.subscribe(f'subscription {{ ticks(fail: "{fail}") {{ name }} }}')
    assert not isinstance(stream, strawberry.types.ExecutionResult)
    results = [r async for r in stream]
    errors = [e for r in results for e in (r.errors or [])]
    assert [e.extensions for e in errors] == [{"code": code}]
    assert "secret" not in errors[0].message
    if message:
        assert errors[0].message == message


async def test_a_document_sent_again_is_not_validated_again_and_limits_still_hold() -> None:
    # strawberry's module-level LRU behind ValidationCache (test-only peek at its counters).
    cache: Any = _get_validate_cache(DEFAULT_MAXSIZE)
    query = "{ top { name } }"
    await schema.execute(query)
    hits = cache.cache_info().hits
    await schema.execute(query)
    assert cache.cache_info().hits == hits + 1
    deep = "{ top { " + "parent { " * 10 + "name" + " }" * 10 + " } }"
    for _ in range(2):  # the refusal is remembered too, not skipped
        refused = await schema.execute(deep)
        assert refused.errors is not None
        assert "maximum operation depth" in refused.errors[0].message


async def test_a_refusal_is_not_logged_as_a_fault_and_a_fault_is(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR):
        await schema.execute("{ refused }")
        # A variable the caller wrote wrong is an answer too (BAD_USER_INPUT).
        miswritten = await schema.execute(
            "query($on: Date!) { day(on: $on) }", variable_values={"on": "20261201"}
        )
        # So is a document that does not fit the schema: a literal, a field, the limits.
        inline = await schema.execute('{ day(on: "20261201") }')
        unknown = await schema.execute("{ nosuchfield }")
    assert miswritten.errors is not None
    assert "YYYY-MM-DD" in miswritten.errors[0].message
    assert inline.errors is not None
    assert unknown.errors is not None
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    with caplog.at_level(logging.ERROR):
        await schema.execute("{ broken }")
    assert any("unexpected error in resolver" in r.getMessage() for r in caplog.records)


def test_the_policy_is_one_extension_since_strawberry_remakes_each_for_every_operation() -> None:
    """strawberry makes each extension, and wraps each of its hooks, anew for every
    operation: the limits, checks and error policy run as one (`OperationPolicy`), beside
    strawberry's validation cache."""
    assert len(standard_extensions()) == 2
