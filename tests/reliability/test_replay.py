"""Rebuilding each service's read models from offset 0 (`wastex replay SERVICE`) leaves
every answer about the city as it was."""

from __future__ import annotations

import pytest

from bench.chaos import Session, replay_phase

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]


async def test_replaying_each_service_from_offset_zero_changes_no_answer(
    chaos: Session,
) -> None:
    result = await replay_phase(chaos)

    for service, outcome in result["services"].items():
        assert outcome["stderr"] == "", f"{service}: {outcome['stderr']}"
        assert outcome["differences"] == [], f"{service}: {outcome['differences']}"
