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
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from wastex_ledger.domain import errors
from wastex_ledger.domain.periods import Period
from wastex_shared.calendar import china_day
from wastex_shared.codes import LicenceType, may_carry
from wastex_shared.errors import DomainError


@dataclass(frozen=True, slots=True)
class Drop:
    """A code the licence listed and a later version no longer does."""

    code: str
    #: The day the catalog made the version without it, as far as the ledger can tell (an
    #: older version read late dates it no later than that version: see `with_older`).
    on: date
    #: The day the ledger first read a version without it: the grace counts from it as
    #: well, as a revocation's does.
    read_on: date

    @property
    def counts_from(self) -> date:
        return max(self.on, self.read_on)


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
    #: The day the ledger first read the revocation: the grace counts from it as well, so
    #: a ledger catching up on a backlog still gives a successor's registration, on the
    #: other topic, its grace days to be read.
    revocation_read_on: date | None = None
    #: Codes it listed and a later version no longer does, by code.
    codes_dropped: tuple[Drop, ...] = ()

    def drop_of(self, code: str) -> Drop | None:
        return next((drop for drop in self.codes_dropped if drop.code == code), None)

    @property
    def revocation_counts_from(self) -> date | None:
        """The revocation's first day, or the day it was read when that came later."""
        if self.revoked_on is None:
            return None
        return max(self.revoked_on, self.revocation_read_on or self.revoked_on)

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


def as_read(licence: Licence, before: Licence | None, made_on: date, read_on: date) -> Licence:
    """`licence`, a newer version of `before` (None: the first the ledger reads) that the
    catalog made on `made_on`, with what cut it: its revocation keeps the day first read
    while it stays the same (one moved to another day is read anew: moved earlier, it would
    otherwise skip its grace), and each code `before` listed (or had dropped) that it no
    longer lists keeps its drop, or is dropped on `made_on`. Versions after the registration
    travel on one topic, in order, so `before` is (but for a dead-lettered fact) the version
    just before it, and `made_on` the drop's day, however late the ledger reads it."""
    first_read: date | None = None
    drops: dict[str, Drop] = {}
    listed: set[str] = set()
    if before is not None:
        if before.revoked_on == licence.revoked_on:
            first_read = before.revocation_read_on
        drops = {drop.code: drop for drop in before.codes_dropped}
        listed = set(before.waste_codes) | drops.keys()
    revocation_read_on = None if licence.revoked_on is None else first_read or read_on
    # A day the ledger has not reached is not taken on trust (a clock ahead).
    made_on = min(made_on, read_on)
    codes_dropped = tuple(
        drops.get(code) or Drop(code, made_on, read_on)
        for code in sorted(listed - licence.waste_codes)
    )
    if (revocation_read_on, codes_dropped) == (licence.revocation_read_on, licence.codes_dropped):
        return licence  # nothing the versions tell
    return replace(licence, revocation_read_on=revocation_read_on, codes_dropped=codes_dropped)


def with_older(kept: Licence, older: Licence, made_on: date, read_on: date) -> Licence | None:
    """`kept` once an older version of it, made on `made_on`, is read late (the registration
    and amendments travel on two topics): each code `older` listed that `kept` neither lists
    nor has dropped was dropped since. The day of the version that dropped it is not known:
    it is dated `made_on`, the earliest it can be, so a manifest opened in between is not
    called off on a guess (its dispatch is still refused). None when the older version tells
    nothing new (read again, or nothing it listed was dropped)."""
    known = set(kept.waste_codes) | {drop.code for drop in kept.codes_dropped}
    late = set(older.waste_codes) - known
    if not late:
        return None
    made_on = min(made_on, read_on)
    drops = [*kept.codes_dropped, *(Drop(code, made_on, read_on) for code in late)]
    return replace(kept, codes_dropped=tuple(sorted(drops, key=lambda drop: drop.code)))


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
    today = china_day(at)
    if period == Period.of(at):
        return Days(today, today)
    first = max(date(period.year, period.month, 1), china_day(opened_at))
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
    the match's licence (`licences`: the recycler's), saying why the match's does not."""
    own = next((lic for lic in licences if lic.id == licence_id), None)
    if own is None or may_take(licences, recycler, code, days):
        return
    why, final = _why_not(own, code, days)
    then = (
        "the shipment cannot leave; either party may cancel it"
        if final
        else "the shipment may leave once a licence of the recycler covers the day it leaves"
    )
    raise DomainError(
        errors.LICENCE_NO_LONGER_VALID,
        f"the recycler may not take {code} on {days}: its licence {own.number} {why}, and no "
        f"other licence of the recycler covers it; {then}",
        "matchId",
    )


