"""Frame timestamps, carried from the decoder to the encoder so that outputs keep the source's timing
(variable frame rate included) instead of being re-timed to a mean frame rate."""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction


@dataclass
class Timeline:
    """Presentation timestamps of a clip's frames, in the order they are decoded and written.

    Frame ``i`` is shown at ``pts_of(i) * time_base`` seconds after the first frame; timestamps are
    integers (ticks of ``time_base``, seconds per tick), the first is 0 and they strictly increase. A
    frame without a timestamp, or whose timestamp does not increase (a damaged stream), is placed one
    ``step`` after the one before; frames beyond those added follow at one ``step`` each, so an empty
    timeline is a constant frame rate of ``1 / (step * time_base)``.

    Attributes:
        time_base: seconds per tick (the source video stream's time base, or ``1 / fps``).
        step: ticks of one mean frame interval (>= 1).
        pts: the timestamps added so far, relative to the first one.
    """

    time_base: Fraction
    step: int = 1
    pts: list[int] = field(default_factory=list)
    _origin: int | None = field(default=None, init=False, repr=False)

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
        last = self.pts[-1] if self.pts else None
        if pts is not None and self._origin is None:
            self._origin = pts - (last + self.step if last is not None else 0)
        value = pts - self._origin if pts is not None else None
        if last is None:
            value = 0 if value is None else value
        elif value is None or value <= last:
            value = last + self.step
        self.pts.append(value)

    def pts_of(self, i: int) -> int:
        """Frame ``i``'s timestamp, ticks of ``time_base`` (beyond those added: one ``step`` each)."""
        if i < len(self.pts):
            return self.pts[i]
        return (self.pts[-1] if self.pts else -self.step) + self.step * (i - len(self.pts) + 1)
