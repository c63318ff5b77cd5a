"""Plain helpers shared by the tests (fixtures live in conftest.py)."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import warnings
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()

CLIP_W, CLIP_H, CLIP_FRAMES, CLIP_FPS = 64, 48, 10, 10

TINY_GENERATOR = {"ngf": 4, "depth": 2, "use_histogram": True}


# --------------------------------------------------------------------------------------------- ffmpeg


def run_ffmpeg(exe: str, *args: str, stdin: bytes | None = None) -> bytes:
    """Run ffmpeg with an argument list (never a shell string); return its stdout, fail loudly."""
    extra = {"input": stdin} if stdin is not None else {"stdin": subprocess.DEVNULL}
    proc = subprocess.run([exe, "-hide_banner", "-loglevel", "error", "-y", *args], capture_output=True,
                          timeout=60, **extra)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout


def make_clip(exe: str, path: Path, *, width: int = CLIP_W, height: int = CLIP_H, frames: int = CLIP_FRAMES,
              fps: int = CLIP_FPS, audio: bool = True) -> Path:
    """testsrc video (+ 440 Hz sine as AAC) as H.264 in the container of ``path``'s suffix."""
    args = ["-f", "lavfi", "-i", f"testsrc=size={width}x{height}:rate={fps}"]
    if audio:
        args += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"]
    args += ["-frames:v", str(frames), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if audio:
        args += ["-c:a", "aac", "-t", str(frames / fps)]
    run_ffmpeg(exe, *args, str(path))
    return path


def decode_all(source) -> tuple[np.ndarray, Fraction, bool]:
    """Decode with PyAV directly (independent of vidcolor's reader, with the same YUV -> RGB
    conversion, tested on its own in tests/io/test_convert.py): frames, average rate, has audio."""
    import av

    from vidcolor.io.convert import frame_to_rgb

    with av.open(source) as c:
        rate = c.streams.video[0].average_rate
        has_audio = bool(c.streams.audio)
        frames = np.stack([frame_to_rgb(f) for f in c.decode(video=0)])
    return frames, Fraction(rate), has_audio


def make_videoless_mkv(path: Path) -> Path:
    """A matroska file with an H.264 video stream that has no packets (and a short silent audio stream)."""
    import av

    with av.open(str(path), "w", format="matroska") as c:
        v = c.add_stream("libx264", rate=10)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        a = c.add_stream("aac", rate=44100)
        for i in range(5):
            fr = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            fr.sample_rate, fr.pts = 44100, i * 1024
            for p in a.encode(fr):
                c.mux(p)
        for p in a.encode(None):
            c.mux(p)
        for p in v.encode(None):
            c.mux(p)
    with av.open(str(path)) as c:                  # sanity: the stream is there, the frames are not
        assert c.streams.video and not list(c.decode(video=0))
    return path


def damage_packet(path: Path, index: int, where: str = "length") -> Path:
    """Overwrite, in place, part of the video packet ``index`` of an H.264 mp4 as disk damage would, so that
    ffmpeg's decoder refuses that packet and decodes the others: ``"length"`` the NAL unit's 4-byte length ('Invalid
    NAL unit size'), ``"slice header"`` the 8 bytes after the NAL unit's header (the damage then survives a remux to
    MPEG-TS)."""
    import av

    with av.open(str(path)) as c:
        pos = [p.pos for p in c.demux(video=0) if p.size][index]
    data = bytearray(path.read_bytes())
    start = pos if where == "length" else pos + 5
    data[start:start + (4 if where == "length" else 8)] = b"\xff" * (4 if where == "length" else 8)
    path.write_bytes(bytes(data))
    return path


# ------------------------------------------------------------------------------------------------- CLI


@dataclass
class CliResult:
    returncode: int
    stdout: bytes
    stderr: str

    @property
    def stderr_lines(self) -> list[str]:
        return [ln for ln in self.stderr.splitlines() if ln.strip()]


def cli_env() -> dict:
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def run_cli(*args, cwd: Path | None = None, stdin: bytes | None = None, timeout: float = 120) -> CliResult:
    """Run ``python -m vidcolor.cli ARGS`` as a subprocess, with optional stdin bytes."""
    extra = {"input": stdin} if stdin is not None else {"stdin": subprocess.DEVNULL}
    proc = subprocess.run([sys.executable, "-m", "vidcolor.cli", *map(str, args)], cwd=cwd, capture_output=True,
                          timeout=timeout, env=cli_env(), **extra)
    return CliResult(proc.returncode, proc.stdout, proc.stderr.decode(errors="replace"))


_HIDDEN_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)
"""Warning categories a fresh ``python -m vidcolor.cli`` does not print (Python's default filters; a
DeprecationWarning is shown when the command's own module, run as ``__main__``, triggers it)."""


