"""Training packs: what a recipe trains and validates on, made small enough to travel to a GPU machine.

A pack is a folder of WebP images and ``pack.json``. It holds the recipe's training split (the photos of ``data``
and, when the recipe names a ``video`` folder, the frames of its training clips) and its held-back photos, each
image downscaled (INTER_AREA) so its shorter side is at most ``short_side`` px and re-encoded (lossy WebP: at 160 px
and quality 80 a photo averages 6.5 kB, against 10.1 as JPEG quality 85); where they exceed
``max_bytes``, a seeded random subset of the training images is kept (the held-back photos are kept whole).
A recipe whose ``data`` names a pack (``vidcolor train colorize RECIPE --data PACK``) draws from the pack's groups
at the pack's shares: the split was made when the pack was, so the recipe's ``video`` and holdout settings are not
read again. No video is decoded when training from a pack (no PyAV needed there).

Why: a lent GPU machine receives only the working tree (at most 64 MiB, about 41 of them the repository itself)
and cannot reach ``../shared/data`` (88 MB of photos, 28 MB of clips).
"""
from __future__ import annotations

import errno
import io
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from vidcolor.io.partial import blocked_way, nearest_there
from vidcolor.names import check_named
from vidcolor.training.data import check_images, folder_named, list_images, read_rgb, readable, split_clips, split_holdout, video_frames

PACK_FILE = "pack.json"
"""The pack's index, in its folder: ``groups`` (each ``{"share": float or null, "files": [...]}``; null = the rest,
the photos), ``held_back`` (files), ``short_side``, ``made_from`` (the recipe's folders and split settings),
``kept`` and ``of`` (training images kept, of how many)."""

PACK_FORMAT = 1
"""``pack.json``'s ``format``: a pack of another format is refused."""


def is_pack(path: str | Path) -> bool:
    """Whether ``path`` is a pack folder (holds :data:`PACK_FILE`)."""
    return (Path(path) / PACK_FILE).is_file()


@dataclass
class Pack:
    """A pack as training reads it.

    Attributes:
        groups: ``(image paths, share)`` per group; share None for the photos (the rest after the other groups).
        held_back: the held-back photos (validation).
        short_side: the images' shorter side is at most this (px); a recipe's crop must not exceed it.
    """

    groups: list[tuple[list[Path], float | None]]
    held_back: list[Path]
    short_side: int


