"""vidcolor.io.convert: YUV <-> RGB without the truncation bias of swscale's defaults."""
from __future__ import annotations

import os
import time

import av
import numpy as np
import pytest

from helpers import gradient_image
from vidcolor.io import VideoReader, VideoWriter
from vidcolor.io.convert import _SUBSAMPLED_8BIT, _SUBSAMPLED_DEEP, _replicated_444, frame_to_rgb, rgb_to_frame


@pytest.mark.parametrize("rgb", [(200, 128, 128), (17, 240, 90), (128, 128, 128)])
@pytest.mark.parametrize("pix_fmt,size", [("yuv420p", (16, 16)), ("yuv420p", (15, 17)), ("yuv422p", (8, 10)),
                                          ("yuvj420p", (16, 16)), ("yuv444p", (6, 6))])
def test_flat_colour_round_trips_within_one_level(rgb, pix_fmt, size):
    img = np.zeros((*size, 3), np.uint8) + np.array(rgb, np.uint8)
    frame = rgb_to_frame(img, pix_fmt)
    assert frame.format.name == pix_fmt
    back = frame_to_rgb(frame)
    assert back.shape == img.shape
    assert np.abs(back.astype(int) - img).max() <= 1


def test_writer_reader_generation_is_unbiased(tmp_path):
    """Lossless H.264 (crf 0 keeps luma exact) then our reader: no systematic level shift.
    With swscale's default (truncating) conversions this measured about -1 level per channel."""
    frames = np.stack([gradient_image(64, 96)] * 3)
    path = tmp_path / "g.mp4"
    with VideoWriter(path, 96, 64, 24, crf=0, overwrite=True) as w:
        w.write(frames)
    with VideoReader(path) as r:
        got = np.stack(list(r)).astype(np.float64)
    bias = (got - frames).reshape(-1, 3).mean(axis=0)
    assert np.all(np.abs(bias) < 0.3), bias


def _samples(plane: av.video.plane.VideoPlane, dtype: type) -> np.ndarray:
    itemsize = np.dtype(dtype).itemsize
    return np.frombuffer(plane, dtype).reshape(plane.height, plane.line_size // itemsize)[:, :plane.width]


@pytest.mark.parametrize("fmt", sorted(_SUBSAMPLED_8BIT | set(_SUBSAMPLED_DEEP)))
def test_replicated_chroma_is_each_sample_repeated_cut_at_the_edge(fmt):
    """Written straight into the 4:4:4 frame's planes (strided rows), each chroma sample repeated ceil(H / h) x
    ceil(W / w) times and cut at the edge, as ``repeat(...).repeat(...)[:H, :W]`` made it: odd and tiny sizes too,
    where the last row or column of chroma covers fewer pixels (and 4:1:0 at 5 rows repeats 3 times, not 4)."""
    rng = np.random.default_rng(7)
    dtype = np.uint16 if fmt in _SUBSAMPLED_DEEP else np.uint8
    for w, h in [(64, 36), (65, 37), (7, 9), (5, 5), (1, 1), (2, 3)]:
        frame = av.VideoFrame(w, h, fmt)
        for plane in frame.planes:
            samples = np.frombuffer(plane, dtype)
            samples[...] = rng.integers(0, 1 << (10 if dtype == np.uint16 else 8), samples.shape, dtype)
        out = _replicated_444(frame)
        assert out.format.name == _SUBSAMPLED_DEEP.get(fmt, "yuv444p") and (out.width, out.height) == (w, h)
        for src, dst in zip(frame.planes, out.planes):
            c = _samples(src, dtype)
            expected = c.repeat(-(-h // c.shape[0]), 0).repeat(-(-w // c.shape[1]), 1)[:h, :w]
            assert np.array_equal(_samples(dst, dtype), expected), (fmt, w, h)


def test_kept_reformatter_follows_each_frames_matrix_range_and_size():
    """frame_to_rgb keeps one swscale context per thread: a frame of another colour matrix, range or size after it
    still converts as a fresh ``frame.reformat`` converts it (a stale context would repeat the first frame's)."""
    from vidcolor.io.convert import EXACT
    rng = np.random.default_rng(3)
    for (w, h), cs, cr in [((32, 24), 5, 1), ((32, 24), 1, 1), ((32, 24), 1, 2), ((33, 25), 5, 1), ((32, 24), 5, 1)]:
        frame = av.VideoFrame(w, h, "yuv444p")
        for plane in frame.planes:
            samples = np.frombuffer(plane, np.uint8)
            samples[...] = rng.integers(16, 236, samples.shape, np.uint8)
        frame.colorspace, frame.color_range = cs, cr
        fresh = av.VideoFrame.reformat(frame, format="rgb24", interpolation=EXACT).to_ndarray()
        assert np.array_equal(frame_to_rgb(frame), fresh), ((w, h), cs, cr)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")
def test_a_forked_process_converts_after_its_parent_has():
    """A training run's DataLoader workers are forked: the swscale context that frame_to_rgb keeps must hold no
    threads, which a forked child lacks (with threads of its own, the child's next frame hung)."""
    frame = rgb_to_frame(np.full((24, 32, 3), 90, np.uint8))
    frame_to_rgb(frame)                                 # the parent's context, set up
    pid = os.fork()
    if pid == 0:                                        # the child: convert, and leave without pytest's cleanup
        os._exit(0 if frame_to_rgb(frame).shape == (24, 32, 3) else 1)
    deadline = time.monotonic() + 10
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    if done[0] == 0:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the forked process hung in frame_to_rgb")
    assert os.waitstatus_to_exitcode(done[1]) == 0


def test_a_frame_above_the_kept_size_converts_on_swscales_own_threads(monkeypatch):
    """Frames above KEPT_PIXELS (4K) go through a fresh frame.reformat, threaded by swscale as before the kept
    one-thread context (which took a 4K frame 1.5 times as long): the same samples, and no context kept."""
    import threading

    import vidcolor.io.convert as convert
    frame = rgb_to_frame(np.random.default_rng(4).integers(0, 256, (24, 32, 3), np.uint8))
    kept = frame_to_rgb(frame)                          # on this thread's kept context
    monkeypatch.setattr(convert, "KEPT_PIXELS", 24 * 32 - 1)
    seen = {}

    def convert_in_a_new_thread():
        seen["rgb"] = frame_to_rgb(frame)
        seen["kept"] = getattr(convert._local, "reformatter", None)

    t = threading.Thread(target=convert_in_a_new_thread)
    t.start()
    t.join()
    assert seen["kept"] is None and np.array_equal(seen["rgb"], kept)
