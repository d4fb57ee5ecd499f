"""GB/T 4754-2017 industry codes: format, section letters, divisions within sections."""

from __future__ import annotations

import pytest

from wastex_shared.codes.industry import SECTIONS, division_of, section_of, validate_industry_code
from wastex_shared.errors import DomainError


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("C", "C"),
        ("C31", "C31"),
        ("C311", "C311"),
        ("C3110", "C3110"),  # 炼铁
        (" c3110 ", "C3110"),
        ("D4411", "D4411"),  # 火力发电
        ("A0111", "A0111"),
        ("N7724", "N7724"),
        ("T97", "T97"),
    ],
)
def test_valid_codes_are_normalised(raw: str, normalised: str) -> None:
    assert validate_industry_code(raw) == normalised


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("", "not a GB/T 4754-2017 code"),
        ("3110", "not a GB/T 4754-2017 code"),
        ("C1", "not a GB/T 4754-2017 code"),
        ("C31101", "not a GB/T 4754-2017 code"),
        ("CC31", "not a GB/T 4754-2017 code"),
        ("C-3110", "not a GB/T 4754-2017 code"),
        ("U", "no section 'U'"),
        ("Z12", "no section 'Z'"),
        ("A31", "division 31 is not in section A"),
        ("C05", "division 05 is not in section C"),
        ("T98", "division 98 is not in section T"),
    ],
)
def test_invalid_codes_say_why(code: str, reason: str) -> None:
    with pytest.raises(DomainError) as err:
        validate_industry_code(code)
    assert err.value.code == "INVALID_INDUSTRY_CODE"
    assert err.value.field == "industry"
    assert reason in err.value.message


def test_sections_a_to_t_split_divisions_01_to_97_without_gaps() -> None:
    assert "".join(SECTIONS) == "ABCDEFGHIJKLMNOPQRST"
    expected_first = 1
    for section in SECTIONS.values():
        assert section.first_division == expected_first
        assert section.last_division >= section.first_division
        expected_first = section.last_division + 1
    assert expected_first == 98


def test_section_and_division_for_display() -> None:
    assert section_of("C3110").name_zh == "制造业"
    assert section_of("c3110").name_en == "Manufacturing"
    assert division_of("C3110") == "C31"
    assert division_of("C") is None
