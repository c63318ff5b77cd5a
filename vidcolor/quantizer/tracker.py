"""A clip's quantizer (:class:`QuantizerTracker`), estimated at fixed frames of each scene, so that what a frame is
projected onto does not depend on how the clip is cut into batches."""
from __future__ import annotations

import numpy as np

from vidcolor.arrays import check_rgb
from vidcolor.quantizer.estimation import estimate
from vidcolor.quantizer.palette import PALETTE_RADIUS
from vidcolor.quantizer.reconstruction import Quantizer

WARMUP_STEP = 4
"""Frames between the estimates of a scene's warmup while nothing is found (:class:`QuantizerTracker`): an estimate
costs 50-100 ms of CPU on a 640x360 frame, so a scene of ordinary footage takes 4 in its first 16 frames, as the
default batch of 4 did when estimates were taken per batch."""


PALETTE_LEFT = 0.25
"""Share of a frame's pixels that, leaving the clip's palette (:data:`PALETTE_RADIUS`) beyond those off it on the frame
the palette was estimated on, make :class:`QuantizerTracker` estimate again at once: a palette that changes without a
cut (a game's, a GIF's) was followed only at the next estimate, up to 64 frames later. Both coverages are of all pixels
(every 4th each way, :func:`_palette_cover`), not the estimate's flat ones: after H.264 a 16-colour clip's flat pixels
are 0.92-0.94 within the radius and all its pixels 0.51-0.62, so a comparison with the estimate's confidence fired on
the estimate's own frame (36 and 40 estimates in 40 frames of davis_cows and blackswan at crf 18)."""


def _palette_cover(found: Quantizer, frame: np.ndarray) -> float:
    """Share of ``frame``'s pixels (uint8 ``(H, W, 3)``, every 4th each way) within :data:`PALETTE_RADIUS` of the
    palette colour nearest them (``found`` of kind ``palette``)."""
    px = np.ascontiguousarray(frame[::4, ::4]).reshape(-1, 3)
    near = found.palette[found._palette_index(px)]
    return float(np.mean(((px.astype(np.float32) - near) ** 2).sum(-1) <= PALETTE_RADIUS ** 2))


class QuantizerTracker:
    """The quantizer of the clip being processed, estimated at fixed frames of each scene, so that what a frame is
    projected onto does not depend on how the clip is cut into batches.

    A scene (the clip's start, or a known cut: :meth:`new_scene`) is estimated on its first frame and then every
    ``step`` frames while nothing is found, for ``warmup`` frames (a clip may open on a black or title frame);
    once settled, again every ``every`` frames, so that a change of palette is followed without an estimate per
    frame, and at once where a settled palette no longer covers a frame (:data:`PALETTE_LEFT`: a quarter more of its
    pixels off the palette than on the estimate's frame, on every 4th pixel each way; about 1 ms a 320x420 frame). Each
    estimate is of one frame, and holds from that frame until the next. (Estimates were of a batch's first and last
    frames, so the output changed with ``--batch-size``: a 16-colour validation clip read a palette's gray as 4-bit
    floor levels in 17 of the 21 frame pairs a batch of 4 offers, and 13 of the 24 single frames.)
    With ``stills`` every call is an unrelated image and gets its own estimate.

    Args:
        every: frames between estimates once settled.
        warmup: frames of a scene during which it is estimated every ``step`` frames while nothing is found.
        step: see ``warmup`` (:data:`WARMUP_STEP`).
        none_margin: passed to :func:`estimate`.
        stills: estimate every call on its own.

    ``__call__(frames uint8 (N, H, W, 3)) -> Quantizer``: a still's (any N), or one frame's of a clip (N = 1;
    :meth:`runs` takes a batch of a clip). A re-estimate that finds the same quantizer (kind, bit depths and levels,
    palette size, graphics; a new confidence or margin alone is not a change) carries its floor offset's weight
    (:meth:`Quantizer.carry_weight`).

    Raises:
        ValueError: ``__call__`` given anything but uint8 RGB ``(N, H, W, 3)`` (:func:`~vidcolor.arrays.check_rgb`), or more than one
            frame of a clip.
    """

    def __init__(self, every: int = 64, warmup: int = 16, step: int = WARMUP_STEP, none_margin: float = 0.0,
                 stills: bool = False):
        self.every, self.warmup, self.step, self.none_margin, self.stills = every, warmup, step, none_margin, stills
        self.current: Quantizer | None = None
        self.frames = 0
        self._since = 0
        self._scene = 0                     # the frame its scene starts at
        self._cover = 0.0                   # a palette's coverage of the frame it was estimated on (_palette_cover)

    def new_scene(self) -> None:
        """The next frame starts a new scene (a cut): it is estimated, and every ``step`` frames after it while
        nothing is found, for ``warmup`` frames."""
        self._since, self._scene = self.every, self.frames

    def _left_palette(self, frame: np.ndarray) -> bool:
        """Whether the clip's palette no longer holds ``frame`` (uint8 ``(H, W, 3)``): the palette covers under
        ``PALETTE_LEFT`` less of it than of the frame it was estimated on (:func:`_palette_cover`). False for any
        other quantizer."""
        q = self.current
        if q is None or q.kind != "palette" or not len(q.palette):
            return False
        return _palette_cover(q, frame) < self._cover - PALETTE_LEFT

    def runs(self, frames: np.ndarray, cuts=None) -> list[tuple[int, int, Quantizer]]:
        """The quantizers of a batch of a clip's consecutive frames uint8 ``(N, H, W, 3)``, frame by frame:
        ``[(start, stop, Quantizer)]``, runs of frames (indices into ``frames``) that share one, in order.
        ``cuts``: N bools, True where a frame opens a new scene (:meth:`new_scene`); None: no cut."""
        out: list[tuple[int, int, Quantizer]] = []
        for i in range(len(frames)):
            if cuts is not None and cuts[i]:
                self.new_scene()
            found = self(frames[i:i + 1])
            if out and out[-1][2] is found:
                out[-1] = (out[-1][0], i + 1, found)
            else:
                out.append((i, i + 1, found))
        return out

    def __call__(self, frames: np.ndarray) -> Quantizer:
        check_rgb(frames, (4,))          # an (H, W, 3) frame was counted as H frames
        if not self.stills and len(frames) != 1:
            raise ValueError(f"a clip's quantizer is tracked one frame at a time (runs() takes a batch), "
                             f"got {len(frames)}")
        scene = self.frames - self._scene
        due = (self.current is None or self.stills or self._since >= self.every
               or (self.current.kind == "none" and scene < self.warmup and scene % self.step == 0)
               or self._left_palette(frames[0]))
        if due:
            found = estimate(frames, self.none_margin)
            same = self.current is not None and found.describe(measured=False) == self.current.describe(measured=False)
            # the floor offset's weight stays (no jump); a quantizer that passes frames unchanged never reconstructs,
            # so it takes none: each re-estimate of such a clip linked to the one before, and none was ever freed
            if same and not self.stills and not found.passes_unchanged:
                found.carry_weight(self.current)
            self.current, self._since = found, 0
            if found.kind == "palette" and len(found.palette) and not self.stills:
                self._cover = _palette_cover(found, frames[0])
        self.frames += len(frames)
        self._since += len(frames)
        return self.current
