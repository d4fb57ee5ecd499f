"""Every topic name, partition count and retention, in one place for tansu, Kafka and the
code.

Names: `<producer>.<event-name>.v<major>`; ingest `ingest.<thing>.v1`; dead letters
`<group>.dlq.v1`.

Retention: the services' facts are kept for ever, because read models are rebuilt from
offset 0 (`wastex replay`) and a consumer group whose committed offsets expired starts
there too; a broker's default (Kafka's is 7 days) would silently drop the oldest offers
from a rebuilt market. Ingest topics carry factories' tokens, dead letters the messages
without them (`dead_letter.CREDENTIALS`); both have served their purpose once handled or
re-driven, so they age out.

Ingest topics are stamped by the broker (`LogAppendTime`): a factory's token is judged at
the time the broker took its message, not when a backlogged consumer reads it (decision
021).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

#: Ingest messages are recorded by the catalog or the ledger within seconds; a week leaves
#: room for a consumer that was down and for `wastex dlq redrive` of their dead letters.
INGEST_RETENTION = timedelta(days=7)
#: Dead letters wait for someone to look at them and re-drive what can be.
DLQ_RETENTION = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    partitions: int = 3
    #: How long the broker keeps a message; None: for ever.
    retention: timedelta | None = None
    #: The broker stamps each message with the time it appended it (the producer's own
    #: timestamp otherwise).
    broker_timestamps: bool = False

    @property
    def configs(self) -> dict[str, str]:
        """The topic's settings as Kafka spells them (CreateTopics' `configs`)."""
        keep = -1 if self.retention is None else int(self.retention.total_seconds() * 1000)
        configs = {"retention.ms": str(keep)}
        if self.broker_timestamps:
            configs["message.timestamp.type"] = "LogAppendTime"
        return configs


# Ingest: the factories' own systems post here (key = enterprise id).
INGEST_OFFERS = Topic("ingest.offers.v1", 6, INGEST_RETENTION, broker_timestamps=True)
INGEST_DEMANDS = Topic("ingest.demands.v1", 3, INGEST_RETENTION, broker_timestamps=True)
INGEST_LEDGER_REPORTS = Topic(
    "ingest.ledger-reports.v1", 6, INGEST_RETENTION, broker_timestamps=True
)
#: Every ingest topic: its messages carry a factory's token (a DLQ re-drive signs for them).
INGEST_TOPICS = (INGEST_OFFERS, INGEST_DEMANDS, INGEST_LEDGER_REPORTS)

# Catalog facts (key = aggregate id).
CATALOG_ENTERPRISE_REGISTERED = Topic("catalog.enterprise-registered.v1")
CATALOG_ENTERPRISE_AMENDED = Topic("catalog.enterprise-amended.v1")
CATALOG_SITE_ADDED = Topic("catalog.site-added.v1")
CATALOG_SITE_AMENDED = Topic("catalog.site-amended.v1")
CATALOG_LICENCE_REGISTERED = Topic("catalog.licence-registered.v1")
CATALOG_LICENCE_AMENDED = Topic("catalog.licence-amended.v1")
CATALOG_OFFER_POSTED = Topic("catalog.offer-posted.v1", 6)
CATALOG_OFFER_WITHDRAWN = Topic("catalog.offer-withdrawn.v1")
CATALOG_OFFER_UPDATED = Topic("catalog.offer-updated.v1", 6)
CATALOG_OFFER_AMENDED = Topic("catalog.offer-amended.v1", 6)
CATALOG_DEMAND_POSTED = Topic("catalog.demand-posted.v1")
CATALOG_DEMAND_WITHDRAWN = Topic("catalog.demand-withdrawn.v1")
CATALOG_DEMAND_UPDATED = Topic("catalog.demand-updated.v1")
CATALOG_DEMAND_AMENDED = Topic("catalog.demand-amended.v1")

# Matching facts (key = match id).
MATCHING_MATCH_PROPOSED = Topic("matching.match-proposed.v1", 6)
MATCHING_MATCH_ACCEPTED = Topic("matching.match-accepted.v1")
MATCHING_MATCH_CONFIRMED = Topic("matching.match-confirmed.v1")
MATCHING_MATCH_REJECTED = Topic("matching.match-rejected.v1")
MATCHING_MATCH_SUPERSEDED = Topic("matching.match-superseded.v1")
MATCHING_MATCH_EXPIRED = Topic("matching.match-expired.v1")
MATCHING_MATCH_CANCELLED = Topic("matching.match-cancelled.v1")
MATCHING_MATCH_SHIPPED = Topic("matching.match-shipped.v1")

# Ledger facts (key = manifest id or entry's enterprise id).
LEDGER_MANIFEST_CREATED = Topic("ledger.manifest-created.v1")
LEDGER_SHIPMENT_DISPATCHED = Topic("ledger.shipment-dispatched.v1")
LEDGER_SHIPMENT_RECEIVED = Topic("ledger.shipment-received.v1")
LEDGER_DISCREPANCY_CAUSE_NAMED = Topic("ledger.discrepancy-cause-named.v1")
LEDGER_DISCREPANCY_RESOLVED = Topic("ledger.discrepancy-resolved.v1")
LEDGER_SHIPMENT_CANCELLED = Topic("ledger.shipment-cancelled.v1")
LEDGER_ENTRY_RECORDED = Topic("ledger.entry-recorded.v1", 6)

# Dead letters, one per consumer group.
CATALOG_DLQ = Topic("catalog.dlq.v1", 1, DLQ_RETENTION)
MATCHING_DLQ = Topic("matching.dlq.v1", 1, DLQ_RETENTION)
LEDGER_DLQ = Topic("ledger.dlq.v1", 1, DLQ_RETENTION)


def dlq_for(group: str) -> str:
    return f"{group}.dlq.v1"


def all_topics() -> list[Topic]:
    return [value for value in globals().values() if isinstance(value, Topic)]
