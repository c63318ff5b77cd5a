"""Where vidcolor keeps files it can recreate: exported ONNX graphs, extracted training frames."""
from __future__ import annotations

import os
from pathlib import Path

from vidcolor.errors import VidcolorError


def cache_dir() -> Path:
    """``$VIDCOLOR_CACHE`` when set, else ``$XDG_CACHE_HOME/vidcolor``, else ``~/.cache/vidcolor`` (XDG Base
    Directory convention, which has a relative ``XDG_CACHE_HOME`` ignored: it would put the cache in whatever folder
    the run starts in). Not created here: a caller makes the sub-folder it needs.

    Raises:
        VidcolorError: none of these can be told (no ``HOME`` and a user without a home folder, as a container's
            arbitrary user id), with what to set; a caller that can do without the cache warns and goes on.
    """
    if os.environ.get("VIDCOLOR_CACHE"):
        return Path(os.environ["VIDCOLOR_CACHE"])
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "vidcolor"
    try:
        home = Path.home()
    except (RuntimeError, KeyError):        # no HOME and no passwd entry for the user
        raise VidcolorError("no cache folder: HOME is not set and this user has no home folder "
                            "(set VIDCOLOR_CACHE or XDG_CACHE_HOME)") from None
    return home / ".cache" / "vidcolor"