class CliTimeout(BaseException):
    """Raised in :func:`invoke_cli`'s command when it runs past its timeout (a BaseException: no handler of the
    command's turns it into a result)."""


def invoke_cli(*args, cwd: Path | None = None, stdin: bytes | None = None, timeout: float = 120) -> CliResult:
    """Run ``vidcolor ARGS`` in this process: the result :func:`run_cli` gives, without the 2-3 s a subprocess
    spends starting Python and importing torch.

    The command goes through the same entry point as ``python -m vidcolor.cli`` (``vidcolor.cli.main``, whose
    ``main()`` and ``invoke()`` turn errors into one line and an exit status), with click's test runner as the
    process: stdout and stderr are captured at the file-descriptor level (what C libraries and child processes
    such as ffmpeg write there included), warnings a fresh process would print are put on stderr, and an exception
    that escapes the command is its traceback on stderr and exit status 1, as Python gives it. What the command
    sets for the whole process is put back: the working folder, the SIGTERM / SIGHUP handlers, torch's thread
    count and the random generators' states. stdin is ``stdin`` (empty when None), never a terminal. A command
    still running after ``timeout`` seconds is stopped by :class:`CliTimeout`, which fails the test as
    :func:`run_cli`'s ``subprocess.TimeoutExpired`` does.

    For what does not depend on the command having a process of its own; signals, closed or terminal streams,
    pipes, start-up time and Ray's cluster stay with :func:`run_cli`."""
    import random
    import signal
    import traceback
    import warnings

    import torch
    from click.testing import CliRunner

    from vidcolor.cli import main

    here = os.getcwd()
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGALRM)}
    threads = torch.get_num_threads()
    states = torch.get_rng_state(), np.random.get_state(), random.getstate()
    runner = CliRunner(capture="fd", catch_exceptions=True)

    def expired(signum, frame):
        raise CliTimeout(f"vidcolor {' '.join(map(str, args))}: still running after {timeout} s")

    armed = signal.getitimer(signal.ITIMER_REAL)[0] == 0        # a timer of someone else's is left alone
    try:
        if armed:
            signal.signal(signal.SIGALRM, expired)
            signal.setitimer(signal.ITIMER_REAL, timeout)
        if cwd is not None:
            os.chdir(cwd)
        with warnings.catch_warnings(record=True) as caught:
            result = runner.invoke(main, [str(a) for a in args], input=stdin or b"", prog_name="python -m vidcolor.cli",
                                   env={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    finally:
        if armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
        os.chdir(here)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        torch.set_num_threads(threads)
        torch.set_rng_state(states[0])
        np.random.set_state(states[1])
        random.setstate(states[2])
    stderr = result.stderr_bytes.decode(errors="replace")
    for w in caught:
        own = issubclass(w.category, DeprecationWarning) and w.filename.endswith(os.path.join("vidcolor", "cli.py"))
        if own or not issubclass(w.category, _HIDDEN_WARNINGS):
            stderr += warnings.formatwarning(w.message, w.category, w.filename, w.lineno, w.line)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(*result.exc_info))
    return CliResult(result.exit_code, result.stdout_bytes, stderr)


def assert_one_line_error(res: CliResult) -> None:
    """The CLI's contract for bad input: exit 1, exactly one stderr line 'vidcolor: error: ...'."""
    assert "Traceback" not in res.stderr, res.stderr
    assert res.returncode == 1, res.stderr
    assert len(res.stderr_lines) == 1, res.stderr
    assert res.stderr_lines[0].startswith("vidcolor: error:"), res.stderr


def assert_cut_index_refused(cut: Path, said: str) -> None:
    """An MP4 or MOV whose index lists video beyond its end (``cut``) is refused by the reader and by ``probe``, each
    in one line that ends with ``said`` (what the reader says of such a file)."""
    import pytest

    from vidcolor.errors import VidcolorError
    from vidcolor.io.reader import VideoReader, probe

    with pytest.raises(VidcolorError) as err:
        VideoReader(cut)
    assert str(err.value).startswith(f"{cut}: cannot decode (") and str(err.value).endswith(f"): {said}")
    with pytest.raises(VidcolorError) as err:
        probe(cut)
    assert str(err.value) == f"{cut}: video has no decodable frames: {said}"


def assert_terminated(returncode: int, err: bytes) -> None:
    """A CLI run ended by SIGTERM as the CLI promises: exit 143 and its one stderr line, nothing else."""
    text = err.decode(errors="replace")
    assert returncode == 143, text
    assert [ln for ln in text.splitlines() if ln.strip()] == ["vidcolor: terminated (SIGTERM)"], text


def listing(folder: Path) -> set[str]:
    """Every path under ``folder`` (hidden ones included), relative."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


# ----------------------------------------------------------------------------------------------- data


def smooth_image(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A random smooth colour image: low-resolution noise upscaled bicubically, uint8 RGB."""
    import cv2

    small = rng.uniform(0, 255, (4, 4, 3)).astype(np.float32)
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(big + 0.5, 0, 255).astype(np.uint8)


def photo_folder(folder: Path, n: int, h: int, w: int, seed: int = 0, name: str = "p{i}.png", **save) -> Path:
    """``folder`` (created) holding ``n`` :func:`smooth_image` photos ``h`` x ``w`` drawn from ``seed``, named
    ``name.format(i=i)`` and saved with Pillow's ``save`` options (``quality=95`` for JPEG)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(smooth_image(rng, h, w)).save(folder / name.format(i=i), **save)
    return folder


def gradient_image(h: int = 48, w: int = 64) -> np.ndarray:
    """Smooth colour ramps, uint8 RGB ``(h, w, 3)``."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([x / (w - 1) * 255, y / (h - 1) * 255, (x + y) / (w + h - 2) * 200 + 20], -1)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def mosaic(n: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    """Random 8x8-block colour mosaics, uint8 ``(n, h, w, 3)``: any misalignment shows at once."""
    tiles = np.random.default_rng(seed).integers(0, 256, (n, (h + 7) // 8, (w + 7) // 8, 3), dtype=np.uint8)
    return np.ascontiguousarray(tiles.repeat(8, 1).repeat(8, 2)[:, :h, :w])


def png_claiming(path, width: int, height: int) -> None:
    """A valid 4x4 PNG whose IHDR is then edited to declare ``width`` x ``height`` (CRC fixed)."""
    import struct
    import zlib

    from PIL import Image

    Image.new("RGB", (4, 4), (10, 20, 30)).save(path)
    data = bytearray(path.read_bytes())
    ihdr = 8 + 8                                                   # signature, then length + "IHDR"
    data[ihdr:ihdr + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr - 4:ihdr + 13])) & 0xFFFFFFFF
    data[ihdr + 13:ihdr + 17] = struct.pack(">I", crc)
    path.write_bytes(bytes(data))


def gif_growing(path, width: int, height: int) -> None:
    """A two-frame GIF whose header says 16x16 and whose second frame's descriptor declares ``width`` x ``height``
    (its pixel data stays 16x16's, so the file is tiny: only a decoder that trusts the descriptor allocates)."""
    import io
    import struct

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.zeros((16, 16), np.uint8), "L").save(buf, "GIF")
    data = buf.getvalue()
    flags = data[10]
    head = data[:13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)]      # header, global colour table
    frame = data[len(head):-1]                                              # image descriptor + data, no trailer
    frame = frame[frame.index(b","):]
    big = frame[:5] + struct.pack("<HH", width, height) + frame[9:]
    delay = b"\x21\xf9\x04\x00\x0a\x00\x00\x00"                             # graphic control: 100 ms
    path.write_bytes(head + delay + frame + delay + big + b";")


