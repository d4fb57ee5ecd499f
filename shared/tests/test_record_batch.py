"""The tolerant reading of fetched record batches (`record_batch`), and what it relies on in
aiokafka: these fail loudly when an aiokafka upgrade changes either."""

from __future__ import annotations

import mmap
from typing import Any

import pytest
from aiokafka import codec
from aiokafka.consumer import fetcher
from aiokafka.consumer.fetcher import READ_UNCOMMITTED, PartitionRecords
from aiokafka.errors import CorruptRecordException, UnsupportedCodecError
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.structs import TopicPartition

from wastex_shared.messaging import unpacked_size
from wastex_shared.messaging.dead_letter import header_texts, undecodable_header_name
from wastex_shared.messaging.record_batch import (
    UNREADABLE_BATCH,
    TolerantMemoryRecords,
    install_tolerant_batch_reader,
    read_batch,
)
from wastex_shared.messaging.unpacked_size import UNPACKED_LIMIT, check_unpacked_size
from wastex_shared.testing.record_batches import (
    ATTRIBUTES,
    CRC,
    GZIP,
    LENGTH,
    LZ4,
    NAME_TO_BREAK,
    RECORDS,
    SNAPPY,
    ZSTD,
    Records,
    crc_of,
    record_batch,
)

CODECS = {GZIP: "gzip", SNAPPY: "snappy", LZ4: "lz4", ZSTD: "zstd"}


def fields(record: Any) -> tuple[Any, ...]:
    return (
        record.offset,
        record.timestamp,
        record.timestamp_type,
        record.key,
        record.value,
        list(record.headers),
    )


def read_all(records: Any) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    while records.has_next():
        batch = records.next_batch()
        assert batch.validate_crc()
        found.extend(fields(r) for r in batch)
    return found


GOOD: Records = [(b"a", []), (None, [("trace", b"t"), ("empty", None)]), (b"c", [("x", b"\xff")])]
BAD: Records = [(b"a", []), (b"b", [(NAME_TO_BREAK, b"v"), ("trace", b"t")]), (b"c", [])]


@pytest.mark.parametrize("compression", [0, GZIP])
def test_a_batch_is_read_as_aiokafka_reads_it(compression: int) -> None:
    raw = record_batch(GOOD, base_offset=40, compression=compression)
    assert [fields(r) for r in read_batch(raw)] == read_all(MemoryRecords(raw))


@pytest.mark.parametrize("compression", [0, GZIP])
def test_aiokafka_still_fails_a_batch_on_a_header_name_that_is_not_utf8(compression: int) -> None:
    """If this fails, aiokafka reads such names now: `record_batch` may be dropped. (Its C
    parser raises the decoding error, its Python one wraps it.)"""
    records = MemoryRecords(record_batch(BAD, compression=compression))
    with pytest.raises((UnicodeDecodeError, CorruptRecordException)) as failure:
        read_all(records)
    assert isinstance(failure.value.__cause__ or failure.value, UnicodeDecodeError)


@pytest.mark.parametrize("compression", [0, GZIP])
def test_every_record_of_batches_with_a_header_name_that_is_not_utf8_is_read(
    compression: int,
) -> None:
    raw = record_batch(BAD, compression=compression) + record_batch(GOOD, base_offset=3)
    found = read_all(TolerantMemoryRecords(raw))
    assert [(offset, value) for offset, _, _, _, value, _ in found] == [
        (0, b"a"),
        (1, b"b"),
        (2, b"c"),
        (3, b"a"),
        (4, None),
        (5, b"c"),
    ]
    headers = found[1][5]
    assert undecodable_header_name(headers) == "\\xff\\xfe"
    assert header_texts(headers) == {"\\xff\\xfe": "v", "trace": "t"}
    assert undecodable_header_name(found[5][5]) is None


def test_the_fetcher_reads_batches_through_the_tolerant_reader() -> None:
    """aiokafka's fetcher makes its batches with the name `MemoryRecords` of its module."""
    install_tolerant_batch_reader()
    assert fetcher.MemoryRecords is TolerantMemoryRecords
    install_tolerant_batch_reader()  # a second call changes nothing
    assert fetcher.MemoryRecords is TolerantMemoryRecords


