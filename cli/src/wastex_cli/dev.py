"""Developer commands: run and stop the local stack, write migrations, schemas and SDL."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import signal
import time
from pathlib import Path
from typing import Annotated

import typer

from wastex_cli.stack import REPO, SERVICES, Stack, StackError, stop_leftovers

app = typer.Typer(help="Developer tools (used by the Makefile).", no_args_is_help=True)

PID_FILE = REPO / ".run" / "stack.pid"
SCHEMA_DIR = REPO / "shared" / "schemas"
SUBGRAPH_DIR = REPO / "gateway" / "subgraphs"


@app.command()
def run(seed: Annotated[bool, typer.Option(help="load the demo city")] = True) -> None:
    """Start broker, services and gateway; seed the demo city; stop all on Ctrl-C."""
    stack = Stack()
    typer.echo("starting tansu, catalog, matching, ledger and the gateway …")
    try:
        stack.start()
    except StackError as err:
        typer.secho(f"wastex: {err}", fg="red", err=True)
        raise typer.Exit(1) from err
    PID_FILE.write_text(str(os.getpid()))
    stopping = False

    def on_signal(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)
    try:
        if seed:
            from wastex_cli.demo import seed as seed_demo
            from wastex_cli.running import service_settings

            summary = asyncio.run(seed_demo(stack.graphql_url, service_settings().jwt))
            typer.echo(summary.describe())
        typer.secho(f"\nwastex is up: GraphQL (and GraphiQL) at {stack.graphql_url}", fg="green")
        typer.echo("a token to try it:  uv run wastex token --role regulator --district '*'")
        typer.echo("logs in .run/, data in .data/; Ctrl-C (or `make down`) stops everything")
        while not stopping:
            time.sleep(0.2)
            dead = [n for n, p in stack.processes.items() if p.poll() is not None]
            if dead:
                typer.secho(f"wastex: {', '.join(dead)} stopped; see .run/*.log", fg="red")
                break
    finally:
        # Stop first: the terminal (or a `| tee`) may be gone, and printing can then fail.
        stack.stop()
        PID_FILE.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            typer.echo("wastex stopped")


@app.command()
def down() -> None:
    """Stop what `make run` started."""
    pid = int(PID_FILE.read_text()) if PID_FILE.exists() else None
    try:
        if pid is None:
            raise ProcessLookupError
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        PID_FILE.unlink(missing_ok=True)
        leftovers = stop_leftovers(PID_FILE.parent)
        if leftovers:
            typer.echo(f"stopped what a vanished `make run` left running: {', '.join(leftovers)}")
        else:
            typer.echo("wastex is not running")
        return
    for _ in range(150):
        if not PID_FILE.exists():
            break
        time.sleep(0.1)
    typer.echo("wastex stopped")


@app.command()
def migration(
    service: Annotated[str, typer.Argument(help="catalog | matching | ledger")],
    message: Annotated[str, typer.Option("-m", "--message")],
) -> None:
    """Autogenerate a migration for SERVICE from its table models."""
    from wastex_shared.storage.migrate import autogenerate

    if service not in SERVICES:
        raise typer.BadParameter(f"unknown service {service!r}; one of {', '.join(SERVICES)}")
    tables = importlib.import_module(f"wastex_{service}.adapters.tables")
    location = importlib.import_module(f"wastex_{service}.adapters.migrations").LOCATION
    asyncio.run(autogenerate(tables.metadata, location, message))


def schema_snapshots() -> dict[str, str]:
    """JSON Schema of every registered event, as written under shared/schemas/."""
    from wastex_shared.events import specs

    return {
        f"{spec.schema_name}.json": json.dumps(spec.json_schema(), indent=2, sort_keys=True) + "\n"
        for spec in specs()
    }


def subgraph_sdls() -> dict[str, str]:
    """Each subgraph's federation SDL, as written under gateway/subgraphs/."""
    sdls = {}
    for service in SERVICES:
        module = importlib.import_module(f"wastex_{service}.entrypoints.graphql")
        sdls[f"{service}.graphql"] = module.schema.as_str() + "\n"
    return sdls


def _write(directory: Path, files: dict[str, str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
        typer.echo(f"wrote {directory.relative_to(REPO) / name}")


@app.command()
def schemas() -> None:
    """Rewrite the event JSON Schema snapshots (after an intended contract change)."""
    _write(SCHEMA_DIR, schema_snapshots())


@app.command()
def sdl() -> None:
    """Write each subgraph's SDL for composing the supergraph (`make compose`)."""
    _write(SUBGRAPH_DIR, subgraph_sdls())