def sgi_rle(path, width: int, height: int, channels: int = 4, bytes_per_channel: int = 2) -> None:
    """An RLE SGI image (which ffmpeg reads as a one-frame video) of ``width`` x ``height``, every row sharing one
    run list: 16000x16000 16-bit RGBA is 513 KB on disk and 2 GB decoded."""
    import struct

    wide = bytes_per_channel == 2
    header = struct.pack(">hbbHHHHii4s80si", 474, 1, bytes_per_channel, 3, width, height, channels, 0,
                         65535 if wide else 255, b"\0" * 4, b"\0" * 80, 0).ljust(512, b"\0")
    runs, left = b"", width
    while left:
        n = min(127, left)
        left -= n
        runs += struct.pack(">HH", n, 0x4000) if wide else struct.pack(">BB", n, 0x40)
    runs += b"\0\0" if wide else b"\0"
    rows = height * channels
    offset = 512 + rows * 8
    Path(path).write_bytes(header + struct.pack(f">{rows}I", *[offset] * rows)
                           + struct.pack(f">{rows}I", *[len(runs)] * rows) + runs)


def cover_art_first(exe: str, video: Path, cover: Path, path: Path) -> Path:
    """``video`` (an MP4) with ``cover`` (an image) attached as its cover art, written to ``path`` so that FFmpeg
    gives the cover as video stream 0, before the video: ffmpeg's mov muxer stores the cover in the moov's udta after
    the tracks, and its demuxer creates a cover's stream where it reads it, so the udta is moved before the tracks
    (the moov keeps its size and follows the mdat: no chunk offset changes)."""
    import struct

    import av

    run_ffmpeg(exe, "-i", str(video), "-i", str(cover), "-map", "0", "-map", "1", "-c", "copy", "-c:v:1", "mjpeg",
               "-disposition:v:1", "attached_pic", str(path))
    data = bytearray(path.read_bytes())

    def atoms(start: int, end: int):
        while start < end:
            size, kind = struct.unpack(">I4s", data[start:start + 8])
            yield kind, start, bytes(data[start:start + size])
            start += size

    _, moov, whole = next(a for a in atoms(0, len(data)) if a[0] == b"moov")
    size = len(whole)
    kids = [(kind, atom) for kind, _, atom in atoms(moov + 8, moov + size)]
    order = sorted(range(len(kids)), key=lambda i: (kids[i][0] == b"trak", i))     # mvhd, udta, ..., the traks
    data[moov + 8:moov + size] = b"".join(kids[i][1] for i in order)
    path.write_bytes(bytes(data))
    with av.open(str(path)) as c:                  # sanity: the cover is stream 0, the video follows it
        assert c.streams[0].type == "video" and c.streams[0].disposition.value & 0x400
    return path


