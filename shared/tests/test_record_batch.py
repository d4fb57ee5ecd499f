"""The tolerant reading of fetched record batches (`record_batch`), and what it relies on in
aiokafka: these fail loudly when an aiokafka upgrade changes either."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from aiokafka import codec
from aiokafka.consumer import fetcher
from aiokafka.errors import CorruptRecordException
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.record.util import calc_crc32c

from wastex_shared.messaging.dead_letter import header_texts, undecodable_header_name
from wastex_shared.messaging.record_batch import (
    UNREADABLE_BATCH,
    TolerantMemoryRecords,
    install_tolerant_batch_reader,
    read_batch,
)

NAME_TO_BREAK, UNDECODABLE_NAME = "\x01\x02", b"\xff\xfe"
GZIP = 1
#: Where a v2 batch's length, CRC, attributes and records are.
LENGTH, CRC, ATTRIBUTES, RECORDS = slice(8, 12), slice(17, 21), slice(21, 23), 61

Records = Sequence[tuple[bytes | None, Sequence[tuple[str, bytes | None]]]]


def batch_bytes(records: Records, base_offset: int = 0, compression: int = 0) -> bytes:
    """A v2 batch as a raw producer writes it: `NAME_TO_BREAK` goes as `UNDECODABLE_NAME`."""
    builder = DefaultRecordBatchBuilder(2, 0, 0, -1, -1, -1, 2**20)
    for i, (value, headers) in enumerate(records):
        builder.append(i, timestamp=1000 + i, key=b"k", value=value, headers=list(headers))
    raw = bytearray(builder.build()).replace(NAME_TO_BREAK.encode(), UNDECODABLE_NAME)
    raw[0:8] = base_offset.to_bytes(8, "big")
    if compression:
        raw = raw[:RECORDS] + codec.gzip_encode(bytes(raw[RECORDS:]))
        raw[LENGTH] = (len(raw) - 12).to_bytes(4, "big")
        attributes = int.from_bytes(raw[ATTRIBUTES], "big") | compression
        raw[ATTRIBUTES] = attributes.to_bytes(2, "big")
    raw[CRC] = calc_crc32c(bytes(raw[21:])).to_bytes(4, "big")
    return bytes(raw)


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
    raw = batch_bytes(GOOD, base_offset=40, compression=compression)
    assert [fields(r) for r in read_batch(raw)] == read_all(MemoryRecords(raw))


@pytest.mark.parametrize("compression", [0, GZIP])
def test_aiokafka_still_fails_a_batch_on_a_header_name_that_is_not_utf8(compression: int) -> None:
    """If this fails, aiokafka reads such names now: `record_batch` may be dropped. (Its C
    parser raises the decoding error, its Python one wraps it.)"""
    records = MemoryRecords(batch_bytes(BAD, compression=compression))
    with pytest.raises((UnicodeDecodeError, CorruptRecordException)) as failure:
        read_all(records)
    assert isinstance(failure.value.__cause__ or failure.value, UnicodeDecodeError)


@pytest.mark.parametrize("compression", [0, GZIP])
def test_every_record_of_batches_with_a_header_name_that_is_not_utf8_is_read(
    compression: int,
) -> None:
    raw = batch_bytes(BAD, compression=compression) + batch_bytes(GOOD, base_offset=3)
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


def stand_in(records: Any) -> tuple[int, bytes, str]:
    [found] = read_all(records)
    offset, _, _, key, value, headers = found
    assert key is None
    [(name, why)] = headers
    assert name == UNREADABLE_BATCH
    return offset, value, why.decode()


def test_a_batch_whose_crc_does_not_match_is_handed_out_as_one_record_standing_for_it() -> None:
    """aiokafka's fetcher raises on a CRC mismatch and fetches the same batch again, for ever."""
    raw = bytearray(batch_bytes(GOOD, base_offset=40))
    raw[-1] ^= 0xFF
    assert not MemoryRecords(bytes(raw)).next_batch().validate_crc()
    offset, value, why = stand_in(TolerantMemoryRecords(bytes(raw)))
    assert (offset, value) == (42, bytes(raw))
    assert why.startswith("records 40-42 of a batch cannot be read")
    assert "CRC" in why


@pytest.mark.parametrize("compression", [GZIP, 3])  # a gzip body cut short; lz4 that is not
def test_a_batch_whose_body_does_not_decompress_is_handed_out_as_one_record(
    compression: int,
) -> None:
    raw = bytearray(batch_bytes(GOOD, base_offset=7, compression=GZIP))
    raw = raw[: RECORDS + 10]
    raw[LENGTH] = (len(raw) - 12).to_bytes(4, "big")
    raw[ATTRIBUTES] = (int.from_bytes(raw[ATTRIBUTES], "big") & ~7 | compression).to_bytes(2, "big")
    raw[CRC] = calc_crc32c(bytes(raw[21:])).to_bytes(4, "big")
    with pytest.raises(Exception):  # noqa: B017, PT011 - whatever the codec raises
        read_all(MemoryRecords(bytes(raw)))
    offset, value, why = stand_in(TolerantMemoryRecords(bytes(raw)))
    assert (offset, value) == (9, bytes(raw))
    assert why.startswith("records 7-9 of a batch cannot be read")


def test_the_batch_after_an_unreadable_one_is_read() -> None:
    bad = bytearray(batch_bytes(BAD))
    bad[-1] ^= 0xFF
    found = read_all(TolerantMemoryRecords(bytes(bad) + batch_bytes(GOOD, base_offset=3)))
    assert [offset for offset, *_ in found] == [2, 3, 4, 5]
    assert found[0][5][0][0] == UNREADABLE_BATCH
