"""The local stack: tansu, the three services and the gateway as child processes.

`make run` and the end-to-end tests start it the same way; only ports and folders differ.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from wastex_shared.devtools.tansu import TansuBroker, free_ports, port_open

REPO = Path(__file__).resolve().parents[3]
SERVICES = ("catalog", "matching", "ledger")


@dataclass(frozen=True)
class Ports:
    broker: int = 9092
    gateway: int = 4000
    catalog: int = 4001
    matching: int = 4002
    ledger: int = 4003

    def of(self, service: str) -> int:
        return int(getattr(self, service))

    def all(self) -> dict[str, int]:
        return {"broker": self.broker, "gateway": self.gateway} | {s: self.of(s) for s in SERVICES}

    @classmethod
    def free(cls) -> Ports:
        """Five distinct free ports (tests and benches run stacks side by side)."""
        return cls(*free_ports(5))


class StackError(RuntimeError):
    pass


#: Per run folder: "<name> <pid>" of every child, so `make down` can stop them even when
#: the process that started them is gone (killed, or its terminal closed).
CHILDREN_FILE = "children"


@dataclass
class Stack:
    ports: Ports = field(default_factory=Ports)
    data_dir: Path = REPO / ".data"
    run_dir: Path = REPO / ".run"
    #: Database URLs by service; the embedded SQLite default when absent.
    database_urls: dict[str, str] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    broker: TansuBroker | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def graphql_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.gateway}/graphql"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.ports.broker}"

    def service_url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports.of(service)}"

    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "WASTEX_KAFKA_BOOTSTRAP": self.bootstrap,
            "WASTEX_DATA_DIR": str(self.data_dir),
            "WASTEX_GATEWAY_PORT": str(self.ports.gateway),
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        for service in SERVICES:
            env[f"WASTEX_{service.upper()}_PORT"] = str(self.ports.of(service))
            env[f"WASTEX_{service.upper()}_URL"] = f"{self.service_url(service)}/graphql"
            if service in self.database_urls:
                env[f"WASTEX_{service.upper()}_DATABASE_URL"] = self.database_urls[service]
        return env

    def check_ports_free(self) -> None:
        busy = {name: port for name, port in self.ports.all().items() if port_open(port)}
        if busy:
            listed = ", ".join(f"{name} {port}" for name, port in busy.items())
            raise StackError(
                f"wastex seems to be running already (ports in use: {listed}). "
                "Stop it with `make down` (or Ctrl-C in its terminal) first."
            )

    def start(self, timeout: float = 90.0) -> None:
        self.check_ports_free()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.broker = TansuBroker(self.ports.broker, log_path=self.run_dir / "tansu.log")
            self.broker.start()
            self._record_children()
            for service in SERVICES:
                self._spawn(service, [sys.executable, "-m", f"wastex_{service}"])
            for service in SERVICES:
                self._wait_healthy(service, f"{self.service_url(service)}/healthz", timeout)
            self._spawn("gateway", [_node(), str(REPO / "gateway" / "gateway.mjs")])
            gateway_health = f"http://127.0.0.1:{self.ports.gateway}/healthcheck"
            self._wait_healthy("gateway", gateway_health, timeout)
        except BaseException:
            self.stop()
            raise

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.run_dir / f"{name}.log", "ab")  # noqa: SIM115 (owned by the child)
        self.processes[name] = subprocess.Popen(
            argv,
            cwd=REPO,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._record_children()

    def _record_children(self) -> None:
        pids = {name: p.pid for name, p in self.processes.items()}
        if self.broker is not None and self.broker.process is not None:
            pids["broker"] = self.broker.process.pid
        lines = "".join(f"{name} {pid}\n" for name, pid in pids.items())
        (self.run_dir / CHILDREN_FILE).write_text(lines)

    def _wait_healthy(self, name: str, url: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.processes[name]
            if process.poll() is not None:
                raise StackError(
                    f"{name} exited with {process.returncode}; see {self.run_dir / name}.log"
                )
            try:
                if _answers_as(name, httpx.get(url, timeout=1.0)):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise StackError(f"{name} not healthy after {timeout:.0f}s; see {self.run_dir / name}.log")

    def kill(self, name: str) -> None:
        """SIGKILL one child (for reliability tests)."""
        process = self.processes[name]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def restart(self, name: str, timeout: float = 60.0) -> None:
        if name in self.processes and self.processes[name].poll() is None:
            self.kill(name)
        argv = (
            [_node(), str(REPO / "gateway" / "gateway.mjs")]
            if name == "gateway"
            else [sys.executable, "-m", f"wastex_{name}"]
        )
        self._spawn(name, argv)
        health = (
            f"http://127.0.0.1:{self.ports.gateway}/healthcheck"
            if name == "gateway"
            else f"{self.service_url(name)}/healthz"
        )
        self._wait_healthy(name, health, timeout)

    def stop(self) -> None:
        for name in ["gateway", *reversed(SERVICES)]:
            process = self.processes.pop(name, None)
            if process is None or process.poll() is not None:
                continue
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        if self.broker is not None:
            self.broker.stop()
            self.broker = None
        (self.run_dir / CHILDREN_FILE).unlink(missing_ok=True)


def _answers_as(name: str, response: httpx.Response) -> bool:
    """Healthy, and `name` itself: a port that another process holds answers too (a service
    whose port was taken exits, and until it has, the other one looks healthy in its stead)."""
    if response.status_code != 200:
        return False
    if name not in SERVICES:
        return True  # the gateway's /healthcheck names no one
    try:
        return bool(response.json().get("service") == name)
    except ValueError:
        return False


def stop_leftovers(run_dir: Path) -> list[str]:
    """SIGTERM (then SIGKILL) the children a vanished stack left running; their names."""
    record = run_dir / CHILDREN_FILE
    if not record.exists():
        return []
    groups = {}
    for line in record.read_text().splitlines():
        name, pid = line.split()
        groups[name] = int(pid)  # each child leads its own process group (new session)
    alive = [name for name, pid in groups.items() if _signal_group(pid, signal.SIGTERM)]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_signal_group(groups[n], 0) for n in alive):
        time.sleep(0.1)
    for name in alive:
        _signal_group(groups[name], signal.SIGKILL)
    record.unlink(missing_ok=True)
    return alive


def _signal_group(pid: int, signum: int) -> bool:
    try:
        os.killpg(pid, signum)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise StackError("node is not installed (the gateway needs Node 20)")
    return node
