"""`wastex dlq`: list dead-lettered messages with their reasons, and re-drive them after a fix.

A dead letter is the original message (value, key, headers) plus `x-error`,
`x-error-type`, `x-error-field` (when the rule named one) and
`x-original-topic/-partition/-offset`, without the original's bearer
token; an ingest message that passed authentication says as whom
(`x-authenticated-source`). Re-driving sends the original back to its topic with the
original key and headers (without the `x-` ones), and, for an ingest message, signs a
fresh one-hour token for the enterprise it was authenticated as (so the operator needs the
signing key, as for `wastex token`: `WASTEX_JWT_SECRET` or `WASTEX_JWT_PRIVATE_KEY`); one
never authenticated goes back without a token and is parked again. A letter's headers are
anyone's to write who can write the DLQ topic, so the enterprise is signed for only where
the original, still at its position on its topic, is the same message under a token of that
enterprise valid when the broker took it (`unproven`); one whose original is gone with the
topic's retention, or proves nothing, does not go, and `--offset`/`--id` say why. The
consumer treats a re-driven message as new (parked messages are remembered by position,
handled ones by event id), so a message whose cause was fixed goes through, one still broken
is parked again, and one already handled is skipped as a duplicate.

The DLQ is written through the outbox, so one parked message may appear twice; `list`
shows each copy, `redrive` sends each original position once. A re-driven message carries
`wastex-redrive-of` (`<DLQ topic>@<offset>` of its letter; DLQ topics have one partition):
parked again, its new letter says which letter it came from, and later runs re-drive the new
letter, not the old one as well (each run would otherwise double what is still broken); the
marker counts only where the letter it names holds the same message (any producer can write
it, and must not hide another's letter that way). A
letter that kept only the head of a message too large (`x-truncated-from-bytes`), or the
bytes of a batch no parser could read (`UNREADABLE_BATCH`), is listed, never re-driven.

The topic is read to its end by reading, not by asking for end offsets (tansu
under-reports them after batched sends), so nothing is missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import AsyncGenerator
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Annotated, Any

import typer
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from wastex_cli.running import run, service_settings
from wastex_shared import topics
from wastex_shared.auth import (
    JwtConfig,
    Role,
    authorization_of,
    issue_token,
    principal_from_header,
)
from wastex_shared.errors import DomainError
from wastex_shared.messaging.consumer import broker_time
from wastex_shared.messaging.dead_letter import (
    AUTHENTICATED_SOURCE,
    ERROR_FIELD,
    TRUNCATED_FROM,
    header_texts,
    kafka_text,
)
from wastex_shared.settings import bootstrap_problem
from wastex_shared.topics import dlq_for

app = typer.Typer(help="Dead-letter topics: list and re-drive.", no_args_is_help=True)

GROUPS = ("catalog", "matching", "ledger")
#: Stop reading once no record arrived for this long.
IDLE_SECONDS = 2.0

Group = Annotated[str, typer.Argument(help="catalog | matching | ledger")]
Bootstrap = Annotated[
    str | None, typer.Option(help="Kafka bootstrap (default: WASTEX_KAFKA_BOOTSTRAP)")
]
Offsets = Annotated[list[int] | None, typer.Option("--offset", help="only these DLQ offsets")]
Reasons = Annotated[
    list[str] | None, typer.Option("--type", help="only these reasons (x-error-type)")
]
EventIds = Annotated[list[str] | None, typer.Option("--id", help="only these event ids")]

#: The reason of a letter standing for a batch no parser could read (`record_batch`).
UNREADABLE = "UNREADABLE_BATCH"


@dataclass(frozen=True)
class DeadLetter:
    offset: int
    reason: str
    error: str
    original_topic: str
    original_partition: int
    original_offset: int
    key: str
    event_id: str | None
    event_type: str | None
    source: str | None
    #: The enterprise its token proved it came from (ingest messages that got that far).
    authenticated_source: str | None = None
    #: The letter this message was re-driven from (`<DLQ topic>@<offset>`), if it was.
    redrive_of: str | None = None
    #: Only the head of the message was kept (it was too large): it cannot be re-driven.
    truncated: bool = False
    #: A digest of the message the letter holds: a re-drive sends it unchanged, so a letter
    #: re-driven and parked again holds the same.
    value_digest: str = ""
    #: The message's field the rule refused, when it named one (`x-error-field`).
    field: str | None = None

    @property
    def redrivable(self) -> bool:
        """It holds the whole of a message that came from a topic (not a head, not the bytes
        of a batch no parser could read: `UNREADABLE_BATCH`)."""
        return self.not_redrivable is None

    @property
    def not_redrivable(self) -> str | None:
        """Why it can never be re-driven, or None."""
        if not self.original_topic:
            return "it names no original topic"
        if self.truncated:
            return "it kept only the head of a message too large"
        if self.reason == UNREADABLE:
            return "it holds the bytes of a batch no parser could read"
        return None

    @property
    def positioned(self) -> bool:
        """It names a place its original could be read at (a letter's headers are anyone's
        to write: an offset left out or garbled reads as -1)."""
        return self.original_partition >= 0 and self.original_offset >= 0

    @property
    def origin(self) -> str:
        return f"{self.original_topic}[{self.original_partition}]@{self.original_offset}"


@dataclass(frozen=True)
class Filter:
    offsets: frozenset[int] | None = None
    reasons: frozenset[str] | None = None
    event_ids: frozenset[str] | None = None

    def __call__(self, letter: DeadLetter) -> bool:
        return (
            (self.offsets is None or letter.offset in self.offsets)
            and (self.reasons is None or letter.reason in self.reasons)
            and (self.event_ids is None or letter.event_id in self.event_ids)
        )


def _filter(offsets: list[int] | None, reasons: list[str] | None, ids: list[str] | None) -> Filter:
    return Filter(
        frozenset(offsets) if offsets else None,
        frozenset(reasons) if reasons else None,
        frozenset(ids) if ids else None,
    )


def _group(group: str) -> str:
    if group not in GROUPS:
        raise typer.BadParameter(f"unknown group {group!r}; one of {', '.join(GROUPS)}")
    return group


#: Where the broker's address comes from, for an error saying it cannot be reached.
BOOTSTRAP_FROM = "--bootstrap or WASTEX_KAFKA_BOOTSTRAP"


def _bootstrap(bootstrap: str | None) -> str:
    address = bootstrap or service_settings().kafka_bootstrap
    problem = bootstrap_problem(address)
    if problem is not None:
        raise typer.BadParameter(problem, param_hint=BOOTSTRAP_FROM)
    return address


def _reader(bootstrap: str, max_poll_records: int) -> AIOKafkaConsumer:
    """A consumer of no group (it commits nothing), from the earliest offset kept."""
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=max_poll_records,
    )


async def read_all(bootstrap: str, topic: str) -> AsyncGenerator[Any, None]:
    """Every record of `topic`, all partitions, from offset 0 until it stays quiet."""
    consumer = _reader(bootstrap, max_poll_records=1000)
    try:
        await consumer.start()
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        loop = asyncio.get_running_loop()
        quiet_since = loop.time()
        while loop.time() - quiet_since < IDLE_SECONDS:
            fetched = await consumer.getmany(*tps, timeout_ms=250)
            if not any(fetched.values()):
                continue
            for tp in tps:
                for record in fetched.get(tp, []):
                    yield record
            # After the caller is done with them: its time (a redrive's sends) is not quiet.
            quiet_since = loop.time()
    finally:
        await consumer.stop()


#: Put on a re-driven message: the dead letter it was re-driven from, `<DLQ topic>@<offset>`
#: (the message goes back to a topic other groups read too, whose letters it may become).
REDRIVE_OF = "wastex-redrive-of"


def letter_ref(topic: str, offset: int) -> str:
    return f"{topic}@{offset}"


def _number(text: str | None, otherwise: int) -> int:
    """A header's number; `otherwise` when absent or not a number (a letter is still listed)."""
    try:
        return int(text or "")
    except ValueError:
        return otherwise


