"""A benchmark figure: an absolute value, its same-run baseline, the ratio and the goal."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Figure:
    bench: str
    name: str
    value: float | None
    unit: str
    baseline: float | None = None
    baseline_name: str | None = None
    goal: str | None = None
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline:
            return None
        return self.value / self.baseline

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"ratio": self.ratio}


def table(figures: list[Figure]) -> str:
    rows = [("bench", "figure", "value", "baseline", "ratio", "goal", "met")]
    for f in figures:
        rows.append(
            (
                f.bench,
                f.name,
                "—" if f.value is None else f"{f.value:.4g} {f.unit}",
                "—" if f.baseline is None else f"{f.baseline:.4g} ({f.baseline_name})",
                "—" if f.ratio is None else f"{f.ratio:.3f}",
                f.goal or "",
                {True: "yes", False: "NO", None: ""}[f.met],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows
    )
