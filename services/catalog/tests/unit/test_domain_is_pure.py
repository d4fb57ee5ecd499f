"""The catalog domain stays pure: no database, broker, web or GraphQL imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import wastex_catalog.domain

DOMAIN = Path(wastex_catalog.domain.__file__).parent
#: Packages that mean I/O or a framework; the domain may use the stdlib and wastex_shared's
#: pure parts (errors, units, codes).
FORBIDDEN = (
    "sqlalchemy",
    "sqlmodel",
    "alembic",
    "aiokafka",
    "faststream",
    "strawberry",
    "starlette",
    "httpx",
    "pydantic",
    "wastex_shared.storage",
    "wastex_shared.messaging",
    "wastex_shared.graphql",
    "wastex_shared.runtime",
    "wastex_catalog.adapters",
    "wastex_catalog.entrypoints",
    "wastex_catalog.service",
)


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("module", sorted(DOMAIN.glob("*.py")), ids=lambda p: p.name)
def test_domain_module_imports_no_io_or_framework(module: Path) -> None:
    impure = {
        name
        for name in imported_modules(module)
        for forbidden in FORBIDDEN
        if name == forbidden or name.startswith(f"{forbidden}.")
    }
    assert impure == set(), f"{module.name} imports {sorted(impure)}"
