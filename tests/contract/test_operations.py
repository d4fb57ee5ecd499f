"""The example operations in docs/operations/ stay valid against the composed supergraph."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import build_schema, parse, validate

from wastex_cli.stack import REPO

OPERATIONS = sorted((REPO / "docs" / "operations").glob("*.graphql"))


@pytest.mark.parametrize("path", OPERATIONS, ids=lambda p: p.name)
def test_example_operations_validate_against_the_supergraph(path: Path) -> None:
    schema = build_schema((REPO / "gateway" / "supergraph.graphql").read_text())
    errors = validate(schema, parse(path.read_text()))
    assert [e.message for e in errors] == []


def test_every_role_has_example_operations() -> None:
    assert {p.stem for p in OPERATIONS} == {"admin", "enterprise", "recycler", "regulator"}
