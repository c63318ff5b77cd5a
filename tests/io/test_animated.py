"""Animated GIF, APNG and WebP are clips: read through Pillow, written to video or, when asked, to GIF."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageSequence

from helpers import damaged_image_files, decode_all, listing, run_cli
from vidcolor.io import AnimatedImageReader, is_animated


def _animation(path, n=6, delay=50):
    """``n`` frames of flat grey levels 0, 40, 80... with ``delay`` ms per frame."""
    frames = [Image.fromarray(np.full((24, 32, 3), 40 * i, np.uint8)) for i in range(n)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=delay, loop=0)


@pytest.mark.parametrize("suffix", [".gif", ".png", ".webp"])
def test_animated_images_read_as_clips(tmp_path, suffix):
    path = tmp_path / f"a{suffix}"
    _animation(path)
    assert is_animated(path)
    with AnimatedImageReader(path) as r:
        frames = list(r)
        assert r.info.frames == 6 and r.info.fps == 20 and (r.info.width, r.info.height) == (32, 24)
    assert len(frames) == 6 and frames[0].shape == (24, 32, 3)
    assert np.abs(np.array([f.mean() for f in frames]) - 40 * np.arange(6)).max() < 2
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / f"still{suffix}")
    assert not is_animated(tmp_path / f"still{suffix}") and not is_animated(tmp_path / "missing.gif")


def test_an_apng_s_default_image_outside_the_animation_is_not_a_frame(tmp_path):
    """An APNG may store a default image that is not part of its animation (what a viewer without APNG shows):
    Pillow counts it as frame 0, and it was read as the clip's first frame, 100 ms of a picture that ffmpeg and
    browsers never show; the clip is now the animation's frames alone, with their delays."""
    poster = Image.new("RGB", (32, 24), (255, 255, 255))
    frames = [Image.fromarray(np.full((24, 32, 3), 40 * (i + 1), np.uint8)) for i in range(3)]
    poster.save(tmp_path / "a.png", save_all=True, append_images=frames, duration=[70, 50, 60],
                default_image=True, loop=0)
    with AnimatedImageReader(tmp_path / "a.png") as r:
        got = list(r)
        assert r.info.frames == 3 and r.timeline.pts == [0, 70, 120] and r.info.duration == pytest.approx(0.18)
    assert [int(f.mean()) for f in got] == [40, 80, 120]
    res = run_cli("dequantize", "a.png", "-o", "a.mkv", "-q", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert len(decode_all(tmp_path / "a.mkv")[0]) == 3


def test_an_animated_gif_named_jpg_is_a_clip_and_a_two_image_jpeg_a_still(tmp_path):
    """An animated GIF saved as .jpg (browsers play it, ffmpeg reads its frames) was read as a still by its suffix:
    its first frame alone, silently. Animation is now told by the contents; a JPEG holding a second image (MPO, an
    Ultra HDR photo's gain map), which Pillow counts as a frame, stays a still."""
    _animation(tmp_path / "a.gif")
    (tmp_path / "a.gif").rename(tmp_path / "a.jpg")
    assert is_animated(tmp_path / "a.jpg")
    res = run_cli("dequantize", "a.jpg", "-q", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert len(decode_all(tmp_path / "a_dequantized.mp4")[0]) == 6
    photo = Image.fromarray(np.full((24, 32, 3), 90, np.uint8))
    photo.save(tmp_path / "hdr.jpg", format="MPO", save_all=True, append_images=[photo.convert("L")])
    assert not is_animated(tmp_path / "hdr.jpg")


def test_iterating_a_closed_animation_is_a_value_error(tmp_path):
    """After close() Pillow's closed file read as damage: 0 frames and ``missing`` 1, with no error."""
    _animation(tmp_path / "a.gif")
    r = AnimatedImageReader(tmp_path / "a.gif")
    it = iter(r)
    next(it)
    r.close()
    with pytest.raises(ValueError, match="the reader is closed"):
        next(it)
    assert r.missing == 0
    r.close()
    with pytest.raises(ValueError, match="the reader is closed"):
        iter(r)


def test_an_animation_reader_is_single_pass(tmp_path):
    """A second iteration gave no frame, with no error; now a ValueError, as VideoReader's."""
    _animation(tmp_path / "a.gif")
    with AnimatedImageReader(tmp_path / "a.gif") as r:
        assert len(list(r)) == 6
        with pytest.raises(ValueError, match="iterated before"):
            iter(r)


def test_the_cli_turns_an_animated_gif_into_a_clip_or_a_gif(tmp_path):
    _animation(tmp_path / "a.gif")
    res = run_cli("dequantize", "a.gif", "-q", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    frames, rate, _ = decode_all(str(tmp_path / "a_dequantized.mp4"))
    assert len(frames) == 6 and rate == 20
    res = run_cli("dequantize", "a.gif", "-q", "-o", "b.gif", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    with AnimatedImageReader(tmp_path / "b.gif") as r:
        assert r.info.frames == 6 and abs(float(np.mean(list(r)[3])) - 120) < 3
    assert listing(tmp_path) == {"a.gif", "a_dequantized.mp4", "b.gif"}


def test_a_frame_larger_than_the_header_is_refused_before_it_is_decoded(tmp_path):
    """A GIF frame may reach beyond the header's 16x16 and Pillow grows the canvas to it: each frame's size is
    checked against the limits (vidcolor/io/limits.py) before it is decoded, as the header's is."""
    import resource
    import time

    from helpers import assert_one_line_error, gif_growing
    from vidcolor.errors import VidcolorError

    gif_growing(tmp_path / "grow.gif", 9000, 8000)             # 72 megapixels
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    with pytest.raises(VidcolorError, match=r"frame 1\): frame size 9000x8000 is too large"):
        AnimatedImageReader(tmp_path / "grow.gif")
    assert time.perf_counter() - t < 1.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000     # KB: nothing allocated
    res = run_cli("dequantize", "grow.gif", cwd=tmp_path)
    assert_one_line_error(res)
    assert "too large" in res.stderr and listing(tmp_path) == {"grow.gif"}


def test_transparency_is_composited_on_black(tmp_path):
    frames = [Image.fromarray(np.dstack([np.full((8, 8, 3), 200, np.uint8), np.full((8, 8), a, np.uint8)]), "RGBA")
              for a in (255, 128, 0)]
    frames[0].save(tmp_path / "a.png", save_all=True, append_images=frames[1:], duration=100)
    with AnimatedImageReader(tmp_path / "a.png") as r:
        got = list(r)
    assert [f.dtype for f in got] == [np.uint8] * 3
    assert [int(f[0, 0, 0]) for f in got] == [200, 100, 0] and all((f == f[0, 0]).all() for f in got)


@pytest.mark.parametrize("loop", [None, 0, 3])
def test_gif_output_keeps_the_source_animations_loop_count(tmp_path, loop):
    """A GIF that plays once (no NETSCAPE block) or three more times was written looping forever."""
    from fractions import Fraction

    from vidcolor.io import VideoWriter

    frames = [Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)) for i in range(3)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=100,
                   **({} if loop is None else {"loop": loop}))
    with AnimatedImageReader(tmp_path / "a.gif") as r:
        assert r.info.loop == (-1 if loop is None else loop)
        with VideoWriter(tmp_path / "b.gif", 8, 8, r.info.fps, timeline=r.timeline, loop=r.info.loop) as w:
            w.write(np.stack(list(r)))
    with Image.open(tmp_path / "b.gif") as im:
        assert im.info.get("loop") == loop
    with VideoWriter(tmp_path / "c.gif", 8, 8, Fraction(10)) as w:     # from a video: forever, as before
        w.write(np.zeros((2, 8, 8, 3), np.uint8))
    with Image.open(tmp_path / "c.gif") as im:
        assert im.info.get("loop") == 0


@pytest.mark.parametrize("suffix, plays, loop", [(".png", 1, -1), (".png", 3, 2), (".png", 0, 0),
                                                  (".webp", 1, -1), (".webp", 2, 1), (".webp", 0, 0)])
def test_an_apng_or_webp_s_number_of_plays_is_gif_s_loop_count_plus_one(tmp_path, suffix, plays, loop):
    """An APNG's num_plays and a WebP's loop count are the plays in all (0: for ever); GIF's NETSCAPE count, which
    ``info.loop`` gives GIF output, the plays after the first: an APNG that plays once came out as a GIF that
    plays twice (loop 1), one that plays 3 times as one that plays 4."""
    frames = [Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)) for i in range(3)]
    frames[0].save(tmp_path / f"a{suffix}", save_all=True, append_images=frames[1:], duration=100, loop=plays,
                   **({"lossless": True} if suffix == ".webp" else {}))
    with AnimatedImageReader(tmp_path / f"a{suffix}") as r:
        assert r.info.loop == loop


