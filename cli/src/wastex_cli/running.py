"""Running a command's async work for an operator: a broker, a database or an endpoint that
cannot be reached, or a database URL that does not parse, ends the command with one line
saying which and what to set, and exit code 1, not a traceback."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, NoReturn, TypeVar

import httpx
import typer
from aiokafka.errors import KafkaConnectionError, KafkaError
from sqlalchemy.exc import SQLAlchemyError

T = TypeVar("T")


def bootstrap_problem(bootstrap: str) -> str | None:
    """What is wrong with a Kafka bootstrap list (`host[:port],…`), or None."""
    for address in bootstrap.split(","):
        host, colon, port = address.strip().rpartition(":")
        if not colon:
            host, port = port, "9092"
        if not host.strip("[]") or not port.isdigit() or not 0 < int(port) < 65536:
            return f"{address.strip()!r} is not host:port"
    return None


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__


def run(
    work: Coroutine[Any, Any, T],
    *,
    bootstrap: str = "WASTEX_KAFKA_BOOTSTRAP",
    database: tuple[str, str] | None = None,
    endpoint: str | None = None,
) -> T:
    """`asyncio.run(work)`. `bootstrap` names where the broker's address comes from;
    `database` is (what, setting) of the database the work opens; `endpoint` the URL it
    calls."""
    try:
        return asyncio.run(work)
    except KafkaConnectionError as err:
        fail(f"cannot reach the Kafka broker ({_first_line(err)}); check {bootstrap}")
    except KafkaError as err:
        fail(f"the Kafka broker refused: {_first_line(err)}")
    except httpx.HTTPError as err:
        fail(f"cannot reach {endpoint or 'the endpoint'}: {_first_line(err)}")
    except (SQLAlchemyError, OSError) as err:
        if database is None:
            raise
        what, setting = database
        fail(f"cannot open the {what} database ({_first_line(err)}); check {setting}")
