"""Animated images (GIF, APNG, animated WebP and AVIF) read as video: frames through Pillow, which composes each
frame from the disposal and blending rules of its format (FFmpeg cannot decode animated WebP)."""
from __future__ import annotations

import re
import struct
import warnings
from collections import deque
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from PIL import Image, UnidentifiedImageError

from vidcolor.errors import VidcolorError
from vidcolor.io.files import DAMAGED, GRAY16_MODES, HEAD_BYTES, is_image, round16, video_head
from vidcolor.io.limits import MAX_PIXELS, MAX_SIDE, check_frame_size
from vidcolor.io.reader import VideoInfo
from vidcolor.io.sequences import is_sequence
from vidcolor.io.timing import Timeline

ANIMATED_FORMATS = ("GIF", "PNG", "WEBP", "AVIF")
"""Pillow formats whose frames after the first are an animation, whatever the file's image suffix (an animated GIF
saved as .jpg plays in a browser, and ffmpeg reads its frames); a JPEG's second image (MPO: an Android Ultra HDR
photo's gain map, a stereo camera's other view) and a TIFF's pages are not."""

PLAYS_FORMATS = ("PNG", "WEBP")
"""Formats whose loop count (Pillow's ``info["loop"]``) is the number of plays in all, 0 for ever (APNG's
``num_plays``, WebP's loop count, as browsers play it), where GIF's NETSCAPE count is that of the plays after the
first: an APNG that plays once (1) was written as a GIF that plays twice."""

DEFAULT_DELAY_MS = 100
"""Frame delay assumed where an animation gives none (browsers show such GIFs at about 10 fps)."""


@contextmanager
def pillow_sizes(what: str) -> Iterator[None]:
    """Around Pillow's opening, seeking or decoding of an image (``what`` names it, for the message): vidcolor
    checks frame sizes itself (:func:`~vidcolor.io.limits.check_frame_size`, 64 megapixels, below Pillow's 89),
    so Pillow's ``DecompressionBombWarning`` (printed with its source line above vidcolor's refusal, from 89 to 179
    megapixels) is silenced, and its ``DecompressionBombError`` (past 179) is that refusal, with the size declared.
    Pillow's ``UserWarning`` notes (``Corrupt EXIF data``: what of a damaged EXIF it could read is used) are silenced.

    Raises:
        VidcolorError: Pillow refused the size (:func:`bomb_refusal`).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        # Pillow's own notes on what it read past (damaged EXIF, a camera's MakerNote): printed with its source
        # line, two lines each, on an image read as viewers read it
        warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
        try:
            yield
        except Image.DecompressionBombError as exc:
            raise bomb_refusal(exc, what) from None


NOT_AN_IMAGE = "not an image file of a format vidcolor reads"
"""Pillow's ``UnidentifiedImageError`` in words (:func:`pillow_reason`): the name of a Python class said it before."""


def pillow_reason(exc: Exception) -> str:
    """Why Pillow could not read a file, for an error: :data:`NOT_AN_IMAGE` for its ``UnidentifiedImageError`` (no
    plugin took the file), else the exception's class (Pillow's messages are its own internals: ``invalid literal
    for int() with base 10``), and where its message says so, that the file ends early (``OSError: the file ends
    early (truncated)``, for Pillow's ``image file is truncated`` or ``Truncated File Read``)."""
    if isinstance(exc, UnidentifiedImageError):
        return NOT_AN_IMAGE
    name = exc.__class__.__name__
    return f"{name}: the file ends early (truncated)" if "truncated" in str(exc).lower() else name


def unreadable_reason(path: str | Path, exc: Exception) -> str:
    """Why Pillow could not open the file at ``path`` (``exc``), for an error, in :func:`~vidcolor.io.read_image`'s
    words: Pillow says ``UnidentifiedImageError`` both of a file of no image format and of one whose format's plugin
    failed to open it (a PNG whose header chunk's CRC is broken, a GIF cut inside its header); where the file starts
    as one of Pillow's formats does (``images.signature_format``), ``it starts as a GIF does but looks damaged or
    truncated``, else :func:`pillow_reason`."""
    if isinstance(exc, UnidentifiedImageError):
        from vidcolor.io.images import signature_format  # vidcolor.io.images imports this module
        known = signature_format(path)
        if known:
            return f"it starts as a {known} does but looks damaged or truncated"
    return pillow_reason(exc)


