"""What a read asks for, as plain data: the caller's scope, list filters and page position.

The GraphQL policy builds a `Scope` from the caller; the repository turns scope and filter
into SQL, so a page and its `totalCount` never include a record the caller may not see.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from wastex_catalog.domain import ListingStatus
from wastex_shared.envelope import holds_unstorable
from wastex_shared.errors import DomainError


@dataclass(frozen=True, slots=True)
class Scope:
    """The records a caller may read; a record matching any clause is visible.

    - `everything`: all records (admin, a regulator of all districts).
    - `districts`: records located in these districts (a regulator).
    - `enterprise_id`: the caller's own records, and listings it holds a match on.
    - `open_listings`: other enterprises' offers and demands still on the market.
    """

    everything: bool = False
    districts: frozenset[str] = frozenset()
    enterprise_id: str | None = None
    open_listings: bool = False


NOTHING = Scope()


@dataclass(frozen=True, slots=True)
class ListingFilter:
    """Filters of `offers(filter)` and `demands(filter)`; None means "any"."""

    enterprise_id: str | None = None
    waste_code: str | None = None
    status: ListingStatus | None = None
    district: str | None = None
    #: Listings whose availability window contains this day.
    available_on: date | None = None


@dataclass(frozen=True, slots=True)
class EnterpriseFilter:
    district: str | None = None
    kind: str | None = None
    #: A GB/T 4754 section, division, group or class: codes that start with it.
    industry: str | None = None
    #: Part of the name (case ignored).
    name_contains: str | None = None


@dataclass(frozen=True, slots=True)
class LicenceFilter:
    """The licence register's filters; all given must hold."""

    enterprise_id: str | None = None
    #: The holder's district.
    district: str | None = None
    #: Lists this code.
    waste_code: str | None = None
    #: Holds on this day (valid, not yet revoked).
    valid_on: date | None = None
    #: Its last valid day (its end, or the day before its revocation) is on or before this.
    expiring_by: date | None = None
    revoked: bool | None = None


@dataclass(frozen=True, slots=True)
class Position:
    """Where a keyset page starts: after the record with this creation time and id.

    Lists run newest first, ties broken by id, so pages stay stable while records are added.
    """

    created_at: datetime
    id: str

    def encode(self) -> str:
        return f"{self.created_at.astimezone(UTC).isoformat()}|{self.id}"

    @classmethod
    def decode(cls, value: str) -> Position:
        stamp, sep, ident = value.partition("|")
        try:
            parsed = datetime.fromisoformat(stamp)
            # A forged stamp at the ends of the calendar overflows when moved to UTC.
            created_at = parsed.astimezone(UTC) if parsed.tzinfo is not None else None
        except (ValueError, OverflowError):
            created_at = None
        if not sep or not ident or created_at is None or holds_unstorable(ident):
            raise DomainError("INVALID_CURSOR", "cursor is not one this API gave out", "after")
        return cls(created_at, ident)


@dataclass(frozen=True, slots=True)
class PageRequest:
    first: int
    after: Position | None = None