def dpx_every_10_bit_code(path: Path) -> np.ndarray:
    """A 64x16 10-bit RGB DPX file at ``path`` (FFmpeg's dpx encoder, gbrp10le) holding each of the 1024 codes once,
    the same in R, G and B; returns the codes, uint16 ``(16, 64)``."""
    import av
    codes = np.arange(1024, dtype=np.uint16).reshape(16, 64)
    ctx = av.CodecContext.create("dpx", "w")
    ctx.width, ctx.height, ctx.pix_fmt, ctx.time_base = 64, 16, "gbrp10le", Fraction(1, 24)
    frame = av.VideoFrame(64, 16, "gbrp10le")
    for plane in frame.planes:
        np.frombuffer(plane, np.uint16).reshape(16, -1)[:, :64] = codes
    path.write_bytes(b"".join(bytes(p) for p in ctx.encode(frame) + ctx.encode(None)))
    return codes


def _s15(x: float) -> bytes:
    """ICC's s15Fixed16Number, big-endian."""
    import struct
    return struct.pack(">i", round(x * 65536))


def _icc_v2(device_class: bytes, colour_space: bytes, pcs: bytes, name: bytes, tags: list[tuple[bytes, bytes]]
            ) -> bytes:
    """A minimal ICC v2 profile: header (``device_class`` e.g. ``mntr``, ``colour_space`` e.g. ``GRAY``, ``pcs``
    ``XYZ `` or ``Lab ``), then a ``desc`` named ``name``, the D50 ``wtpt``, a ``cprt`` and ``tags`` (signature,
    body), each body 4-byte aligned."""
    import struct
    desc = b"desc" + bytes(4) + struct.pack(">I", len(name) + 1) + name + b"\0" + bytes(78)
    tags = [(b"desc", desc), (b"wtpt", b"XYZ " + bytes(4) + _s15(0.9642) + _s15(1.0) + _s15(0.8249)),
            (b"cprt", b"text" + bytes(4) + b"none\0")] + tags
    offset, table, data = 132 + 12 * len(tags), b"", b""
    for sig, body in tags:
        table += sig + struct.pack(">II", offset + len(data), len(body))
        data += body + bytes(-len(body) % 4)
    header = (struct.pack(">I", offset + len(data)) + b"lcms" + bytes([2, 0x10, 0, 0]) + device_class + colour_space
              + pcs + bytes(12) + b"acsp" + bytes(28) + _s15(0.9642) + _s15(1.0) + _s15(0.8249) + bytes(48))
    return header + struct.pack(">I", len(tags)) + table + data


