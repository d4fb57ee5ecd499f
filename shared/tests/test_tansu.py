"""The development broker's process is never left behind by a start that did not finish."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wastex_shared.devtools import tansu
from wastex_shared.devtools.tansu import TansuBroker, free_port


class Interrupted(BaseException):
    """Ctrl-C (KeyboardInterrupt) or a test runner's timeout, arriving mid-start."""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_start_interrupted_while_waiting_for_the_port_stops_the_broker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The broker runs in a session of its own (a Ctrl-C in the terminal does not reach it),
    so a start interrupted before the port opened left it running, holding the port, for
    every test fixture and tool that starts one itself."""
    broker = TansuBroker(port=free_port(), log_path=tmp_path / "tansu.log")
    started: list[int] = []
    checks = iter([False])  # the port is free before the start; then the interruption

    def interrupted_once_started(port: int, host: str = "127.0.0.1") -> bool:
        for free in checks:
            return free
        assert broker.process is not None
        started.append(broker.process.pid)
        raise Interrupted

    monkeypatch.setattr(tansu, "port_open", interrupted_once_started)
    with pytest.raises(Interrupted):
        broker.start()
    [pid] = started
    assert not alive(pid)
    assert broker.process is None