@pytest.mark.parametrize("edit, loop", [(None, 0), ("three plays", 2), ("no repeat", -1)])
def test_an_animated_avif_s_loop_count_comes_from_its_edit_list(tmp_path, edit, loop):
    """Pillow gives no loop count for AVIF, so every animated AVIF became a GIF that plays once, where libavif's
    default (which Pillow writes: an edit list repeated for an indefinite duration) loops for ever. Its track's
    edit list is now read: repeated for ever, 3 plays (a duration of 3 edits: 2 more times), no repeat flag (once)."""
    from PIL import features

    if not features.check("avif"):
        pytest.skip("Pillow without libavif")
    frames = [Image.fromarray(np.full((16, 16, 3), 40 * i, np.uint8)) for i in range(3)]
    path = tmp_path / "a.avif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
    data = bytearray(path.read_bytes())
    tkhd, elst = data.index(b"tkhd") + 4, data.index(b"elst") + 4
    assert data[tkhd] == 1 and data[elst] == 1 and data[tkhd + 28:tkhd + 36] == b"\xff" * 8     # libavif's form
    if edit == "three plays":
        data[tkhd + 28:tkhd + 36] = (3 * int.from_bytes(data[elst + 8:elst + 16], "big")).to_bytes(8, "big")
    elif edit == "no repeat":
        data[elst + 3] &= 0xFE
    path.write_bytes(bytes(data))
    with AnimatedImageReader(path) as r:
        assert r.info.loop == loop


