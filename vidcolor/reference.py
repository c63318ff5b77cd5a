"""Colorization after colour reference images: ``colorize --reference`` in its two modes.

* ``fast`` (:class:`ReferenceColorizer`): the exemplar-guided network of
  :mod:`vidcolor.models.exemplar`, trained once on photos; the references' features are computed once,
  then frames stream through at the automatic colorizer's speed.
* ``internal`` (:class:`InternalColorizer`): the two-image method of seed 002
  (:mod:`vidcolor.internal`), trained at run time on the reference and a key frame, then
  applied to every frame.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from vidcolor.arrays import check_rgb, conversion_hint, described
from vidcolor.color import recombine, rgb_to_lab
from vidcolor.engine import OUTPUT, REFERENCE_INPUTS, OnnxEngine, cached_onnx, onnx_session
from vidcolor.errors import VidcolorError, option, warn, worded
from vidcolor.executor import Stopped, stop_event, torch_threads
from vidcolor.io import read_image
from vidcolor.io.files import holds_video, round16
from vidcolor.io.images import image_metadata
from vidcolor.io.partial import blocked_way, cannot_write, nearest_there
from vidcolor.io.reader import VIDEO_SUFFIXES
from vidcolor.io.writer import removing_made_folders
from vidcolor.jobs import DEFAULTS, RENDER_SIZE
from vidcolor.device import pick_device
from vidcolor.pipeline import Batch, Colorizer, RenderedLabJob, luminance, render_geometry
from vidcolor.temporal import CutDetector, l_histogram
from vidcolor.weights import load_generator, save_generator


REFERENCE_MIN_CHROMA = 1.5
"""A reference whose mean CIELAB chroma ``sqrt(a^2 + b^2)`` is below this is warned about: it has no colour to give,
and the output comes out near gray (a gray photo: 0; JPEG noise on one: under 1; five raccoon photos of the training
set: 3.7 to 19)."""


TONED_HUE_SPREAD = 40.0
"""Degrees: a reference whose coloured pixels (chroma above :data:`TONED_MIN_CHROMA`) hold the middle 96% of their
hues within this range (:func:`hue_spread`) is warned about: all its colour in one hue, as a sepia print's, which the
output takes. Measured at the size the references are read at: the 30 references of the data's devc clips spread
43.6 to 269 degrees (the least a warm-lit wedding photo), none warned; sepia copies of them (the usual sepia matrix)
are all caught as PNG or JPEG quality 95, 29 at 85, 26 at 75 (JPEG's chroma noise widens the spread); 14 of 300
photos of the training set fall below (a t-shirt on a plain ground, a ginger cat: one colour there too)."""

TONED_MAX_CHROMA = 30.0
"""A reference of one hue (:data:`TONED_HUE_SPREAD`) is warned about only when the mean chroma of its coloured pixels
is below this: a toned print is pale, a lemon or a bee saturated. Measured as :data:`TONED_HUE_SPREAD`: sepia copies of
the 30 devc references reach 21.5 (PNG and JPEG 95 to 75 alike; the references themselves 8.4 to 26.8); of 301
training photos (43 from each folder), 15 spread under 40 degrees, 11 of them also under 30 (a ginger cat, a plain
dress: pale one-colour ones), while the 4 above (30.9 to 72.3: ants on a yellow ground, a red-brown scene) are no
longer warned about."""

TONED_MIN_CHROMA = 3.0
"""The chroma above which a reference's pixel counts as coloured for :func:`hue_spread` (JPEG noise on gray stays
below)."""


def hue_spread(ab: np.ndarray) -> float | None:
    """How widely a reference's colour is spread round the hue circle: the range, in degrees, that holds the middle
    96% (2nd to 98th percentile) of the hues of its coloured pixels (chroma above :data:`TONED_MIN_CHROMA`), measured
    from their chroma-weighted mean hue. ``ab``: float ``(..., 2)`` in LAB units. None when fewer than 100 pixels are
    coloured (nothing to judge)."""
    ab = ab.reshape(-1, 2).astype(np.float64)
    ab = ab[np.hypot(ab[:, 0], ab[:, 1]) > TONED_MIN_CHROMA]
    if len(ab) < 100:
        return None
    mean = np.arctan2(*ab.sum(0)[::-1])
    off = np.degrees((np.arctan2(ab[:, 1], ab[:, 0]) - mean + np.pi) % (2 * np.pi) - np.pi)
    low, high = np.percentile(off, [2, 98])
    return float(high - low)


REFERENCE_MIN_SIDE = 64
"""A reference whose shorter side (pixels) is below this is warned about: the exemplar network matches it in 8x8-pixel
cells, so a small one gives coarser colour. Measured with the bundled exemplar network on two DAVIS pairs (a clip's
frame 0 as the reference, a frame 2 s later as the target, 240 px high), the reference shrunk: CIEDE2000 5.0 at
240 px, 5.3 at 128, 6.8 at 64, 8.1 at 32 and 9.4 at 16 (cows); 3.3, 3.1, 3.2, 3.4 and 4.3 (dog); the automatic
colorizer's is 11.7 and 12.0."""


