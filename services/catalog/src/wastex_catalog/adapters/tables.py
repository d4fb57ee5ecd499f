"""The catalog database: its own tables, plus the shared outbox and inbox.

A registry of its own keeps these tables out of other services' metadata, so each service
migrates and owns exactly its tables. The SQLModel classes declare the schema; the
repository works on their Core tables (`ENTERPRISES`, `OFFERS`, …), which keeps row ↔
domain mapping explicit and free of ORM session state.

Enterprises, sites, licences, offers and demands are the catalog's system of record.
`match_allocations` is a read model of matching's lifecycle events (what each accepted
match holds) and is rebuilt by `wastex_catalog.replay`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    Table,
    Text,
)
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from wastex_shared.storage import messaging_tables

ID_LENGTH = 64

#: Named constraints, so SQLite's batch migrations can find them again by name.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class CatalogTable(SQLModel, registry=registry(metadata=MetaData(naming_convention=NAMING))):
    """Base of every catalog table."""


def _timestamp(**kwargs: Any) -> Any:
    # Aware timestamps; SQLite drops the offset, so the repository stores and reads UTC.
    return Field(sa_column=Column(DateTime(timezone=True), nullable=False, **kwargs))


def _tonnes(**kwargs: Any) -> Any:
    return Field(sa_column=Column(Numeric(14, 3), nullable=False, **kwargs))


def _date(**kwargs: Any) -> Any:
    return Field(sa_column=Column(Date(), nullable=False, **kwargs))


class EnterpriseRow(CatalogTable, table=True):
    __tablename__ = "enterprises"
    __table_args__ = (Index("ix_enterprises_page", "created_at", "id"),)

    id: str = Field(primary_key=True, max_length=ID_LENGTH)
    name: str = Field(max_length=200)
    credit_code: str = Field(max_length=18, unique=True)
    industry: str = Field(max_length=5)
    district: str = Field(max_length=100, index=True)
    kind: str = Field(max_length=10)
    created_at: datetime = _timestamp()
    #: 1 when registered, one more with each amendment.
    version: int = Field(sa_column=Column(Integer, nullable=False, server_default="1"))


class EnterpriseVersionRow(CatalogTable, table=True):
    """Each version of an enterprise as its registration or an amendment left it, with why,
    when and by whom: append-only, the enterprise's audit trail."""

    __tablename__ = "enterprise_versions"

    enterprise_id: str = Field(
        primary_key=True, max_length=ID_LENGTH, foreign_key="enterprises.id", ondelete="RESTRICT"
    )
    version: int = Field(primary_key=True)
    reason: str | None = Field(default=None, max_length=500)
    changed_at: datetime = _timestamp()
    changed_by: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    name: str = Field(max_length=200)
    industry: str = Field(max_length=5)
    district: str = Field(max_length=100)


class SiteRow(CatalogTable, table=True):
    __tablename__ = "sites"

    id: str = Field(primary_key=True, max_length=ID_LENGTH)
    enterprise_id: str = Field(
        max_length=ID_LENGTH, foreign_key="enterprises.id", index=True, ondelete="RESTRICT"
    )
    name: str = Field(max_length=200)
    district: str = Field(max_length=100, index=True)
    latitude: Decimal = Field(sa_column=Column(Numeric(9, 6), nullable=False))
    longitude: Decimal = Field(sa_column=Column(Numeric(10, 6), nullable=False))
    created_at: datetime = _timestamp()
    #: 1 when added, one more with each amendment.
    version: int = Field(sa_column=Column(Integer, nullable=False, server_default="1"))


