"""The outbox's file: reports waiting for rescp survive the application's own crash or restart.

An append-only log, so that keeping a report costs one small write and never rewrites what is
there: a magic header, then frames `kind (1 byte) | length (4, big-endian) | crc32 (4) |
payload`. A `PUT` frame holds one serialized ReportRequest; a `TAKE` frame says how many
reports left the head of the queue (delivered, or dropped). Loading replays the frames; a torn
or corrupt tail (the process died mid-write) ends the replay there and is cut off, so at most
the report being written at the crash is lost. The log is emptied when the queue empties and
rewritten (to a temporary file, fsynced, renamed over it) when dead frames outgrow live ones.

Writes go to the operating system at once (a crash of the process loses nothing written) and
are fsynced on close and on each rewrite, not per report, so a burst of errors during an outage
never waits on the disk. A lock file (`<path>.lock`, flock) keeps a second process off the same
spool: two writers would interleave frames.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from rescp_client.errors import RescpError

log = logging.getLogger("rescp_client")

MAGIC = b"RESCPOB1"
PUT, TAKE = b"P", b"T"
_FRAME = struct.Struct(">cII")  # kind, length, crc32 of the payload
_COUNT = struct.Struct(">I")
COMPACT_BYTES = 1 << 20
"""Dead frames beyond this many bytes (and beyond the live ones) trigger a rewrite."""


class SpoolBusy(RescpError):
    """Another process holds this spool."""


class Spool:
    """One outbox's file, opened (and locked) for the life of a client."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = open(str(self.path) + ".lock", "a+b")  # noqa: SIM115 (held until close)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise SpoolBusy(f"outbox {self.path} is in use by another process") from None
        self._file: BinaryIO = open(self.path, "a+b")  # noqa: SIM115
        self._dead = 0  # bytes of frames that no longer hold a waiting report

    def load(self) -> list[bytes]:
        """The reports the file holds, oldest first; a bad tail is cut off."""
        self._file.seek(0)
        data = self._file.read()
        if not data.startswith(MAGIC):
            if data:
                log.error("rescp: %s is not an outbox spool; starting it afresh", self.path)
            self._reset()
            return []
        waiting, end = _replay(data)
        if end < len(data):
            log.warning("rescp: outbox %s had a torn tail (%d bytes); cut off",
                        self.path, len(data) - end)
            self._file.truncate(end)
        self._dead = end - len(MAGIC) - sum(_FRAME.size + len(r) for r in waiting)
        return waiting

    def put(self, payload: bytes) -> None:
        self._append(PUT, payload)

    def take(self, taken: Sequence[bytes], live: Sequence[bytes], live_bytes: int) -> None:
        """`taken` left the head of the queue (delivered or dropped); `live` (`live_bytes` in
        all) still wait."""
        if not live:
            self._reset()
            return
        self._append(TAKE, _COUNT.pack(len(taken)))
        self._dead += sum(_FRAME.size + len(t) for t in taken) + _FRAME.size + _COUNT.size
        if self._dead > max(COMPACT_BYTES, live_bytes):
            self._rewrite(live)

    def close(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._lock.close()

    def abandon(self) -> None:
        """Let go of a spool that failed, without another write."""
        for handle in (self._file, self._lock):
            with contextlib.suppress(OSError):
                handle.close()

    def _append(self, kind: bytes, payload: bytes) -> None:
        self._file.write(_FRAME.pack(kind, len(payload), zlib.crc32(payload)) + payload)
        self._file.flush()

    def _reset(self) -> None:
        self._file.truncate(0)
        self._file.write(MAGIC)
        self._file.flush()
        self._dead = 0

    def _rewrite(self, live: Sequence[bytes]) -> None:
        """The live reports alone, in a new file renamed over the old one."""
        temporary = self.path.with_name(self.path.name + ".tmp")
        with open(temporary, "wb") as out:
            out.write(MAGIC)
            for payload in live:
                out.write(_FRAME.pack(PUT, len(payload), zlib.crc32(payload)) + payload)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.path)
        self._file.close()
        self._file = open(self.path, "a+b")  # noqa: SIM115
        self._dead = 0


def _replay(data: bytes) -> tuple[list[bytes], int]:
    """The waiting reports, and where the last whole, intact frame ends."""
    waiting: list[bytes] = []
    at = len(MAGIC)
    while at + _FRAME.size <= len(data):
        kind, length, crc = _FRAME.unpack_from(data, at)
        payload = data[at + _FRAME.size:at + _FRAME.size + length]
        if len(payload) < length or zlib.crc32(payload) != crc or kind not in (PUT, TAKE):
            break
        if kind == PUT:
            waiting.append(payload)
        elif len(payload) == _COUNT.size:
            del waiting[:_COUNT.unpack(payload)[0]]
        at += _FRAME.size + length
    return waiting, at
