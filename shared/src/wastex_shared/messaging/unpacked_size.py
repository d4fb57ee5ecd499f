"""Whether a compressed record batch unpacks within a limit, found without unpacking more.

aiokafka unpacks a batch's body whole before it reads a record. The broker limits a batch's
compressed size only, and a few kilobytes of zstd unpack to hundreds of megabytes (200 MiB of
zeros is 6 KiB): one message could take a service's memory. `record_batch` asks this first
and parks a batch that does not fit (`UNREADABLE_BATCH`)."""

from __future__ import annotations

import mmap
import zlib
from typing import Protocol

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
_GZIP_MEMBERS = 64
_STEP = 64 * 1024


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
    """Unpacked a step at a time, each step dropped, member after member as `GzipFile` reads
    them (trailing zeros are padding). Producers write one member; a body of thousands would
    cost a copy of the rest per member, so more than `_GZIP_MEMBERS` is refused."""
    view = memoryview(body)
    size = at = members = 0
    while at < len(view) and size <= limit:
        if not bytes(view[at:]).strip(b"\x00"):
            break
        members += 1
        if members > _GZIP_MEMBERS:
            raise CorruptRecordException(f"its body has more than {_GZIP_MEMBERS} gzip members")
        unpacker = zlib.decompressobj(_GZIP_OR_ZLIB)
        while at < len(view) and size <= limit and not unpacker.eof:
            chunk = view[at : at + _STEP]
            size += len(unpacker.decompress(chunk, _STEP))
            while unpacker.unconsumed_tail and size <= limit and not unpacker.eof:
                size += len(unpacker.decompress(unpacker.unconsumed_tail, _STEP))
            at += len(chunk) - len(unpacker.unused_data) - len(unpacker.unconsumed_tail)
        if not unpacker.eof:
            break  # cut short (aiokafka fails it too) or over the limit
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


class _UnpacksInto(Protocol):
    """cramjam's lz4 and zstd modules (the package ships no types)."""

    def decompress_into(self, data: bytes, output: mmap.mmap) -> int: ...


def _size_into(codec: _UnpacksInto, body: bytes, limit: int) -> int:
    """Unpacked into `limit + 1` bytes of anonymous memory, mapped once per process and
    given back to the kernel after each use (only the pages written were ever backed). Too
    small a space, or a body that does not unpack, are both a batch nobody can read."""
    space = _space(limit + 1)
    try:
        return int(codec.decompress_into(body, space))
    except cramjam.DecompressionError as err:
        raise CorruptRecordException(
            f"its records unpack to more than {limit} bytes, or not at all ({err})"
        ) from err
    finally:
        space.madvise(mmap.MADV_DONTNEED)


_spaces: dict[int, mmap.mmap] = {}


def _space(size: int) -> mmap.mmap:
    if size not in _spaces:
        try:
            _spaces[size] = mmap.mmap(-1, size)
        except OSError as err:
            # Not the batch's fault: failing the fetch (retried) must not park it.
            raise MemoryError(f"cannot map {size} bytes to unpack a batch into") from err
    return _spaces[size]
