"""Numbered image files read as one clip, as a film scan comes (``scan_000001.dpx``, ``scan_000002.dpx``, ...):
named by a printf pattern (``scan_%06d.dpx``), read by FFmpeg's image2 demuxer, as ``ffmpeg -framerate 24
-start_number 86400 -i scan_%06d.dpx`` reads them. Standard library alone; PyAV opens them
(:func:`~vidcolor.io.reader.open_input`)."""
from __future__ import annotations

import os
import re
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

from vidcolor.errors import VidcolorError, option

SEQUENCE_SUFFIXES = (".dpx", ".png", ".tif", ".tiff", ".jpg", ".jpeg")
"""Suffixes of the frames a sequence pattern names: a film scanner's DPX and TIFF, PNG and JPEG (each decoded by
FFmpeg: 8, 10, 12 and 16 bits per sample)."""

SEQUENCE_CODECS = {".png": "png", ".tif": "tiff", ".tiff": "tiff", ".dpx": "dpx", ".jpg": "mjpeg", ".jpeg": "mjpeg"}
"""Suffix of an output sequence's frames -> the FFmpeg encoder that writes them (as ``ffmpeg -i in.mov out_%06d.tif``
picks it from the suffix; JPEG's is ``mjpeg``)."""

FIRST_OUTPUT_NUMBER = 1
"""The number of an output sequence's first frame where the input is no sequence (a sequence's output keeps its
first number): FFmpeg's image2 muxer's own ``start_number``, so that ``ffmpeg -i clip.mp4 out_%06d.tif`` and vidcolor
number a clip's frames alike (frame 1 is ``out_000001.tif``)."""

FILM_FPS = Fraction(24)
"""The rate a sequence is read at when none is given: film is shot, scanned and projected at 24 frames a second
(image2's own default, 25, is PAL video's, and would run a film scan 4% fast)."""

class Sequence(NamedTuple):
    """The frames a pattern names, as found in its folder.

    Attributes:
        pattern: the pattern as given (``scan_%06d.dpx``).
        first: the lowest frame number found (image2's ``start_number``).
        count: frames from ``first`` on with no number missing: what is read (the reader stops at a gap, where
            image2, which finds the last number by probing ahead, might jump it and then fail).
        gap: the first number missing after ``first`` where frames come after it, else None.
        after: how many frames lie beyond ``gap`` (not read).
    """
    pattern: str
    first: int
    count: int
    gap: int | None
    after: int


_DIRECTIVE = re.compile(r"%(\d*)(\D|$)")
"""A ``%`` directive of a file name as FFmpeg's image2 reads one (``av_get_frame_filename2``): digits, then the
character that says what it is (``d``: a frame number; ``%``: a literal ``%``; anything else, or the name's end:
image2 refuses the name)."""


_LITERAL = re.compile(r"%\d*%")
"""A literal ``%`` in a file name as image2 writes it: ``%%``, or ``%`` and digits before the second (``%5%``:
``av_get_frame_filename2`` reads a directive's digits, then its character, whatever it is)."""


def _literal(text: str) -> str:
    """``text``, a part of a pattern's file name without its frame number, as the file name holds it: each literal
    ``%`` (:data:`_LITERAL`) one ``%``."""
    return _LITERAL.sub("%", text)


def _specs(name: str) -> list[re.Match]:
    """The printf frame numbers in a file ``name`` as FFmpeg's image2 takes them (``av_get_frame_filename``):
    ``%d``, or ``%0Nd`` / ``%Nd``, zero-padded to N digits (group 1: the digits); ``%%``, a literal ``%``,
    skipped."""
    return [m for m in _DIRECTIVE.finditer(name) if m[2] == "d"]


PATTERN_RULE = "a pattern holds one frame number (%d, or %06d for 6 digits) and %% for a literal %"
"""What a sequence's name may hold, as its errors say it (FFmpeg's image2 takes no other pattern)."""


def pattern_problem(name: str) -> str | None:
    """Why FFmpeg's image2 cannot take the file name ``name``, which holds a frame number (:func:`_specs`), as a
    pattern: a second frame number (``o_%d_%d.png``), or a ``%`` directive that is neither a frame number nor ``%%``
    (``o_%d_%s.png``, ``o_%d_50%.png``): image2 failed on them only once the run had begun, an output after all the
    frames were processed ('Cannot write filename by pts of the frames'). None for a name image2 takes."""
    specs = _specs(name)
    if len(specs) > 1:
        return f"it holds {len(specs)} frame numbers ({', '.join(m[0] for m in specs)}); {PATTERN_RULE}"
    bad = next((m for m in _DIRECTIVE.finditer(name) if m[2] not in ("d", "%")), None)
    if bad is not None:
        return f"'{bad[0]}' is no frame number; {PATTERN_RULE}"
    return None


