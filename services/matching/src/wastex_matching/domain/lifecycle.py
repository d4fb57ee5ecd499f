"""The Match state machine.

    PROPOSED ──accept(SUPPLIER)──► ACCEPTED_BY_SUPPLIER ──accept(RECYCLER)──► CONFIRMED
        └─────accept(RECYCLER)──► ACCEPTED_BY_RECYCLER ──accept(SUPPLIER)──►─┘
    PROPOSED / ACCEPTED_BY_*  ──reject(party, reason)──► REJECTED
    PROPOSED / ACCEPTED_BY_*  ──expire (window over)───► EXPIRED
    PROPOSED                  ──supersede (re-optimised)► SUPERSEDED
    CONFIRMED                 ──cancel (shipment called off before it left)► CANCELLED

Only PROPOSED is *provisional*: re-optimisation may replace it. Once either party has
accepted, the match is *fixed*: it keeps its tonnes (offer, demand and licence capacity)
while the other party decides, and re-optimisation works around it. Either party may
still reject before confirmation (an acceptance is withdrawn by rejecting). CONFIRMED is
final here (shipments follow in the ledger), unless a party calls its shipment off in the
ledger before dispatch: then it is CANCELLED and gives its tonnes back. Once dispatched it
stays CONFIRMED and records the load; a lighter one holds only what left (decision 032).
REJECTED, EXPIRED, SUPERSEDED and CANCELLED are terminal.

Every illegal move raises `DomainError("INVALID_TRANSITION")`, including accepting twice:
the caller deduplicates redelivered commands by id, so a second accept is a user error.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from wastex_matching.domain import errors
from wastex_shared.errors import DomainError

#: A rejection reason is free text shown to the other party; keep it to a paragraph.
REASON_MAX_LENGTH: Final = 500


class MatchStatus(StrEnum):
    PROPOSED = "PROPOSED"
    ACCEPTED_BY_SUPPLIER = "ACCEPTED_BY_SUPPLIER"
    ACCEPTED_BY_RECYCLER = "ACCEPTED_BY_RECYCLER"
    CONFIRMED = "CONFIRMED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    SUPERSEDED = "SUPERSEDED"
    CANCELLED = "CANCELLED"


class Party(StrEnum):
    SUPPLIER = "SUPPLIER"
    RECYCLER = "RECYCLER"

    @property
    def other(self) -> Party:
        return Party.RECYCLER if self is Party.SUPPLIER else Party.SUPPLIER

    @classmethod
    def parse(cls, value: Party | str) -> Party:
        try:
            return cls(value.strip().upper() if isinstance(value, str) else value)
        except ValueError as exc:
            raise DomainError(
                errors.INVALID_PARTY, f"{value!r} is not SUPPLIER or RECYCLER", "party"
            ) from exc


ACCEPTED_BY: Final = {
    Party.SUPPLIER: MatchStatus.ACCEPTED_BY_SUPPLIER,
    Party.RECYCLER: MatchStatus.ACCEPTED_BY_RECYCLER,
}
PROVISIONAL: Final = frozenset({MatchStatus.PROPOSED})
FIXED: Final = frozenset(
    {MatchStatus.ACCEPTED_BY_SUPPLIER, MatchStatus.ACCEPTED_BY_RECYCLER, MatchStatus.CONFIRMED}
)
OPEN: Final = PROVISIONAL | {MatchStatus.ACCEPTED_BY_SUPPLIER, MatchStatus.ACCEPTED_BY_RECYCLER}
AGREED: Final = frozenset({MatchStatus.CONFIRMED, MatchStatus.CANCELLED})
TERMINAL: Final = frozenset(
    {MatchStatus.REJECTED, MatchStatus.EXPIRED, MatchStatus.SUPERSEDED, MatchStatus.CANCELLED}
)


def is_provisional(status: MatchStatus) -> bool:
    """Re-optimisation may replace it (only PROPOSED)."""
    return status in PROVISIONAL


def is_fixed(status: MatchStatus) -> bool:
    """Accepted by someone or confirmed: holds its capacity, never re-optimised."""
    return status in FIXED


def is_terminal(status: MatchStatus) -> bool:
    return status in TERMINAL


def is_agreed(status: MatchStatus) -> bool:
    """Both parties accepted it (CONFIRMED, and CANCELLED, which only follows CONFIRMED)."""
    return status in AGREED


#: The argument a refused move names: the match (`acceptMatch(id:)`, `rejectMatch(id:)`), as
#: the catalog's refusals name `id`.
MATCH_FIELD: Final = "id"


def accept(status: MatchStatus, party: Party | str) -> MatchStatus:
    """`party` accepts: the first acceptance fixes the match, the second confirms it."""
    who = Party.parse(party)
    if status is MatchStatus.PROPOSED:
        return ACCEPTED_BY[who]
    if status is ACCEPTED_BY[who.other]:
        return MatchStatus.CONFIRMED
    if status is ACCEPTED_BY[who]:
        raise DomainError(
            errors.INVALID_TRANSITION,
            f"the {who.lower()} has already accepted this match",
            MATCH_FIELD,
        )
    raise _invalid(status, "accept")


def reject(status: MatchStatus, party: Party | str, reason: str) -> MatchStatus:
    """Either party turns the match down before it is confirmed; `reason` is required."""
    Party.parse(party)
    # The state first: asking a reason for a match that cannot be rejected misleads.
    if status is MatchStatus.CONFIRMED:
        raise DomainError(
            errors.INVALID_TRANSITION,
            "cannot reject a match that is CONFIRMED: either party may call its shipment "
            "off before it leaves (cancelShipment)",
            MATCH_FIELD,
        )
    if status not in OPEN:
        raise _invalid(status, "reject")
    text = (reason or "").strip()
    if not text:
        raise DomainError(errors.REQUIRED_FIELD, "a rejection needs a reason", "reason")
    if len(text) > REASON_MAX_LENGTH:
        raise DomainError(
            errors.TEXT_TOO_LONG, f"reason is longer than {REASON_MAX_LENGTH} characters", "reason"
        )
    return MatchStatus.REJECTED


def expire(status: MatchStatus) -> MatchStatus:
    """The transfer window passed before both parties accepted."""
    if status not in OPEN:
        raise _invalid(status, "expire")
    return MatchStatus.EXPIRED


def supersede(status: MatchStatus) -> MatchStatus:
    """Re-optimisation replaced this proposal; only a provisional match can be replaced."""
    if status not in PROVISIONAL:
        raise _invalid(status, "supersede")
    return MatchStatus.SUPERSEDED


def cancel(status: MatchStatus) -> MatchStatus:
    """Its shipment was called off before it left (the ledger's word): only a confirmed match
    has one."""
    if status is not MatchStatus.CONFIRMED:
        raise _invalid(status, "cancel")
    return MatchStatus.CANCELLED


def _invalid(status: MatchStatus, move: str) -> DomainError:
    return DomainError(
        errors.INVALID_TRANSITION, f"cannot {move} a match that is {status}", MATCH_FIELD
    )
