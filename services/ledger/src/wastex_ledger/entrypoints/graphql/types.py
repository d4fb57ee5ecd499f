"""GraphQL types of the ledger subgraph (tonnes and rates are Decimal strings)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import strawberry

from wastex_ledger.domain import entries as ledger
from wastex_ledger.domain import manifest as manifests
from wastex_ledger.domain import zero_waste
from wastex_ledger.domain.figures import Utilisation
from wastex_ledger.domain.periods import Period
from wastex_ledger.domain.scope import Scope, WasteClass
from wastex_ledger.domain.visibility import ManifestView
from wastex_ledger.entrypoints.graphql import wiring
from wastex_shared.codes import known
from wastex_shared.codes.industry import validate_industry_code
from wastex_shared.graphql.context import Info
from wastex_shared.graphql.errors import UserError

# The domain's enums exposed as they are: `strawberry.enum(...)` called on them returns an
# object mypy cannot take for a type, so each field annotated with one of these carries
# `type: ignore[valid-type]`.
EntryKind = strawberry.enum(
    ledger.EntryKind,
    name="EntryKind",
    description="What a ledger entry records (see LedgerEntry).",
)
ManifestStatus = strawberry.enum(
    manifests.ManifestStatus,
    name="ManifestStatus",
    description=(
        "CREATED (match confirmed) → IN_TRANSIT → RECEIVED, or DISCREPANCY (weights apart by "
        "more than the tolerance) → RESOLVED (both parties named the gap's cause); CREATED → "
        "CANCELLED (called off before dispatch by a party, or on the recycler's side by the "
        "ledger when a revocation, or an amendment dropping the code, left it no licence for "
        "the waste)."
    ),
)
GapCauseType = strawberry.enum(
    manifests.GapCause,
    name="GapCause",
    description=(
        "Why the received weight differs from the dispatched: WEIGHING_ERROR or "
        "MOISTURE_CHANGE (the gap was never waste apart from the shipment) or LOSS_IN_TRANSIT "
        "(waste lost on the road)."
    ),
)
DiscrepancyStateType = strawberry.enum(
    manifests.DiscrepancyState,
    name="DiscrepancyState",
    description=(
        "Where the two parties stand on a discrepancy: OPEN (no cause named), PROPOSED (one "
        "party named a cause, the other has not answered), DISPUTED (they named different "
        "causes and have not agreed since) or RESOLVED."
    ),
)
WasteClassType = strawberry.enum(
    WasteClass,
    name="WasteClass",
    description=(
        "The codes figures cover: GENERAL (一般工业固体废物, the class 综合利用率 is defined "
        "for), HAZARDOUS (危险废物, HW codes) or ALL."
    ),
)


@strawberry.type(
    name="LedgerEntry",
    description=(
        "An immutable ledger fact. A reversing entry has negative tonnes and names the entry "
        "it reverses; nothing is ever updated."
    ),
)
class LedgerEntryType:
    id: strawberry.ID
    kind: EntryKind  # type: ignore[valid-type]
    enterprise_id: strawberry.ID
    site_id: strawberry.ID
    district: str
    industry: str
    waste_code: str
    tonnes: Decimal
    period: str
    from_prior_stock: bool
    reverses: strawberry.ID | None
    reason: str | None
    cause_event_id: str
    manifest_id: strawberry.ID | None
    transport_co2e_kg: Decimal | None
    avoided_co2e_kg: Decimal | None

    @classmethod
    def of(cls, entry: ledger.Entry) -> LedgerEntryType:
        carbon = entry.carbon
        return cls(
            id=strawberry.ID(entry.id),
            kind=entry.kind,
            enterprise_id=strawberry.ID(entry.enterprise_id),
            site_id=strawberry.ID(entry.site_id),
            district=entry.district,
            industry=entry.industry,
            waste_code=entry.waste_code,
            tonnes=entry.tonnes,
            period=str(entry.period),
            from_prior_stock=entry.from_prior_stock,
            reverses=None if entry.reverses is None else strawberry.ID(entry.reverses),
            reason=entry.reason,
            cause_event_id=entry.cause_event_id,
            manifest_id=None if entry.manifest_id is None else strawberry.ID(entry.manifest_id),
            transport_co2e_kg=None if carbon is None else carbon.transport_co2e_kg,
            avoided_co2e_kg=None if carbon is None else carbon.avoided_co2e_kg,
        )


@strawberry.type(
    name="DiscrepancyResolution",
    description=(
        "A discrepancy's cause as one party proposed it; agreedAt is set when the other party "
        "named the same cause (the manifest is then RESOLVED)."
    ),
)
class ResolutionType:
    cause: GapCauseType  # type: ignore[valid-type]
    note: str
    proposed_by: strawberry.ID = strawberry.field(description="The proposing party.")
    proposed_at: datetime
    agreed_note: str | None
    agreed_at: datetime | None
    disputed_at: datetime | None = strawberry.field(
        description="When one party first named another cause than the other had proposed."
    )

    @classmethod
    def of(cls, resolution: manifests.Resolution) -> ResolutionType:
        return cls(
            cause=resolution.cause,
            note=resolution.note,
            proposed_by=strawberry.ID(resolution.proposed_by),
            proposed_at=resolution.proposed_at,
            agreed_note=resolution.agreed_note,
            agreed_at=resolution.agreed_at,
            disputed_at=resolution.disputed_at,
        )


# Matching's entity; no description here, or composition would take it for matching's.
@strawberry.federation.type(keys=["id"], name="Match")
class MatchRef:
    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, id: strawberry.ID, **_: object) -> MatchRef:
        return cls(id=id)


@strawberry.type(
    name="ShipmentCancellation",
    description="On whose side a shipment was called off before it left, why and when.",
)
class CancellationType:
    cancelled_by: strawberry.ID = strawberry.field(
        description=(
            "The party on whose side it was called off: the enterprise that did, or the "
            "recycler whose licence was revoked or amended off the code (the reason names the "
            "licence)."
        )
    )
    reason: str
    cancelled_at: datetime

    @classmethod
    def of(cls, cancellation: manifests.Cancellation) -> CancellationType:
        return cls(
            cancelled_by=strawberry.ID(cancellation.by),
            reason=cancellation.reason,
            cancelled_at=cancellation.at,
        )


@strawberry.type(
    name="Manifest",
    description=(
        "The electronic manifest (电子联单) of a confirmed match: dispatched with the origin "
        "weight, received with the destination weight; a gap over the tolerance is a "
        "DISCREPANCY until both parties name its cause. The recycler books the received "
        "weight, the supplier the received weight up to the dispatched (a heavier load is "
        "water or the scales, not more of its waste); carbon is computed at receipt from "
        "the supplier's."
    ),
)
class ManifestType:
    id: strawberry.ID
    match_id: strawberry.ID
    status: ManifestStatus  # type: ignore[valid-type]
    supplier_enterprise_id: strawberry.ID
    supplier_site_id: strawberry.ID
    recycler_enterprise_id: strawberry.ID
    recycler_site_id: strawberry.ID
    supplier_district: str | None
    recycler_district: str | None
    waste_code: str
    planned_tonnes: Decimal
    dispatched_tonnes: Decimal | None
    received_tonnes: Decimal | None
    weight_gap_tonnes: Decimal | None = strawberry.field(
        description="received − dispatched (negative when weight was lost)."
    )
    weight_gap_ratio: Decimal | None = strawberry.field(
        description=(
            "|received − dispatched| ÷ dispatched, rounded up to 4 places (or to the "
            "tolerance's places): over the tolerance exactly when it is a discrepancy."
        )
    )
    discrepancy: bool = strawberry.field(
        description="Whether the weights differed by more than the tolerance (also once resolved)."
    )
    discrepancy_state: DiscrepancyStateType | None = strawberry.field(  # type: ignore[valid-type]
        description="Where the parties stand on the discrepancy; null when there is none."
    )
    resolution: ResolutionType | None = strawberry.field(
        description="The discrepancy's cause, proposed or agreed (resolveDiscrepancy)."
    )
    match: MatchRef | None = strawberry.field(
        description="The confirmed match it ships (status, offer, demand, explanation), as "
        "matching shows it to you: null, with an error, when you may not see the match."
    )
    cancellation: CancellationType | None = strawberry.field(
        description="Set when a party called the shipment off before dispatch (CANCELLED)."
    )
    ship_from: date | None = strawberry.field(
        description="The first day of the match's shipping window: the shipment may not "
        "leave before it (unknown for manifests opened before the ledger kept it)."
    )
    ship_by: date | None = strawberry.field(
        description="The last day of the match's shipping window (unknown for older matches)."
    )
    period: str | None = strawberry.field(description="Month the shipment is booked to.")
    from_prior_stock: bool
    distance_km: Decimal
    planned_co2e_kg: Decimal = strawberry.field(description="Transport CO2e matching planned.")
    freight_factor_key: str
    freight_factor_kg_per_tkm: Decimal
    avoided_factor_key: str | None
    avoided_factor_kg_per_tonne: Decimal | None
    transport_co2e_kg: Decimal | None = strawberry.field(
        description="booked t (received, at most dispatched) × distance × freight factor."
    )
    avoided_co2e_kg: Decimal | None = strawberry.field(
        description=(
            "booked t (received, at most dispatched) × avoided-emission factor (when one "
            "applies to the code)."
        )
    )
    created_at: datetime
    dispatched_at: datetime | None
    received_at: datetime | None
    record: strawberry.Private[manifests.Manifest]

    @strawberry.field(
        description="Not dispatched though its shipping window has ended (as of today in "
        "China): a shipment late or never to come; dispatch it or cancel it."
    )
    def overdue(self, info: Info) -> bool:
        return self.record.overdue_on(wiring.ledger(info).today())

    @classmethod
    def of(cls, view: ManifestView) -> ManifestType:
        m, route, carbon = view.manifest, view.manifest.route, view.manifest.carbon
        return cls(
            id=strawberry.ID(m.id),
            match_id=strawberry.ID(m.match_id),
            match=MatchRef(id=strawberry.ID(m.match_id)),
            status=m.status,
            supplier_enterprise_id=strawberry.ID(route.supplier_enterprise_id),
            supplier_site_id=strawberry.ID(route.supplier_site_id),
            recycler_enterprise_id=strawberry.ID(route.recycler_enterprise_id),
            recycler_site_id=strawberry.ID(route.recycler_site_id),
            supplier_district=view.supplier_district,
            recycler_district=view.recycler_district,
            waste_code=route.waste_code,
            planned_tonnes=route.planned_tonnes,
            dispatched_tonnes=m.dispatched_tonnes,
            received_tonnes=m.received_tonnes,
            weight_gap_tonnes=m.weight_gap_tonnes,
            weight_gap_ratio=m.weight_gap_ratio,
            discrepancy=m.discrepancy,
            discrepancy_state=m.discrepancy_state,
            resolution=None if m.resolution is None else ResolutionType.of(m.resolution),
            cancellation=None if m.cancellation is None else CancellationType.of(m.cancellation),
            ship_from=m.ship_from,
            ship_by=m.ship_by,
            record=m,
            period=None if m.period is None else str(m.period),
            from_prior_stock=m.from_prior_stock,
            distance_km=route.distance_km,
            planned_co2e_kg=route.planned_co2e_kg,
            freight_factor_key=route.freight_factor_key,
            freight_factor_kg_per_tkm=route.freight_factor_kg_per_tkm,
            avoided_factor_key=route.avoided_factor_key,
            avoided_factor_kg_per_tonne=route.avoided_factor_kg_per_tonne,
            transport_co2e_kg=None if carbon is None else carbon.transport_co2e_kg,
            avoided_co2e_kg=None if carbon is None else carbon.avoided_co2e_kg,
            created_at=m.created_at,
            dispatched_at=m.dispatched_at,
            received_at=m.received_at,
        )


@strawberry.type(
    name="UtilisationRate",
    description=(
        "Figures of a scope over a range of months (formulas.md). utilisedTonnes = in-plant "
        "+ transferred for utilisation (at the received weight, at most the dispatched), "
        "prior-year stock included; "
        "rate = utilised ÷ (generated + priorStockUtilised); inPlantShare = utilisedInPlant ÷ "
        "(generated + priorStockUtilised); rates are 4-place fractions, null when the "
        "denominator is 0. Area totals count each tonne once (a recycler's intake is not "
        "generation; it is intakeTonnes, and what the recycler reports of it is "
        "receivedUtilisedTonnes, receivedStoredTonnes and receivedDisposedTonnes, apart from "
        "the generator's figures and rates). wasteClass: the codes covered (general waste "
        "unless the scope asked otherwise or named a code)."
    ),
)
class UtilisationRateType:
    from_: str = strawberry.field(name="from")
    to: str
    waste_class: WasteClassType  # type: ignore[valid-type]
    generated_tonnes: Decimal
    utilised_tonnes: Decimal
    utilised_in_plant_tonnes: Decimal
    transferred_for_utilisation_tonnes: Decimal
    prior_stock_utilised_tonnes: Decimal
    disposed_tonnes: Decimal
    prior_stock_disposed_tonnes: Decimal
    stored_tonnes: Decimal = strawberry.field(
        description=(
            "贮存量: generation put into storage, net of what was taken back out the same year "
            "(reportStorage − reportStorageRetrieval); negative over a range that took out "
            "more than it put in."
        )
    )
    opening_stock_tonnes: Decimal
    intake_tonnes: Decimal
    received_utilised_tonnes: Decimal = strawberry.field(
        description="Intake the receiver reports as utilised (reportReceivedUtilisation)."
    )
    received_stored_tonnes: Decimal = strawberry.field(
        description=(
            "Intake put into the receiver's storage, net of what was taken back out "
            "(reportReceivedStorage − reportReceivedStorageRetrieval; negative over a range "
            "that took out more than it put in)."
        )
    )
    received_disposed_tonnes: Decimal = strawberry.field(
        description="Intake the receiver disposed of (reportReceivedDisposal)."
    )
    rate: Decimal | None
    in_plant_share: Decimal | None
    disposal_rate: Decimal | None = strawberry.field(
        description="处置率 (older usage, inferred): disposed ÷ generated."
    )

    @strawberry.field(
        description=(
            "Whether these figures are final: every month asked lies in a year whose books "
            "have closed (WASTEX_LEDGER_YEAR_CLOSES_ON of the next year, 31 March by "
            "default, decision 036), so nothing more is booked to them. False while the last "
            "month's year is open: reports, reversals, corrections and dispatches may still "
            "change them."
        )
    )
    def final(self, info: Info) -> bool:
        return wiring.ledger(info).final(Period.parse(self.to, "to"))

    @classmethod
    def of(cls, u: Utilisation, start: str, end: str, covers: WasteClass) -> UtilisationRateType:
        return cls(
            from_=start,
            to=end,
            waste_class=covers,
            generated_tonnes=u.generated,
            utilised_tonnes=u.utilised,
            utilised_in_plant_tonnes=u.utilised_in_plant,
            transferred_for_utilisation_tonnes=u.transferred_for_utilisation,
            prior_stock_utilised_tonnes=u.prior_stock_utilised,
            disposed_tonnes=u.disposed,
            prior_stock_disposed_tonnes=u.prior_stock_disposed,
            stored_tonnes=u.stored,
            opening_stock_tonnes=u.opening_stock,
            intake_tonnes=u.intake,
            received_utilised_tonnes=u.received_utilised,
            received_stored_tonnes=u.received_stored,
            received_disposed_tonnes=u.received_disposed,
            rate=u.rate,
            in_plant_share=u.in_plant_share,
            disposal_rate=u.disposal_rate,
        )


@strawberry.type(
    name="TransferCarbon",
    description=(
        "CO2e of received transfers in a scope (counted on the generator's side, once): "
        "transport from booked t (received, at most dispatched) × km × freight factor, avoided "
        "from the per-code factor. "
        "wasteClass: the codes covered (all unless the scope asked otherwise or named a code)."
    ),
)
class TransferCarbonType:
    from_: str = strawberry.field(name="from")
    to: str
    waste_class: WasteClassType  # type: ignore[valid-type]
    transfers: int
    transferred_tonnes: Decimal
    transport_co2e_kg: Decimal
    avoided_co2e_kg: Decimal
    net_avoided_co2e_kg: Decimal

    @classmethod
    def of(cls, u: Utilisation, start: str, end: str, covers: WasteClass) -> TransferCarbonType:
        f = u.figures
        return cls(
            from_=start,
            to=end,
            waste_class=covers,
            transfers=f.transfers,
            transferred_tonnes=u.transferred_for_utilisation,
            transport_co2e_kg=f.transport_co2e_kg,
            avoided_co2e_kg=f.avoided_co2e_kg,
            net_avoided_co2e_kg=f.avoided_co2e_kg - f.transport_co2e_kg,
        )


@strawberry.type(name="ZeroWasteRuleResult")
class ZeroWasteRuleResultType:
    key: str
    title: str
    passed: bool
    actual: str | None
    threshold: str | None
    detail: str


@strawberry.type(
    name="ZeroWasteAssessment",
    description=(
        "无废企业 assessment of one enterprise and year against the configured rules; its "
        "figures and rates are of general waste (hazardous waste is judged by its own rule)."
    ),
)
class ZeroWasteAssessmentType:
    enterprise_id: strawberry.ID
    year: int
    passed: bool

    @strawberry.field(
        description=(
            "Whether the year's books have closed (decision 036): its figures and its verdict "
            "no longer move. A closed year's verdict reads its manifests as they stood at the "
            "close (the close day's midnight in China): a discrepancy its parties agree on "
            "after it stays open in it, and a shipment received after it was on the road at "
            "its dispatched weight, whatever its receipt found. False while the year is open: "
            "the verdict is provisional, read from the manifests as they stand."
        )
    )
    def final(self, info: Info) -> bool:
        return wiring.ledger(info).final(Period.last_of(self.year))

    figures: UtilisationRateType
    rules: list[ZeroWasteRuleResultType]

    @classmethod
    def of(cls, a: zero_waste.Assessment) -> ZeroWasteAssessmentType:
        return cls(
            enterprise_id=strawberry.ID(a.enterprise_id),
            year=a.year,
            passed=a.passed,
            figures=UtilisationRateType.of(
                a.utilisation, f"{a.year}-01", f"{a.year}-12", WasteClass.GENERAL
            ),
            rules=[
                ZeroWasteRuleResultType(
                    key=r.key,
                    title=r.title,
                    passed=r.passed,
                    actual=r.actual,
                    threshold=r.threshold,
                    detail=r.detail,
                )
                for r in a.results
            ],
        )


# -- inputs -------------------------------------------------------------------------------


@strawberry.input(
    description=(
        "One report: tonnes (3 places) of a waste code at one of the caller's sites in a month "
        "'YYYY-MM'. fromPriorStock (waste generated in earlier years) applies to in-plant "
        "utilisation and disposal only; elsewhere true is refused."
    )
)
class LedgerReportInput:
    site_id: strawberry.ID
    waste_code: str
    tonnes: Decimal
    period: str
    from_prior_stock: bool = False


@strawberry.input(
    description=(
        "The supplier ships a confirmed match with the origin weight; period defaults to the "
        "current month (China Standard Time) and may name an earlier one back to the "
        "manifest's opening, never one still to come."
    )
)
class DispatchShipmentInput:
    match_id: strawberry.ID
    tonnes: Decimal
    from_prior_stock: bool = False
    period: str | None = None


@strawberry.input
class ReceiveShipmentInput:
    manifest_id: strawberry.ID
    tonnes: Decimal


@strawberry.input
class CancelShipmentInput:
    manifest_id: strawberry.ID
    reason: str = strawberry.field(description="Why it is off (at most 500 characters).")


@strawberry.input
class ResolveDiscrepancyInput:
    manifest_id: strawberry.ID
    cause: GapCauseType  # type: ignore[valid-type]
    note: str = strawberry.field(description="What happened (at most 500 characters).")


def industry_code(code: str | None, field: str) -> str | None:
    """A GB/T 4754 code as the catalog registers it ("c3110" is C3110), else
    INVALID_INDUSTRY_CODE: a typo is not answered with zeros. Figures are kept by the code
    an enterprise is registered with, matched whole."""
    return None if code is None else validate_industry_code(code, field)


def waste_code(code: str | None, field: str) -> str | None:
    """A waste code as the ledger stores it (" sw01 " is SW01, an abolished one too: older
    entries hold it), else UNKNOWN_WASTE_CODE: a typo is not answered with an empty list."""
    return None if code is None else known(code, field).code


@strawberry.input(
    description=(
        "At most one of: enterpriseId (+ wasteCode), district (+ industry or wasteCode), "
        "industry, wasteCode; nothing = the whole city. wasteClass picks the codes: by "
        "default general waste for utilisation (the rate's own class, formulas.md §1) and "
        "all codes for carbon, or the class of the wasteCode named."
    )
)
class UtilisationScope:
    enterprise_id: strawberry.ID | None = None
    district: str | None = strawberry.field(
        default=None,
        description="A name of the register or one records were stored under before it; "
        "any other is refused with UNKNOWN_DISTRICT and the name meant.",
    )
    industry: str | None = strawberry.field(
        default=None,
        description="A GB/T 4754-2017 code, matched whole as enterprises are registered with "
        "it (case ignored); a malformed one is INVALID_INDUSTRY_CODE.",
    )
    waste_code: str | None = None
    waste_class: WasteClassType | None = None  # type: ignore[valid-type]

    def to_domain(self) -> Scope:
        def clean(value: str | None) -> str | None:
            return None if value is None else value.strip()

        code = None if self.waste_code is None else known(self.waste_code, "scope").code
        return Scope(
            enterprise_id=clean(self.enterprise_id),
            district=clean(self.district),
            industry=industry_code(self.industry, "scope"),
            waste_code=code,
            waste_class=self.waste_class,
        )


@strawberry.input
class ManifestFilter:
    status: ManifestStatus | None = None  # type: ignore[valid-type]
    enterprise_id: strawberry.ID | None = None
    waste_code: str | None = strawberry.field(
        default=None,
        description="A waste code, case and spaces ignored; an unknown one is UNKNOWN_WASTE_CODE.",
    )
    discrepancy: bool | None = None
    discrepancy_state: DiscrepancyStateType | None = None  # type: ignore[valid-type]
    overdue: bool | None = strawberry.field(
        default=None,
        description="true: only manifests not dispatched though their shipping window has "
        "ended; false: only the others.",
    )
    from_: str | None = strawberry.field(default=None, name="from")
    to: str | None = None


@strawberry.input
class LedgerEntryFilter:
    enterprise_id: strawberry.ID | None = None
    site_id: strawberry.ID | None = None
    waste_code: str | None = strawberry.field(
        default=None,
        description="A waste code, case and spaces ignored; an unknown one is UNKNOWN_WASTE_CODE.",
    )
    kind: EntryKind | None = None  # type: ignore[valid-type]
    from_: str | None = strawberry.field(default=None, name="from")
    to: str | None = None


# -- payloads -----------------------------------------------------------------------------


@strawberry.type
class LedgerEntryPayload:
    entry: LedgerEntryType | None
    user_errors: list[UserError]


@strawberry.type
class CorrectEntryPayload:
    entry: LedgerEntryType | None = strawberry.field(description="The corrected entry.")
    reversal: LedgerEntryType | None = strawberry.field(
        description="The entry reversing the original."
    )
    user_errors: list[UserError]


@strawberry.type
class ManifestPayload:
    manifest: ManifestType | None
    user_errors: list[UserError]