def bomb_refusal(exc: Image.DecompressionBombError, what: str) -> VidcolorError:
    """The frame-size refusal (:func:`~vidcolor.io.limits.check_frame_size`'s words, the size and the limits) for
    the size that Pillow refused with ``exc``. Pillow's message gives only the pixel count: the width and height
    are those its check was given (its frame's ``size``, from the traceback); the pixel count where they cannot
    be found (another Pillow)."""
    tb = exc.__traceback__
    while tb is not None:
        size = tb.tb_frame.f_locals.get("size") if tb.tb_frame.f_code.co_name == "_decompression_bomb_check" else None
        if isinstance(size, tuple) and len(size) == 2 and all(isinstance(n, int) for n in size):
            try:
                check_frame_size(*size, what)
            except VidcolorError as refusal:
                return refusal
        tb = tb.tb_next
    pixels = re.search(r"\((\d+) pixels\)", str(exc))
    declared = f"{int(pixels[1]):,} pixels" if pixels else "more pixels than Pillow opens"
    return VidcolorError(f"{what}: image too large (its header declares {declared}; at most {MAX_SIDE} px a side "
                         f"and {MAX_PIXELS // 1_000_000} megapixels)")


def is_animated(path: str | Path) -> bool:
    """True for an image file of more than one frame (animated GIF, APNG, animated WebP or AVIF), and for one of
    these formats whose frames cannot be counted (a GIF cut after its first frame: Pillow's count raises):
    :class:`AnimatedImageReader` then says what is damaged, or keeps the frames that decode, instead of the file
    being read as its first frame alone. Told by its contents (:data:`ANIMATED_FORMATS`) under any image suffix: an
    animated GIF named .jpg is one. False for a file that does not open as an image (the still-image reader says
    why)."""
    if not is_image(path) or not Path(path).is_file():
        return False
    return _moves(path, str(path))


def _moves(source, name: str) -> bool:
    """:func:`is_animated`'s count of the frames of ``source`` (a path, or a file open at its start), named ``name``."""
    try:
        with pillow_sizes(name):
            im = Image.open(source)
    except (UnidentifiedImageError, VidcolorError, *DAMAGED):    # a damaged netpbm header raises ValueError
        return False
    with im:
        if im.format not in ANIMATED_FORMATS:
            return False
        try:
            return getattr(im, "n_frames", 1) > 1
        except DAMAGED:
            return True


def _may_animate(head: bytes) -> bool:
    """Whether Pillow may take a file that begins with ``head`` for one of :data:`ANIMATED_FORMATS`: one of their
    plugins accepts its first 16 bytes (what ``Image.open`` asks each of them; a JPEG, TIFF or BMP is none)."""
    for plugin in ("GifImagePlugin", "PngImagePlugin", "WebPImagePlugin", "AvifImagePlugin"):
        try:                                     # registered: as Image.open would find them
            __import__(f"PIL.{plugin}")
        except ImportError:                      # a Pillow without AVIF: it opens no AVIF either
            pass
    for fmt in ANIMATED_FORMATS:
        if fmt in Image.OPEN:
            accept = Image.OPEN[fmt][1]
            found = accept(head[:16]) if accept else True
            if found and not isinstance(found, str):      # (a string: Pillow's warning that it cannot read it)
                return True
    return False


def is_still_image(path: str | Path) -> bool:
    """True for an image file of one frame, read as a still: an image suffix (:func:`~vidcolor.io.files.is_image`),
    not an animation (:func:`is_animated`), and not a video named as an image
    (:func:`~vidcolor.io.files.holds_video`: a web "GIF" saved as MP4), which are clips.

    The file is opened once (a folder's listing asks it of every image): its first bytes tell a video, and only
    one that may be an animation (:func:`_may_animate`) has its frames counted, from the same open file. An image
    sequence's pattern (``scan_%06d.png``: :func:`~vidcolor.io.sequences.is_sequence`) is a clip."""
    if not is_image(path) or is_sequence(path):
        return False
    try:
        f = open(path, "rb")
    except OSError:             # neither an animation nor a video: the still-image reader says why it cannot be read
        return True
    with f:
        try:
            head = f.read(HEAD_BYTES)
            if video_head(head):
                return False
            if not _may_animate(head) or not Path(path).is_file():
                return True
            f.seek(0)
        except OSError:
            return True
        return not _moves(f, str(path))