def is_sequence(path: str | Path) -> bool:
    """True where ``path`` names an image sequence by a pattern: its file name holds one printf frame number
    (``%d``, ``%06d``), its suffix is one of :data:`SEQUENCE_SUFFIXES`, and no file of that very name exists (a file
    named ``50%d.png`` is that file). Nothing is listed: :func:`find_sequence` looks for the frames.

    Raises:
        VidcolorError: a name of such a suffix, that no file has, which holds a frame number but that FFmpeg's image2
            cannot take as a pattern (:func:`pattern_problem`: ``o_%d_%s.png``, ``o_%d_%d.png``), an input's or an
            output's alike (one line).
    """
    if str(path) in ("", "-") or not isinstance(path, (str, os.PathLike)):
        return False
    p = Path(path)
    if p.suffix.lower() not in SEQUENCE_SUFFIXES or not _specs(p.name) or os.path.lexists(p):
        return False
    problem = pattern_problem(p.name)
    if problem is not None:
        raise VidcolorError(f"{path}: not an image sequence's pattern: {problem}")
    return True


def _matcher(name: str) -> tuple[re.Pattern, int]:
    """A regular expression of the file names that the pattern ``name`` gives (the frame number its group), and the
    number's width (0: as printed)."""
    spec = _specs(name)[0]
    head, tail = (re.escape(_literal(part)) for part in (name[:spec.start()], name[spec.end():]))
    return re.compile(f"{head}(\\d+){tail}"), int(spec[1] or 0)


def frame_numbers(pattern: str | Path) -> set[int]:
    """The frame numbers of the files in ``pattern``'s folder that the pattern names (:func:`is_sequence`): a number is
    a frame where formatting it as the pattern does gives the file's name (``%06d``: ``scan_000012.dpx``,
    ``scan_1234567.dpx``; not ``scan_12.dpx``).

    Raises:
        VidcolorError: the folder is missing or cannot be listed.
    """
    p = Path(pattern)
    folder = p.parent
    regex, width = _matcher(p.name)
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        raise VidcolorError(f"{pattern}: no such folder {folder}") from None
    except OSError as exc:
        raise VidcolorError(f"{pattern}: cannot list {folder} ({exc.strerror or exc})") from None
    numbers = set()
    for name in names:
        m = regex.fullmatch(name)
        if m and f"{int(m[1]):0{width}d}" == m[1]:
            numbers.add(int(m[1]))
    return numbers


def image2_path(pattern: str | Path) -> str:
    """``pattern`` as FFmpeg's image2 demuxer and muxer take it: they read every ``%`` of the whole path as the
    pattern's, so a ``%`` in a folder's name (``p 50%/f_%d.png``) is escaped (``p 50%%/f_%d.png``); the file name's
    own are left as they are (its frame number, and ``%%`` for a ``%``)."""
    path = os.fspath(pattern)
    folder = os.path.split(path)[0]
    return folder.replace("%", "%%") + path[len(folder):]


def frame_path(pattern: str | Path, number: int) -> Path:
    """The file of frame ``number`` of ``pattern`` (``scan_%06d.dpx``, 12 -> ``scan_000012.dpx``), as image2 names
    it (``%%`` a ``%``)."""
    p = Path(pattern)
    spec = _specs(p.name)[0]
    width = int(spec[1] or 0)
    return p.with_name(_literal(p.name[:spec.start()]) + f"{number:0{width}d}" + _literal(p.name[spec.end():]))


def frame_names(pattern: str | Path, numbers: list[int], shown: int = 3) -> str:
    """Frames ``numbers`` of ``pattern`` (in order, at least one) as a message names them: the files of the first
    ``shown`` and a count of the rest (``f_1004.png``; ``f_1004.png, f_1006.png, f_1007.png and 2 more``)."""
    names = ", ".join(frame_path(pattern, n).name for n in numbers[:shown])
    return names + (f" and {len(numbers) - shown} more" if len(numbers) > shown else "")


