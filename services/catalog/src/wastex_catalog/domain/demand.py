"""Demands: what a site will take in, limited to what the enterprise's licences cover.

Any enterprise may post demand (a cement plant is a FACTORY that takes slag); the licence
check, not the enterprise kind, decides what it may ask for.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import ClassVar, Final

from wastex_catalog.domain import errors
from wastex_catalog.domain.common import (
    DateInput,
    NumberInput,
    TonnesInput,
    parse_number,
    parse_tonnes,
    parse_waste_codes,
    parse_window,
)
from wastex_catalog.domain.enterprise import Site
from wastex_catalog.domain.licence import (
    Licence,
    check_demand_coverage,
    last_licensed_day,
    runs_out_on_its_term,
)
from wastex_catalog.domain.listing import Listing, ListingStatus
from wastex_shared.codes import canonical, is_hazardous
from wastex_shared.errors import DomainError

#: Road haulage of bulk waste beyond this is not a local exchange; larger values are typos.
MAX_DISTANCE_KM: Final = Decimal(1000)

DemandStatus = ListingStatus


def parse_max_distance(value: NumberInput, field: str = "maxDistanceKm") -> Decimal:
    distance = parse_number(value, field, errors.INVALID_DISTANCE)
    if not 0 < distance <= MAX_DISTANCE_KM:
        raise DomainError(
            errors.INVALID_DISTANCE, f"{field} must be above 0 and at most {MAX_DISTANCE_KM}", field
        )
    return distance


@dataclass(frozen=True, slots=True, kw_only=True)
class Demand(Listing):
    KIND: ClassVar[str] = "demand"
    TERMS: ClassVar[dict[str, str]] = {**Listing.TERMS, "max_distance_km": "maxDistanceKm"}

    waste_codes: tuple[str, ...]
    max_distance_km: Decimal
    #: Set when its holder's licences stop covering every code before its window ends (its
    #: window was posted past their cover, or a licence was amended or revoked since): the
    #: last day they cover one.
    licensed_until: date | None = None
    #: Set with `licensed_until` when that day ends a licence's term (a lapse, not a
    #: revocation): the last day it stays on the market waiting for a renewal (decision 034).
    awaits_renewal_until: date | None = None

    @classmethod
    def post(
        cls,
        *,
        id: str,
        site: Site,
        waste_codes: Iterable[str],
        quantity_tonnes: TonnesInput,
        max_distance_km: NumberInput,
        available_from: DateInput,
        available_until: DateInput,
        licences: Iterable[Licence],
        grace_days: int,
        today: date | None = None,
    ) -> Demand:
        """A new OPEN demand at `site`, if the enterprise's licences cover every code on
        the first day of its window from today on. The window may run past their cover: the
        demand then keeps the last day they cover it, and waits `grace_days` after it for a
        renewal when that day ends a licence's term (`relicensed`; decision 034, later).

        `licences` may be any superset: only those of `site.enterprise_id` count. The
        caller checks that whoever posts may act for that enterprise.
        """
        codes = parse_waste_codes(waste_codes, "wasteCodes")
        quantity = parse_tonnes(quantity_tonnes, "quantityTonnes")
        distance = parse_max_distance(max_distance_km, "maxDistanceKm")
        window = parse_window(
            available_from,
            available_until,
            start_field="availableFrom",
            end_field="availableUntil",
            today=today,
        )
        own = [lic for lic in licences if lic.enterprise_id == site.enterprise_id]
        # Days gone by ship nothing: the licences need cover its first day from today.
        check_demand_coverage(codes, own, window.from_day(today), "wasteCodes")
        posted = cls(
            id=id,
            enterprise_id=site.enterprise_id,
            site_id=site.id,
            district=site.district,
            quantity_tonnes=quantity,
            available_from=window.start,
            available_until=window.end,
            waste_codes=codes,
            max_distance_km=distance,
        )
        return posted.relicensed(own, grace_days=grace_days)

    def amend(
        self,
        by_enterprise_id: str,
        *,
        licences: Iterable[Licence],
        today: date,
        grace_days: int,
        quantity_tonnes: TonnesInput | None = None,
        max_distance_km: NumberInput | None = None,
        available_from: DateInput | None = None,
        available_until: DateInput | None = None,
    ) -> Demand:
        """The demand with the terms given replaced (None: as it is). A new window is
        checked against the holder's `licences` as a posting's is (its first day from today
        covered), and sets the last day they cover it (`relicensed`, with `grace_days`); its
        site and codes stay (another ask is another demand)."""
        own: dict[str, object] = {}
        if max_distance_km is not None:
            own["max_distance_km"] = parse_max_distance(max_distance_km, "maxDistanceKm")
        amended = self._amended(
            by_enterprise_id,
            quantity_tonnes=quantity_tonnes,
            available_from=available_from,
            available_until=available_until,
            today=today,
            **own,
        )
        if amended.window == self.window:
            return amended
        own_licences = [lic for lic in licences if lic.enterprise_id == self.enterprise_id]
        moved_end = amended.available_until != self.available_until
        field = "availableUntil" if moved_end else "availableFrom"
        window = amended.window.from_day(today)  # as a posting's: from today on
        check_demand_coverage(self.waste_codes, own_licences, window, field)
        return amended.relicensed(own_licences, grace_days=grace_days)

    @property
    def last_day(self) -> date:
        """Its window's end, or the last day a licence lets it take anything (and the days
        it then waits for a renewal), if earlier."""
        end = self.awaits_renewal_until or self.licensed_until
        if end is None:
            return self.available_until
        return min(self.available_until, end)

    def relicensed(self, licences: Iterable[Licence], *, grace_days: int) -> Demand:
        """This demand with the last day its holder's `licences` (as they stand now) cover
        one of its codes; pass only the holder's. When that day is the end of a licence's
        term (it lapses: `runs_out_on_its_term`; a revocation does not), the demand stays on
        the market `grace_days` more (never past its window), waiting for a renewal: one
        registered meanwhile gives it back (decision 034)."""
        licences = list(licences)
        last = last_licensed_day(self.waste_codes, licences, self.window)
        awaits = None
        if (
            last is not None
            and grace_days > 0
            and runs_out_on_its_term(self.waste_codes, licences, self.window, last)
        ):
            awaits = min(last + timedelta(days=grace_days), self.available_until)
        return replace(self, licensed_until=last, awaits_renewal_until=awaits)

    def accepts(self, code: str) -> bool:
        return canonical(code) in self.waste_codes

    @property
    def hazardous(self) -> bool:
        """Whether any accepted code is hazardous (the demand needs HW handling)."""
        return any(is_hazardous(code) for code in self.waste_codes)