def check_references(references) -> None:
    """Refuse ``references`` unless it is a list (or tuple) of images, each uint8 RGB ``(H, W, 3)`` or RGBA
    ``(H, W, 4)`` with no side empty: what :class:`ReferenceColorizer` and :class:`InternalColorizer` take. Before,
    file names raised 'string indices must be integers', one image given bare 'The truth value of an array ... is
    ambiguous', a gray one 'expected uint8 RGB (..., H, W, 3) ... got uint8 (80, 3)' (its first 3 columns), a stack
    (N, H, W, 3) a TypeError of render_geometry; a float one was taken by the internal mode.

    Raises:
        TypeError: ``references`` is not a list or tuple, or holds a file name (read those with
            :func:`read_references`).
        ValueError: an image that is not uint8 RGB(A) ``(H, W, 3 or 4)`` or has an empty side, naming it
            (``references[1]``) with how to give common kinds (gray, floats in [0, 1]:
            :func:`~vidcolor.arrays.conversion_hint`)."""
    if not isinstance(references, (list, tuple)):
        one = isinstance(references, np.ndarray) and references.ndim == 3
        raise TypeError(f"references must be a list of images, uint8 RGB (H, W, 3) or RGBA (H, W, 4), got "
                        f"{described(references)}{'; one image? give [image]' if one else ''}")
    for i, ref in enumerate(references):
        if isinstance(ref, (str, bytes, os.PathLike)):
            raise TypeError(f"references[{i}] is a file name ({ref!r}): give images; read files with "
                            "vidcolor.reference.read_references([path, ...])")
        if not (isinstance(ref, np.ndarray) and ref.dtype == np.uint8 and ref.ndim == 3 and ref.shape[-1] in (3, 4)
                and ref.size):
            stack = isinstance(ref, np.ndarray) and ref.ndim == 4 and ref.shape[-1] in (3, 4)
            hint = "; several images in one array? give list(images)" if stack else conversion_hint(ref, batch=False)
            raise ValueError(f"references[{i}]: expected uint8 RGB (H, W, 3) or RGBA (H, W, 4), no side empty, got "
                             f"{described(ref)}{hint}")


