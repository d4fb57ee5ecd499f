"""A shipment leaves only under a licence of the recycler that lets it take the waste that
day; a revocation leaving the recycler none for good calls it off (decision 023)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from wastex_ledger.domain import manifest
from wastex_ledger.domain.licences import Days, Drop, Licence, as_read, dispatch_days
from wastex_ledger.domain.manifest import Manifest, ManifestStatus
from wastex_ledger.domain.periods import Period
from wastex_ledger.service import licence_of
from wastex_shared.codes import LicenceType
from wastex_shared.errors import DomainError
from wastex_shared.events.catalog import LicenceRegistered

from .conftest import HW_OIL, SLAG, route

#: The manifest opens on 15 March 2026; the shipments below leave in April.
OPENED = datetime(2026, 3, 15, 8, 0, tzinfo=UTC)
APRIL = Period(2026, 4)
MARCH = Period(2026, 3)
#: 20 April 2026, 09:00 in China.
ON_20_APRIL = datetime(2026, 4, 20, 1, 0, tzinfo=UTC)

CEMENTS = Licence(
    id="lic-cement",
    enterprise_id="ent-cement",
    number="鄂危废-0001",
    waste_codes=frozenset({SLAG}),
    type=LicenceType.GENERAL_UTILISATION,
    valid_from=date(2026, 1, 1),
    valid_until=date(2026, 12, 31),
)


def opened(licence_id: str | None = "lic-cement", code: str = SLAG) -> Manifest:
    return manifest.create(
        manifest_id="m-1",
        match_id="match-1",
        route=route(code=code),
        at=OPENED,
        licence_id=licence_id,
    )


def dispatch(m: Manifest, licences: list[Licence], period: Period = APRIL) -> Manifest:
    return m.dispatch(
        actor_enterprise_id="ent-steel",
        tonnes="50",
        from_prior_stock=False,
        period=period,
        at=ON_20_APRIL,
        recycler_licences=licences,
    )


def revoked(on: date, licence: Licence = CEMENTS) -> Licence:
    return replace(licence, revoked_on=on)


def dropped(on: date, code: str = SLAG, read_on: date | None = None) -> Licence:
    """Cement's licence amended `on` to list SW02 instead, the ledger reading it `read_on`
    (that day if None)."""
    drop = Drop(code, on, read_on or on)
    return replace(CEMENTS, waste_codes=frozenset({"SW02"}), codes_dropped=(drop,))


def test_a_shipment_leaves_while_the_licence_holds() -> None:
    assert dispatch(opened(), [CEMENTS]).status is ManifestStatus.IN_TRANSIT
    # The revocation takes effect the day after the dispatch: it still holds that day.
    assert dispatch(opened(), [revoked(date(2026, 4, 21))]).status is ManifestStatus.IN_TRANSIT


CANCEL = "the shipment cannot leave; either party may cancel it"
WAIT = "the shipment may leave once a licence of the recycler covers the day it leaves"


@pytest.mark.parametrize(
    ("licence", "why", "then"),
    [
        # revoked from the day it would leave, or before
        (revoked(date(2026, 4, 20)), "was revoked from 2026-04-20", CANCEL),
        (revoked(date(2026, 4, 1)), "was revoked from 2026-04-01", CANCEL),
        (replace(CEMENTS, valid_until=date(2026, 4, 19)), "ran out on 2026-04-19", WAIT),
        # revoked after it ran out: the revocation took no day from it
        (
            replace(CEMENTS, valid_until=date(2026, 4, 1), revoked_on=date(2026, 4, 5)),
            "ran out on 2026-04-01",
            WAIT,
        ),
        (replace(CEMENTS, valid_from=date(2026, 4, 21)), "holds from 2026-04-21", WAIT),
        (replace(CEMENTS, waste_codes=frozenset({"SW02"})), "no longer lists SW01", CANCEL),
    ],
)
def test_a_shipment_no_licence_allows_that_day_cannot_leave(
    licence: Licence, why: str, then: str
) -> None:
    with pytest.raises(DomainError) as caught:
        dispatch(opened(), [licence])
    assert (caught.value.code, caught.value.field) == ("LICENCE_NO_LONGER_VALID", "matchId")
    assert caught.value.message == (
        f"the recycler may not take SW01 on 2026-04-20: its licence 鄂危废-0001 {why}, and no "
        f"other licence of the recycler covers it; {then}"
    )


def test_a_hazardous_code_needs_an_operating_licence_even_if_listed() -> None:
    listed = replace(CEMENTS, waste_codes=frozenset({HW_OIL}))
    with pytest.raises(DomainError) as caught:
        dispatch(opened(code=HW_OIL), [listed])
    assert caught.value.code == "LICENCE_NO_LONGER_VALID"
    operating = replace(listed, type=LicenceType.HAZARDOUS_WASTE_OPERATING)
    assert dispatch(opened(code=HW_OIL), [operating]).status is ManifestStatus.IN_TRANSIT


def test_another_licence_of_the_recycler_carries_the_shipment() -> None:
    renewal = replace(CEMENTS, id="lic-renewal", number="鄂危废-0002")
    sent = dispatch(opened(), [revoked(date(2026, 4, 1)), renewal])
    assert sent.status is ManifestStatus.IN_TRANSIT


def test_another_enterprise_s_licence_does_not() -> None:
    strangers = replace(CEMENTS, id="lic-other", enterprise_id="ent-power")
    with pytest.raises(DomainError):
        dispatch(opened(), [revoked(date(2026, 4, 1)), strangers])


@pytest.mark.parametrize("licence_id", [None, "lic-unknown"])
def test_a_licence_the_ledger_does_not_know_stops_nothing(licence_id: str | None) -> None:
    sent = dispatch(opened(licence_id), [revoked(date(2026, 4, 1))])
    assert sent.status is ManifestStatus.IN_TRANSIT


def test_a_late_report_needs_the_licence_on_some_day_of_its_month() -> None:
    # Booked to March (reported in April): the licence held on 15–19 March.
    sent = dispatch(opened(), [revoked(date(2026, 3, 20))], period=MARCH)
    assert sent.status is ManifestStatus.IN_TRANSIT
    # Revoked from the day the manifest opened: no day of March it could have left on.
    with pytest.raises(DomainError) as caught:
        dispatch(opened(), [revoked(date(2026, 3, 15))], period=MARCH)
    assert "2026-03-15–2026-03-31" in caught.value.message


def test_the_days_a_shipment_left_on() -> None:
    assert dispatch_days(OPENED, APRIL, ON_20_APRIL) == Days(date(2026, 4, 20), date(2026, 4, 20))
    assert dispatch_days(OPENED, MARCH, ON_20_APRIL) == Days(date(2026, 3, 15), date(2026, 3, 31))
    # China's day: 23:30 UTC on 19 April is 20 April in Wuhan.
    late_evening = datetime(2026, 4, 19, 23, 30, tzinfo=UTC)
    assert dispatch_days(OPENED, APRIL, late_evening).first == date(2026, 4, 20)


TODAY = date(2026, 4, 20)
GRACE = 7


def cancelled_on(m: Manifest, licences: list[Licence], today: date = TODAY) -> Manifest:
    return m.cancel_if_cut(licences, today=today, grace_days=GRACE, at=ON_20_APRIL)


def test_a_revocation_in_force_for_the_grace_days_calls_the_shipment_off() -> None:
    licences = [revoked(date(2026, 4, 13))]
    assert cancelled_on(opened(), licences, date(2026, 4, 19)).status is ManifestStatus.CREATED
    called_off = cancelled_on(opened(), licences, date(2026, 4, 20))
    assert called_off.status is ManifestStatus.CANCELLED
    assert called_off.cancellation is not None
    assert called_off.cancellation.by == "ent-cement"  # the side whose licence it was
    assert called_off.cancellation.reason == (
        "licence 鄂危废-0001 was revoked from 2026-04-13: the recycler may no longer take SW01"
    )


def test_a_successor_s_revocation_is_the_one_named() -> None:
    successor = replace(CEMENTS, id="lic-next", number="鄂危废-0002", valid_from=date(2026, 4, 1))
    # The match's licence ran out; its successor took over and was revoked in turn.
    licences = [
        replace(CEMENTS, valid_until=date(2026, 3, 31)),
        revoked(date(2026, 4, 2), successor),
    ]
    called_off = cancelled_on(opened(), licences)
    assert called_off.cancellation is not None
    assert called_off.cancellation.reason.startswith(
        "licence 鄂危废-0002 was revoked from 2026-04-02"
    )


@pytest.mark.parametrize(
    "licences",
    [
        [revoked(date(2026, 4, 21))],  # from tomorrow: it may still leave today
        [revoked(date(2026, 4, 14))],  # in force six days: the grace is seven
        [CEMENTS],
        [replace(CEMENTS, valid_until=date(2026, 4, 1))],  # ran out: a renewal may come
        # Revoked after it ran out: the revocation took nothing from the days to come.
        [replace(CEMENTS, valid_until=date(2026, 4, 1), revoked_on=date(2026, 4, 5))],
        # A successor from next month still lets it go then.
        [
            revoked(date(2026, 4, 1)),
            replace(CEMENTS, id="lic-next", valid_from=date(2026, 5, 1)),
        ],
        # Amended to other codes when the ledger did not see it drop SW01: refused at
        # dispatch, for the parties to call off.
        [replace(CEMENTS, waste_codes=frozenset({"SW02"}), revoked_on=date(2026, 4, 1))],
        # SW01 dropped before the manifest opened, or after the licence ran out.
        [dropped(date(2026, 3, 1))],
        [replace(dropped(date(2026, 4, 5)), valid_until=date(2026, 4, 1))],
    ],
)
def test_a_shipment_a_revocation_has_not_cut_stays(licences: list[Licence]) -> None:
    m = opened()
    assert cancelled_on(m, licences) is m


def test_a_revocation_from_before_the_manifest_cuts_nothing() -> None:
    # Review: an old licence revoked in 2025 (it would have run to 2028) and the match's
    # licence that merely ran out: nothing to call off, the dispatch waits for a renewal.
    old = replace(
        CEMENTS, id="lic-old", valid_until=date(2028, 12, 31), revoked_on=date(2025, 3, 1)
    )
    ran_out = replace(CEMENTS, valid_until=date(2026, 4, 1))
    m = opened()
    assert cancelled_on(m, [old, ran_out]) is m


def test_an_amendment_dropping_the_code_calls_the_shipment_off_after_the_grace() -> None:
    m = opened()
    assert cancelled_on(m, [dropped(date(2026, 4, 13))], date(2026, 4, 19)) is m
    called_off = cancelled_on(m, [dropped(date(2026, 4, 13))], date(2026, 4, 20))
    assert called_off.cancellation is not None
    assert called_off.cancellation.reason == (
        "licence 鄂危废-0001 no longer lists SW01 from 2026-04-13: "
        "the recycler may no longer take SW01"
    )
    # A renewal listing it keeps the shipment going.
    renewal = replace(CEMENTS, id="lic-renewal", number="鄂危废-0002")
    assert cancelled_on(m, [dropped(date(2026, 4, 13)), renewal], date(2026, 4, 20)) is m


def test_a_version_keeps_the_days_each_code_was_dropped_and_first_read_so() -> None:
    def day(n: int) -> date:
        return date(2026, 4, n)

    v1 = replace(CEMENTS, waste_codes=frozenset({SLAG, "SW02"}))
    v2 = as_read(replace(v1, waste_codes=frozenset({"SW02"})), v1, day(12), day(13))
    assert v2.codes_dropped == (Drop(SLAG, day(12), day(13)),)
    v3 = as_read(replace(v1, waste_codes=frozenset({"SW03"})), v2, day(20), day(20))
    assert v3.codes_dropped == (Drop(SLAG, day(12), day(13)), Drop("SW02", day(20), day(20)))
    back = as_read(replace(v1, waste_codes=frozenset({SLAG})), v3, day(22), day(22))
    assert back.codes_dropped == (Drop("SW02", day(20), day(20)), Drop("SW03", day(22), day(22)))
    assert as_read(v1, None, day(13), day(13)) is v1  # no version before: none
    # A version dated after the day it is read (a clock ahead) counts from the read.
    ahead = as_read(replace(v1, waste_codes=frozenset({"SW02"})), v1, day(25), day(13))
    assert ahead.codes_dropped == (Drop(SLAG, day(13), day(13)),)


def test_a_drop_made_before_the_manifest_opened_cuts_it_not_however_late_it_is_read() -> None:
    # Whether the shipment is called off no longer depends on the ledger's lag: the drop
    # was made the day before the manifest opened, read days after.
    before_opening = OPENED.date() - timedelta(days=1)
    late = dropped(before_opening, read_on=OPENED.date() + timedelta(days=3))
    assert cancelled_on(opened(), [late], OPENED.date() + timedelta(days=30)).status is (
        ManifestStatus.CREATED
    )
    on_opening = dropped(OPENED.date(), read_on=OPENED.date() + timedelta(days=3))
    m = opened()
    grace_over = OPENED.date() + timedelta(days=3 + GRACE)
    assert cancelled_on(m, [on_opening], grace_over - timedelta(days=1)) is m  # from the read
    assert cancelled_on(m, [on_opening], grace_over).status is ManifestStatus.CANCELLED


def test_a_revocation_read_after_its_first_day_waits_its_grace_from_the_day_read() -> None:
    read_late = replace(revoked(date(2026, 4, 1)), revocation_read_on=date(2026, 4, 14))
    m = opened()
    assert cancelled_on(m, [read_late], date(2026, 4, 20)) is m  # in force 19 days, read 6
    assert cancelled_on(m, [read_late], date(2026, 4, 21)).status is ManifestStatus.CANCELLED


def test_a_revocation_from_the_day_the_manifest_opened_cuts_it() -> None:
    # The bureau revokes the licence from today, the day the match was confirmed.
    called_off = cancelled_on(opened(), [revoked(OPENED.date())], date(2026, 3, 22))
    assert called_off.status is ManifestStatus.CANCELLED


def test_a_revocation_near_the_licence_s_end_still_cuts_after_the_grace() -> None:
    # Revoked from 20 April, the licence would have ended on 23 April: cut on 27 April.
    near_end = replace(CEMENTS, valid_until=date(2026, 4, 23), revoked_on=date(2026, 4, 20))
    assert cancelled_on(opened(), [near_end], date(2026, 4, 26)).status is ManifestStatus.CREATED
    assert cancelled_on(opened(), [near_end], date(2026, 4, 27)).status is ManifestStatus.CANCELLED


def test_every_revocation_counted_waits_its_grace() -> None:
    # The match's licence revoked yesterday; another revoked a month ago: not yet.
    earlier = replace(CEMENTS, id="lic-a", revoked_on=date(2026, 3, 20))
    m = opened()
    assert cancelled_on(m, [earlier, revoked(date(2026, 4, 19))]) is m


def test_only_a_judged_shipment_not_yet_dispatched_is_called_off() -> None:
    sent = dispatch(opened(), [CEMENTS])
    assert cancelled_on(sent, [revoked(date(2026, 4, 1))]) is sent
    unknown = opened("lic-unknown")
    assert cancelled_on(unknown, [revoked(date(2026, 4, 1))]) is unknown


def test_a_licence_of_an_unknown_type_is_refused() -> None:
    fact = LicenceRegistered(
        licence_id="lic-x",
        enterprise_id="ent-x",
        number="X",
        waste_codes=["SW01"],
        annual_capacity_tonnes=Decimal(1),
        valid_from=date(2026, 1, 1),
        valid_until=date(2026, 12, 31),
        licence_type="FISHING",
    )
    with pytest.raises(DomainError) as caught:
        licence_of(fact)
    assert caught.value.code == "INVALID_LICENCE"
