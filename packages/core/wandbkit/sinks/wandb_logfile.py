"""The ``.wandb`` file's framing: wandb's LevelDB-style record log, written and read.

Layout (as wandb 0.31 writes it): a 7-byte header ``:W&B``, magic 0xBEE1 (2 bytes,
little-endian) and version 0; then 32 KiB blocks of fragments, each a 7-byte header — CRC-32
(``zlib.crc32`` of the type byte and the data, little-endian), data length (2 bytes,
little-endian), type (1 full, 2 first, 3 middle, 4 last) — and its data. A block's last
< 7 bytes are zero padding. A record that does not fit in a block's rest is split.

Flush and fsync policy of :class:`LogWriter`: records are framed into an in-memory buffer;
:meth:`LogWriter.flush` hands the buffer to the OS in one ``write`` (the W&B writer sink calls
it after every batch, i.e. every ``flush_interval`` = 0.1 s by default), so a process killed
with SIGKILL loses only what was never written; a write cut short leaves a torn last record,
which wandb's reader skips (it reads up to the last complete record). :meth:`LogWriter.sync`
adds an ``fsync`` — at most every ``fsync_interval`` seconds and at close — bounding what a
machine crash or power loss can take.
"""

from __future__ import annotations

import os
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

BLOCK = 32 * 1024
HEADER = 7
FILE_HEADER = b":W&B" + struct.pack("<HB", 0xBEE1, 0)
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
_PACK = struct.Struct("<IHB").pack
_CRC_FULL = zlib.crc32(bytes((FULL,)))  # a record's CRC starts with its type byte


class LogWriter:
    """Appends records to a new ``.wandb`` file (or, ``existing=True``, to the end of one)."""

    def __init__(self, path: Path, fsync_interval: float = 10.0, existing: bool = False) -> None:
        self.path = path
        if existing:
            self.fd = os.open(path, os.O_WRONLY | os.O_APPEND)
            self.buffer = bytearray()
            self.offset = os.fstat(self.fd).st_size
        else:
            self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
            self.buffer = bytearray(FILE_HEADER)
            self.offset = len(FILE_HEADER)  # position in the file once the buffer is written
        self.fsync_interval = fsync_interval
        self.last_sync = time.monotonic()
        self.records = 0

    def append(self, data: bytes) -> None:
        """Frame one serialized record into the buffer."""
        buf = self.buffer
        left = BLOCK - self.offset % BLOCK
        if len(data) + HEADER <= left:  # the common case: a whole record in this block
            buf += _PACK(zlib.crc32(data, _CRC_FULL), len(data), FULL)  # crc of type + data
            buf += data
            self.offset += HEADER + len(data)
        else:
            self._append_split(data)
        self.records += 1

    def _append_split(self, data: bytes) -> None:
        buf = self.buffer
        first = True
        view = memoryview(data)
        while True:
            left = BLOCK - self.offset % BLOCK
            if left < HEADER:
                buf += b"\x00" * left
                self.offset += left
                continue
            size = min(len(view), left - HEADER)
            last = size == len(view)
            kind = (FULL if last else FIRST) if first else (LAST if last else MIDDLE)
            chunk = bytes(view[:size])
            buf += _PACK(zlib.crc32(bytes((kind,)) + chunk), size, kind)
            buf += chunk
            self.offset += HEADER + size
            view = view[size:]
            first = False
            if last:
                return

    def flush(self) -> None:
        """Hand everything framed so far to the OS (survives the process, not the machine)."""
        if self.buffer:
            data = memoryview(self.buffer)
            while data:
                written = os.write(self.fd, data)
                data = data[written:]
            self.buffer = bytearray()
        if time.monotonic() - self.last_sync >= self.fsync_interval:
            self.sync()

    def sync(self) -> None:
        """``fsync``: what was flushed is on disk."""
        os.fsync(self.fd)
        self.last_sync = time.monotonic()

    def close(self) -> None:
        """Flush, fsync and close."""
        if self.fd < 0:
            return
        self.flush()
        self.sync()
        os.close(self.fd)
        self.fd = -1


def read_records(path: Path) -> Iterator[bytes]:
    """Every complete record's bytes, in order; stops at the first torn or corrupt fragment.

    For checks and tools; wandb's own reader (``wandb leet inspect``, ``wandb sync``) is the
    reference.
    """
    for _end, record in scan(path):
        yield record


def scan(path: Path) -> Iterator[tuple[int, bytes]]:
    """(offset just after it, record) for every complete record, in order."""
    data = Path(path).read_bytes()
    if data[:len(FILE_HEADER)] != FILE_HEADER:
        raise ValueError(f"{path}: not a .wandb file (header {data[:7]!r})")
    pos, pending = len(FILE_HEADER), b""
    while pos + HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        if left < HEADER:
            pos += left
            continue
        crc, size, kind = struct.unpack_from("<IHB", data, pos)
        if kind == 0 and size == 0:
            pos += left  # zero padding to the end of the block
            continue
        chunk = data[pos + HEADER:pos + HEADER + size]
        if len(chunk) < size or zlib.crc32(bytes((kind,)) + chunk) != crc:
            return
        pos += HEADER + size
        if kind == FULL:
            yield pos, chunk
        elif kind == FIRST:
            pending = chunk
        elif kind == MIDDLE:
            pending += chunk
        elif kind == LAST:
            yield pos, pending + chunk
            pending = b""


def seal(path: Path, closing: Callable[[int], bytes], is_closed: Callable[[bytes], bool],
         number: Callable[[bytes], int]) -> bool:
    """End the file of a writer that died: cut a torn last record, then append
    ``closing(next_num)`` unless the last complete record already ends the run
    (``is_closed``). Returns True when a record was appended.

    Only for a file nobody writes any more: the caller makes sure its writer is gone.
    """
    end, last = len(FILE_HEADER), b""
    for item in scan(path):
        end, last = item
    if last and is_closed(last):
        return False
    if os.path.getsize(path) > end:
        os.truncate(path, end)
    log = LogWriter(path, existing=True)
    log.append(closing(number(last) + 1 if last else 1))
    log.close()
    return True
