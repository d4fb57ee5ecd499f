"""Matching's own `/metrics` lines: what its re-optimisation rounds have done.

Counters since the process started: rounds (and those that only placed new offers on the
last allocation, among them those that re-solved the part the newcomers contest:
`domain/growth.py`), proposals made and superseded (how much a round
churns: decision 010), seconds spent, planning and writing among them, and attempts that
found the matches changed under them and went again (conflicts); and, when the rounds run
in a child process, how many children the service has started.
"""

from __future__ import annotations

from wastex_matching.service import RoundTotals


def round_lines(service: str, totals: RoundTotals) -> list[str]:
    label = f'{{service="{service}"}}'
    counters = {
        "wastex_reoptimise_rounds_total": totals.rounds,
        "wastex_reoptimise_grown_rounds_total": totals.grown,
        "wastex_reoptimise_contested_rounds_total": totals.contested,
        "wastex_reoptimise_proposed_total": totals.proposed,
        "wastex_reoptimise_superseded_total": totals.superseded,
        "wastex_reoptimise_seconds_total": round(totals.seconds, 6),
        "wastex_reoptimise_planning_seconds_total": round(totals.planning_seconds, 6),
        "wastex_reoptimise_writing_seconds_total": round(totals.writing_seconds, 6),
        "wastex_reoptimise_conflicts_total": totals.conflicts,
    }
    lines: list[str] = []
    for name, value in counters.items():
        lines += [f"# TYPE {name} counter", f"{name}{label} {value}"]
    # Why rounds could not grow the last allocation, by reason (`growth.Refused`).
    refused = "wastex_reoptimise_growth_refused_total"
    lines.append(f"# TYPE {refused} counter")
    for reason, count in sorted(totals.refused.items()):
        lines.append(f'{refused}{{service="{service}",reason="{reason}"}} {count}')
    return lines


def child_lines(service: str, started: int) -> list[str]:
    """Re-optimiser processes started (decision 014): more than one means a child died."""
    name = "wastex_reoptimiser_processes_started_total"
    return [f"# TYPE {name} counter", f'{name}{{service="{service}"}} {started}']
