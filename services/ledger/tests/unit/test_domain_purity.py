"""The ledger's domain stays pure: standard-library value types and the shared pure helpers.

Architecture rule ("dependencies point inwards"): no database, broker, web framework, file
or network access in `wastex_ledger.domain`; adapters and the service do the I/O.
"""

from __future__ import annotations

import ast
from importlib import resources

ALLOWED_STDLIB = {
    "__future__",
    "collections",
    "dataclasses",
    "datetime",
    "decimal",
    "enum",
    "functools",
    "itertools",
    "math",
    "operator",
    "re",
    "typing",
}
#: Shared modules that are pure lookups or value types.
ALLOWED_SHARED = {
    "wastex_shared.calendar",
    "wastex_shared.codes",
    "wastex_shared.emission_factors",
    "wastex_shared.errors",
    "wastex_shared.units",
}
FORBIDDEN_CALLS = {"open", "print", "input", "exec", "eval"}


def _domain_sources() -> dict[str, str]:
    package = resources.files("wastex_ledger").joinpath("domain")
    return {
        item.name: item.read_text("utf-8")
        for item in package.iterdir()
        if item.name.endswith(".py")
    }


def test_domain_imports_only_pure_modules() -> None:
    offending: list[str] = []
    for name, source in _domain_sources().items():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top in ALLOWED_STDLIB or module.startswith("wastex_ledger.domain"):
                    continue
                if any(module == m or module.startswith(m + ".") for m in ALLOWED_SHARED):
                    continue
                offending.append(f"{name}: {module}")
    assert not offending


def test_domain_does_no_io() -> None:
    calls = [
        f"{name}: {node.func.id}()"
        for name, source in _domain_sources().items()
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in FORBIDDEN_CALLS
    ]
    assert not calls
