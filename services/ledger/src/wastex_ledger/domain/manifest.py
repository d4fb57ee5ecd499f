"""The electronic manifest (电子联单) of one confirmed match: created → dispatched → received.

- Cancelled by either party before dispatch (`CANCELLED`, with who and why): the plan fell
  through; nothing was booked, and matching cancels the match so its tonnes go back.
- *Overdue* while still CREATED after the match's shipping window (`ship_by`): not a state,
  a fact regulators list (a shipment late or never to come) and the parties act on
  (dispatch late, or cancel).

- Created from `matching.match-confirmed` with the planned tonnes, the route and the
  emission factors matching used.
- Dispatched by the supplier with the origin weight (`IN_TRANSIT`); the shipment is booked
  to the month of dispatch (this month or an earlier one, not before the manifest was
  opened) and may come from prior-year stock. It cannot leave before the first day of the
  match's shipping window (`ship_from`, decision 037: the recycler takes it in from then,
  and its licences were checked for the window's days), nor when no licence of the
  recycler lets it take the waste that day; a revocation that leaves the recycler none for
  good calls the shipment off (decision 023). After the window it still leaves (late:
  overdue until then).
- Received by the recycler with the destination weight: `RECEIVED`, or `DISCREPANCY` when
  |received − dispatched| ÷ dispatched exceeds the tolerance (2 % by default). Either way the
  received weight is what the recycler books (`transferred_in`, its measurement), and what
  the supplier books (`transferred_out`, counted as utilised, 委托利用) up to the dispatched
  weight: a heavier receipt is water or the scales, not more of the supplier's waste, so it
  never takes the supplier's utilisation past what it sent (decision 020). A load lost
  whole is received as 0 t: a discrepancy that books nothing; one over twice the dispatched
  weight is refused as a slip of unit.
- A discrepancy is resolved by the two parties (decision 016): one proposes the cause of the
  gap with a note, the other agrees by naming the same cause (`RESOLVED`); naming another
  cause replaces the proposal and makes the discrepancy *disputed* (`DiscrepancyState`),
  which it stays until the two agree: the regulator's list of the ones to step into. The
  booked weight stays the received one. A gap the parties
  put down to weighing or moisture was never waste left behind, so it counts as shipped in
  the zero-waste accounting as a gap within the tolerance does; a loss in transit does not.
- Carbon at receipt, of the supplier's booked tonnes: transport CO2e = t × distance km ×
  freight factor (kg CO2e/t·km); avoided CO2e = t × avoided factor (kg CO2e/t), when
  matching named one for the code.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import ROUND_HALF_UP, ROUND_UP, Decimal
from typing import Final

from wastex_ledger.domain import errors
from wastex_ledger.domain.entries import (
    Carbon,
    Entry,
    EntryKind,
    SiteFacts,
    TonnesInput,
    parse_tonnes,
    require_owner,
    required_text,
)
from wastex_ledger.domain.licences import (
    Days,
    Licence,
    cut_for_good,
    dispatch_days,
    require_licensed,
)
from wastex_ledger.domain.periods import Period
from wastex_shared.calendar import china_day
from wastex_shared.errors import DomainError
from wastex_shared.units import QuantityError
from wastex_shared.units import tonnes as exact_tonnes

KG_PLACES = Decimal("0.001")
GAP_PLACES = Decimal("0.0001")
FINEST_GAP_PLACES = Decimal("0.000001")
DEFAULT_TOLERANCE = Decimal("0.02")
#: How much more than planned a shipment may weigh (`LedgerSettings.load_over_plan`).
DEFAULT_OVER_PLAN = Decimal("0.10")
#: A receipt heavier than this many times its dispatched weight is refused as a slip of
#: unit (decision 020's update): rain or a weighbridge moves a load by percents, not twice.
MAX_RECEIVED_PER_DISPATCHED: Final = 2


class ManifestStatus(enum.StrEnum):
    CREATED = "CREATED"
    IN_TRANSIT = "IN_TRANSIT"
    RECEIVED = "RECEIVED"
    DISCREPANCY = "DISCREPANCY"
    RESOLVED = "RESOLVED"
    CANCELLED = "CANCELLED"


#: The weights differed by more than the tolerance (the discrepancy resolved since or not).
OVER_TOLERANCE: Final = frozenset({ManifestStatus.DISCREPANCY, ManifestStatus.RESOLVED})


class GapCause(enum.StrEnum):
    """Why a received weight differs from the dispatched one."""

    WEIGHING_ERROR = "WEIGHING_ERROR"
    MOISTURE_CHANGE = "MOISTURE_CHANGE"
    LOSS_IN_TRANSIT = "LOSS_IN_TRANSIT"

    @property
    def part_of_shipment(self) -> bool:
        """Whether the gap was never waste apart from the shipment (nothing was lost)."""
        return self is not GapCause.LOSS_IN_TRANSIT


class DiscrepancyState(enum.StrEnum):
    """Where the two parties stand on a discrepancy."""

    #: Neither party has named a cause.
    OPEN = "OPEN"
    #: One party named a cause; the other has not answered.
    PROPOSED = "PROPOSED"
    #: The parties named different causes (and have not agreed since).
    DISPUTED = "DISPUTED"
    RESOLVED = "RESOLVED"


@dataclass(frozen=True, slots=True)
class Resolution:
    """A discrepancy's cause as one party proposed it and, once agreed, the other's word."""

    cause: GapCause
    note: str
    proposed_by: str
    proposed_at: datetime
    agreed_note: str | None = None
    agreed_at: datetime | None = None
    #: When one party first named another cause than the other had proposed.
    disputed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Cancellation:
    """Who called a shipment off before it left, why and when."""

    by: str
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Route:
    """The planned transfer as matching confirmed it."""

    supplier_enterprise_id: str
    supplier_site_id: str
    recycler_enterprise_id: str
    recycler_site_id: str
    waste_code: str
    planned_tonnes: Decimal
    distance_km: Decimal
    planned_co2e_kg: Decimal
    freight_factor_key: str
    freight_factor_kg_per_tkm: Decimal
    avoided_factor_key: str | None
    avoided_factor_kg_per_tonne: Decimal | None


@dataclass(frozen=True, slots=True)
class Manifest:
    id: str
    match_id: str
    route: Route
    status: ManifestStatus
    created_at: datetime
    period: Period | None = None
    from_prior_stock: bool = False
    dispatched_tonnes: Decimal | None = None
    dispatched_at: datetime | None = None
    received_tonnes: Decimal | None = None
    received_at: datetime | None = None
    weight_gap_tonnes: Decimal | None = None
    weight_gap_ratio: Decimal | None = None
    carbon: Carbon | None = None
    resolution: Resolution | None = None
    cancellation: Cancellation | None = None
    #: The first day of the match's shipping window, before which nothing leaves (unknown
    #: for manifests opened before the ledger kept it: those leave any day).
    ship_from: date | None = None
    #: The last day of the match's shipping window (unknown for matches confirmed before
    #: matching said it).
    ship_by: date | None = None
    #: The recycler's licence the match's tonnes count against (unknown for manifests
    #: opened before the ledger kept it): a shipment no licence allows cannot leave.
    licence_id: str | None = None

    @property
    def supplier(self) -> str:
        return self.route.supplier_enterprise_id

    @property
    def recycler(self) -> str:
        return self.route.recycler_enterprise_id

    @property
    def waste_code(self) -> str:
        return self.route.waste_code

    @property
    def discrepancy(self) -> bool:
        """Whether the weights differed by more than the tolerance (resolved since or not)."""
        return self.status in OVER_TOLERANCE

    @property
    def discrepancy_state(self) -> DiscrepancyState | None:
        """Where the parties stand on the discrepancy; None when there is none."""
        if not self.discrepancy:
            return None
        if self.status is ManifestStatus.RESOLVED:
            return DiscrepancyState.RESOLVED
        if self.resolution is None:
            return DiscrepancyState.OPEN
        if self.resolution.disputed_at is not None:
            return DiscrepancyState.DISPUTED
        return DiscrepancyState.PROPOSED

    @property
    def credited_tonnes(self) -> Decimal | None:
        """What the supplier's books count as transferred: the received weight, never more
        than the dispatched (None until received)."""
        if self.received_tonnes is None or self.dispatched_tonnes is None:
            return None
        return credited(self.received_tonnes, self.dispatched_tonnes)

    def overdue_on(self, day: date) -> bool:
        """Not dispatched though its shipping window ended before `day`."""
        return (
            self.status is ManifestStatus.CREATED
            and self.ship_by is not None
            and day > self.ship_by
        )

    def involves(self, enterprise_id: str) -> bool:
        return enterprise_id in (self.supplier, self.recycler)

    def dispatch(
        self,
        *,
        actor_enterprise_id: str,
        tonnes: TonnesInput,
        from_prior_stock: bool,
        period: Period,
        at: datetime,
        recycler_licences: Sequence[Licence] = (),
        over_plan: Decimal = DEFAULT_OVER_PLAN,
    ) -> Manifest:
        """The supplier sends it, weighing up to `over_plan` more than planned;
        `recycler_licences` are the licences the ledger knows of the recycler (decision
        023)."""
        require_owner(
            actor_enterprise_id, self.supplier, f"the supplier side of manifest {self.id}"
        )
        if self.status is not ManifestStatus.CREATED:
            raise DomainError(
                errors.INVALID_MANIFEST_STATE,
                f"manifest {self.id} is {self.status}; only a CREATED manifest can be dispatched",
                "matchId",
            )
        opened, current = Period.of(self.created_at), Period.of(at)
        if not opened <= period <= current:
            raise DomainError(
                errors.INVALID_PERIOD,
                f"manifest {self.id} was opened in {opened} and it is {current}: its shipment "
                f"left in one of those months, not in {period}",
                "period",
            )
        sent = parse_tonnes(tonnes)
        most = (self.route.planned_tonnes * (1 + over_plan)).quantize(Decimal("0.001"))
        if sent > most:
            # The offer, the demand and the recycler's licence counted what was planned: a
            # heavier load would move waste no licence tonnage was set aside for.
            raise DomainError(
                errors.INVALID_QUANTITY,
                f"{sent} t is more than the {self.route.planned_tonnes} t match "
                f"{self.match_id} planned (at most {most} t may leave under it); the rest "
                "is another offer and match",
                "tonnes",
            )
        left = dispatch_days(self.created_at, period, at)
        # Before the licence: a day before the window is refused for the window, whatever
        # the licences say of it.
        require_window_open(
            self.ship_from, left, self.match_id, late_report=None if period == current else period
        )
        require_licensed(self.licence_id, recycler_licences, self.recycler, self.waste_code, left)
        return replace(
            self,
            status=ManifestStatus.IN_TRANSIT,
            period=period,
            from_prior_stock=from_prior_stock,
            dispatched_tonnes=sent,
            dispatched_at=at,
        )

    def receive(
        self,
        *,
        actor_enterprise_id: str,
        tonnes: TonnesInput,
        tolerance: Decimal,
        at: datetime,
    ) -> Manifest:
        require_owner(
            actor_enterprise_id, self.recycler, f"the recycler side of manifest {self.id}"
        )
        if self.status is not ManifestStatus.IN_TRANSIT or self.dispatched_tonnes is None:
            raise DomainError(
                errors.INVALID_MANIFEST_STATE,
                f"manifest {self.id} is {self.status}; only an IN_TRANSIT manifest can be received",
                "manifestId",
            )
        received = received_weight(tonnes)
        if received > self.dispatched_tonnes * MAX_RECEIVED_PER_DISPATCHED:
            # No load doubles on the road: a slip of unit (kilograms typed as tonnes) would be
            # booked as the recycler's intake for good, transfers being beyond correction.
            raise DomainError(
                errors.INVALID_QUANTITY,
                f"{received} t is more than {MAX_RECEIVED_PER_DISPATCHED} times the "
                f"{self.dispatched_tonnes} t dispatched: no load grows so on the road; "
                "give the received weight in tonnes",
                "tonnes",
            )
        gap = received - self.dispatched_tonnes
        # A load lost whole is a discrepancy whatever the tolerance (which may be 1).
        over = received == 0 or abs(gap) > tolerance * self.dispatched_tonnes
        return replace(
            self,
            status=ManifestStatus.DISCREPANCY if over else ManifestStatus.RECEIVED,
            received_tonnes=received,
            received_at=at,
            weight_gap_tonnes=gap,
            weight_gap_ratio=gap_ratio(gap, self.dispatched_tonnes, tolerance),
            carbon=carbon_of(self.route, credited(received, self.dispatched_tonnes)),
        )

    def _require_party(self, actor_enterprise_id: str, doing: str) -> None:
        if not self.involves(actor_enterprise_id):
            raise DomainError(
                errors.NOT_AUTHORIZED,
                f"manifest {self.id} belongs to other enterprises; only its two parties {doing}",
            )

    def cancel(self, *, actor_enterprise_id: str, reason: str, at: datetime) -> Manifest:
        """Either party calls the shipment off while nothing has left (`CREATED`)."""
        self._require_party(actor_enterprise_id, "cancel its shipment")
        if self.status is not ManifestStatus.CREATED:
            raise DomainError(
                errors.INVALID_MANIFEST_STATE,
                f"manifest {self.id} is {self.status}; only a shipment not yet dispatched "
                "(CREATED) can be cancelled",
                "manifestId",
            )
        text = required_text(reason, "reason", "say why the shipment is off")
        return replace(
            self,
            status=ManifestStatus.CANCELLED,
            cancellation=Cancellation(actor_enterprise_id, text, at),
        )

    def cancel_if_cut(
        self, recycler_licences: Sequence[Licence], *, today: date, grace_days: int, at: datetime
    ) -> Manifest:
        """Called off on the recycler's side when revocations, or amendments dropping the
        code, in force for `grace_days` leave it no licence to take the waste on any day to
        come; itself otherwise (decision 023). Judged only when the ledger knows the match's
        licence."""
        if self.status is not ManifestStatus.CREATED or not any(
            lic.id == self.licence_id for lic in recycler_licences
        ):
            return self
        cut = cut_for_good(
            recycler_licences,
            self.recycler,
            self.waste_code,
            today,
            grace_days,
            china_day(self.created_at),
        )
        if cut is None:
            return self
        reason = cut.reason(self.waste_code)
        return self.cancel(actor_enterprise_id=self.recycler, reason=reason, at=at)

    def resolve(
        self, *, actor_enterprise_id: str, cause: GapCause, note: str, at: datetime
    ) -> Manifest:
        """One party's word on the gap: a proposal, or the agreement with the other party's
        proposal of the same cause (`RESOLVED`)."""
        self._require_party(actor_enterprise_id, "resolve its discrepancy")
        if self.status is not ManifestStatus.DISCREPANCY or self.weight_gap_tonnes is None:
            raise DomainError(
                errors.INVALID_MANIFEST_STATE,
                f"manifest {self.id} is {self.status}; only a DISCREPANCY can be resolved",
                "manifestId",
            )
        if cause is not GapCause.LOSS_IN_TRANSIT and self.received_tonnes == 0:
            # Else a load that never came would count as shipped (`part_of_shipment`).
            raise DomainError(
                errors.INVALID_CAUSE,
                f"nothing of manifest {self.id} arrived: no scale or drying makes a whole "
                "load weigh nothing; a load lost whole is LOSS_IN_TRANSIT",
                "cause",
            )
        if cause is GapCause.LOSS_IN_TRANSIT and self.weight_gap_tonnes > 0:
            raise DomainError(
                errors.INVALID_CAUSE,
                f"manifest {self.id} arrived {self.weight_gap_tonnes} t heavier than it left: "
                "nothing was lost in transit",
                "cause",
            )
        text = required_text(note, "note", "say what caused the gap", errors.INVALID_NOTE)
        proposal = self.resolution
        if proposal is None:
            return replace(self, resolution=Resolution(cause, text, actor_enterprise_id, at))
        answer = proposal.proposed_by != actor_enterprise_id
        if answer and proposal.cause is cause:
            agreed = replace(proposal, agreed_note=text, agreed_at=at)
            return replace(self, status=ManifestStatus.RESOLVED, resolution=agreed)
        # A change of mind keeps the dispute as it was; another cause in answer starts one.
        disputed_at = proposal.disputed_at or (at if answer else None)
        answered = Resolution(cause, text, actor_enterprise_id, at, disputed_at=disputed_at)
        return replace(self, resolution=answered)


def gap_ratio(gap: Decimal, dispatched: Decimal, tolerance: Decimal) -> Decimal:
    """|gap| ÷ dispatched as shown: rounded *up* to 4 places (to the tolerance's own when it
    has more, up to 6: the column holds 20 characters), so it reads over the tolerance
    exactly when the weights are apart by more than it (a DISCREPANCY). Rounded to the
    nearest, a gap 1 kg over 2 % of 100 t read 0.0200 on a DISCREPANCY, as a gap of exactly
    2 % does on a receipt."""
    exponent = tolerance.normalize().as_tuple().exponent
    places = GAP_PLACES
    if isinstance(exponent, int):
        places = max(min(GAP_PLACES, Decimal(1).scaleb(exponent)), FINEST_GAP_PLACES)
    return (abs(gap) / dispatched).quantize(places, ROUND_UP)


#: What a load lost whole weighs on arrival.
NOTHING: Final = Decimal("0.000")


def received_weight(value: TonnesInput) -> Decimal:
    """A receipt's weight, 0 included: a load lost whole (an accident on the road) arrives as
    nothing, and its manifest must still end, as a discrepancy the parties put down to
    LOSS_IN_TRANSIT, instead of staying on the road for ever."""
    try:
        weight = exact_tonnes(value)
    except QuantityError:
        return parse_tonnes(value)  # refused, with the ledger's code and message
    if weight < 0:
        raise DomainError(
            errors.INVALID_QUANTITY,
            "a received weight cannot be negative (0 for a load lost whole)",
            "tonnes",
        )
    return NOTHING if weight == 0 else parse_tonnes(value)


def require_window_open(
    ship_from: date | None, left: Days, match_id: str, *, late_report: Period | None
) -> None:
    """Refuse a shipment that left (on one of `left`, China's days) before its match's
    shipping window opened on `ship_from` (decision 037): nothing was agreed for those days,
    the recycler takes the waste in from then, and matching checked its licences for the
    window's days only. A `late_report` (booked to an earlier month) is refused only when
    every day it may have left on is before the window: its month is then at fault. No
    window known: any day."""
    if ship_from is None or left.last >= ship_from:
        return
    why = (
        "nothing was agreed for the days before it: the recycler takes the waste in from "
        "then, and its licences were checked for the window's days"
    )
    if late_report is not None:
        raise DomainError(
            errors.SHIPPING_WINDOW_NOT_OPEN,
            f"booked to {late_report}, the shipment left by {left.last}, before the shipping "
            f"window of match {match_id} opened on {ship_from}; {why}. Book it to the month it "
            f"left, from {ship_from}",
            "period",
        )
    raise DomainError(
        errors.SHIPPING_WINDOW_NOT_OPEN,
        f"the shipping window of match {match_id} opens on {ship_from}; {why}. The shipment "
        f"may leave from {ship_from}",
        "matchId",
    )


def credited(received: Decimal, dispatched: Decimal) -> Decimal:
    """The tonnes a shipment counts for its supplier: the received weight, never more than
    the dispatched (decision 020)."""
    return min(received, dispatched)


def carbon_of(route: Route, tonnes: Decimal) -> Carbon:
    transport = tonnes * route.distance_km * route.freight_factor_kg_per_tkm
    avoided = tonnes * (route.avoided_factor_kg_per_tonne or Decimal(0))
    return Carbon(
        transport_co2e_kg=transport.quantize(KG_PLACES, ROUND_HALF_UP),
        avoided_co2e_kg=avoided.quantize(KG_PLACES, ROUND_HALF_UP),
    )


def create(
    *,
    manifest_id: str,
    match_id: str,
    route: Route,
    at: datetime,
    ship_from: date | None = None,
    ship_by: date | None = None,
    licence_id: str | None = None,
) -> Manifest:
    if route.planned_tonnes <= 0:
        raise DomainError(errors.INVALID_QUANTITY, "a manifest needs planned tonnes > 0", "tonnes")
    return Manifest(
        id=manifest_id,
        match_id=match_id,
        route=route,
        status=ManifestStatus.CREATED,
        created_at=at,
        ship_from=ship_from,
        ship_by=ship_by,
        licence_id=licence_id,
    )


def receipt_entries(
    manifest: Manifest,
    *,
    supplier_site: SiteFacts,
    recycler_site: SiteFacts,
    out_entry_id: str,
    in_entry_id: str,
    cause_event_id: str,
) -> tuple[Entry, ...]:
    """The two entries a receipt books, in the month of dispatch: the recycler's
    `transferred_in` at the received weight, the supplier's `transferred_out` at the
    credited weight (received, at most dispatched); none for a load lost whole.

    The supplier's entry carries the prior-stock flag and the carbon (it is the generator's
    委托利用, the tonne area totals count); the recycler's is intake only, never generation.
    """
    received, credited, period = manifest.received_tonnes, manifest.credited_tonnes, manifest.period
    if received is None or credited is None or period is None:
        raise ValueError(f"manifest {manifest.id} is {manifest.status}, not received")
    route = manifest.route
    if (supplier_site.site_id, supplier_site.enterprise_id) != (
        route.supplier_site_id,
        route.supplier_enterprise_id,
    ) or (recycler_site.site_id, recycler_site.enterprise_id) != (
        route.recycler_site_id,
        route.recycler_enterprise_id,
    ):
        raise ValueError(f"sites given do not match manifest {manifest.id}'s route")

    def entry(
        entry_id: str, kind: EntryKind, site: SiteFacts, tonnes: Decimal, outgoing: bool
    ) -> Entry:
        return Entry(
            id=entry_id,
            kind=kind,
            enterprise_id=site.enterprise_id,
            site_id=site.site_id,
            district=site.district,
            industry=site.industry,
            waste_code=route.waste_code,
            tonnes=tonnes,
            period=period,
            cause_event_id=cause_event_id,
            from_prior_stock=manifest.from_prior_stock and outgoing,
            manifest_id=manifest.id,
            carbon=manifest.carbon if outgoing else None,
        )

    if received == 0:  # a load lost whole: nothing reached the recycler, nothing to book
        return ()
    return (
        entry(out_entry_id, EntryKind.TRANSFERRED_OUT, supplier_site, credited, True),
        entry(in_entry_id, EntryKind.TRANSFERRED_IN, recycler_site, received, False),
    )
