"""`make down` stops what a vanished `make run` left behind (its children lead their own
process groups, so they outlive a supervisor killed with SIGKILL)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from wastex_cli.stack import CHILDREN_FILE, stop_leftovers


def test_leftover_children_are_stopped_and_forgotten(tmp_path: Path) -> None:
    child = subprocess.Popen(["sleep", "60"], start_new_session=True)
    (tmp_path / CHILDREN_FILE).write_text(f"catalog {child.pid}\ngone 999999\n")

    assert stop_leftovers(tmp_path) == ["catalog"]
    assert child.wait(5) is not None
    assert not (tmp_path / CHILDREN_FILE).exists()
    assert stop_leftovers(tmp_path) == []
