"""Frame timestamps, carried from the decoder to the encoder so that outputs keep the source's timing
(variable frame rate included) instead of being re-timed to a mean frame rate."""
from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction


@dataclass
class Timeline:
    """Presentation timestamps of a clip's frames, in the order they are decoded and written.

    Frame ``i`` is shown at ``pts_of(i) * time_base`` seconds after the first frame; timestamps are
    integers (ticks of ``time_base``, seconds per tick), the first is 0 and they strictly increase. A
    frame without a timestamp, or whose timestamp does not increase (a damaged stream), is placed one
    ``step`` after the one before; frames beyond those added follow at one ``step`` each, so an empty
    timeline is a constant frame rate of ``1 / (step * time_base)``. The last frame lasts one ``step``, or
    ``last_duration`` where the source gives it (an animated image's last delay).

    Only the timestamps not yet released (:meth:`release`) are kept; the last one added is always remembered, for
    the next and for the frames beyond. :class:`~vidcolor.io.writer.VideoWriter` releases each frame's timestamp
    once it has written the frame, so a stream of any length holds only those of the frames between the decoder
    and the encoder (about 36 bytes each). Without a release every timestamp is kept (:attr:`pts`). A decoder
    thread may add while the encoder's thread reads and releases (a lock keeps the timestamps and their index
    together).

    Attributes:
        time_base: seconds per tick (the source video stream's time base, or ``1 / fps``).
        step: ticks of one mean frame interval (>= 1).
        last_duration: ticks the last frame is shown (>= 1), where the source says (an animated GIF/APNG/WebP's
            last delay: a clip that holds its last frame 2 s keeps it 2 s); None: one ``step``, as ffmpeg gives a
            video's last frame.
    """

    time_base: Fraction
    step: int = 1
    last_duration: int | None = None
    _kept: deque = field(default_factory=deque, init=False, repr=False)
    _first: int = field(default=0, init=False, repr=False)
    _added: int = field(default=0, init=False, repr=False)
    _last: int | None = field(default=None, init=False, repr=False)
    _origin: int | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    @classmethod
    def of(cls, fps: Fraction, time_base: Fraction | None = None) -> "Timeline":
        """An empty timeline in ``time_base`` (default ``1 / fps``), its step one mean frame interval.

        Args:
            fps: mean frame rate, frames per second (> 0).
            time_base: seconds per tick; None for ``1 / fps``.
        """
        tb = Fraction(time_base) if time_base else 1 / Fraction(fps)
        return cls(tb, max(1, round(1 / (Fraction(fps) * tb))))

    def add(self, pts: int | None) -> None:
        """Append the next frame's timestamp (ticks of ``time_base``, any origin; None when it has none)."""
        with self._lock:
            last = self._last
            if pts is not None and self._origin is None:
                self._origin = pts - (last + self.step if last is not None else 0)
            value = pts - self._origin if pts is not None else None
            if last is None:
                value = 0 if value is None else value
            elif value is None or value <= last:
                value = last + self.step
            self._kept.append(value)
            self._last = value
            self._added += 1

    def pts_of(self, i: int) -> int:
        """Frame ``i``'s timestamp, ticks of ``time_base`` (beyond those added: one ``step`` each after the last).

        Raises:
            IndexError: frame ``i``'s timestamp was released (``i < first``).
        """
        with self._lock:
            if i < self._first:
                raise IndexError(f"frame {i}'s timestamp was released (the timeline keeps frames {self._first} on)")
            if i < self._added:
                return self._kept[i - self._first]
            return (self._last if self._last is not None else -self.step) + self.step * (i - self._added + 1)

    def release(self, before: int) -> None:
        """Forget the timestamps of frames ``0 .. before - 1`` (those added), once nothing will ask for them."""
        with self._lock:
            while self._first < before and self._kept:
                self._kept.popleft()
                self._first += 1

    @property
    def first(self) -> int:
        """Index of the first frame whose timestamp is kept (0 until :meth:`release`)."""
        return self._first

    @property
    def added(self) -> int:
        """How many frames' timestamps were added."""
        return self._added

    @property
    def pts(self) -> list[int]:
        """The timestamps kept, ticks of ``time_base``, of frames :attr:`first` to :attr:`added` ``- 1``
        (without a :meth:`release`: every frame's, relative to the first one)."""
        with self._lock:
            return list(self._kept)


