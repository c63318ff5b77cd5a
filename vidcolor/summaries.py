"""What a run's summary says besides its counts: the quantizers found, the frames passed unchanged, the inputs
skipped, an output another run wrote meanwhile."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from vidcolor.errors import option, worded
from vidcolor.io.writer import WRITTEN_MEANWHILE
from vidcolor.pipeline import Found, RunSummary


def unchanged_note(found: list[Found], unit: str = "frame", halved: str | None = None) -> str:
    """What of a run's frames passed unchanged, and why, where the quantizer alone does not say it
    (:attr:`~vidcolor.pipeline.Found.unchanged`): ``every frame passed unchanged: dequantize-pix2pix-rgb's strength for
    palette frames is 0 (consistency=False applies the generator as it is)`` (the generator was not run; the CLI says
    ``--no-consistency``, :func:`~vidcolor.errors.worded`), ``every frame
    passed unchanged`` where no quantizer was found, ``12 of 60 frames passed unchanged: ...`` where a model's strength
    of 0 left some; empty where the generator's correction was applied to every frame, or to some and the others had
    no quantizer (the quantizer's changes say which). Where the output's encode halves the colour resolution of its
    source (:attr:`~vidcolor.pipeline.Found.halved`: RGB or 4:4:4 video into 4:2:0), it says so: ``every frame passed
    unchanged (the 4:2:0 encode halves their colour resolution)``, which the frames otherwise were claimed to be; only
    where every entry passed unchanged was halved alike. ``halved``, where given, is said instead (a folder's:
    :func:`files_unchanged_note`)."""
    total = sum(f.frames for f in found)
    passed = sum(f.frames for f in found if f.unchanged is not None)
    why = "; ".join(dict.fromkeys(f.unchanged for f in found if f.unchanged))
    if not passed or (passed < total and not why):
        return ""
    if passed == total:
        head = ("the image" if total == 1 else "every image") if unit == "image" else "every frame"
    else:
        head = f"{passed} of {total} {unit}s"
    apply = option("consistency=False", "--no-consistency")
    if halved is None:      # said where every entry passed unchanged was halved alike
        halves = {f.halved for f in found if f.unchanged is not None}
        halved = halves.pop() if len(halves) == 1 else ""
    return worded(f"{head} passed unchanged" + f" ({halved})" * bool(halved)
                  + (f": {why} ({apply} applies the generator as it is)" if why else ""))


def files_unchanged_note(files: list[list[Found]], unit: str = "frame") -> str:
    """:func:`unchanged_note` of a folder's files, each one's :attr:`~vidcolor.pipeline.Found` entries in ``files`` (a
    still's, one of a frame), a local run's (:func:`~vidcolor.api.process`) and a Ray run's alike; the halving of
    colour (:attr:`~vidcolor.pipeline.Found.halved`) is said of the files it applies to, among those with frames that
    passed unchanged: ``every frame passed unchanged (the 4:2:0 encode halves their colour resolution in 1 of 3
    files)``, or as for one file where it applies to all of them alike. (A folder of an RGB clip and a 4:2:0 one
    said nothing of it, since not every file was halved.)"""
    passed = [next(iter({f.halved for f in file if f.unchanged is not None}), None) for file in files]
    passed = [h for h in passed if h is not None]           # each file's frames share one encode
    counts = Counter(passed)
    if len(counts) == 1:
        halved = next(iter(counts))
    else:
        halved = "; ".join(f"{what} in {n} of {len(passed)} files" for what, n in counts.most_common() if what)
    return unchanged_note([f for file in files for f in file], unit, halved)


CHANGES_SHOWN = 3
"""Changes of quantizer that a clip's summary names (:func:`quantizer_note`); more are counted."""


def quantizer_note(found: list[Found], entries: int | None = None) -> str:
    """A clip's quantizers for its summary: the first one's description with its measures, then the
    changes (:attr:`~vidcolor.pipeline.Dequantizer.found`, frames counted from 0), e.g. ``quantizer: palette of 15
    colours, confidence 0.99, margin 4.0; then no quantizer found from frame 120, palette of 15 colours from frame
    200``; after :data:`CHANGES_SHOWN` of them, ``and 4 more changes``. (It said ``(then 2 change(s))``.)
    ``entries``: how many ``found`` would hold uncut (:attr:`~vidcolor.pipeline.Dequantizer.found_changes`)."""
    starts, at = [], 0
    for part in found:
        starts.append((at, part.quantizer))
        at += part.frames
    later = starts[1:]
    note = "quantizer: " + found[0].measured
    if later:
        note += "; then " + ", ".join(f"{what} from frame {i}" for i, what in later[:CHANGES_SHOWN])
        more = (len(found) if entries is None else entries) - 1 - CHANGES_SHOWN
        if more > 0:
            note += f" and {more} more change{'' if more == 1 else 's'}"
    return note


def keyframes_note(fn) -> str:
    """How many keyframes the keyframe mode (:class:`~vidcolor.reference.KeyframeColorizer`, ``fn`` or the job that
    ``fn`` wraps) coloured in its clips (:attr:`~vidcolor.reference.KeyframeColorizer.clip_keyframes`), for a run's
    summary: ``3 keyframes (the first frame and each scene's)`` for one clip, ``5 keyframes in 2 clips (each clip's
    first frame and each scene's)`` for a folder's; empty for other jobs and where no clip was coloured (stills:
    each image its own keyframe). The summary had said nothing of the scenes found."""
    job = getattr(fn, "job", fn)
    counts = getattr(job, "clip_keyframes", None)
    if not isinstance(counts, list) or not counts:
        return ""
    n = sum(counts)
    if len(counts) > 1:
        return f"{n} keyframes in {len(counts)} clips (each clip's first frame and each scene's)"
    return "1 keyframe (the first frame)" if n == 1 else f"{n} keyframes (the first frame and each scene's)"


def skipped_note(n: int) -> str:
    """A folder run's inputs left because their outputs exist, for its summary: ``2 skipped: their outputs exist``."""
    return f"{n} skipped: {'its output exists' if n == 1 else 'their outputs exist'}"


def written_meanwhile_summary(output: str | Path) -> RunSummary:
    """The summary of a file's run whose output another run wrote while this one worked, left as that run wrote it
    (``skip_existing``): ``nothing to do: out.mp4 exists: another run wrote it while this one worked
    (skip_existing)``; a local run's (:func:`~vidcolor.api.process`) and a Ray run's alike."""
    return RunSummary(0, 0.0, str(output), skipped=1,
                      note=worded(f"{output} {WRITTEN_MEANWHILE} ({option('skip_existing')})"))


def quantizers_of_files(quantizers: list[set[str]]) -> str:
    """A folder's quantizers from each file's (:attr:`~vidcolor.pipeline.Dequantizer.found`), most files first:
    ``quantizers: palette of 15 colours in 2 files, no quantizer found in 1 file``, or ``quantizer: uniform 4/4/4
    bits (mid) in all 3 files``; a clip whose quantizer changed counts under each of its quantizers."""
    counts = Counter(q for found in quantizers for q in sorted(found))
    if len(counts) == 1:
        (what, n), = counts.items()
        return f"quantizer: {what}" + ("" if n == 1 else " in both files" if n == 2 else f" in all {n} files")
    return "quantizers: " + ", ".join(f"{what} in {n} file{'' if n == 1 else 's'}" for what, n in counts.most_common())
