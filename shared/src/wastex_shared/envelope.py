"""One CloudEvents-style envelope for every event wastex produces or ingests.

Structured-mode CloudEvents 1.0 attribute names on the wire (`specversion`, `id`, `type`,
`source`, `time`, `subject`, `data`) plus our extension attributes `correlationid`,
`causationid` and `schemaversion`. Derived ids use uuid5, so a replay yields the same id.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

#: The Kafka `content-type` header of a structured-mode CloudEvent (the CloudEvents Kafka
#: protocol binding, 3.2): SDKs tell the mode by it.
STRUCTURED_CONTENT_TYPE = "application/cloudevents+json; charset=UTF-8"

#: Namespace for ids derived from other ids (uuid5), fixed forever.
WASTEX_NAMESPACE = uuid.UUID("6b0d7f3e-8a52-4c1f-9a43-3f5c2f6f0a11")
_NAMESPACE_BYTES = WASTEX_NAMESPACE.bytes


def derived_id(*parts: object) -> str:
    """A deterministic id for something caused by `parts` (e.g. a causing event id and a role).

    `str(uuid.uuid5(WASTEX_NAMESPACE, "/".join(parts)))`, computed without building a `UUID`
    (a quarter of the time: a round derives two ids for every match it proposes)."""
    name = "/".join(map(str, parts))
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


#: The longest event reference stored (`Envelope.reference`).
REFERENCE_LENGTH = 200
NUL = "\x00"
#: Characters no text here may hold: U+0000, which PostgreSQL's text refuses (SQLite stores
#: it), and a lone surrogate (U+D800–U+DFFF), which no UTF-8 encodes, so neither database,
#: nor an event on the wire, can take it. A JSON escape writes either (`\u0000`, `\ud800`).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
#: What a refusal of such text says.
UNSTORABLE_TEXT = (
    "text may not contain the NUL character (U+0000) or a lone surrogate (U+D800–U+DFFF)"
)


def holds_unstorable(value: object) -> bool:
    """Whether a text anywhere in `value` (keys of mappings included) holds a character no
    text here may hold (`_UNSTORABLE`): such input is refused at the edge, on every database
    alike.

    Walked with a stack of its own, not by recursion: a GraphQL request's variables are any
    JSON a client sends, and a list nested a few hundred deep raised RecursionError, which
    reached the client as Python's own message with no code."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if _UNSTORABLE.search(item) is not None:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return False


class Envelope(BaseModel):
    """An event on the wire. `data` is validated against the event model of `type` by consumers."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    #: CloudEvents 1.0, the contract's envelope: another version, or none, is another format.
    specversion: Literal["1.0"]
    id: str = Field(min_length=1, max_length=200)
    type: str = Field(min_length=1, max_length=200)
    source: str = Field(min_length=1, max_length=200)
    #: Optional in CloudEvents 1.0: a factory's command may leave it out (nothing of a
    #: command reads it), and is then taken as sent when read. Every fact here carries one.
    time: AwareDatetime = Field(default_factory=utcnow)
    subject: str | None = Field(default=None, max_length=200)
    correlation_id: str | None = Field(default=None, alias="correlationid", max_length=200)
    causation_id: str | None = Field(default=None, alias="causationid", max_length=200)
    schema_version: int = Field(default=1, alias="schemaversion", ge=1)
    data: dict[str, Any]

    @model_validator(mode="after")
    def _no_nul(self) -> Envelope:
        texts = (self.id, self.type, self.source, self.subject, self.correlation_id)
        if holds_unstorable([*texts, self.causation_id, self.data]):
            raise ValueError(UNSTORABLE_TEXT)
        return self

    @property
    def reference(self) -> str:
        """The event among all sources' events, `source/id`, as inbox marks and ledger
        causes store it; a digest of that when the two together outgrow
        `REFERENCE_LENGTH` (each may have 200 characters)."""
        reference = f"{self.source}/{self.id}"
        return reference if len(reference) <= REFERENCE_LENGTH else derived_id(reference)

    @property
    def key(self) -> str:
        """The Kafka key: the aggregate id, so one aggregate's events stay in order."""
        return self.subject or self.source

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> Envelope:
        return cls.model_validate_json(raw)

    @classmethod
    def new(
        cls,
        type: str,
        source: str,
        subject: str,
        data: BaseModel | dict[str, Any],
        *,
        id: str | None = None,
        cause: Envelope | None = None,
        schema_version: int = 1,
    ) -> Envelope:
        """Build an event; with `cause`, it carries the cause's correlation and causation ids."""
        # mode="json": the wire's types (text for Decimal and dates) in one pass, not a
        # JSON text parsed back.
        payload = (
            data.model_dump(mode="json", by_alias=True) if isinstance(data, BaseModel) else data
        )
        return cls(
            specversion="1.0",
            id=id or new_id(),
            type=type,
            source=source,
            time=utcnow(),
            subject=subject,
            correlation_id=(cause.correlation_id or cause.id) if cause else None,
            causation_id=cause.id if cause else None,
            schema_version=schema_version,
            data=payload,
        )