def gray_profile(gamma: float = 1.8) -> bytes:
    """A minimal ICC v2 gray display profile (a kTRC curve, a pure power ``gamma``, as Photoshop's Gray Gamma 1.8),
    named ``Gray Gamma``."""
    import struct
    return _icc_v2(b"mntr", b"GRAY", b"XYZ ", b"Gray Gamma",
                   [(b"kTRC", b"curv" + bytes(4) + struct.pack(">IH", 1, round(gamma * 256)) + bytes(2))])


def cmyk_profile() -> bytes:
    """A minimal ICC v2 CMYK printer profile (an A2B0 lut16 of 2 grid points into Lab) that no press has: paper
    white, K black, and C a muted red (a* +60) where it is cyan on paper, so that its use shows."""
    import struct

    def lab(L, a):                          # v2's 16-bit Lab: L 100 -> 0xFF00, a 0 -> 0x8000
        return [round(L / 100 * 0xFF00), 0x8000 + round(a * 256), 0x8000]

    grid = [lab(0, 0) if k else lab(60, 60) if c else lab(100, 0)
            for c in (0, 1) for m in (0, 1) for y in (0, 1) for k in (0, 1)]
    lut = (b"mft2" + bytes(4) + bytes([4, 3, 2, 0]) + b"".join(_s15(v) for v in (1, 0, 0, 0, 1, 0, 0, 0, 1))
           + struct.pack(">HH", 2, 2) + struct.pack(">8H", *[0, 65535] * 4)
           + struct.pack(">48H", *[v for entry in grid for v in entry]) + struct.pack(">6H", *[0, 65535] * 3))
    return _icc_v2(b"prtr", b"CMYK", b"Lab ", b"test", [(b"A2B0", lut)])


@contextlib.contextmanager
def vidcolor_warnings():
    """Record the :class:`~vidcolor.errors.VidcolorWarning` messages a library call issues in the block (every one,
    repeats too, from any thread): yields a list that holds them, in order, once the block has ended. The test
    run turns any other VidcolorWarning into an error (pyproject.toml's ``filterwarnings``)."""
    from vidcolor.errors import VidcolorWarning

    said: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", VidcolorWarning)
        yield said
    said.extend(str(w.message) for w in caught if issubclass(w.category, VidcolorWarning))


def feed_pipe(fd: int, data: bytes) -> None:
    """Write ``data`` into the pipe ``fd`` and close it; a reader that stops early ends the writing."""
    try:
        with open(fd, "wb") as out:
            out.write(data)
    except BrokenPipeError:
        pass


def damaged_image_files(folder: Path, frames: list) -> dict[str, str]:
    """Write, from PIL images ``frames`` (one: a still; more: an animation), a PNG whose header chunk's CRC is
    broken (``crc.png``), a GIF cut inside its header (``cut.gif``) and a file of no image format named .gif
    (``fake.gif``) into ``folder``; returns the damaged files' names and the format each starts as."""
    kw = {"save_all": True, "append_images": frames[1:], "duration": 100, "loop": 0} if len(frames) > 1 else {}
    frames[0].save(folder / "whole.gif", **kw)
    frames[0].save(folder / "whole.png", **kw)
    png = bytearray((folder / "whole.png").read_bytes())
    png[8 + 8 + 13] ^= 0xFF                                     # IHDR's CRC
    (folder / "crc.png").write_bytes(bytes(png))
    (folder / "cut.gif").write_bytes((folder / "whole.gif").read_bytes()[:9])
    (folder / "fake.gif").write_bytes(b"%PDF-1.4 not an image at all")
    return {"crc.png": "PNG", "cut.gif": "GIF"}
