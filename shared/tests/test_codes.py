"""The waste-code catalogue: every reference row loads, and validation names its reason."""

from decimal import Decimal

import pytest

from wastex_shared.codes import all_codes, search, validate_code
from wastex_shared.emission_factors import AVOIDED_BY_CODE, EmissionFactor, factor
from wastex_shared.errors import DomainError


def test_catalogue_holds_fifty_hazardous_and_seventeen_general_categories() -> None:
    codes = all_codes()
    assert sum(c.hazardous for c in codes) == 50
    assert sum(not c.hazardous for c in codes) == 17


def test_abolished_code_is_rejected_with_reason() -> None:
    with pytest.raises(DomainError) as err:
        validate_code("HW41")
    assert err.value.code == "ABOLISHED_WASTE_CODE"
    assert "2021" in err.value.message


def test_unknown_code_is_rejected() -> None:
    with pytest.raises(DomainError) as err:
        validate_code("SW08")
    assert err.value.code == "UNKNOWN_WASTE_CODE"


def test_a_hazardous_wastes_own_code_stands_for_its_category() -> None:
    # 国家危险废物名录: digits 7–8 are the category (formulas.md), 900-249-08 is a 废矿物油.
    assert validate_code(" 900-249-08 ").code == "HW08"
    assert validate_code("772-002-18").code == "HW18"
    with pytest.raises(DomainError) as abolished:
        validate_code("900-000-41")  # HW41 was abolished in 2021
    assert abolished.value.code == "ABOLISHED_WASTE_CODE"
    for unknown in ("900-249-51", "900-249-8", "HW08 (900-249-08)", "9002490 8"):
        with pytest.raises(DomainError) as err:
            validate_code(unknown)
        assert err.value.code == "UNKNOWN_WASTE_CODE"


def test_search_finds_by_code_chinese_and_english_name() -> None:
    assert [c.code for c in search("sw06")] == ["SW06"]
    assert [c.code for c in search(" 900-249-08")] == ["HW08"]
    assert "SW02" in [c.code for c in search("粉煤灰")]
    assert "SW02" in [c.code for c in search("fly ash")]


def test_only_per_tonne_factors_count_as_per_tonne() -> None:
    units = {
        "kgCO2e/t": True,
        "kgCO2/t scrap": True,
        "kgCO2e/t cement replaced": True,
        "kgCO2e/t.km": False,
        "kgCO2/kWh": False,
        "kgCO2e/m3": False,
    }
    for unit, per_tonne in units.items():
        assert EmissionFactor("k", Decimal(1), unit, "", "").per_tonne is per_tonne, unit
    for key in AVOIDED_BY_CODE.values():
        assert factor(key).per_tonne, key


def test_the_avoided_factors_are_the_ones_the_api_docs_name() -> None:
    """docs/api.md lists each code's avoided-emission factor and its caveats: keep them one."""
    named = {code: factor(key).value for code, key in AVOIDED_BY_CODE.items()}
    assert named == {"SW01": Decimal("668"), "SW06": Decimal("11.1"), "SW17": Decimal("1250")}
