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
        # (4:4:4: an RGB source into 4:2:0 is told that its colour is halved, test_chroma_warning.py)
        summary = process(src, tmp_path / "out.mp4", lambda b: b, suffix="x", preset="ultrafast", progress=False,
                          pix_fmt="yuv444p")
    assert summary.frames == 3
    assert said == ([f"{name} has an alpha channel ({alpha}), which is dropped (video is read as RGB): the output "
                     "shows the colours stored under its transparent parts"] if alpha else [])


class _Pipe:
    """Bytes read as from a pipe (stdin): no seeking."""

    def __init__(self, data: bytes):
        import io

        self.read = io.BytesIO(data).read

    def seekable(self) -> bool:
        return False


@pytest.mark.parametrize("transparent_frame", [None, 0, 1])
def test_a_gif_on_stdin_names_its_alpha_only_where_a_pixel_is_transparent(tmp_path, monkeypatch, transparent_frame):
    """Every GIF on stdin was said to have an alpha channel (bgra) that is dropped, an opaque one too: FFmpeg's GIF
    decoder gives every frame bgra. It is said once a frame has a transparent pixel (the first frame's before the
    run, a later one's when it is read), and never for an opaque GIF."""
    import sys
    from types import SimpleNamespace

    from PIL import Image

    frames = []
    for i in range(3):
        im = Image.new("P", (16, 16), 1 + i)
        im.putpalette([0, 0, 0, 200, 10, 10, 10, 200, 10, 10, 10, 200] + [0] * (252 * 3))
        if i == transparent_frame:
            im.paste(0, (0, 0, 6, 6))                   # palette index 0, the transparent one
        frames.append(im)
    gif = tmp_path / "in.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100, loop=0, transparency=0, disposal=2,
                   optimize=False)
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=_Pipe(gif.read_bytes())))
    with vidcolor_warnings() as said:
        summary = process("-", tmp_path / "out.mp4", lambda b: b, suffix="x", preset="ultrafast", progress=False,
                          pix_fmt="yuv444p")                    # (GIF is RGB: 4:2:0 would be told)
    assert summary.frames == 3
    assert said == ([] if transparent_frame is None else
                    ["stdin has an alpha channel (bgra), which is dropped (video is read as RGB): the output shows the "
                     "colours stored under its transparent parts"])