def _boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[bytes, bytes]]:
    """The ISO base media boxes in ``data[start:end]``: ``(type, payload)`` each (a damaged size ends the walk)."""
    end = len(data) if end is None else end
    while start + 8 <= end:
        size, kind = struct.unpack(">I4s", data[start:start + 8])
        head = 8
        if size == 1 and start + 16 <= end:
            size, head = struct.unpack(">Q", data[start + 8:start + 16])[0], 16
        elif size == 0:
            size = end - start
        if size < head or start + size > end:
            return
        yield kind, data[start + head:start + size]
        start += size


def _top_box(path: str | Path, wanted: bytes) -> bytes:
    """The payload of the first top-level box ``wanted`` of the file ``path``, read alone (the media data, ``mdat``,
    is skipped, not read).

    Raises:
        StopIteration: there is none (or a damaged size ends the walk first).
    """
    with open(path, "rb") as f:
        while True:
            head = f.read(8)
            if len(head) < 8:
                raise StopIteration
            size, kind = struct.unpack(">I4s", head)
            skip = 8
            if size == 1:
                size, skip = struct.unpack(">Q", f.read(8))[0], 16
            if kind == wanted:
                return f.read(size - skip) if size else f.read()
            if size < skip:
                raise StopIteration
            f.seek(size - skip, 1)


