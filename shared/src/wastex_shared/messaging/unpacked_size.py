"""Whether a compressed record batch unpacks within a limit, found without unpacking more.

aiokafka unpacks a batch's body whole before it reads a record. The broker limits a batch's
compressed size only, and a few kilobytes of zstd unpack to hundreds of megabytes (200 MiB of
zeros is 6 KiB): one message could take a service's memory. `record_batch` asks this first
and parks a batch that does not fit (`UNREADABLE_BATCH`)."""

from __future__ import annotations

import mmap
import zlib

import cramjam
from aiokafka.errors import CorruptRecordException

#: Bytes a batch's records may unpack to: far above a real producer's batch (at most the
#: broker's `max.message.bytes`, 1 MiB by default, compressed; JSON compresses 5-10 times).
UNPACKED_LIMIT = 64 * 2**20

GZIP, SNAPPY, LZ4, ZSTD = 1, 2, 3, 4
#: How the Java client frames snappy (aiokafka reads both this and a bare snappy block).
_XERIAL_MAGIC = b"\x82SNAPPY\x00"
_XERIAL_HEADER = 16
_GZIP_OR_ZLIB = 47
_STEP = 2**20


def check_unpacked_size(compression: int, body: bytes, limit: int = UNPACKED_LIMIT) -> None:
    """Raise CorruptRecordException unless `body`, compressed by the batch's `compression`
    codec, unpacks to at most `limit` bytes (or cannot be unpacked at all)."""
    if compression == GZIP:
        size = _gzip_size(body, limit)
    elif compression == SNAPPY:
        size = _snappy_size(body)
    elif compression in (LZ4, ZSTD):
        size = _size_into(cramjam.lz4 if compression == LZ4 else cramjam.zstd, body, limit)
    else:
        return  # none, or a codec aiokafka refuses itself
    if size > limit:
        raise CorruptRecordException(f"its records unpack to more than {limit} bytes")


def _gzip_size(body: bytes, limit: int) -> int:
    """Unpacked a step at a time, each step dropped: one gzip member after another."""
    size, rest = 0, body
    while rest and size <= limit:
        unpacker = zlib.decompressobj(_GZIP_OR_ZLIB)
        pending = rest
        while pending and size <= limit and not unpacker.eof:
            size += len(unpacker.decompress(pending, _STEP))
            pending = unpacker.unconsumed_tail
        if not unpacker.eof:
            break
        rest = unpacker.unused_data
    return size


def _snappy_size(body: bytes) -> int:
    """Snappy blocks state their unpacked length first: nothing is unpacked."""
    if not body.startswith(_XERIAL_MAGIC):
        return int(cramjam.snappy.decompress_raw_len(body))
    size, at = 0, _XERIAL_HEADER
    while at < len(body):
        block = int.from_bytes(body[at : at + 4], "big")
        size += int(cramjam.snappy.decompress_raw_len(body[at + 4 : at + 4 + block]))
        at += 4 + block
    return size


def _size_into(codec: object, body: bytes, limit: int) -> int:
    """Unpacked into `limit + 1` bytes of untouched anonymous memory: the kernel backs only
    the pages written, and gives them back when it is closed. Too small a space, or a body
    that does not unpack, are both a batch nobody can read."""
    with mmap.mmap(-1, limit + 1) as space:
        try:
            return int(codec.decompress_into(body, space))  # type: ignore[attr-defined]
        except cramjam.DecompressionError as err:
            raise CorruptRecordException(
                f"its records unpack to more than {limit} bytes, or not at all ({err})"
            ) from err
