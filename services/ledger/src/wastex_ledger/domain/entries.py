"""Ledger entries: immutable facts about tonnes of one waste code at one site in one month.

An entry is never updated or deleted. A mistake is corrected by a *reversing* entry: the
same kind, site, code, period and prior-stock flag with the tonnes negated and `reverses`
naming the original; a correction is a reversal plus a new entry with the right tonnes.

Kinds and what they mean for the enterprise that owns the entry:

| kind                | who       | meaning                                                |
|---------------------|-----------|--------------------------------------------------------|
| `generated`         | generator | 产生量: waste arising this month                        |
| `utilised_in_plant` | generator | 自行利用: used in its own facilities                    |
| `transferred_out`   | generator | 委托利用: handed to a recycler, at the received weight¹ |
| `transferred_in`    | receiver  | intake from a manifest (not generation)                |
| `utilised`          | receiver  | intake the receiver reports as utilised                |
| `received_stored`   | receiver  | intake put into the receiver's storage                 |
| `received_storage_retrieved` | receiver | intake taken back out of that storage          |
| `received_disposed` | receiver  | intake disposed of (residues it could not use)          |
| `stored`            | generator | 贮存量: this period's generation put into storage        |
| `disposed`          | generator | 处置量                                                  |
| `opening_stock`     | generator | stock held from before the ledger's records (往年贮存)  |

¹ never more than the dispatched weight: a heavier load is water or the scales (decision 020).

`utilised_in_plant`, `transferred_out` and `disposed` carry `from_prior_stock`: whether the
tonnes came out of earlier years' storage (formulas.md §1, "How prior-year stock enters").
The receiver's kinds do not: intake is not generation, it has no year of its own (decision 027).
`opening_stock` takes a month of a year no later than the first year of the enterprise's
records of the code (`balance.ensure_stock_before_records`, decision 035).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from wastex_ledger.domain import errors
from wastex_ledger.domain.periods import Period, month_passed
from wastex_shared.codes import validate_code
from wastex_shared.errors import DomainError
from wastex_shared.units import QuantityError, positive_tonnes

TonnesInput = Decimal | int | str


class EntryKind(enum.StrEnum):
    GENERATED = "generated"
    UTILISED_IN_PLANT = "utilised_in_plant"
    TRANSFERRED_OUT = "transferred_out"
    TRANSFERRED_IN = "transferred_in"
    UTILISED = "utilised"
    STORED = "stored"
    #: Taken back out of this year's storage (to be used, shipped or disposed of as this
    #: year's waste); earlier years' storage is drawn with `from_prior_stock` instead.
    STORAGE_RETRIEVED = "storage_retrieved"
    DISPOSED = "disposed"
    OPENING_STOCK = "opening_stock"
    #: The receiver's intake stored, taken back out of that storage, disposed of: kept apart
    #: from the generator's own kinds so no area total counts a tonne twice (decision 027).
    RECEIVED_STORED = "received_stored"
    RECEIVED_STORAGE_RETRIEVED = "received_storage_retrieved"
    RECEIVED_DISPOSED = "received_disposed"


#: The longest reason or note the ledger keeps (its text columns): longer is refused, never cut.
TEXT_MAX_CHARS = 500

#: Kinds an enterprise reports itself (the transfers come from manifests).
REPORTED_KINDS = frozenset(
    {
        EntryKind.GENERATED,
        EntryKind.UTILISED_IN_PLANT,
        EntryKind.UTILISED,
        EntryKind.STORED,
        EntryKind.STORAGE_RETRIEVED,
        EntryKind.DISPOSED,
        EntryKind.OPENING_STOCK,
        EntryKind.RECEIVED_STORED,
        EntryKind.RECEIVED_STORAGE_RETRIEVED,
        EntryKind.RECEIVED_DISPOSED,
    }
)
#: Kinds that may draw on earlier years' storage.
PRIOR_STOCK_KINDS = frozenset(
    {EntryKind.UTILISED_IN_PLANT, EntryKind.TRANSFERRED_OUT, EntryKind.DISPOSED}
)


@dataclass(frozen=True, slots=True)
class SiteFacts:
    """What the ledger knows of a site from the catalog's events."""

    site_id: str
    enterprise_id: str
    district: str
    industry: str


@dataclass(frozen=True, slots=True)
class Carbon:
    """Transport and avoided CO2e of a confirmed transfer (kg), with the factors used."""

    transport_co2e_kg: Decimal
    avoided_co2e_kg: Decimal


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    kind: EntryKind
    enterprise_id: str
    site_id: str
    district: str
    industry: str
    waste_code: str
    #: Signed: negative on a reversing entry.
    tonnes: Decimal
    period: Period
    cause_event_id: str
    from_prior_stock: bool = False
    reverses: str | None = None
    reason: str | None = None
    manifest_id: str | None = None
    carbon: Carbon | None = None

    @property
    def is_reversal(self) -> bool:
        return self.reverses is not None


def parse_tonnes(value: TonnesInput, field: str = "tonnes") -> Decimal:
    try:
        return positive_tonnes(value)
    except QuantityError as err:
        raise DomainError(errors.INVALID_QUANTITY, str(err), field) from err


