"""Dead-letter headers: why a message was parked and where it came from, so it can be re-driven."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class _Origin(Protocol):
    topic: str
    partition: int
    offset: int
    headers: Sequence[tuple[str, bytes]]


def dead_letter_headers(record: _Origin, code: str, message: str) -> dict[str, str]:
    original = {
        k: v.decode("utf-8", "replace")
        for k, v in (record.headers or ())
        if not k.startswith("x-error") and not k.startswith("x-original")
    }
    return {
        **original,
        "x-error": message[:1000],
        "x-error-type": code,
        "x-original-topic": record.topic,
        "x-original-partition": str(record.partition),
        "x-original-offset": str(record.offset),
    }
