"""The re-optimiser in a child process of its own (decision 014).

A round's planning is CPU-bound Python. In a thread of the service process it and the event
loop (consumers, outbox relay, GraphQL) shared one GIL, each waiting out the switch interval
behind the other; in a child process the rounds have a core of their own.

The child runs what only the lease holder runs, the rounds and the expiry sweep, on its own
engine; the service process keeps the consumers, GraphQL and the one outbox relay. They talk
over the child's stdin and stdout, one JSON value a line:

- service → child: the settings (first line), then `"changed"` whenever the market may have
  changed (what wakes the re-optimiser in one process), and `"sweep"` when a licence change
  asks for the expiry sweep at once;
- child → service: `{"totals": …}` after each round (the service's `/metrics`), and
  `"outbox"` after a commit that queued events (wakes the relay).

The child lives as long as its stdin: when the service process ends, even by SIGKILL, the
pipe closes and the child stops, releasing the lease. It ignores SIGINT and SIGTERM, which a
stack's stop sends to the whole process group: the service stops it, after its own tasks.

Run as `python -m wastex_matching.reoptimiser_process` by `ReoptimiserProcess` only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from typing import IO, Any

from wastex_matching.adapters.tables import messaging
from wastex_matching.entrypoints.metrics import child_lines
from wastex_matching.service import MatchingService, RoundTotals
from wastex_matching.settings import MatchingSettings
from wastex_shared.runtime import tune_garbage_collector
from wastex_shared.storage import UnitOfWorkFactory, make_engine

log = logging.getLogger("wastex_matching.reoptimiser_process")  # also when run as __main__

CHANGED = "changed"
SWEEP = "sweep"
OUTBOX = "outbox"
CHANGED_LINE = json.dumps(CHANGED).encode()
SWEEP_LINE = json.dumps(SWEEP).encode()


class ReoptimiserProcess:
    """Runs the child for `service` (started again a moment after it dies) and relays:
    market changes to it, its round totals and outbox wake-ups back."""

    def __init__(
        self,
        settings: MatchingSettings,
        service: MatchingService,
        uow: UnitOfWorkFactory,
        restart_delay: float = 1.0,
    ) -> None:
        self._settings = settings
        self._service = service
        self._uow = uow
        self._restart_delay = restart_delay
        #: The running child's pid (None between children).
        self.pid: int | None = None
        #: Children started so far (`/metrics`: more than one means one died).
        self.started = 0
        self._before = RoundTotals()

    async def metric_lines(self) -> list[str]:
        return child_lines(self._settings.service, self.started)

    async def run(self) -> None:
        while True:
            try:
                code = await self._run_child()
                log.error("the re-optimiser process exited with %s; starting another", code)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("lost the re-optimiser process; starting another")
            await asyncio.sleep(self._restart_delay)

    async def _run_child(self) -> int:
        child = await start_child(self._settings)
        assert child.stdin is not None
        assert child.stdout is not None
        self.pid = child.pid
        self.started += 1
        # The service's totals go on from what earlier children did: counters never go back.
        self._before = self._service.totals
        forwarding = [
            asyncio.create_task(self._forward_changes(child.stdin)),
            asyncio.create_task(self._forward_sweeps(child.stdin)),
        ]
        try:
            self._service.changed.set()  # whatever happened while there was no child
            await self._read_reports(child.stdout)
            return await child.wait()
        finally:
            self.pid = None
            for task in forwarding:
                task.cancel()
            await _stop(child)

    async def _forward_changes(self, stdin: asyncio.StreamWriter) -> None:
        changes = self._service.changed
        while True:
            await changes.wait()
            changes.take()
            await _tell(stdin, CHANGED_LINE)

    async def _forward_sweeps(self, stdin: asyncio.StreamWriter) -> None:
        asked = self._service.sweep_soon
        while True:
            await asked.wait()
            asked.clear()
            await _tell(stdin, SWEEP_LINE)

    async def _read_reports(self, stdout: asyncio.StreamReader) -> None:
        async for line in stdout:
            try:
                message = json.loads(line)
            except ValueError:
                log.warning("the re-optimiser process said %r; ignored", line[:200])
                continue
            if message == OUTBOX:
                self._uow.outbox_signal.set()
            elif isinstance(message, dict) and "totals" in message:
                child_totals = RoundTotals.from_json(message["totals"])
                self._service.totals = self._before.plus(child_totals)


async def _tell(stdin: asyncio.StreamWriter, line: bytes) -> None:
    stdin.write(line + b"\n")
    with contextlib.suppress(ConnectionError):  # a dead child: `run` starts another
        await stdin.drain()


async def start_child(settings: MatchingSettings) -> asyncio.subprocess.Process:
    """The child, started and told its settings (stdin and stdout are pipes)."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wastex_matching.reoptimiser_process",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdin is not None
    child.stdin.write(settings.model_dump_json().encode() + b"\n")
    return child


async def _stop(child: asyncio.subprocess.Process) -> None:
    """Close the child's stdin (it stops on its own: a round finishes or is dropped, the
    lease is released); kill it if it does not go within ten seconds."""
    if child.returncode is not None:
        return
    assert child.stdin is not None
    child.stdin.close()
    try:
        await asyncio.wait_for(child.wait(), 10)
    except TimeoutError:
        child.kill()
        await child.wait()


# --- the child ------------------------------------------------------------------------


async def serve_rounds(
    settings: MatchingSettings, commands: asyncio.StreamReader, reports: IO[bytes]
) -> None:
    """Re-optimise and sweep while `commands` stays open, reporting to `reports`."""
    engine = make_engine(settings.db_url)
    uow = UnitOfWorkFactory(engine, messaging)
    service = MatchingService(uow, settings)

    def report(message: Any) -> None:
        reports.write(json.dumps(message).encode() + b"\n")

    async def report_outbox() -> None:
        while True:
            await uow.outbox_signal.wait()
            uow.outbox_signal.clear()
            report(OUTBOX)

    async def report_totals() -> None:
        while True:
            await service.totals_changed.wait()
            service.totals_changed.clear()
            report({"totals": service.totals.to_json()})

    async def listen() -> None:
        async for line in commands:
            if line.strip() == CHANGED_LINE:
                service.changed.set()
            elif line.strip() == SWEEP_LINE:
                service.sweep_soon.set()

    work = (service.run_reoptimiser, service.run_expiry_sweeper, report_outbox, report_totals)
    tasks = [asyncio.create_task(task(), name=task.__name__) for task in (listen, *work)]
    try:
        # Until the service closes our stdin; or a task fails, and the service starts
        # another child (none of them ends otherwise).
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                log.error("%s failed", task.get_name(), exc_info=task.exception())
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await engine.dispose()


async def _main(reports: IO[bytes]) -> None:
    loop = asyncio.get_running_loop()
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)
    first = await commands.readline()
    if not first:
        return  # the service went before saying anything
    settings = MatchingSettings(**json.loads(first))
    tune_garbage_collector(settings.gc_young_threshold)
    log.info("re-optimiser process %d started", os.getpid())
    await serve_rounds(settings, commands, reports)


def _reports_pipe() -> IO[bytes]:
    """The service reads stdout as reports: keep it for them, and send anything else printed
    to stderr (the service's log)."""
    reports = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return reports


def main() -> None:
    reports = _reports_pipe()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(_main(reports))


if __name__ == "__main__":
    main()
