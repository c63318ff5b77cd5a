"""An estimated quantizer (:class:`Quantizer`) and consistent reconstruction: a dequantized frame never leaves the
observation's cell.

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
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import cv2
import numpy as np

from vidcolor.quantizer.contours import (CONTOUR_CHROMA_WEIGHT, CONTOUR_PAIRS, CONTOUR_PALETTE_WEIGHT, CONTOUR_WEIGHT,
                                         WIDTH_WEIGHTS, contour_pair, contour_reliability)
from vidcolor.quantizer.levels import level_distance, level_index, level_offset
from vidcolor.quantizer.palette import gray_ranks, nearest_colour
from vidcolor.quantizer.stats import LUMA_WEIGHTS, neutral, neutral_colours

PALETTE_SMALL = 16
"""Colour palettes of at most this many colours have their own generator strength (``palette small``,
:attr:`Quantizer.strength_key`). Chosen on the validation rows (benchmarks/dequantize_validation.py, crf 14,
the 292 images found as palettes; stop 43, from the generator outputs stored at stop 42) by the strength rule
(the largest mean gain with no image below -0.1 dB): the 108 colour palettes of at most 16 colours take 0.25
(+0.369 dB mean, worst image -0.02; 0.1 gives +0.208, 0.5 loses 1.44 on one image), every other palette 0.1
(+0.256, worst -0.07); over all 292 images +0.298 against +0.239 with 0.1 for every palette. Since stop 45 the
rule's grid has 0.3, 0.35 and 0.4 too, and the small palettes take 0.35 (+0.459, worst -0.07; 0.4 loses 0.51 on
a Bayer-dithered pixel-art image): train/dequantize-fq-l2/validation.md. Larger palettes
(an ffmpeg 64-colour photo read as 20 colours loses 0.14 dB at 0.25) and black-and-white ones (a gray photo at 16
colours loses 0.36) do not take more; the estimate reads a 64-colour palette as 13-20 colours at times."""

TABLE_STEP = 4
"""Side (levels, a power of two) of the RGB boxes of the palette projection's nearest-colour table (64^3 boxes)."""

PALETTE_NEIGHBOURS = 8
"""Voronoi faces checked per cell: those towards the 8 palette colours nearest to the cell's colour."""

BAND_FILTER_DIAMETER = 9
BAND_FILTER_SIGMA_COLOR = 10.0
BAND_FILTER_SIGMA_SPACE = 5.0
"""The bilateral filter (Tomasi & Manduchi, "Bilateral filtering for gray and color images", ICCV 1998;
OpenCV's ``cv2.bilateralFilter``: neighbourhood diameter in pixels, range sigma in levels of the summed
absolute RGB difference, spatial sigma in pixels) whose correction :meth:`Quantizer.band_correction` adds.
It smooths the steps between neighbouring bands of a quantized gradient (one 4-bit step, 16-17 levels,
keeps about a quarter of its neighbour's weight) and leaves the larger steps of real edges alone; the
projection keeps every pixel in its cell. Chosen on the validation rows (benchmarks/dequantize_validation.py,
crf 14, the 122 images found uniform, the generator at strength 0.5, the correction at weight 1): the mean
gain is +1.81 dB against +1.50 without it (worst image +0.07 against -0.07), at 4-bit mid levels +0.63
against +0.27; diameters 7-11 and range sigmas 8-12 all give +1.73 to +1.83 (worst +0.03 to +0.09).
It runs on the uint8 frames (stop 43): 4.7 ms per 640x360 frame on one core against 15.8 on float32, the
filtered values rounded to whole levels; on the 172 validation images found uniform (the generator at its
strengths, the stored outputs of stop 42) that costs 0.004 dB mean, 0.04 on the worst image."""

STRENGTH_KINDS = ("uniform", "uniform floor", "palette", "palette small", "none")
"""Every value of :attr:`Quantizer.strength_key`: the keys of a weight file's strengths and of :data:`BAND_WEIGHT`
(with ``" clip"``, a clip's own strengths: :data:`vidcolor.pipeline.STRENGTH_KEYS`)."""

BAND_WEIGHT = {"uniform": 0.5, "palette": 0.25, "palette small": 0.5}
"""Weight of the band correction per :attr:`Quantizer.strength_key`, else per kind of quantizer (graphics and
frames without a quantizer get none), with the generator at its strength. Picked on validation data only, by the strength rule (the largest
mean gain with nothing below -0.1 dB), first through the video path, then on the still rows:

* uniform, on the five validation clips of ``benchmarks/dequantize_temporal.py`` at 4-bit mid (24 frames,
  inter-coded input, output through x264 crf 16; ``--band-weight uniform=W``): weights 0, 0.25, 0.5, 0.75,
  1 gain +0.203, +0.266, +0.264, +0.248, +0.198 dB mean, worst clip +0.056, +0.065, +0.036, -0.038, -0.121
  (goat: fur and rock texture); 0.25 and 0.5 tie. On the still rows (benchmarks/dequantize_validation.py,
  crf 14, the 122 images found uniform) 0.5 gives +1.733 dB mean (worst +0.02) against +1.637 at 0.25
  (+1.810 at 1, +1.499 without), so 0.5.
* palette, on the still rows (the 280 images found as palettes): 0, 0.25, 0.5 give +0.086 (worst -0.08),
  +0.183 (-0.07), +0.244 (-0.19), so 0.25; a palette's Voronoi cell spans a colour step in every
  direction, so the projection undoes less of a blur than in a box. Through the video path at 16 colours
  the five clips gain +0.090, +0.090, +0.104 (worst -0.000, -0.039, +0.000): no difference.
* palette small (stop 45; colour palettes of at most :data:`PALETTE_SMALL` colours, at their strength 0.35),
  on the still rows (the 108 such images, the generator's outputs stored at stop 42): 0, 0.25, 0.5, 0.75 give
  +0.346 (worst -0.51), +0.458 (-0.07), +0.533 (-0.07), +0.583 (-0.105), so 0.5; the other palettes stay at
  0.25 (0.5 loses 0.24 dB on one of them). Jointly with the strength, 0.5 keeps 0.35 the rule's pick (0.4:
  worst -0.20). Through the video path see train/dequantize-fq-l2/validation.md."""