def read_pack(folder: str | Path) -> Pack:
    """The pack in ``folder``.

    Raises:
        ValueError: no ``pack.json``, one that cannot be read, another format, or a listed image that is missing.
    """
    folder = Path(folder)
    try:
        index = json.loads((folder / PACK_FILE).read_text())
        if index.get("format") != PACK_FORMAT:
            raise ValueError(f"format {index.get('format')!r}, not {PACK_FORMAT}")
        groups = [([folder / f for f in g["files"]], g["share"]) for g in index["groups"]]
        held, short = [folder / f for f in index["held_back"]], int(index["short_side"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{folder}: not a readable training pack ({exc})") from None
    missing = next((p for group, _ in groups for p in group if not p.is_file()), None)
    if missing is not None:
        raise ValueError(f"{folder}: the pack lists {missing.name}, which is missing")
    return Pack(groups, held, short)


def missing_folder(path: str | Path) -> str:
    """``": no such folder"`` (or ``": not a folder"``) for a recipe's folder ``path`` that is not one, else empty: the
    end of the message that it holds no images (a misspelt path read as a folder without images)."""
    path = Path(path)
    return "" if path.is_dir() else ": not a folder" if path.exists() else ": no such folder"


def recipe_images(recipe) -> list[tuple[list[Path], float | None]]:
    """The training groups of a recipe, ``(image paths, share)`` each: its training photos (share None, the rest) and,
    when it names a ``video`` folder, the frames of its training clips (share ``video_share``); the pack's groups
    when ``data`` is a pack.

    Raises:
        ValueError: a photo folder without training images, a video folder without training clips, a pack that
            cannot be read (:func:`read_pack`) or whose images are smaller than the recipe's crop.
    """
    if is_pack(recipe.data):
        pack = read_pack(recipe.data)
        if recipe.crop > pack.short_side:
            raise ValueError(f"the recipe's crop ({recipe.crop} px) is larger than the pack's images "
                             f"({pack.short_side} px on their shorter side)")
        return pack.groups
    found = list_images(recipe.data)
    paths = split_holdout(found, recipe.holdout_every)[0]
    if found and not paths:        # it said "no training images under" a folder of images
        raise ValueError(f"all {len(found)} image{'s' if len(found) > 1 else ''} under {folder_named(recipe.data)} "
                         f"{'are' if len(found) > 1 else 'is'} held back for validation (holdout_every = "
                         f"{recipe.holdout_every}: one image in {recipe.holdout_every}, the first included): "
                         f"give more images, or a larger holdout_every")
    if not paths:
        raise ValueError(f"data: no training images under {folder_named(recipe.data)}{missing_folder(recipe.data)}")
    groups: list[tuple[list[Path], float | None]] = [(paths, None)]
    if recipe.video:
        frames = video_frames(split_clips(recipe.video, recipe.video_holdout_every)[0], recipe.video_stride)
        if not frames:
            raise ValueError(f"video: no training clips (*.mp4) under {folder_named(recipe.video)}"
                             f"{missing_folder(recipe.video)}")
        groups.append((frames, recipe.video_share))
    return groups


def held_back_photos(recipe) -> list[Path]:
    """The photos a recipe never trains on (validation): every ``holdout_every``-th of ``data``
    (:func:`~vidcolor.training.data.split_holdout`), or the pack's.

    Raises:
        ValueError: a pack that cannot be read (:func:`read_pack`).
    """
    if is_pack(recipe.data):
        return read_pack(recipe.data).held_back
    return split_holdout(list_images(recipe.data), recipe.holdout_every)[1]


def _encoded(path: Path, short_side: int, quality: int, what: str = "training image") -> bytes:
    """``path`` as lossy WebP bytes (quality ``quality``), downscaled (INTER_AREA) to at most ``short_side`` px on
    its shorter side. An image that cannot be decoded (a truncated JPEG) is a one-line ValueError naming it as
    ``what`` (:func:`~vidcolor.training.data.readable`), raised before the pack's folder is made."""
    with readable(path, what):
        rgb = read_rgb(path)
    h, w = rgb.shape[:2]
    s = min(1.0, short_side / min(h, w))
    if s < 1.0:
        rgb = cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="WEBP", quality=quality, method=6)
    return buf.getvalue()


def check_writable(out: Path) -> None:
    """Refuse a new folder ``out`` that cannot be made, before any image is encoded (a read-only place was refused
    only once the whole pack was encoded): a folder is made and removed in the nearest folder on its way that
    exists, which must be one. What the folder's own writing raises is still raised, later (a disk that fills).

    Raises:
        OSError: its ``filename`` ``out``, its ``strerror`` why (``notes.txt is a file, not a folder``, ``Read-only
            file system``, ``Permission denied``).
    """
    why = blocked_way(out)                      # named as given, as train --out
    if why is not None:
        raise NotADirectoryError(errno.ENOTDIR, why, str(out))
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".vidcolor-pack-", dir=nearest_there(out)))
    except OSError as exc:
        raise type(exc)(exc.errno, exc.strerror or str(exc), str(out)) from None


