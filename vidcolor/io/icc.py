"""ICC colour profiles of still images: a print image's CMYK to sRGB through its own profile.

Pillow alone (no PyAV, no ffmpeg-python): the training data reads photos through it on a machine without them.
"""
from __future__ import annotations

import io

from PIL import Image


def cmyk_to_srgb(im: Image.Image) -> Image.Image:
    """A CMYK image with an embedded ICC profile (a print JPEG or TIFF: SWOP, FOGRA) in sRGB through that profile
    (Pillow's ImageCms, littleCMS; the profile's own rendering intent), as viewers show it; Pillow's ``convert("RGB")``
    takes ``255 - C - K`` for R and so on, which shows a press's CMYK far too saturated and dark. A profile that
    cannot be read, or is not a CMYK one, leaves the image to that naive conversion; any other image (not CMYK, or
    CMYK without a profile) is returned as it is. ``im`` must be loaded. :func:`~vidcolor.io.images.read_image`
    reads an image through it, and so does training (:func:`vidcolor.training.data.read_rgb`), which reads photos as
    the runtime does."""
    if im.mode != "CMYK" or not im.info.get("icc_profile"):
        return im
    from PIL import ImageCms        # (littleCMS: loaded for such an image alone)

    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(im.info["icc_profile"]))
        if profile.profile.xcolor_space.strip() != "CMYK":
            return im
        out = ImageCms.profileToProfile(im, profile, ImageCms.createProfile("sRGB"), outputMode="RGB",
                                        renderingIntent=ImageCms.Intent(profile.profile.rendering_intent))
    except (ImageCms.PyCMSError, OSError, ValueError):
        return im
    out.info = {k: v for k, v in im.info.items() if k != "icc_profile"}
    return out
