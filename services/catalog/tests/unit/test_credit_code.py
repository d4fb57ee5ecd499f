"""Unified social credit code: check character, validation messages, generator property."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wastex_catalog.domain import is_valid_credit_code, make_credit_code, validate_credit_code
from wastex_catalog.domain.credit_code import CHARSET, WEIGHTS
from wastex_shared.errors import DomainError

# Published on the national enterprise credit information system and company websites.
KNOWN_VALID = [
    "914403001922038216",  # 华为技术有限公司
    "91440300708461136T",  # 深圳市腾讯计算机系统有限公司
    "91330100799655058B",  # 阿里巴巴(中国)有限公司
    "91110108551385082Q",  # 小米通讯技术有限公司
    "91110000802100433B",  # 北京百度网讯科技有限公司
]

bodies = st.text(alphabet=CHARSET, min_size=17, max_size=17)


def test_weights_are_powers_of_three_mod_31() -> None:
    assert tuple(pow(3, i, 31) for i in range(17)) == WEIGHTS


@pytest.mark.parametrize("code", KNOWN_VALID)
def test_published_codes_validate(code: str) -> None:
    assert validate_credit_code(code) == code


@pytest.mark.parametrize("code", KNOWN_VALID)
def test_generator_reproduces_published_check_character(code: str) -> None:
    assert make_credit_code(code[:17]) == code


def test_check_character_zero_when_sum_is_a_multiple_of_31() -> None:
    assert make_credit_code("0" * 17) == "0" * 18


def test_lower_case_and_spaces_are_normalised() -> None:
    assert validate_credit_code("  91440300708461136t ") == "91440300708461136T"


def test_wrong_check_character_is_rejected_with_the_expected_one() -> None:
    # The example 91420100177570439L does not check out: its body gives R.
    with pytest.raises(DomainError) as err:
        validate_credit_code("91420100177570439L")
    assert err.value.code == "INVALID_CREDIT_CODE"
    assert err.value.field == "creditCode"
    assert "'R'" in err.value.message


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("", "18 characters"),
        ("9144030019220382", "18 characters"),
        ("9144030019220382160", "18 characters"),
        ("91440300I92203821X", "position 9"),  # I is never used
        ("914403O01922038216", "position 7"),  # nor O
        ("91440300192203821Z", "position 18"),
        ("９14403001922038216", "half-width"),  # typed in a Chinese input method's full width
    ],
)
def test_malformed_codes_say_why(code: str, reason: str) -> None:
    with pytest.raises(DomainError) as err:
        validate_credit_code(code, field="input.creditCode")
    assert err.value.code == "INVALID_CREDIT_CODE"
    assert err.value.field == "input.creditCode"
    assert reason in err.value.message


@pytest.mark.parametrize("body", ["", "0" * 16, "0" * 18, "I" + "0" * 16])
def test_generator_refuses_malformed_bodies(body: str) -> None:
    with pytest.raises(ValueError, match=r"credit code body|not allowed"):
        make_credit_code(body)


@given(bodies)
def test_generated_codes_always_validate(body: str) -> None:
    code = make_credit_code(body)
    assert len(code) == 18
    assert code[:17] == body
    assert is_valid_credit_code(code)


@given(bodies, st.integers(min_value=0, max_value=17), st.integers(min_value=1, max_value=30))
def test_any_single_substitution_within_the_alphabet_is_detected(
    body: str, position: int, shift: int
) -> None:
    # Weights are non-zero mod the prime 31, so no one-symbol change keeps the sum.
    code = make_credit_code(body)
    changed = CHARSET[(CHARSET.index(code[position]) + shift) % 31]
    assert changed != code[position]
    assert not is_valid_credit_code(code[:position] + changed + code[position + 1 :])


@given(bodies, st.integers(min_value=0, max_value=17), st.sampled_from("IOSVZ-_ ."))
def test_any_single_substitution_outside_the_alphabet_is_detected(
    body: str, position: int, char: str
) -> None:
    code = make_credit_code(body)
    assert not is_valid_credit_code(code[:position] + char + code[position + 1 :])
