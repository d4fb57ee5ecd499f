"""What offers and demands share: a tonnage, a window, owner, and one state machine.

    OPEN ──allocate──► PARTIALLY_MATCHED ──allocate──► FULLY_MATCHED
      ▲ ◄────release────┘  ▲ ◄──────────release──────────┘
    OPEN / PARTIALLY_MATCHED / FULLY_MATCHED ──withdraw (owner)──► WITHDRAWN
    OPEN / PARTIALLY_MATCHED ──window over──────► EXPIRED
    OPEN / PARTIALLY_MATCHED / FULLY_MATCHED ──amend (owner)──► the status its new quantity gives

An allocation is the tonnage of one accepted/confirmed match, kept by match id so that
applying the same match twice is a no-op and a rejection releases exactly what that match
took; a shipment lighter than its match lowers it to what left (`ship`, decision 032).
Withdrawal and expiry only stop the rest being offered; tonnes already allocated
stay with their matches until matching releases them (it rejects the matches of a withdrawn
listing that one side only has accepted: decision 030). `allocate` is the strict rule (only
live listings take new tonnes, up to what remains); `hold` records what the matching
service reports, also on a withdrawn or expired listing and past the quantity while an
earlier match's release is on its way, so the catalog agrees with matching whatever order
the facts arrive in.
An amendment changes the terms (quantity, window, and each kind's own) of a listing not
withdrawn or expired, never below the tonnes its matches hold. Transitions return a new
object (`dataclasses.replace`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar, Final, Self

from wastex_catalog.domain import errors
from wastex_catalog.domain.common import (
    DateInput,
    TonnesInput,
    Window,
    parse_tonnes,
    parse_window,
    require_a_term,
)
from wastex_shared.errors import DomainError, NotAuthorized

ZERO: Final = Decimal("0.000")


class ListingStatus(StrEnum):
    OPEN = "OPEN"
    PARTIALLY_MATCHED = "PARTIALLY_MATCHED"
    FULLY_MATCHED = "FULLY_MATCHED"
    WITHDRAWN = "WITHDRAWN"
    EXPIRED = "EXPIRED"


#: Still on the market: can take allocations, be withdrawn, expire.
ACTIVE_STATUSES: Final = frozenset({ListingStatus.OPEN, ListingStatus.PARTIALLY_MATCHED})
#: No way back from these (a release still returns tonnes, but nothing is re-offered).
TERMINAL_STATUSES: Final = frozenset({ListingStatus.WITHDRAWN, ListingStatus.EXPIRED})

TRANSITIONS: Final[dict[ListingStatus, frozenset[ListingStatus]]] = {
    ListingStatus.OPEN: frozenset(
        {
            ListingStatus.PARTIALLY_MATCHED,
            ListingStatus.FULLY_MATCHED,
            ListingStatus.WITHDRAWN,
            ListingStatus.EXPIRED,
        }
    ),
    ListingStatus.PARTIALLY_MATCHED: frozenset(
        {
            ListingStatus.OPEN,
            ListingStatus.PARTIALLY_MATCHED,  # another allocation or release, still part-way
            ListingStatus.FULLY_MATCHED,
            ListingStatus.WITHDRAWN,
            ListingStatus.EXPIRED,
        }
    ),
    # Withdrawn too: its owner leaves though matches hold every tonne (decision 030).
    ListingStatus.FULLY_MATCHED: frozenset(
        {ListingStatus.OPEN, ListingStatus.PARTIALLY_MATCHED, ListingStatus.WITHDRAWN}
    ),
    ListingStatus.WITHDRAWN: frozenset(),
    ListingStatus.EXPIRED: frozenset(),
}


def can_transition(source: ListingStatus, target: ListingStatus) -> bool:
    # Strict: withdrawing a WITHDRAWN listing is an error, not a silent no-op.
    return target in TRANSITIONS[source]


class AlreadyWithdrawn(DomainError):
    """Its owner withdrew a listing already withdrawn: refused as any other transition
    (INVALID_TRANSITION), and told apart so that a factory's system re-sending its state
    over Kafka is not dead-lettered for it."""

    def __init__(self, message: str) -> None:
        super().__init__(errors.INVALID_TRANSITION, message, "id")


@dataclass(frozen=True, slots=True)
class Allocation:
    match_id: str
    tonnes: Decimal


def _status_for(quantity: Decimal, matched: Decimal) -> ListingStatus:
    if matched <= 0:
        return ListingStatus.OPEN
    if matched >= quantity:
        return ListingStatus.FULLY_MATCHED
    return ListingStatus.PARTIALLY_MATCHED


@dataclass(frozen=True, slots=True, kw_only=True)
class Listing:
    """Base of `Offer` and `Demand`; not used on its own."""

    KIND: ClassVar[str] = "listing"
    #: The terms an owner may amend: attribute → the GraphQL field that names it.
    TERMS: ClassVar[dict[str, str]] = {
        "quantity_tonnes": "quantityTonnes",
        "available_from": "availableFrom",
        "available_until": "availableUntil",
    }

    id: str
    enterprise_id: str
    site_id: str
    #: The site's district, copied so district filters and regulator scopes need no join.
    district: str
    quantity_tonnes: Decimal
    available_from: date
    available_until: date
    status: ListingStatus = ListingStatus.OPEN
    allocations: tuple[Allocation, ...] = ()

    @property
    def window(self) -> Window:
        return Window(self.available_from, self.available_until)

    @property
    def matched_tonnes(self) -> Decimal:
        return sum((a.tonnes for a in self.allocations), ZERO)

    @property
    def remaining_tonnes(self) -> Decimal:
        """What is still on the market: none while holds exceed the quantity (`hold`)."""
        return max(self.quantity_tonnes - self.matched_tonnes, ZERO)

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def allocation(self, match_id: str) -> Allocation | None:
        return next((a for a in self.allocations if a.match_id == match_id), None)

    def _require(self, target: ListingStatus, action: str) -> None:
        if not can_transition(self.status, target):
            raise DomainError(
                errors.INVALID_TRANSITION,
                f"cannot {action} {self.KIND} {self.id}: it is {self.status.value}",
                "id",  # the owner's action names the listing by its id
            )

    def allocate(self, match_id: str, tonnes: TonnesInput) -> Self:
        """Take `tonnes` for an accepted/confirmed match; idempotent per match id."""
        amount, existing = self._check_allocation(match_id, tonnes)
        if existing is not None:
            return self  # the same match applied again (redelivery): nothing changes
        if not self.is_active:
            raise DomainError(
                errors.INVALID_TRANSITION,
                f"cannot allocate {self.KIND} {self.id}: it is {self.status.value}",
                "status",
            )
        self._check_remaining(amount)
        allocations = (*self.allocations, Allocation(match_id, amount))
        matched = self.matched_tonnes + amount
        return replace(
            self, allocations=allocations, status=_status_for(self.quantity_tonnes, matched)
        )

    def hold(self, match_id: str, tonnes: TonnesInput) -> Self:
        """Record the tonnes a match holds, as the matching service reports it.

        Matching decides what its matches hold; the catalog keeps its books in step, in
        whatever order the facts arrive (live, and again on replay). Facts travel by match,
        so one match's hold can come before the release of an earlier match of the same
        listing: the hold is recorded even past the quantity (FULLY_MATCHED, nothing
        remaining) and the release, when it comes, leaves the books as matching has them.
        A WITHDRAWN or EXPIRED listing records the hold too and keeps its status (matching
        may accept before it learns of the withdrawal or expiry). So does a listing whose
        owner lowered its quantity below the hold before the catalog read it: matching keeps
        a confirmed match past an amended quantity (decision 019). Refused is only a hold no
        order of facts explains: the same match with other tonnes.
        """
        amount, existing = self._check_allocation(match_id, tonnes)
        if existing is not None:
            return self  # the same match applied again (redelivery): nothing changes
        allocations = (*self.allocations, Allocation(match_id, amount))
        status = self.status
        if status not in TERMINAL_STATUSES:
            status = _status_for(self.quantity_tonnes, self.matched_tonnes + amount)
        return replace(self, allocations=allocations, status=status)

    def _check_allocation(
        self, match_id: str, tonnes: TonnesInput
    ) -> tuple[Decimal, Allocation | None]:
        """The parsed tonnes and the match's existing allocation (same tonnes) if any."""
        amount = parse_tonnes(tonnes, "tonnes")
        existing = self.allocation(match_id)
        if existing is not None and existing.tonnes != amount:
            raise DomainError(
                errors.ALLOCATION_CONFLICT,
                f"match {match_id} already holds {existing.tonnes} t of {self.KIND} {self.id}, "
                f"not {amount} t",
                "tonnes",
            )
        return amount, existing

    def _check_remaining(self, amount: Decimal) -> None:
        if amount > self.remaining_tonnes:
            raise DomainError(
                errors.ALLOCATION_EXCEEDS_REMAINING,
                f"{amount} t asked but only {self.remaining_tonnes} t of {self.KIND} "
                f"{self.id} remain",
                "tonnes",
            )

    def release(self, match_id: str) -> Self:
        """Give back what match `match_id` took (rejected/cancelled); no-op if it took none."""
        existing = self.allocation(match_id)
        if existing is None:
            return self
        allocations = tuple(a for a in self.allocations if a.match_id != match_id)
        status = self.status
        if status not in TERMINAL_STATUSES:
            # Withdrawn or expired listings stay so; only live ones go back on the market.
            status = _status_for(self.quantity_tonnes, self.matched_tonnes - existing.tonnes)
        return replace(self, allocations=allocations, status=status)

    def ship(self, match_id: str, tonnes: TonnesInput) -> Self:
        """Match `match_id`'s shipment left with `tonnes`: it holds no more than that from
        now on, and gives the rest back as a release does (decision 032). No-op when it
        holds none, or no more than what left (a heavier load takes nothing more)."""
        existing = self.allocation(match_id)
        kept = parse_tonnes(tonnes, "tonnes")
        if existing is None or kept >= existing.tonnes:
            return self
        allocations = tuple(
            Allocation(match_id, kept) if a.match_id == match_id else a for a in self.allocations
        )
        status = self.status
        if status not in TERMINAL_STATUSES:
            # As a release: withdrawn or expired listings stay so.
            status = _status_for(self.quantity_tonnes, self.matched_tonnes - existing.tonnes + kept)
        return replace(self, allocations=allocations, status=status)

    def withdraw(self, by_enterprise_id: str) -> Self:
        """Take it off the market; only the owner, not once withdrawn or expired. Matching
        rejects its matches not yet confirmed (decision 030); their releases, and a confirmed
        one's cancellation, no longer put it back on the market."""
        self._require_owner(by_enterprise_id, "withdraw")
        if self.status is ListingStatus.WITHDRAWN:
            raise AlreadyWithdrawn(
                f"cannot withdraw {self.KIND} {self.id}: it is {self.status.value}"
            )
        self._require(ListingStatus.WITHDRAWN, "withdraw")
        return replace(self, status=ListingStatus.WITHDRAWN)

    def _require_owner(self, enterprise_id: str, action: str) -> None:
        if enterprise_id != self.enterprise_id:
            raise NotAuthorized(f"only the owner may {action} {self.KIND} {self.id}", "id")

    def changed_terms(self, before: Listing) -> list[str]:
        """The GraphQL names of the terms that differ from `before`'s, in `TERMS` order."""
        terms = self.TERMS.items()
        return [name for attr, name in terms if getattr(self, attr) != getattr(before, attr)]

    def _amended(
        self,
        by_enterprise_id: str,
        *,
        quantity_tonnes: TonnesInput | None,
        available_from: DateInput | None,
        available_until: DateInput | None,
        today: date,
        **own_terms: Any,
    ) -> Self:
        """The listing with the terms given replaced, each checked as a posting checks it
        (a window changed must not be over); its status follows the new quantity. Only the
        owner, not once WITHDRAWN or EXPIRED, never below the tonnes its matches hold."""
        self._require_owner(by_enterprise_id, "amend")
        # `own_terms` holds only the terms given (a subclass leaves out those it was not).
        require_a_term(
            f"{self.KIND} {self.id}",
            quantity_tonnes,
            available_from,
            available_until,
            *own_terms.values(),
        )
        if self.status in TERMINAL_STATUSES:
            raise DomainError(
                errors.INVALID_TRANSITION,
                f"cannot amend {self.KIND} {self.id}: it is {self.status.value}",
                "id",
            )
        quantity = (
            self.quantity_tonnes
            if quantity_tonnes is None
            else parse_tonnes(quantity_tonnes, "quantityTonnes")
        )
        # Only a quantity given is checked: holds past the quantity (matching's facts in
        # an unlucky order) must not stop the owner correcting a window or a description.
        if quantity_tonnes is not None and quantity < self.matched_tonnes:
            raise DomainError(
                errors.QUANTITY_BELOW_MATCHED,
                f"accepted matches hold {self.matched_tonnes} t of {self.KIND} {self.id}: "
                f"its quantity cannot go below that (reject or cancel them first)",
                "quantityTonnes",
            )
        window = self.window
        if available_from is not None or available_until is not None:
            window = parse_window(
                self.available_from if available_from is None else available_from,
                self.available_until if available_until is None else available_until,
                start_field="availableFrom",
                end_field="availableUntil",
                today=today,
            )
        amended = replace(
            self,
            quantity_tonnes=quantity,
            available_from=window.start,
            available_until=window.end,
            status=_status_for(quantity, self.matched_tonnes),
            **own_terms,
        )
        if not amended.changed_terms(self):
            raise DomainError(
                errors.NOTHING_TO_AMEND, f"{self.KIND} {self.id} already reads so", "input"
            )
        return amended

    @property
    def last_day(self) -> date:
        """The last day it is on the market: its window's end."""
        return self.available_until

    @property
    def expiry_reason(self) -> str:
        """Why it leaves the market at `last_day`: its window ended (EXPIRED) or, for a
        demand, its licences did first (UNLICENSED; a lapse's grace days included)."""
        return "EXPIRED" if self.last_day >= self.available_until else "UNLICENSED"

    def is_due_to_expire(self, today: date) -> bool:
        """Active past its last day, or with no day on the market at all (a demand its
        licences no longer cover on any day of its window goes at once)."""
        return self.is_active and (today > self.last_day or self.last_day < self.available_from)

    def expire_if_due(self, today: date) -> Self:
        """EXPIRED once its last day is past; otherwise unchanged (for sweeps)."""
        if not self.is_due_to_expire(today):
            return self
        return replace(self, status=ListingStatus.EXPIRED)
