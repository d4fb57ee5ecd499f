"""Licence registration and the demand coverage rule (the window's first day)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wastex_catalog.domain import (
    Licence,
    LicenceType,
    Window,
    check_demand_coverage,
    covered_by_union,
    covering_licences,
)
from wastex_shared.errors import DomainError

JAN_2027 = Window(date(2027, 1, 1), date(2027, 1, 31))


def register(**overrides: Any) -> Licence:
    fields: dict[str, Any] = {
        "id": "lic-1",
        "enterprise_id": "ent-1",
        "number": "L-1",
        "waste_codes": ["SW01"],
        "annual_capacity_tonnes": "1000",
        "valid_from": date(2026, 1, 1),
        "valid_until": date(2027, 12, 31),
    }
    fields.update(overrides)
    return Licence.register(**fields)


def licence(
    codes: tuple[str, ...],
    start: date,
    end: date,
    kind: LicenceType = LicenceType.GENERAL_UTILISATION,
) -> Licence:
    # Built directly (no validation), as a repository would rehydrate a stored row.
    return Licence(
        id=f"lic-{start}",
        enterprise_id="ent-1",
        number=f"L-{start}",
        waste_codes=codes,
        annual_capacity_tonnes=Decimal("100.000"),
        valid_from=start,
        valid_until=end,
        type=kind,
    )


def coverage_error(codes: list[str], licences: list[Licence], window: Window) -> DomainError:
    with pytest.raises(DomainError) as err:
        check_demand_coverage(codes, licences, window)
    return err.value


def test_register_defaults_to_general_utilisation_and_normalises() -> None:
    lic = register(
        waste_codes=[" sw01", "SW02", "SW01"],
        annual_capacity_tonnes="1200.5",
        valid_from="2026-01-01",
        valid_until="2026-12-31",
        number="  L-9 ",
    )
    assert lic.type is LicenceType.GENERAL_UTILISATION
    assert lic.waste_codes == ("SW01", "SW02")
    assert lic.annual_capacity_tonnes == Decimal("1200.500")
    assert lic.validity == Window(date(2026, 1, 1), date(2026, 12, 31))
    assert lic.number == "L-9"


def test_general_licence_listing_a_hazardous_code_is_refused() -> None:
    with pytest.raises(DomainError) as err:
        register(waste_codes=["SW01", "HW08"], type="GENERAL_UTILISATION")
    assert err.value.code == "HAZARDOUS_NEEDS_OPERATING_LICENCE"
    assert err.value.field == "wasteCodes"
    assert "HW08" in err.value.message


def test_operating_licence_may_list_hazardous_and_general_codes() -> None:
    lic = register(waste_codes=["HW08", "SW01"], type="hazardous_waste_operating")
    assert lic.type is LicenceType.HAZARDOUS_WASTE_OPERATING
    assert lic.may_take("HW08")
    assert lic.may_take("sw01")


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"waste_codes": []}, "EMPTY_WASTE_CODES", "wasteCodes"),
        ({"waste_codes": ["SW08"]}, "UNKNOWN_WASTE_CODE", "wasteCodes"),
        (
            {"waste_codes": ["HW41"], "type": "HAZARDOUS_WASTE_OPERATING"},
            "ABOLISHED_WASTE_CODE",
            "wasteCodes",
        ),
        ({"annual_capacity_tonnes": "0"}, "INVALID_QUANTITY", "annualCapacityTonnes"),
        ({"annual_capacity_tonnes": "1.0005"}, "INVALID_QUANTITY", "annualCapacityTonnes"),
        ({"annual_capacity_tonnes": 1.5}, "INVALID_QUANTITY", "annualCapacityTonnes"),
        ({"valid_from": date(2028, 1, 1)}, "INVALID_WINDOW", "validUntil"),
        ({"valid_from": "2026-13-01"}, "INVALID_DATE", "validFrom"),
        ({"valid_from": date(1, 1, 1)}, "INVALID_DATE", "validFrom"),
        ({"type": "WHATEVER"}, "INVALID_LICENCE_TYPE", "type"),
        ({"number": ""}, "REQUIRED_FIELD", "number"),
    ],
)
def test_register_rejects_bad_input(overrides: dict[str, Any], code: str, field: str) -> None:
    with pytest.raises(DomainError) as err:
        register(**overrides)
    assert (err.value.code, err.value.field) == (code, field)


def test_a_single_day_validity_is_allowed() -> None:
    lic = register(valid_from="2026-05-01", valid_until="2026-05-01")
    assert lic.is_valid_on(date(2026, 5, 1))
    assert not lic.is_valid_on(date(2026, 5, 2))


def test_coverage_passes_when_a_licence_lists_every_code_over_the_window() -> None:
    lic = licence(("SW01", "SW02"), date(2026, 1, 1), date(2027, 12, 31))
    check_demand_coverage(["SW01", "SW02"], [lic], JAN_2027)


def test_coverage_refuses_a_code_no_licence_lists() -> None:
    lic = licence(("SW01",), date(2026, 1, 1), date(2027, 12, 31))
    err = coverage_error(["SW01", "SW02"], [lic], JAN_2027)
    assert (err.code, err.field) == ("LICENCE_NOT_COVERING_CODE", "wasteCodes")
    assert "SW02" in err.message


def test_coverage_refuses_when_no_licences_at_all() -> None:
    assert coverage_error(["SW01"], [], JAN_2027).code == "LICENCE_NOT_COVERING_CODE"


@pytest.mark.parametrize(
    ("start", "end", "code"),
    [
        (date(2025, 1, 1), date(2026, 12, 31), "LICENCE_EXPIRED"),  # before the window
        (date(2027, 2, 1), date(2029, 1, 31), "LICENCE_NOT_YET_VALID"),  # after it
        (date(2027, 1, 2), date(2029, 1, 31), "LICENCE_NOT_YET_VALID"),  # a day late
        # Late and ends early: a window from its first day would be posted, running past it.
        (date(2027, 1, 2), date(2027, 1, 30), "LICENCE_NOT_YET_VALID"),
    ],
)
def test_coverage_refuses_a_licence_not_valid_on_the_window_s_first_day(
    start: date, end: date, code: str
) -> None:
    err = coverage_error(["SW01"], [licence(("SW01",), start, end)], JAN_2027)
    assert (err.code, err.field) == (code, "wasteCodes")
    assert err.message.startswith("no licence covers SW01 on 2027-01-01")


def test_coverage_passes_a_licence_running_out_during_the_window() -> None:
    """Since decision 034 (later): the demand keeps the last day and waits for a renewal."""
    check_demand_coverage(
        ["SW01"], [licence(("SW01",), date(2026, 1, 1), date(2027, 1, 15))], JAN_2027
    )


def test_licences_starting_after_the_first_day_are_not_yet_valid_gap_or_not() -> None:
    """The first day is what is judged (decision 034, later): a window from the day one
    starts would be posted, whatever follows it."""
    late = licence(("SW01",), date(2027, 1, 5), date(2027, 1, 20))
    renewal = licence(("SW01",), date(2027, 1, 21), date(2030, 1, 1))
    assert coverage_error(["SW01"], [renewal, late], JAN_2027).code == "LICENCE_NOT_YET_VALID"
    gap = licence(("SW01",), date(2027, 1, 23), date(2030, 1, 1))
    assert coverage_error(["SW01"], [gap, late], JAN_2027).code == "LICENCE_NOT_YET_VALID"
    ended = licence(("SW01",), date(2025, 1, 1), date(2026, 12, 31))
    assert coverage_error(["SW01"], [ended], JAN_2027).code == "LICENCE_EXPIRED"


@pytest.mark.parametrize(
    ("typed", "same"),
    [
        ("鄂环危 第 0001 号", "鄂环危第0001号"),
        ("ＨＷ－４２０１", "hw-4201"),
        ("\u3000L-1 ", "l-1"),
    ],
)
def test_a_licence_number_is_compared_without_width_spacing_or_case(typed: str, same: str) -> None:
    assert register(number=typed).number_key == register(number=same).number_key
    assert register(number="L-1").number_key != register(number="L-11").number_key


def test_a_renewal_continuing_an_expiring_licence_covers_the_window() -> None:
    old = licence(("SW01",), date(2024, 1, 1), date(2027, 1, 10))
    new = licence(("SW01",), date(2027, 1, 11), date(2030, 1, 10))
    check_demand_coverage(["SW01"], [new, old], JAN_2027)


def test_a_gap_between_licences_after_the_first_day_is_no_refusal() -> None:
    """Matching proposes only windows the licences cover (031); the demand keeps its own."""
    old = licence(("SW01",), date(2024, 1, 1), date(2027, 1, 10))
    new = licence(("SW01",), date(2027, 1, 12), date(2030, 1, 10))
    check_demand_coverage(["SW01"], [old, new], JAN_2027)
    gap_first = Window(date(2027, 1, 11), date(2027, 1, 31))
    assert coverage_error(["SW01"], [old, new], gap_first).code == "LICENCE_NOT_YET_VALID"


def test_hazardous_code_needs_an_operating_licence() -> None:
    operating = licence(
        ("HW08",), date(2026, 1, 1), date(2028, 1, 1), LicenceType.HAZARDOUS_WASTE_OPERATING
    )
    check_demand_coverage(["HW08"], [operating], JAN_2027)
    # A stored general licence listing HW (from before the rule) does not count.
    general = licence(("HW08",), date(2026, 1, 1), date(2028, 1, 1))
    err = coverage_error(["HW08"], [general], JAN_2027)
    assert err.code == "HAZARDOUS_NEEDS_OPERATING_LICENCE"


def test_expired_operating_licence_for_hazardous_code() -> None:
    operating = licence(
        ("HW08",), date(2020, 1, 1), date(2025, 1, 1), LicenceType.HAZARDOUS_WASTE_OPERATING
    )
    assert coverage_error(["HW08"], [operating], JAN_2027).code == "LICENCE_EXPIRED"


def test_covering_licences_on_a_day() -> None:
    a = licence(("SW01",), date(2026, 1, 1), date(2026, 12, 31))
    b = licence(("SW01", "SW02"), date(2027, 1, 1), date(2027, 12, 31))
    assert covering_licences("SW01", [a, b], date(2027, 6, 1)) == [b]
    assert covering_licences("SW02", [a, b], date(2026, 6, 1)) == []


BASE = date(2027, 1, 1)
day_offsets = st.integers(min_value=0, max_value=60)
spans = st.tuples(day_offsets, day_offsets).map(
    lambda t: Window(BASE + timedelta(min(t)), BASE + timedelta(max(t)))
)


@given(spans, st.lists(spans, max_size=5))
def test_union_coverage_agrees_with_checking_every_day(window: Window, parts: list[Window]) -> None:
    days = [window.start + timedelta(i) for i in range(window.days)]
    expected = all(any(p.contains(d) for p in parts) for d in days)
    assert covered_by_union(window, parts) == expected


# -- amendments and revocations ------------------------------------------------------------

TODAY = date(2026, 11, 27)


def refused(call: Any) -> tuple[str, str | None]:
    with pytest.raises(DomainError) as err:
        call()
    return err.value.code, err.value.field


def test_an_amendment_replaces_what_is_given_and_raises_the_version() -> None:
    original = register()
    amended = original.amend(waste_codes=["sw01", "SW02"], annual_capacity_tonnes="1500")
    assert (amended.waste_codes, amended.annual_capacity_tonnes) == (
        ("SW01", "SW02"),
        Decimal("1500.000"),
    )
    assert (amended.valid_from, amended.valid_until) == (original.valid_from, original.valid_until)
    assert (amended.number, amended.type, amended.version) == (original.number, original.type, 2)
    assert amended.amend(valid_until=date(2028, 6, 30)).version == 3


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"waste_codes": ["HW08"]}, "HAZARDOUS_NEEDS_OPERATING_LICENCE", "wasteCodes"),
        ({"annual_capacity_tonnes": "-1"}, "INVALID_QUANTITY", "annualCapacityTonnes"),
        ({"valid_until": date(2025, 1, 1)}, "INVALID_WINDOW", None),
        ({"annual_capacity_tonnes": "1000"}, "NOTHING_TO_AMEND", "input"),
    ],
)
def test_an_amendment_is_checked_as_a_registration_is(
    change: dict[str, Any], code: str, field: str | None
) -> None:
    got_code, got_field = refused(lambda: register().amend(**change))
    assert got_code == code
    if field is not None:
        assert got_field == field


def test_a_revocation_ends_the_licence_the_day_before() -> None:
    revoked = register().revoke(reason=" 吊销: audit ", effective_from=None, today=TODAY)
    assert (revoked.revoked_on, revoked.revocation_reason, revoked.version) == (
        TODAY,
        "吊销: audit",
        2,
    )
    assert revoked.last_valid_day == TODAY - timedelta(days=1)
    assert revoked.is_valid_on(TODAY - timedelta(days=1))
    assert not revoked.is_valid_on(TODAY)
    assert revoked.validity == Window(date(2026, 1, 1), TODAY - timedelta(days=1))
    # A revocation from the licence's last day still takes that day.
    last = register().revoke(reason="r", effective_from=date(2027, 12, 31), today=TODAY)
    assert last.last_valid_day == date(2027, 12, 30)


def test_a_revocation_after_the_licence_runs_out_is_refused() -> None:
    # helper-43: accepted, it changed nothing, and then refused the real revocation.
    assert refused(
        lambda: register().revoke(reason="r", effective_from=date(2028, 1, 1), today=TODAY)
    ) == ("INVALID_DATE", "effectiveFrom")
    # A licence already run out, revoked from today (no effectiveFrom given): the licence is
    # at fault, not an argument the caller did not send.
    assert refused(
        lambda: register().revoke(reason="r", effective_from=None, today=date(2028, 1, 1))
    ) == ("INVALID_DATE", "id")


def test_a_revocation_not_yet_in_force_is_brought_forward_not_put_off() -> None:
    scheduled = register().revoke(reason="r", effective_from=date(2026, 12, 15), today=TODAY)
    sooner = scheduled.revoke(reason="吊销: at once", effective_from=None, today=TODAY)
    assert (sooner.revoked_on, sooner.revocation_reason, sooner.version) == (
        TODAY,
        "吊销: at once",
        3,
    )
    later = date(2026, 12, 20)
    assert refused(lambda: scheduled.revoke(reason="r", effective_from=later, today=TODAY))[0] == (
        "LICENCE_REVOKED"
    )
    assert refused(lambda: sooner.revoke(reason="r", effective_from=None, today=TODAY))[0] == (
        "LICENCE_REVOKED"  # in force: for good
    )


def test_a_licence_revoked_before_it_began_never_holds() -> None:
    future = register(valid_from=date(2027, 1, 1))
    revoked = future.revoke(reason="r", effective_from=date(2026, 12, 1), today=TODAY)
    assert revoked.validity is None
    assert not revoked.is_valid_on(date(2027, 6, 1))
    assert coverage_error(["SW01"], [revoked], JAN_2027).code == "LICENCE_REVOKED"


def test_what_a_revocation_refuses() -> None:
    assert refused(
        lambda: register().revoke(reason="r", effective_from=date(2026, 11, 26), today=TODAY)
    ) == ("INVALID_DATE", "effectiveFrom")
    assert refused(lambda: register().revoke(reason="  ", effective_from=None, today=TODAY)) == (
        "REQUIRED_FIELD",
        "reason",
    )
    revoked = register().revoke(reason="r", effective_from=None, today=TODAY)
    assert refused(lambda: revoked.revoke(reason="again", effective_from=None, today=TODAY))[0] == (
        "LICENCE_REVOKED"
    )
    assert refused(lambda: revoked.amend(annual_capacity_tonnes="5"))[0] == "LICENCE_REVOKED"


def test_coverage_names_a_revocation_and_an_expiry_apart() -> None:
    revoked = register().revoke(reason="r", effective_from=date(2027, 1, 1), today=TODAY)
    assert coverage_error(["SW01"], [revoked], JAN_2027).code == "LICENCE_REVOKED"
    ended = register(valid_until=date(2026, 12, 31))
    assert coverage_error(["SW01"], [ended], JAN_2027).code == "LICENCE_EXPIRED"
    # Revoked or run out during the window: its first day is covered (decision 034, later).
    check_demand_coverage(
        ["SW01"],
        [register().revoke(reason="r", effective_from=date(2027, 1, 15), today=TODAY)],
        JAN_2027,
    )


def test_a_licence_revoked_before_it_began_is_not_one_starting_later() -> None:
    """LICENCE_NOT_YET_VALID says a window from the licence's start would be posted: not so
    for a licence revoked before it began, which would have covered it but for that."""
    withdrawn = register(valid_from=date(2027, 2, 1), valid_until=date(2027, 12, 31)).revoke(
        reason="r", effective_from=None, today=TODAY
    )
    assert withdrawn.validity is None
    assert coverage_error(["SW01"], [withdrawn], JAN_2027).code == "LICENCE_REVOKED"
    later = Window(date(2027, 2, 1), date(2027, 2, 28))
    assert coverage_error(["SW01"], [withdrawn], later).code == "LICENCE_REVOKED"
    starting = register(valid_from=date(2027, 2, 1), valid_until=date(2027, 12, 31))
    assert coverage_error(["SW01"], [withdrawn, starting], JAN_2027).code == (
        "LICENCE_NOT_YET_VALID"
    )


def test_a_licence_amendment_naming_no_term_says_so() -> None:
    """`amendLicence` with only a reason was answered "licence … already reads so"."""
    licence = register()
    with pytest.raises(DomainError) as empty:
        licence.amend()
    assert (empty.value.code, empty.value.field, empty.value.message) == (
        "NOTHING_TO_AMEND",
        "input",
        f"no term of licence {licence.number} was given to amend: name at least one "
        "(a term left out or null stays as it is)",
    )
    with pytest.raises(DomainError) as same:
        licence.amend(valid_until=licence.valid_until)
    assert same.value.message == f"licence {licence.number} already reads so"
