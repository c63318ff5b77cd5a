"""Reading a byte stream that cannot seek (stdin, a pipe): what arrives is given at once, a stopped run does not
leave a thread blocked in the read, a signal during PyAV's read callback is not taken for damage, and the first
bytes can be read again once, for FFmpeg's probe (:class:`Rewindable`)."""
from __future__ import annotations

import os
import select
import stat
from typing import BinaryIO

from vidcolor.executor import POLL_S, Stopped, stop_event


def can_wait(stream) -> bool:
    """Whether a read of ``stream`` can wait for its writer: a pipe, socket or terminal (not a regular file, nor a
    file object without a descriptor)."""
    try:
        mode = os.fstat(stream.fileno()).st_mode
    except (AttributeError, OSError, ValueError):      # io.UnsupportedOperation is both OSError and ValueError
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISBLK(mode))


def read_some(stream, n: int, waits: bool) -> bytes:
    """Up to ``n`` bytes of ``stream`` (``b""`` at its end). Where ``waits`` (:func:`can_wait`), what has come is
    given at once (``read1``: a buffered ``read(n)`` waits for all ``n``, and ``read1`` keeps nothing back in the
    buffer), and in a run's source thread the wait polls the run's stop flag (:func:`~vidcolor.executor.stop_event`):
    :class:`~vidcolor.executor.Stopped` once it is set, so that a stopped run does not leave the thread blocked in
    the read. Elsewhere a signal interrupts the read (its handler runs in the main thread)."""
    if not waits:
        return stream.read(n)
    stop = stop_event()
    if stop is not None and os.name == "posix":
        poll = select.poll()
        poll.register(stream.fileno(), select.POLLIN)
        while True:
            if stop.is_set():
                raise Stopped("the run was stopped")
            if poll.poll(POLL_S * 1000):                # data, the end, or an error: the read will not wait
                break
    read1 = getattr(stream, "read1", None)
    return read1(n) if read1 is not None else stream.read(n)


class Rewindable:
    """A byte stream that cannot seek (a pipe) read so that it can be read again from its start once: what is read
    is kept until :meth:`rewind` (then given again) or :meth:`release`.

    PyAV reads it from its I/O callback, which drops a ``KeyboardInterrupt`` (or the CLI's ``Terminated``) raised
    by a signal's handler during the read ("Exception ignored in pyio_read_gil"): FFmpeg took the failed read for
    damage (a false "frame 9 cannot be decoded", exit 1; with ``--ignore-errors`` the signal was lost, exit 0). Such
    an exception (and :class:`~vidcolor.executor.Stopped`) is kept in :attr:`stopped`, the stream ends there for
    PyAV, and :meth:`check` raises it once PyAV has returned (:func:`vidcolor.io.reader.open_input`,
    :meth:`vidcolor.io.reader.VideoReader._decode`)."""

    def __init__(self, raw: BinaryIO):
        self.raw, self.kept, self.at, self.keeping = raw, bytearray(), None, True
        self.count = 0                  # bytes read from ``raw``: what a pipe held, which it cannot say (y4m_cut)
        self.waits = can_wait(raw)
        self.stopped: BaseException | None = None

    @classmethod
    def of(cls, source: BinaryIO):
        """``source`` itself where it can seek (PyAV then seeks in it: an MP4 whose index is at its end) or is one
        of these already, else one of these around it."""
        if isinstance(source, cls):
            return source
        try:
            if source.seekable():
                return source
        except (AttributeError, OSError, ValueError):
            pass
        return cls(source)

    def read(self, n: int = -1) -> bytes:
        if self.stopped is not None:
            return b""
        if self.at is not None:                         # giving again what was kept
            end = len(self.kept) if n < 0 else min(len(self.kept), self.at + n)
            data = bytes(self.kept[self.at:end])
            self.at = end if end < len(self.kept) else None
            if self.at is None and not self.keeping:
                self.kept = bytearray()
            if data:
                return data
        try:
            data = read_some(self.raw, n, self.waits)
        except BaseException as exc:  # noqa: BLE001 -- a signal's exception: raised again by check()
            if isinstance(exc, Exception) and not isinstance(exc, Stopped):
                raise
            self.stopped = exc
            return b""
        self.count += len(data)
        if self.keeping:
            self.kept += data
        return data

    def peek_line(self, limit: int = 256) -> bytes:
        """The stream's first line (up to ``limit`` bytes), read without being taken: the next reads give it again.
        Only while the stream is still kept (before :meth:`rewind` or :meth:`release`)."""
        while self.keeping and b"\n" not in self.kept and len(self.kept) < limit:
            data = read_some(self.raw, limit - len(self.kept), self.waits)
            if not data:
                break
            self.count += len(data)
            self.kept += data
        self.at = 0 if self.kept else None
        return bytes(self.kept[:limit])

    def check(self) -> None:
        """Raise the exception that stopped a read (:attr:`stopped`), if one did."""
        if self.stopped is not None:
            raise self.stopped

    def rewind(self) -> "Rewindable":
        self.keeping, self.at = False, 0 if self.kept else None
        return self

    def release(self) -> None:
        """Stop keeping what is read (what is kept and not given again yet is still given)."""
        self.keeping = False
        if self.at is None:
            self.kept = bytearray()
