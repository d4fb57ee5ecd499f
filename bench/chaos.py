"""`make chaos`: the reliability suite. Crashes, restarts, replay and poison lose nothing
and duplicate nothing.

On a fresh stack (free ports, PostgreSQL databases made for the run, tansu on memory
storage):
1. poison: malformed, invalid, forbidden and oversized messages all land in a DLQ with
   their reason and change nothing; a fixable one is re-driven with `wastex dlq`;
2. load + faults: a generator posts offers, demands, reports, acceptances and shipments
   over Kafka and GraphQL while each service is killed with SIGKILL in turn (repeatedly)
   and PostgreSQL connections are cut for a few seconds; then the load drains and
   everything the generator made is checked to exist exactly once, with the ledger's
   figures and rates equal to its own record;
3. replay: each service's read models are rebuilt from offset 0 (`wastex replay`) and the
   answers to the same queries must not change.
Then, on a second stack (started after the first is gone) whose tansu keeps its log on s3
storage in a moto_server that outlives it:
4. broker restart: a light load while tansu is killed and started again, checked the same
   way (tansu on s3 serves only a few dozen storage requests a second, so it cannot carry
   the full load).

Writes bench/results/chaos.json. `python -m bench.chaos --help` lists the knobs; the
faster parts also run as tests in tests/reliability/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.chaos_api import Api
from bench.chaos_checks import Verdict, diff, drain, resolve_ambiguous, snapshot, verify
from bench.chaos_city import City, build_city
from bench.chaos_faults import Fault, Injector
from bench.chaos_kafka import (
    DeadLetter,
    LogTail,
    Offsets,
    Producer,
    dlq_by_reason,
    watched_topics,
)
from bench.chaos_load import LoadGenerator
from bench.chaos_poison import (
    PoisonOutcome,
    poison_parties,
    redrive_scenario,
    send_poison,
    wait_parked,
)
from bench.chaos_stack import ChaosStack, chaos_stack, pg_available

RESULTS = Path(__file__).parent / "results"
SERVICES = ("catalog", "matching", "ledger")


@dataclass
class ChaosConfig:
    load_seconds: float = 150.0
    rate: float = 20.0
    kill_rounds: int = 2
    kill_down_s: float = 1.0
    gap_s: float = 3.0
    pg_loss_s: float = 4.0
    poison: bool = True
    faults: bool = True
    pg_loss: bool = True
    broker_restart: bool = True
    replay: bool = True
    postgres: bool = True
    max_deals: int = 40
    seed: int = 8
    #: The broker restart's own run on s3 storage (slow: a light load).
    broker_load_seconds: float = 20.0
    broker_rate: float = 4.0


@dataclass
class Session:
    """Everything one run shares: the stack, the city and the Kafka observers."""

    stack: ChaosStack
    api: Api
    city: City
    tail: LogTail
    offsets: Offsets
    producer: Producer
    load: LoadGenerator
    tag: str
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def service_urls(self) -> dict[str, str]:
        return {s: self.stack.service_url(s) for s in SERVICES}

    @property
    def database_names(self) -> dict[str, str]:
        return {s: url.rsplit("/", 1)[-1] for s, url in self.stack.database_urls.items()}

    async def drain(self, timeout: float = 600.0) -> dict[str, Any]:
        seconds, state = await drain(self.service_urls, self.tail, self.offsets, timeout)
        return {"seconds": round(seconds, 2), "state": state}


@contextlib.asynccontextmanager
async def session(
    stack: ChaosStack,
    rate: float = 20.0,
    seed: int = 8,
    max_deals: int = 40,
    factories: int = 4,
    recyclers: int = 2,
) -> AsyncIterator[Session]:
    tag = uuid.uuid4().hex[:6]
    async with Api(stack.graphql_url) as api:
        city = await build_city(api, factories=factories, recyclers=recyclers, tag=tag)
        tail = LogTail(stack.bootstrap, watched_topics())
        await tail.start()
        offsets = Offsets(stack.bootstrap)
        producer = Producer(stack.bootstrap)
        load = LoadGenerator(api, city, producer, rate=rate, seed=seed, max_deals=max_deals)
        await load.seed_generation()
        try:
            yield Session(stack, api, city, tail, offsets, producer, load, tag)
        finally:
            await producer.close()
            await offsets.close()
            await tail.stop()


# -- phases ---------------------------------------------------------------------------


async def poison_phase(s: Session) -> dict[str, Any]:
    """Poison messages: each parked with a reason; the city's answers do not change."""
    started = time.monotonic()
    ctx = await poison_parties(s.api, s.city, s.tag)
    await s.drain(60)
    before = await snapshot(s.api, s.city)
    outcomes: list[PoisonOutcome] = await send_poison(s.producer, ctx)
    outcomes = await wait_parked(s.tail, outcomes)
    drained = await s.drain(60)
    after = await snapshot(s.api, s.city)
    changed = diff(before, after)
    # the poison enterprise itself must hold nothing new either
    from bench.chaos_checks import _catalog_offers, _entries

    stray_offers = await _catalog_offers(s.api, s.city, ctx.party.id)
    stray_entries = [
        e for e in await _entries(s.api, s.city, ctx.party.id) if e["tonnes"] != "1.000"
    ]
    redrive = await redrive_scenario(s.api, s.city, s.producer, s.tail, s.stack.bootstrap, s.tag)
    result = {
        "cases": [o.as_dict() for o in outcomes],
        "parked": sum(o.parked for o in outcomes),
        "total": len(outcomes),
        "unparked": [o.case for o in outcomes if not o.parked],
        "unexpected_reason": [
            f"{o.case}: {o.reason}" for o in outcomes if o.parked and not o.reason_expected
        ],
        "other_state_changed": changed,
        "stray_offers": len(stray_offers),
        "stray_entries": len(stray_entries),
        "settled_after": drained,
        "redrive": redrive.as_dict(),
        "seconds": round(time.monotonic() - started, 2),
    }
    result["ok"] = (
        not result["unparked"]
        and not result["unexpected_reason"]
        and not changed
        and not stray_offers
        and not stray_entries
        and redrive.ok
    )
    return result


