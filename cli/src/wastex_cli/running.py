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

from wastex_shared.settings import ServiceSettings, SettingsError, load_settings

T = TypeVar("T")


def service_settings() -> ServiceSettings:
    """The common settings from the environment; one that cannot be used ends the command
    with a line naming it (`WASTEX_KAFKA_BOOTSTRAP='kafka-1:x': … is not host:port`) and
    exit code 2, as a bad option does."""
    try:
        return load_settings(ServiceSettings)
    except SettingsError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None


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
