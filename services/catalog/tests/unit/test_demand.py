"""Demands: validation, licence coverage of the window's first day, shared state machine."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from wastex_catalog.domain import Demand, Licence, ListingStatus, Site, Window
from wastex_shared.errors import DomainError

OWNER = "ent-cement"


def post(site: Site, licences: list[Licence], **overrides: Any) -> Demand:
    fields: dict[str, Any] = {
        "id": "demand-1",
        "site": site,
        "waste_codes": ["SW01", "SW02"],
        "quantity_tonnes": "500",
        "max_distance_km": 80,
        "available_from": "2027-01-01",
        "available_until": "2027-03-31",
        "licences": licences,
        "grace_days": 7,
    }
    fields.update(overrides)
    return Demand.post(**fields)


def error(site: Site, licences: list[Licence], **overrides: Any) -> DomainError:
    with pytest.raises(DomainError) as err:
        post(site, licences, **overrides)
    return err.value


@pytest.fixture
def licences(general_licence: Licence, hazardous_licence: Licence) -> list[Licence]:
    return [general_licence, hazardous_licence]


def test_post_normalises_and_takes_owner_from_the_site(
    recycler_site: Site, licences: list[Licence]
) -> None:
    demand = post(recycler_site, licences, waste_codes=["sw02", "SW01", "SW02"])
    assert demand.waste_codes == ("SW02", "SW01")
    assert demand.enterprise_id == OWNER
    assert demand.district == "新洲区"
    assert demand.max_distance_km == Decimal(80)
    assert demand.quantity_tonnes == Decimal("500.000")
    assert demand.status is ListingStatus.OPEN
    assert demand.accepts("sw01")
    assert not demand.accepts("SW03")
    assert not demand.hazardous


def test_a_bare_string_is_one_code(recycler_site: Site, licences: list[Licence]) -> None:
    assert post(recycler_site, licences, waste_codes="SW01").waste_codes == ("SW01",)


def test_hazardous_code_with_operating_licence(
    recycler_site: Site, licences: list[Licence]
) -> None:
    demand = post(recycler_site, licences, waste_codes=["HW08", "SW03"])
    assert demand.hazardous


def test_code_not_listed_by_any_licence(recycler_site: Site, licences: list[Licence]) -> None:
    err = error(recycler_site, licences, waste_codes=["SW01", "SW04"])
    assert (err.code, err.field) == ("LICENCE_NOT_COVERING_CODE", "wasteCodes")
    assert "SW04" in err.message


def test_hazardous_code_without_operating_licence(
    recycler_site: Site, general_licence: Licence
) -> None:
    err = error(recycler_site, [general_licence], waste_codes=["HW08"])
    assert err.code == "LICENCE_NOT_COVERING_CODE"


def test_other_enterprises_licences_do_not_count(
    factory_site: Site, licences: list[Licence]
) -> None:
    assert error(factory_site, licences).code == "LICENCE_NOT_COVERING_CODE"


def test_window_beyond_the_licence_validity(recycler_site: Site, licences: list[Licence]) -> None:
    """Posted, as its first day is covered (decision 034, later): it keeps the last day its
    licences cover it, and as that ends the licence's term, the days it waits for a renewal."""
    # The general licence runs to 2027-12-31.
    demand = post(recycler_site, licences, available_until="2028-01-31")
    assert demand.status is ListingStatus.OPEN
    assert demand.window == Window(date(2027, 1, 1), date(2028, 1, 31))
    assert (demand.licensed_until, demand.awaits_renewal_until) == (
        date(2027, 12, 31),
        date(2028, 1, 7),
    )
    assert demand.last_day == date(2028, 1, 7)


