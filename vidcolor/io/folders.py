"""A folder given as input: its still images and clips (listed once a run), and the output each is written to."""
from __future__ import annotations

import contextlib
import contextvars
import re
from collections import Counter
from pathlib import Path

from vidcolor.errors import VidcolorError, warn
from vidcolor.io import is_still_image, list_images_in, list_videos_in
from vidcolor.io.files import IMAGE_SUFFIXES
from vidcolor.io.naming import natural_sorted
from vidcolor.io.reader import VIDEO_SUFFIXES, probe
from vidcolor.io.sequences import SEQUENCE_SUFFIXES, find_sequence
from vidcolor.io.writer import format_suffix


_LISTINGS: contextvars.ContextVar[dict | None] = contextvars.ContextVar("vidcolor_listings", default=None)
"""The folders listed by the run in progress (:func:`one_listing`): folder -> :func:`folder_contents`."""


@contextlib.contextmanager
def one_listing():
    """A run in which :func:`folder_contents` lists each folder once, however many of its checks ask (the CLI's,
    :func:`~vidcolor.checks.nothing_to_do`, :func:`~vidcolor.checks.check_spares_inputs`,
    :func:`~vidcolor.api._process_folder`: five listings with ``skip_existing``, each opening the folder's GIFs again);
    a run inside another shares its listings. :func:`~vidcolor.api.dequantize`, :func:`~vidcolor.api.colorize` and
    :func:`~vidcolor.api.process` are each one (a decorator too)."""
    if _LISTINGS.get() is not None:
        yield
        return
    token = _LISTINGS.set({})
    try:
        yield
    finally:
        _LISTINGS.reset(token)


def folder_contents(folder: str | Path) -> tuple[list[Path], list[Path]]:
    """``(stills, clips)`` directly inside ``folder``: still images; videos and animated images; each in natural
    order of their names (:func:`~vidcolor.io.naming.natural_sorted`: 2.png before 10.png); hidden files (``.name``)
    are not taken. Within :func:`one_listing`, the run's listing of ``folder`` (new lists); a run's listing of
    stills alone that are one image sequence's frames warns, once, of the pattern that reads them as a clip
    (:func:`sequence_in`)."""
    listed = _LISTINGS.get()
    if listed is None or Path(folder) not in listed:
        images = list_images_in(folder)
        animated = [not is_still_image(p) for p in images]      # animations and videos named as images: clips
        contents = ([p for p, moving in zip(images, animated) if not moving],
                    natural_sorted(list_videos_in(folder) + [p for p, moving in zip(images, animated) if moving]))
        if listed is None:
            return contents
        listed[Path(folder)] = contents
        if not contents[1] and (pattern := sequence_in(folder, contents[0])) is not None:
            stills = contents[0]
            warn(f"{folder}: its {len(stills)} images, {stills[0].name} to {stills[-1].name}, look like one image "
                 f"sequence, and a folder's images are processed as separate stills: pass '{pattern}' to process "
                 "them as a clip")
    stills, clips = listed[Path(folder)]
    return list(stills), list(clips)


SEQUENCE_HINT_FRAMES = 24
"""The fewest numbered stills that :func:`sequence_in` takes for an image sequence's frames: one second of film. A
handful of numbered photos (``IMG_0001.jpg`` to ``IMG_0005.jpg``, of one camera and size) is no clip."""

NUMBERED_NAME = re.compile(r"(.*?)(\d+)(\.[^.]+)")
"""A file name of a frame of a sequence: a head, the frame number (the last digits before the suffix), the suffix."""