def fetched(raw: bytes, position: int = 0) -> list[tuple[int, Any]]:
    """(offset, value) of what aiokafka's fetcher hands a consumer at `position` from `raw`
    (a fetch response's records), through the tolerant reader; then the position after."""
    tp = TopicPartition("t", 0)
    records = PartitionRecords(
        tp, TolerantMemoryRecords(raw), [], position, None, None, True, READ_UNCOMMITTED
    )
    found: list[tuple[int, Any]] = []
    for record in records:
        why = dict(record.headers).get(UNREADABLE_BATCH)
        found.append((record.offset, why.decode() if why else record.value))
    found.append((records.next_fetch_offset, "position"))
    return found


def damaged(base_offset: int, at: slice | None = None, value: bytes = b"") -> bytes:
    """`GOOD` at `base_offset` with bytes the CRC covers changed (its last byte by default)."""
    raw = bytearray(record_batch(GOOD, base_offset=base_offset))
    if at is None:
        raw[-1] ^= 0xFF
    else:
        raw[at] = value
    assert not MemoryRecords(bytes(raw)).next_batch().validate_crc()
    return bytes(raw)


AFTER = record_batch(GOOD, base_offset=43)
READ_AFTER = [(43, b"a"), (44, None), (45, b"c"), (46, "position")]
LAST_OFFSET_DELTA, CONTROL_FLAG = slice(23, 27), slice(22, 23)


def test_a_batch_whose_crc_does_not_match_is_handed_out_as_one_record_standing_for_it() -> None:
    """aiokafka's fetcher raises on a CRC mismatch and fetches the same batch again, for ever."""
    bad = damaged(40)
    [(offset, why), *rest] = fetched(bad + AFTER)
    assert offset == 42
    assert why.startswith("records 40-42 of a batch cannot be read")
    assert "CRC" in why
    assert rest == READ_AFTER


@pytest.mark.parametrize(
    ("at", "value"),
    [
        (LAST_OFFSET_DELTA, (10**6).to_bytes(4, "big")),  # would skip the batch after it
        (LAST_OFFSET_DELTA, (-10).to_bytes(4, "big", signed=True)),  # would go back
        (CONTROL_FLAG, b"\x20"),  # would drop its records unread, as a control batch's
    ],
    ids=["last offset far ahead", "last offset behind", "control flag"],
)
def test_a_damaged_batch_ends_where_the_next_one_begins_whatever_its_header_says(
    at: slice, value: bytes
) -> None:
    [(offset, why), *rest] = fetched(damaged(40, at, value) + AFTER)
    assert offset == 42
    assert why.startswith("records 40-42 ")
    assert rest == READ_AFTER


def test_a_damaged_batch_with_none_after_it_ends_the_fetch_before_it() -> None:
    """Where it ends is not known until the next batch arrives. Raising instead lost the
    records before it in the fetch: aiokafka drops them with the exception, and goes on past
    them (seen in the chaos run: three poison messages never parked)."""
    before = record_batch(GOOD, base_offset=37)
    assert fetched(before + damaged(40)) == [(37, b"a"), (38, None), (39, b"c"), (40, "position")]
    # First in a fetch, nothing can be read: aiokafka reports a record too large (and moves
    # an offset on). Raising lost what other partitions gave in the same call.
    assert not TolerantMemoryRecords(damaged(40)).has_next()


@pytest.mark.parametrize("compression", [GZIP, LZ4])  # a gzip body cut short; lz4 that is not
def test_a_batch_whose_body_does_not_decompress_is_handed_out_as_one_record(
    compression: int,
) -> None:
    raw = bytearray(record_batch(GOOD, base_offset=7, compression=GZIP))
    raw = raw[: RECORDS + 10]
    raw[LENGTH] = (len(raw) - 12).to_bytes(4, "big")
    raw[ATTRIBUTES] = (int.from_bytes(raw[ATTRIBUTES], "big") & ~7 | compression).to_bytes(2, "big")
    raw[CRC] = crc_of(raw)
    with pytest.raises(Exception):  # noqa: B017, PT011 - whatever the codec raises
        read_all(MemoryRecords(bytes(raw)))
    [(offset, why), position] = fetched(bytes(raw), position=7)
    assert offset == 9
    assert why.startswith("records 7-9 of a batch cannot be read")
    assert position == (10, "position")