def test_expired_licence(recycler_site: Site, general_licence: Licence) -> None:
    expired = replace(general_licence, valid_from=date(2020, 1, 1), valid_until=date(2025, 12, 31))
    assert error(recycler_site, [expired]).code == "LICENCE_EXPIRED"


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"waste_codes": []}, "EMPTY_WASTE_CODES", "wasteCodes"),
        ({"waste_codes": ["SW01", "XX99"]}, "UNKNOWN_WASTE_CODE", "wasteCodes"),
        ({"waste_codes": ["HW43"]}, "ABOLISHED_WASTE_CODE", "wasteCodes"),
        ({"quantity_tonnes": "0"}, "INVALID_QUANTITY", "quantityTonnes"),
        ({"quantity_tonnes": "10.0001"}, "INVALID_QUANTITY", "quantityTonnes"),
        ({"max_distance_km": 0}, "INVALID_DISTANCE", "maxDistanceKm"),
        ({"max_distance_km": "-5"}, "INVALID_DISTANCE", "maxDistanceKm"),
        ({"max_distance_km": "1000.1"}, "INVALID_DISTANCE", "maxDistanceKm"),
        ({"max_distance_km": float("nan")}, "INVALID_DISTANCE", "maxDistanceKm"),
        ({"max_distance_km": "far"}, "INVALID_DISTANCE", "maxDistanceKm"),
        ({"available_from": "2027-04-01"}, "INVALID_WINDOW", "availableUntil"),
        ({"available_until": "2027-02-30"}, "INVALID_DATE", "availableUntil"),
        # Day arithmetic overflows at the calendar's ends (a licence change then failed).
        ({"available_from": "0001-01-01"}, "INVALID_DATE", "availableFrom"),
        ({"available_until": "9999-12-31"}, "INVALID_DATE", "availableUntil"),
        ({"today": date(2027, 4, 1)}, "INVALID_WINDOW", "availableUntil"),
    ],
)
def test_post_rejects_bad_input(
    recycler_site: Site,
    licences: list[Licence],
    overrides: dict[str, Any],
    code: str,
    field: str,
) -> None:
    err = error(recycler_site, licences, **overrides)
    assert (err.code, err.field) == (code, field)


def test_distance_cap_is_inclusive(recycler_site: Site, licences: list[Licence]) -> None:
    demand = post(recycler_site, licences, max_distance_km=12.5)
    assert demand.max_distance_km == Decimal("12.5")
    assert post(recycler_site, licences, max_distance_km="1000").max_distance_km == 1000


def test_demand_state_machine(recycler_site: Site, licences: list[Licence]) -> None:
    demand = post(recycler_site, licences)
    partly = demand.allocate("m1", "200")
    assert partly.status is ListingStatus.PARTIALLY_MATCHED
    full = partly.allocate("m2", "300")
    assert full.status is ListingStatus.FULLY_MATCHED
    assert full.release("m1").status is ListingStatus.PARTIALLY_MATCHED
    assert full.withdraw(OWNER).status is ListingStatus.WITHDRAWN  # decision 030
    with pytest.raises(DomainError) as err:
        partly.withdraw("ent-steel")
    assert err.value.code == "NOT_AUTHORIZED"
    assert partly.withdraw(OWNER).status is ListingStatus.WITHDRAWN
    assert demand.expire_if_due(date(2027, 4, 1)).status is ListingStatus.EXPIRED
    assert demand.expire_if_due(date(2027, 3, 31)).status is ListingStatus.OPEN


# -- a licence amended or revoked after posting ------------------------------------------

TODAY = date(2026, 12, 20)


def test_a_demand_leaves_the_market_after_the_last_day_its_licences_cover_it(
    recycler_site: Site, general_licence: Licence
) -> None:
    demand = post(recycler_site, [general_licence])  # Jan–Mar 2027, SW01 and SW02
    assert (
        demand.relicensed([general_licence], grace_days=7).licensed_until is None
    )  # covered to the end
    revoked = general_licence.revoke(reason="吊销", effective_from=date(2027, 2, 15), today=TODAY)
    ended = demand.relicensed([revoked], grace_days=7)
    assert (ended.licensed_until, ended.last_day) == (date(2027, 2, 14), date(2027, 2, 14))
    assert not ended.is_due_to_expire(date(2027, 2, 14))
    gone = ended.expire_if_due(date(2027, 2, 15))
    assert (gone.status, gone.expiry_reason) == (ListingStatus.EXPIRED, "UNLICENSED")
    # A successor licence from the day of the revocation gives the whole window back.
    successor = replace(general_licence, id="lic-next", valid_from=date(2027, 2, 15))
    assert ended.relicensed([revoked, successor], grace_days=7).licensed_until is None


