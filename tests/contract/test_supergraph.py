"""The committed subgraph SDLs and supergraph match the code, and the supergraph composes.

A subgraph change that breaks composition (or was not recomposed with `make compose`)
fails here, before it can reach the gateway.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from wastex_cli.dev import SUBGRAPH_DIR, subgraph_sdls
from wastex_cli.stack import REPO

GATEWAY = REPO / "gateway"


@pytest.mark.parametrize("name", ["catalog.graphql", "matching.graphql", "ledger.graphql"])
def test_committed_subgraph_sdl_matches_the_schema_in_code(name: str) -> None:
    committed = (SUBGRAPH_DIR / name).read_text()
    assert committed == subgraph_sdls()[name], f"run `make compose`: {name} is stale"


def test_subgraphs_compose_into_the_committed_supergraph(tmp_path: Path) -> None:
    output = tmp_path / "supergraph.graphql"
    result = subprocess.run(
        ["node", str(GATEWAY / "compose.mjs")],
        cwd=GATEWAY,
        env={**os.environ, "WASTEX_SUPERGRAPH": str(output), "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert output.read_text() == (GATEWAY / "supergraph.graphql").read_text(), (
        "run `make compose`: gateway/supergraph.graphql is stale"
    )
