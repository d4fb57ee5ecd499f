"""The ingest bench with catalog, matching and ledger on PostgreSQL, as deployed, instead of
the embedded SQLite default: `python -m bench ingest_pg`. Not in `make bench`'s default set
(it takes as long again); run it to tell what SQLite's single writer costs the figures."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bench import ingest_bench
from bench.report import Figure


def run() -> tuple[list[Figure], dict[str, Any]]:
    figures, details = ingest_bench.run(postgresql=True)
    return [replace(figure, bench="ingest_pg") for figure in figures], details