async def faults_phase(s: Session, cfg: ChaosConfig, injector: Injector) -> dict[str, Any]:
    """The load runs while faults are injected one after another."""
    load_task = asyncio.create_task(s.load.run(10**6), name="load")
    started = time.monotonic()
    try:
        await asyncio.sleep(cfg.gap_s)
        for _ in range(cfg.kill_rounds):
            for service in SERVICES:
                await injector.kill(service, cfg.kill_down_s)
                await asyncio.sleep(cfg.gap_s)
        if cfg.pg_loss and s.stack.database_urls:
            await injector.pg_connection_loss(s.database_names, cfg.pg_loss_s)
            await asyncio.sleep(cfg.gap_s)
        if cfg.broker_restart and s.stack.broker_storage.startswith("s3://"):
            await injector.broker_restart()
            await asyncio.sleep(cfg.gap_s)
        remaining = cfg.load_seconds - (time.monotonic() - started)
        if remaining > 0:
            await asyncio.sleep(remaining)
    finally:
        s.load.stop()
        await load_task
    timing = {
        "load_s": round(s.load.stopped_at - s.load.started_at, 2),
        "achieved_rate": round(
            len(s.load.record.sent) / max(1e-9, s.load.stopped_at - s.load.started_at), 2
        ),
    }
    return timing


async def settle_and_verify(s: Session) -> tuple[Verdict, dict[str, Any]]:
    await s.load.finish_deals(timeout=90)
    first = await s.drain()
    resolved = await resolve_ambiguous(s.api, s.city, s.load.record)
    second = await s.drain()
    verdict = await verify(s.api, s.city, s.load.record, s.service_urls, s.tail, s.offsets)
    return verdict, {"drain": first, "ambiguous": dict(resolved), "drain_after_resolve": second}


async def replay_phase(s: Session) -> dict[str, Any]:
    """Each service in turn: stop it, rebuild its read models from offset 0, start it;
    every answer about the city must be as before."""
    await s.drain()
    before = await snapshot(s.api, s.city)
    results: dict[str, Any] = {}
    for service in SERVICES:
        t0 = time.monotonic()
        await asyncio.to_thread(s.stack.kill, service)
        output = await asyncio.to_thread(run_replay, s.stack, service)
        await asyncio.to_thread(s.stack.restart, service)
        drained = await s.drain()
        after = await snapshot(s.api, s.city)
        changes = diff(before, after)
        results[service] = {
            "ok": output["returncode"] == 0 and not changes,
            "report": output["stdout"].strip()[-1000:],
            "stderr": output["stderr"].strip()[-1500:] if output["returncode"] else "",
            "differences": changes,
            "seconds": round(time.monotonic() - t0, 2),
            "drain": drained,
        }
        before = after if not changes else before
    return {"ok": all(r["ok"] for r in results.values()), "services": results}


def run_replay(stack: ChaosStack, service: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "wastex_cli.main", "replay", service],
        env=stack.env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return {"returncode": done.returncode, "stdout": done.stdout, "stderr": done.stderr}


# -- the run --------------------------------------------------------------------------


async def _complete(run: Awaitable[Part]) -> Part:
    return await run