CHROMA_SIGMA = 0.8
"""Spatial sigma (pixels) of the Gaussian with which :meth:`Quantizer.chroma_smoothing` smooths the colour-difference
part of an estimate on uniform levels. Chosen on validation data (stop 51; the generator's outputs stored at stop 49 for
the validation stills, crf 14, at the model's strengths): on the 78 colour images found on uniform levels at bin middles
or spread levels (photos, clip frames, colour film frames) sigma 0, 0.6, 0.8, 1.0, 1.2 gain +1.141, +1.342, +1.367,
+1.357, +1.329 dB (worst image +0.107, +0.265, +0.286, +0.284, +0.265); on the 43 at the bin floor +5.447, +5.664,
+5.697, +5.696, +5.678; black-and-white images do not change. It pays only where the output keeps its chroma
pixel for pixel: a lossy encode smooths the same colour noise itself, and the two together over-smooth the colour. On
the five validation clips of ``benchmarks/dequantize_encode.py`` (48 frames, 4-bit mid, gain over (a'), mean / worst
clip): before any encode +1.455 / +0.804 dB without, +1.773 / +1.060 with; after x264 yuv420p crf 14 +1.004 / +0.350
without, +0.976 / +0.224 with; after x264 yuv444p crf 16 +0.602 / +0.097 without, +0.560 / -0.039 with (goat, fur
and rock, each time the worst). So the pipeline smooths only for images, lossless 4:4:4 video and the library's own
frames (:meth:`~vidcolor.pipeline.LabJob.set_output_chroma`, :func:`~vidcolor.io.writer.keeps_chroma`)."""

_CHROMA_PART = np.eye(3, dtype=np.float32) - LUMA_WEIGHTS[None, :]
"""``(3, 3)``: an RGB change minus its luma on every channel, ``d - Y'(d)``: the change of Cb and Cr alone (the
YCbCr matrix's luma column is all ones), for :func:`cv2.transform`."""

CENTRE_AGREEMENT = (0.35, 0.5)
"""Share of the bin-floor offset (:meth:`Quantizer.centre_offset`) that the generator's own correction must
show for the offset to be applied: over the pixels of floor levels above the lowest, the generator's mean
correction divided by the mean offset (:meth:`Quantizer.truncation_agreement`), from no offset at the first
value to the full offset at the second, linear between. A frame read as bit truncation gets its values raised by
half a bin (7.5 levels at 4 bits); where that reading is wrong (a palette whose colours happen to sit near
floor levels) the raise is a cast over the whole frame, and the generator, trained on both kinds, does not
raise such a frame. Chosen on the validation rows (benchmarks/dequantize_validation.py, crf 14, the generator
at its strength 0.5): the 80 images read as floor levels split into four misread palettes (a median-cut photo,
two 16-colour clip frames, a Bayer-dithered pixel-art image; the generator's share 0.03-0.35), which lost 0.8 to
12.7 dB with the offset applied in full, and 76 truncated images (0.35 to 2.05, all but one above 0.42)."""


