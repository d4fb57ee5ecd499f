"""Faults injected while the load runs, each timed until the system has recovered from it.

- `kill`: SIGKILL of one service process (`Stack.kill`), restarted after a pause;
- `pg-connection-loss`: every PostgreSQL backend of the services' databases terminated
  again and again for a few seconds (what a database restart does to its clients);
- `broker-restart`: SIGKILL of tansu, started again on the same port and s3 storage.

Recovery time = from the fault's start until the affected services are healthy and their
consumer groups have committed up to the end of their topics (lag 0).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from bench.chaos_checks import healthy, lag_by_partition
from bench.chaos_kafka import LogTail, Offsets
from bench.chaos_stack import ChaosStack, PgAdmin


@dataclass
class Fault:
    kind: str
    target: str
    at_s: float  # since the start of the run
    duration_s: float = 0.0
    recovery_s: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "target": self.target,
            "at_s": round(self.at_s, 2),
            "duration_s": round(self.duration_s, 2),
            "recovery_s": None if self.recovery_s is None else round(self.recovery_s, 2),
            "detail": self.detail,
        }


@dataclass
class Injector:
    stack: ChaosStack
    tail: LogTail
    offsets: Offsets
    started: float = field(default_factory=time.monotonic)
    faults: list[Fault] = field(default_factory=list)
    recovery_timeout: float = 300.0
    restart_timeout: float = 180.0

    def _now(self) -> float:
        return time.monotonic() - self.started

    async def recovered(self, fault: Fault, services: list[str], since: float) -> None:
        """Time `fault.recovery_s` from `since` (monotonic) until `services` are healthy with
        lag 0; when the recovery timeout runs out, None and what was still awaited."""
        deadline = time.monotonic() + self.recovery_timeout
        waiting = ""
        while time.monotonic() < deadline:
            try:
                waiting = await self._waiting_on(services)
                if not waiting:
                    fault.recovery_s = time.monotonic() - since
                    return
            except Exception as exc:
                waiting = f"offsets unreadable: {exc!r}"
                await self.offsets.reset()  # e.g. the broker went away under the client
            await asyncio.sleep(0.2)
        fault.detail["waiting_on"] = waiting

    async def _waiting_on(self, services: list[str]) -> str:
        """What keeps `services` from counting as recovered ("" when nothing does)."""
        for service in services:
            if not await healthy(self.stack.service_url(service)):
                return f"{service} not healthy"
            lag = await lag_by_partition(self.tail, self.offsets, service)
            if lag:
                return f"{service} lag {lag}"
        return ""

    async def kill(self, service: str, down_s: float = 1.0) -> Fault:
        fault = Fault("kill-9", service, self._now())
        t0 = time.monotonic()
        pid = self.stack.processes[service].pid
        await asyncio.to_thread(self.stack.kill, service)
        await asyncio.sleep(down_s)
        await asyncio.to_thread(self.stack.restart, service, self.restart_timeout)
        fault.duration_s = time.monotonic() - t0
        fault.detail = {"pid": pid, "down_s": down_s, "restarted_healthy_s": fault.duration_s}
        await self.recovered(fault, [service], t0)
        self.faults.append(fault)
        return fault

    async def pg_connection_loss(
        self, databases: dict[str, str], duration_s: float = 4.0, every_s: float = 0.2
    ) -> Fault:
        """Terminate the backends of `databases` (service → database name) repeatedly."""
        target = ",".join(sorted(databases))
        fault = Fault("pg-connection-loss", target, self._now())
        admin = PgAdmin()
        t0 = time.monotonic()
        terminated = rounds = 0
        try:
            while time.monotonic() - t0 < duration_s:
                terminated += await admin.terminate_backends(list(databases.values()))
                rounds += 1
                await asyncio.sleep(every_s)
        finally:
            await admin.close()
        fault.duration_s = time.monotonic() - t0
        fault.detail = {"backends_terminated": terminated, "rounds": rounds}
        await self.recovered(fault, sorted(databases), t0)
        self.faults.append(fault)
        return fault

    async def broker_restart(self, down_s: float = 2.0) -> Fault:
        fault = Fault("broker-restart", "tansu", self._now())
        t0 = time.monotonic()
        await asyncio.to_thread(self.stack.kill_broker)
        await asyncio.sleep(down_s)
        await asyncio.to_thread(self.stack.start_broker)
        fault.duration_s = time.monotonic() - t0
        fault.detail = {"down_s": down_s, "storage": self.stack.broker_storage}
        await self.offsets.reset()
        await self.recovered(fault, ["catalog", "matching", "ledger"], t0)
        self.faults.append(fault)
        return fault