def recovery_summary(faults: list[Fault]) -> dict[str, Any]:
    by_kind: dict[str, list[float | None]] = {}
    for fault in faults:
        by_kind.setdefault(f"{fault.kind}:{fault.target}", []).append(
            None if fault.recovery_s is None else round(fault.recovery_s, 2)
        )
    return by_kind


async def _phase(report: dict[str, Any], name: str, run: Any) -> Any:
    """Run one phase; a phase that crashes is reported, not allowed to hide the others."""
    print(f"{name} …", flush=True)
    started = time.monotonic()
    try:
        return await run
    except Exception as exc:
        import traceback

        traceback.print_exc()
        report.setdefault("errors", {})[name] = f"{type(exc).__name__}: {exc}"
        return None
    finally:
        report.setdefault("phase_seconds", {})[name] = round(time.monotonic() - started, 1)


@dataclass
class Part:
    """What one stack's run found (the broker restart runs on a stack of its own)."""

    report: dict[str, Any]
    messages_sent: int = 0
    faults: list[Fault] = field(default_factory=list)
    verdict: Verdict | None = None
    dead_letters: list[DeadLetter] = field(default_factory=list)


async def run_suite(stack: ChaosStack, cfg: ChaosConfig) -> Part:
    """Poison, load with kill -9 rounds and PostgreSQL connection loss, replay (tansu on
    memory storage: fast enough to carry the full load)."""
    report: dict[str, Any] = {"stack": "tansu on memory storage"}
    part = Part(report)
    async with session(stack, cfg.rate, cfg.seed, cfg.max_deals) as s:
        if cfg.poison:
            report["poison"] = await _phase(report, "poison", poison_phase(s))
        if cfg.faults:
            faults_cfg = replace(cfg, broker_restart=False)
            await _faults_and_verdict(report, part, s, faults_cfg, "")
        report["load"] = s.load.record.summary()
        if cfg.replay:
            report["replay"] = await _phase(report, "replay", replay_phase(s))
        part.messages_sent = len(s.load.record.sent)
        part.dead_letters = list(s.tail.dead_letters)
        report["dlq_by_reason"] = dlq_by_reason(part.dead_letters)
    return part


async def run_broker_restart(stack: ChaosStack, cfg: ChaosConfig) -> Part:
    """A light load while tansu is killed and started again on its s3 storage (tansu on s3
    answers only a few dozen storage requests a second: a small city, a light load)."""
    report: dict[str, Any] = {"stack": "tansu on s3 storage (moto_server)"}
    part = Part(report)
    restart_cfg = replace(
        cfg,
        load_seconds=cfg.broker_load_seconds,
        rate=cfg.broker_rate,
        kill_rounds=0,
        pg_loss=False,
        broker_restart=True,
    )
    async with session(stack, restart_cfg.rate, cfg.seed, 2, factories=2, recyclers=1) as s:
        await _faults_and_verdict(report, part, s, restart_cfg, "broker: ")
        report["load"] = s.load.record.summary()
        part.messages_sent = len(s.load.record.sent)
        part.dead_letters = list(s.tail.dead_letters)
        report["dlq_by_reason"] = dlq_by_reason(part.dead_letters)
    return part


async def _faults_and_verdict(
    report: dict[str, Any], part: Part, s: Session, cfg: ChaosConfig, prefix: str
) -> None:
    injector = Injector(s.stack, s.tail, s.offsets)
    report["load_timing"] = await _phase(
        report, f"{prefix}load+faults", faults_phase(s, cfg, injector)
    )
    part.faults = injector.faults
    report["faults"] = [f.as_dict() for f in injector.faults]
    settled = await _phase(report, f"{prefix}settle+verify", settle_and_verify(s))
    if settled is not None:
        part.verdict, report["settle"] = settled
        report["verdict"] = part.verdict.as_dict()


def expected_faults(cfg: ChaosConfig) -> set[tuple[str, str]]:
    """(kind, target) of every fault the configuration asks for."""
    if not cfg.faults:
        return set()
    wanted = {("kill-9", service) for service in SERVICES if cfg.kill_rounds > 0}
    if cfg.pg_loss:
        wanted.add(("pg-connection-loss", ",".join(sorted(SERVICES))))
    if cfg.broker_restart:
        wanted.add(("broker-restart", "tansu"))
    return wanted