class SiteVersionRow(CatalogTable, table=True):
    """Each version of a site as its addition or an amendment left it, with why, when and
    by whom: append-only, the site's audit trail."""

    __tablename__ = "site_versions"

    site_id: str = Field(
        primary_key=True, max_length=ID_LENGTH, foreign_key="sites.id", ondelete="RESTRICT"
    )
    version: int = Field(primary_key=True)
    reason: str | None = Field(default=None, max_length=500)
    changed_at: datetime = _timestamp()
    changed_by: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    name: str = Field(max_length=200)
    district: str = Field(max_length=100)
    latitude: Decimal = Field(sa_column=Column(Numeric(9, 6), nullable=False))
    longitude: Decimal = Field(sa_column=Column(Numeric(10, 6), nullable=False))


class SiteRegisterRow(CatalogTable, table=True):
    """One row counting the site amendments ever made: a catalog process keeps the sites it
    has read (`CatalogRepository.site`) while this count stays what it read; a posting reads
    it under a shared lock, an amendment raises it under an exclusive one (decision 026)."""

    __tablename__ = "site_register"

    id: int = Field(primary_key=True)
    amendments: int = Field(sa_column=Column(Integer, nullable=False, server_default="0"))


class LicenceRow(CatalogTable, table=True):
    __tablename__ = "licences"

    id: str = Field(primary_key=True, max_length=ID_LENGTH)
    enterprise_id: str = Field(
        max_length=ID_LENGTH, foreign_key="enterprises.id", index=True, ondelete="RESTRICT"
    )
    number: str = Field(max_length=100, unique=True)
    #: The number as uniqueness compares it (`domain.licence.number_key`); text, as NFKC
    #: and case folding may lengthen a number ("ß" is "ss").
    number_key: str = Field(sa_column=Column(Text, nullable=False, unique=True))
    waste_codes: list[str] = Field(sa_column=Column(JSON, nullable=False))
    annual_capacity_tonnes: Decimal = _tonnes()
    valid_from: date = _date()
    valid_until: date = _date()
    type: str = Field(max_length=40)
    created_at: datetime = _timestamp()
    #: The first day the licence no longer holds, when revoked (decision 017).
    revoked_on: date | None = Field(default=None, sa_column=Column(Date(), nullable=True))
    revocation_reason: str | None = Field(default=None, max_length=500)
    #: Raised by every amendment or revocation: orders the facts readers get.
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False, server_default="1"))


class LicenceVersionRow(CatalogTable, table=True):
    """Each version of a licence as a registration, amendment or revocation left it, with
    why, when and by whom: append-only, the licence's audit trail."""

    __tablename__ = "licence_versions"

    licence_id: str = Field(
        primary_key=True, max_length=ID_LENGTH, foreign_key="licences.id", ondelete="RESTRICT"
    )
    version: int = Field(primary_key=True)
    change: str = Field(max_length=20)
    reason: str | None = Field(default=None, max_length=500)
    changed_at: datetime = _timestamp()
    changed_by: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    waste_codes: list[str] = Field(sa_column=Column(JSON, nullable=False))
    annual_capacity_tonnes: Decimal = _tonnes()
    valid_from: date = _date()
    valid_until: date = _date()
    revoked_on: date | None = Field(default=None, sa_column=Column(Date(), nullable=True))


class OfferRow(CatalogTable, table=True):
    __tablename__ = "offers"
    __table_args__ = (
        Index("ix_offers_page", "created_at", "id"),
        Index("ix_offers_expiry", "status", "available_until"),
    )

    id: str = Field(primary_key=True, max_length=ID_LENGTH)
    enterprise_id: str = Field(
        max_length=ID_LENGTH, foreign_key="enterprises.id", index=True, ondelete="RESTRICT"
    )
    site_id: str = Field(max_length=ID_LENGTH, foreign_key="sites.id", ondelete="RESTRICT")
    #: The site's district, copied so district filters and regulator scopes need no join.
    district: str = Field(max_length=100, index=True)
    waste_code: str = Field(max_length=16, index=True)
    hazardous: bool
    quantity_tonnes: Decimal = _tonnes()
    available_from: date = _date()
    available_until: date = _date()
    description: str = Field(sa_column=Column(Text, nullable=False))
    moisture_percent: Decimal | None = Field(sa_column=Column(Numeric(6, 3), nullable=True))
    particle_size_mm: Decimal | None = Field(sa_column=Column(Numeric(12, 3), nullable=True))
    status: str = Field(max_length=20)
    #: Counts changes (1 when posted); events carry it so consumers can drop stale ones.
    version: int
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()