def digest(value: bytes | None) -> str:
    return hashlib.blake2b(value or b"", digest_size=16).hexdigest()


def decode(record: Any) -> DeadLetter:
    headers = header_texts(record.headers)
    event_id = event_type = source = None
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        body = json.loads(record.value)
        event_id, event_type, source = body.get("id"), body.get("type"), body.get("source")
    return DeadLetter(
        offset=record.offset,
        reason=headers.get("x-error-type", ""),
        error=headers.get("x-error", ""),
        original_topic=headers.get("x-original-topic", ""),
        original_partition=_number(headers.get("x-original-partition"), 0),
        original_offset=_number(headers.get("x-original-offset"), -1),
        key=kafka_text(record.key),
        event_id=None if event_id is None else str(event_id),
        event_type=None if event_type is None else str(event_type),
        source=None if source is None else str(source),
        authenticated_source=headers.get(AUTHENTICATED_SOURCE) or None,
        redrive_of=headers.get(REDRIVE_OF) or None,
        truncated=TRUNCATED_FROM in headers,
        value_digest=digest(record.value),
        field=headers.get(ERROR_FIELD) or None,
    )


async def dead_letters(bootstrap: str, group: str) -> list[DeadLetter]:
    return [decode(record) async for record in read_all(bootstrap, dlq_for(group))]


