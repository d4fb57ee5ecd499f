"""Record batches as a raw producer may write them (librdkafka takes header names as bytes;
any Kafka codec), for tests of what the consumers make of them."""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka import codec
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.util import calc_crc32c

#: A header name written as text, then swapped for bytes that are not UTF-8.
NAME_TO_BREAK, UNDECODABLE_NAME = "\x01\x02", b"\xff\xfe"
GZIP, SNAPPY, LZ4, ZSTD = 1, 2, 3, 4
ENCODE = {
    GZIP: codec.gzip_encode,
    SNAPPY: codec.snappy_encode,
    LZ4: codec.lz4_encode,
    ZSTD: codec.zstd_encode,
}
#: Where a v2 batch's length, CRC, attributes and records are.
LENGTH, CRC, ATTRIBUTES, RECORDS = slice(8, 12), slice(17, 21), slice(21, 23), 61

Records = Sequence[tuple[bytes | None, Sequence[tuple[str, bytes | None]]]]


def record_batch(records: Records, base_offset: int = 0, compression: int = 0) -> bytes:
    """A v2 batch of `records` (value, headers), each keyed `k`; a header named
    `NAME_TO_BREAK` goes as `UNDECODABLE_NAME`; `compression` is a codec's id above."""
    builder = DefaultRecordBatchBuilder(2, 0, 0, -1, -1, -1, 2**20)
    for i, (value, headers) in enumerate(records):
        builder.append(i, timestamp=1000 + i, key=b"k", value=value, headers=list(headers))
    raw = bytearray(builder.build()).replace(NAME_TO_BREAK.encode(), UNDECODABLE_NAME)
    raw[0:8] = base_offset.to_bytes(8, "big")
    if compression:
        raw = raw[:RECORDS] + ENCODE[compression](bytes(raw[RECORDS:]))
        raw[LENGTH] = (len(raw) - 12).to_bytes(4, "big")
        attributes = int.from_bytes(raw[ATTRIBUTES], "big") | compression
        raw[ATTRIBUTES] = attributes.to_bytes(2, "big")
    raw[CRC] = crc_of(raw)
    return bytes(raw)


def crc_of(raw: bytes | bytearray) -> bytes:
    """A v2 batch's CRC field: CRC-32C of everything after it."""
    return int(calc_crc32c(bytes(raw[21:]))).to_bytes(4, "big")