class DemandRow(CatalogTable, table=True):
    __tablename__ = "demands"
    __table_args__ = (
        Index("ix_demands_page", "created_at", "id"),
        Index("ix_demands_expiry", "status", "available_until"),
    )

    id: str = Field(primary_key=True, max_length=ID_LENGTH)
    enterprise_id: str = Field(
        max_length=ID_LENGTH, foreign_key="enterprises.id", index=True, ondelete="RESTRICT"
    )
    site_id: str = Field(max_length=ID_LENGTH, foreign_key="sites.id", ondelete="RESTRICT")
    district: str = Field(max_length=100, index=True)
    waste_codes: list[str] = Field(sa_column=Column(JSON, nullable=False))
    quantity_tonnes: Decimal = _tonnes()
    max_distance_km: Decimal = Field(sa_column=Column(Numeric(8, 3), nullable=False))
    available_from: date = _date()
    available_until: date = _date()
    #: The last day its holder's licences cover one of its codes, when that is before
    #: `available_until` (a licence amended or revoked since): it expires after it.
    licensed_until: date | None = Field(default=None, sa_column=Column(Date(), nullable=True))
    #: Set with `licensed_until` when that day ends a licence's term: the last day the
    #: demand waits for a renewal (decision 034); it expires after it.
    awaits_renewal_until: date | None = Field(default=None, sa_column=Column(Date(), nullable=True))
    status: str = Field(max_length=20)
    version: int
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()


class DemandCodeRow(CatalogTable, table=True):
    """One row per accepted code of a demand: the index behind the `wasteCode` filter."""

    __tablename__ = "demand_waste_codes"

    demand_id: str = Field(
        primary_key=True, max_length=ID_LENGTH, foreign_key="demands.id", ondelete="CASCADE"
    )
    waste_code: str = Field(primary_key=True, max_length=16, index=True)


class MatchAllocationRow(CatalogTable, table=True):
    """What one match holds of an offer and a demand, learned from matching's events.

    `state` ALLOCATED while the match is accepted or confirmed; RELEASED once it was
    rejected, expired or superseded. A RELEASED row is kept as a tombstone: events of one
    match arrive on different topics, so an `accepted` read after its `rejected` must not
    allocate again.
    """

    __tablename__ = "match_allocations"

    match_id: str = Field(primary_key=True, max_length=ID_LENGTH)
    offer_id: str = Field(max_length=ID_LENGTH, index=True)
    demand_id: str = Field(max_length=ID_LENGTH, index=True)
    supplier_enterprise_id: str = Field(max_length=ID_LENGTH)
    recycler_enterprise_id: str = Field(max_length=ID_LENGTH, index=True)
    tonnes: Decimal = _tonnes()
    state: str = Field(max_length=10)
    last_event_type: str = Field(max_length=100)
    updated_at: datetime = _timestamp()


metadata = CatalogTable.metadata
messaging = messaging_tables(metadata)


def _table(name: str) -> Table:
    return metadata.tables[name]


ENTERPRISES = _table("enterprises")
ENTERPRISE_VERSIONS = _table("enterprise_versions")
SITES = _table("sites")
SITE_VERSIONS = _table("site_versions")
SITE_REGISTER = _table("site_register")
LICENCES = _table("licences")
LICENCE_VERSIONS = _table("licence_versions")
OFFERS = _table("offers")
DEMANDS = _table("demands")
DEMAND_CODES = _table("demand_waste_codes")
MATCH_ALLOCATIONS = _table("match_allocations")