def _cut_where(data: bytes, fails) -> bytes:
    """The longest prefix of ``data`` for which ``fails(Image)`` raises (a cut that some damage check needs)."""
    import io

    for end in range(len(data) - 1, 0, -1):
        try:
            with Image.open(io.BytesIO(data[:end])) as im:
                fails(im)
        except Exception:   # noqa: BLE001 - whichever Pillow raises: the test then checks vidcolor's handling
            return data[:end]
    raise AssertionError("no such cut")


def _apng_with_bad_sequence(path, n=4):
    """An APNG whose second frame's fcTL carries a wrong sequence number (CRC fixed): Pillow raises SyntaxError
    ('APNG contains frame sequence errors') when seeking to it."""
    import struct
    import zlib

    _animation(path, n=n)
    data = bytearray(path.read_bytes())
    at = data.index(b"fcTL", data.index(b"fcTL") + 1)          # the second frame's control chunk
    data[at + 4:at + 8] = struct.pack(">I", 99)
    length = struct.unpack(">I", data[at - 4:at])[0]
    data[at + 4 + length:at + 8 + length] = struct.pack(">I", zlib.crc32(bytes(data[at:at + 4 + length])))
    path.write_bytes(bytes(data))


def test_a_gif_whose_frames_cannot_be_counted_is_read_up_to_the_damage(tmp_path):
    """A GIF cut so that Pillow's n_frames raises IndexError: is_animated said False (the file became its first frame
    alone) and the reader raised IndexError; now it is an animation whose whole frames are read, damage noted."""
    _animation(tmp_path / "full.gif")
    cut = tmp_path / "cut.gif"
    cut.write_bytes(_cut_where((tmp_path / "full.gif").read_bytes(), lambda im: im.n_frames))
    assert is_animated(cut)
    with AnimatedImageReader(cut) as r:
        frames = list(r)
        assert 1 <= len(frames) < 6 and r.missing >= 1 and not r.count_known
    assert np.abs(np.array([f.mean() for f in frames]) - 40 * np.arange(len(frames))).max() < 2


