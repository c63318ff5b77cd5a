"""Sources and sinks: PyAV decoding and probing, ffmpeg encoding, still images.

The names below are imported from their modules when first used (PEP 562), so a module of this package can be
imported alone: the training data reads photos with neither PyAV nor ffmpeg-python installed (a GPU machine's).
"""
import importlib

_HOME = {"AnimatedImageReader": "animated", "is_animated": "animated", "is_still_image": "animated",
         "is_image": "files", "list_images_in": "images", "read_image": "images", "write_image": "images",
         "VideoInfo": "reader", "VideoReader": "reader", "list_videos_in": "reader", "probe": "reader",
         "Passthrough": "writer", "VideoWriter": "writer", "find_ffmpeg": "writer", "output_format": "writer"}
"""Public name -> the module of this package that defines it."""

__all__ = sorted(_HOME)


def __getattr__(name: str):
    """One of :data:`__all__`, imported from its module on first use.

    Raises:
        AttributeError: any other name (``from vidcolor.io import limits`` then imports the submodule).
    """
    if name in _HOME:
        value = globals()[name] = getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOME))
