"""vidcolor: video dequantization and colorization with trained generator networks.

The public Python API is :mod:`vidcolor.api`'s, also given here::

    >>> import vidcolor
    >>> vidcolor.dequantize("mario.mp4")            # writes mario_dequantized.mp4   # doctest: +SKIP
    >>> fine = vidcolor.Dequantizer()(coarse_frames)  # uint8 (N, H, W, 3) -> same    # doctest: +SKIP

Those names are imported when first used (PEP 562), so ``import vidcolor`` alone stays cheap: it loads
neither :mod:`vidcolor.api` (PyAV, OpenCV, NumPy) nor torch.
"""
__version__ = "0.1.0"

_API = ("Colorizer", "Dequantizer", "RunSummary", "colorize", "colorizer", "dequantize", "dequantize_frames", "process")
""":data:`vidcolor.api.__all__` (a test keeps them equal): the names this package gives from it."""

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    """One of :mod:`vidcolor.api`'s public names (:data:`_API`), importing it on first use.

    Raises:
        AttributeError: any other name (as for a module without ``__getattr__``; ``from vidcolor import io``
            then imports the submodule).
    """
    if name in _API:
        from vidcolor import api

        value = globals()[name] = getattr(api, name)        # later lookups find it without this call
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
