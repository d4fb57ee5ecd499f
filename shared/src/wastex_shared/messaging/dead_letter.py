"""Dead-letter headers: why a message was parked and where it came from, so it can be re-driven."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from wastex_shared.envelope import NUL

#: Kafka headers as they arrive: a header may have no value at all (aiokafka gives None).
RawHeaders = Sequence[tuple[str, bytes | None]]


class _Origin(Protocol):
    topic: str
    partition: int
    offset: int

    @property
    def headers(self) -> RawHeaders: ...


def kafka_text(value: bytes | None) -> str:
    """A Kafka key or header value as text: none is empty text, bad UTF-8 and U+0000 (which
    PostgreSQL's text refuses) are replaced."""
    return (value or b"").decode("utf-8", "replace").replace(NUL, "\ufffd")


def header_name_text(name: str) -> str:
    """A header name as text: bytes that were not UTF-8, which `record_batch` keeps as
    surrogate escapes, as `\\xff` escapes (a lone surrogate cannot be encoded to store)."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def undecodable_header_name(headers: RawHeaders | None) -> str | None:
    """The first header name that was not UTF-8 (`header_name_text`), None if all were."""
    for name, _ in headers or ():
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            return header_name_text(name)
    return None


def header_texts(headers: RawHeaders | None) -> dict[str, str]:
    """Header name (`header_name_text`) → text (`kafka_text`)."""
    return {header_name_text(k): kafka_text(v) for k, v in (headers or ())}


#: Says which enterprise a parked ingest message was authenticated as; `wastex dlq redrive`
#: signs a fresh token for it, since the parked copy keeps no credentials.
AUTHENTICATED_SOURCE = "x-authenticated-source"
#: Set on a dead letter whose message was too large to keep whole: its size in bytes (the
#: letter keeps the head of it).
TRUNCATED_FROM = "x-truncated-from-bytes"
#: Headers never copied into a dead letter: a bearer token would outlive its message in a
#: topic operators read and keep for long (and an expired one could not be re-driven anyway).
CREDENTIALS = frozenset({"authorization"})


#: Characters of each original header a dead letter keeps (a letter with megabytes of
#: headers would be more than the relay may publish).
HEADER_TEXT_LENGTH = 8192


#: The input field a rule refused, when it names one (as GraphQL's userErrors `field`), or
#: the first its schema refused (SCHEMA_INVALID): a message alone ("… is out of range") may
#: not say which of a message's fields it was.
ERROR_FIELD = "x-error-field"


def kept_headers(headers: RawHeaders | None) -> dict[str, str]:
    """A message's headers as a dead letter may copy them: as text (`header_texts`), each
    cut to HEADER_TEXT_LENGTH, without credentials."""
    return {
        k[:HEADER_TEXT_LENGTH]: v[:HEADER_TEXT_LENGTH]
        for k, v in header_texts(headers).items()
        if k.lower() not in CREDENTIALS
    }


def dead_letter_headers(
    record: _Origin,
    code: str,
    message: str,
    authenticated_source: str | None = None,
    *,
    field: str | None = None,
) -> dict[str, str]:
    original = {
        k: v
        for k, v in kept_headers(record.headers).items()
        if not k.startswith(("x-error", "x-original", AUTHENTICATED_SOURCE, TRUNCATED_FROM))
    }
    headers = {
        **original,
        "x-error": message[:1000],
        "x-error-type": code,
        "x-original-topic": record.topic,
        "x-original-partition": str(record.partition),
        "x-original-offset": str(record.offset),
    }
    if authenticated_source is not None:
        headers[AUTHENTICATED_SOURCE] = authenticated_source
    if field:
        headers[ERROR_FIELD] = field
    return headers