def write_pack(recipe, out: str | Path, max_bytes: int, short_side: int = 160, quality: int = 80,
               progress=print) -> dict:
    """Write the pack of ``recipe`` (its training groups and held-back photos, :func:`recipe_images`) into the new
    folder ``out``; returns the ``pack.json`` record.

    Args:
        max_bytes: the images' total size at most; a seeded (``recipe.seed``) random subset of the training images,
            the same share of each group, is kept to fit (the held-back photos are all kept).
        short_side: the images' shorter side at most (px), at least the recipe's crop.
        quality: WebP quality (1-100).

    Raises:
        ValueError: ``out`` exists or is inside the recipe's data folder (whose images are listed recursively: the
            pack's would join them); ``short_side`` below the crop; an image that cannot be decoded
            (:func:`~vidcolor.training.data.check_images`); ``max_bytes`` too small for the held-back photos or for
            one image of each group; what :func:`recipe_images` raises. Nothing is left behind.
        VidcolorError: ``out`` an empty name (:func:`~vidcolor.names.check_named`; ``recipe.data`` '' is refused by
            the recipe).
        OSError: ``out`` cannot be made (:func:`check_writable`, before any image is encoded), or a file in it
            cannot be written (its ``filename`` ``out``'s ``.partial`` folder or a file in it).
    """
    check_named(out, "pack folder", "give a new folder")
    out = Path(out)
    if os.path.lexists(out):                    # a symbolic link to nothing too: refused before any encoding
        raise ValueError(f"{out} exists{'' if out.exists() else ' (a symbolic link to nothing)'}: give a new folder")
    if not is_pack(recipe.data) and out.resolve().is_relative_to(Path(recipe.data).resolve()):
        raise ValueError(f"{out} is inside the recipe's data folder {recipe.data}: its images would be listed "
                         f"among the photos the next time that folder is read; give a folder outside it")
    if short_side < recipe.crop:
        raise ValueError(f"short_side ({short_side} px) must be at least the recipe's crop ({recipe.crop} px)")
    if not 1 <= quality <= 100:
        raise ValueError(f"quality ({quality}) must be 1 to 100")
    check_writable(out)
    groups, held = recipe_images(recipe), held_back_photos(recipe)
    # a truncated JPEG: one line, not an OSError traceback half way through the encoding, and before the progress
    # line (the CLI's error is its only line). The training images are checked first (cheaply: a JPEG at 1/8 scale,
    # see check_images); the held-back photos, encoded before that line, are decoded once, checked as encoded
    check_images([p for paths, _ in groups for p in paths], 0)
    held_data = [_encoded(p, short_side, quality, "held-back photo") for p in held]
    room = max_bytes - sum(map(len, held_data))
    if room <= 0:
        raise ValueError(f"max_bytes ({max_bytes}) does not hold even the {len(held)} held-back photos")
    items = [(g, p) for g, (paths, _) in enumerate(groups) for p in paths]
    progress(f"encoding {len(items)} training and {len(held)} held-back images at {short_side} px, quality {quality}")
    data = [_encoded(p, short_side, quality) for _, p in items]
    order = np.random.default_rng(recipe.seed).permutation(len(items))
    kept = order[np.cumsum([len(data[i]) for i in order]) <= room]
    kept = sorted(kept.tolist())
    empty = [g for g in range(len(groups)) if not any(items[i][0] == g for i in kept)]
    if empty:
        raise ValueError(f"max_bytes ({max_bytes}) keeps no image of group {empty[0]} (of {len(groups[empty[0]][0])} "
                         f"images): give more bytes, or a smaller short_side or quality")
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        files: list[list[str]] = [[] for _ in groups]         # group g's images: g<g>/00000.webp, ... in kept order
        for i in kept:
            g = items[i][0]
            files[g].append(f"g{g}/{len(files[g]):05d}.webp")
            (tmp / f"g{g}").mkdir(exist_ok=True)
            (tmp / files[g][-1]).write_bytes(data[i])
        (tmp / "held").mkdir()
        held_names = [f"held/{j:05d}.webp" for j in range(len(held))]
        for name, blob in zip(held_names, held_data):
            (tmp / name).write_bytes(blob)
        record = {"format": PACK_FORMAT, "short_side": short_side, "quality": quality,
                  "groups": [{"share": share, "files": files[g]} for g, (_, share) in enumerate(groups)],
                  "held_back": held_names, "kept": len(kept), "of": len(items),
                  "bytes": sum(len(data[i]) for i in kept) + sum(map(len, held_data)),
                  "made_from": {k: getattr(recipe, k) for k in ("name", "data", "holdout_every", "video",
                                                                "video_holdout_every", "video_stride", "seed")}}
        (tmp / PACK_FILE).write_text(json.dumps(record, indent=1))
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return record
