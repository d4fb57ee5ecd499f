"""The ledger database: its own tables, plus the shared outbox and inbox.

A registry of its own keeps these tables out of other services' metadata, so each service
migrates and owns exactly its tables.

Tables are SQLAlchemy Core tables on that registry's metadata (not SQLModel classes): the
repository works in Core statements (upserts, sums) and quantities are stored as integer
*kilograms* (CO2e as integer grams), which both SQLite and PostgreSQL keep exactly
(SQLite has no exact decimal type). Times are stored as integer microseconds since the
epoch for the same reason (portable ordering and keyset paging on (time, id)). Decimals
that are only shown, never summed (distances, factors, ratios), are kept as exact strings.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import registry
from sqlmodel import SQLModel

from wastex_ledger.domain.figures import COLUMNS
from wastex_shared.envelope import REFERENCE_LENGTH
from wastex_shared.storage import messaging_tables
from wastex_shared.storage.tables import OUTBOX_KEY_LENGTH


class LedgerTable(SQLModel, registry=registry()):
    """Base of every ledger table."""


metadata = LedgerTable.metadata
messaging = messaging_tables(metadata)

ID = 64

#: Read model of catalog.site-added / -amended (site → enterprise, district, industry).
sites = Table(
    "sites",
    metadata,
    Column("site_id", String(ID), primary_key=True),
    Column("enterprise_id", String(ID), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    #: Where the site is: the district its entries count in.
    Column("district", String(100), nullable=False),
    #: The enterprise's industry and registered district (regulators' jurisdiction).
    Column("industry", String(20), nullable=False),
    Column("enterprise_district", String(100), nullable=False),
    #: The enterprise version those two are of: an older one read later leaves them be.
    Column("enterprise_version", Integer, nullable=False, server_default="1"),
    #: The site's own version its name and district are of (decision 026): likewise.
    Column("version", Integer, nullable=False, server_default="1"),
)

#: Read model of catalog.enterprise-registered / -amended, the latest version of each (for
#: regulators' district visibility and league tables).
enterprises = Table(
    "enterprises",
    metadata,
    Column("enterprise_id", String(ID), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("industry", String(20), nullable=False),
    Column("district", String(100), nullable=False, index=True),
    Column("kind", String(20), nullable=False),
    Column("version", Integer, nullable=False, server_default="1"),
)

#: Read model of catalog.licence-registered / -amended (the latest version of each): whether
#: a recycler may take a shipment's waste when it leaves (decision 023).
licences = Table(
    "licences",
    metadata,
    Column("licence_id", String(ID), primary_key=True),
    Column("enterprise_id", String(ID), nullable=False, index=True),
    Column("number", String(100), nullable=False),
    Column("waste_codes", JSON, nullable=False),
    Column("licence_type", String(40), nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_until", Date, nullable=False),
    Column("revoked_on", Date, nullable=True),
    Column("revocation_read_on", Date, nullable=True),
    #: Codes a version no longer lists: {code: ISO day first read without it}; NULL if none.
    Column("codes_dropped", JSON(none_as_null=True), nullable=True),
    Column("version", Integer, nullable=False),
)

#: The append-only journal: rows are inserted, never updated or deleted.
entries = Table(
    "entries",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("enterprise_id", String(ID), nullable=False),
    Column("site_id", String(ID), nullable=False),
    Column("district", String(100), nullable=False),
    Column("industry", String(20), nullable=False),
    Column("waste_code", String(16), nullable=False),
    Column("kilograms", BigInteger, nullable=False),
    Column("period", String(7), nullable=False),
    Column("from_prior_stock", Boolean, nullable=False),
    Column("cause_event_id", String(200), nullable=False),
    Column("reverses", String(ID), nullable=True),
    Column("reason", String(500), nullable=True),
    Column("manifest_id", String(ID), nullable=True),
    Column("transport_co2e_grams", BigInteger, nullable=True),
    Column("avoided_co2e_grams", BigInteger, nullable=True),
    Column("recorded_at_us", BigInteger, nullable=False),
    # At most one reversal per entry, enforced by the database as well as the domain.
    UniqueConstraint("reverses", name="uq_entries_reverses"),
    Index("ix_entries_enterprise_order", "enterprise_id", "recorded_at_us", "id"),
    Index("ix_entries_district_order", "district", "recorded_at_us", "id"),
    Index("ix_entries_order", "recorded_at_us", "id"),
)

#: Electronic manifests (电子联单), one per confirmed match.
manifests = Table(
    "manifests",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("match_id", String(ID), nullable=False, unique=True),
    Column("supplier_enterprise_id", String(ID), nullable=False, index=True),
    Column("supplier_site_id", String(ID), nullable=False),
    Column("recycler_enterprise_id", String(ID), nullable=False, index=True),
    Column("recycler_site_id", String(ID), nullable=False),
    #: Districts of the two sites when known (for regulators); filled at creation or dispatch.
    Column("supplier_district", String(100), nullable=True, index=True),
    Column("recycler_district", String(100), nullable=True, index=True),
    Column("waste_code", String(16), nullable=False),
    Column("planned_kilograms", BigInteger, nullable=False),
    Column("distance_km", String(40), nullable=False),
    Column("planned_co2e_kg", String(40), nullable=False),
    Column("freight_factor_key", String(200), nullable=False),
    Column("freight_factor", String(40), nullable=False),
    Column("avoided_factor_key", String(200), nullable=True),
    Column("avoided_factor", String(40), nullable=True),
    Column("status", String(20), nullable=False),
    Column("period", String(7), nullable=True),
    Column("from_prior_stock", Boolean, nullable=False),
    Column("dispatched_kilograms", BigInteger, nullable=True),
    Column("received_kilograms", BigInteger, nullable=True),
    Column("weight_gap_ratio", String(20), nullable=True),
    Column("transport_co2e_grams", BigInteger, nullable=True),
    Column("avoided_co2e_grams", BigInteger, nullable=True),
    Column("created_at_us", BigInteger, nullable=False),
    #: The first day of the match's shipping window: nothing leaves before it (null before
    #: it was kept: decision 037).
    Column("ship_from", Date, nullable=True),
    #: The last day of the match's shipping window: CREATED after it is overdue.
    Column("ship_by", Date, nullable=True),
    #: The recycler's licence the match's tonnes count against (null before it was kept).
    Column("licence_id", String(ID), nullable=True),
    Column("dispatched_at_us", BigInteger, nullable=True),
    Column("received_at_us", BigInteger, nullable=True),
    #: A discrepancy's resolution (decision 016): proposed by one party, agreed by the other.
    Column("gap_cause", String(20), nullable=True),
    Column("gap_note", String(500), nullable=True),
    Column("gap_proposed_by", String(ID), nullable=True),
    Column("gap_proposed_at_us", BigInteger, nullable=True),
    Column("gap_agreed_note", String(500), nullable=True),
    Column("gap_agreed_at_us", BigInteger, nullable=True),
    #: When the parties first named different causes (the discrepancy is then DISPUTED).
    Column("gap_disputed_at_us", BigInteger, nullable=True),
    #: Who called the shipment off before dispatch (CANCELLED), why and when.
    Column("cancelled_by", String(ID), nullable=True),
    Column("cancel_reason", String(500), nullable=True),
    Column("cancelled_at_us", BigInteger, nullable=True),
    #: The month its receipt's entries were booked to when that is not `period`: received
    #: after the year it was dispatched to closed (decision 036). Few, read on every balance
    #: check of their supplier: a partial index finds them without reading its entries.
    Column("booked_period", String(7), nullable=True),
    Index("ix_manifests_order", "created_at_us", "id"),
    Index("ix_manifests_status", "status", "created_at_us"),
    Index(
        "ix_manifests_carried",
        "supplier_enterprise_id",
        sqlite_where=text("booked_period IS NOT NULL"),
        postgresql_where=text("booked_period IS NOT NULL"),
    ),
)

#: Incremental projection: sums per (scope kind, scope value, month), kept in the same
#: transaction as the entries and rebuildable from ledger.entry-recorded.v1 (replay).
#: Tonnes columns hold kilograms, CO2e columns grams, `transfers` a count.
projection = Table(
    "projection",
    metadata,
    Column("scope_kind", String(32), primary_key=True),
    Column("scope_value", String(200), primary_key=True),
    Column("period", String(7), primary_key=True),
    *(Column(name, BigInteger, nullable=False, default=0) for name in COLUMNS),
)

#: One row per enterprise and waste code, bumped first in every transaction that checks
#: the balance identity: on PostgreSQL its row lock serialises those transactions, so two
#: concurrent reports cannot both pass a check that only one of them may pass.
balance_guard = Table(
    "balance_guard",
    metadata,
    Column("enterprise_id", String(ID), primary_key=True),
    Column("waste_code", String(16), primary_key=True),
    Column("version", Integer, nullable=False),
)

#: Reports read from Kafka that name a site the ledger does not know yet (decision 029): kept
#: as received until the site's fact arrives (then booked, or parked as they would have been)
#: or the wait runs out (parked UNKNOWN_SITE). The bearer token is not kept.
waiting_reports = Table(
    "waiting_reports",
    metadata,
    #: Arrival order.
    Column(
        "id",
        BigInteger().with_variant(Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    #: The report's `source/id`, as the inbox knows it (it waits once).
    Column("reference", String(REFERENCE_LENGTH), nullable=False, unique=True),
    Column("site_id", String(ID), nullable=False, index=True),
    #: The record as read, what a dead letter of it holds: the envelope as received, where
    #: it was read, its key and headers (JSON, no credentials); its inbox key as parked and
    #: the enterprise its token proved.
    Column("envelope", LargeBinary, nullable=False),
    Column("topic", String(200), nullable=False),
    Column("kafka_partition", Integer, nullable=False),
    Column("kafka_offset", BigInteger, nullable=False),
    Column("kafka_key", String(OUTBOX_KEY_LENGTH), nullable=False),
    Column("headers", Text, nullable=False),
    Column("parked_id", String(ID), nullable=False),
    Column("authenticated", String(REFERENCE_LENGTH), nullable=True),
    Column("arrived_at_us", BigInteger, nullable=False, index=True),
)
