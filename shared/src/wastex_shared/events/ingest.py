"""Commands the factories' own systems send on the ingest topics (CloudEvents `data`).

Field names equal the GraphQL input of the same action; unknown fields are refused so a
typo in a factory's integration lands in the DLQ instead of being silently dropped. Values
are only typed here (a negative tonnage parses): the business rules live in the services'
domains, so a rule broken over Kafka carries the same error code as over GraphQL. Lengths
here are only sanity bounds above the domains' own limits, and a date is written
"YYYY-MM-DD" as in GraphQL (not a Unix timestamp, which pydantic would take), and a number
in ASCII digits without digit groups, as GraphQL's `Decimal` takes it.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from wastex_shared.events.registry import EventModel, event
from wastex_shared.topics import INGEST_DEMANDS, INGEST_LEDGER_REPORTS, INGEST_OFFERS
from wastex_shared.units import DAY_WRITTEN, NUMBER_WRITTEN, decimal_of, plain_day_text


def _written_date(value: Any) -> Any:
    # pydantic would also take a Unix timestamp (as a number or as text: "1798761600" is
    # 2027-01-01) and a datetime at midnight, none of them a day GraphQL's `Date` takes.
    if not (isinstance(value, str) and plain_day_text(value)):
        raise PydanticCustomError("day_text", DAY_WRITTEN)
    return value


#: A day as GraphQL's `Date` takes it.
Day = Annotated[date, BeforeValidator(_written_date)]


def _written_number(value: Any) -> Any:
    # pydantic's Decimal reads "1_000" as 1000 and full-width "１２" as 12 before the
    # domain's parser sees the text (GraphQL's Decimal refuses both): a typo would be stored
    # as a quantity nobody wrote. What it cannot read it answers in Python's words ("Decimal
    # input should be an integer, float, string or Decimal object"): the sender is told
    # how a number is written instead, as GraphQL's Decimal tells it.
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise PydanticCustomError("number_text", NUMBER_WRITTEN)
    if isinstance(value, str):
        try:
            decimal_of(value)
        except InvalidOperation:
            raise PydanticCustomError("number_text", NUMBER_WRITTEN) from None
    return value


#: A number as GraphQL's `Decimal` takes it (its rules, such as places, are the domain's).
Number = Annotated[Decimal, BeforeValidator(_written_number)]


class IngestModel(EventModel):
    model_config = ConfigDict(extra="forbid")


@event("wastex.offer.submit", INGEST_OFFERS)
class OfferSubmit(IngestModel):
    site_id: str = Field(min_length=1, max_length=64)
    waste_code: str = Field(min_length=1, max_length=200)
    quantity_tonnes: Number
    available_from: Day
    available_until: Day
    description: str | None = Field(default=None, max_length=20_000)
    moisture_percent: Number | None = None
    particle_size_mm: Number | None = None


@event("wastex.offer.withdraw", INGEST_OFFERS)
class OfferWithdraw(IngestModel):
    """Withdraw the offer `id` (an offer of the sending enterprise)."""

    id: str = Field(min_length=1, max_length=64)


@event("wastex.offer.amend", INGEST_OFFERS)
class OfferAmend(IngestModel):
    """Change the offer `id` (an offer of the sending enterprise): the fields given, the rest
    as they are."""

    id: str = Field(min_length=1, max_length=64)
    quantity_tonnes: Number | None = None
    available_from: Day | None = None
    available_until: Day | None = None
    description: str | None = Field(default=None, max_length=20_000)
    moisture_percent: Number | None = None
    particle_size_mm: Number | None = None


@event("wastex.demand.submit", INGEST_DEMANDS)
class DemandSubmit(IngestModel):
    site_id: str = Field(min_length=1, max_length=64)
    waste_codes: list[str] = Field(min_length=1)  # how many: the domain's rule
    quantity_tonnes: Number
    max_distance_km: Number
    available_from: Day
    available_until: Day


@event("wastex.demand.withdraw", INGEST_DEMANDS)
class DemandWithdraw(IngestModel):
    """Withdraw the demand `id` (a demand of the sending enterprise)."""

    id: str = Field(min_length=1, max_length=64)


@event("wastex.demand.amend", INGEST_DEMANDS)
class DemandAmend(IngestModel):
    """Change the demand `id` (a demand of the sending enterprise): the fields given, the
    rest as they are."""

    id: str = Field(min_length=1, max_length=64)
    quantity_tonnes: Number | None = None
    max_distance_km: Number | None = None
    available_from: Day | None = None
    available_until: Day | None = None


class LedgerReport(IngestModel):
    """The fields of GraphQL's `LedgerReportInput`, which every report mutation takes:
    `fromPriorStock` too, whose `true` the ledger refuses where it does not apply
    (PRIOR_STOCK_NOT_APPLICABLE, as over GraphQL)."""

    site_id: str = Field(min_length=1, max_length=64)
    # A sanity bound, as an offer's: the catalogue refuses a code it lacks (UNKNOWN_WASTE_CODE,
    # as over GraphQL) and its look-up trims a code padded as a fixed-width field.
    waste_code: str = Field(min_length=1, max_length=200)
    tonnes: Number
    # Judged by the ledger's rule (INVALID_PERIOD, as over GraphQL; it trims the text).
    period: str = Field(min_length=1, max_length=20)
    from_prior_stock: bool = False


@event("wastex.report.generation", INGEST_LEDGER_REPORTS)
class GenerationReport(LedgerReport):
    pass


@event("wastex.report.in-plant-utilisation", INGEST_LEDGER_REPORTS)
class InPlantUtilisationReport(LedgerReport):
    pass


@event("wastex.report.storage", INGEST_LEDGER_REPORTS)
class StorageReport(LedgerReport):
    pass


@event("wastex.report.storage-retrieval", INGEST_LEDGER_REPORTS)
class StorageRetrievalReport(LedgerReport):
    pass


@event("wastex.report.disposal", INGEST_LEDGER_REPORTS)
class DisposalReport(LedgerReport):
    pass


@event("wastex.report.opening-stock", INGEST_LEDGER_REPORTS)
class OpeningStockReport(LedgerReport):
    pass


# A recycler's reports of its intake (decision 027), as `reportReceived*` over GraphQL.


@event("wastex.report.received-utilisation", INGEST_LEDGER_REPORTS)
class ReceivedUtilisationReport(LedgerReport):
    pass


@event("wastex.report.received-storage", INGEST_LEDGER_REPORTS)
class ReceivedStorageReport(LedgerReport):
    pass


@event("wastex.report.received-storage-retrieval", INGEST_LEDGER_REPORTS)
class ReceivedStorageRetrievalReport(LedgerReport):
    pass


@event("wastex.report.received-disposal", INGEST_LEDGER_REPORTS)
class ReceivedDisposalReport(LedgerReport):
    pass
