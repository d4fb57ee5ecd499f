"""Fetched record batches aiokafka cannot read must not stall a consumer.

aiokafka decodes each header name as UTF-8 while it unpacks a fetched batch (`_read_msg`, in
its C extension and its Python code alike). A name that is not UTF-8 (a raw producer such as
librdkafka takes names as bytes) raised UnicodeDecodeError (CorruptRecordException from the
Python code) out of every `getmany`, for ever: the partition's position never moved, nothing
from that fetch was returned, and faststream restarted its consume task in a busy loop.
Seeking past the record would not help: the broker returns whole batches, and aiokafka
unpacks the records before the position too.

aiokafka's fetcher builds its batches with the name `MemoryRecords` of its module, the one
seam there is. `install_tolerant_batch_reader` puts `TolerantMemoryRecords` there: it
hands out aiokafka's own batches (its C parser stays the common path) and only when one fails
on a header name reads that batch again here, keeping each name that does not decode as
surrogate escapes (PEP 383), so that the consumer parks the record
(`dead_letter.undecodable_header_name`).

A batch no parser can read (its CRC does not match its bytes, its body does not decompress,
a record is cut short) failed every fetch the same way. Such a batch is handed out as one
record standing for it (`UNREADABLE_BATCH`), at the batch's last offset, its value the batch's
bytes, so that the consumer parks it and reads on from the next batch (`_Batch` says how its
end is known). Only v2 batches (every producer since Kafka 0.11) are read so; older ones are
aiokafka's alone."""

from __future__ import annotations

import gzip
import logging
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import cramjam
from aiokafka import codec
from aiokafka.consumer import fetcher
from aiokafka.errors import CorruptRecordException, KafkaError
from aiokafka.record.memory_records import MemoryRecords

from wastex_shared.messaging.unpacked_size import check_unpacked_size

log = logging.getLogger(__name__)

#: What a batch's bytes make a parser raise (not a missing codec library: that batch is fine,
#: the installation is not, and `install_tolerant_batch_reader` refuses to start without them).
_UNREADABLE = (
    CorruptRecordException,
    struct.error,
    EOFError,  # gzip cut short
    gzip.BadGzipFile,
    zlib.error,
    cramjam.DecompressionError,
)
#: What a batch whose CRC does not match is taken to be, whatever its damaged bytes say.
_UNTRUSTED_FLAGS: dict[str, Any] = {
    "is_control_batch": False,
    "is_transactional": False,
    "producer_id": None,
}

#: The header of the record standing for an unreadable batch: says which offsets and why. A
#: producer setting it on a message of its own only gets that message parked.
UNREADABLE_BATCH = "x-wastex-unreadable-batch"

#: A v2 batch's head: base offset, length, leader epoch, magic, CRC, attributes, last offset
#: delta, first and max timestamps, producer id and epoch, base sequence, record count.
_BATCH_HEAD = struct.Struct(">qiibIhiqqqhii")
#: Base offset and length come before a batch's `length` bytes; the magic byte is at 16.
_LOG_OVERHEAD, _MAGIC_AT = 12, 16
_LOG_APPEND_TIME = 1
_CODECS = {"snappy": codec.has_snappy, "lz4": codec.has_lz4, "zstd": codec.has_zstd}
_DECOMPRESS = {
    1: codec.gzip_decode,
    2: codec.snappy_decode,
    3: codec.lz4_decode,
    4: codec.zstd_decode,
}


@dataclass(frozen=True, slots=True)
class BatchRecord:
    """A record as aiokafka's fetcher reads it from a batch."""

    offset: int
    timestamp: int
    timestamp_type: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]
    checksum: None = None


