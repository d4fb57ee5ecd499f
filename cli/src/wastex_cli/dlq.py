"""`wastex dlq`: list dead-lettered messages with their reasons, and re-drive them after a fix."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from aiokafka import AIOKafkaProducer

from wastex_shared.messaging.topic_reader import read_topic
from wastex_shared.settings import ServiceSettings
from wastex_shared.topics import dlq_for

app = typer.Typer(help="Dead-letter topics: list and re-drive.", no_args_is_help=True)

GROUPS = ("catalog", "matching", "ledger")


async def _records(group: str) -> list[dict[str, str]]:
    rows = []
    async for record in read_topic(ServiceSettings().kafka_bootstrap, dlq_for(group)):
        headers = {k: v.decode("utf-8", "replace") for k, v in record.headers}
        rows.append(
            {
                "offset": str(record.offset),
                "type": headers.get("x-error-type", ""),
                "error": headers.get("x-error", ""),
                "from": f"{headers.get('x-original-topic')}@{headers.get('x-original-offset')}",
            }
        )
    return rows


@app.command("list")
def list_(group: Annotated[str, typer.Argument(help="catalog | matching | ledger")]) -> None:
    """List GROUP's dead letters: offset, reason code, message, origin."""
    for row in asyncio.run(_records(group)):
        typer.echo(f"{row['offset']:>6}  {row['type']:<28} {row['from']:<36} {row['error']}")


async def _redrive(group: str, offsets: set[int] | None) -> int:
    bootstrap = ServiceSettings().kafka_bootstrap
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    sent = 0
    try:
        async for record in read_topic(bootstrap, dlq_for(group)):
            if offsets is not None and record.offset not in offsets:
                continue
            headers = [(k, v) for k, v in record.headers if not k.startswith("x-")]
            origin = dict(record.headers)["x-original-topic"].decode()
            await producer.send_and_wait(origin, record.value, key=record.key, headers=headers)
            sent += 1
    finally:
        await producer.stop()
    return sent


@app.command()
def redrive(
    group: Annotated[str, typer.Argument(help="catalog | matching | ledger")],
    offset: Annotated[list[int] | None, typer.Option(help="only these DLQ offsets")] = None,
) -> None:
    """Send GROUP's dead letters back to their original topics (after fixing the cause)."""
    sent = asyncio.run(_redrive(group, set(offset) if offset else None))
    typer.echo(f"re-drove {sent} message(s) from {dlq_for(group)}")
