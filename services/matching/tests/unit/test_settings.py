"""Matching's own settings, refused when read with the variable named (`load_settings`)."""

from __future__ import annotations

import pytest

from wastex_matching.settings import MatchingSettings
from wastex_shared.settings import SettingsError, load_settings


@pytest.mark.parametrize(
    ("variable", "value", "why"),
    [
        # Unknown, it stopped on a DomainError traceback from MatchingParams.
        ("WASTEX_MATCHING_FREIGHT_FACTOR_KEY", "truck", "not a freight factor"),
        # A road shorter than the straight line.
        ("WASTEX_MATCHING_ROAD_FACTOR", "0.5", "greater than or equal to 1"),
        ("WASTEX_MATCHING_REOPTIMISE_POLL_SECONDS", "0", "greater than 0"),
        ("WASTEX_MATCHING_EXPIRY_SWEEP_SECONDS", "-300", "greater than 0"),
        ("WASTEX_MATCHING_ALTERNATIVES_LIMIT", "-1", "greater than or equal to 0"),
    ],
)
def test_a_value_matching_cannot_use_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, why: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as refused:
        load_settings(MatchingSettings)
    said = str(refused.value)
    assert said.startswith(f"{variable}={value!r}: "), said
    assert why in said