def find_sequence(pattern: str | Path) -> Sequence:
    """The frames of ``pattern`` (:func:`is_sequence`) in its folder: a number is a frame where formatting it as the
    pattern does gives the file's name (``%06d``: ``scan_000012.dpx``, ``scan_1234567.dpx``; not ``scan_12.dpx``).

    Raises:
        VidcolorError: the folder is missing or cannot be listed, or no file matches the pattern (one line, naming
            the name its first frame would have).
    """
    numbers = frame_numbers(pattern)
    if not numbers:
        raise VidcolorError(f"{pattern}: no frames: no file in {Path(pattern).parent} is named as the pattern gives "
                            f"({frame_path(pattern, 1).name}, at any number)")
    first = min(numbers)
    count = 0
    while first + count in numbers:
        count += 1
    after = len(numbers) - count
    return Sequence(str(pattern), first, count, first + count if after else None, after)


def sequence_stem(pattern: str | Path) -> str:
    """The name of the clip ``pattern`` gives, to name its output by (:func:`~vidcolor.io.paths.default_output`):
    its file name without the frame number, its suffix and the separators left at the end (``scan_%06d.dpx`` ->
    ``scan``, ``reel1.%04d.tif`` -> ``reel1``); a name that is the number alone (``%06d.dpx``) takes its folder's
    (``reel1/%06d.dpx`` -> ``reel1``)."""
    p = Path(pattern)
    spec = _specs(p.stem)[0]
    stem = (_literal(p.stem[:spec.start()]) + _literal(p.stem[spec.end():])).strip("_-. ")
    return stem or p.parent.resolve().name or "sequence"


def sequence_options(found: Sequence, fps: Fraction) -> dict[str, str]:
    """The image2 demuxer's options that read ``found`` at ``fps`` frames a second: from its first number on
    (``start_number``; image2 looks only from 0 to 4 by itself, and a scan often starts at 1001 or 86400), the name
    a printf pattern (``pattern_type`` ``sequence``: ``*`` and ``?`` taken as they are)."""
    return {"start_number": str(found.first), "framerate": f"{fps.numerator}/{fps.denominator}",
            "pattern_type": "sequence"}


def gap_message(found: Sequence) -> str | None:
    """What a sequence with a number missing loses (the reader stops at it), else None."""
    if found.gap is None:
        return None
    return (f"{found.pattern}: frame {found.gap} is missing: the {found.count} frames from {found.first} are read, not "
            f"the {found.after} after it")


def no_fps_message(pattern: str | Path) -> str:
    """The warning of a sequence read at :data:`FILM_FPS` because no rate was given."""
    return (f"{pattern}: no {option('fps')} given: the sequence is read at {FILM_FPS} fps, film's rate (give "
            f"{option('fps')} 25 or another for video frames)")


def sequence_codec(pattern: str | Path) -> str:
    """The encoder of the output sequence ``pattern``'s frames, from its suffix (:data:`SEQUENCE_CODECS`)."""
    return SEQUENCE_CODECS[Path(pattern).suffix.lower()]


def frames_named(pattern: str | Path) -> str:
    """The output sequence ``pattern``'s frames as a message names them: ``PNG frames``, ``TIFF frames``, ``DPX
    frames``, ``JPEG frames`` (by :func:`sequence_codec`, ``.tif`` and ``.tiff`` alike)."""
    codec = sequence_codec(pattern)
    return f"{'JPEG' if codec == 'mjpeg' else codec.upper()} frames"


def check_sequence_target(pattern: str | Path, overwrite: bool) -> set[int]:
    """Refuse, before any work, an output sequence ``pattern`` of which a frame exists (any file the pattern names,
    at any number: frames of an earlier run left beside the new ones would read as one sequence), unless
    ``overwrite``; a folder that does not exist yet holds none. Returns the numbers found (with ``overwrite``).

    Raises:
        VidcolorError: naming how many frames exist and their first and last file (one line); the folder cannot be
            listed.
    """
    if not Path(pattern).parent.is_dir():
        return set()
    numbers = frame_numbers(pattern)
    if numbers and not overwrite:
        first, last = frame_path(pattern, min(numbers)).name, frame_path(pattern, max(numbers)).name
        held = first if len(numbers) == 1 else f"{first} to {last}"
        n = len(numbers)
        raise VidcolorError(f"{pattern}: {n} frame{'s' * (n != 1)} of it exist{'s' * (n == 1)} ({held}); use "
                            f"{option('overwrite')} to replace {'them' if n != 1 else 'it'}")
    return numbers