def summarise(cfg: ChaosConfig, parts: dict[str, Part]) -> dict[str, Any]:
    verdicts = [p.verdict for p in parts.values() if p.verdict is not None]
    faults = [f for p in parts.values() for f in p.faults]
    errors = {
        f"{name}/{phase}": error
        for name, p in parts.items()
        for phase, error in p.report.get("errors", {}).items()
    }
    main = parts.get("main")
    poison = main.report.get("poison") if main else None
    replay = main.report.get("replay") if main else None
    expected_verdicts = len(parts) if cfg.faults else 0
    injected = {(f.kind, f.target) for f in faults}
    wanted = expected_faults(cfg)
    summary: dict[str, Any] = {
        "messages_sent": sum(p.messages_sent for p in parts.values()),
        "faults_injected": len(faults),
        "faults_by_kind": dict(Counter(f"{f.kind}:{f.target}" for f in faults)),
        "lost": sum(v.lost for v in verdicts) if verdicts else None,
        "duplicated": sum(v.duplicated for v in verdicts) if verdicts else None,
        "other_findings": sum(len(v.findings) - v.lost - v.duplicated for v in verdicts)
        if verdicts
        else None,
        "dlq_by_reason": dlq_by_reason([d for p in parts.values() for d in p.dead_letters]),
        "recovery_s": recovery_summary(faults),
        "faults_missing": [f"{kind}:{target}" for kind, target in wanted - injected],
        "faults_unrecovered": [f"{f.kind}:{f.target}" for f in faults if f.recovery_s is None],
        "poison_ok": (poison or {}).get("ok"),
        "redrive_ok": ((poison or {}).get("redrive") or {}).get("ok"),
        "replay_ok": (replay or {}).get("ok"),
        "errors": errors,
    }
    summary["ok"] = bool(
        not errors
        and not summary["faults_missing"]
        and not summary["faults_unrecovered"]
        and len(verdicts) == expected_verdicts
        and all(v.ok for v in verdicts)
        and summary["poison_ok"] in (True, None)
        and summary["replay_ok"] in (True, None)
    )
    return summary


@contextlib.contextmanager
def _workdir(keep: bool) -> Iterator[Path]:
    if keep:
        path = Path(tempfile.mkdtemp(prefix="wastex-chaos-"))
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="wastex-chaos-") as tmp:
        yield Path(tmp)


def _write(
    out: Path, started: float, summary: dict[str, Any], report: dict[str, Any]
) -> dict[str, Any]:
    """Write chaos.json: the summary first, then each part's report; returns the summary."""
    from bench import machine

    written = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine.describe(),
        "duration_s": round(time.monotonic() - started, 1),
        "summary": summary,
        **report,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(written, indent=2, default=str, ensure_ascii=False))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__)
    parser.add_argument("--seconds", type=float, default=150.0, help="load duration")
    parser.add_argument("--rate", type=float, default=20.0, help="load operations per second")
    parser.add_argument("--kill-rounds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="one kill round, 40 s of load")
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    parser.add_argument("--no-poison", action="store_true")
    parser.add_argument("--no-faults", action="store_true")
    parser.add_argument("--no-broker", action="store_true", help="no broker restart")
    parser.add_argument("--no-replay", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the run directory (logs)")
    parser.add_argument("--out", type=Path, default=RESULTS / "chaos.json")
    args = parser.parse_args(argv)
    postgres = not args.sqlite and pg_available()
    cfg = ChaosConfig(
        load_seconds=40.0 if args.quick else args.seconds,
        rate=args.rate,
        kill_rounds=1 if args.quick else args.kill_rounds,
        poison=not args.no_poison,
        faults=not args.no_faults,
        pg_loss=postgres,
        broker_restart=not args.no_broker,
        replay=not args.no_replay,
        postgres=postgres,
    )
    started = time.monotonic()
    report: dict[str, Any] = {"config": asdict(cfg)}
    parts: dict[str, Part] = {}
    summary: dict[str, Any] = {}
    with _workdir(args.keep) as root:
        print(f"chaos: run directory {root}", flush=True)
        # One stack at a time: the full run on memory storage, then the broker restart on
        # s3 storage.
        runs: list[tuple[str, bool, Callable[[ChaosStack, ChaosConfig], Awaitable[Part]]]] = [
            ("main", False, run_suite)
        ]
        if cfg.faults and cfg.broker_restart:
            runs.append(("broker_restart", True, run_broker_restart))
        for name, s3, run in runs:
            try:
                with chaos_stack(root / name, postgres=postgres, s3_broker=s3) as stack:
                    parts[name] = asyncio.run(_complete(run(stack, cfg)))
            except Exception as exc:
                parts[name] = Part({"errors": {"stack": f"{type(exc).__name__}: {exc}"}})
                import traceback

                traceback.print_exc()
            report[name] = parts[name].report
            report["run_dir"] = str(root) if args.keep else None
            # Written after each part, so a later part that hangs keeps the earlier results.
            summary = _write(args.out, started, summarise(cfg, parts), report)
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    print(f"wrote {args.out}")
    return 0 if summary.get("ok") else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