@app.command("list")
def list_(
    group: Group,
    bootstrap: Bootstrap = None,
    offset: Offsets = None,
    type_: Reasons = None,
    event_id: EventIds = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """List GROUP's dead letters: DLQ offset, reason, origin, event id, message, field."""
    keep = _filter(offset, type_, event_id)
    read = run(dead_letters(_bootstrap(bootstrap), _group(group)), bootstrap=BOOTSTRAP_FROM)
    letters = [d for d in read if keep(d)]
    for d in letters:
        if as_json:
            typer.echo(json.dumps(asdict(d), ensure_ascii=False))
        else:
            error = f"{d.error} [{d.field}]" if d.field else d.error
            typer.echo(
                f"{d.offset:>6}  {d.reason:<26} {d.origin:<34} {d.event_id or '-':<36} {error}"
            )
    if not as_json:
        typer.echo(f"{len(letters)} dead letter(s) on {dlq_for(group)}", err=True)


#: How long the token signed for a re-driven ingest message holds: enough to be consumed.
REDRIVE_TOKEN_TTL = timedelta(hours=1)
#: The topics whose messages carry a factory's token: the only ones a re-drive signs for
#: (a fact's `source` proves nothing, whatever a dead letter says of it).
INGEST_TOPICS = frozenset(topic.name for topic in topics.INGEST_TOPICS)


def redrive_headers(record: Any, letter: DeadLetter, jwt: JwtConfig) -> list[tuple[str, bytes]]:
    """The original's headers (no `x-` ones), with a fresh token for the enterprise it was
    authenticated as, and the letter it is re-driven from."""
    headers = [
        (k, v) for k, v in record.headers or () if not k.startswith("x-") and k != REDRIVE_OF
    ]
    headers.append((REDRIVE_OF, letter_ref(record.topic, record.offset).encode()))
    if signs_for(letter) and not any(k.lower() == "authorization" for k, _ in headers):
        assert letter.authenticated_source is not None
        signed = issue_token(
            jwt,
            Role.ENTERPRISE,
            letter.authenticated_source,
            ttl=REDRIVE_TOKEN_TTL,
            subject=f"wastex-dlq-redrive:{letter.authenticated_source}",
        )
        headers.append(("authorization", f"Bearer {signed}".encode()))
    return headers


def _parked_again(letter: DeadLetter, named: DeadLetter | None) -> bool:
    """Whether `letter` is the message of the letter its marker names, parked again. Any
    producer can write the marker: one naming another factory's letter must not hide it
    from every re-drive, so the letter named must hold the same message from the same topic."""
    return (
        named is not None
        and named.value_digest == letter.value_digest
        and named.original_topic == letter.original_topic
    )


def signs_for(letter: DeadLetter) -> bool:
    """Whether re-driving `letter` signs a token: an ingest message that was authenticated."""
    return letter.original_topic in INGEST_TOPICS and bool(letter.authenticated_source)


async def originals(bootstrap: str, letters: list[DeadLetter]) -> dict[str, Any]:
    """The records still on the broker at the letters' original positions, by `origin`
    (one gone with its topic's retention is left out).

    A seek that reads nothing waits `IDLE_SECONDS`: the partition holds nothing from that
    offset on (or nothing at all: retention emptied it and the seek fell back to its start).
    Letters are read by partition, lowest offset first, so the letters at or after such an
    offset are not waited for again: a DLQ keeps its letters longer than an ingest topic
    its messages, and a quiet partition aged out cost every one of its letters that wait."""
    found: dict[str, Any] = {}
    if not letters:
        return found
    consumer = _reader(bootstrap, max_poll_records=1)
    await consumer.start()
    try:
        #: Per partition, the lowest offset from which it was found to hold nothing.
        empty_from: dict[TopicPartition, int] = {}
        in_order = sorted(
            letters, key=lambda d: (d.original_topic, d.original_partition, d.original_offset)
        )
        for letter in in_order:
            if not letter.positioned:
                continue  # nothing to seek: `unproven` says why
            tp = TopicPartition(letter.original_topic, letter.original_partition)
            if letter.original_offset >= empty_from.get(tp, letter.original_offset + 1):
                continue
            consumer.assign([tp])
            consumer.seek(tp, letter.original_offset)
            fetched = await consumer.getmany(tp, timeout_ms=int(IDLE_SECONDS * 1000))
            # An offset out of the log's range reads from its start: another record.
            record = next(iter(fetched.get(tp, [])), None)
            if record is None:
                empty_from[tp] = letter.original_offset
            elif record.offset == letter.original_offset:
                found[letter.origin] = record
    finally:
        await consumer.stop()
    return found


def unproven(letter: DeadLetter, original: Any, jwt: JwtConfig) -> str | None:
    """Why a re-drive may not sign for the enterprise `letter` names, or None. Anyone able to
    write the DLQ topic can write a letter and its `x-authenticated-source`: what proves the
    enterprise is the original on its topic, the same message under a token of that
    enterprise, valid when the broker took it (`broker_time`; without it, now)."""
    if not letter.positioned:
        return (
            f"it names no position of its original on {letter.original_topic} to prove whom "
            "it came from"
        )
    if original is None:
        return (
            f"its original ({letter.origin}) is no longer on the broker to prove whom it came "
            "from: the factory must send it again"
        )
    if digest(original.value) != letter.value_digest:
        return f"it does not hold the message at its original position ({letter.origin})"
    try:
        header = authorization_of(header_texts(original.headers))  # as the consumer reads it
        principal = principal_from_header(jwt, header, broker_time(original))
    except DomainError as err:
        return f"its original's token does not prove whom it came from: {err.message}"
    if principal is None or principal.enterprise_id != letter.authenticated_source:
        return f"its original carries no token of {letter.authenticated_source}"
    return None


async def redrive_letters(
    bootstrap: str,
    group: str,
    keep: Filter,
    dry_run: bool = False,
    jwt: JwtConfig | None = None,
    skipped: list[tuple[DeadLetter, str]] | None = None,
) -> list[DeadLetter]:
    """Send the matching dead letters back to their original topics; returns those sent,
    and adds to `skipped` those matching that do not go, with why.

    The topic is read to its end *before* anything is sent, so a message parked again
    while this runs is not picked up and sent round in circles. The first reading keeps
    what each letter says, not its message (a DLQ may hold thousands of large ones); a
    second sends the chosen letters' messages as it meets them."""
    signing = jwt or service_settings().jwt
    topic = dlq_for(group)
    read = [decode(record) async for record in read_all(bootstrap, topic)]
    by_ref = {letter_ref(topic, letter.offset): letter for letter in read}
    # A message re-driven before and parked again has a newer letter: that one goes, and
    # no copy of the old one (the outbox may have written it twice).
    positions = {
        by_ref[letter.redrive_of].origin
        for letter in read
        if letter.redrive_of is not None and _parked_again(letter, by_ref.get(letter.redrive_of))
    }
    kept = [letter for letter in read if keep(letter)]
    signed = [letter for letter in kept if signs_for(letter) and letter.redrivable]
    proofs = await originals(bootstrap, signed)
    chosen: dict[int, DeadLetter] = {}
    taken: dict[str, int] = {}
    for letter in kept:
        why = letter.not_redrivable
        if why is None and letter.origin in positions:
            why = "re-driven before and parked again: its newer letter goes instead"
        if why is None and letter.origin in taken:
            why = f"a copy of the letter at offset {taken[letter.origin]}, which goes"
        if why is None and signs_for(letter):
            why = unproven(letter, proofs.get(letter.origin), signing)
        if why is None:
            taken[letter.origin] = letter.offset
            chosen[letter.offset] = letter
        elif skipped is not None:
            skipped.append((letter, why))
    if dry_run or not chosen:
        return list(chosen.values())
    if any(signs_for(letter) for letter in chosen.values()):
        # Without a signing key nothing goes half-way: this raises before anything is sent.
        issue_token(signing, Role.ENTERPRISE, "wastex-dlq-redrive", ttl=REDRIVE_TOKEN_TTL)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", max_request_size=4 * 1024 * 1024
    )
    await producer.start()
    try:
        # DLQ topics have one partition: a letter's offset names it.
        last = max(chosen)
        sent: list[DeadLetter] = []
        async with contextlib.aclosing(read_all(bootstrap, topic)) as records:
            async for record in records:
                sending = chosen.get(record.offset)
                if sending is not None:
                    await producer.send_and_wait(
                        sending.original_topic,
                        record.value,
                        key=record.key,
                        headers=redrive_headers(record, sending, signing),
                    )
                    sent.append(sending)
                if record.offset >= last:
                    break
    finally:
        await producer.stop()
    # Only what went: a letter gone from the topic by the second reading (retention) did not.
    return sent


