"""Segments of a video file, split at keyframes: planned by demuxing alone, read back by seeking.

A distributed run (:mod:`vidcolor.distributed`) gives each segment to a worker, which decodes it from
its own seek, processes it and encodes it; the parts are then joined without re-encoding
(:func:`vidcolor.io.writer.join_segments`). Segment boundaries are keyframes, so each part starts
with a frame that decodes on its own; frames are assigned to segments by presentation timestamp, so
every frame of the serial decode lands in exactly one segment, B-frames of an open GOP included.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from vidcolor.errors import VidcolorError, option
from vidcolor.io.convert import frame_to_rgb
from vidcolor.io.reader import (DECODE_THREADS, VideoInfo, container_info, error_reason, frame_orientation, open_input,
                                rotate_frame, video_stream)
from vidcolor.io.limits import check_frame_size
from vidcolor.io.timing import RateGrid, Timeline

LOCAL = option("executor='local'")
"""What an error advises for a clip that cannot be split (:func:`~vidcolor.errors.option`)."""


class SegmentError(VidcolorError):
    """A segment of ``input`` (a path, :attr:`input`) that cannot be read as planned (:func:`read_segment`): damaged
    data, fewer frames than planned, a frame size that changes. It is the input's, not the run's: a rerun fails the
    same way, so a Ray run does not keep that input's finished segments for one. ``input`` is an attribute, so it
    survives pickling (Ray gives the driver a worker's exception)."""

    def __init__(self, message: str, input: str | Path):
        super().__init__(message)
        self.input = str(input)

    def __reduce__(self):       # with its attributes (a Ray worker's warnings, its notes)
        return _segment_error, (self.marked, self.input), self.__dict__


def _segment_error(message: str, input: str) -> SegmentError:
    return SegmentError(message, input)


@dataclass(frozen=True)
class Segment:
    """Frames ``[start, end)`` (display-order indices) of a clip, with ``warmup`` frames before them.

    ``first_pts`` is the presentation timestamp (video stream time base) of the first frame read (the
    first warm-up frame), ``start_pts`` of the first frame kept, ``end_pts`` of the first frame after
    the segment (None for the last segment). ``cut`` says the segment starts at a keyframe that the
    encoder placed off its regular interval (a scene cut).
    """

    index: int
    start: int
    end: int
    warmup: int
    first_pts: int
    start_pts: int
    end_pts: int | None
    cut: bool = False

    @property
    def frames(self) -> int:
        """Frames the segment contributes to the output (warm-up excluded)."""
        return self.end - self.start

    def span(self, time_base, grid: RateGrid | None = None, origin: int = 0) -> float | None:
        """Seconds from the segment's first frame to the next segment's (None for the last segment); with ``grid``
        (:func:`rate_grid`), between the two frames' places on it, counted from ``origin`` (the clip's first
        frame's pts), as :func:`read_segment` gives the frames' timestamps."""
        if self.end_pts is None:
            return None
        if grid is None:
            return float((self.end_pts - self.start_pts) * time_base)
        return float((grid.ticks(self.end_pts, origin) - grid.ticks(self.start_pts, origin)) * grid.time_base)


def rate_grid(path: str | Path) -> RateGrid | None:
    """The grid that a local run's :class:`~vidcolor.io.VideoReader` puts the video file's timestamps on
    (:class:`~vidcolor.io.timing.RateGrid`: Matroska's milliseconds at 30000/1001 on 1/30000), None where it keeps
    them as they are; the same for each segment, so that a Ray run's output has the local run's timing.

    Raises:
        VidcolorError: an unreadable file, or one without a video stream.
    """
    with open_input(path) as container:
        stream = video_stream(container)
        return RateGrid.of(stream.guessed_rate, stream.time_base, carried=container.format.name == "nut")


def check_segment_seconds(seconds: float) -> None:
    """Refuse a target segment length that splits nothing: ``seconds`` must be a finite number > 0 (NaN passed the
    check of ``> 0``'s negation alone, and infinity made one segment).

    Raises:
        VidcolorError: ``seconds`` is not a finite number > 0, naming ``segment_seconds`` (``--segment-seconds``).
    """
    if not (seconds > 0 and math.isfinite(seconds)):
        raise VidcolorError(f"{option('segment_seconds')} must be a finite number > 0, got {seconds}")


def plan_segments(path: str | Path, seconds: float, warmup: int = 0) -> tuple[list[Segment], VideoInfo]:
    """Split a video file at keyframes into segments of about ``seconds`` each, by demuxing only.

    Boundaries are keyframes between half and one and a half times the target length from the previous
    boundary; among them keyframes at scene cuts are preferred (a keyframe closer to its predecessor
    than the stream's usual keyframe interval was placed there by the encoder's scene-cut detection),
    then the one nearest the target. Where no keyframe falls in that window the nearest one after it is
    taken, so a stream with one keyframe is one segment.

    Args:
        path: a video file (not a pipe: segments are read back by seeking).
        seconds: target segment length in seconds (a finite number > 0: :func:`check_segment_seconds`).
        warmup: frames each segment reads before its first one (the serial run's state: temporal
            smoothing, the quantizer estimate); fewer for the first frames of the clip.

    Returns:
        The segments in order (together every frame once) and the clip's :class:`~vidcolor.io.VideoInfo`
        (``frames`` is the number of frames the packets describe, those the container marks to be discarded
        left out: the decoder drops their frames).

    Raises:
        VidcolorError: ``seconds`` not a finite number > 0, unreadable file, no video packets, or packets without
            (or with repeated) presentation timestamps.
    """
    check_segment_seconds(seconds)
    with open_input(path) as container:
        info = container_info(container, path)
        stream = video_stream(container)
        pts, keys = [], set()
        try:
            for packet in container.demux(stream):
                if packet.size == 0:      # the flush packet at the end
                    continue
                if packet.is_discard:     # before an edit list's start (an mp4 cut without re-encoding starts
                    continue              # at a keyframe before the cut): decoded, but never given as a frame
                if packet.pts is None:
                    raise VidcolorError(f"{path}: video packets carry no timestamps; it cannot be split "
                                        f"(use {LOCAL})")
                pts.append(packet.pts)
                if packet.is_keyframe:
                    keys.add(packet.pts)
        except av.FFmpegError as exc:
            raise VidcolorError(f"{path}: cannot read ({error_reason(exc)})") from None
    if not pts:
        raise VidcolorError(f"{path}: no video frames")
    order = sorted(pts)
    if len(set(order)) != len(order):
        raise VidcolorError(f"{path}: repeated video timestamps; it cannot be split (use {LOCAL})")
    info.frames = len(order)
    key_index = sorted(i for i, p in enumerate(order) if p in keys and i > 0)
    gaps = [b - a for a, b in zip([0] + key_index, key_index)]
    common = Counter(gaps).most_common(1)
    regular = common[0][0] if common and common[0][1] > 1 else max(gaps, default=0)   # the encoder's keyint
    cuts = {k for k, g in zip(key_index, gaps) if g < regular}
    target = max(1, round(seconds * float(info.fps)))
    bounds = [0]
    while True:
        cur = bounds[-1]
        if len(order) - cur <= target * 3 // 2:
            break
        later = [k for k in key_index if k > cur]
        window = [k for k in later if target // 2 <= k - cur <= target * 3 // 2]
        if window:
            best = min(window, key=lambda k: (k not in cuts, abs(k - cur - target)))
        elif beyond := [k for k in later if k - cur > target * 3 // 2]:
            best = beyond[0]        # a long GOP: the segment runs to the next keyframe
        else:
            break
        bounds.append(best)
    bounds.append(len(order))
    segments = []
    for i, (a, b) in enumerate(zip(bounds, bounds[1:])):
        first = max(0, a - warmup)
        segments.append(Segment(i, a, b, a - first, order[first], order[a], order[b] if b < len(order) else None,
                                cut=a in cuts))
    return segments, info


def read_segment(path: str | Path, segment: Segment, timeline: Timeline | None = None,
                 name: str | None = None, grid: RateGrid | None = None, origin: int = 0,
                 deep: bool = False) -> Iterator[np.ndarray]:
    """Decode one segment: its ``warmup`` frames, then its own, as uint8 RGB ``(H, W, 3)`` in display order (uint16,
    0..65535, with ``deep``: :func:`~vidcolor.io.convert.frame_to_rgb`'s, as :class:`~vidcolor.io.VideoReader`'s
    ``deep`` gives a source of more than 8 bits per sample).

    The file is sought to the keyframe at or before the first warm-up frame and decoded from there;
    frames are chosen by presentation timestamp, display rotation applied as
    :class:`~vidcolor.io.VideoReader` does. The segment's own frames' timestamps (not the warm-up's) are
    added to ``timeline`` (in the stream's time base, so that the first is 0) before each is yielded. The last
    segment ends with its planned frames, also where the file has grown since (a recording still being written).

    ``name``: the file as its messages name it (the path the user gave; a Ray worker reads it by its absolute
    path); ``path`` by default. ``grid`` (:func:`rate_grid`): the timestamps are added on it, counted from
    ``origin`` (the clip's first frame's pts), as a local run's reader adds them, in ``grid.time_base``.

    Raises:
        SegmentError: undecodable data (as a local run's error says it: the time of the last frame that decoded,
            and that nothing of the input is written), a frame size that changes (or one above the limits), or
            fewer frames than planned.
    """
    want = segment.warmup + segment.frames
    got = 0
    last = None                                 # the last frame's time (s), for a damaged packet's error
    name = str(path) if name is None else name
    with open_input(path) as container:
        stream = video_stream(container)
        stream.thread_type = DECODE_THREADS      # as the local reader: each refusal raised at its own packet
        try:
            if segment.first_pts != segment.start_pts or segment.start > 0:
                container.seek(segment.first_pts, stream=stream, backward=True, any_frame=False)
            size = rotation = None
            for frame in container.decode(stream):
                if frame.pts is None:
                    raise SegmentError(f"{name}: a decoded frame has no timestamp (use {LOCAL})", path)
                if frame.pts < segment.first_pts:
                    continue
                if segment.end_pts is not None and frame.pts >= segment.end_pts:
                    break
                if segment.end_pts is None and got == want:     # the last one, of a file grown since it was planned
                    break
                if size is None:
                    try:
                        check_frame_size(frame.width, frame.height, name)
                    except VidcolorError as exc:
                        raise SegmentError(exc.marked or str(exc), path) from None
                    size, rotation = (frame.width, frame.height), frame_orientation(frame)
                elif (frame.width, frame.height) != size:
                    raise SegmentError(f"{name}: the frame size changes in segment {segment.index}; split the input "
                                       "there", path)
                got += 1
                last = float((frame.pts - (stream.start_time or 0)) * stream.time_base) if stream.time_base else None
                if timeline is not None and frame.pts >= segment.start_pts:
                    timeline.add(frame.pts if grid is None else grid.ticks(frame.pts, origin))
                yield rotate_frame(frame_to_rgb(frame, deep), rotation)
        except av.FFmpegError as exc:
            where = f"a frame after {last:.3f} s" if last is not None else f"a frame of segment {segment.index}"
            raise SegmentError(f"{name}: {where} cannot be decoded ({error_reason(exc)}): the input is damaged there; "
                               f"nothing written ({option('ignore_errors')} with {LOCAL} skips the frames that cannot "
                               "be decoded, as ffmpeg does, and keeps the others)", path) from None
    if got != want:
        raise SegmentError(f"{name}: segment {segment.index} decoded {got} of its {want} frames "
                           f"(damaged file or inexact seeking; use {LOCAL})", path)
