"""The outbox and inbox tables, added to each service's own metadata.

outbox: events written in the same transaction as the state change; the relay publishes
them in id order and stamps `sent_at`. inbox: ids of events a consumer group has handled.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

from wastex_shared.envelope import REFERENCE_LENGTH

#: Characters of a Kafka key the outbox keeps (PostgreSQL enforces it).
OUTBOX_KEY_LENGTH = 200


@dataclass(frozen=True)
class MessagingTables:
    outbox: Table
    inbox: Table


def messaging_tables(metadata: MetaData) -> MessagingTables:
    outbox = Table(
        "outbox",
        metadata,
        # BigInteger on PostgreSQL; SQLite needs INTEGER PRIMARY KEY to autoincrement.
        Column(
            "id",
            BigInteger().with_variant(Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        Column("event_id", String(64), nullable=False),
        Column("topic", String(200), nullable=False),
        Column("key", String(OUTBOX_KEY_LENGTH), nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("headers", Text, nullable=False, default="{}"),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("sent_at", DateTime(timezone=True), nullable=True),
        Index("ix_outbox_unsent", "sent_at", "id"),
    )
    inbox = Table(
        "inbox",
        metadata,
        Column("event_id", String(REFERENCE_LENGTH), primary_key=True),
        Column("event_type", String(200), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False),
    )
    return MessagingTables(outbox, inbox)