@app.command()
def redrive(
    group: Group,
    bootstrap: Bootstrap = None,
    offset: Offsets = None,
    type_: Reasons = None,
    event_id: EventIds = None,
    dry_run: Annotated[bool, typer.Option(help="only show what would be re-driven")] = False,
) -> None:
    """Send GROUP's dead letters back to their original topics (after fixing the cause)."""
    keep = _filter(offset, type_, event_id)
    jwt = service_settings().jwt
    skipped: list[tuple[DeadLetter, str]] = []
    try:
        sent = run(
            redrive_letters(_bootstrap(bootstrap), _group(group), keep, dry_run, jwt, skipped),
            bootstrap=BOOTSTRAP_FROM,
        )
    except ValueError as err:  # no key to sign a re-driven ingest message with
        raise typer.BadParameter(f"cannot sign re-driven messages: {err}") from err
    for d in sent:
        typer.echo(f"{d.offset:>6}  {d.reason:<26} → {d.original_topic}  {d.event_id or '-'}")
    if keep.offsets is not None or keep.event_ids is not None:
        # Letters named one by one: say why one does not go (not for a whole topic's copies).
        for d, why in skipped:
            typer.echo(f"{d.offset:>6}  not re-driven: {why}", err=True)
    if jwt.published and not dry_run and any(signs_for(d) for d in sent):
        typer.echo(
            "warning: signed with the development secret; services with their own "
            "WASTEX_JWT_SECRET will park these again (re-drive the same offsets once it is "
            "set here)",
            err=True,
        )
    verb = "would re-drive" if dry_run else "re-drove"
    typer.echo(f"{verb} {len(sent)} message(s) from {dlq_for(group)}")
