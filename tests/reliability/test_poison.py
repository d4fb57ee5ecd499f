"""Poison messages land in a dead-letter topic with their reason and change nothing else;
`wastex dlq` lists a parked message and re-drives it once its cause is fixed."""

from __future__ import annotations

import pytest

from bench.chaos import Session, poison_phase

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]


async def test_every_poison_message_is_parked_with_its_reason_and_nothing_else_changes(
    chaos: Session,
) -> None:
    result = await poison_phase(chaos)

    assert result["unparked"] == [], f"not dead-lettered: {result['unparked']}"
    assert result["unexpected_reason"] == [], result["unexpected_reason"]
    assert result["other_state_changed"] == [], result["other_state_changed"]
    assert result["stray_offers"] == 0
    assert result["stray_entries"] == 0
    redrive = result["redrive"]
    assert redrive["parked_reason"] == "BALANCE_VIOLATION"
    assert redrive["listed_by_wastex_dlq"]
    assert redrive["re_parked_before_fix"], "re-driven before the fix, it must be parked again"
    assert redrive["accepted_after_fix"], "re-driven after the fix, it must be booked"
    assert redrive["entries_after"] == 1, "re-driving again must not book it twice"
