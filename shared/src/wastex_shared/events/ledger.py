"""Facts the ledger publishes: manifests moving and entries recorded."""

from __future__ import annotations

from decimal import Decimal

from wastex_shared.events.registry import EventModel, event
from wastex_shared.topics import (
    LEDGER_ENTRY_RECORDED,
    LEDGER_MANIFEST_CREATED,
    LEDGER_SHIPMENT_DISPATCHED,
    LEDGER_SHIPMENT_RECEIVED,
)


class ManifestFacts(EventModel):
    manifest_id: str
    match_id: str
    supplier_enterprise_id: str
    recycler_enterprise_id: str
    waste_code: str
    planned_tonnes: Decimal
    dispatched_tonnes: Decimal | None = None
    received_tonnes: Decimal | None = None
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


@event("ledger.entry-recorded", LEDGER_ENTRY_RECORDED)
class EntryRecorded(EventModel):
    entry_id: str
    kind: str
    enterprise_id: str
    site_id: str
    district: str
    industry: str
    waste_code: str
    tonnes: Decimal
    period: str
    from_prior_stock: bool = False
    reverses: str | None = None
    cause_event_id: str
