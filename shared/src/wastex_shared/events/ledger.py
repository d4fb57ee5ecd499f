"""Facts the ledger publishes: manifests moving (their discrepancies resolved, or cancelled
before dispatch) and entries recorded.

Manifest events (key = manifest id) repeat the whole manifest so consumers need no other
source. `ledger.entry-recorded` (key = the entry's enterprise id) carries everything the
ledger's projections are built from, so they can be rebuilt from this topic alone.
"""

from __future__ import annotations

from decimal import Decimal

from wastex_shared.events.registry import EventModel, event
from wastex_shared.topics import (
    LEDGER_DISCREPANCY_CAUSE_NAMED,
    LEDGER_DISCREPANCY_RESOLVED,
    LEDGER_ENTRY_RECORDED,
    LEDGER_MANIFEST_CREATED,
    LEDGER_SHIPMENT_CANCELLED,
    LEDGER_SHIPMENT_DISPATCHED,
    LEDGER_SHIPMENT_RECEIVED,
)


class ManifestFacts(EventModel):
    manifest_id: str
    match_id: str
    supplier_enterprise_id: str
    supplier_site_id: str
    recycler_enterprise_id: str
    recycler_site_id: str
    waste_code: str
    planned_tonnes: Decimal
    distance_km: Decimal
    #: Month the shipment is booked to ("YYYY-MM"), set at dispatch.
    period: str | None = None
    from_prior_stock: bool = False
    dispatched_tonnes: Decimal | None = None
    received_tonnes: Decimal | None = None
    #: |received − dispatched| ÷ dispatched, set at receipt.
    weight_gap_ratio: Decimal | None = None
    transport_co2e_kg: Decimal | None = None
    avoided_co2e_kg: Decimal | None = None
    freight_factor_key: str
    avoided_factor_key: str | None = None
    status: str


@event("ledger.manifest-created", LEDGER_MANIFEST_CREATED)
class ManifestCreated(ManifestFacts):
    pass


@event("ledger.shipment-dispatched", LEDGER_SHIPMENT_DISPATCHED)
class ShipmentDispatched(ManifestFacts):
    pass


@event("ledger.shipment-received", LEDGER_SHIPMENT_RECEIVED)
class ShipmentReceived(ManifestFacts):
    discrepancy: bool = False


@event("ledger.discrepancy-cause-named", LEDGER_DISCREPANCY_CAUSE_NAMED)
class DiscrepancyCauseNamed(ManifestFacts):
    """A party named a cause for the weight gap that the other has not agreed to yet: a
    proposal, a change of mind, or (`disputed`) another cause in answer to the other's. The
    other party agreeing resolves it (`ledger.discrepancy-resolved`)."""

    cause: str
    note: str
    named_by: str
    #: The two parties named different causes (the manifest's `discrepancyState` DISPUTED).
    disputed: bool


@event("ledger.discrepancy-resolved", LEDGER_DISCREPANCY_RESOLVED)
class DiscrepancyResolved(ManifestFacts):
    """Both parties named the same cause for the weight gap (WEIGHING_ERROR,
    MOISTURE_CHANGE or LOSS_IN_TRANSIT); the booked weight stays the received one."""

    cause: str
    #: The proposing party's note, and the agreeing party's.
    note: str
    proposed_by: str
    agreed_note: str


@event("ledger.shipment-cancelled", LEDGER_SHIPMENT_CANCELLED)
class ShipmentCancelled(ManifestFacts):
    """A party called off the shipment of a confirmed match before it left, or a revocation
    left the recycler no licence to take it (called off on the recycler's side, the reason
    saying so): nothing was booked; matching cancels the match, which gives its tonnes back."""

    #: The enterprise that called it off (the supplier or the recycler), and why.
    cancelled_by: str
    reason: str


@event("ledger.entry-recorded", LEDGER_ENTRY_RECORDED)
class EntryRecorded(EventModel):
    entry_id: str
    kind: str
    enterprise_id: str
    site_id: str
    district: str
    industry: str
    waste_code: str
    #: Signed: negative on a reversing entry.
    tonnes: Decimal
    period: str
    from_prior_stock: bool = False
    reverses: str | None = None
    reason: str | None = None
    manifest_id: str | None = None
    transport_co2e_kg: Decimal | None = None
    avoided_co2e_kg: Decimal | None = None
    cause_event_id: str