def test_a_demand_no_licence_covers_on_any_day_goes_at_once(
    recycler_site: Site, general_licence: Licence
) -> None:
    demand = post(recycler_site, [general_licence])  # its window starts in January
    revoked = general_licence.revoke(reason="吊销", effective_from=TODAY, today=TODAY)
    ended = demand.relicensed([revoked], grace_days=7)
    assert ended.licensed_until == date(2026, 12, 31)  # the day before its window
    assert ended.is_due_to_expire(TODAY)  # not only after 31 December


def test_one_code_still_licensed_keeps_the_demand(
    recycler_site: Site, general_licence: Licence
) -> None:
    demand = post(recycler_site, [general_licence])
    narrowed = replace(general_licence, waste_codes=("SW02",))
    assert (
        demand.relicensed([narrowed], grace_days=7).licensed_until is None
    )  # matching skips SW01 itself
    assert demand.expiry_reason == "EXPIRED"


# -- a licence that runs out on its term: the demand waits for the renewal (decision 034) --

GRACE = 7


@pytest.fixture
def calendar_year(general_licence: Licence) -> Licence:
    """The recycler's licence as its certificate has it: to 31 December 2026."""
    return replace(general_licence, valid_until=date(2026, 12, 31))


def test_a_licence_running_out_on_its_term_leaves_the_demand_waiting_for_a_renewal(
    recycler_site: Site, general_licence: Licence, calendar_year: Licence
) -> None:
    demand = post(recycler_site, [general_licence], available_from="2026-12-01")  # to 31 Mar
    lapsed = demand.relicensed([calendar_year], grace_days=GRACE)
    assert lapsed.licensed_until == date(2026, 12, 31)
    assert lapsed.awaits_renewal_until == date(2027, 1, 7)
    assert lapsed.last_day == date(2027, 1, 7)
    for day in (date(2027, 1, 1), date(2027, 1, 3), date(2027, 1, 7)):
        assert lapsed.expire_if_due(day) is lapsed, day  # on the market, as it was
    gone = lapsed.expire_if_due(date(2027, 1, 8))
    assert (gone.status, gone.expiry_reason) == (ListingStatus.EXPIRED, "UNLICENSED")
    # The renewal registered on 3 January gives its whole window back.
    renewal = replace(
        calendar_year, id="lic-2027", valid_from=date(2027, 1, 1), valid_until=date(2027, 12, 31)
    )
    renewed = lapsed.relicensed([calendar_year, renewal], grace_days=GRACE)
    assert (renewed.licensed_until, renewed.awaits_renewal_until) == (None, None)
    assert renewed.last_day == renewed.available_until == date(2027, 3, 31)
    assert not renewed.is_due_to_expire(date(2027, 1, 8))


def test_a_demand_starting_after_the_term_waits_too(
    recycler_site: Site, general_licence: Licence, calendar_year: Licence
) -> None:
    demand = post(recycler_site, [general_licence])  # from 1 January: no day covered
    lapsed = demand.relicensed([calendar_year], grace_days=GRACE)
    assert (lapsed.licensed_until, lapsed.awaits_renewal_until) == (
        date(2026, 12, 31),
        date(2027, 1, 7),
    )
    assert not lapsed.is_due_to_expire(TODAY)  # not at once, as a revocation's