def require_owner(actor_enterprise_id: str, owner_enterprise_id: str, what: str) -> None:
    if actor_enterprise_id != owner_enterprise_id:
        raise DomainError(
            errors.NOT_AUTHORIZED,
            f"{what} belongs to another enterprise; an enterprise reports only its own",
        )


@dataclass(frozen=True, slots=True)
class ReportTerms:
    """What a report says, checked: its category code, tonnes and month."""

    waste_code: str
    tonnes: Decimal
    period: Period


def report_terms(
    kind: EntryKind,
    *,
    waste_code: str,
    tonnes: TonnesInput,
    period: str,
    from_prior_stock: bool,
    now: datetime,
) -> ReportTerms:
    """The terms of a report of `kind` at `now`, whoever's site it names: for this month or
    an earlier one, never one still to come. (A report over Kafka waiting for its site is
    judged on them at once: decision 029.)"""
    if kind not in REPORTED_KINDS:
        raise ValueError(f"{kind} entries come from manifests, not reports")
    code = validate_code(waste_code, "wasteCode")
    amount = parse_tonnes(tonnes)
    month = month_passed(period, now)
    if from_prior_stock and kind not in PRIOR_STOCK_KINDS:
        raise DomainError(
            errors.PRIOR_STOCK_NOT_APPLICABLE,
            f"fromPriorStock applies to in-plant utilisation, disposal and shipments, not {kind}",
            "fromPriorStock",
        )
    return ReportTerms(code.code, amount, month)


def report(
    *,
    entry_id: str,
    kind: EntryKind,
    actor_enterprise_id: str,
    site: SiteFacts,
    waste_code: str,
    tonnes: TonnesInput,
    period: str,
    from_prior_stock: bool,
    cause_event_id: str,
    now: datetime,
) -> Entry:
    """An entry an enterprise reports for one of its own sites, at `now` (`report_terms`)."""
    require_owner(actor_enterprise_id, site.enterprise_id, f"site {site.site_id}")
    terms = report_terms(
        kind,
        waste_code=waste_code,
        tonnes=tonnes,
        period=period,
        from_prior_stock=from_prior_stock,
        now=now,
    )
    return Entry(
        id=entry_id,
        kind=kind,
        enterprise_id=site.enterprise_id,
        site_id=site.site_id,
        district=site.district,
        industry=site.industry,
        waste_code=terms.waste_code,
        tonnes=terms.tonnes,
        period=terms.period,
        cause_event_id=cause_event_id,
        from_prior_stock=from_prior_stock,
    )


def reverse(
    original: Entry,
    *,
    entry_id: str,
    actor_enterprise_id: str,
    reason: str,
    already_reversed: bool,
    cause_event_id: str,
) -> Entry:
    """The entry that cancels `original` (same everything, tonnes negated)."""
    require_owner(actor_enterprise_id, original.enterprise_id, f"entry {original.id}")
    if original.is_reversal:
        raise DomainError(
            errors.NOT_REVERSIBLE, "a reversing entry cannot itself be reversed", "id"
        )
    if original.kind not in REPORTED_KINDS:
        raise DomainError(
            errors.NOT_REVERSIBLE,
            f"{original.kind} entries follow a manifest and cannot be reversed by hand",
            "id",
        )
    if already_reversed:
        raise DomainError(errors.ALREADY_REVERSED, f"entry {original.id} is already reversed", "id")
    text = required_text(reason, "reason", "say why the entry is reversed")
    return replace(
        original,
        id=entry_id,
        tonnes=-original.tonnes,
        cause_event_id=cause_event_id,
        reverses=original.id,
        reason=text,
    )


def corrected(
    original: Entry, *, entry_id: str, tonnes: TonnesInput, reason: str, cause_event_id: str
) -> Entry:
    """The replacement of `original` with the right tonnes (recorded after its reversal).

    Refused when the tonnes are the entry's own: the ledger keeps every row for good, and
    a reversal with its identical replacement would be a correction of nothing."""
    amount = parse_tonnes(tonnes)
    if amount == original.tonnes:
        raise DomainError(
            errors.NOTHING_TO_AMEND,
            f"entry {original.id} already books {amount} t: a correction gives other tonnes",
            "tonnes",
        )
    return replace(
        original,
        id=entry_id,
        tonnes=amount,
        cause_event_id=cause_event_id,
        reverses=None,
        reason=limited_text(reason, "reason") or None,
    )


def limited_text(words: str, field: str, too_long_code: str = errors.TEXT_TOO_LONG) -> str:
    """A party's words trimmed, refused when longer than `TEXT_MAX_CHARS`."""
    text = words.strip()
    if len(text) > TEXT_MAX_CHARS:
        raise DomainError(
            too_long_code,
            f"a {field} has at most {TEXT_MAX_CHARS} characters, not {len(text)}",
            field,
        )
    return text


def required_text(
    words: str, field: str, ask: str, too_long_code: str = errors.TEXT_TOO_LONG
) -> str:
    """`limited_text` that must say something (`ask` tells what)."""
    text = limited_text(words, field, too_long_code)
    if not text:
        raise DomainError(errors.REASON_REQUIRED, ask, field)
    return text