def test_a_batch_read_after_a_header_name_failed_it_then_cut_short_stands_for_the_rest() -> None:
    raw = bytearray(record_batch(BAD))
    raw = raw[:-2]  # the last record cut short
    raw[LENGTH] = (len(raw) - 12).to_bytes(4, "big")
    raw[CRC] = crc_of(raw)
    found = fetched(bytes(raw))
    assert found[:2] == [(0, b"a"), (1, b"b")]
    assert found[2][0] == 2
    assert found[2][1].startswith("records 2-2 ")
    assert found[3] == (3, "position")


def test_a_missing_codec_library_is_no_reason_to_park_a_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The batch is fine, the installation is not: refuse to start (and fail the batch, as
    aiokafka does, rather than park it for good)."""
    builder = DefaultRecordBatchBuilder(2, 3, 0, -1, -1, -1, 2**20)
    builder.append(0, timestamp=1, key=b"k", value=b"v", headers=[])
    lz4 = bytes(builder.build())
    monkeypatch.setattr(codec, "cramjam", None)
    with pytest.raises(RuntimeError, match="lz4"):
        install_tolerant_batch_reader()
    with pytest.raises(UnsupportedCodecError):
        fetched(lz4)


@pytest.mark.parametrize("compression", CODECS, ids=CODECS.values())
def test_a_batch_unpacking_beyond_the_limit_is_not_unpacked(compression: int) -> None:
    """The broker limits a batch's compressed size only: aiokafka would unpack it whole."""
    raw = record_batch([(bytes(UNPACKED_LIMIT + 1), [])], base_offset=5, compression=compression)
    [(offset, why), position] = fetched(raw, position=5)
    assert offset == 5
    assert why.startswith("records 5-5 of a batch cannot be read")
    assert f"unpack to more than {UNPACKED_LIMIT} bytes" in why
    assert position == (6, "position")


@pytest.mark.parametrize("compression", CODECS, ids=CODECS.values())
def test_a_batch_unpacking_within_the_limit_is_read(compression: int) -> None:
    value = bytes(UNPACKED_LIMIT - 100)  # with its record's framing, just within
    raw = record_batch([(value, [])], compression=compression)
    assert fetched(raw) == [(0, value), (1, "position")]


def test_the_limit_holds_over_gzip_members_one_after_another() -> None:
    half = codec.gzip_encode(bytes(UNPACKED_LIMIT // 2 + 1))
    with pytest.raises(CorruptRecordException, match="unpack"):
        check_unpacked_size(GZIP, half + half)
    check_unpacked_size(GZIP, half)


def test_a_gzip_body_of_members_beyond_any_producers_is_refused_at_once() -> None:
    """Thousands of tiny members made the check copy the rest of the body per member."""
    empty = codec.gzip_encode(b"")
    with pytest.raises(CorruptRecordException, match="more than 64 gzip members"):
        check_unpacked_size(GZIP, empty * 50_000)
    check_unpacked_size(GZIP, empty * 64)


def test_zeros_after_the_last_gzip_member_are_padding_as_aiokafka_reads_them() -> None:
    padded = codec.gzip_encode(b"records") + bytes(100)
    assert codec.gzip_decode(padded) == b"records"
    check_unpacked_size(GZIP, padded)


def test_no_memory_to_check_a_batch_reads_it_unchecked_instead_of_parking_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Not the batch's fault (strict overcommit, a ulimit); held back, it could be lost."""

    def no_memory(*args: Any) -> Any:
        raise OSError(12, "Cannot allocate memory")

    monkeypatch.setattr(unpacked_size, "_spaces", {})
    monkeypatch.setattr(mmap, "mmap", no_memory)
    before = record_batch(GOOD, base_offset=37)
    zstd = record_batch(GOOD, base_offset=40, compression=ZSTD)
    assert fetched(before + zstd)[3:] == [(40, b"a"), (41, None), (42, b"c"), (43, "position")]