def test_the_grace_never_outlasts_the_window(
    recycler_site: Site, general_licence: Licence, calendar_year: Licence
) -> None:
    demand = post(
        recycler_site, [general_licence], available_from="2026-12-01", available_until="2027-01-04"
    )
    lapsed = demand.relicensed([calendar_year], grace_days=GRACE)
    assert lapsed.awaits_renewal_until == date(2027, 1, 4)
    assert lapsed.expiry_reason == "EXPIRED"  # its window ends first: not for its licence


def test_a_revocation_is_no_lapse(
    recycler_site: Site, general_licence: Licence, calendar_year: Licence
) -> None:
    demand = post(recycler_site, [general_licence], available_from="2026-12-01")
    # Revoked from 1 January, the day after the certificate's term would have come anyway.
    revoked = general_licence.revoke(reason="吊销", effective_from=date(2027, 1, 1), today=TODAY)
    cut = demand.relicensed([revoked], grace_days=GRACE)
    assert (cut.licensed_until, cut.awaits_renewal_until) == (date(2026, 12, 31), None)
    assert cut.expire_if_due(date(2027, 1, 1)).status is ListingStatus.EXPIRED
    # A renewal revoked before it began: the licence before it runs out on its term, but
    # only the revocation stops the cover going on.
    renewal = replace(
        calendar_year, id="lic-2027", valid_from=date(2027, 1, 1), valid_until=date(2027, 12, 31)
    )
    withdrawn = renewal.revoke(reason="吊销", effective_from=date(2027, 1, 1), today=TODAY)
    cut = demand.relicensed([calendar_year, withdrawn], grace_days=GRACE)
    assert (cut.licensed_until, cut.awaits_renewal_until) == (date(2026, 12, 31), None)


def test_a_code_dropped_by_an_amendment_is_no_lapse(
    recycler_site: Site, general_licence: Licence
) -> None:
    demand = post(
        recycler_site, [general_licence], waste_codes=["SW01"], available_from="2026-12-01"
    )
    dropped = replace(general_licence, waste_codes=("SW02",))
    cut = demand.relicensed([dropped], grace_days=GRACE)
    assert (cut.licensed_until, cut.awaits_renewal_until) == (date(2026, 11, 30), None)
    assert cut.is_due_to_expire(TODAY)  # no day of its window covered: at once, as before


def test_no_grace_days_is_the_old_rule(
    recycler_site: Site, general_licence: Licence, calendar_year: Licence
) -> None:
    demand = post(recycler_site, [general_licence], available_from="2026-12-01")
    lapsed = demand.relicensed([calendar_year], grace_days=0)
    assert (lapsed.licensed_until, lapsed.awaits_renewal_until) == (date(2026, 12, 31), None)
    assert lapsed.expire_if_due(date(2027, 1, 1)).status is ListingStatus.EXPIRED


# -- posting past what the licences cover (decision 034, later) ------------------------


def test_a_demand_running_past_its_licence_is_posted_waiting_for_the_renewal(
    recycler_site: Site, calendar_year: Licence
) -> None:
    """Licensed by calendar year, the renewal not yet registered: a demand for December to
    March is posted in December, on the market till 7 January unless the renewal comes."""
    demand = post(
        recycler_site,
        [calendar_year],
        available_from="2026-12-01",
        today=date(2026, 12, 1),
    )
    assert demand.status is ListingStatus.OPEN
    assert demand.window == Window(date(2026, 12, 1), date(2027, 3, 31))  # whole, as asked
    assert (demand.licensed_until, demand.awaits_renewal_until) == (
        date(2026, 12, 31),
        date(2027, 1, 7),
    )
    assert demand.expire_if_due(date(2027, 1, 7)) is demand
    assert demand.expire_if_due(date(2027, 1, 8)).expiry_reason == "UNLICENSED"
    renewal = replace(
        calendar_year, id="lic-2027", valid_from=date(2027, 1, 1), valid_until=date(2027, 12, 31)
    )
    renewed = demand.relicensed([calendar_year, renewal], grace_days=GRACE)
    assert (renewed.licensed_until, renewed.awaits_renewal_until) == (None, None)
    # Posted with the renewal registered: covered to its end, nothing to wait for.
    covered = post(recycler_site, [calendar_year, renewal], available_from="2026-12-01")
    assert (covered.licensed_until, covered.awaits_renewal_until) == (None, None)