def _varint(buffer: bytes, pos: int) -> tuple[int, int]:
    """A zigzag varint (Kafka's record fields) at `pos`, and the position after it."""
    value = shift = 0
    while True:
        if pos >= len(buffer):
            raise CorruptRecordException("record ends inside a varint")
        byte = buffer[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (value >> 1) ^ -(value & 1), pos
        shift += 7


def _field(buffer: bytes, pos: int) -> tuple[bytes | None, int]:
    size, pos = _varint(buffer, pos)
    if size < 0:
        return None, pos
    return buffer[pos : pos + size], pos + size


def read_batch(raw: bytes | memoryview) -> Iterator[BatchRecord]:
    """The records of one v2 record batch (Kafka's `RecordBatch`, magic 2); header names that
    are not UTF-8 are kept as surrogate escapes instead of failing the batch."""
    (base_offset, _, _, magic, _, attributes, _, first_ts, max_ts, *_, count) = (
        _BATCH_HEAD.unpack_from(raw)
    )
    if magic != 2:
        raise CorruptRecordException(f"not a v2 record batch (magic {magic})")
    body = bytes(raw[_BATCH_HEAD.size :])
    if compression := attributes & 0x07:
        body = _DECOMPRESS[compression](body)
    timestamp_type = (attributes >> 3) & 1
    pos = 0
    for _ in range(count):
        length, pos = _varint(body, pos)
        end = pos + length
        _, pos = _varint(body, pos)  # the record's attributes: unused
        ts_delta, pos = _varint(body, pos)
        offset_delta, pos = _varint(body, pos)
        key, pos = _field(body, pos)
        value, pos = _field(body, pos)
        header_count, pos = _varint(body, pos)
        headers: list[tuple[str, bytes | None]] = []
        for _ in range(header_count):
            name, pos = _field(body, pos)
            if name is None:
                raise CorruptRecordException("header name is null")
            header_value, pos = _field(body, pos)
            headers.append((name.decode("utf-8", "surrogateescape"), header_value))
        if pos != end:
            raise CorruptRecordException(f"record of {length} bytes read as {pos - end + length}")
        timestamp = max_ts if timestamp_type == _LOG_APPEND_TIME else first_ts + ts_delta
        yield BatchRecord(
            base_offset + offset_delta, timestamp, timestamp_type, key, value, headers
        )


class _Batch:
    """aiokafka's batch, read again by `read_batch` from its bytes if a header name fails it,
    and handed out as one `UNREADABLE_BATCH` record if neither can read it.

    Where it ends (the offset after it) is the next batch's base offset, when one follows in
    the fetch, which the broker wrote; its own last offset delta only if its CRC matched and
    it agrees. A batch whose end is not known is not read until the batch after it arrives
    (`ready`). A batch whose CRC does not match says nothing else that can be trusted: it is
    no control batch and no transaction's."""

    def __init__(self, batch: Any, raw: memoryview, followed_at: int | None) -> None:
        self._batch = batch
        self._raw = raw
        self._followed_at = followed_at
        self._crc_matches = bool(batch.validate_crc())
        #: Why its records cannot be read, found before any is: handed out as one record.
        self._unreadable: Exception | None = None
        #: Whether it can be handed out now (`TolerantMemoryRecords` holds it back if not).
        self.ready = self._check()
        self._records = self._read()

    def __getattr__(self, name: str) -> Any:
        if not self._crc_matches and name in _UNTRUSTED_FLAGS:
            return _UNTRUSTED_FLAGS[name]
        return getattr(self._batch, name)

    def __iter__(self) -> _Batch:
        return self

    def __next__(self) -> Any:
        return next(self._records)

    @property
    def next_offset(self) -> int:
        end = self._end()
        return int(self._batch.next_offset) if end is None else end

    def validate_crc(self) -> bool:
        # Checked when wrapped; on a mismatch the fetcher would raise (`_check`).
        return True

    def _check(self) -> bool:
        if self._end() is None:
            log.warning(
                "the batch at offset %s cannot be read and no batch after it says where it "
                "ends yet",
                self._batch.base_offset,
            )
            return False
        if not self._crc_matches:
            self._unreadable = CorruptRecordException("its CRC does not match its bytes")
            return True
        if compression := self._batch.compression_type:
            try:
                check_unpacked_size(compression, bytes(self._raw[_BATCH_HEAD.size :]))
            except _UNREADABLE as err:
                self._unreadable = err
            except MemoryError:
                # Not the batch's fault, and holding it back could lose it: read unchecked.
                log.warning("no memory to check the batch at offset %s", self._batch.base_offset)
        return True

    def _end(self) -> int | None:
        """The offset after the batch, as far as it can be known (the class doc)."""
        base, following = self._batch.base_offset, self._followed_at
        if following is not None and following <= base:
            following = None  # a base offset out of order: not a place to go on from
        if self._crc_matches:
            own = int(self._batch.next_offset)
            if own > base and (following is None or own <= following):
                return own
        return following

    def _read(self) -> Iterator[Any]:
        last = self._batch.base_offset - 1
        try:
            if self._unreadable is not None:
                raise self._unreadable
            try:
                for record in self._batch:
                    last = record.offset
                    yield record
            except (UnicodeDecodeError, CorruptRecordException) as err:
                # The C parser raises the decoding error; the Python one wraps it in another.
                if not isinstance(err.__cause__ or err, UnicodeDecodeError):
                    raise
                log.warning("a header name is not UTF-8 in the batch at offset %s", last + 1)
                for record in read_batch(self._raw):
                    if record.offset > last:
                        last = record.offset
                        yield record
        except _UNREADABLE as err:
            end = self._end()
            assert end is not None  # else not `ready`, never read
            if last < end - 1:
                yield self._standing_for(last + 1, end - 1, err)

    def _standing_for(self, first: int, last: int, err: Exception) -> BatchRecord:
        # `first` may be below the consumer's position: the fetcher skipped those records.
        said = str(err) if isinstance(err, KafkaError) else f"{type(err).__name__}: {err}"
        why = f"records {first}-{last} of a batch cannot be read: {said}"
        log.warning("%s", why)
        return BatchRecord(last, -1, 0, None, bytes(self._raw), [(UNREADABLE_BATCH, why.encode())])


class TolerantMemoryRecords:
    """aiokafka's `MemoryRecords` whose v2 batches `_Batch` wraps.

    Nothing may raise once a record of the fetch was handed out: aiokafka's fetcher drops
    what it collected of the partition with the exception, and its next call goes on past
    those records (its position had moved), so they were lost. A batch that cannot be handed
    out yet (`_Batch.ready`) ends the fetch before it instead, and the fetch after starts
    with it. Raising even before the first record of a fetch loses records: those another
    partition gave in the same call (seen in `make test`'s poison run). So a fetch that starts
    with such a batch has nothing to read: aiokafka reports it as a record too large
    (RecordTooLargeError, logged by the consumer) and moves one offset on, skipping that
    offset of the damaged batch unparked; the rest of it is parked once the batch after it
    arrives. Only a damaged batch last in its partition meets this."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._records = MemoryRecords(data)
        self._pos = 0
        self._next: Any = None

    def size_in_bytes(self) -> int:
        return int(self._records.size_in_bytes())

    def has_next(self) -> bool:
        if self._next is None and self._records.has_next():
            self._next = self._wrapped(self._records.next_batch())
        if self._next is None:
            return False
        return not isinstance(self._next, _Batch) or self._next.ready

    def next_batch(self) -> Any:
        if not self.has_next():
            return None
        batch, self._next = self._next, None
        return batch

    def _wrapped(self, batch: Any) -> Any:
        # aiokafka hands out the batches in order, each framed by its length.
        start = self._pos
        (length,) = struct.unpack_from(">i", self._data, start + 8)
        self._pos = start + _LOG_OVERHEAD + length
        if self._data[start + _MAGIC_AT] != 2:
            return batch  # v0/v1 carry no headers
        followed_at = None
        if len(self._data) >= self._pos + 8:  # the next batch's base offset, even if cut short
            (followed_at,) = struct.unpack_from(">q", self._data, self._pos)
        return _Batch(batch, memoryview(self._data)[start : self._pos], followed_at)


def install_tolerant_batch_reader() -> None:
    """Make aiokafka's fetcher (every consumer of the process) read batches through
    `TolerantMemoryRecords`. Fails loudly if aiokafka no longer builds them by that name."""
    missing = [name for name, has in _CODECS.items() if not has()]
    if missing:
        raise RuntimeError(f"aiokafka cannot decompress {', '.join(missing)}: install cramjam")
    current = getattr(fetcher, "MemoryRecords", None)
    if current is TolerantMemoryRecords:
        return
    if current is not MemoryRecords:
        raise RuntimeError(
            "aiokafka.consumer.fetcher no longer uses MemoryRecords: a header name that is not "
            "UTF-8 would stall consumers again; see wastex_shared.messaging.record_batch"
        )
    fetcher.MemoryRecords = TolerantMemoryRecords
