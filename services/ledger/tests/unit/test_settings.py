"""The ledger's own settings, refused when read with the variable named (`load_settings`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from wastex_ledger.settings import LedgerSettings
from wastex_shared.settings import SettingsError, load_settings


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("02-30", "02-30 is no day of the calendar"),
        ("13-01", "13-01 is no day of the calendar"),
        ("0331", "is not a month and day 'MM-DD'"),
    ],
)
def test_a_year_close_that_is_no_day_of_every_year_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str, why: str
) -> None:
    monkeypatch.setenv("WASTEX_LEDGER_YEAR_CLOSES_ON", value)
    with pytest.raises(SettingsError) as refused:
        load_settings(LedgerSettings)
    said = str(refused.value)
    assert said.startswith(f"WASTEX_LEDGER_YEAR_CLOSES_ON={value!r}: "), said
    assert why in said


@pytest.mark.parametrize("content", [None, "rules: []\n"])
def test_zero_waste_rules_that_cannot_be_read_are_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: str | None
) -> None:
    """A missing or empty rules file stopped the ledger on a traceback."""
    rules = tmp_path / "rules.yaml"
    if content is not None:
        rules.write_text(content, "utf-8")
    monkeypatch.setenv("WASTEX_LEDGER_ZERO_WASTE_RULES", str(rules))
    with pytest.raises(SettingsError) as refused:
        load_settings(LedgerSettings)
    assert str(refused.value).startswith("WASTEX_LEDGER_ZERO_WASTE_RULES="), refused.value
