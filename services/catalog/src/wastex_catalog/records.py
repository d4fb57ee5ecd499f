"""What storage knows beyond the domain objects: creation time, version, match holders.

Shared by the adapters (which fill it), the use cases (which return it) and the GraphQL
layer (whose policy and cursors read it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import ClassVar, Generic, TypeVar

from wastex_catalog.domain import Enterprise, Licence, LicenceChange, Site

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Stored(Generic[T]):
    """A domain object with what storage knows about it."""

    entity: T
    created_at: datetime
    #: Changes so far (1 when created); offers and demands put it on their events.
    version: int = 1
    #: Enterprises holding an accepted match on this offer or demand.
    counterparties: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class MatchAllocation:
    """One row of `match_allocations` (see the table's docstring)."""

    match_id: str
    offer_id: str
    demand_id: str
    supplier_enterprise_id: str
    recycler_enterprise_id: str
    tonnes: Decimal
    state: str
    last_event_type: str

    ALLOCATED: ClassVar[str] = "ALLOCATED"
    RELEASED: ClassVar[str] = "RELEASED"

    @property
    def holds(self) -> bool:
        return self.state == self.ALLOCATED


@dataclass(frozen=True, slots=True)
class EnterpriseVersion:
    """An enterprise as its registration or an amendment left it (its audit trail)."""

    enterprise: Enterprise
    #: The admin's reason for an amendment; none for the registration.
    reason: str | None
    at: datetime
    #: Who made the change (the token's subject); None for registrations recorded before
    #: the trail was kept, which migration `c4e1a7d2b9f0` filled from the enterprise.
    by: str | None


@dataclass(frozen=True, slots=True)
class SiteVersion:
    """A site as its addition or an amendment left it (its audit trail)."""

    site: Site
    #: Why it was amended; none for the addition.
    reason: str | None
    at: datetime
    #: Who made the change (the token's subject); None for additions recorded before the
    #: trail was kept, which migration `e5b8c1d9a374` filled from the site.
    by: str | None


@dataclass(frozen=True, slots=True)
class LicenceVersion:
    """A licence as one registration, amendment or revocation left it (its audit trail)."""

    licence: Licence
    change: LicenceChange
    #: The admin's reason (an amendment's or a revocation's; none for a registration).
    reason: str | None
    at: datetime
    #: Who made the change (the token's subject); None for versions recorded before the
    #: trail was kept, which migration `5b2c41d7e0a3` filled from the licence as it stood.
    by: str | None
