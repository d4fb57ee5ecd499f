"""The idempotent batch consumer every service uses.

A batch of records is handled in one DB transaction: its ids recorded in the inbox (a seen
id is skipped), poison written to the dead-letter topic *through the outbox* in that same
transaction. Only after the commit does the caller commit the Kafka offsets, so a crash at
any point redelivers and nothing is lost or doubled. A failure that is not one message's
(database down, a connection cut, a bug outside the handlers) rolls the whole batch back
and retries it with back-off; it never skips a message.

A batch is first tried straight through. If a handler refuses a message, that attempt is
rolled back and the batch is handled again with each message in its own savepoint, so the
refused one is parked without undoing the rest. Savepoints cost two round trips a message;
the common batch, where every message goes through, does not pay them.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from wastex_shared.envelope import Envelope, derived_id
from wastex_shared.errors import DomainError
from wastex_shared.events import spec_for
from wastex_shared.messaging.dead_letter import (
    TRUNCATED_FROM,
    RawHeaders,
    dead_letter_headers,
    header_texts,
    kafka_text,
    undecodable_header_name,
)
from wastex_shared.messaging.record_batch import UNREADABLE_BATCH
from wastex_shared.storage.failures import transient
from wastex_shared.storage.tables import OUTBOX_KEY_LENGTH
from wastex_shared.storage.unit_of_work import UnitOfWork, UnitOfWorkFactory
from wastex_shared.topics import all_topics, dlq_for

log = logging.getLogger(__name__)

#: The topics of `contract.md` (a test's scratch topic may carry any type).
CONTRACT_TOPICS = frozenset(topic.name for topic in all_topics())

#: Larger messages are refused before decoding (a factory's report is a few hundred bytes).
MAX_MESSAGE_BYTES = 256 * 1024
BINARY_MODE = (
    "a binary-mode CloudEvent (ce_ headers): send it in structured mode, the whole envelope "
    "as the value (content-type application/cloudevents+json)"
)


class Record(Protocol):
    """The part of aiokafka's ConsumerRecord the consumer reads."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    #: Milliseconds since the epoch, set by the producer or (`timestamp_type` 1) the broker.
    timestamp: int
    timestamp_type: int

    @property
    def headers(self) -> RawHeaders: ...


@dataclass(frozen=True)
class _Decoded:
    """A record with what decoding found: its envelope and data, or why it is poison."""

    record: Record
    parked_id: str
    envelope: Envelope | None = None
    data: BaseModel | None = None
    event_id: str | None = None
    poison: Poison | None = None
    #: The enterprise its token proved it came from (None: no token was needed or given).
    authenticated: str | None = None


class _Refused(Exception):
    """A handler failed in a straight-through attempt: redo the batch message by message."""


