"""The ledger's own `/metrics` lines: the Kafka reports waiting for their site (decision 029).

A report waits seconds, until the catalog's `site-added` reaches the ledger; one that waits
for hours names a site that may never come (a typo) and will be parked `UNKNOWN_SITE` when
`WASTEX_LEDGER_REPORT_WAIT_HOURS` run out. The oldest wait is what an operator alerts on.
"""

from __future__ import annotations

from datetime import datetime

from wastex_ledger.adapters.waiting import Census


def waiting_lines(service: str, census: Census, now: datetime) -> list[str]:
    label = f'{{service="{service}"}}'
    waited = 0.0 if census.oldest is None else max(0.0, (now - census.oldest).total_seconds())
    return [
        "# TYPE wastex_ledger_reports_waiting gauge",
        f"wastex_ledger_reports_waiting{label} {census.count}",
        "# TYPE wastex_ledger_reports_waiting_oldest_seconds gauge",
        f"wastex_ledger_reports_waiting_oldest_seconds{label} {round(waited, 3)}",
    ]
