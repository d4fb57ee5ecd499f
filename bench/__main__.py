"""`make bench`: run every benchmark, write bench/results/latest.json, print a table, plot latency.

`python -m bench [NAME ...]` runs only the named benchmarks (matching, ingest, regulator; and
`ingest_pg`, the ingest bench on PostgreSQL, which only runs when named).
"""

from __future__ import annotations

import importlib
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from bench import machine
from bench.report import Figure, table

RESULTS = Path(__file__).parent / "results"
BENCHES = ("matching", "ingest", "regulator")


def run_bench(name: str) -> tuple[list[Figure], dict[str, Any]]:
    module = importlib.import_module(f"bench.{name}_bench")
    outcome = module.run()
    if isinstance(outcome, tuple):
        figures, details = outcome
        return list(figures), dict(details)
    return figures_from_dict(name, outcome), outcome


def figures_from_dict(bench: str, result: dict[str, Any]) -> list[Figure]:
    """Benchmarks may return plain dicts with a `figures` list of Figure-shaped dicts."""
    return [Figure(bench=bench, **f) for f in result.get("figures", [])]


def plot_latency(details: dict[str, Any], path: Path) -> None:
    latencies = details.get("ingest", {}).get("latencies_s") or []
    if not latencies:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ordered = sorted(latencies)
    qs = [50, 75, 90, 95, 99, 99.9]
    values = [ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))] * 1000 for q in qs]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar([f"p{q:g}" for q in qs], values, color="#4a7")
    ax.set_ylabel("ms")
    ax.set_title("offer-posted → match-proposed at 500 offers/s, 20k+ offers open")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(names: list[str]) -> None:
    RESULTS.mkdir(exist_ok=True)
    figures: list[Figure] = []
    details: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in names or BENCHES:
        started = time.perf_counter()
        print(f"running {name} …", flush=True)
        try:
            found, details[name] = run_bench(name)
            figures += found
        except Exception as exc:  # one broken bench must not hide the others' figures
            errors[name] = f"{type(exc).__name__}: {exc}"
            print(f"  {name} failed: {errors[name]}", flush=True)
            traceback.print_exc()
        print(f"  {name} took {time.perf_counter() - started:.1f}s", flush=True)
    report = {
        "machine": machine.describe(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "figures": [f.as_dict() for f in figures],
        "details": details,
        "errors": errors,
    }
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2, default=str))
    plot_latency(details, RESULTS / "latency.png")
    print(table(figures))
    print(f"\nwrote {RESULTS / 'latest.json'}")
    if errors:
        sys.exit(1)


def known() -> list[str]:
    return sorted(path.name.removesuffix("_bench.py") for path in RESULTS.parent.glob("*_bench.py"))


if __name__ == "__main__":
    available = known()
    unknown = [name for name in sys.argv[1:] if name not in available]
    if unknown:  # before any run overwrites latest.json
        sys.exit(f"usage: python -m bench [{' '.join(available)}] (not {', '.join(unknown)})")
    main(sys.argv[1:])
