"""The matching database: its own tables, plus the shared outbox and inbox.

A registry of its own keeps these tables out of other services' metadata, so each service
migrates and owns exactly its tables.

Two kinds of table:
- **read models** of catalog facts (`enterprises`, `sites`, `licences`, `offers`, `demands`,
  `listing_status`), kept from events and rebuilt by replay (`wastex_matching.replay`);
- the service's **own records**: `matches` and the one-row `reoptimise_state` whose
  `version` every change to the market bumps (the re-optimiser's dirty flag).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Column, Date, DateTime, Index, Integer, Numeric, Table, Text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from wastex_shared.storage import messaging_tables


class MatchingTable(SQLModel, registry=registry()):
    """Base of every matching table."""


def _tonnes(nullable: bool = False) -> Column[Decimal]:
    return Column(Numeric(14, 3), nullable=nullable)


def _when(nullable: bool = False) -> Column[datetime]:
    return Column(DateTime(timezone=True), nullable=nullable)


def _day() -> Column[date]:
    return Column(Date, nullable=False)


class EnterpriseRow(MatchingTable, table=True):
    __tablename__ = "enterprises"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=300)
    credit_code: str = Field(max_length=32)
    industry: str = Field(max_length=16)
    district: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    #: The catalog's version (registration 1, then amendments): the highest read is kept.
    version: int = Field(sa_column=Column(Integer, nullable=False, server_default="1"))


class SiteRow(MatchingTable, table=True):
    __tablename__ = "sites"

    id: str = Field(primary_key=True, max_length=64)
    enterprise_id: str = Field(index=True, max_length=64)
    name: str = Field(max_length=300)
    district: str = Field(max_length=64)
    latitude: Decimal = Field(sa_column=Column(Numeric(9, 6), nullable=False))
    longitude: Decimal = Field(sa_column=Column(Numeric(9, 6), nullable=False))
    #: The catalog's version (added 1, then amendments): the highest read is kept.
    version: int = Field(sa_column=Column(Integer, nullable=False, server_default="1"))


class LicenceRow(MatchingTable, table=True):
    __tablename__ = "licences"

    id: str = Field(primary_key=True, max_length=64)
    enterprise_id: str = Field(index=True, max_length=64)
    number: str = Field(max_length=100)
    #: JSON list of codes.
    waste_codes: str = Field(sa_column=Column(Text, nullable=False))
    annual_capacity_tonnes: Decimal = Field(sa_column=_tonnes())
    valid_from: date = Field(sa_column=_day())
    #: The last day the licence holds: its end, or the day before its revocation (which
    #: may fall before `valid_from`: a licence revoked before it began never holds).
    valid_until: date = Field(sa_column=_day())
    licence_type: str = Field(max_length=40)
    #: The catalog's version of the licence: a fact older than the row is ignored.
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False, server_default="1"))


class OfferRow(MatchingTable, table=True):
    __tablename__ = "offers"

    id: str = Field(primary_key=True, max_length=64)
    enterprise_id: str = Field(index=True, max_length=64)
    site_id: str = Field(max_length=64)
    district: str = Field(max_length=64)
    latitude: Decimal = Field(sa_column=Column(Numeric(9, 6), nullable=False))
    longitude: Decimal = Field(sa_column=Column(Numeric(9, 6), nullable=False))
    waste_code: str = Field(index=True, max_length=8)
    hazardous: bool = False
    quantity_tonnes: Decimal = Field(sa_column=_tonnes())
    available_from: date = Field(sa_column=_day())
    available_until: date = Field(sa_column=_day())
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    #: The catalog's version of the terms above (1 when posted, more once amended): a
    #: posting or amendment older than the row is ignored.
    terms_version: int = Field(
        default=1, sa_column=Column(Integer, nullable=False, server_default="1")
    )
    #: The market version of the transaction that last wrote this row: a round reads only
    #: the listings changed since the version it last read (`repository.ListingCache`).
    market_version: int = Field(default=0, index=True)


class DemandRow(MatchingTable, table=True):
    __tablename__ = "demands"

    id: str = Field(primary_key=True, max_length=64)
    enterprise_id: str = Field(index=True, max_length=64)
    site_id: str = Field(max_length=64)
    district: str = Field(max_length=64)
    latitude: Decimal = Field(sa_column=Column(Numeric(9, 6), nullable=False))
    longitude: Decimal = Field(sa_column=Column(Numeric(9, 6), nullable=False))
    #: JSON list of codes.
    waste_codes: str = Field(sa_column=Column(Text, nullable=False))
    quantity_tonnes: Decimal = Field(sa_column=_tonnes())
    max_distance_km: Decimal = Field(sa_column=Column(Numeric(10, 3), nullable=False))
    available_from: date = Field(sa_column=_day())
    available_until: date = Field(sa_column=_day())
    #: The catalog's version of the terms above (1 when posted, more once amended): a
    #: posting or amendment older than the row is ignored.
    terms_version: int = Field(
        default=1, sa_column=Column(Integer, nullable=False, server_default="1")
    )
    #: The market version of the transaction that last wrote this row: a round reads only
    #: the listings changed since the version it last read (`repository.ListingCache`).
    market_version: int = Field(default=0, index=True)


class ListingStatusRow(MatchingTable, table=True):
    """The catalog's latest word on an offer's or demand's status.

    Kept apart from the listing because withdrawals and updates travel on other topics than
    the posting and may arrive first: the highest listing `version` wins, and WITHDRAWN and
    EXPIRED stay final whatever comes later.
    """

    __tablename__ = "listing_status"

    id: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=8)  # offer | demand
    status: str = Field(max_length=24)
    remaining_tonnes: Decimal | None = Field(default=None, sa_column=_tonnes(nullable=True))
    #: The catalog's listing version this status came with.
    version: int = 0
    #: The market version of the transaction that last wrote this row: a round reads only
    #: the listings changed since the version it last read (`repository.ListingCache`).
    market_version: int = Field(default=0, index=True)


class MatchRow(MatchingTable, table=True):
    __tablename__ = "matches"
    __table_args__ = (
        Index("ix_matches_listing", "proposed_at", "id"),
        Index("ix_matches_pair", "offer_id", "demand_id"),
    )

    id: str = Field(primary_key=True, max_length=64)
    #: Looked up by `ix_matches_pair`, which it leads: an index of its own was one more
    #: page each new match wrote, for nothing.
    offer_id: str = Field(max_length=64)
    demand_id: str = Field(index=True, max_length=64)
    licence_id: str | None = Field(default=None, max_length=64)
    supplier_enterprise_id: str = Field(index=True, max_length=64)
    supplier_site_id: str = Field(max_length=64)
    supplier_district: str = Field(index=True, max_length=64)
    recycler_enterprise_id: str = Field(index=True, max_length=64)
    recycler_site_id: str = Field(max_length=64)
    recycler_district: str = Field(index=True, max_length=64)
    waste_code: str = Field(max_length=8)
    tonnes: Decimal = Field(sa_column=_tonnes())
    #: What its shipment left with (set once, at dispatch): it holds min(tonnes, this).
    shipped_tonnes: Decimal | None = Field(default=None, sa_column=_tonnes(nullable=True))
    distance_km: Decimal = Field(sa_column=Column(Numeric(10, 3), nullable=False))
    co2e_kg: Decimal = Field(sa_column=Column(Numeric(16, 3), nullable=False))
    avoided_co2e_kg: Decimal | None = Field(
        default=None, sa_column=Column(Numeric(16, 3), nullable=True)
    )
    avoided_factor_key: str | None = Field(default=None, max_length=100)
    freight_factor_key: str = Field(max_length=100)
    freight_factor_kg_per_tkm: Decimal = Field(sa_column=Column(Numeric(12, 6), nullable=False))
    freight_factor_source: str = Field(default="", sa_column=Column(Text, nullable=False))
    window_from: date = Field(sa_column=_day())
    window_until: date = Field(sa_column=_day())
    licence_year: int
    status: str = Field(index=True, max_length=24)
    supplier_accepted_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    recycler_accepted_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    rejected_by: str | None = Field(default=None, max_length=16)
    rejection_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    expiry_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    cancelled_by: str | None = Field(default=None, max_length=16)
    cancel_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    explanation: str = Field(default="", sa_column=Column(Text, nullable=False))
    #: JSON list of {demandId, reason, distanceKm, detail}.
    alternatives: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    #: How many earlier matches the same (offer, demand) pair had: part of the derived id.
    generation: int = 0
    proposed_at: datetime = Field(sa_column=_when())
    updated_at: datetime = Field(sa_column=_when())
    #: Optimistic lock: every change checks and bumps it.
    version: int = 1


class ReoptimiseStateRow(MatchingTable, table=True):
    """One row: `version` goes up with every change that may alter the best allocation."""

    __tablename__ = "reoptimise_state"

    id: int = Field(primary_key=True)
    version: int = 0


metadata = MatchingTable.metadata
messaging = messaging_tables(metadata)


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a model, typed (query conditions on `table.c` type-check)."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


MATCHES = table_of(MatchRow)
OFFERS = table_of(OfferRow)
DEMANDS = table_of(DemandRow)
LISTING_STATUS = table_of(ListingStatusRow)
REOPTIMISE_STATE = table_of(ReoptimiseStateRow)

#: Read models rebuilt from catalog topics by replay (matches are the service's own).
READ_MODEL_TABLES = tuple(
    table_of(model)
    for model in (EnterpriseRow, SiteRow, LicenceRow, OfferRow, DemandRow, ListingStatusRow)
)
