"""Fixtures for the ledger domain tests: three sites and an in-memory journal.

`Journal` wires the pure domain the way the service does (balance check and opening stock
before the records before booking,
in-transit shipments reserved at their dispatched weight, receipts booked unchecked, one
projection row per key from `projection_keys`), with no database, so scenarios can be
computed by hand and compared to the exact Decimal the domain returns.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from wastex_ledger.domain import balance, manifest
from wastex_ledger.domain import entries as ledger
from wastex_ledger.domain.entries import Entry, EntryKind, SiteFacts
from wastex_ledger.domain.figures import Figures, Utilisation, delta_of
from wastex_ledger.domain.manifest import Manifest, ManifestStatus, Route
from wastex_ledger.domain.periods import Period
from wastex_ledger.domain.scope import (
    CLASS_TAGS,
    CLASSED_KINDS,
    SEPARATOR,
    ScopeKind,
    projection_keys,
)

#: A steelworks in 青山区 (generator), a cement plant in 新洲区 (recycler, also generates),
#: and a power plant in 新洲区 (generator).
STEEL = SiteFacts("site-steel", "ent-steel", "青山区", "C31")
CEMENT = SiteFacts("site-cement", "ent-cement", "新洲区", "C30")
POWER = SiteFacts("site-power", "ent-power", "新洲区", "D44")
SLAG = "SW01"  # 冶炼废渣; has an avoided-emission factor (GGBS replacing cement)
FLY_ASH = "SW02"
HW_OIL = "HW08"

AT = datetime(2026, 3, 15, 8, 0, tzinfo=UTC)
#: The journal's clock: manifests open long before and everything else happens after every
#: month the scenarios book (a shipment leaves between its manifest's opening and now).
OPENED = datetime(2000, 1, 1, tzinfo=UTC)
NOW = datetime(2031, 1, 1, tzinfo=UTC)


def route(
    supplier: SiteFacts = STEEL,
    recycler: SiteFacts = CEMENT,
    code: str = SLAG,
    planned: str = "100",
    distance_km: str = "35.2",
) -> Route:
    return Route(
        supplier_enterprise_id=supplier.enterprise_id,
        supplier_site_id=supplier.site_id,
        recycler_enterprise_id=recycler.enterprise_id,
        recycler_site_id=recycler.site_id,
        waste_code=code,
        planned_tonnes=Decimal(planned),
        distance_km=Decimal(distance_km),
        planned_co2e_kg=Decimal(planned) * Decimal(distance_km) * Decimal("0.078"),
        freight_factor_key="freight_road_diesel_truck_30t_cn",
        freight_factor_kg_per_tkm=Decimal("0.078"),
        avoided_factor_key="avoided_ggbs_replacing_cement_cn_derived" if code == SLAG else None,
        avoided_factor_kg_per_tonne=Decimal("668") if code == SLAG else None,
    )


@dataclass
class Journal:
    """An in-memory ledger: entries, manifests and incrementally kept projection rows."""

    tolerance: Decimal = manifest.DEFAULT_TOLERANCE
    entries: list[Entry] = field(default_factory=list)
    manifests: dict[str, Manifest] = field(default_factory=dict)
    rows: dict[tuple[str, str, str], Figures] = field(default_factory=dict)
    sites: dict[str, SiteFacts] = field(
        default_factory=lambda: {s.site_id: s for s in (STEEL, CEMENT, POWER)}
    )
    _ids: Iterator[int] = field(default_factory=itertools.count)

    def next_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids)}"

    # -- the balance identity, as the service checks it ------------------------------

    def sheet(self, enterprise_id: str, code: str) -> dict[Period, Figures]:
        """Monthly figures of one enterprise and code, in-transit shipments reserved."""
        sheet: dict[Period, Figures] = {}
        for e in self.entries:
            if (e.enterprise_id, e.waste_code) == (enterprise_id, code):
                sheet[e.period] = sheet.get(e.period, Figures()) + delta_of(e)
        for m in self.manifests.values():
            if (m.status, m.supplier, m.waste_code) == (
                ManifestStatus.IN_TRANSIT,
                enterprise_id,
                code,
            ):
                assert m.period is not None
                sheet[m.period] = sheet.get(m.period, Figures()) + _reservation(m)
        return sheet

    def book(self, booked: list[Entry], *, checked: bool = True) -> None:
        if checked:
            groups: dict[tuple[str, str], dict[Period, Figures]] = {}
            for e in booked:
                months = groups.setdefault((e.enterprise_id, e.waste_code), {})
                months[e.period] = months.get(e.period, Figures()) + delta_of(e)
            for (enterprise_id, code), deltas in sorted(groups.items()):
                sheet = self.sheet(enterprise_id, code)
                for e in booked:
                    if (e.enterprise_id, e.waste_code) == (enterprise_id, code) and not (
                        e.is_reversal
                    ):
                        opening = e.kind is EntryKind.OPENING_STOCK
                        balance.ensure_stock_before_records(
                            sheet, e.period, opening=opening, waste_code=code
                        )
                balance.ensure_balanced(sheet, deltas, code)
        for e in booked:
            self.entries.append(e)
            for key in projection_keys(e):
                self.rows[key] = self.rows.get(key, Figures()) + delta_of(e)

    # -- commands --------------------------------------------------------------------

    def report(
        self,
        kind: EntryKind,
        site: SiteFacts,
        tonnes: str,
        period: str,
        code: str = SLAG,
        *,
        prior: bool = False,
        actor: str | None = None,
    ) -> Entry:
        entry = ledger.report(
            entry_id=self.next_id("entry"),
            kind=kind,
            actor_enterprise_id=actor or site.enterprise_id,
            site=site,
            waste_code=code,
            tonnes=tonnes,
            period=period,
            from_prior_stock=prior,
            cause_event_id=self.next_id("event"),
            now=NOW,
        )
        self.book([entry])
        return entry

    def reverse(self, original: Entry, reason: str = "typo in the weighbridge slip") -> Entry:
        reversal = ledger.reverse(
            original,
            entry_id=self.next_id("entry"),
            actor_enterprise_id=original.enterprise_id,
            reason=reason,
            already_reversed=any(e.reverses == original.id for e in self.entries),
            cause_event_id=self.next_id("event"),
        )
        self.book([reversal])
        return reversal

    def correct(self, original: Entry, tonnes: str) -> tuple[Entry, Entry]:
        reversal = ledger.reverse(
            original,
            entry_id=self.next_id("entry"),
            actor_enterprise_id=original.enterprise_id,
            reason="corrected",
            already_reversed=any(e.reverses == original.id for e in self.entries),
            cause_event_id=self.next_id("event"),
        )
        replacement = ledger.corrected(
            original,
            entry_id=self.next_id("entry"),
            tonnes=tonnes,
            reason="corrected",
            cause_event_id=reversal.cause_event_id,
        )
        self.book([reversal, replacement])
        return reversal, replacement

    def open_manifest(self, planned: Route | None = None) -> Manifest:
        created = manifest.create(
            manifest_id=self.next_id("manifest"),
            match_id=self.next_id("match"),
            route=planned or route(),
            at=OPENED,
        )
        self.manifests[created.id] = created
        return created

    def dispatch(
        self,
        manifest_id: str,
        tonnes: str,
        period: str,
        *,
        prior: bool = False,
        actor: str | None = None,
    ) -> Manifest:
        current = self.manifests[manifest_id]
        month = Period.parse(period)
        dispatched = current.dispatch(
            actor_enterprise_id=actor or current.supplier,
            tonnes=tonnes,
            from_prior_stock=prior,
            period=month,
            at=NOW,
        )
        sheet = self.sheet(current.supplier, current.waste_code)
        balance.ensure_stock_before_records(
            sheet, month, opening=False, waste_code=current.waste_code
        )
        balance.ensure_balanced(sheet, {month: _reservation(dispatched)}, current.waste_code)
        self.manifests[manifest_id] = dispatched
        return dispatched

    def receive(self, manifest_id: str, tonnes: str, *, actor: str | None = None) -> Manifest:
        current = self.manifests[manifest_id]
        received = current.receive(
            actor_enterprise_id=actor or current.recycler,
            tonnes=tonnes,
            tolerance=self.tolerance,
            at=NOW,
        )
        out, into = manifest.receipt_entries(
            received,
            supplier_site=self.sites[received.route.supplier_site_id],
            recycler_site=self.sites[received.route.recycler_site_id],
            out_entry_id=self.next_id("entry"),
            in_entry_id=self.next_id("entry"),
            cause_event_id=self.next_id("event"),
        )
        # The receipt is the receiver's measurement: booked, never refused for balance.
        self.manifests[manifest_id] = received
        self.book([out, into], checked=False)
        return received

    # -- queries ---------------------------------------------------------------------

    def scope(
        self, kind: str, value: str, first: str = "0000-00", last: str = "9999-99"
    ) -> Utilisation:
        """Sum of the projection rows of one scope over a range of months (inclusive),
        every waste class."""
        classed = ScopeKind(kind) in CLASSED_KINDS
        keys = (
            {(kind, f"{value}{SEPARATOR}{tag}") for tag in CLASS_TAGS.values()}
            if classed
            else {(kind, value)}
        )
        total = Utilisation()
        for (k, v, month), figures in self.rows.items():
            if (k, v) in keys and first <= month <= last:
                total = total + Utilisation(figures)
        return total

    def enterprise(self, enterprise_id: str) -> Utilisation:
        return self.scope("enterprise", enterprise_id)


def _reservation(m: Manifest) -> Figures:
    assert m.dispatched_tonnes is not None
    if m.from_prior_stock:
        return Figures(transferred_out_prior=m.dispatched_tonnes)
    return Figures(transferred_out_current=m.dispatched_tonnes)


@pytest.fixture
def journal() -> Journal:
    return Journal()


@pytest.fixture(scope="session")
def new_journal() -> Callable[[], Journal]:
    """A journal factory (for hypothesis tests, which must not share function fixtures)."""
    return Journal
