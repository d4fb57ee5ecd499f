"""Reports waiting for their site (decision 029): the `waiting_reports` table.

A report read from Kafka naming a site the ledger does not know yet is kept here as the
consumer read it (no bearer token), until the site's fact books it or the wait runs out.
Rows are taken by deleting them: of two transactions taking the same report (the site's
fact and the sweep), one gets it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Delete, delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from wastex_ledger.adapters.repository import from_micros, micros
from wastex_ledger.adapters.tables import waiting_reports
from wastex_shared.messaging.consumer import Delivery, KeptRecord
from wastex_shared.messaging.dead_letter import kafka_text, kept_headers
from wastex_shared.storage.tables import OUTBOX_KEY_LENGTH

#: The class of the advisory locks a PostgreSQL transaction takes on a site id ("wast"), in
#: the two-key space (apart from the one-key `LIST_ORDER_LOCK`).
SITE_LOCK_CLASS = 0x77617374


@dataclass(frozen=True)
class WaitingReport:
    """A report kept until its site is known: its `source/id` and the record as read."""

    reference: str
    site_id: str
    delivery: Delivery
    #: When the ledger first read it.
    arrived: datetime


@dataclass(frozen=True)
class Census:
    """The reports waiting: how many, and when the oldest of them arrived."""

    count: int
    oldest: datetime | None


class WaitingReports:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        bind = session.bind
        self.dialect = bind.dialect.name if bind is not None else "sqlite"

    async def hold_site(self, site_id: str) -> None:
        """Until this transaction ends, no other may keep a report for `site_id` or book
        those kept: a report kept while its site's fact commits would otherwise be missed by
        that fact and wait out its time (on SQLite one writer at a time already does it)."""
        if self.dialect == "postgresql":
            await self.session.execute(
                text("SELECT pg_advisory_xact_lock(:kind, hashtext(:site))"),
                {"kind": SITE_LOCK_CLASS, "site": site_id},
            )

    async def keep(self, report: WaitingReport) -> None:
        record = report.delivery.record
        await self.session.execute(
            insert(waiting_reports).values(
                reference=report.reference,
                site_id=report.site_id,
                envelope=record.value or b"",
                topic=record.topic,
                kafka_partition=record.partition,
                kafka_offset=record.offset,
                kafka_key=kafka_text(record.key)[:OUTBOX_KEY_LENGTH],
                headers=json.dumps(kept_headers(record.headers), ensure_ascii=False),
                parked_id=report.delivery.parked_id,
                authenticated=report.delivery.authenticated,
                arrived_at_us=micros(report.arrived),
            )
        )

    async def take_for_site(self, site_id: str) -> list[WaitingReport]:
        """Take the reports waiting for `site_id`, in arrival order."""
        return await self._take(delete(waiting_reports).where(waiting_reports.c.site_id == site_id))

    async def take_arrived_by(self, moment: datetime, limit: int) -> list[WaitingReport]:
        """Take up to `limit` reports that arrived at `moment` or before, oldest first."""
        due = (
            select(waiting_reports.c.id)
            .where(waiting_reports.c.arrived_at_us <= micros(moment))
            .order_by(waiting_reports.c.id)
            .limit(limit)
        )
        return await self._take(delete(waiting_reports).where(waiting_reports.c.id.in_(due)))

    async def count(self) -> int:
        """How many reports wait."""
        return (await self.census()).count

    async def census(self) -> Census:
        """How many reports wait, and since when the oldest has."""
        found = await self.session.execute(
            select(func.count(), func.min(waiting_reports.c.arrived_at_us))
        )
        count, oldest = found.one()
        return Census(int(count), None if oldest is None else from_micros(oldest))

    async def _take(self, statement: Delete) -> list[WaitingReport]:
        found = await self.session.execute(statement.returning(*waiting_reports.c))
        return [_waiting_of(row) for row in sorted(found.mappings(), key=lambda r: r["id"])]


def _waiting_of(row: Any) -> WaitingReport:
    headers: dict[str, str] = json.loads(row["headers"])
    record = KeptRecord(
        topic=row["topic"],
        partition=row["kafka_partition"],
        offset=row["kafka_offset"],
        key=row["kafka_key"].encode(),
        value=bytes(row["envelope"]),
        headers=tuple((name, value.encode()) for name, value in headers.items()),
    )
    delivery = Delivery(record, row["parked_id"], row["authenticated"])
    return WaitingReport(
        row["reference"], row["site_id"], delivery, from_micros(row["arrived_at_us"])
    )
