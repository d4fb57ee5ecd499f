"""Projection rows: which keys an entry increments, and that totals do not depend on order."""

from __future__ import annotations

import itertools
from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wastex_ledger.domain.entries import Entry, EntryKind, SiteFacts
from wastex_ledger.domain.figures import Figures, Utilisation, delta_of
from wastex_ledger.domain.periods import Period
from wastex_ledger.domain.scope import Scope, ScopeKind, WasteClass, projection_keys, scopes_of
from wastex_ledger.service import projection_deltas
from wastex_shared.errors import DomainError

from .conftest import CEMENT, POWER, STEEL

D = Decimal


def test_an_entry_increments_one_row_per_scope_and_month() -> None:
    entry = Entry(
        id="e",
        kind=EntryKind.GENERATED,
        enterprise_id="ent-steel",
        site_id="site-steel",
        district="青山区",
        industry="C31",
        waste_code="SW01",
        tonnes=D("1.000"),
        period=Period(2026, 7),
        cause_event_id="c",
    )
    assert projection_keys(entry) == [
        ("city", "*|general", "2026-07"),
        ("enterprise", "ent-steel|general", "2026-07"),
        ("enterprise_code", "ent-steel|SW01", "2026-07"),
        ("district", "青山区|general", "2026-07"),
        ("district_industry", "青山区|C31|general", "2026-07"),
        ("district_code", "青山区|SW01", "2026-07"),
        ("industry", "C31|general", "2026-07"),
        ("waste_code", "SW01", "2026-07"),
    ]
    hazardous = replace(entry, waste_code="HW08")
    assert projection_keys(hazardous)[:2] == [
        ("city", "*|hazardous", "2026-07"),
        ("enterprise", "ent-steel|hazardous", "2026-07"),
    ]
    # The keys a query computes from its scope are the same.
    for booked in (entry, hazardous):
        keys = {(k, v) for k, v, _ in projection_keys(booked)}
        assert keys == {key for s in scopes_of(booked) for key in s.keys}


@pytest.mark.parametrize(
    ("scope", "covers", "values"),
    [
        (Scope(), WasteClass.GENERAL, ["*|general"]),
        (Scope(waste_class=WasteClass.ALL), WasteClass.ALL, ["*|general", "*|hazardous"]),
        (
            Scope(district="d", waste_class=WasteClass.HAZARDOUS),
            WasteClass.HAZARDOUS,
            ["d|hazardous"],
        ),
        (Scope(enterprise_id="e1", waste_code="HW08"), WasteClass.HAZARDOUS, ["e1|HW08"]),
        (Scope(waste_code="SW01", waste_class=WasteClass.ALL), WasteClass.GENERAL, ["SW01"]),
    ],
)
def test_a_query_sums_the_rows_of_the_classes_it_covers(
    scope: Scope, covers: WasteClass, values: list[str]
) -> None:
    assert scope.covers is covers
    assert [value for _, value in scope.keys] == values


def test_a_code_of_another_class_than_asked_is_refused() -> None:
    with pytest.raises(DomainError) as caught:
        _ = Scope(waste_code="HW08", waste_class=WasteClass.GENERAL).keys
    assert (caught.value.code, caught.value.field) == ("INVALID_SCOPE", "scope")


@pytest.mark.parametrize(
    ("scope", "kind", "value"),
    [
        (Scope(), ScopeKind.CITY, "*"),
        (Scope(enterprise_id="e1"), ScopeKind.ENTERPRISE, "e1"),
        (Scope(enterprise_id="e1", waste_code="SW01"), ScopeKind.ENTERPRISE_CODE, "e1|SW01"),
        (Scope(district="d"), ScopeKind.DISTRICT, "d"),
        (Scope(district="d", industry="C30"), ScopeKind.DISTRICT_INDUSTRY, "d|C30"),
        (Scope(district="d", waste_code="HW08"), ScopeKind.DISTRICT_CODE, "d|HW08"),
        (Scope(industry="C30"), ScopeKind.INDUSTRY, "C30"),
        (Scope(waste_code="HW08"), ScopeKind.WASTE_CODE, "HW08"),
    ],
)
def test_scope_kinds(scope: Scope, kind: ScopeKind, value: str) -> None:
    assert (scope.kind, scope.value) == (kind, value)


@pytest.mark.parametrize(
    "scope",
    [
        Scope(enterprise_id="e1", district="d"),
        Scope(district="d", industry="C30", waste_code="SW01"),
        Scope(industry="C30", waste_code="SW01"),
    ],
)
def test_mixed_scopes_are_refused(scope: Scope) -> None:
    with pytest.raises(DomainError) as caught:
        _ = scope.kind
    assert caught.value.code == "INVALID_SCOPE"