@dataclass
class Quantizer:
    """An estimated quantizer and the margin that widens its cells.

    Attributes:
        kind: ``uniform``, ``palette`` or ``none``.
        confidence: in [0, 1]; for ``uniform`` the mean resultant length of the leading channel's level set (the
            coarsest, then clearest, channel with R >= :data:`~vidcolor.quantizer.estimation.UNIFORM_STRONG_R`, whose
            bits and convention all three take; :func:`~vidcolor.quantizer.estimation.estimate`; where each channel
            has its own depth, the smallest of the three channels'), for ``palette`` the
            share of pixels within :data:`~vidcolor.quantizer.palette.PALETTE_RADIUS` of a palette colour; 0 for
            ``none``.
        margin: half-width (levels) by which cells are widened: 2.5 x the codec noise measured on the frames,
            within [1, ``max_margin``] (:func:`~vidcolor.quantizer.estimation.estimate`; 0 for ``none``).
        bits, conventions: per channel (R, G, B), ``uniform`` only; ``bits[c] = 0`` means channel c is
            unquantized (its cell is then the observed value +- ``none_margin``).
        palette: float32 ``(K, 3)`` RGB colours, ``palette`` only.
        none_margin: half-width (levels) of the cell of an unquantized value.
        graphics: flat-colour content (share of flat pixels >= :data:`~vidcolor.quantizer.graphics.GRAPHICS_FLAT`,
            unless soft black-and-white footage on uniform levels or on a palette of
            :data:`~vidcolor.quantizer.graphics.FILM_MIN_GRAYS` to :data:`PALETTE_SMALL` grays,
            :func:`~vidcolor.quantizer.graphics.soft_film`) or frames enlarged by nearest
            neighbour (:func:`~vidcolor.quantizer.graphics.enlarged_by`): projected as if no quantizer had been found
            (the estimate is kept for the log).
        truncation_weight: in [0, 1], the weight of the bin-floor offset of :meth:`centre_offset`; None until
            :meth:`reconstruct` first sets it from the generator's agreement (:meth:`truncation_agreement`) on the
            first frame (or tile) it reconstructs that has floor levels above the lowest, once per estimate (and
            carried on by :class:`~vidcolor.quantizer.tracker.QuantizerTracker` while the clip's quantizer stays the
            same: :meth:`carry_weight`).
    """

    kind: str = "none"
    confidence: float = 0.0
    margin: float = 0.0
    bits: tuple[int, int, int] = (0, 0, 0)
    conventions: tuple[str, str, str] = ("", "", "")
    palette: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.float32))
    none_margin: float = 0.0
    graphics: bool = False
    truncation_weight: float | None = None
    _weight_from: "Quantizer | None" = field(default=None, repr=False, compare=False)

    def carry_weight(self, previous: "Quantizer") -> None:
        """Take the floor offset's weight of ``previous``, the same quantizer estimated earlier in the clip, so that
        the clip's brightness does not jump at a re-estimate: at once where it is set, else when this quantizer first
        reconstructs (frames are finished in order, so ``previous`` has set it by then unless it never
        reconstructed; this one then sets its own)."""
        if previous.truncation_weight is not None:
            self.truncation_weight = previous.truncation_weight
        else:
            self._weight_from = previous

    @property
    def passes_unchanged(self) -> bool:
        """True when :meth:`project` returns the observed frames whatever the estimate (no quantizer found, or
        graphics, with ``none_margin`` 0): a caller need not compute an estimate (run a generator) at all."""
        return (self.kind == "none" or self.graphics) and self.none_margin == 0

    @property
    def strength_key(self) -> str:
        """The key of the generator's strength for this quantizer in a weight file's ``arch["strength"]``:
        ``uniform floor`` for bit truncation (every quantized channel's levels at the bin floor, where
        :meth:`centre_offset` carries the brightness shift and the generator's correction is wanted less),
        ``palette small`` for a colour palette of at most :data:`PALETTE_SMALL` colours (not black and white by
        :func:`neutral`, its colours taken as one row of pixels), else the kind (``uniform``, ``palette``,
        ``none``); a model without the finer key uses the kind's strength."""
        quantized = [conv for conv, bits in zip(self.conventions, self.bits) if bits]
        if self.kind == "uniform" and quantized and all(conv == "floor" for conv in quantized):
            return "uniform floor"
        if self.kind == "palette" and 0 < len(self.palette) <= PALETTE_SMALL and not self._neutral_palette:
            return "palette small"
        return self.kind

    @functools.cached_property
    def _neutral_palette(self) -> bool:
        """Whether the palette's colours, taken as one row of pixels, are black and white (:func:`neutral`)."""
        return neutral_colours(self.palette)

    @property
    def contour_palette(self) -> bool:
        """True for a black-and-white palette of 3 to :data:`PALETTE_SMALL` grays (not graphics): its colours
        lie along one line, ordered by brightness, and :meth:`contour_estimate` reads their bands as the levels
        of one channel."""
        return (self.kind == "palette" and not self.graphics and 3 <= len(self.palette) <= PALETTE_SMALL
                and self._neutral_palette)

    @property
    def smooths_bands(self) -> bool:
        """True when :meth:`band_correction` has a correction to give: uniform levels or a palette
        (:data:`BAND_WEIGHT`), not graphics."""
        return self.kind in BAND_WEIGHT and not self.graphics

    def band_correction(self, observed: np.ndarray) -> np.ndarray | None:
        """The bilateral filter's correction of the observed frames, weighted for the kind of quantizer: the
        smoothness step of consistent reconstruction, which :meth:`project` pairs with the quantization
        constraint (the smoothing and projection of Yang, Galatsanos & Katsaggelos 1995, cited in the module's
        docstring; here one step each, the filter of :data:`BAND_FILTER_DIAMETER`).

        Args:
            observed: uint8 RGB ``(N, H, W, 3)``, the frames as decoded.

        Returns:
            float32 ``(N, H, W, 3)``, :data:`BAND_WEIGHT` x (filtered - observed), in levels (for uniform 4-bit
            levels at most about one step, 16 levels, x the weight 0.5: -7.5 on a pixel one level above all its
            neighbours, within -3.5..5 on a 4-bit gradient), to be added to an estimate before :meth:`project`; None
            when :attr:`smooths_bands` is False.
        """
        if not self.smooths_bands:
            return None
        out = np.empty(observed.shape, np.float32)
        filtered = np.empty(observed.shape[1:], np.uint8)
        for i, frame in enumerate(observed):      # on uint8: 4x faster than on float32, the result rounded
            cv2.bilateralFilter(frame, BAND_FILTER_DIAMETER, BAND_FILTER_SIGMA_COLOR, BAND_FILTER_SIGMA_SPACE,
                                dst=filtered)
            cv2.subtract(filtered, frame, dst=out[i], dtype=cv2.CV_32F)
        out *= BAND_WEIGHT.get(self.strength_key, BAND_WEIGHT[self.kind])
        return out

    def chroma_smoothing(self, observed: np.ndarray, estimate: np.ndarray) -> None:
        """In place, on uniform levels (not graphics): smooth the colour-difference part of an estimate, its luma
        kept. The change a Gaussian blur (sigma :data:`CHROMA_SIGMA`) would make, less its luma (BT.601,
        :data:`LUMA_WEIGHTS`) on every channel, is added: Cb and Cr are blurred, Y' is left as it is. The smoothness
        step of consistent reconstruction (Yang, Galatsanos & Katsaggelos 1995) on the colour-difference planes,
        whose smoothness in natural images is the prior of colour demosaicking (Gunturk, Glotzbach, Altunbasak,
        Schafer & Mersereau, "Demosaicking: color filter array interpolation", IEEE Signal Processing Magazine
        22(1), 2005): quantizing R, G and B apart
        leaves independent errors in each, which are mostly colour noise where a texture crosses bins at different
        places, and no bin-wise step (the contours, the band filter, the generator) undoes them. :meth:`project`
        then keeps every pixel in its cell. Frames that are black and white (:func:`neutral`) have no colour
        difference to smooth and are skipped.

        Args:
            observed: uint8 RGB ``(N, H, W, 3)``, the frames as decoded.
            estimate: float32 RGB ``(N, H, W, 3)`` levels (0..255), changed in place.
        """
        if self.kind != "uniform" or self.graphics:
            return
        for seen, frame in zip(observed, estimate):
            if neutral(seen[None, ::4, ::4]):
                continue
            change = cv2.GaussianBlur(frame, (0, 0), CHROMA_SIGMA)
            change -= frame
            frame += cv2.transform(change, _CHROMA_PART)

    def contour_estimate(self, observed: np.ndarray, weight: float | None = None
                         ) -> tuple[np.ndarray, np.ndarray] | None:
        """Each pixel's place in its bin from the distances to the neighbouring bands, and its weight.

        False contours of a smooth gradient run between bands one level apart; the truth rises across a band
        from the bin's lower end, at the contour with the band one level down, to its upper end, at the contour
        with the band one level up. Per channel, with ``d_down`` and ``d_up`` the distances (pixels) to the
        nearest pixel one level down and one level up, the estimate is ``lo + (hi - lo) * d_down / (d_down +
        d_up)`` (bin ``[lo, hi]``): the distance-ratio interpolation between contours of contour region
        reconstruction (Cheng, Au, Liu & Yip, "Bit-depth expansion by contour region reconstruction", ISCAS
        2009; reviewed with its handling of local extrema in Völgyes et al., "Image de-quantization using plate
        bending model", Algorithms 11(8), 2018). A pixel without both neighbours within
        :data:`~vidcolor.quantizer.contours.CONTOUR_MAX_DISTANCE` (a local extremum, a plateau) gets weight 0: its
        contours say nothing about where in the bin it lies. The distances are :func:`cv2.distanceTransform`'s (city
        block, which changes the ratio of two distances little) to the pixels whose level is in each residue class
        modulo 4: the nearest pixel of class ``k + 1`` is one level up unless a band three levels down is nearer. Jumps
        of two levels or more are real edges, no contour of the pixel's band. A black-and-white palette of at most
        :data:`PALETTE_SMALL` grays (:attr:`contour_palette`) is read the same way, its grays ranked by
        brightness as one channel's levels (:meth:`_palette_contours`).

        Args:
            observed: uint8 RGB ``(N, H, W, 3)``, the frames as decoded.
            weight: the weight at full reliability, the same for every pixel; None = the defaults: by the
                band's width (:data:`~vidcolor.quantizer.contours.CONTOUR_WIDTH_WEIGHT`) for levels at bin middles and
                spread levels, in R and B of colour frames x :data:`CONTOUR_CHROMA_WEIGHT`; :data:`CONTOUR_WEIGHT` for
                levels at the bin floor.

        Returns:
            ``(estimate, weight)``: float32 ``(N, H, W, 3)`` RGB levels (0..255) and weights in [0, 1]
            (the weight at full reliability x the value's reliability,
            :data:`~vidcolor.quantizer.contours.CONTOUR_RELIABLE`; 0 in unquantized channels), to be blended as
            ``y += weight * (estimate - y)`` before :meth:`project`; None unless the quantizer is uniform levels (not
            graphics) or :attr:`contour_palette`.
        """
        if not self.contour_palette and (self.kind not in CONTOUR_WEIGHT or self.graphics):
            return None
        if observed.shape[-3] * observed.shape[-2] == 1:
            # one pixel has no neighbouring band; and OpenCV reads a 1x1 array beside a scalar as a scalar (its results
            # come back (4, 1), and the estimate and weight were left unwritten)
            return observed.astype(np.float32), np.zeros(observed.shape, np.float32)
        if observed.shape[-3:-1] == (4, 1):
            # and a (4, 1) plane as a scalar too (distances, LUTs, the palette's mean): the transposed frames' estimate,
            # the same distances (city block), transposed back
            est, weight = self.contour_estimate(np.ascontiguousarray(observed.swapaxes(-3, -2)), weight)
            return (np.ascontiguousarray(est.swapaxes(-3, -2)), np.ascontiguousarray(weight.swapaxes(-3, -2)))
        if self.contour_palette:
            return self._palette_contours(observed, weight)
        pair_weight, colour_weight = self._default_pair_weights if weight is None else self._pair_weights(weight)
        est = np.empty(observed.shape, np.float32)
        weight = np.empty(observed.shape, np.float32)
        level, lo, span, reliable = self._contour_tables
        classes = level & 3                                 # the level index's residue class, as one table
        place, scaled = CONTOUR_PAIRS[0], self._scaled_places
        # a channel's plane at a time, contiguous (OpenCV would copy a strided view for every call), merged at the
        # end; into buffers made once a call and in place where OpenCV allows: fresh arrays cost their pages' faults.
        # The weight's planes are made in the estimate's memory of the frame, merged into the weight before the
        # estimate's planes are merged there. 640x360, one core, 4 bits 15.1 -> 11.9 ms a frame
        # (same output; 12.6 -> 12.4 where glibc keeps freed pages, the rest was page faults)
        est_planes, table = np.empty((3, *observed.shape[1:3]), np.float32), np.empty(observed.shape[1:3], np.float32)
        for i, frame in enumerate(observed):
            weights = pair_weight if neutral(frame[None, ::4, ::4]) else colour_weight
            weight_planes = est[i].reshape(est_planes.shape)
            planes, merged = cv2.split(frame), ([], [])
            for c, q in enumerate(planes):
                same = c and (self.bits[c], self.conventions[c]) == (self.bits[c - 1], self.conventions[c - 1]) \
                    and np.array_equal(weights[c], weights[c - 1])
                if same and np.array_equal(q, planes[c - 1]):      # gray frames: one channel's work
                    merged[0].append(merged[0][-1])
                    merged[1].append(merged[1][-1])
                    continue
                e, w = est_planes[c], weight_planes[c]
                if not self.bits[c]:                                # unquantized: the value itself, weight 0
                    e[...] = q
                    w.fill(0.0)
                else:           # the indices are in range: "wrap" leaves np.take's output unbuffered
                    pair = contour_pair(cv2.LUT(q, classes[c]))
                    if scaled[c] is not None:               # place x the bin's width, one table
                        np.take(scaled[c], pair, out=e, mode="wrap")
                    else:
                        np.take(place, pair, out=e, mode="wrap")
                        cv2.multiply(e, cv2.LUT(q, span[c], dst=table), dst=e)
                    cv2.add(e, cv2.LUT(q, lo[c], dst=table), dst=e)
                    np.take(weights[c], pair, out=w, mode="wrap")
                    cv2.multiply(cv2.LUT(q, reliable[c], dst=table), w, dst=w)
                merged[0].append(e)
                merged[1].append(w)
            cv2.merge(merged[1], dst=weight[i])
            cv2.merge(merged[0], dst=est[i])
        return est, weight

    def _pair_weights(self, weight: float | None) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`contour_estimate`'s weight at full reliability per channel and pair of distances (float32 ``(3,
        pairs)``, indexed as :data:`~vidcolor.quantizer.contours.CONTOUR_PAIRS`; 0 unless both bands are near), on
        black-and-white frames and on colour frames: ``weight`` for every pixel, or (None) the defaults."""
        # the weight at full reliability per channel and band width: the defaults, or one for every pixel
        by_width = self._contour_width_weights if weight is None else np.full((3, 256), weight, np.float32)
        # on colour frames R and B at bin middles and spread levels by default: CONTOUR_CHROMA_WEIGHT
        chroma = np.float32([CONTOUR_CHROMA_WEIGHT if weight is None and c != 1 and conv != "floor" else 1.0
                             for c, conv in enumerate(self.conventions)])
        _, width, near = CONTOUR_PAIRS
        pair_weight = near * by_width[:, width]
        return pair_weight, pair_weight * chroma[:, None]

    @functools.cached_property
    def _scaled_places(self) -> list[np.ndarray | None]:
        """Per channel whose bins all have one width (floor and mid levels, spread levels of 2 and 4 bits), the
        contour estimate's place in the bin times that width, per pair of distances (float32, indexed as
        :data:`~vidcolor.quantizer.contours.CONTOUR_PAIRS`: the same float32 products as per pixel, one lookup and
        one multiplication a plane fewer; 640x360, one core, 0.17 ms a plane); None for the others."""
        span = self._contour_tables[2]
        bits = span.view(np.uint32)
        return [CONTOUR_PAIRS[0] * span[c, 0] if self.bits[c] and (bits[c] == bits[c, 0]).all() else None
                for c in range(3)]

    @functools.cached_property
    def _default_pair_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_pair_weights` at the defaults, made once (every frame of a clip takes them)."""
        return self._pair_weights(None)

    @functools.cached_property
    def _contour_width_weights(self) -> np.ndarray:
        """Per channel the contour estimate's default weight at full reliability by band width 0..255 (float32
        ``(3, 256)``, a table for :func:`cv2.LUT`): :data:`~vidcolor.quantizer.contours.CONTOUR_WIDTH_WEIGHT` for bin
        middles and spread levels, :data:`CONTOUR_WEIGHT` for the bin floor."""
        floor = np.full(256, CONTOUR_WEIGHT[self.kind], np.float32)
        return np.stack([floor if conv == "floor" else WIDTH_WEIGHTS for conv in self.conventions])

    def _palette_contours(self, observed: np.ndarray, weight: float | None) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`contour_estimate` for a black-and-white palette (:attr:`contour_palette`), on each pixel's mean
        over the channels: its nearest gray's rank by brightness stands for the level, and the bin of gray ``k``
        is its Voronoi cell along the line of grays, from the midpoint with gray ``k - 1`` to the midpoint with
        gray ``k + 1`` (per channel); the reliability (:data:`~vidcolor.quantizer.contours.CONTOUR_RELIABLE`) is the
        mean's distance to its gray as a share of the distance to the nearest other gray; the weight at full reliability
        is :data:`~vidcolor.quantizer.contours.CONTOUR_WIDTH_WEIGHT` x :data:`CONTOUR_PALETTE_WEIGHT` by the band's
        width, or ``weight`` for every pixel. Same arguments and results as :meth:`contour_estimate`; one weight for the
        three channels."""
        rank_of, reliable, lo, span = self._palette_contour_tables
        place, width, near = CONTOUR_PAIRS
        by_width = WIDTH_WEIGHTS * CONTOUR_PALETTE_WEIGHT if weight is None else np.full(256, weight, np.float32)
        pair_weight = near * by_width[width]
        est = np.empty(observed.shape, np.float32)
        out_weight = np.empty(observed.shape, np.float32)
        for i, frame in enumerate(observed):      # tables by the mean's value and the gray's rank (cv2.LUT)
            mean = cv2.transform(frame, np.full((1, 3), 1 / 3, np.float32))          # uint8, rounded
            rank = cv2.LUT(mean, rank_of)
            pair = contour_pair(cv2.bitwise_and(rank, 3))
            rank3 = cv2.merge([rank] * 3)
            cv2.add(cv2.multiply(cv2.LUT(rank3, span), cv2.merge([np.take(place, pair)] * 3)), cv2.LUT(rank3, lo),
                    dst=est[i])
            cv2.merge([cv2.multiply(cv2.LUT(mean, reliable), np.take(pair_weight, pair))] * 3, dst=out_weight[i])
        return est, out_weight

    @functools.cached_property
    def _palette_contour_tables(self) -> tuple[np.ndarray, ...]:
        """For :meth:`_palette_contours`, tables for :func:`cv2.LUT`: per mean value 0..255 the rank by brightness
        of the nearest gray (uint8 ``(256,)``) and the reliability (float32 ``(256,)``; 0 at the darkest and
        brightest grays, which lack a gray on one side); per rank the bin's lower end and its width per channel
        (float32 ``(1, 256, 3)`` each)."""
        pal = self.palette[np.argsort(self.palette.mean(axis=1), kind="stable")].astype(np.float32)
        grays = pal.mean(axis=1)
        values = np.arange(256, dtype=np.float32)
        rank = gray_ranks(self.palette).astype(np.intp)
        gaps = np.diff(grays)
        spacing = np.minimum(np.concatenate([[np.inf], gaps]), np.concatenate([gaps, [np.inf]]))
        reliable = contour_reliability(np.abs(values - grays[rank]) / np.maximum(spacing[rank], 1e-3))
        reliable *= (rank > 0) & (rank < len(pal) - 1)
        mid = (pal[1:] + pal[:-1]) / 2                                    # the cells' faces along the line
        lo, span = np.zeros((2, 1, 256, 3), np.float32)
        lo[0, :len(pal)] = np.concatenate([pal[:1], mid])
        span[0, :len(pal)] = np.concatenate([mid, pal[-1:]]) - lo[0, :len(pal)]
        return rank.astype(np.uint8), reliable.astype(np.float32), lo, span

    @functools.cached_property
    def _contour_tables(self) -> tuple[np.ndarray, ...]:
        """Per channel and observed value 0..255 (``(3, 256)`` each): the level index (uint8), the bin's lower
        end and width (float32 levels), the contour estimate's reliability
        (:data:`~vidcolor.quantizer.contours.CONTOUR_RELIABLE`) and 0 for the lowest and highest levels, which lack a
        level below or above (tables for :func:`cv2.LUT`)."""
        q = np.arange(256, dtype=np.float32)
        level = np.zeros((3, 256), np.uint8)
        lo, span, reliable = (np.zeros((3, 256), np.float32) for _ in range(3))
        for c in (c for c in range(3) if self.bits[c]):
            bits, conv = self.bits[c], self.conventions[c]
            period, offset = level_offset(bits, conv)
            k = level_index(q, bits, conv)
            lo[c], hi = self._bin(offset + k * period, c)
            span[c] = hi - lo[c]
            reliable[c] = contour_reliability(level_distance(q, bits, conv) / period)
            reliable[c] *= (k > 0) & (k < 2 ** bits - 1)
            level[c] = k
        return level, lo, span, reliable

    def centre_offset(self, observed: np.ndarray, truncation_weight: float = 1.0) -> np.ndarray | None:
        """Per pixel, the bin's centre minus its level as the frames hold it: the estimate of a value whose bin
        says nothing more (the mean of a bin under a flat prior, the minimum-MSE point of the cell), which the
        generator's correction and the band correction start from instead of the level.

        Bit truncation (``floor``) keeps the bottom of each bin, half a bin (7.5 levels at 4 bits) below its
        centre: a brightness shift over the whole frame, weighted by ``truncation_weight``. Levels at the bin
        middle sit half a level above it (``k * 16 + 7.5`` rounds to ``k * 16 + 8``); spread levels on it. The
        lowest level keeps its value (offset 0): there the truth is often the level itself (letterbox bars, a
        black background), which every convention leaves black.

        Args:
            observed: uint8 RGB ``(N, H, W, 3)``, the frames as decoded.
            truncation_weight: in [0, 1], the share of the offset applied at floor levels.

        Returns:
            float32 ``(N, H, W, 3)`` offsets in levels (+7.5 x the weight at 4-bit floor levels, -0.5 at 4-bit
            mid levels, 0 in unquantized channels); None unless the quantizer is uniform levels (not graphics).
        """
        if self.kind != "uniform" or self.graphics:
            return None
        # one 3-channel table (1, 256, 3) for cv2.LUT: each channel's offsets, floor levels' by the weight
        table = self._centre_offsets * np.float32([truncation_weight if c == "floor" else 1.0 for c in self.conventions])
        table = _one_table(np.ascontiguousarray(table[None]))
        out = np.empty(observed.shape, np.float32)
        for frame, dst in zip(observed, out):  # into the result: no frame's array made and then copied
            cv2.LUT(frame, table, dst=dst)
        return out

    def truncation_agreement(self, observed: np.ndarray, corrected: np.ndarray) -> float:
        """How far the generator agrees that floor levels are bit truncation: the weight of the floor offset
        of :meth:`centre_offset` by :data:`CENTRE_AGREEMENT`, from the generator's mean correction over the
        pixels of floor levels with an offset, divided by their mean offset.

        Args:
            observed: uint8 RGB ``(N, H, W, 3)``, the frames as decoded.
            corrected: uint8 or float RGB of the same shape, the generator's output at full strength.

        Returns:
            The weight in [0, 1]; 1 when no channel has floor levels, or no pixel of them lies above the lowest level
            (nothing to weigh).
        """
        weight = self._agreement(observed, corrected)
        return 1.0 if weight is None else weight

    def _agreement(self, observed: np.ndarray, corrected: np.ndarray) -> float | None:
        """:meth:`truncation_agreement`, None where there is nothing to weigh."""
        shown = total = 0.0
        for c in (c for c in range(3) if self.bits[c] and self.conventions[c] == "floor"):
            offset = self._centre_offsets[:, c][observed[..., c]]
            total += float(offset.sum())
            shown += float(((corrected[..., c] - observed[..., c].astype(np.float32)) * (offset > 0)).sum())
        if total <= 0:
            return None
        lo, hi = CENTRE_AGREEMENT
        return float(np.clip((shown / total - lo) / (hi - lo), 0.0, 1.0))

    def reconstruct(self, observed: np.ndarray, corrected: np.ndarray, strength: float = 1.0,
                    contour_weight: float | None = None, smooth_chroma: bool = True) -> np.ndarray:
        """The consistent reconstruction of frames from their decoded values and a generator's correction.

        ``observed + strength * (corrected - observed) + share * centre_offset`` (the generator's correction at
        its strength, taken from the bins' centres, :meth:`centre_offset`), plus
        the band correction (:meth:`band_correction`), pulled towards the contour estimate
        (:meth:`contour_estimate`), its colour differences smoothed (:meth:`chroma_smoothing`, when
        ``smooth_chroma``) and projected onto the cells (:meth:`project`). The floor offset's weight is
        set from the first frame that has floor levels above the lowest (:meth:`truncation_agreement`; a black frame
        or tile has no offset to weigh), and kept in :attr:`truncation_weight`.

        The offset's share: ``1 - strength`` in channels at bin-floor levels, where the generator carries most of the
        offset itself (on the 4-bit-floor validation images its mean correction is +5.5 to +7.7 levels, the truth's
        +7.4 to +7.5), and all of it at bin-middle and spread levels, where it does not (at 4-bit mid: -0.15 to
        0.00 on the natural photos and clip frames, colour and gray, against the truth's -0.57 to -0.78; the rounding
        of ``16 k + 7.5`` to ``16 k + 8`` alone is -0.5).

        On a palette the generator's correction first loses its mean over the frame, per channel. A palette
        made by clustering (ffmpeg palettegen's median cut, k-means) puts each colour at the mean of the
        colours it stands for, the centroid condition of an optimal quantizer (Lloyd, "Least squares
        quantization in PCM", IEEE Trans. Inf. Theory 28(2), 1982), so the frame's mean is already right; a
        mean correction is the generator's own bias (on the 324 validation images found as palettes: median
        0.36 levels, over 1 level in some channel on 18% of them, up to 6.7). PIL's median cut (the training
        code's palettes) is not mean-true: on the held-back clips its frames are 0.9-2.6 levels too dark, and there
        the removal costs up to 0.05 dB. On uniform levels the mean correction is kept: there it carries where
        the values sit in their bins.

        Args:
            observed: uint8 RGB ``(N, H, W, 3)``, the frames as decoded.
            corrected: uint8 or float RGB of the same shape (0..255), the generator's output at full strength.
            strength: in [0, 1], the share of the generator's correction.
            contour_weight: passed to :meth:`contour_estimate` (None: its defaults).
            smooth_chroma: run :meth:`chroma_smoothing`; False where a lossy or subsampled encode will smooth the
                output's chroma itself (see :data:`CHROMA_SIGMA`).

        Returns:
            uint8 RGB ``(N, H, W, 3)``.
        """
        if self.truncation_weight is None:     # from the first frame: the same whatever the batches
            carried = self._weight_from.truncation_weight if self._weight_from is not None else None
            # a frame or tile without floor levels above the lowest (black) has no offset to weigh: a later one sets it
            self.truncation_weight = carried if carried is not None else self._agreement(observed[:1], corrected[:1])
        self._weight_from = None
        if len(observed) > 1:      # a frame at a time, its float arrays then stay in the caches: 640x360, batch 4,
            # one core, 4 bits 26.7 -> 24.3 ms a frame, 16 colours 34 -> 24.7 (same output)
            out = np.empty_like(observed)
            for i in range(len(observed)):
                out[i] = self.reconstruct(observed[i:i + 1], corrected[i:i + 1], strength, contour_weight,
                                          smooth_chroma)[0]
            return out
        # observed + strength * (corrected - observed), in place; of one uint8 frame by OpenCV, which converts and
        # subtracts (adds) in one pass, the same float32 values (640x360, one core: 0.37 -> 0.17 ms)
        by_cv = len(observed) == 1 and observed.dtype == corrected.dtype == np.uint8
        if by_cv:
            out = cv2.subtract(corrected[0], observed[0], dtype=cv2.CV_32F)[None]
        else:
            out = corrected.astype(np.float32)
            out -= observed
        if self.kind == "palette" and len(out):           # the centroid condition: no mean correction
            out -= np.float32(cv2.mean(out[0])[:3])
        out *= strength
        if by_cv:
            cv2.add(out[0], observed[0], dst=out[0], dtype=cv2.CV_32F)
        else:
            out += observed
        # uniform levels only, like the next two; the floor offset's share 1 - strength, the others' all of it
        weight = 1.0 if self.truncation_weight is None else self.truncation_weight     # None: every offset is 0
        # each term freed once added, so that the next one takes its memory: fresh pages are faulted in anew
        offset = self.centre_offset(observed, weight * (1.0 - strength))
        if offset is not None:
            out += offset
        del offset
        bands = self.band_correction(observed)
        if bands is not None:
            out += bands
        del bands
        contours = self.contour_estimate(observed, contour_weight)
        if contours is not None:                             # out += weight * (estimate - out)
            estimate, weight = contours
            del contours
            estimate -= out
            estimate *= weight
            out += estimate
            del estimate, weight
        if smooth_chroma:
            self.chroma_smoothing(observed, out)
        return self.project(observed, out)

    @functools.cached_property
    def _centre_offsets(self) -> np.ndarray:
        """Per observed value 0..255 and channel, :meth:`centre_offset`'s offset of the value's level at full
        weight (float32 ``(256, 3)``; 0 in unquantized channels)."""
        q = np.arange(256, dtype=np.float32)
        table = np.zeros((256, 3), np.float32)
        for c in (c for c in range(3) if self.bits[c]):
            period, offset = level_offset(self.bits[c], self.conventions[c])
            k = level_index(q, self.bits[c], self.conventions[c])
            lo, hi = self._bin(offset + k * period, c)
            table[:, c] = np.where(k > 0, (lo + hi) / 2 - np.round(offset + k * period), 0.0)
        return table

    def describe(self, measured: bool = True) -> str:
        """One line for logs: e.g. ``uniform 4/4/4 bits (mid), confidence 0.71, margin 2.0`` (levels of different
        conventions per channel: each channel's, ``uniform 5/6/5 bits (mid/spread/mid)``); with
        ``measured=False`` only what the quantizer is (``uniform 4/4/4 bits (mid)``, ``palette of 16
        colours``), without the confidence and margin measured on the frames it was estimated from."""
        if self.kind == "uniform":
            used = set(c for c in self.conventions if c)       # one name, or each channel's (the mixed reading's)
            conv = "/".join(c or "none" for c in self.conventions) if len(used) > 1 else "".join(used)
            what = f"uniform {'/'.join(map(str, self.bits))} bits ({conv})"
        elif self.kind == "palette":
            what = f"palette of {len(self.palette)} colours"
        else:
            return "no quantizer found"
        kind = ", graphics (left as they are)" if self.graphics else ""
        return f"{what}{kind}" + (f", confidence {self.confidence:.2f}, margin {self.margin:.1f}" if measured else "")

    def project(self, observed: np.ndarray, estimate: np.ndarray) -> np.ndarray:
        """Move ``estimate`` into the (widened) quantization cells of ``observed``.

        Uniform: per channel, a clip to the box ``[min(lo - m, q), max(hi + m, q)]`` (the exact Euclidean
        projection onto a box). Palette: the estimate is pulled back along the segment towards the
        observed value until it satisfies every checked Voronoi face ``(x - mid_ij) . u_ij <= m``
        (stretched to contain ``q``); the result lies in the convex allowed set. None, and graphics:
        a clip to ``q +- none_margin``.

        Args:
            observed: uint8 RGB ``(..., H, W, 3)``, the frames as decoded (uint8: uniform cells are looked up
                per level).
            estimate: uint8 or float RGB of the same shape (0..255; values outside are clipped at the end),
                e.g. the generator's output. Neither array is checked.

        Returns:
            uint8 RGB of the same shape, rounded half to even.
        """
        y = np.asarray(estimate, np.float32)          # only read below: no copy when already float32
        if self.kind == "uniform" and not self.graphics:
            out = np.empty_like(y)
            flat_obs, flat_y, flat_out = (a.reshape(-1, *a.shape[-3:]) for a in (observed, y, out))
            bound = np.empty(y.shape[-3:], np.float32)
            for obs, est, dst in zip(flat_obs, flat_y, flat_out):   # each bound into one buffer, clipped in place
                cv2.max(est, self._cell_bound(obs, 0, bound), dst=dst)
                cv2.min(dst, self._cell_bound(obs, 1, bound), dst=dst)
            np.rint(out, out=out)     # np.round's half-to-even, in place
            return np.clip(out, 0, 255, out=out).astype(np.uint8)
        if self.kind == "none" or self.graphics:
            q = observed.astype(np.float32)
            out = np.clip(y, q - self.none_margin, q + self.none_margin)
        else:
            out = self._project_palette(observed, y)
        np.rint(out, out=out)         # a fresh array either way: rounded and clipped in place
        return np.clip(out, 0, 255, out=out).astype(np.uint8)

    def cell_bounds(self, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The ends of the (widened) box that :meth:`project` clips each pixel of uniform levels to.

        Args:
            observed: uint8 RGB ``(H, W, 3)``, one frame as decoded.

        Returns:
            ``(lo, hi)``, float32 ``(H, W, 3)`` levels: per channel the bin of the observed level widened by the
            margin and stretched to contain the observed value (:meth:`_box`; ``value +- none_margin`` in
            unquantized channels).

        Raises:
            ValueError: the quantizer is not uniform levels (or is graphics), whose cells are no boxes.
        """
        if self.kind != "uniform" or self.graphics:
            raise ValueError(f"cell_bounds: the cells of {self.describe(measured=False)!r} are no boxes")
        return self._cell_bound(observed, 0), self._cell_bound(observed, 1)

    def _cell_bound(self, observed: np.ndarray, end: int, dst: np.ndarray | None = None) -> np.ndarray:
        """:meth:`cell_bounds`' ``lo`` (``end`` 0) or ``hi`` (1) of one frame, into ``dst`` (float32 ``(H, W, 3)``)
        where given."""
        # the box depends only on the observed level: a 3-channel table for each end
        return cv2.LUT(observed, self._box_tables[end], dst=dst)

    @functools.cached_property
    def _box_tables(self) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_box` of every observed level 0..255 per channel: float32 ``(1, 256, 3)`` ``lo`` and ``hi``
        (3-channel tables for :func:`cv2.LUT`; one channel's, ``(1, 256)``, where the channels' are the same:
        :func:`_one_table`)."""
        levels = np.arange(256, dtype=np.float32)
        lo, hi = zip(*(self._box(levels, c) for c in range(3)))
        return (_one_table(np.ascontiguousarray(np.stack(lo, axis=-1)[None], np.float32)),
                _one_table(np.ascontiguousarray(np.stack(hi, axis=-1)[None], np.float32)))

    def _box(self, q: np.ndarray, c: int) -> tuple[np.ndarray, np.ndarray]:
        """Allowed interval ``(lo, hi)`` of channel ``c`` for observed values ``q`` (float levels): the bin
        (:meth:`_bin`) widened by the margin and stretched to contain ``q``."""
        if not self.bits[c]:
            return q - self.none_margin, q + self.none_margin
        lo, hi = self._bin(q, c)
        lo, hi = lo - self.margin, hi + self.margin
        return np.minimum(lo, q), np.maximum(hi, q)

    def _bin(self, q: np.ndarray, c: int) -> tuple[np.ndarray, np.ndarray]:
        """The bin ``(lo, hi)`` (levels, inclusive) of quantized channel ``c`` whose level is nearest ``q``."""
        bits, conv = self.bits[c], self.conventions[c]
        if conv == "spread":
            step = 255.0 / (2 ** bits - 1)
            level = np.round(q / step) * step
            lo, hi = level - step / 2, level + step / 2
        else:
            step = 2.0 ** (8 - bits)
            offset = 0.0 if conv == "floor" else step / 2 - 0.5
            k = np.round((q - offset) / step)
            lo = k * step                                   # the bin [k * step, (k + 1) * step - 1]
            hi = lo + step - 1
        return lo, hi

    @functools.cached_property
    def _faces(self) -> tuple[np.ndarray, np.ndarray]:
        """The checked Voronoi faces, computed once per estimate (not per batch): for palette colour i and
        its :data:`PALETTE_NEIGHBOURS` nearest other colours j, the unit normal ``u_ij`` ``(K, k, 3)`` and the
        widened offset ``off_ij`` ``(K, k)`` of the face ``x . u_ij <= off_ij``."""
        pal = self.palette.astype(np.float32)
        k = min(PALETTE_NEIGHBOURS, len(pal) - 1)
        d2 = ((pal[:, None] - pal[None]) ** 2).sum(-1)
        np.fill_diagonal(d2, np.inf)
        nb = np.argsort(d2, axis=1)[:, :k]                                   # (K, k)
        diff = pal[nb] - pal[:, None]                                        # (K, k, 3)
        u = diff / np.maximum(np.linalg.norm(diff, axis=-1, keepdims=True), 1e-6)
        mid = (pal[nb] + pal[:, None]) / 2
        return u, (mid * u).sum(-1) + self.margin

    @functools.cached_property
    def _nearest_table(self) -> np.ndarray:
        """The nearest palette colour of every RGB box of :data:`TABLE_STEP` levels a side, int16, flat
        ``(n^3,)`` (n = 256 / TABLE_STEP, index ``(r * n + g) * n + b`` of the box), -1 where the box's 8
        corners have different nearest colours. A Voronoi cell is convex, so a box whose corners all lie
        in one cell lies in it whole: the table is exact where it answers."""
        grid = np.arange(0, 257, TABLE_STEP, dtype=np.float32)
        corners = np.stack(np.meshgrid(grid, grid, grid, indexing="ij"), -1).reshape(-1, 3)
        near = nearest_colour(corners, self.palette.astype(np.float32)).reshape((len(grid),) * 3)
        n = len(grid) - 1
        table = near[:n, :n, :n].copy()
        for dr, dg, db in np.ndindex(2, 2, 2):
            table[near[dr:dr + n, dg:dg + n, db:db + n] != near[:n, :n, :n]] = -1
        return table.astype(np.int16).ravel()

    def _palette_index(self, px: np.ndarray) -> np.ndarray:
        """Index of the nearest palette colour (Euclidean RGB) of uint8 or float pixels ``(P, 3)`` in [0, 255], as
        :func:`nearest_colour` gives it: from :attr:`_nearest_table`, and by search for the pixels of the boxes
        near a cell boundary, where the table has no answer."""
        if not len(px):
            return np.empty(0, np.int64)
        u = px if px.dtype == np.uint8 else px.astype(np.uint8)             # floor, as 0 <= px <= 255
        # the box's flat index (r * n + g) * n + b: each channel's share from one 3-channel table, summed by
        # cv2.transform (exact in float32: under 2^18); 640x360, one core, 1.8 -> 0.6 ms on uint8 pixels
        flat = cv2.transform(cv2.LUT(u.reshape(-1, 1, 3), _BOX_INDEX_TABLE), np.ones((1, 3), np.float32))
        out = self._nearest_table.take(flat.ravel().astype(np.intp)).astype(np.int64)
        rest = np.flatnonzero(out < 0)
        out[rest] = nearest_colour(px[rest], self.palette.astype(np.float32))
        return out

    def _project_palette(self, q: np.ndarray, y: np.ndarray) -> np.ndarray:
        shape = q.shape
        qf, out = q.reshape(-1, 3), np.clip(y, 0, 255).reshape(-1, 3)      # the result is clipped anyway
        idx = self._palette_index(qf)
        # an estimate whose nearest palette colour is the observed one lies in the cell: only the others move
        move = np.flatnonzero(self._palette_index(out) != idx)
        if not len(move):
            return out.reshape(shape)
        qf, yf, idx = qf[move].astype(np.float32), out[move], idx[move]
        u, off = self._faces
        U, O = u[idx], off[idx]                                              # (P, k, 3), (P, k)
        vq = np.einsum("pkc,pc->pk", U, qf)
        vy = np.einsum("pkc,pc->pk", U, yf)
        bound = np.maximum(O, vq)                                            # stretched to contain q
        over = vy > bound + 1e-4
        t = np.ones_like(vy)
        np.divide(bound - vq, vy - vq, out=t, where=over)
        t = np.clip(t.min(axis=1, initial=1.0), 0.0, 1.0)[:, None]
        out[move] = qf + t * (yf - qf)
        return out.reshape(shape)


def _one_table(table: np.ndarray) -> np.ndarray:
    """A 3-channel table for :func:`cv2.LUT` (float32 ``(1, 256, 3)``) as one channel's (``(1, 256)``) where its three
    channels hold the same bits: OpenCV applies a one-channel table to every channel of the frame, with the same
    result at about half the time (640x360 float32 out, one core: 0.41 -> 0.21 ms)."""
    bits = table.view(np.uint32)
    return np.ascontiguousarray(table[..., 0]) if (bits == bits[..., :1]).all() else table


_BOX_INDEX_TABLE = np.ascontiguousarray(
    ((np.arange(256)[:, None] // TABLE_STEP) * (256 // TABLE_STEP) ** np.arange(2, -1, -1))[None], np.float32)
"""Per value 0..255 and channel (float32 ``(1, 256, 3)``, a table for :func:`cv2.LUT`), the channel's share of
the flat index of its :data:`TABLE_STEP` box in :attr:`Quantizer._nearest_table`: ``(v // TABLE_STEP) * n^2``,
``* n``, ``* 1`` for R, G, B."""
