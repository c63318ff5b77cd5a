"""Quantizer estimation and consistent reconstruction: a dequantized frame never leaves the observation's cell.

Quantization is many-to-one: an observed colour ``q`` says that the true colour lies in ``q``'s
quantization cell. A reconstruction outside that cell contradicts the observation. Consistent
reconstruction projects the estimate back onto the set of images that quantize to the observation:
projection onto convex sets (POCS), the classic use being JPEG deblocking, where the set is the DCT
coefficients' quantization intervals (Zakhor, "Iterative procedures for reduction of blocking
effects in transform image coding", IEEE TCSVT 2(1), 1992; Yang, Galatsanos & Katsaggelos,
"Projection-based spatially adaptive reconstruction of block-transform compressed images", IEEE TIP
4(7), 1995). For one convex set that contains the truth the projection never moves the estimate
farther from the truth. Here the sets are per pixel and in RGB (../shared/METHODS.md section 5):

* **uniform levels** per channel (bit depth and where the levels sit: bin ``floor`` as in bit
  truncation, bin ``mid``, or ``spread`` over 0..255): the cell is a box, one bin per channel;
* a **palette** of K colours: the cell is the palette colour's Voronoi cell (in RGB);
* **none** found (a rich, unquantized frame): the honest correction is none, so the cell is the
  observed value itself, widened only by ``none_margin`` (default 0: such frames pass unchanged).

Yang et al. pair the quantization constraint with a smoothness one. Here the smoothness step is an
edge-preserving filter: :meth:`Quantizer.band_correction` gives a bilateral filter's correction of the
observed frame (:data:`BAND_FILTER_DIAMETER`), which the pipeline adds to the generator's before the
projection. It smooths the steps between bands and keeps real edges. For uniform levels (and black-and-white
palettes of at most 16 grays, read as one channel's levels) the pipeline then
pulls the estimate towards :meth:`Quantizer.contour_estimate`, each pixel's place in its bin interpolated
between the contours with the bands one level down and one level up (contour region reconstruction), which
reaches across bands wider than the filter. All of it starts from each bin's centre rather than its level
(:meth:`Quantizer.centre_offset`: under bit truncation the level is the bin's bottom, half a bin too dark), and
:meth:`Quantizer.reconstruct` is the whole sequence.

Graphics (game footage, pixel art, flat-colour art: most pixels in constant patches, see
:data:`GRAPHICS_FLAT`, or enlarged by nearest neighbour, see :func:`enlarged_by`) are told apart from
quantized natural footage: their few colours are usually the truth itself (a hardware or artist's
palette), not a reduction of richer colour, and nothing in a frame says where in the cell the truth
lies; a level set can even line up with a bit depth by chance. Such frames are treated like frames with no quantizer: left as they are (``none_margin``).
On the validation rows a cell shrunk to the codec noise about the palette colour (a pull towards it
allowed) still cost up to 2 dB on clean Atari frames, a false 3-bit floor level set on flat art 10 dB.

The quantizer is unknown and estimated from the decoded frames themselves (:func:`estimate`), through
the codec's noise: uniform levels from the circular moments of each channel's level histogram at the
candidate periods (the same statistic as the generator's level cue), a palette by mode seeking on the
colour histogram. Each estimate has a confidence, and the cells are widened by the codec noise
measured on the frames (a robust spread of the pixels about their nearest level or palette colour).
Where the observed pixel itself lies outside its widened cell (codec smear at an edge), the allowed set
is stretched to contain it, so that leaving a pixel as it is is always allowed.
"""
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
