"""Where vidcolor keeps files it can recreate: exported ONNX graphs, extracted training frames."""
from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$VIDCOLOR_CACHE`` when set, else ``$XDG_CACHE_HOME/vidcolor``, else ``~/.cache/vidcolor`` (XDG Base
    Directory convention). Not created here: a caller makes the sub-folder it needs."""
    if os.environ.get("VIDCOLOR_CACHE"):
        return Path(os.environ["VIDCOLOR_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vidcolor"