def read_references(paths: list[str | Path], render_size: int | None = RENDER_SIZE,
                    longer_side: int | None = None) -> list[np.ndarray]:
    """Read reference images as uint8 RGB ``(h, w, 3)``, or RGBA ``(h, w, 4)`` where the image has transparency
    (its transparent parts give no colour: :meth:`ReferenceColorizer.encode_references`), each reduced as it is read
    (``cv2.INTER_AREA``, before any LAB conversion) to the size the matching uses: ``render_size``, the size
    :meth:`~vidcolor.pipeline.Colorizer.network_input` gives it (fast mode: its shorter side, the longer at most
    :data:`~vidcolor.pipeline.RENDER_MAX_ASPECT` times that), or with ``longer_side`` its longer side (internal mode's
    ``--internal-size``). A reference at or below that size is kept as it is; none is enlarged. (Kept at full size,
    a 64 MP reference peaked at 2.04 GB, its LAB conversion included, and six at 3.73 GB.) Its colours are read as
    displayed, in sRGB: one in a wide-gamut space (ICC profile, PNG gAMA/cHRM, EXIF Adobe RGB) is converted
    (:func:`~vidcolor.io.images.read_image`'s ``to_srgb``), where the inputs' code values are kept.

    Raises VidcolorError when one is unreadable, a video file (by its suffix, or its contents under an image's
    suffix, :func:`~vidcolor.io.files.holds_video`; the jobs check how many they need) or
    transparent everywhere, a folder, or ``-`` (stdin is not read for it); warns (:func:`~vidcolor.errors.warn`) about an animated one (only its first frame is used), one without colour (:data:`REFERENCE_MIN_CHROMA`, over its opaque
    pixels, at the reduced size), one toned in one hue, as a sepia print (:data:`TONED_HUE_SPREAD`,
    :data:`TONED_MAX_CHROMA`), one smaller than :data:`REFERENCE_MIN_SIDE`, and, without ``longer_side`` (the fast
    mode; the internal mode refuses a second reference), one that is the same image as an earlier one (the same file
    by another path, or a copy: the same pixels once reduced), which is left out: the matching would offer its
    positions twice for the same colour at twice the cost. ``paths`` may be one path (str or ``Path``: a list of one,
    not its characters) or a 1-d array of them; anything else (image arrays: give those to
    :class:`ReferenceColorizer` itself) raises TypeError (:func:`vidcolor.api.reference_list`)."""
    from vidcolor.api import reference_list

    paths = reference_list(paths)        # one str was read as its characters ('/ is a folder'), arrays os's TypeError
    for p in paths:
        if Path(p).suffix.lower() in VIDEO_SUFFIXES or holds_video(p):     # a video named as an image too
            raise VidcolorError(f"{p}: {option('references', '--reference')} takes a colour still image (a frame of the film saved as PNG "
                                "or JPEG), not a video")
        if str(p) == "-" and not Path(p).exists():     # was '-: no such file', as if stdin were read
            raise VidcolorError(f"{option('references', '--reference')} -: a reference is read from a file, not from "
                                "stdin; give the image's path")
        if Path(p).is_dir():     # was 'cannot read as image (IsADirectoryError)'
            raise VidcolorError(f"{p} is a folder: {option('references', '--reference')} takes image files; give the "
                                "images in it, each one")
    images, named = [], []
    for p in paths:
        try:
            rgb, alpha = read_image(p, to_srgb=True)    # its colours as displayed: P3, Adobe RGB... to sRGB
        except VidcolorError as exc:       # 'missing.jpg: no such file' did not say which option gave it
            raise VidcolorError(f"{exc.marked} ({option('references', '--reference')})") from None
        if alpha is not None and not (alpha >= 128).any():
            raise VidcolorError(f"{p}: the reference is transparent everywhere: it has no colour to give")
        if (frames := _frame_count(p)) > 1:       # an animated GIF/PNG/WebP: only its first frame was read, unsaid
            warn(f"the reference {p} is animated ({frames} frames): only its first frame gives colour; save the "
                 "frames you mean as still images and give each")
        elif (pages := image_metadata(p).pages) > 1:      # a multi-page TIFF: its first page, as the jobs read it
            warn(f"the reference {p} has {pages} pages: only the first gives colour; save the pages you mean as "
                 "images and give each")
        image = rgb if alpha is None else np.dstack([rgb, alpha])
        del rgb, alpha
        if min(image.shape[:2]) < REFERENCE_MIN_SIDE:
            warn(f"the reference {p} is only {image.shape[1]}x{image.shape[0]} pixels: its colours are matched in "
                 f"8x8-pixel cells, so below {REFERENCE_MIN_SIDE} px they come out coarser; give a larger image")
        small = _reduce(image, render_size, longer_side)
        del image                                  # only the reduced copies are kept
        if longer_side is None and (same := next((q for q, seen in zip(named, images) if np.array_equal(seen, small)),
                                                 None)) is not None:
            # twice: as once, at twice the cost. One path given twice was 'the reference X is the same image as X'
            twice = os.path.abspath(p) == os.path.abspath(same)
            warn(f"the reference {p} was given twice: it is used once" if twice else
                 f"the reference {p} is the same image as {same}: it is used once")
            continue
        named.append(p)
        images.append(small)
    for p, small in zip(named, images):
        ab = rgb_to_lab(np.ascontiguousarray(small[..., :3]))[..., 1:]
        if small.shape[-1] == 4:      # none opaque at the reduced size: nothing to judge (numpy's 'Mean of empty slice')
            ab = ab[small[..., 3] >= 128]
        chroma = np.hypot(ab[..., 0], ab[..., 1])
        coloured = chroma[chroma > TONED_MIN_CHROMA]
        if chroma.size and (chroma := float(chroma.mean())) < REFERENCE_MIN_CHROMA:
            warn(f"the reference {p} has almost no colour (mean chroma {chroma:.1f}): the output will be near gray")
        elif ((spread := hue_spread(ab)) is not None and spread < TONED_HUE_SPREAD     # sepia: toned output, unsaid
              and coloured.mean() < TONED_MAX_CHROMA):     # pale, as a toned print; not a saturated one-hue photo
            warn(f"the reference {p} has all its colour in one hue (within {spread:.0f} degrees), as a sepia or toned "
                 "print has: the output will be tinted in that hue alone")
    return images


def _frame_count(path: str | Path) -> int:
    """How many frames of an animation the image file at ``path`` holds (Pillow's ``n_frames`` of an animated GIF,
    APNG, WebP or AVIF, :data:`~vidcolor.io.animated.ANIMATED_FORMATS`); 1 for a still, for other formats' extra
    images, and when unknown."""
    from PIL import Image

    from vidcolor.io.animated import ANIMATED_FORMATS, pillow_sizes
    try:
        with pillow_sizes(str(path)), Image.open(path) as im:      # Pillow's notes on damaged EXIF unsaid
            return int(getattr(im, "n_frames", 1)) if im.format in ANIMATED_FORMATS else 1
    except Exception:                  # it was read once already; a count is only for the warning
        return 1