def test_a_window_begun_needs_only_today_covered(
    recycler_site: Site, calendar_year: Licence
) -> None:
    running = post(
        recycler_site, [calendar_year], available_from="2026-11-01", today=date(2026, 12, 20)
    )
    assert running.licensed_until == date(2026, 12, 31)
    # Once the licence has run out, today is not covered: refused as before.
    err = error(recycler_site, [calendar_year], available_from="2026-11-01", today=date(2027, 1, 2))
    assert (err.code, err.field) == ("LICENCE_EXPIRED", "wasteCodes")
    assert "on 2027-01-02" in err.message


def test_a_window_whose_first_day_no_licence_covers_is_refused_as_before(
    recycler_site: Site, calendar_year: Licence
) -> None:
    err = error(recycler_site, [calendar_year])  # from 1 January: the licence ended
    assert (err.code, err.field) == ("LICENCE_EXPIRED", "wasteCodes")
    assert err.message.startswith("no licence covers SW01 on 2027-01-01")
    assert "2026-01-01–2026-12-31" in err.message
    late = replace(calendar_year, valid_from=date(2027, 2, 1), valid_until=date(2027, 12, 31))
    err = error(recycler_site, [late])
    assert (err.code, err.field) == ("LICENCE_NOT_YET_VALID", "wasteCodes")
    revoked = replace(calendar_year, valid_until=date(2027, 12, 31)).revoke(
        reason="吊销", effective_from=date(2026, 12, 20), today=TODAY
    )
    assert error(recycler_site, [revoked]).code == "LICENCE_REVOKED"


def test_every_code_must_be_covered_on_the_first_day(
    recycler_site: Site, general_licence: Licence, calendar_year: Licence
) -> None:
    """One code's licence ending during the window is posted (the other code keeps it on
    the market to its end: 017); one code not covered on the first day is not."""
    sw01_to_december = replace(calendar_year, waste_codes=("SW01",))
    sw02 = replace(general_licence, id="lic-sw02", waste_codes=("SW02",))
    both = post(recycler_site, [sw01_to_december, sw02], available_from="2026-12-01")
    assert (both.licensed_until, both.awaits_renewal_until) == (None, None)
    sw01_later = replace(
        sw01_to_december, valid_from=date(2027, 2, 1), valid_until=date(2027, 12, 31)
    )
    err = error(recycler_site, [sw01_later, sw02])
    assert (err.code, err.field) == ("LICENCE_NOT_YET_VALID", "wasteCodes")
    assert "SW01" in err.message


def test_a_window_posted_past_a_revocation_ends_there_without_grace(
    recycler_site: Site, general_licence: Licence
) -> None:
    revoked = general_licence.revoke(reason="吊销", effective_from=date(2027, 2, 15), today=TODAY)
    demand = post(recycler_site, [revoked])  # January to March
    assert (demand.licensed_until, demand.awaits_renewal_until) == (date(2027, 2, 14), None)
    assert demand.expire_if_due(date(2027, 2, 15)).expiry_reason == "UNLICENSED"


def test_a_gap_between_licences_keeps_the_window(
    recycler_site: Site, calendar_year: Licence
) -> None:
    """As a demand posted before the gap came does (031): matching proposes around it."""
    later = replace(
        calendar_year, id="lic-2027", valid_from=date(2027, 1, 10), valid_until=date(2027, 12, 31)
    )
    demand = post(recycler_site, [calendar_year, later], available_from="2026-12-01")
    assert (demand.licensed_until, demand.awaits_renewal_until) == (None, None)