class Poison(Exception):
    """A message that can never be handled: it goes to the dead-letter topic."""

    def __init__(
        self,
        code: str,
        message: str,
        authenticated_source: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        #: The enterprise its token proved it came from, when it got that far.
        self.authenticated_source = authenticated_source
        #: The `data` field a rule refused (`DomainError.field`) or its schema did, as
        #: userErrors name it.
        self.field = field
        #: The message's `Envelope.reference`, when its envelope was read.
        self.reference: str | None = None


EventHandler = Callable[[UnitOfWork, Envelope, Any], Awaitable[None]]
#: Checks a message's token as of when the message was sent (`broker_time`, None: now):
#: returns the enterprise it proves sent the message, None when the message needs none
#: (another service's fact), and raises `DomainError` when refused.
Authenticator = Callable[[Envelope, Mapping[str, str], float | None], str | None]

#: aiokafka's `timestamp_type` of a record stamped by the broker as it appended it.
LOG_APPEND_TIME = 1


def broker_time(record: Record) -> float | None:
    """When the broker took `record` (seconds since the epoch), if the broker stamped it
    (topics with `message.timestamp.type=LogAppendTime`); None otherwise: a producer's own
    timestamp proves nothing. A token is judged at that time, so a message sent with a
    valid token is not refused for the hours it waited in a backlog."""
    if record.timestamp_type != LOG_APPEND_TIME or record.timestamp < 0:
        return None
    return record.timestamp / 1000


@dataclass
class KeptRecord:
    """A record as a handler keeps it to handle later (`Delivery`): what a dead letter of it
    needs, its headers as `kept_headers` has them (no bearer token)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: RawHeaders
    timestamp: int = -1
    timestamp_type: int = 0


@dataclass(frozen=True)
class Delivery:
    """The record a handler runs for, as the consumer read it (`current_delivery`): what a
    handler keeps of a message it cannot handle yet, to park it later exactly as the
    consumer would have on reading it (`park_kept`)."""

    record: Record
    #: The inbox key of the record as parked (its place and content).
    parked_id: str
    #: The enterprise its token proved it came from (None: a fact, which needs none).
    authenticated: str | None


_delivery: ContextVar[Delivery | None] = ContextVar("wastex_delivery", default=None)


def current_delivery() -> Delivery | None:
    """The record the running handler was called for by an `EventConsumer`; None when the
    handler was called otherwise (a use case, a replay, a test)."""
    return _delivery.get()


def poison_of(exc: Exception) -> Poison | None:
    """What a handler's failure parks its message as; None when it is transient (the
    database away: try again, never park)."""
    if isinstance(exc, DomainError):
        return Poison(exc.code, exc.message, field=exc.field)
    if isinstance(exc, ValidationError):
        return Poison("SCHEMA_INVALID", _short(exc), field=_error_field(exc))
    if transient(exc):
        return None
    # A bug must not stall the partition: park the message with the reason, go on, and
    # re-drive it from the DLQ once fixed (`wastex dlq redrive`).
    return Poison("HANDLER_ERROR", f"{type(exc).__name__}: {exc}")


async def write_dead_letter(
    uow: UnitOfWork, dlq_topic: str, record: Record, poison: Poison, authenticated: str | None
) -> None:
    """The dead letter of `record` as an outbox row of `uow` (decision 002)."""
    # The key is the producer's; cut to what the outbox keeps, or one absurd key would
    # keep the whole batch from committing. It only picks the dead letter's partition.
    key = kafka_text(record.key)[:OUTBOX_KEY_LENGTH]
    payload = record.value or b""
    headers = dead_letter_headers(
        record, poison.code, poison.message, authenticated, field=poison.field
    )
    if len(payload) > MAX_MESSAGE_BYTES:
        # Kept whole, a message that unpacked to megabytes would be more than the relay
        # may publish; it could never be re-driven anyway. Its head says what it was.
        headers[TRUNCATED_FROM] = str(len(payload))
        payload = payload[:MAX_MESSAGE_BYTES]
    await uow.publish_raw(
        dlq_topic,
        key=key,
        event_id=derived_id("dlq", record.topic, record.partition, record.offset),
        payload=payload,
        headers=headers,
    )


async def park_kept(
    uow: UnitOfWork, dlq_topic: str, kept: Delivery, event_id: str, poison: Poison
) -> None:
    """Park a message a handler kept to handle later (`current_delivery`) and now refuses:
    the dead letter the consumer would have written on reading it, and the inbox remembers
    the message as parked (by its place and content), no longer as handled (by `event_id`):
    its sender may send it again, fixed, under the same id, or an operator re-drive it."""
    log.info("dead-letter %s@%s (kept): %s", kept.record.topic, kept.record.offset, poison.message)
    await write_dead_letter(uow, dlq_topic, kept.record, poison, kept.authenticated)
    await uow.forget(event_id)
    await uow.mark_seen(kept.parked_id, poison.code)


@dataclass
class ConsumerStats:
    handled: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    retries: int = 0


class EventConsumer:
    def __init__(
        self,
        group: str,
        uow_factory: UnitOfWorkFactory,
        handlers: Mapping[str, EventHandler],
        authenticate: Authenticator | None = None,
        max_backoff_seconds: float = 5.0,
    ) -> None:
        self.group = group
        self.dlq_topic = dlq_for(group)
        self._uow = uow_factory
        self._handlers = dict(handlers)
        self._authenticate = authenticate
        self._max_backoff = max_backoff_seconds
        self.stats = ConsumerStats()

    async def handle_batch(self, records: Sequence[Record]) -> None:
        """Handle `records` exactly once in effect; returns only when they are durably done.

        Nothing but cancellation escapes. A message's own failure is parked by then; what is
        left fails the batch, not a message (the database, or the code around the
        handlers), so the batch is tried again, however long that takes. Giving up on it
        would lose it: the subscription commits a later batch's offsets, and those cover
        this one's. A connection cut mid-statement surfaced as an error not counted as
        transient ("This connection is closed"), and a batch was lost that way."""
        backoff = 0.1
        while True:
            try:
                await self._handle_in_one_transaction(records)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.stats.retries += 1
                if transient(exc):
                    log.warning(
                        "%s: transient failure (%s); retrying in %.1fs", self.group, exc, backoff
                    )
                else:
                    log.exception("%s: batch failed; retrying in %.1fs", self.group, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)

    async def _handle_in_one_transaction(self, records: Sequence[Record]) -> None:
        decoded = [self._decode_record(record) for record in records]
        try:
            counts = await self._attempt(decoded, isolated=False)
        except _Refused:
            counts = await self._attempt(decoded, isolated=True)
        self.stats.handled += counts.handled
        self.stats.duplicates += counts.duplicates
        self.stats.dead_lettered += counts.dead_lettered

    async def _attempt(self, decoded: Sequence[_Decoded], *, isolated: bool) -> ConsumerStats:
        """One transaction over the batch; `isolated` puts each handler in a savepoint."""
        counts = ConsumerStats()
        async with self._uow() as uow:
            # One inbox look-up for the whole batch instead of two per message.
            keys = [d.parked_id for d in decoded] + [d.event_id for d in decoded if d.event_id]
            seen = await uow.seen_among(keys)
            marks: list[tuple[str, str]] = []
            for item in decoded:
                await self._handle_one(uow, item, seen, marks, counts, isolated)
            if not isolated:
                await self._flush_refusable(uow)
            await uow.mark_all_seen(marks)
            await uow.commit()
        return counts

    @staticmethod
    async def _flush_refusable(uow: UnitOfWork) -> None:
        """The batch's queued writes; one that fails is some message's: redo them isolated."""
        try:
            await uow.flush_writes()
        except Exception as exc:
            if transient(exc):
                raise
            raise _Refused from exc

    def _decode_record(self, record: Record) -> _Decoded:
        # Parked messages are remembered by position and content, handled ones by event id:
        # a message re-sent with the same id after the cause of its rejection is fixed still
        # goes through, and so does another message at a position a broker reused (a topic
        # recreated, a broker on memory storage restarted while the databases kept theirs).
        content = hashlib.blake2b(record.value or b"", digest_size=16).hexdigest()
        parked_id = derived_id("parked", record.topic, record.partition, record.offset, content)
        headers = header_texts(record.headers)
        try:
            envelope, data, authenticated = self._decode(record, headers)
        except Poison as poison:
            # With its event id: a copy of a message handled before is a duplicate whatever
            # is wrong with it now (its token expired since), not a dead letter.
            return _Decoded(
                record,
                parked_id,
                event_id=poison.reference,
                poison=poison,
                authenticated=poison.authenticated_source,
            )
        return _Decoded(
            record, parked_id, envelope, data, envelope.reference, authenticated=authenticated
        )

    async def _handle_one(
        self,
        uow: UnitOfWork,
        item: _Decoded,
        seen: set[str],
        marks: list[tuple[str, str]],
        counts: ConsumerStats,
        isolated: bool,
    ) -> None:
        if item.parked_id in seen or (item.event_id is not None and item.event_id in seen):
            counts.duplicates += 1
            return
        try:
            if item.poison is not None:
                raise item.poison
            # Decoding yields either poison or all three; the checks narrow the types.
            assert item.envelope is not None
            assert item.data is not None
            assert item.event_id is not None
            running = _delivery.set(Delivery(item.record, item.parked_id, item.authenticated))
            try:
                await self._run_handler(uow, item.envelope, item.data, isolated)
            finally:
                _delivery.reset(running)
        except Poison as poison:
            await self._dead_letter(uow, item.record, poison, item.authenticated)
            seen.add(item.parked_id)
            marks.append((item.parked_id, poison.code))
            counts.dead_lettered += 1
            return
        seen.add(item.event_id)
        marks.append((item.event_id, item.envelope.type))
        counts.handled += 1

    async def _run_handler(
        self, uow: UnitOfWork, envelope: Envelope, data: BaseModel, isolated: bool
    ) -> None:
        handler = self._handlers[envelope.type]
        if not isolated:
            try:
                await handler(uow, envelope, data)
            except Exception as exc:
                if transient(exc):
                    raise
                # Its writes may be half done: start over with a savepoint per message.
                raise _Refused from exc
            return
        try:
            async with uow.savepoint():
                await handler(uow, envelope, data)
        except Exception as exc:
            poison = poison_of(exc)
            if poison is None:
                raise
            if poison.code == "HANDLER_ERROR":
                log.exception("%s: handler failed on %s", self.group, envelope.type)
            raise poison from exc

    def _decode(
        self, record: Record, headers: Mapping[str, str]
    ) -> tuple[Envelope, BaseModel, str | None]:
        """The envelope, its data and the enterprise its token proved, or the poison.

        The token is checked first, though a refused one is reported only after what else
        is wrong with the envelope: a message parked for its type or its schema version
        still says as whom it came, so that it can be re-driven (and signed for) once the
        consumer knows it."""
        if (unreadable := headers.get(UNREADABLE_BATCH)) is not None:
            # `record_batch` stands it for a batch no parser could read: its value is the batch.
            raise Poison("UNREADABLE_BATCH", unreadable)
        raw = record.value
        if not raw:  # no value, or one of zero bytes
            raise Poison("EMPTY_MESSAGE", "message has no value")
        if len(raw) > MAX_MESSAGE_BYTES:
            raise Poison("MESSAGE_TOO_LARGE", f"{len(raw)} bytes exceeds {MAX_MESSAGE_BYTES}")
        try:
            envelope = Envelope.from_json(raw)
        except ValidationError as err:
            if "ce_specversion" in headers:  # the value is only the data of a binary-mode event
                raise Poison("INVALID_ENVELOPE", BINARY_MODE) from err
            raise Poison("INVALID_ENVELOPE", _short(err)) from err
        try:
            return self._decode_data(record, headers, envelope)
        except Poison as poison:
            poison.reference = envelope.reference
            raise

    def _decode_data(
        self, record: Record, headers: Mapping[str, str], envelope: Envelope
    ) -> tuple[Envelope, BaseModel, str | None]:
        authenticated: str | None = None
        refused: DomainError | None = None
        if self._authenticate is not None:
            try:
                authenticated = self._authenticate(envelope, headers, broker_time(record))
            except DomainError as err:
                refused = err

        def poison(code: str, message: str, field: str | None = None) -> Poison:
            return Poison(code, message, authenticated, field)

        if (name := undecodable_header_name(record.headers)) is not None:
            # Read only by `record_batch` (aiokafka fails the batch on it): the contract's
            # headers are text, and no producer of ours could send the record on as it is.
            raise poison("INVALID_HEADER", f"header name '{name}' is not UTF-8")

        handler = self._handlers.get(envelope.type)
        spec = spec_for(envelope.type)
        if spec is not None and record.topic in CONTRACT_TOPICS and spec.topic.name != record.topic:
            # Each type has one topic of the contract; on another it is smuggled (a fact,
            # which carries no token, on a topic of authenticated commands) or misrouted (a
            # ledger report on the catalog's topic): said before whether this consumer
            # handles the type, since no upgrade of it, and no re-drive, would help.
            raise poison("WRONG_TOPIC", f"{envelope.type!r} belongs on {spec.topic.name}")
        if handler is None or spec is None:
            raise poison(
                "UNKNOWN_EVENT_TYPE", f"{envelope.type!r} is not handled on {record.topic}"
            )
        if envelope.schema_version > spec.version:
            raise poison(
                "UNSUPPORTED_SCHEMA_VERSION",
                f"{envelope.type} v{envelope.schema_version} is newer than v{spec.version}",
            )
        if refused is not None:
            raise Poison(refused.code, refused.message) from refused
        try:
            data = spec.model.model_validate(envelope.data)
        except ValidationError as err:
            raise poison("SCHEMA_INVALID", _short(err), _error_field(err)) from err
        return envelope, data, authenticated

    async def _dead_letter(
        self, uow: UnitOfWork, record: Record, poison: Poison, authenticated: str | None
    ) -> None:
        log.info(
            "%s: dead-letter %s@%s: %s", self.group, record.topic, record.offset, poison.message
        )
        await write_dead_letter(uow, self.dlq_topic, record, poison, authenticated)


def _short(err: ValidationError) -> str:
    parts = [
        f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in err.errors()[:5]
    ]
    return "; ".join(parts)


def _error_field(err: ValidationError) -> str | None:
    """The `data` field the first error names, as the sender wrote it (camelCase, as the
    GraphQL input and userErrors spell it); a list's item by its list (`wasteCodes`, as
    userErrors name it). None when the error is the whole `data`'s (not an object)."""
    errors = err.errors()
    location = errors[0]["loc"] if errors else ()
    return location[0] if location and isinstance(location[0], str) else None