def test_a_receivers_intake_is_kept_apart_from_generation() -> None:
    for kind in (
        EntryKind.TRANSFERRED_IN,
        EntryKind.UTILISED,
        EntryKind.RECEIVED_STORED,
        EntryKind.RECEIVED_STORAGE_RETRIEVED,
        EntryKind.RECEIVED_DISPOSED,
    ):
        delta = delta_of(_entry(CEMENT, kind, D("5.000"), 1, prior=False))
        totals = Utilisation(delta)
        assert totals.generated == totals.utilised == totals.denominator == 0
        assert totals.stored == totals.disposed == 0
        assert totals.rate is None


# -- order independence (hypothesis) ------------------------------------------------------

SITES = (STEEL, CEMENT, POWER)


def _entry(site: SiteFacts, kind: EntryKind, tonnes: Decimal, month: int, *, prior: bool) -> Entry:
    return Entry(
        id="e",
        kind=kind,
        enterprise_id=site.enterprise_id,
        site_id=site.site_id,
        district=site.district,
        industry=site.industry,
        waste_code="SW01",
        tonnes=tonnes,
        period=Period(2026, month),
        cause_event_id="c",
        from_prior_stock=prior,
    )


entries = st.builds(
    _entry,
    st.sampled_from(SITES),
    st.sampled_from(list(EntryKind)),
    # Signed: reversals are entries too.
    st.integers(-500_000, 500_000).filter(bool).map(lambda kg: D(kg) / 1000),
    st.integers(1, 12),
    prior=st.booleans(),
)


def _rows(booked: list[Entry]) -> dict[tuple[str, str, str], Figures]:
    """Incrementally kept rows, exactly as the adapter would keep them."""
    rows: dict[tuple[str, str, str], Figures] = {}
    for entry in booked:
        for key in projection_keys(entry):
            rows[key] = rows.get(key, Figures()) + delta_of(entry)
    return rows


@settings(max_examples=150, deadline=None)
@given(
    st.lists(entries, max_size=30).flatmap(lambda xs: st.tuples(st.just(xs), st.permutations(xs)))
)
def test_rows_do_not_depend_on_the_order_entries_arrive(
    lists: tuple[list[Entry], list[Entry]],
) -> None:
    booked, shuffled = lists
    assert _rows(booked) == _rows(shuffled)


@settings(max_examples=150, deadline=None)
@given(st.lists(entries, max_size=30), st.data())
def test_totals_combine_in_any_grouping(booked: list[Entry], data: st.DataObject) -> None:
    # Fold entry by entry…
    folded = Utilisation()
    for entry in booked:
        folded = folded.apply(entry)
    # …or split into arbitrary chunks, total each, and add the totals up in any order.
    cuts = sorted(data.draw(st.lists(st.integers(0, len(booked)), max_size=5)))
    bounds = [0, *cuts, len(booked)]
    chunks = [booked[a:b] for a, b in itertools.pairwise(bounds)]
    totals = [sum((Utilisation(delta_of(e)) for e in c), Utilisation()) for c in chunks]
    order = data.draw(st.permutations(totals))
    combined = sum(order, Utilisation())
    assert combined == folded
    assert combined.rate == folded.rate
    assert combined.in_plant_share == folded.in_plant_share
    # A reversal takes an entry back exactly.
    if booked:
        first = booked[0]
        back = folded.apply(replace(first, tonnes=-first.tonnes))
        assert back == sum((Utilisation(delta_of(e)) for e in booked[1:]), Utilisation())


@settings(max_examples=100, deadline=None)
@given(st.lists(entries, max_size=30))
def test_every_scope_kind_partitions_the_city(booked: list[Entry]) -> None:
    rows = _rows(booked)
    city = sum((f for (k, _, _), f in rows.items() if k == "city"), Figures())
    for kind in ScopeKind:
        if kind is ScopeKind.CITY:
            continue
        assert sum((f for (k, _, _), f in rows.items() if k == kind), Figures()) == city


@settings(max_examples=150, deadline=None)
@given(st.lists(entries, max_size=60))
def test_summing_per_grain_first_gives_the_rows_one_entry_at_a_time_gives(
    booked: list[Entry],
) -> None:
    """Replay and the consumer use `projection_deltas`, which sums entries sharing their
    rows before spreading the sums; it must equal adding entry by entry."""
    assert projection_deltas(booked) == _rows(booked)
