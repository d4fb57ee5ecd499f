"""The unified social credit code (统一社会信用代码, GB 32100-2015) and its check character.

18 characters from a 31-symbol alphabet (digits and capitals without I, O, S, V, Z). The
18th is a check character over the first 17: weight the i-th symbol's value by
3**i mod 31 (1, 3, 9, 27, 19, 26, …), and pick the symbol that makes the total a
multiple of 31, i.e. ``(31 - sum % 31) % 31``.

Verified against published codes: 914403001922038216 (华为技术有限公司),
91440300708461136T (深圳市腾讯计算机系统有限公司), 91330100799655058B
(阿里巴巴(中国)有限公司), 91110108551385082Q (小米通讯技术有限公司).

Only length, alphabet and check character are enforced. The structure inside the body
(registration authority, entity type, 6-digit division code, embedded GB 11714
organisation code) is not, so that `make_credit_code` can build demo codes from any body.
"""

from __future__ import annotations

from typing import Final

from wastex_catalog.domain import errors
from wastex_shared.errors import DomainError

CHARSET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS: Final = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
LENGTH: Final = 18
_VALUE: Final = {ch: i for i, ch in enumerate(CHARSET)}


def normalise_credit_code(code: str) -> str:
    """Codes are printed in capitals; accept lower case and surrounding spaces."""
    return code.strip().upper()


def check_char(body17: str) -> str:
    """The check character for a 17-character body; `ValueError` if the body is malformed."""
    if len(body17) != LENGTH - 1:
        raise ValueError(f"credit code body must be {LENGTH - 1} characters, got {len(body17)}")
    total = 0
    for position, (ch, weight) in enumerate(zip(body17, WEIGHTS, strict=True), start=1):
        value = _VALUE.get(ch)
        if value is None:
            raise ValueError(f"character {ch!r} at position {position} is not allowed")
        total += value * weight
    return CHARSET[(31 - total % 31) % 31]


def make_credit_code(body17: str) -> str:
    """Append the check character: builds valid codes for demo data and tests."""
    body = normalise_credit_code(body17)
    return body + check_char(body)


def credit_code_problem(code: str) -> str | None:
    """Why `code` (already normalised) is not a valid credit code, or None if it is."""
    if len(code) != LENGTH:
        return f"a credit code has {LENGTH} characters, got {len(code)}"
    for position, ch in enumerate(code, start=1):
        if ch not in _VALUE:
            why = (
                "I, O, S, V and Z never occur"
                if ch.isascii()
                else "a credit code is written in half-width digits and capitals"
            )
            return f"character {ch!r} at position {position} is not allowed ({why})"
    expected = check_char(code[:-1])
    if code[-1] != expected:
        return f"check character is {code[-1]!r} but the first 17 characters give {expected!r}"
    return None


def is_valid_credit_code(code: str) -> bool:
    return credit_code_problem(normalise_credit_code(code)) is None


def validate_credit_code(code: str, field: str = "creditCode") -> str:
    """The normalised code, or INVALID_CREDIT_CODE saying what is wrong."""
    normalised = normalise_credit_code(code or "")
    problem = credit_code_problem(normalised)
    if problem is not None:
        raise DomainError(errors.INVALID_CREDIT_CODE, problem, field)
    return normalised