def test_an_apng_with_broken_frames_is_read_up_to_the_damage(tmp_path):
    """SyntaxError from Pillow (APNG frame sequence errors) went up as a traceback; now the first frame is read and
    the other three are missing."""
    _apng_with_bad_sequence(tmp_path / "a.png")
    assert is_animated(tmp_path / "a.png")
    with AnimatedImageReader(tmp_path / "a.png") as r:
        frames = list(r)
        assert len(frames) == 1 and r.info.frames == 4 and r.missing == 3 and r.count_known


def test_an_animation_without_a_decodable_frame_is_one_error(tmp_path):
    from vidcolor.errors import VidcolorError

    _animation(tmp_path / "full.png")
    cut = tmp_path / "cut.png"                  # cut inside the first frame's data: the header says 6 frames
    data = (tmp_path / "full.png").read_bytes()
    cut.write_bytes(data[:data.index(b"IDAT") + 20])
    assert is_animated(cut)
    with pytest.raises(VidcolorError, match="cut.png: cannot read as an animation"):
        AnimatedImageReader(cut)


def test_a_folder_skips_an_unreadable_animation_with_ignore_errors(tmp_path):
    """A folder with a good GIF, a damaged APNG (frame sequence error) and an APNG cut inside its first frame:
    without --ignore-errors one line, and the GIF finished before them is kept; with it (and --skip-existing) the
    damaged one keeps its first frame and the unreadable one is skipped, each with a warning (both were
    tracebacks)."""
    d = tmp_path / "in"
    d.mkdir()
    _animation(d / "a.gif")
    _apng_with_bad_sequence(d / "b.png")
    _animation(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (d / "c.png").write_bytes(data[:data.index(b"IDAT") + 20])
    res = run_cli("dequantize", "in", "-o", "out", "-q", cwd=tmp_path)
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    assert res.stderr.strip().splitlines()[-1].startswith("vidcolor: error: in/b.png: 3 of 4 frames")
    assert res.stderr.strip().endswith("; 1 finished output kept in out/ (run again with --skip-existing to do the rest)")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.mp4"]
    res = run_cli("dequantize", "in", "-o", "out", "-q", "--ignore-errors", "--skip-existing", cwd=tmp_path)
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    assert "warning: in/b.png: 3 of 4 frames" in res.stderr and "warning: in/c.png: cannot read" in res.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.mp4", "b.mp4"]
    assert len(decode_all(str(tmp_path / "out" / "b.mp4"))[0]) == 1


@pytest.mark.parametrize("pix_fmt", ["gray16be", "rgb48be"])
def test_a_16_bit_apng_is_read_at_its_levels(tmp_path, pix_fmt):
    """16-bit gray APNG frames are rounded to 8 bits as 16-bit stills are (Pillow's convert clipped them at 255:
    near-white frames); 16-bit colour ones keep Pillow's high byte, at most one level below the rounding. The
    reference: FFmpeg's decode of the same file at 16 bits (no blending in it)."""
    import subprocess

    from vidcolor.io.animated import round16
    from vidcolor.io.writer import find_ffmpeg

    path = tmp_path / "a16.png"
    run = [find_ffmpeg(), "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=s=64x48:r=5:d=1"]
    subprocess.run(run + ["-pix_fmt", pix_fmt, "-f", "apng", str(path)], check=True)
    raw = subprocess.run([find_ffmpeg(), "-loglevel", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt",
                          pix_fmt[:-2] + "le", "-"], check=True, capture_output=True).stdout
    truth = round16(np.frombuffer(raw, "<u2").reshape(5, 48, 64, -1))
    truth = np.repeat(truth, 3, axis=-1) if truth.shape[-1] == 1 else truth
    with AnimatedImageReader(path) as r:
        frames = np.stack(list(r))
    assert frames.shape == truth.shape and truth.std() > 30
    error = truth.astype(int) - frames
    if pix_fmt == "gray16be":
        np.testing.assert_array_equal(frames, truth)
    else:
        assert error.min() >= 0 and error.max() <= 1


@pytest.mark.parametrize("size", [(12000, 12000), (20000, 20000)])
def test_a_frame_growing_past_pillows_limits_is_refused_as_others_are(tmp_path, size):
    """A GIF frame growing the canvas past Pillow's 89 megapixels printed its DecompressionBombWarning; past 179,
    its DecompressionBombError was 'cannot read as an animation (DecompressionBombError)'."""
    import warnings

    from helpers import gif_growing
    from vidcolor.errors import VidcolorError

    gif_growing(tmp_path / "grow.gif", *size)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with pytest.raises(VidcolorError, match=rf"grow.gif \(frame 1\): frame size {size[0]}x{size[1]} is too large"):
            AnimatedImageReader(tmp_path / "grow.gif")


def test_an_animation_pillow_cannot_open_says_it_looks_damaged_as_a_still_does(tmp_path):
    """AnimatedImageReader said 'cannot read as an animation (UnidentifiedImageError)' of a GIF cut inside its
    header and an APNG whose header chunk's CRC is broken, where read_image says 'it starts as a GIF does but looks
    damaged or truncated' (images.signature_format): both now say so; a file of no image format keeps the class name."""
    from vidcolor.errors import VidcolorError

    frames = [Image.new("RGB", (8, 8), (40 * i, 90, 120)) for i in range(3)]
    for name, fmt in damaged_image_files(tmp_path, frames).items():
        with pytest.raises(VidcolorError, match=rf"{name}: cannot read as an animation \(it starts as a {fmt} does "
                           r"but looks damaged or truncated\)$"):
            AnimatedImageReader(tmp_path / name)
    with pytest.raises(VidcolorError, match=r"fake.gif: cannot read as an animation \(not an image file of a format vidcolor reads\)$"):
        AnimatedImageReader(tmp_path / "fake.gif")


class _Pipe:
    """``data`` as a pipe gives it: read in pieces, no seeking (VideoReader reads it through Rewindable)."""

    def __init__(self, data: bytes):
        import io

        self._f = io.BytesIO(data)

    def seekable(self) -> bool:
        return False

    def read(self, n: int = -1) -> bytes:
        return self._f.read(min(n, 4096) if n > 0 else 4096)


def test_a_gif_cut_short_on_a_pipe_is_told_and_its_cut_frame_left_out(tmp_path):
    """A GIF cut inside its 4th frame, read from a pipe (FFmpeg's demuxer: stdin is not read through Pillow), gave
    6 frames and no word: the cut frame's lost part came from the frame before, and the run exited 0. Its last
    frame's data, cut, now says so (cut_frame, counted in missing: the CLI's error, or warning with --ignore-errors),
    and the cut frame is left out, as a cut GIF file's is; a whole GIF says nothing, with bytes after its trailer
    too (the first check, a last packet not ending in the trailer, took those for a cut)."""
    from vidcolor.io import VideoReader

    rng = np.random.default_rng(0)
    frames = [Image.fromarray(rng.integers(0, 256, (24, 32, 3), np.uint8)).quantize(64) for _ in range(6)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=50, loop=0)
    data = (tmp_path / "a.gif").read_bytes()
    with Image.open(tmp_path / "a.gif") as im:
        whole = [np.asarray(im.convert("RGB")) for _ in ImageSequence.Iterator(im)]
    for same in (data, data + b"bytes after the trailer\n"):      # (FFmpeg gives those in the last packet)
        with VideoReader(_Pipe(same)) as r:
            assert len(list(r)) == 6 and r.missing == 0 and r.cut_frame is None
    cut = data[:len(data) * 7 // 12]                    # inside the 4th of 6 frames of the same size
    with VideoReader(_Pipe(cut)) as r:
        got = list(r)
        assert r.missing == 1 and r.cut_frame == "the GIF input ended inside a frame (truncated): the cut frame is left out"
    assert len(got) == 3 and all(np.array_equal(a, b) for a, b in zip(got, whole))
