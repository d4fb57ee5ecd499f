"""Property: whatever sequence of reports, reversals and shipments arrives, what the ledger
accepts keeps the balance identity (domain/balance.py) and opening stock before the records
(decision 035) — and what it refuses changes nothing.

Receipts are never refused, lighter or heavier than dispatched: a heavier one credits its
supplier the dispatched weight, so every check stays satisfied at all times.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from wastex_ledger.domain import balance
from wastex_ledger.domain.entries import EntryKind
from wastex_ledger.domain.manifest import ManifestStatus
from wastex_shared.errors import DomainError

from .conftest import CEMENT, SLAG, STEEL, Journal, route

D = Decimal
# 2024-12 comes before the seeded opening stock of 2025: refused unless opening stock itself
# (a late declaration for an earlier year), or once that of 2025 is reversed (decision 035).
MONTHS = ["2024-12"] + [f"{y}-{m:02d}" for y in (2025, 2026) for m in (1, 4, 7, 12)]
tonnes = st.integers(1, 100_000).map(lambda kg: str(D(kg) / 1000))  # up to 100 t
plenty = st.integers(1, 1_000_000).map(lambda kg: str(D(kg) / 1000))  # up to 1000 t
month = st.sampled_from(MONTHS)

# Generation and opening stock are drawn larger and more often than uses, so that a fair
# share of the uses, shipments and reversals is accepted rather than refused.
reports = st.one_of(
    st.tuples(st.just("report"), st.just(EntryKind.GENERATED), plenty, month, st.just(False)),
    st.tuples(st.just("report"), st.just(EntryKind.OPENING_STOCK), plenty, month, st.just(False)),
    st.tuples(
        st.just("report"),
        st.sampled_from(
            [
                EntryKind.STORED,
                EntryKind.STORAGE_RETRIEVED,
                EntryKind.UTILISED_IN_PLANT,
                EntryKind.DISPOSED,
            ]
        ),
        tonnes,
        month,
        st.booleans(),
    ),
    st.tuples(
        st.just("intake"),
        st.sampled_from(
            [
                EntryKind.UTILISED,
                EntryKind.RECEIVED_STORED,
                EntryKind.RECEIVED_STORAGE_RETRIEVED,
                EntryKind.RECEIVED_DISPOSED,
            ]
        ),
        tonnes,
        month,
    ),
    st.tuples(st.just("reverse"), st.integers(0, 40)),
    st.tuples(st.just("dispatch"), tonnes, month, st.booleans()),
    # Receive the n-th open shipment at a multiple of its dispatched weight (per mille).
    st.tuples(st.just("receive"), st.integers(0, 5), st.integers(500, 1200)),
    st.tuples(st.just("receive"), st.integers(0, 5), st.integers(500, 1200)),
)

REFUSALS = {"BALANCE_VIOLATION", "ALREADY_REVERSED", "NOT_REVERSIBLE", "INVALID_PERIOD"}


def run(journal: Journal, op: tuple[Any, ...]) -> bool:
    """Apply one command; True when accepted, False when refused by a rule."""
    try:
        match op:
            case ("report", kind, t, month, prior):
                prior = prior and kind in (EntryKind.UTILISED_IN_PLANT, EntryKind.DISPOSED)
                journal.report(kind, STEEL, t, month, prior=prior)
            case ("intake", kind, t, month):
                journal.report(kind, CEMENT, t, month)
            case ("reverse", index):
                if not journal.entries:
                    return False
                journal.reverse(journal.entries[index % len(journal.entries)])
            case ("dispatch", t, month, prior):
                shipment = journal.open_manifest(route(planned=t))
                journal.dispatch(shipment.id, t, month, prior=prior)
            case ("receive", index, per_mille):
                open_ = [
                    m for m in journal.manifests.values() if m.status is ManifestStatus.IN_TRANSIT
                ]
                if not open_:
                    return False
                shipment = open_[index % len(open_)]
                assert shipment.dispatched_tonnes is not None
                weight = (shipment.dispatched_tonnes * per_mille / 1000).quantize(D("0.001"))
                if weight <= 0:
                    return False
                journal.receive(shipment.id, str(weight))
            case _:
                raise AssertionError(op)
    except DomainError as refused:
        if refused.code not in REFUSALS:  # any other error is a bug in the test or domain
            raise
        event(f"refused {op[0]}: {refused.code}")
        return False
    event(f"accepted {op[0]}")
    return True


def seeded(journal: Journal) -> Journal:
    """Some generation and old stock to start from, so that uses are often accepted and
    the random commands still reach the limits (uses are up to 100 t each)."""
    for period in ("2025-01", "2026-01"):
        journal.report(EntryKind.GENERATED, STEEL, "300", period)
    journal.report(EntryKind.OPENING_STOCK, STEEL, "50", "2025-01")
    return journal


def opening_stock_stands_before_the_records(journal: Journal) -> bool:
    """No record but opening stock in a year before one holding opening stock: so no
    storage in the books is declared again as a later year's opening stock."""
    sheet = journal.sheet("ent-steel", SLAG)
    opening = [m.year for m, f in sheet.items() if f.opening_stock > 0]
    others = [m.year for m, f in sheet.items() if not replace(f, opening_stock=D(0)).is_zero()]
    return not opening or not others or max(opening) <= min(others)


def all_checks(journal: Journal) -> list[balance.Check]:
    found: list[balance.Check] = []
    for enterprise_id in ("ent-steel", "ent-cement"):
        found += balance.checks(journal.sheet(enterprise_id, SLAG)).values()
    return found


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(reports, min_size=1, max_size=40))
def test_accepted_commands_keep_the_identity(
    new_journal: Callable[[], Journal], ops: list[tuple[Any, ...]]
) -> None:
    journal = seeded(new_journal())
    for op in ops:
        entries, manifests = list(journal.entries), dict(journal.manifests)
        if not run(journal, op):
            # Refused: nothing booked, no shipment moved (a manifest opened for the
            # refused dispatch stays CREATED, as after a confirmed match).
            assert journal.entries == entries
            assert {k: v for k, v in journal.manifests.items() if k in manifests} == manifests
            assert all(
                m.status is ManifestStatus.CREATED
                for k, m in journal.manifests.items()
                if k not in manifests
            )
        violated = [c for c in all_checks(journal) if c.slack < 0]
        assert not violated, violated[0].describe(SLAG)
        assert opening_stock_stands_before_the_records(journal)