def sequence_in(folder: str | Path, stills: list[Path]) -> str | None:
    """The printf pattern (:func:`~vidcolor.io.sequences.is_sequence`) that reads ``stills``, the still images of
    ``folder`` (:func:`folder_contents`, in natural order), as one image sequence, where they are one: at least
    :data:`SEQUENCE_HINT_FRAMES`, named one head, a number and one suffix of
    :data:`~vidcolor.io.sequences.SEQUENCE_SUFFIXES` each (``scan_000001.dpx``), whose numbers the pattern finds
    (:func:`~vidcolor.io.sequences.find_sequence`: zero-padded to one width, ``%06d``, or unpadded, ``%d``) as one
    run without a gap, the first and the last of one frame size (as FFmpeg reads them:
    :func:`~vidcolor.io.reader.probe`; the others are not opened). Else None (also where the
    first or last cannot be read)."""
    parts = [NUMBERED_NAME.fullmatch(p.name) for p in stills]
    if len(stills) < SEQUENCE_HINT_FRAMES or not all(parts) or len({(m[1], m[3]) for m in parts}) != 1:
        return None
    head, _, suffix = parts[0].groups()
    digits = [m[2] for m in parts]
    padded = any(len(d) > 1 and d.startswith("0") for d in digits)
    if suffix.lower() not in SEQUENCE_SUFFIXES or padded and len({len(d) for d in digits}) != 1:
        return None
    pattern = str(Path(folder) / (head.replace("%", "%%") + (f"%0{len(digits[0])}d" if padded else "%d") +
                                  suffix.replace("%", "%%")))
    try:
        found = find_sequence(pattern)
        if found.count != len(stills) or found.gap is not None:
            return None
        first, last = probe(stills[0]), probe(stills[-1])
    except VidcolorError:
        return None
    return pattern if (first.width, first.height) == (last.width, last.height) else None


def folder_targets(folder: Path, out_dir: Path, container: str | None) -> tuple[list[Path], list[Path], list[Path],
                                                                                list[Path]]:
    """``(stills, clips, still_targets, clip_targets)``: a folder's inputs (:func:`folder_contents`) and their
    outputs in ``out_dir`` (see :func:`~vidcolor.api._process_folder`).

    Raises:
        VidcolorError: a folder without images or videos, two inputs that would be written to one name.
    """
    stills, clips = folder_contents(folder)
    if not stills and not clips:
        # a folder of folders (one per shot, say): they are not looked into, which the error says
        subs = natural_sorted(p.name + "/" for p in Path(folder).iterdir() if p.is_dir() and not p.name.startswith("."))
        named = ", ".join(subs[:3]) + (", ..." if len(subs) > 3 else "")
        # files of formats it does not read (a VFX plate's .exr frames): named, not taken for nothing
        others = Counter(p.suffix.lower() or p.name for p in Path(folder).iterdir()
                         if p.is_file() and not p.name.startswith("."))
        held = ", ".join(f"{n} {kind} file{'s' if n > 1 else ''}" for kind, n in others.most_common(3))
        raise VidcolorError(f"{folder}: no images or videos in folder" + (
            f" (its subfolder {named} is not looked into: give it)" if len(subs) == 1 else
            f" (its {len(subs)} subfolders, {named}, are not looked into: give each)" if subs else "") + (
            f" (it holds {held}, not formats vidcolor reads: images {' '.join(IMAGE_SUFFIXES)}, videos "
            f"{' '.join(VIDEO_SUFFIXES)})" if held else ""))
    stems = [p.stem for p in stills]
    still_targets = [out_dir / (f"{p.stem}.png" if stems.count(p.stem) == 1 else f"{p.name}.png") for p in stills]
    clip_suffix = format_suffix(container or "mp4")
    clip_targets = [out_dir / f"{p.stem}{clip_suffix}" for p in clips]
    written_from: dict[str, Path] = {}
    for source, target in zip(stills + clips, still_targets + clip_targets):   # a.png, a.jpg and a.png.png
        if target.name in written_from:
            raise VidcolorError(f"{folder}: {written_from[target.name].name} and {source.name} would both be written "
                                f"to {target.name}; rename one")
        written_from[target.name] = source
    return stills, clips, still_targets, clip_targets


def left_to_do(inputs: list[Path], targets: list[Path]) -> tuple[list[Path], list[Path]]:
    """``inputs`` and their ``targets`` but those whose target exists (``skip_existing``)."""
    left = [i for i, target in enumerate(targets) if not target.is_file()]
    return [inputs[i] for i in left], [targets[i] for i in left]
