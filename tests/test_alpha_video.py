"""Video with an alpha channel (PNG in MOV, VP9 with alpha in WebM): read as RGB, its alpha dropped, with a warning."""
from __future__ import annotations

import pytest

from helpers import run_ffmpeg, vidcolor_warnings
from vidcolor.api import process
from vidcolor.io import VideoReader

HALF_TRANSPARENT = ("testsrc2=s=32x24:d=0.3:r=10,format=rgba,"
                    "geq=r='r(X,Y)':g='g(X,Y)':b='b(X,Y)':a='if(lt(X,16),255,0)'")


@pytest.mark.parametrize("name, args, alpha", [
    ("png.mov", ("-c:v", "png", "-pix_fmt", "rgba"), "rgba"),
    ("vp9.webm", ("-c:v", "libvpx-vp9", "-pix_fmt", "yuva420p", "-deadline", "realtime"), "VP9 alpha"),
    ("plain.mp4", ("-c:v", "libx264", "-pix_fmt", "yuv420p"), None),
])
def test_an_alpha_channel_is_named_in_a_warning(tmp_path, ffmpeg_exe, name, args, alpha):
    src = tmp_path / name
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", HALF_TRANSPARENT, *args, str(src))
    with VideoReader(src) as r:
        assert r.info.alpha == alpha
    with vidcolor_warnings() as said:
        summary = process(src, tmp_path / "out.mp4", lambda b: b, suffix="x", preset="ultrafast", progress=False)
    assert summary.frames == 3
    assert said == ([f"{name} has an alpha channel ({alpha}), which is dropped (video is read as RGB): the output "
                     "shows the colours stored under its transparent parts"] if alpha else [])