MAX_TIMESCALE = 1_000_000
"""The finest time base :class:`RateGrid` takes (ticks a second)."""

COARSE_TIMESCALE = 1000
"""The finest time base (ticks a second) whose timestamps :class:`RateGrid` puts on a rate's grid: milliseconds
(Matroska, WebM, FLV) and coarser (QuickTime's 600). In a finer one (MPEG-TS's 1/90000, an mp4's 1/90000 at 59.94
fps) a frame's rounding is a few microseconds, which ffmpeg keeps too, and the grid would only change the output's
time base (1/360000)."""


@dataclass(frozen=True)
class RateGrid:
    """Timestamps of a time base too coarse for a stream's frame rate, put back on that rate's exact grid.

    Matroska (and FLV, WebM) store times in milliseconds: a 29.97 fps (30000/1001) stream's frames are 33 or 34 ms
    apart there, and kept as such the output (an mp4's track in 1/1000) holds a jittering, variable frame rate
    (mean 20000/667) where ffmpeg's encode of the same file gives 1001 ticks of 1/30000 each. :meth:`of` gives a
    grid where one frame of ``rate`` is no whole number of ``time_base`` ticks; its :attr:`time_base` holds both
    (1/30000 for 30000/1001 in ms), and :meth:`ticks` gives a timestamp in it: on the rate's grid (counted from the
    first frame) where it is within one source tick, or 1 ms, of it (each of the two timestamps was rounded by half
    a tick, or by Matroska, to 1 ms, before), else the source's own time, exactly (a variable frame rate keeps its
    times).

    Attributes:
        time_base: seconds per tick of the output timestamps (1 / the least common multiple of the two rates).
        scale: ticks of :attr:`time_base` in one tick of the source's time base.
        interval: ticks of :attr:`time_base` in one frame of the rate.
    """

    time_base: Fraction
    scale: int
    interval: int

    @classmethod
    def of(cls, rate: Fraction | None, time_base: Fraction | None, carried: bool = False) -> "RateGrid | None":
        """The grid of frame rate ``rate`` (frames per second; the stream's guessed rate, ffmpeg's r_frame_rate) for
        timestamps in ``time_base`` (seconds per tick), or None where none is needed or taken: no rate or time base,
        a time base that is not 1/N or finer than :data:`COARSE_TIMESCALE` (unless ``carried``: a stream whose
        times may have been rounded in another container, NUT's from ffmpeg's ``-enc_time_base demux -f nut`` of an
        .mkv, its milliseconds in 1/64000), a frame that is a whole number of ticks, or a grid finer than
        :data:`MAX_TIMESCALE` ticks a second."""
        if not rate or not time_base or rate <= 0 or Fraction(time_base).numerator != 1:
            return None
        rate, per_second = Fraction(rate), Fraction(time_base).denominator
        if per_second > COARSE_TIMESCALE and not carried or (per_second / rate).denominator == 1:
            return None
        fine = math.lcm(per_second, rate.numerator)
        if fine > MAX_TIMESCALE:
            return None
        return cls(Fraction(1, fine), fine // per_second, int(fine / rate))

    @property
    def tolerance(self) -> int:
        """How far (ticks of :attr:`time_base`) a timestamp may be from the grid and be put on it: one source tick,
        or 1 ms where that is more (Matroska's milliseconds carried on in a finer time base: ffmpeg's
        ``-enc_time_base demux -f nut`` of an .mkv gives them in 1/64000)."""
        return max(self.scale, self.time_base.denominator // 1000)

    def ticks(self, pts: int | None, origin: int) -> int | None:
        """``pts`` (ticks of the source's time base) in ticks of :attr:`time_base`: on the grid counted from
        ``origin`` (the first frame's pts) where it is within :attr:`tolerance` of it, else exactly; None stays
        None."""
        if pts is None:
            return None
        since = (pts - origin) * self.scale
        k = round(Fraction(since, self.interval))
        if abs(k * self.interval - since) <= self.tolerance:
            return origin * self.scale + k * self.interval
        return pts * self.scale
