"""Recyclers' licences as the ledger reads them (`catalog.licence-registered` / `-amended`),
to answer one question: may the recycler take this waste on these days? (decision 023)

A manifest is judged only when the ledger knows the licence its match's tonnes count
against (`Manifest.licence_id`): a licence missing from the read model (a dead-lettered
fact, a manifest opened before the ledger kept licences) stops nothing, as in matching.
Any licence of the recycler may carry the shipment, not only the match's: a renewal taking
over from an expired licence keeps the shipment lawful.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from wastex_ledger.domain import errors
from wastex_ledger.domain.periods import Period, local_day
from wastex_shared.codes import LicenceType, may_carry
from wastex_shared.errors import DomainError


@dataclass(frozen=True, slots=True)
class Licence:
    id: str
    enterprise_id: str
    number: str
    waste_codes: frozenset[str]
    type: LicenceType
    valid_from: date
    valid_until: date
    #: The first day the licence no longer holds, when it was revoked.
    revoked_on: date | None = None

    @property
    def last_valid_day(self) -> date:
        """Its end, or the day before its revocation."""
        if self.revoked_on is None:
            return self.valid_until
        return min(self.valid_until, self.revoked_on - timedelta(days=1))

    def may_take(self, code: str) -> bool:
        """Lists the code, and is of a type that can carry it (HW needs an operating licence)."""
        return code in self.waste_codes and may_carry(self.type, code)

    def holds_on_some_day(self, first: date, last: date) -> bool:
        """Valid on at least one day from `first` to `last`."""
        return max(first, self.valid_from) <= min(last, self.last_valid_day)


@dataclass(frozen=True, slots=True)
class Days:
    """The days a shipment may have left on (inclusive)."""

    first: date
    last: date

    def __str__(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}–{self.last}"


def dispatch_days(opened_at: datetime, period: Period, at: datetime) -> Days:
    """The days a shipment dispatched at `at` and booked to `period` left on.

    Booked to this month, it leaves as it is reported: that day. Booked to an earlier month
    (a late report), it left on some day of that month from the manifest's opening: the
    ledger records what happened then, so the licence needs to have held on one of them.
    """
    today = local_day(at)
    if period == Period.of(at):
        return Days(today, today)
    first = max(date(period.year, period.month, 1), local_day(opened_at))
    last = (period.ends() - timedelta(days=1)).date()
    return Days(first, max(first, last))


def may_take(licences: Iterable[Licence], recycler: str, code: str, days: Days) -> bool:
    """Some licence of `recycler` lets it take `code` on one of `days`."""
    return any(
        lic.enterprise_id == recycler
        and lic.may_take(code)
        and lic.holds_on_some_day(days.first, days.last)
        for lic in licences
    )


def require_licensed(
    licence_id: str | None, licences: Sequence[Licence], recycler: str, code: str, days: Days
) -> None:
    """Refuse a shipment no licence of the recycler allows on `days`, when the ledger knows
    the match's licence (`licences`: the recycler's)."""
    own = next((lic for lic in licences if lic.id == licence_id), None)
    if own is None or may_take(licences, recycler, code, days):
        return
    raise DomainError(
        errors.LICENCE_NO_LONGER_VALID,
        f"the recycler's licence {own.number} does not let it take {code} on {days} "
        f"(it holds {own.valid_from}–{own.last_valid_day}{_revoked(own)}), nor does any other "
        "licence of the recycler: the shipment cannot leave; cancel it",
        "matchId",
    )


def revocation_cutting(
    licence_id: str | None, licences: Sequence[Licence], recycler: str, code: str, today: date
) -> Licence | None:
    """The match's licence when a revocation in force by `today` leaves the recycler no
    licence to take `code` on any day from `today` on: the shipment can never lawfully
    leave. None otherwise (a licence that merely ran out may be renewed: the dispatch is
    refused meanwhile, the shipment not cancelled)."""
    own = next((lic for lic in licences if lic.id == licence_id), None)
    if own is None or own.revoked_on is None or own.revoked_on > today:
        return None
    if may_take(licences, recycler, code, Days(today, date.max)):
        return None
    return own


def revocation_reason(licence: Licence, code: str) -> str:
    """The cancellation's reason when a revocation calls a shipment off."""
    return (
        f"licence {licence.number} was revoked from {licence.revoked_on}: "
        f"the recycler may no longer take {code}"
    )


def _revoked(licence: Licence) -> str:
    return "" if licence.revoked_on is None else f", revoked from {licence.revoked_on}"
