"""Entries: immutable, validated reports; corrections by reversal; months "YYYY-MM"."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from wastex_ledger.domain import entries as ledger
from wastex_ledger.domain.entries import Entry, EntryKind
from wastex_ledger.domain.periods import Period, period_range, year_range
from wastex_shared.errors import DomainError

from .conftest import AT, CEMENT, STEEL

D = Decimal


def report(**overrides: Any) -> Entry:
    fields: dict[str, Any] = {
        "entry_id": "e-1",
        "kind": EntryKind.GENERATED,
        "actor_enterprise_id": "ent-steel",
        "site": STEEL,
        "waste_code": "SW01",
        "tonnes": "12.5",
        "period": "2026-03",
        "from_prior_stock": False,
        "cause_event_id": "evt-1",
        "now": AT,
    }
    fields.update(overrides)
    return ledger.report(**fields)


def test_the_entry_kinds() -> None:
    assert [str(k) for k in EntryKind] == [
        "generated",
        "utilised_in_plant",
        "transferred_out",
        "transferred_in",
        "utilised",
        "stored",
        "storage_retrieved",
        "disposed",
        "opening_stock",
        "received_stored",
        "received_storage_retrieved",
        "received_disposed",
    ]


def test_a_report_takes_the_sites_enterprise_district_and_industry() -> None:
    entry = report()
    assert entry == Entry(
        id="e-1",
        kind=EntryKind.GENERATED,
        enterprise_id="ent-steel",
        site_id="site-steel",
        district="青山区",
        industry="C31",
        waste_code="SW01",
        tonnes=D("12.500"),
        period=Period(2026, 3),
        cause_event_id="evt-1",
    )
    assert str(entry.tonnes) == "12.500"
    assert not entry.is_reversal


def test_entries_are_immutable() -> None:
    entry = report()
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.tonnes = D("1")  # type: ignore[misc]


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"actor_enterprise_id": "ent-cement"}, "NOT_AUTHORIZED", None),
        ({"waste_code": "SW99X"}, "UNKNOWN_WASTE_CODE", "wasteCode"),
        ({"waste_code": "HW41"}, "ABOLISHED_WASTE_CODE", "wasteCode"),
        ({"tonnes": "0"}, "INVALID_QUANTITY", "tonnes"),
        ({"tonnes": "-3"}, "INVALID_QUANTITY", "tonnes"),
        ({"tonnes": "1.0005"}, "INVALID_QUANTITY", "tonnes"),
        ({"tonnes": 1.5}, "INVALID_QUANTITY", "tonnes"),
        ({"period": "2026-13"}, "INVALID_PERIOD", "period"),
        ({"period": "26-03"}, "INVALID_PERIOD", "period"),
        ({"period": "1900-01"}, "INVALID_PERIOD", "period"),
        ({"period": "2026-04"}, "INVALID_PERIOD", "period"),  # not begun on 15 March
        ({"period": "2099-03"}, "INVALID_PERIOD", "period"),
        ({"from_prior_stock": True}, "PRIOR_STOCK_NOT_APPLICABLE", "fromPriorStock"),
        (
            {"kind": EntryKind.STORED, "from_prior_stock": True},
            "PRIOR_STOCK_NOT_APPLICABLE",
            "fromPriorStock",
        ),
    ],
)
def test_invalid_reports_name_the_reason(
    overrides: dict[str, Any], code: str, field: str | None
) -> None:
    with pytest.raises(DomainError) as caught:
        report(**overrides)
    assert caught.value.code == code
    assert caught.value.field == field


RECEIVERS_KINDS = [
    EntryKind.RECEIVED_STORED,
    EntryKind.RECEIVED_STORAGE_RETRIEVED,
    EntryKind.RECEIVED_DISPOSED,
]


@pytest.mark.parametrize("kind", RECEIVERS_KINDS)
def test_a_receivers_storage_and_disposal_are_reported_reversed_and_corrected(
    kind: EntryKind,
) -> None:
    """Reported by the receiver itself, like `utilised`; intake has no prior-year stock."""
    original = report(kind=kind, site=CEMENT, actor_enterprise_id="ent-cement")
    assert (original.kind, original.enterprise_id) == (kind, "ent-cement")
    assert reverse(original).tonnes == D("-12.500")
    assert (
        ledger.corrected(
            original, entry_id="e-3", tonnes="2", reason="re-weighed", cause_event_id="evt-3"
        ).kind
        == kind
    )
    with pytest.raises(DomainError) as refused:
        report(kind=kind, site=CEMENT, actor_enterprise_id="ent-cement", from_prior_stock=True)
    assert refused.value.code == "PRIOR_STOCK_NOT_APPLICABLE"
    with pytest.raises(DomainError) as other:
        report(kind=kind, site=CEMENT)  # another enterprise's site
    assert other.value.code == "NOT_AUTHORIZED"


@pytest.mark.parametrize("kind", [EntryKind.UTILISED_IN_PLANT, EntryKind.DISPOSED])
def test_prior_stock_applies_to_use_and_disposal(kind: EntryKind) -> None:
    assert report(kind=kind, from_prior_stock=True).from_prior_stock


@pytest.mark.parametrize("kind", [EntryKind.TRANSFERRED_OUT, EntryKind.TRANSFERRED_IN])
def test_transfers_come_only_from_manifests(kind: EntryKind) -> None:
    with pytest.raises(ValueError, match="manifests"):
        report(kind=kind)


def reverse(original: Entry, **overrides: Any) -> Entry:
    fields: dict[str, Any] = {
        "entry_id": "e-2",
        "actor_enterprise_id": original.enterprise_id,
        "reason": "  weighbridge slip misread  ",
        "already_reversed": False,
        "cause_event_id": "evt-2",
    }
    fields.update(overrides)
    return ledger.reverse(original, **fields)


def test_a_reversal_negates_the_tonnes_and_names_the_original() -> None:
    original = report(kind=EntryKind.DISPOSED, from_prior_stock=True)
    reversal = reverse(original)
    assert reversal.tonnes == D("-12.500")
    assert reversal.reverses == "e-1"
    assert reversal.reason == "weighbridge slip misread"
    assert reversal.is_reversal
    # Everything else is the original's, so the reversal lands in the same rows.
    same = ("kind", "enterprise_id", "site_id", "district", "industry", "waste_code", "period")
    assert all(getattr(reversal, f) == getattr(original, f) for f in same)
    assert reversal.from_prior_stock
    assert original.tonnes == D("12.500")


@pytest.mark.parametrize(
    ("make_original", "overrides", "code"),
    [
        (lambda: report(), {"actor_enterprise_id": "ent-cement"}, "NOT_AUTHORIZED"),
        (lambda: report(), {"already_reversed": True}, "ALREADY_REVERSED"),
        (lambda: report(), {"reason": "   "}, "REASON_REQUIRED"),
        (lambda: report(), {"reason": "x" * 501}, "TEXT_TOO_LONG"),  # refused, never cut
        (lambda: reverse(report()), {}, "NOT_REVERSIBLE"),
        (
            lambda: dataclasses.replace(report(), kind=EntryKind.TRANSFERRED_OUT),
            {},
            "NOT_REVERSIBLE",
        ),
    ],
)
def test_reversals_that_are_refused(
    make_original: Any, overrides: dict[str, Any], code: str
) -> None:
    with pytest.raises(DomainError) as caught:
        reverse(make_original(), **overrides)
    assert caught.value.code == code


def test_a_correction_is_a_new_entry_with_the_right_tonnes() -> None:
    original = report(site=CEMENT, actor_enterprise_id="ent-cement")
    replacement = ledger.corrected(
        original, entry_id="e-3", tonnes="13", reason="re-weighed", cause_event_id="evt-3"
    )
    assert (replacement.id, replacement.tonnes, replacement.reverses) == ("e-3", D("13.000"), None)
    assert replacement.reason == "re-weighed"
    with pytest.raises(DomainError) as caught:
        ledger.corrected(original, entry_id="e-4", tonnes="0", reason="x", cause_event_id="e")
    assert caught.value.code == "INVALID_QUANTITY"
    with pytest.raises(DomainError) as caught:
        ledger.corrected(original, entry_id="e-4", tonnes="9", reason="y" * 501, cause_event_id="e")
    assert (caught.value.code, caught.value.field) == ("TEXT_TOO_LONG", "reason")
    assert reverse(original, reason="z" * 500).reason == "z" * 500


@pytest.mark.parametrize("tonnes", ["12.5", "12.500", Decimal("12.5")])
def test_a_correction_to_the_tonnes_the_entry_has_is_refused(tonnes: str | Decimal) -> None:
    # Booked, it would put a reversal and an identical entry in the append-only ledger
    # for good, and show regulators a correction that corrected nothing.
    original = report(tonnes="12.500")
    with pytest.raises(DomainError) as caught:
        ledger.corrected(
            original, entry_id="e-5", tonnes=tonnes, reason="re-weighed", cause_event_id="e"
        )
    assert (caught.value.code, caught.value.field) == ("NOTHING_TO_AMEND", "tonnes")
    assert "12.500" in caught.value.message


def test_periods() -> None:
    assert str(Period.parse("2026-03")) == "2026-03"
    assert Period.parse(" 2026-12 ") == Period(2026, 12)
    assert Period(2025, 12) < Period(2026, 1)
    # "Now" is read in China Standard Time: 17:00 UTC on 31 January is 1 February there.
    assert Period.of(datetime(2026, 1, 31, 17, 0, tzinfo=UTC)) == Period(2026, 2)
    assert period_range("2026-01", "2026-06") == (Period(2026, 1), Period(2026, 6))
    assert year_range(2026) == (Period(2026, 1), Period(2026, 12))
    with pytest.raises(DomainError) as caught:
        period_range("2026-06", "2026-01")
    assert caught.value.code == "INVALID_PERIOD"


def test_a_month_begins_in_china_standard_time() -> None:
    # 31 March 20:00 UTC is 1 April 04:00 in Wuhan: April's reports are due then.
    evening = datetime(2026, 3, 31, 20, 0, tzinfo=UTC)
    assert report(period="2026-04", now=evening).period == Period(2026, 4)
    with pytest.raises(DomainError) as caught:
        report(period="2026-04", now=evening - timedelta(hours=5))
    assert caught.value.code == "INVALID_PERIOD"