def _reduce(image: np.ndarray, render_size: int | None, longer_side: int | None) -> np.ndarray:
    """uint8 ``(H, W, C)`` reduced with ``cv2.INTER_AREA`` to the size :func:`read_references` describes (the same
    rounding as :meth:`~vidcolor.pipeline.Colorizer.network_input` and :func:`~vidcolor.models.two_image.to_tensor`,
    which then resize it to its own size: no change); returned as it is when not larger. An RGBA image's colour is
    reduced with its alpha as weight (premultiplied), so that a pixel at the edge of a transparent part takes no
    colour from what lies hidden there."""
    h, w = image.shape[:2]
    if longer_side is not None:
        scale = longer_side / max(h, w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
    elif render_size is not None:
        scale, size = render_geometry(h, w, render_size)
    else:
        return image
    if scale >= 1:
        return image
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    # colour averaged with alpha as weight: an edge pixel took the hidden colour beside it. Premultiplied in float32,
    # one channel at a time (a 64 MP reference: 256 MB more at most): rounded to uint8 before the division, c * a / 255
    # lost up to about 2 levels at alpha 64, more towards 0. An opaque RGBA image is reduced as an RGB one is (its
    # weights are all equal: the same result, as before).
    if image.shape[-1] == 4 and image[..., 3].min() < 255:
        alpha = image[..., 3]
        a = cv2.resize(alpha.astype(np.float32), size, interpolation=cv2.INTER_AREA)
        seen = small[..., :3].copy()
        for c in range(3):
            weighted = cv2.resize(cv2.multiply(np.ascontiguousarray(image[..., c]), alpha, scale=1.0, dtype=cv2.CV_32F),
                                  size, interpolation=cv2.INTER_AREA)
            seen[..., c] = np.clip(np.rint(weighted / np.maximum(a, 1e-6)), 0, 255).astype(np.uint8)
        small[..., :3] = np.where((a > 0)[..., None], seen, small[..., :3])
    return small


class ReferenceColorizer(Colorizer):
    """Exemplar-guided colorization (``--reference-mode fast``).

    Each reference is reduced to the render size like the frames (its shorter side ``render_size``), its
    L goes through the same encoder, and its matching descriptors and 8x8-averaged ab are kept; frames
    are then coloured by :class:`~vidcolor.models.exemplar.ExemplarColorizer` with all references'
    positions as candidates (several references simply offer more positions).

    Args:
        references: uint8 RGB images ``(H, W, 3)`` (or RGBA ``(H, W, 4)``, see :meth:`encode_references`), at
            least one unless ``features`` is given.
        model: registry name or path of an exemplar model (its job ``colorize-reference``; default: colorize-exemplar).
        others: as :class:`~vidcolor.pipeline.Colorizer` (``blur``/``equalize`` apply to references too).
        features: the references' ``(keys, values)`` as :attr:`features` of an earlier instance with the same
            model and options gave them (float32 arrays); then ``references`` may be empty and nothing is
            recomputed (a distributed run computes them once and ships them to its workers).

    Attributes:
        features: ``(keys, values)`` float32 arrays bound to the engine.

    ``__call__(frames uint8 RGB (N, H, W, 3)) -> uint8 RGB (N, H, W, 3)``; the output's L is the input's.

    Raises:
        VidcolorError: no references, a model of another job, bad option values, references whose opaque parts
            give no position (:meth:`encode_references`).
        TypeError, ValueError: ``references`` is not a list of uint8 RGB(A) images ``(H, W, 3 or 4)``
            (:func:`check_references`).
    """

    JOB = "colorize-reference"
    _reference_session = None
    """The reference encoder's ONNX Runtime session, made by the first :meth:`_encode_onnx`."""

    def __init__(self, references: list[np.ndarray], model: str = DEFAULTS["colorize-reference"],
                 device: str = "auto", render_size: int = RENDER_SIZE, saturation: float | None = None,
                 temperature: float | None = None, blur: bool = False, equalize: bool = False,
                 backend: str = "auto", precision: str = "auto",
                 features: tuple[np.ndarray, np.ndarray] | None = None):
        if features is None:
            check_references(references)             # before the model loads
        if not references and features is None:
            raise VidcolorError(option("references", "--reference") + ": give at least one reference image")
        super().__init__(model, device, render_size, saturation, temperature, blur, equalize, backend, precision)
        if features is not None:
            self.features = features
            self.engine.bind(keys=features[0], values=features[1])
            return
        self.features = self.encode_references(references)
        self.engine.bind(keys=self.features[0], values=self.features[1])

    MATCH_BYTES = 256_000_000
    """What one batch's matching may take (bytes; :meth:`largest_batch`): its logits, float32 (frame positions x
    reference positions) a frame, and their softmax as large again."""

    def largest_batch(self, width: int, height: int) -> int:
        """The most frames a batch of ``width`` x ``height`` frames should hold for its matching to stay within
        :data:`MATCH_BYTES`: the automatic batch size is capped by it. It grows with the references' positions:
        at 320x180 one reference's logits take about 12 MB a frame, so 30 references at the automatic 16 frames a
        batch peaked at 8.9 GB (6 at 2.5 GB; with 1 frame a batch 0.6 GB, and faster)."""
        _, (w, h) = render_geometry(height, width, self.render_size)
        positions = -(-w // 8) * -(-h // 8)
        # keyframe mode: no features before the first keyframe, whose positions are a frame's
        refs = positions if self.features is None else int(self.features[0].shape[1])
        per_frame = 2 * 4 * positions * refs
        return max(1, self.MATCH_BYTES // per_frame)

    def encode_references(self, references: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """The exemplar network's ``(keys (1, M, D), values (1, M, 2))`` float32 of uint8 RGB references
        ``(H, W, 3)``, each reduced to the render size like the frames: keys unit-length descriptors (D = 152),
        values mean ab of each 8 x 8 cell in LAB units, the M positions of all references concatenated.
        An RGBA reference ``(H, W, 4)`` gives only the positions (8 x 8 cells) that are mostly opaque: the
        colour under a transparent part is no colour the user sees (a hidden magenta fill coloured a cow's
        back).

        With the ONNX Runtime engine the reference encoder runs there too (its own graph,
        :func:`~vidcolor.engine.export_reference_onnx`, cached like the generator's), so the run does not
        import torch once the graphs are cached; with the torch engine it runs on the torch generator.

        Raises:
            VidcolorError: the model is an exported ``.onnx`` graph (the reference encoder is not in it), or the
                references give no position: their opaque parts are too small to fill an 8 x 8 cell at this size.
            ValueError: ``references`` is empty, or one is not uint8 RGB(A) ``(H, W, 3 or 4)``
                (:func:`check_references`).
            TypeError: ``references`` is no list of arrays (:func:`check_references`).
        """
        check_references(references)
        if str(self.model).endswith(".onnx"):
            raise VidcolorError(f"{self.model}: the reference mode needs the weight file (its reference encoder), "
                                "not an exported .onnx graph; give the .safetensors with " + option("backend='onnxruntime'"))
        keys, values = [], []
        for ref in references:
            lab = rgb_to_lab(np.ascontiguousarray(ref[..., :3]))
            L = self.network_input(lab[None, ..., 0])[0]
            ab = cv2.resize(lab[..., 1:], (L.shape[1], L.shape[0]), interpolation=cv2.INTER_AREA)
            k, v = (self._encode_onnx if isinstance(self.engine, OnnxEngine) else self._encode_torch)(L / 50.0 - 1.0, ab)
            if ref.shape[-1] == 4:
                opaque, visible = _opaque_cells(ref[..., 3], L.shape, lab[..., 1:])
                k, v = k[:, opaque], visible[None, opaque]
            keys.append(k)
            values.append(v)
        if references and not sum(k.shape[1] for k in keys):     # was a ZeroDivisionError's traceback
            what = "the reference's opaque part is" if len(references) == 1 else "the references' opaque parts are"
            raise VidcolorError(f"{what} too small to give colour: no 8x8-pixel cell is mostly opaque at the size the "
                                f"matching uses (shorter side {self.render_size} px); give a reference with a larger "
                                "opaque part")
        return np.concatenate(keys, 1), np.concatenate(values, 1)

    def _encode_onnx(self, L_n: np.ndarray, ab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One reference's keys and values (float32 ``(1, M, D)``, ``(1, M, 2)``) from ``L_n (h, w)`` and
        ``ab (h, w, 2)``: padded (edge) to multiples of 32 as the encoder pads, run, then cropped to the
        ``ceil(h / 8) x ceil(w / 8)`` positions of the frame, as the generator's ``reference`` does."""
        if self._reference_session is None:
            self._reference_session = onnx_session(cached_onnx(self.model, self.arch, part="reference")[0], self.device)
        h, w = L_n.shape
        pad = ((0, -h % 32), (0, -w % 32))
        feeds = {REFERENCE_INPUTS[0]: np.pad(L_n, pad, mode="edge")[None, None].astype(np.float32),
                 REFERENCE_INPUTS[1]: np.pad(ab, pad + ((0, 0),), mode="edge").transpose(2, 0, 1)[None].astype(np.float32)}
        maps = self._reference_session.run(None, feeds)
        hk, wk = -(-h // 8), -(-w // 8)
        return tuple(np.ascontiguousarray(m[..., :hk, :wk].reshape(1, m.shape[1], -1).transpose(0, 2, 1)) for m in maps)

    def _encode_torch(self, L_n: np.ndarray, ab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """As :meth:`_encode_onnx`, on the torch generator (one torch thread: :func:`torch_threads`)."""
        import torch

        dtype = next(self.generator.parameters()).dtype
        with torch.inference_mode(), torch_threads(1):
            k, v = self.generator.reference(torch.from_numpy(L_n)[None, None].to(self.device, dtype),
                                            torch.from_numpy(ab).permute(2, 0, 1)[None].to(self.device, dtype))
        return k.float().cpu().numpy(), v.float().cpu().numpy()


def _opaque_cells(alpha: np.ndarray, size: tuple[int, int], ab: np.ndarray | None = None):
    """Which of the exemplar network's reference positions are mostly opaque: ``alpha`` uint8 ``(H, W)`` resized to
    ``size`` (the network's input, h x w), averaged over its 8 x 8 cells (the last row and column of cells
    partial), as a bool mask ``(ceil(h / 8) * ceil(w / 8),)`` in the positions' row-major order.

    With ``ab`` (float32 ``(H, W, 2)``, the reference's) also each cell's ab averaged with the alpha as weight, float32
    ``(positions, 2)`` (the network's values average every pixel of a cell: a mostly opaque cell beside the
    transparent part took up to half its colour from what lay hidden there), returned as ``(mask, ab)``."""
    h, w = size
    a = cv2.resize(alpha.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)

    def cells(x: np.ndarray) -> np.ndarray:
        x = np.pad(x, ((0, -h % 8), (0, -w % 8)) + ((0, 0),) * (x.ndim - 2), mode="edge")
        return x.reshape(x.shape[0] // 8, 8, x.shape[1] // 8, 8, *x.shape[2:]).mean(axis=(1, 3)).reshape(-1, *x.shape[2:])

    mask = cells(a) >= 128
    if ab is None:
        return mask
    weighted = cv2.resize(ab * alpha[..., None].astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
    return mask, (cells(weighted) / np.maximum(cells(a), 1e-6)[:, None]).astype(np.float32)


CUT_DISTANCE = 0.5
"""L1 distance between 32-bin L histograms (each summing to 1; 0 = same, 2 = disjoint) from the current
keyframe above which a frame starts a new scene (:class:`KeyframeColorizer`)."""


class KeyframeColorizer(ReferenceColorizer):
    """Keyframe colorization, propagated (``--reference`` without an image): each scene's keyframe is
    colorized by the automatic colorizer at a larger render size, its colour averaged with that of the
    mirrored frame (test-time augmentation), and that coloured keyframe is the exemplar network's
    reference for every frame of its scene -- the approach of VapourSynth's HAVC filter (DeOldify/DDColor
    keyframes carried by a Deep-Exemplar network).

    A frame is a keyframe when it is the clip's first, when it follows a hard cut (the temporal smoother's
    test, :class:`~vidcolor.temporal.CutDetector`: the histogram test alone missed 52 of the 552 cuts between
    the data's clips, those of similar tone), or when its L histogram (:func:`~vidcolor.temporal.l_histogram`)
    is further than :data:`CUT_DISTANCE` from the current keyframe's (a scene that drifted away); a batch that
    spans a cut runs in parts, each with its own reference.

    Args:
        model: an exemplar model (its job ``colorize-reference``; default: colorize-exemplar), for the propagation.
        automatic: a ``colorize`` model (default: the bundled default colorizer) for the keyframes,
            at its stored inference defaults and ``keyframe_size``.
        keyframe_size: the automatic colorizer's render size for keyframes (shorter side, pixels; 384).
        others: as :class:`ReferenceColorizer`.

    ``__call__(frames uint8 RGB (N, H, W, 3)) -> uint8 RGB (N, H, W, 3)``; the output's L is the input's.

    Raises:
        VidcolorError: a model of another job, bad option values.
    """

    def __init__(self, model: str = DEFAULTS["colorize-reference"], automatic: str = DEFAULTS["colorize"],
                 device: str = "auto", render_size: int = RENDER_SIZE, keyframe_size: int = 384, saturation: float | None = None,
                 temperature: float | None = None, blur: bool = False, equalize: bool = False,
                 backend: str = "auto", precision: str = "auto"):
        Colorizer.__init__(self, model, device, render_size, saturation, temperature, blur, equalize, backend,
                           precision)
        self.automatic = Colorizer(automatic, device, keyframe_size, blur=blur, equalize=equalize, backend=backend,
                                   precision=precision)
        self.automatic.upsize_said = True        # its keyframe size is no option: the warning is of render_size's
        self.stills = False
        self.keyframes = 0
        """Keyframes coloured so far (stills included: each its own)."""
        self.clip_keyframes: list[int] = []
        """Keyframes coloured in each clip so far, one entry per clip (:meth:`reset` starts the next: a folder's
        clips, or one process() call's after another; stills not counted), for
        :func:`~vidcolor.summaries.keyframes_note`."""
        self._clip_counted = False
        self._key_hist: np.ndarray | None = None
        self._cuts = CutDetector()
        self.features = None

    def keyframe_colour(self, frame: np.ndarray) -> np.ndarray:
        """uint8 RGB ``(H, W, 3)`` -> the automatic colorizer's colour of it (ab averaged with the mirrored
        frame's), as uint8 RGB ``(H, W, 3)`` with the frame's own L.

        Raises:
            ValueError: ``frame`` is not uint8 RGB ``(H, W, 3)`` with no side empty (was said of the stack of it and
                its mirror image, ``(2, H, W, 3)``)."""
        check_rgb(frame, (3,), "frame")
        L, ab = self.automatic.predict_lab(np.stack([frame, frame[:, ::-1]]))
        return recombine(L[:1], (ab[:1] + ab[1:, :, ::-1]) / 2)[0]

    def set_stills(self, stills: bool) -> None:
        """Stills: every image is its own keyframe."""
        self.stills = stills

    def reset(self) -> None:
        """A new clip: its first frame is a keyframe."""
        super().reset()
        self._key_hist = None
        self._cuts.reset()
        self._clip_counted = False

    def prepare(self, frames: np.ndarray) -> Batch:
        """uint8 (or uint16: :attr:`~vidcolor.pipeline.LabJob.DEEP`) RGB ``(N, H, W, 3)`` -> a
        :class:`~vidcolor.pipeline.Batch` as the automatic colorizer's, whose
        ``context["parts"]`` lists ``(first frame index, (keys, values))``: one part per keyframe in the batch
        (each keyframe is colorized and encoded here), the first part starting at 0 with the current keyframe's
        features when the batch does not start with a keyframe."""
        batch = Colorizer.prepare(self, frames)
        parts = []
        for i, L in enumerate(batch.context["L"]):
            h, cut = l_histogram(L), self._cuts(L)
            if self.stills or self._key_hist is None or cut or np.abs(h - self._key_hist).sum() > CUT_DISTANCE:
                self._key_hist = h
                # the keyframe's colour is a reference, which the exemplar network reads at 8 bits
                key = frames[i] if frames.dtype == np.uint8 else round16(frames[i])
                self.features = self.encode_references([self.keyframe_colour(key)])
                self.keyframes += 1
                if not self.stills:
                    if not self._clip_counted:
                        self.clip_keyframes.append(0)
                        self._clip_counted = True
                    self.clip_keyframes[-1] += 1
                parts.append((i, self.features))
            elif not parts:
                parts.append((0, self.features))
        batch.context["parts"] = parts
        return batch

    def infer(self, batch: Batch) -> Batch:
        """The exemplar network on each part of the batch, with that part's keyframe as the reference."""
        frame, parts = batch.feeds["frame"], batch.context["parts"]
        ends = [start for start, _ in parts[1:]] + [len(frame)]
        outputs = [self.engine({"frame": frame[start:end], "keys": keys, "values": values})[OUTPUT]
                   for (start, (keys, values)), end in zip(parts, ends)]
        batch.outputs = {OUTPUT: np.concatenate(outputs)}
        return batch


class InternalColorizer(RenderedLabJob):
    """Two-image reference colorization (``--reference-mode internal``, seed 002).

    The per-scale generators are trained on the reference and a key frame -- ``key_frame`` when given,
    else the first frame that arrives, so stdin works -- or loaded from a file saved earlier. Every
    frame is then coloured by the generator pyramid on its gray image (longer side ``settings.size``,
    fixed noise); the output's ab are upsampled to full resolution and joined with the frame's own L.

    Args:
        references: exactly one uint8 RGB ``(H, W, 3)`` image (the method takes one reference; an RGBA one's
            alpha is dropped, its transparent part warned about: the colours under it are learnt too), or none
            when ``load_model`` is given.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (:func:`~vidcolor.device.pick_device`; training and
            inference).
        settings: :class:`~vidcolor.internal.TwoImageSettings` (iterations per scale, size).
        load_model: a pair saved by ``save_model`` (then nothing is trained).
        save_model: where to write the trained generators (safetensors) once trained; missing folders are created.
        key_frame: uint8 RGB frame to train on instead of the first frame.
        progress: tqdm bars per scale on stderr.

    Raises:
        VidcolorError: not exactly one reference without ``load_model``, a file that is not a saved pair,
            a ``save_model`` path that cannot be written (a file where a folder should be, or no permission):
            refused before any training.
        TypeError, ValueError: ``references`` is not a list of uint8 RGB(A) images (:func:`check_references`), or
            ``key_frame`` is not uint8 RGB ``(H, W, 3)``.
    """

    JOB = "colorize-internal"
    DEEP = False
    """8-bit frames alone: its network takes the frames themselves (:meth:`infer`)."""

    def __init__(self, references: list[np.ndarray], device: str = "auto", settings=None,
                 load_model: str | Path | None = None, save_model: str | Path | None = None,
                 key_frame: np.ndarray | None = None, progress: bool = True):
        from vidcolor.internal import TwoImageSettings

        if save_model is not None:       # refused now, not after the training; missing folders are made at the save
            why = blocked_way(Path(save_model))     # a file, or a symbolic link to nothing, on the way
            if why is not None:
                raise VidcolorError(f"{option('save_model')} {save_model}: cannot write there ({why})")
            there = nearest_there(Path(save_model).absolute())
            try:
                with tempfile.TemporaryFile(dir=there):
                    pass
            except OSError as exc:      # the folder that cannot be written named, as for every output
                raise VidcolorError(f"{option('save_model')} {cannot_write(Path(save_model), exc)}") from None
        check_references(references)
        if key_frame is not None:
            check_rgb(key_frame, (3,), "key_frame")
        self.device = pick_device(device)
        self.settings = settings or TwoImageSettings()
        self.save_model, self.progress, self.model = save_model, progress, None
        if load_model is not None:
            if not Path(load_model).is_file():     # not load_generator's 'model ... not found (bundled models: ...)'
                raise VidcolorError(f"{load_model}: no such file ({option('load_model')})")
            self.model, arch = load_generator(str(load_model), self.device)
            if arch.get("job") != self.JOB:
                raise VidcolorError(f"{load_model}: not a model saved by " + option("reference_mode='internal'") +
                                    f" {option('save_model')}")
            self.settings.size = arch["size"]
        elif len(references) != 1:
            raise VidcolorError(option("reference_mode='internal'") + f" takes exactly one {option('references', '--reference')} "
                                f"(or {option('load_model')})")
        self.reference = references[0][..., :3] if references else None
        if references and references[0].shape[-1] == 4 and (hidden := float((references[0][..., 3] < 128).mean())) \
                >= 0.01:      # the method has no mask: the colour under the transparent part (often black) is learnt too
            warn(option("reference_mode='internal'") + f" learns from the whole reference, {hidden:.0%} of which is "
                 "transparent: the colours hidden there count as well; flatten it or crop it to its opaque part, or "
                 "use the fast mode, where transparent parts give no colour")
        if key_frame is not None and self.model is None:
            self.train(key_frame)

    def train(self, key_frame: np.ndarray) -> None:
        """Train the pair on the reference and ``key_frame`` (uint8 RGB ``(H, W, 3)``); save it if asked.

        Raises:
            ValueError: ``key_frame`` is not uint8 RGB ``(H, W, 3)`` with no side empty.
            VidcolorError: the trained pair cannot be saved (:meth:`save`).
            vidcolor.executor.Stopped: the run was stopped (SIGTERM, Ctrl-C) during the training."""
        check_rgb(key_frame, (3,), "key_frame")
        from vidcolor.internal import train_two_image

        if self.progress:
            print(worded(f"vidcolor: internal mode: training on the reference and the keyframe (the first frame), "
                         f"{self.settings.iters} iterations per scale on {self.device} (lower it with "
                         f"{option('internal_iters')})"), file=sys.stderr)
        stop = stop_event()        # set when the run is stopped (SIGTERM, Ctrl-C): training ends within an iteration

        def check() -> None:
            if stop is not None and stop.is_set():
                raise Stopped

        self.model = train_two_image(self.reference, key_frame, self.settings, self.progress, device=self.device,
                                     check=check)
        if self.save_model is not None:
            self.save(self.save_model)

    def save(self, path: str | Path) -> None:
        """Write the trained generators to ``path`` (safetensors, fp32; ``load_model`` reads them back).

        Raises:
            VidcolorError: nothing trained yet, or the file cannot be written.
        """
        if self.model is None:
            raise VidcolorError("internal mode: nothing trained yet")
        arch = {"family": "two_image", "job": self.JOB, "size": self.settings.size,
                "kwargs": {"scales": len(self.model.generators), "width": self.settings.width,
                           "factor": self.settings.factor}}
        with removing_made_folders(Path(path).parent):      # missing folders are created, as -o's; a failed save
            try:                                            # removes those it made (safetensors leaves no file)
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise cannot_write(Path(path), exc) from None
            save_generator(self.model, path, arch, half=False)

    def prepare(self, frames: np.ndarray) -> Batch:
        """uint8 RGB ``(N, H, W, 3)`` -> a :class:`~vidcolor.pipeline.Batch` with ``context["L"]`` (float32
        ``(N, H, W)`` in [0, 100]); trains on ``frames[0]`` first when nothing is trained or loaded yet."""
        if self.model is None:          # the first frame to arrive is the key frame
            self.train(frames[0])
        return Batch(frames, context={"L": luminance(frames)})

    def infer(self, batch: Batch) -> Batch:
        """The trained generator pyramid (torch; trained at run time, so no other engine): ``batch.outputs``
        gets uint8 RGB ``(N, h, w, 3)``, the longer side ``settings.size``."""
        import torch

        from vidcolor.models.two_image import gray, to_tensor

        with torch.inference_mode():
            x = torch.cat([gray(to_tensor(f, self.settings.size)) for f in batch.frames]).to(self.device)
            rgb = ((self.model(x) + 1.0) * 127.5 + 0.5).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        batch.outputs = {OUTPUT: rgb}
        return batch

    def render_ab(self, batch: Batch) -> np.ndarray:
        """As :meth:`~vidcolor.pipeline.RenderedLabJob.render_ab`: the generator pyramid's ab (``settings.size``)."""
        return rgb_to_lab(batch.outputs[OUTPUT])[..., 1:]
