"""Rebuild the examples: a slow pan over three MIT-licensed raccoon photos, quantized, and in gray.

Source: the raccoon data set (GitHub datitran/raccoon_dataset, fork chingri/raccoon_dataset, MIT
licence), as found in ../shared/data/train/raccoon: only photos that training holds back
(`vidcolor.training.data.split_holdout` of ../shared/data/train, every 20th photo), which no bundled
model was trained on, so that the examples show the models on unseen content (the script refuses
others). Each photo is shown 2 s at 24 fps with a slow zoom and pan (OpenCV affine warp, bilinear), 320x240, then the clip is quantized to one 16-colour
median-cut palette (no dither) and encoded with libx264 crf 18, yuv420p. The unquantized clip is
written beside it (raccoon_original.mp4) so the result can be measured, and its luminance alone
(CIE L, a = b = 0) as raccoon_gray.mp4, the input of the colorize example. A fourth photo of the set,
not in the clip, is written as raccoon_reference.jpg (320 px wide, JPEG quality 90): the colour
reference of the `colorize --reference` example.

    python examples/make_example.py
"""
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from vidcolor.color import lab_to_rgb, rgb_to_lab
from vidcolor.io import VideoWriter
from vidcolor.training.data import list_images, split_holdout
from vidcolor.training.degrade import quantize_clip

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / ".." / "shared" / "data" / "train" / "raccoon"
PHOTOS = ["raccoon_raccoon-121.jpg", "raccoon_raccoon-14.jpg", "raccoon_raccoon-91.jpg"]
REFERENCE = "raccoon_raccoon-71.jpg"
W, H, FPS, SECONDS = 320, 240, 24, 2


def pan(photo: np.ndarray, n: int) -> list[np.ndarray]:
    """``n`` frames zooming from the whole photo (cover-fit) to 80 % of it, drifting right."""
    h, w = photo.shape[:2]
    frames = []
    for t in np.linspace(0.0, 1.0, n):
        scale = max(W / w, H / h) * (1.0 + 0.25 * t)
        cx, cy = w / 2 + 0.08 * w * (t - 0.5), h / 2
        m = np.array([[scale, 0, W / 2 - scale * cx], [0, scale, H / 2 - scale * cy]], np.float32)
        frames.append(cv2.warpAffine(photo, m, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))
    return frames


def trained_on() -> list[str]:
    """The example's photos that training does not hold back (should be none)."""
    held = {p.name for p in split_holdout(list_images(SOURCE.parent))[1]}
    return [name for name in PHOTOS + [REFERENCE] if name not in held]


def main() -> None:
    if trained_on():
        raise SystemExit(f"{', '.join(trained_on())}: in the training split; pick photos that split_holdout holds back")
    frames = []
    for name in PHOTOS:
        frames += pan(np.asarray(Image.open(SOURCE / name).convert("RGB")), FPS * SECONDS)
    clip = np.stack(frames)
    lab = rgb_to_lab(clip)
    lab[..., 1:] = 0
    for path, data in [(HERE / "raccoon_original.mp4", clip),
                       (HERE / "raccoon_16colors.mp4", quantize_clip(clip, "palette", colors=16)),
                       (HERE / "raccoon_gray.mp4", lab_to_rgb(lab))]:
        with VideoWriter(path, W, H, FPS, crf=18, preset="slow", overwrite=True) as w:
            w.write(data)
        print(path, path.stat().st_size, "bytes")
    ref = Image.open(SOURCE / REFERENCE).convert("RGB")
    ref.resize((320, round(ref.height * 320 / ref.width)), Image.LANCZOS).save(HERE / "raccoon_reference.jpg", quality=90)


if __name__ == "__main__":
    main()
