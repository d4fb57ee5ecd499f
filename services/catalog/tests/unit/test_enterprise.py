"""Enterprise registration and site validation."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from wastex_catalog.domain import Enterprise, EnterpriseKind, Site, make_credit_code
from wastex_shared.codes.district_file import load_districts
from wastex_shared.errors import DomainError

CREDIT_CODE = make_credit_code("91420100MA4K00001")
DISTRICTS = load_districts()


def register(**overrides: Any) -> Enterprise:
    fields: dict[str, Any] = {
        "id": "ent-1",
        "name": "武汉某钢铁有限公司",
        "credit_code": CREDIT_CODE,
        "industry": "C3110",
        "district": "青山区",
        "kind": "FACTORY",
        "districts": DISTRICTS,
    }
    fields.update(overrides)
    return Enterprise.register(**fields)


def add_site(**overrides: Any) -> Site:
    fields: dict[str, Any] = {
        "id": "site-1",
        "enterprise_id": "ent-1",
        "name": "1号高炉",
        "district": "青山区",
        "latitude": 30.64,
        "longitude": 114.43,
        "districts": DISTRICTS,
    }
    fields.update(overrides)
    return Site.add(**fields)


def test_register_normalises_inputs() -> None:
    enterprise = register(
        name="  武汉某钢铁有限公司 ",
        credit_code=CREDIT_CODE.lower(),
        industry="c3110",
        kind="recycler",
    )
    assert enterprise.name == "武汉某钢铁有限公司"
    assert enterprise.credit_code == CREDIT_CODE
    assert enterprise.industry == "C3110"
    assert enterprise.kind is EnterpriseKind.RECYCLER
    assert enterprise.industry_section.letter == "C"


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"name": "  "}, "REQUIRED_FIELD", "name"),
        ({"name": "\u200b\ufeff\u3000"}, "REQUIRED_FIELD", "name"),  # nothing one can see
        ({"name": "x" * 201}, "TEXT_TOO_LONG", "name"),
        ({"credit_code": CREDIT_CODE[:-1] + "?"}, "INVALID_CREDIT_CODE", "creditCode"),
        ({"industry": "C05"}, "INVALID_INDUSTRY_CODE", "industry"),
        ({"district": ""}, "REQUIRED_FIELD", "district"),
        ({"kind": "TRADER"}, "INVALID_ENTERPRISE_KIND", "kind"),
    ],
)
def test_register_rejects_bad_input(overrides: dict[str, Any], code: str, field: str) -> None:
    with pytest.raises(DomainError) as err:
        register(**overrides)
    assert (err.value.code, err.value.field) == (code, field)


def test_site_keeps_coordinates_as_exact_decimals() -> None:
    site = add_site(latitude=30.64, longitude="114.43")
    assert (site.latitude, site.longitude) == (Decimal("30.64"), Decimal("114.43"))
    assert str(site.latitude) == "30.64"  # no float noise reaches the events
    assert add_site(latitude=Decimal("-0.5")).latitude == Decimal("-0.5")
    assert site.district == "青山区"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"latitude": 90.01}, "latitude"),
        ({"latitude": -91}, "latitude"),
        ({"longitude": 180.5}, "longitude"),
        ({"longitude": float("nan")}, "longitude"),
        ({"latitude": float("inf")}, "latitude"),
        ({"latitude": True}, "latitude"),
        ({"longitude": "east"}, "longitude"),
        ({"latitude": "NaN"}, "latitude"),
        ({"latitude": "1E+999999999"}, "latitude"),  # abs() of it overflows the context
    ],
)
def test_site_rejects_coordinates_off_the_globe(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(DomainError) as err:
        add_site(**overrides)
    assert (err.value.code, err.value.field) == ("INVALID_COORDINATES", field)


def test_site_bounds_are_inclusive() -> None:
    site = add_site(latitude=-90, longitude=180)
    assert (site.latitude, site.longitude) == (Decimal(-90), Decimal(180))


def test_exponent_notation_is_kept_as_plain_digits() -> None:
    # "1E+1" would come back as "1E+1" from the mutation and "10" from later reads.
    site = add_site(latitude="1E+1", longitude="1.1E+2")
    assert (str(site.latitude), str(site.longitude)) == ("10", "110")


def test_optional_china_check_catches_swapped_coordinates() -> None:
    assert add_site(require_china=True).latitude == Decimal("30.64")
    with pytest.raises(DomainError) as err:
        add_site(latitude=114.43 - 100, longitude=30.64, require_china=True)
    assert err.value.code == "OUTSIDE_SERVICE_AREA"


@pytest.mark.parametrize(("field", "key"), [("name", "name"), ("district", "district")])
def test_site_requires_name_and_district(field: str, key: str) -> None:
    with pytest.raises(DomainError) as err:
        add_site(**{key: " "})
    assert (err.value.code, err.value.field) == ("REQUIRED_FIELD", field)


def test_a_district_is_one_of_the_register_trimmed() -> None:
    assert register(district=" 青山区 ").district == "青山区"
    assert add_site(district="东湖新技术开发区").district == "东湖新技术开发区"


@pytest.mark.parametrize("make", [register, add_site], ids=["enterprise", "site"])
@pytest.mark.parametrize(("written", "meant"), [("青山", "青山区"), ("洪山 区", "洪山区")])
def test_a_district_outside_the_register_is_refused_naming_the_one_meant(
    make: Any, written: str, meant: str
) -> None:
    with pytest.raises(DomainError) as err:
        make(district=written)
    assert (err.value.code, err.value.field) == ("UNKNOWN_DISTRICT", "district")
    assert err.value.message.endswith(f"did you mean '{meant}'?")


def test_an_amendment_replaces_what_is_given_checked_as_a_registration_is() -> None:
    registered = register()
    amended = registered.amend(name=" 武汉某钢铁集团 ", industry="c3120", districts=DISTRICTS)
    assert (amended.name, amended.industry) == ("武汉某钢铁集团", "C3120")
    assert amended.district == "青山区"
    assert (amended.credit_code, amended.kind, amended.version) == (
        registered.credit_code,
        EnterpriseKind.FACTORY,
        2,
    )
    moved = amended.amend(district=" 江夏区 ", districts=DISTRICTS)
    assert (moved.district, moved.name, moved.version) == ("江夏区", "武汉某钢铁集团", 3)


@pytest.mark.parametrize(
    ("given", "code", "field"),
    [
        ({"name": "  "}, "REQUIRED_FIELD", "name"),
        ({"industry": "X99"}, "INVALID_INDUSTRY_CODE", "industry"),
        ({"district": "青山"}, "UNKNOWN_DISTRICT", "district"),
        ({}, "NOTHING_TO_AMEND", "input"),
        ({"name": "武汉某钢铁有限公司", "district": "青山区"}, "NOTHING_TO_AMEND", "input"),
    ],
)
def test_an_amendment_is_refused_when_invalid_or_changing_nothing(
    given: dict[str, str], code: str, field: str
) -> None:
    with pytest.raises(DomainError) as refused:
        register().amend(**given, districts=DISTRICTS)
    assert (refused.value.code, refused.value.field) == (code, field)


def test_an_unknown_district_in_an_amendment_names_the_one_meant() -> None:
    with pytest.raises(DomainError) as refused:
        register().amend(district="青山", districts=DISTRICTS)
    assert "青山区" in refused.value.message


def test_a_site_amendment_replaces_what_is_given_checked_as_an_addition_is() -> None:
    added = add_site()
    moved = added.amend(latitude="30.6512", longitude=114.4277, districts=DISTRICTS)
    assert (moved.latitude, moved.longitude) == (Decimal("30.6512"), Decimal("114.4277"))
    assert (moved.name, moved.district, moved.version) == (added.name, added.district, 2)
    renamed = moved.amend(name=" 2号高炉 ", district=" 洪山区 ", districts=DISTRICTS)
    assert (renamed.name, renamed.district, renamed.version) == ("2号高炉", "洪山区", 3)
    assert (renamed.id, renamed.enterprise_id) == (added.id, added.enterprise_id)


@pytest.mark.parametrize(
    ("given", "code", "field"),
    [
        ({"latitude": "30.7"}, "INVALID_COORDINATES", "longitude"),  # half a place
        ({"longitude": "114.5"}, "INVALID_COORDINATES", "latitude"),
        ({"latitude": "-91", "longitude": "114"}, "INVALID_COORDINATES", "latitude"),
        ({"latitude": "30.6", "longitude": "-114.4"}, "OUTSIDE_SERVICE_AREA", "latitude"),
        ({"district": "青山"}, "UNKNOWN_DISTRICT", "district"),
        ({"name": "  "}, "REQUIRED_FIELD", "name"),
        (
            {"name": "1号高炉", "latitude": "30.640000", "longitude": "114.43"},
            "NOTHING_TO_AMEND",
            "input",
        ),
        ({}, "NOTHING_TO_AMEND", "input"),
    ],
)
def test_a_site_amendment_is_refused_as_an_addition_would_be(
    given: dict[str, Any], code: str, field: str
) -> None:
    with pytest.raises(DomainError) as refused:
        add_site().amend(**given, districts=DISTRICTS, require_china=True)
    assert (refused.value.code, refused.value.field) == (code, field)


NO_TERM = "was given to amend: name at least one (a term left out or null stays as it is)"


def test_an_enterprise_or_site_amendment_naming_no_term_says_so() -> None:
    """`amendEnterprise` and `amendSite` with only a reason were answered "… already reads
    so", as if the terms sent were its own; one naming its own terms still is."""
    enterprise, site = register(), add_site()
    with pytest.raises(DomainError) as empty_enterprise:
        enterprise.amend(districts=DISTRICTS)
    with pytest.raises(DomainError) as empty_site:
        site.amend(districts=DISTRICTS)
    assert (empty_enterprise.value.field, empty_enterprise.value.message) == (
        "input",
        f"no term of enterprise {enterprise.name} {NO_TERM}",
    )
    assert (empty_site.value.field, empty_site.value.message) == (
        "input",
        f"no term of site {site.name} {NO_TERM}",
    )
    with pytest.raises(DomainError) as same:
        site.amend(name=site.name, districts=DISTRICTS)
    assert same.value.message == f"site {site.name} already reads so"
