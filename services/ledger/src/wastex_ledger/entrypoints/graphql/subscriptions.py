"""The ledger's subscription: manifests as they move, read as they stand, pushed to whoever
may read them (`policy`)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Final

import strawberry

from wastex_ledger.entrypoints.graphql import policy
from wastex_ledger.entrypoints.graphql.types import ManifestType
from wastex_ledger.entrypoints.graphql.wiring import services
from wastex_shared.events.ledger import ManifestFacts
from wastex_shared.graphql.context import Info
from wastex_shared.graphql.live import signed_in_events, spec_of, subscriber, topics_of

#: The manifest facts `manifestChanged` pushes, by event type (`wastex_shared.events.ledger`).
MANIFEST_MOVES: Final = (
    "ledger.manifest-created",
    "ledger.shipment-dispatched",
    "ledger.shipment-received",
    "ledger.discrepancy-cause-named",
    "ledger.discrepancy-resolved",
    "ledger.shipment-cancelled",
)

#: The topics of `MANIFEST_MOVES` (the live feed reads them).
MANIFEST_TOPICS: Final = topics_of(MANIFEST_MOVES)


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description=(
            "The manifests the caller may read (a tenant's own, a regulator's district's, all "
            "for '*' and admins) each time one moves: created (its match confirmed), "
            "dispatched, received (DISCREPANCY when the weights differ beyond the tolerance), "
            "a cause named for its discrepancy (the other party is asked to agree: "
            "discrepancyState PROPOSED or DISPUTED), its discrepancy resolved, or cancelled; "
            "each pushed as it stands when read."
        )
    )
    async def manifest_changed(self, info: Info) -> AsyncGenerator[ManifestType, None]:
        principal = subscriber(info.context)
        wiring = services(info)
        decoders = {kind: spec_of(kind).model.model_validate for kind in MANIFEST_MOVES}
        async for facts in signed_in_events(wiring.hub, principal, decoders):
            if not isinstance(facts, ManifestFacts):
                continue
            if not policy.might_see_manifest(principal, facts):
                continue
            view = await wiring.ledger.manifest(facts.manifest_id)
            if view is not None and policy.may_see_manifest(principal, view):
                yield ManifestType.of(view)
