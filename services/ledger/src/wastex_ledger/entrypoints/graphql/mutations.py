"""Ledger mutations: reports, reversals and corrections, the manifest's two weigh-ins and its
discrepancy's resolution.

Every mutation returns its entity or `userErrors`; a `DomainError` (including
NOT_AUTHORIZED) becomes a user error, anything else propagates (masked by the error policy,
`OperationPolicy`). Each runs its transaction again should the database abort it for a
concurrent one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TypeVar

import strawberry

from wastex_ledger.domain.entries import Entry, EntryKind
from wastex_ledger.domain.manifest import Manifest
from wastex_ledger.domain.visibility import ManifestView
from wastex_ledger.entrypoints.graphql import policy
from wastex_ledger.entrypoints.graphql.types import (
    CancelShipmentInput,
    CorrectEntryPayload,
    DispatchShipmentInput,
    LedgerEntryPayload,
    LedgerEntryType,
    LedgerReportInput,
    ManifestPayload,
    ManifestType,
    ReceiveShipmentInput,
    ResolveDiscrepancyInput,
)
from wastex_ledger.entrypoints.graphql.wiring import ledger
from wastex_ledger.service import LedgerService
from wastex_shared.errors import DomainError
from wastex_shared.graphql.context import Info
from wastex_shared.graphql.errors import UserError
from wastex_shared.storage.failures import retry_conflicts

T = TypeVar("T")


async def _as_enterprise(
    info: Info, command: Callable[[LedgerService, str], Awaitable[T]]
) -> tuple[T | None, list[UserError]]:
    """Run a command as the caller's enterprise (again should the database abort it for a
    concurrent one): its result, or the user error that refused it."""
    try:
        actor = policy.acting_enterprise(info.context.principal)
        service = ledger(info)
        return await retry_conflicts(lambda: command(service, actor)), []
    except DomainError as err:
        return None, [UserError.of(err)]


def _entry_payload(entry: Entry | None, errors: list[UserError]) -> LedgerEntryPayload:
    return LedgerEntryPayload(
        entry=None if entry is None else LedgerEntryType.of(entry), user_errors=errors
    )


async def _report(info: Info, kind: EntryKind, data: LedgerReportInput) -> LedgerEntryPayload:
    entry, errors = await _as_enterprise(
        info,
        lambda service, actor: service.report(
            actor,
            kind,
            site_id=str(data.site_id),
            waste_code=data.waste_code,
            tonnes=data.tonnes,
            period=data.period,
            from_prior_stock=data.from_prior_stock,
        ),
    )
    return _entry_payload(entry, errors)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="产生量: waste generated at one of the caller's sites.")
    async def report_generation(self, info: Info, input: LedgerReportInput) -> LedgerEntryPayload:
        return await _report(info, EntryKind.GENERATED, input)

    @strawberry.mutation(description="自行利用: waste utilised in the caller's own facilities.")
    async def report_in_plant_utilisation(
        self, info: Info, input: LedgerReportInput
    ) -> LedgerEntryPayload:
        return await _report(info, EntryKind.UTILISED_IN_PLANT, input)

    @strawberry.mutation(description="贮存量: this period's generation put into storage.")
    async def report_storage(self, info: Info, input: LedgerReportInput) -> LedgerEntryPayload:
        return await _report(info, EntryKind.STORED, input)

    @strawberry.mutation(
        description=(
            "Waste taken back out of this year's storage, to be used, shipped or disposed of "
            "as this year's waste (≤ what this year put into storage; earlier years' storage "
            "is drawn on with fromPriorStock)."
        )
    )
    async def report_storage_retrieval(
        self, info: Info, input: LedgerReportInput
    ) -> LedgerEntryPayload:
        return await _report(info, EntryKind.STORAGE_RETRIEVED, input)

    @strawberry.mutation(description="处置量: waste disposed of.")
    async def report_disposal(self, info: Info, input: LedgerReportInput) -> LedgerEntryPayload:
        return await _report(info, EntryKind.DISPOSED, input)

    @strawberry.mutation(
        description=(
            "Stock held from before the ledger's records (往年贮存), usable from its year: "
            "declared with a month of a year no later than the first year the ledger holds "
            "any record of the caller's enterprise and code (its storage is next year's "
            "prior-year stock already), else INVALID_PERIOD; nothing else is booked in a "
            "year before one holding opening stock."
        )
    )
    async def report_opening_stock(
        self, info: Info, input: LedgerReportInput
    ) -> LedgerEntryPayload:
        return await _report(info, EntryKind.OPENING_STOCK, input)

    @strawberry.mutation(
        description="A receiver reports utilisation of its intake (≤ what it received)."
    )
    async def report_received_utilisation(
        self, info: Info, input: LedgerReportInput
    ) -> LedgerEntryPayload:
        return await _report(info, EntryKind.UTILISED, input)

    @strawberry.mutation(
        description=(
            "A receiver puts part of its intake into storage (with what it utilised and "
            "disposed of, ≤ what it received; never counted as generation)."
        )
    )
    async def report_received_storage(
        self, info: Info, input: LedgerReportInput
    ) -> LedgerEntryPayload:
        return await _report(info, EntryKind.RECEIVED_STORED, input)

    @strawberry.mutation(
        description=(
            "A receiver takes intake back out of its storage, to be utilised or disposed of "
            "(≤ what it put into that storage since its first records, across year ends)."
        )
    )
    async def report_received_storage_retrieval(
        self, info: Info, input: LedgerReportInput
    ) -> LedgerEntryPayload:
        return await _report(info, EntryKind.RECEIVED_STORAGE_RETRIEVED, input)

    @strawberry.mutation(
        description=(
            "A receiver disposes of part of its intake, e.g. residues it could not use (with "
            "what it utilised and stored, ≤ what it received; never the generator's 处置量)."
        )
    )
    async def report_received_disposal(
        self, info: Info, input: LedgerReportInput
    ) -> LedgerEntryPayload:
        return await _report(info, EntryKind.RECEIVED_DISPOSED, input)

    @strawberry.mutation(
        description="Cancel one of the caller's entries with a reversing entry (never an update)."
    )
    async def reverse_entry(self, info: Info, id: strawberry.ID, reason: str) -> LedgerEntryPayload:
        entry, errors = await _as_enterprise(
            info, lambda service, actor: service.reverse_entry(actor, str(id), reason)
        )
        return _entry_payload(entry, errors)

    @strawberry.mutation(
        description=(
            "Reverse one of the caller's entries and record it again with new tonnes "
            "(NOTHING_TO_AMEND, on tonnes, when they are the ones it books)."
        )
    )
    async def correct_entry(
        self, info: Info, id: strawberry.ID, tonnes: Decimal, reason: str
    ) -> CorrectEntryPayload:
        result, errors = await _as_enterprise(
            info, lambda service, actor: service.correct_entry(actor, str(id), tonnes, reason)
        )
        if result is None:
            return CorrectEntryPayload(entry=None, reversal=None, user_errors=errors)
        return CorrectEntryPayload(
            entry=LedgerEntryType.of(result.replacement),
            reversal=LedgerEntryType.of(result.reversal),
            user_errors=[],
        )

    @strawberry.mutation(
        description=(
            "The supplier dispatches a confirmed match (origin weight). Refused "
            "(SHIPPING_WINDOW_NOT_OPEN) before the first day of the match's shipping window "
            "(Manifest.shipFrom), and (LICENCE_NO_LONGER_VALID) when no licence of the "
            "recycler lets it take the waste that day; after the window it leaves late."
        )
    )
    async def dispatch_shipment(self, info: Info, input: DispatchShipmentInput) -> ManifestPayload:
        return await _manifest_command(
            info,
            lambda service, actor: service.dispatch(
                actor, str(input.match_id), input.tonnes, input.from_prior_stock, input.period
            ),
        )

    @strawberry.mutation(
        description=(
            "The recycler confirms receipt (destination weight); books the transfer. "
            "0 for a load lost whole: a discrepancy that books nothing."
        )
    )
    async def receive_shipment(self, info: Info, input: ReceiveShipmentInput) -> ManifestPayload:
        return await _manifest_command(
            info,
            lambda service, actor: service.receive(actor, str(input.manifest_id), input.tonnes),
        )

    @strawberry.mutation(
        description=(
            "A party of a DISCREPANCY manifest names the gap's cause: a proposal, or, when the "
            "other party proposed the same cause, the agreement that makes it RESOLVED (naming "
            "another cause replaces the proposal). The booked weight stays the received one."
        )
    )
    async def resolve_discrepancy(
        self, info: Info, input: ResolveDiscrepancyInput
    ) -> ManifestPayload:
        return await _manifest_command(
            info,
            lambda service, actor: service.resolve_discrepancy(
                actor, str(input.manifest_id), input.cause, input.note
            ),
        )

    @strawberry.mutation(
        description=(
            "A party calls off the shipment of a confirmed match before it is dispatched "
            "(CREATED → CANCELLED), saying why: nothing is booked, and the match is cancelled "
            "so its tonnes go back to the offer, the demand and the licence."
        )
    )
    async def cancel_shipment(self, info: Info, input: CancelShipmentInput) -> ManifestPayload:
        return await _manifest_command(
            info,
            lambda service, actor: service.cancel_shipment(
                actor, str(input.manifest_id), input.reason
            ),
        )


async def _manifest_command(
    info: Info, command: Callable[[LedgerService, str], Awaitable[Manifest]]
) -> ManifestPayload:
    """Run a manifest command as the caller's enterprise; the manifest or the user error."""
    manifest, errors = await _as_enterprise(info, command)
    if manifest is None:
        return ManifestPayload(manifest=None, user_errors=errors)
    view = await ledger(info).manifest(manifest.id)
    return ManifestPayload(
        manifest=ManifestType.of(view or ManifestView(manifest, None, None)), user_errors=[]
    )
