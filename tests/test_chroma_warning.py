"""RGB and 4:4:4 (or 4:2:2) sources written into 4:2:0 by default (stop 69): the default output stays the one that
plays everywhere, as a deep source's depth does (stop 68), and a warning says what is lost and what keeps it; the
summary no longer says the frames passed unchanged without saying that the encode halved their colour. Before, an
Atari River Raid capture (gbrp) came out yuv420p, its red fuel blocks purple, 30.29 dB against its source (45.68 at
``--pix-fmt yuv444p``), without a word, and its summary said ``every frame passed unchanged``."""
from __future__ import annotations

import av
import numpy as np
import pytest

from helpers import run_ffmpeg, vidcolor_warnings
from vidcolor.errors import worded
from vidcolor.source_warnings import chroma_loss, chroma_reason

W, H, FRAMES = 32, 16, 2


def _clip(ffmpeg_exe: str, path, pix_fmt: str) -> None:
    """``FRAMES`` frames of noise (no quantizer is found in them: they pass unchanged), ``W`` x ``H``, lossless
    FFV1 at ``pix_fmt``."""
    rgb = np.random.default_rng(0).integers(0, 256, (FRAMES, H, W, 3), dtype=np.uint8)
    run_ffmpeg(ffmpeg_exe, "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W}x{H}", "-r", "24", "-i", "-",
               "-pix_fmt", pix_fmt, "-c:v", "ffv1", str(path), stdin=rgb.tobytes())


def _pix_fmt(path) -> str:
    with av.open(str(path)) as c:
        return c.streams.video[0].codec_context.pix_fmt


@pytest.mark.parametrize("source, said", [
    ("bgr0", "full-resolution colour (RGB, bgr0); libx264 at yuv420p (plays everywhere) halves its colour resolution"),
    ("yuv444p", "4:4:4 colour (full resolution, yuv444p); libx264 at yuv420p (plays everywhere) halves its colour "
                "resolution"),
    ("yuv422p", "4:2:2 colour (yuv422p); libx264 at yuv420p (plays everywhere) halves its vertical colour resolution"),
])
def test_a_source_of_full_colour_into_4_2_0_is_told_and_its_summary_says_so(tmp_path, ffmpeg_exe, tiny_models,
                                                                           source, said):
    from vidcolor.api import dequantize

    src = tmp_path / "src.mkv"
    _clip(ffmpeg_exe, src, source)
    with vidcolor_warnings() as warned:
        summary = dequantize(src, tmp_path / "out.mp4", model=str(tiny_models.lab), temporal="off", progress=False)
    assert warned == [f"src.mkv has {said} (4:2:0), so thin coloured detail (text, pixel art, edges) blurs and "
                      "changes colour; pix_fmt='yuv444p' keeps it (H.264 High 4:4:4 Predictive, which browsers and "
                      "most hardware decoders do not play)"]
    assert _pix_fmt(tmp_path / "out.mp4") == "yuv420p"              # the default still plays everywhere
    way = "vertical " if source == "yuv422p" else ""
    assert summary.note.endswith(f"every frame passed unchanged (the 4:2:0 encode halves their {way}colour "
                                 "resolution)")


@pytest.mark.parametrize("source, pix_fmt", [("bgr0", "yuv444p"), ("yuv420p", None)])
def test_nothing_is_said_where_the_encode_keeps_the_source_s_colour(tmp_path, ffmpeg_exe, tiny_models, source,
                                                                   pix_fmt):
    from vidcolor.api import dequantize

    src = tmp_path / "src.mkv"
    _clip(ffmpeg_exe, src, source)
    with vidcolor_warnings() as warned:
        summary = dequantize(src, tmp_path / "out.mp4", model=str(tiny_models.lab), temporal="off", progress=False,
                             **({"pix_fmt": pix_fmt} if pix_fmt else {}))
    assert warned == []
    assert summary.note.endswith("every frame passed unchanged")


def test_which_encodes_halve_which_colour():
    """An odd side is written 4:4:4 (nothing lost), ProRes 4:2:2 halves RGB's horizontally, GIF, gray and DV's 4:1:1
    (into as many 4:2:0 samples) lose none, a 10-bit output is offered its 10-bit 4:4:4, and x265's cost is named."""
    assert chroma_loss("gbrp", "libx264", "yuv420p", 33, 16, False) is None
    assert chroma_loss("gbrp", "prores", "yuv420p", 32, 16, False) == ("the 4:2:2 encode halves their horizontal "
                                                                       "colour resolution")
    assert chroma_loss("gbrp", "libx264", "yuv420p", 32, 16, True) is None
    assert chroma_loss("gray", "libx264", "yuv420p", 32, 16, False) is None
    assert chroma_loss(None, "libx264", "yuv420p", 32, 16, False) is None
    assert chroma_loss("yuv411p", "libx264", "yuv420p", 32, 16, False) is None        # NTSC DV: as many samples
    assert worded(chroma_reason("yuv444p10le", "libx265", "yuv420p10le", 32, 16, False)).endswith(
        "pix_fmt='yuv444p10le' keeps it (HEVC Main 4:4:4, which browsers and most hardware decoders do not play)")


def test_colorize_of_an_rgb_scan_is_not_told_of_colour_it_does_not_keep(tmp_path, ffmpeg_exe, tiny_colorizers):
    """Black-and-white film scans often come as RGB (PNG, TIFF, DPX): colorize makes its colour anew from L, so the
    source's chroma resolution is not what its 4:2:0 output loses. The warning had fired on every such scan."""
    from vidcolor.api import colorize

    src = tmp_path / "scan.mkv"
    _clip(ffmpeg_exe, src, "bgr0")
    with vidcolor_warnings() as warned:
        colorize(src, tmp_path / "c.mp4", saturation=0, render_size=32, temporal="off", progress=False,
                 backend="torch", model=str(tiny_colorizers.fcn))
    assert not [w for w in warned if "colour resolution" in w], warned


def test_a_folder_s_summary_says_the_halving_only_where_every_file_was_halved():
    """A folder of an RGB clip (its 4:2:0 encode halves its colour) and a PNG still (nothing halved) said of both
    'every frame passed unchanged (the 4:2:0 encode halves their colour resolution)'."""
    from vidcolor.pipeline import Found
    from vidcolor.summaries import unchanged_note

    halved = "the 4:2:0 encode halves their colour resolution"
    clip, still = Found("no quantizer found", 10, "", halved=halved), Found("no quantizer found", 1, "")
    assert unchanged_note([clip, still], "frame") == "every frame passed unchanged"
    assert unchanged_note([clip], "frame") == f"every frame passed unchanged ({halved})"