def avif_loop(path: str | Path) -> int:
    """An animated AVIF's repeat count as GIF output takes it (:attr:`~vidcolor.io.VideoInfo.loop`: 0 for ever, N
    more times, -1 once), from its first track's edit list as libavif reads it (Pillow gives none): ``elst`` flag 1
    repeats the edit, as many times as the track's duration (``tkhd``) holds it, for ever where that is indefinite
    (all ones: libavif's default, which Pillow writes); no repeat flag: played once; no edit list (or a file that
    cannot be parsed): for ever, as browsers play it. The count was not read: every animated AVIF became a GIF that
    plays once."""
    try:
        moov = _top_box(path, b"moov")
        trak = next(payload for kind, payload in _boxes(moov) if kind == b"trak")
        parts = dict(_boxes(trak))
        edts = parts.get(b"edts")
        if edts is None:
            return 0
        elst = dict(_boxes(edts)).get(b"elst")
        if elst is None:
            return 0
        version, flags = elst[0], int.from_bytes(elst[1:4], "big")
        if not flags & 1:
            return -1
        segment = int.from_bytes(elst[8:16] if version == 1 else elst[8:12], "big")
        tkhd = parts[b"tkhd"]
        duration = (tkhd[28:36] if tkhd[0] == 1 else tkhd[20:24])
        if duration == b"\xff" * len(duration) or segment <= 0:
            return 0
        plays = -(-int.from_bytes(duration, "big") // segment)
        return plays - 1 if plays > 1 else -1
    except (OSError, StopIteration, KeyError, IndexError, struct.error):
        return 0


def _delay(frame: Image.Image) -> float | None:
    """A frame's delay in ms (WebP sets it only once the frame is loaded)."""
    if "duration" not in frame.info:
        frame.load()
    return frame.info.get("duration")


PILLOW_PIX_FMTS = {"P": "pal8", "RGB": "rgb24", "RGBA": "rgba", "L": "gray", "LA": "ya8", "I;16": "gray16le"}
"""FFmpeg's pixel format of an animation's frames by Pillow's mode (:func:`animation_pix_fmt`); another: not known."""


def _webp_codings(path: Path) -> set[bytes]:
    """The bitstreams of an animated WebP's frames, from its RIFF chunks (each ``ANMF`` frame holds a ``VP8 ``, lossy,
    4:2:0, or a ``VP8L``, lossless ARGB, after an optional ``ALPH``: Google's WebP Container Specification); Pillow
    does not say which, and FFmpeg does not read animated WebP."""
    codings: set[bytes] = set()
    with open(path, "rb") as f:
        f.seek(0, 2)
        end, pos = f.tell(), 12
        while pos + 8 <= end:
            f.seek(pos)
            fourcc, size = struct.unpack("<4sI", f.read(8))
            inner = pos + 8 + 16 if fourcc == b"ANMF" else pos        # (a frame's 16 bytes of placing, then chunks)
            while inner + 8 <= min(end, pos + 8 + size):
                f.seek(inner)
                sub, sub_size = struct.unpack("<4sI", f.read(8))
                if sub in (b"VP8 ", b"VP8L"):
                    codings.add(sub)
                    break
                if fourcc != b"ANMF":
                    break
                inner += 8 + sub_size + (sub_size & 1)
            pos += 8 + size + (size & 1)
    return codings


def animation_pix_fmt(im: Image.Image, path: Path) -> str | None:
    """The pixel format of an animation's frames as stored, FFmpeg's name (:attr:`~vidcolor.io.VideoInfo.pix_fmt`),
    which says whether their colour is at full resolution
    (:func:`~vidcolor.source_warnings.chroma_reason`): ``pal8`` for a GIF (a palette of RGB colours), an APNG's by its
    mode (:data:`PILLOW_PIX_FMTS`: ``rgb24``, ``rgba``, ``pal8``, gray), a lossless WebP's ``rgba`` (every frame
    ``VP8L``), a lossy one's ``yuv420p`` (VP8 holds 4:2:0 alone), an AVIF's as FFmpeg probes it (``yuv420p``,
    ``yuv444p``...); None where it cannot be told."""
    if im.format == "GIF":
        return "pal8"
    if im.format == "PNG":
        return PILLOW_PIX_FMTS.get(im.mode)
    if im.format == "WEBP":
        codings = _webp_codings(path)
        return None if not codings else "rgba" if codings == {b"VP8L"} else "yuv420p"
    if im.format == "AVIF":
        import av

        try:
            with av.open(str(path)) as container:
                return container.streams.video[0].codec_context.pix_fmt
        except (av.FFmpegError, IndexError):
            return None
    return None


class AnimatedImageReader:
    """An animated image's frames as uint8 RGB ``(H, W, 3)``, with :class:`~vidcolor.io.VideoInfo`
    like :class:`~vidcolor.io.VideoReader` (the frame rate is the mean of the frame delays, exact to
    1/1000 s; ``timeline`` holds every frame's own time, the sum of the delays before it rounded to the ms, so an
    APNG's fractional delays, 1/60 s, do not drift, and the last frame's own delay, ``last_duration``; an AVIF's, whose delays Pillow rounds, its frames' own times;
    no audio). Transparency is
    composited on black (:attr:`composited` then says that a frame had some), or, with ``keep_alpha``, kept apart
    as a still image's is: the frames are the colour under it and their alpha goes to the writer
    (:meth:`with_alpha`). A 16-bit gray APNG's frames are rounded to 8 bits as 16-bit stills are
    (:func:`round16`; Pillow's convert would clip them at 255); a 16-bit colour APNG's keep the high byte of each
    sample, as Pillow gives them (at most one level below the rounding; Pillow composes the frames, which neither
    FFmpeg nor OpenCV does right at 16 bits).

    An APNG's default image that is not part of its animation (shown by viewers without APNG) is not a frame, as
    ffmpeg and browsers do not show it.

    A damaged or truncated file (:data:`DAMAGED`) whose first frame can be found is read up to the damage: the
    iteration stops there and :attr:`missing` says how many frames were lost (at least 1; where the frame count
    itself cannot be read, ``info.frames`` counts the frames before the damage and :attr:`count_known` is False).

    A reader is single-pass, as :class:`~vidcolor.io.VideoReader` is: it is iterated once (a second ``iter()`` is a
    ``ValueError``; open the file again to read it again).

    Raises:
        VidcolorError: unreadable (not even a first frame), or a frame larger than the frame-size limits (each
            frame's size is checked before it is decoded: a GIF frame may reach beyond the header's size).
        ValueError: iterating a closed reader (:meth:`__iter__`), also through an iterator made before it closed,
            or one iterated before.
    """

    raw_size = None
    missing = 0
    """Frames that could not be decoded (a truncated or damaged file: the iteration stops at the first), once it
    has ended."""
    count_known = True
    """False where the file's frame count could not be read (a GIF cut inside its frames)."""
    keeps_alpha = False
    """Whether the frames' alpha is kept apart (``keep_alpha``, for an animation that may have transparency: a frame
    with an alpha channel or a transparent colour): the frames are then the colour under it, and :meth:`with_alpha`
    gives it to the writer."""
    composited = False
    """Whether a frame read had transparency that was composited on black (not :attr:`keeps_alpha`)."""

    def __init__(self, path: str | Path, keep_alpha: bool = False):
        self.path = Path(path)
        self._closed = self._iterated = False
        self._alphas: deque[np.ndarray] = deque()
        may_have_alpha = False
        try:
            with pillow_sizes(str(self.path)):
                self._im = Image.open(self.path)
        except (UnidentifiedImageError, *DAMAGED) as exc:
            raise VidcolorError(f"{path}: cannot read as an animation ({unreadable_reason(path, exc)})") from None
        self._damaged = False
        # an APNG's default image that is not part of its animation (what a viewer without APNG shows): Pillow's
        # frame 0, which ffmpeg and browsers do not show
        self._skip = int(self._im.format == "PNG" and bool(getattr(self._im, "default_image", False)))
        try:
            with pillow_sizes(str(self.path)):    # seeks check sizes too (a GIF frame may grow the canvas)
                check_frame_size(*self._im.size, str(self.path))
                try:
                    n = getattr(self._im, "n_frames", 1) - self._skip
                except DAMAGED:
                    n, self.count_known = None, False
                delays, stamps = [], []
                try:
                    for frame in self._sequence():
                        # a GIF frame may reach beyond the header's size, and Pillow then grows the canvas: the size
                        # after the seek, before the frame is loaded (the next seek loads it), is what it will decode
                        check_frame_size(*frame.size, f"{self.path} (frame {len(delays)})")
                        # decoded now, not only by the next seek (GIF and APNG load the previous frame there, and the
                        # last frame has no next): a damaged last frame is not counted, so the last frame written
                        # keeps its own delay (last_duration), not the lost one's
                        frame.load()
                        # in ms, kept fractional: an APNG's are fractions of a second (1/60 s, 16.667 ms)
                        delays.append(max(float(_delay(frame) or DEFAULT_DELAY_MS), 10.0))
                        stamps.append(frame.info.get("timestamp") if frame.format == "AVIF" else None)
                        may_have_alpha |= frame.mode in ("RGBA", "LA", "PA") or "transparency" in frame.info
                except Image.DecompressionBombError as exc:     # a frame growing the canvas past Pillow's limit
                    raise bomb_refusal(exc, f"{self.path} (frame {len(delays)})") from None
                except DAMAGED:
                    if not delays:
                        raise
                    self._damaged = True                    # the frames before the damage are read (see `missing`)
                if not self.count_known:
                    self._damaged = True
                self._im.seek(self._skip)
                self._im.convert("RGBA")                    # the first frame decodes, or nothing can be read
        except (UnidentifiedImageError, *DAMAGED) as exc:
            self._im.close()
            raise VidcolorError(f"{path}: cannot read as an animation ({unreadable_reason(path, exc)})") from None
        except VidcolorError:
            self._im.close()
            raise
        self._readable = len(delays)
        self.keeps_alpha = keep_alpha and may_have_alpha
        if len(delays) > 1 and None not in stamps and all(b > a for a, b in zip(stamps, stamps[1:])):
            # an AVIF's: Pillow rounds each delay to the ms (42 for 1/24 s, which drifts) and gives each frame's
            # time, rounded: the steps between those are the delays, without the drift
            delays[:-1] = np.diff(stamps).astype(float).tolist()
        total = sum(delays)
        fps = (Fraction(1000 * len(delays)) / Fraction(total)).limit_denominator(1000)
        loop = self._im.info.get("loop")        # no NETSCAPE block (GIF) or num_plays (APNG): played once
        if self._im.format == "AVIF":          # Pillow gives none: the file's edit list says
            loop = avif_loop(self.path)
        elif self._im.format in PLAYS_FORMATS and loop:
            loop = loop - 1 if loop > 1 else -1     # N plays in all: N - 1 more times, as GIF counts
        self.info = VideoInfo(width=self._im.size[0], height=self._im.size[1], fps=fps,
                              frames=n if n is not None else len(delays),
                              duration=total / 1000, loop=-1 if loop is None else int(loop),
                              pix_fmt=animation_pix_fmt(self._im, self.path))
        self.timeline = Timeline.of(fps, Fraction(1, 1000))
        # each frame's exact time rounded to the ms, not each delay: rounded delays would drift (16 ms for 1/60 s)
        for shown in np.rint(np.cumsum([0.0] + delays[:-1])).astype(int).tolist():
            self.timeline.add(shown)
        # the last frame keeps its own delay (a GIF that holds its last frame 2 s before it loops), not one mean
        # interval: it ends at the sum of the delays, rounded as the frames' times are
        self.timeline.last_duration = max(1, int(np.rint(total)) - shown)
        self.decoded = 0

    def __iter__(self) -> Iterator[np.ndarray]:
        """The frames, uint8 RGB ``(H, W, 3)`` (with :attr:`keeps_alpha`, the colour under the alpha, which
        :meth:`with_alpha` takes in the same order).

        Raises:
            ValueError: the reader is closed (:meth:`close`, or the end of its ``with`` block): at once, and at the
                next frame of an iterator made before (Pillow's closed file had read as damage, with no error); or
                it was iterated before (a reader is single-pass: a second iteration gave no frame).
        """
        self._check_open()
        if self._iterated:
            raise ValueError(f"{self.path}: the reader was iterated before (it is single-pass: open the file "
                             "again to read it again)")
        self._iterated = True
        return self._frames()

    def _sequence(self) -> Iterator[Image.Image]:
        """The image at each of its animation's frames in turn, from the first (past an APNG's default image that
        is not part of the animation: Pillow's frame 0, which it cannot seek back to once past it), as
        ``ImageSequence.Iterator`` gives them."""
        index = self._skip
        while True:
            try:
                self._im.seek(index)
            except EOFError:
                return
            yield self._im
            index += 1

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"{self.path}: the reader is closed")

    def _frames(self) -> Iterator[np.ndarray]:
        try:
            for frame in self._sequence():
                if self.decoded == self._readable:     # damage found while counting: it stops here
                    break
                rgba = (Image.fromarray(round16(np.asarray(frame))).convert("RGBA") if frame.mode in GRAY16_MODES
                        else frame.convert("RGBA"))
                if self.keeps_alpha:
                    rgb = rgba.convert("RGB")
                    self._alphas.append(np.asarray(rgba)[..., 3])
                else:
                    rgb = Image.new("RGB", rgba.size)              # black, under the frame's alpha
                    rgb.paste(rgba, mask=rgba)
                    self.composited = self.composited or rgba.getextrema()[3][0] < 255
                self.decoded += 1
                yield np.asarray(rgb)
                self._check_open()
        except (Image.DecompressionBombError, *DAMAGED):   # the frames before are whole (see `missing`)
            if self._closed:                                # not damage: _check_open's ValueError
                raise
            self._damaged = True
        if self._damaged:
            self.missing = max(self.info.frames - self.decoded, 1)

    def with_alpha(self, write: Callable[[np.ndarray], None]) -> Callable[[np.ndarray], None]:
        """``write`` (a :class:`~vidcolor.io.VideoWriter`'s, made with ``alpha=True``: it takes uint8 RGBA
        ``(H, W', 4)``) as a function of the processed frames, uint8 RGB ``(H, W', 3)`` given one at a time in the
        order they were read: each gets its frame's alpha (:attr:`keeps_alpha`), unchanged; a frame ``k`` times as
        wide (input | output side by side) gets it ``k`` times, as a still image's does.

        Raises:
            ValueError: the reader keeps no alpha; (from the function) more frames written than were read.
        """
        if not self.keeps_alpha:
            raise ValueError(f"{self.path}: the reader keeps no alpha (keep_alpha, an animation with transparency)")

        def written(rgb: np.ndarray) -> None:
            if not self._alphas:
                raise ValueError(f"{self.path}: more frames written than read")
            alpha = self._alphas.popleft()
            alpha = np.tile(alpha, (1, rgb.shape[1] // alpha.shape[1]))
            write(np.concatenate([rgb, alpha[..., None]], axis=-1))

        return written

    def close(self) -> None:
        """Release the file. Idempotent; iterating afterwards is a ``ValueError`` (:meth:`__iter__`)."""
        self._closed = True
        self._im.close()

    def __enter__(self) -> "AnimatedImageReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