def _why_not(licence: Licence, code: str, days: Days) -> tuple[str, bool]:
    """Why `licence` does not carry `code` on `days`, and whether that is for good."""
    if code not in licence.waste_codes:
        return f"no longer lists {code}", True
    if not licence.may_take(code):
        return f"is not a {LicenceType.HAZARDOUS_WASTE_OPERATING} licence, which {code} needs", True
    revoked_on = licence.revoked_on
    # A revocation after the licence ran out took no day from it: it ran out.
    if revoked_on is not None and revoked_on <= min(days.last, licence.valid_until):
        return f"was revoked from {revoked_on}", True
    if days.last < licence.valid_from:
        return f"holds from {licence.valid_from}", False
    return f"ran out on {licence.valid_until}", False


@dataclass(frozen=True, slots=True)
class Cut:
    """A bureau's decision that took a code from a licence: its revocation, or an amendment
    that no longer lists the code."""

    licence: Licence
    #: The first day the licence no longer allowed the code.
    on: date
    #: The day its grace days count from (the later of `on` and the day the ledger read it).
    counts_from: date
    revoked: bool

    def reason(self, code: str) -> str:
        """The cancellation's reason when it calls a shipment off."""
        how = "was revoked" if self.revoked else f"no longer lists {code}"
        return (
            f"licence {self.licence.number} {how} from {self.on}: "
            f"the recycler may no longer take {code}"
        )


def cuts_of(licence: Licence, code: str) -> list[Cut]:
    """What took `code` from `licence` while the licence still held: a revocation of one
    that listed it, a version that dropped it (neither counts after the licence ran out)."""
    cuts = []
    revoked_on, counts_from = licence.revoked_on, licence.revocation_counts_from
    drop = licence.drop_of(code)
    # Dropped no earlier than the revocation's first day, the code was still listed when
    # the revocation took it (a drop the same day is no earlier cut).
    dropped_after = drop is not None and revoked_on is not None and drop.on >= revoked_on
    if (
        revoked_on is not None
        and counts_from is not None
        and licence.valid_until >= revoked_on
        and (licence.may_take(code) or (dropped_after and may_carry(licence.type, code)))
    ):
        # The grace waits for the later of the two reads: the ledger learnt the code was
        # the revocation's on the day it read the drop.
        grace_from = counts_from if drop is None else max(counts_from, drop.read_on)
        cuts.append(Cut(licence, revoked_on, grace_from, revoked=True))
    if (
        drop is not None
        and may_carry(licence.type, code)
        and licence.valid_until >= drop.on
        and (revoked_on is None or revoked_on > drop.on)
    ):
        cuts.append(Cut(licence, drop.on, drop.counts_from, revoked=False))
    return cuts


def cut_for_good(
    licences: Sequence[Licence],
    recycler: str,
    code: str,
    today: date,
    grace_days: int,
    opened: date,
) -> Cut | None:
    """The cut (a revocation, or an amendment that dropped the code) that left the recycler
    no licence to take `code` from `today` on, when nothing else covers it and every such
    cut has been in force, and known to the ledger, `grace_days` (time for a renewal to be
    registered and read, and for a shipment that left before to be reported): the shipment
    can never lawfully leave. Only cuts from the day the manifest was `opened` or later, of
    licences that still held on that day, count: a licence that merely ran out (or was cut
    before the match) cuts nothing, as a renewal may come and the dispatch is refused
    meanwhile."""
    if may_take(licences, recycler, code, Days(today, date.max)):
        return None
    cuts = [
        cut
        for lic in licences
        if lic.enterprise_id == recycler
        for cut in cuts_of(lic, code)
        if cut.on >= opened
    ]
    if not cuts or any(cut.counts_from + timedelta(days=grace_days) > today for cut in cuts):
        return None
    return min(cuts, key=lambda cut: (cut.on, cut.licence.id, not cut.revoked))
