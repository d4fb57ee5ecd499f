"""`make down` stops what a vanished `make run` left behind (its children lead their own
process groups, so they outlive a supervisor killed with SIGKILL); a stack waits for each
service itself to answer."""

from __future__ import annotations

import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from wastex_cli.stack import CHILDREN_FILE, Ports, Stack, StackError, stop_leftovers


def test_leftover_children_are_stopped_and_forgotten(tmp_path: Path) -> None:
    child = subprocess.Popen(["sleep", "60"], start_new_session=True)
    (tmp_path / CHILDREN_FILE).write_text(f"catalog {child.pid}\ngone 999999\n")

    assert stop_leftovers(tmp_path) == ["catalog"]
    assert child.wait(5) is not None
    assert not (tmp_path / CHILDREN_FILE).exists()
    assert stop_leftovers(tmp_path) == []


class AnswersAsLedger(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"service": "ledger", "ready": True}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


def test_a_port_another_service_answers_is_not_the_health_of_this_one(tmp_path: Path) -> None:
    """A service whose port was taken exits; until it has, the process holding the port
    answered its health check, and the gateway sent its operations there."""
    server = HTTPServer(("127.0.0.1", 0), AnswersAsLedger)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/healthz"
    stack = Stack(ports=Ports.free(), data_dir=tmp_path / "data", run_dir=tmp_path / "run")
    waiting = subprocess.Popen(["sleep", "60"])
    stack.processes.update(catalog=waiting, ledger=waiting)
    try:
        with pytest.raises(StackError, match="catalog not healthy"):
            stack._wait_healthy("catalog", url, timeout=1.0)
        stack._wait_healthy("ledger", url, timeout=1.0)  # the same answer is ledger's
    finally:
        waiting.kill()
        waiting.wait()
        server.shutdown()
