"""Training samples made on the fly from colour photos (and frames of colour clips): (coarse, fine) crops
plus the global level cue, colour crops, (target, reference) pairs."""
from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image, ImageOps

from vidcolor.cache import cache_dir
from vidcolor.errors import VidcolorError
from vidcolor.io.files import FFMPEG_IMAGE_SUFFIXES, GRAY16_MODES, is_image, round16, umask
from vidcolor.io.depth import upright16
from vidcolor.io.icc import to_srgb
from vidcolor.cue import level_cue
from vidcolor.training.consistency import TERMS, consistency_terms
from vidcolor.training.degrade import KIND_SHARES, sample_degradation


def list_images(root: str | Path) -> list[Path]:
    """All image files under ``root`` (recursive) that Pillow reads (:func:`read_rgb`; not a scan's DPX, which the
    runtime reads through FFmpeg: :data:`~vidcolor.io.files.FFMPEG_IMAGE_SUFFIXES`), sorted for reproducibility."""
    return sorted(p for p in Path(root).rglob("*") if p.is_file() and is_image(p)
                  and p.suffix.lower() not in FFMPEG_IMAGE_SUFFIXES)


def folder_named(path: str | Path) -> str:
    """``path`` for a message; a relative one says what it is relative to (a recipe's data folders are read from
    the current folder, not the recipe's)."""
    return str(path) if Path(path).is_absolute() else f"{path} (relative to the current folder, {Path.cwd()})"


def split_holdout(paths: list[Path], every: int = 20) -> tuple[list[Path], list[Path]]:
    """Deterministic split: every ``every``-th image is held back for validation, never trained on."""
    return [p for i, p in enumerate(paths) if i % every], [p for i, p in enumerate(paths) if not i % every]


PIXEL_ART_MAX_ENLARGEMENT = 4
"""Pixel art is enlarged by nearest neighbour at most this much to cover a crop (:class:`DequantizationPairs`)."""


def check_images(paths: list[Path], crop: int, pixel_art: list[bool] | None = None, what: str = "training image") -> None:
    """Check that training can draw crops from ``paths``: every file decodes whole as an image (a truncated JPEG
    opens, and its header is fine, but the stream's :func:`read_rgb` of it failed as a traceback when it was drawn,
    maybe hours into the run), and at least one is large enough for a ``crop x crop`` window (pixel art: once
    enlarged :data:`PIXEL_ART_MAX_ENLARGEMENT` times). The streams skip the images that are too small; were all of
    them, they would look for a usable one forever. A JPEG is decoded at 1/8 scale (Pillow's draft mode: libjpeg
    still reads the whole entropy-coded stream, so a truncated one fails as at full size, down to a missing end
    marker, baseline or progressive) -- a 4000x3000 one in about 25 ms instead of 125. ``what`` names the images in
    the messages (the held-back photos are checked too, when a recipe validates: were all of them smaller than the
    crop, the validation batches were looked for forever).

    Raises:
        ValueError: a file that is not a readable image (naming it), or no image large enough.
    """
    pixel_art = pixel_art or [False] * len(paths)
    usable = 0
    for path, art in zip(paths, pixel_art):
        with readable(path, what), Image.open(path) as img:
            short = min(img.size)           # the EXIF orientation (read_rgb's) turns an image, not its shorter side
            if img.format == "JPEG":        # 1/8 scale: every byte of the stream still read (see above)
                img.draft(img.mode, (max(1, img.width // 8), max(1, img.height // 8)))
            img.load()                      # the whole file: a truncated or damaged one fails here, not mid-run
            if img.mode in ("F", *GRAY16_MODES):
                _eight_bit(img)
        usable += short * (PIXEL_ART_MAX_ENLARGEMENT if art else 1) >= crop
    if paths and not usable:
        raise ValueError(f"no {what} is at least {crop} px on its shorter side (the recipe's crop)")


@contextlib.contextmanager
def readable(path: Path, what: str = "training image"):
    """Pillow's errors of reading ``path`` in the ``with`` block as one-line ValueErrors naming it (as ``what``):
    :func:`check_images`, and :func:`vidcolor.training.pack.write_pack`, which decodes each image once, to encode it.
    """
    try:
        yield
    except SampleDepthError as exc:
        raise ValueError(f"{what} {path} {exc}") from None
    except (OSError, ValueError, Image.DecompressionBombError) as exc:   # UnidentifiedImageError is an OSError
        raise ValueError(f"{what} {path} cannot be read ({type(exc).__name__})") from None


RETRO_HELD_BACK_PACKAGES = ("supertux", "tecnoballz")
"""Folders of ``retro/`` never trained on (whole packages: their art shares one hand and palette)."""

RETRO_HELD_BACK_GAMES = ("ms_pacman", "riverraid")
"""Atari games never trained on: the games of the ``retro/video`` gameplay clips (benchmarked)."""

RETRO_GAME_HOLDOUT_EVERY = 5
"""Besides those, every 5th other Atari game (sorted by name, from the first) is held back."""


def split_retro(root: str | Path) -> tuple[list[Path], list[Path]]:
    """The images of ``retro/`` (pixel art, game graphics, Atari frames) split by whole package or game.

    Held back (never trained on): :data:`RETRO_HELD_BACK_PACKAGES`, the Atari games of
    :data:`RETRO_HELD_BACK_GAMES` and every :data:`RETRO_GAME_HOLDOUT_EVERY`-th other game; ``video/``
    is not read. Returns ``(training images, held-back images)``, each sorted.
    """
    root = Path(root)
    images = [p for p in list_images(root) if p.relative_to(root).parts[0] != "video"]

    def game(p: Path) -> str:  # atari_ms_pacman_02.png -> ms_pacman
        return p.stem.removeprefix("atari_").rsplit("_", 1)[0]

    others = sorted({game(p) for p in images if p.parent.name == "atari"} - set(RETRO_HELD_BACK_GAMES))
    held_games = set(RETRO_HELD_BACK_GAMES) | set(others[::RETRO_GAME_HOLDOUT_EVERY])
    held = [p for p in images if p.relative_to(root).parts[0] in RETRO_HELD_BACK_PACKAGES
            or (p.parent.name == "atari" and game(p) in held_games)]
    return [p for p in images if p not in held], held


class SampleDepthError(ValueError):
    """An image whose samples :func:`read_rgb` cannot bring to 8 bits (the message says how, without the path)."""


def _eight_bit(img: Image.Image) -> Image.Image:
    """``img`` with 16-bit gray samples rounded to 8 bits (:func:`~vidcolor.io.files.round16`, as the inference
    path reads them: Pillow's ``convert`` clips them at 255, and a 16-bit gray PNG trained as a white image); other
    images as they are.

    Raises:
        SampleDepthError: float samples (mode ``F``, a 32-bit TIFF's) or 32-bit integers beyond 0..65535, which would
            come out clipped too.
    """
    if img.mode == "F":
        raise SampleDepthError("has float samples (convert it to 8 or 16 bits)")
    if img.mode in GRAY16_MODES:
        levels = np.asarray(img)
        if levels.size and (levels.min() < 0 or levels.max() > 65535):
            raise SampleDepthError("has samples beyond 16 bits (convert it to 8 or 16 bits)")
        return Image.fromarray(round16(levels))
    return img


def oriented(img: Image.Image) -> Image.Image:
    """``img`` (loaded) turned upright by its EXIF orientation, in place, as the runtime's
    :func:`vidcolor.io.images.read_image` reads an image (``ImageOps.exif_transpose``): a phone's portrait photo was
    trained on sideways, and coloured upright. An image without the tag (or with orientation 1) is left as it is."""
    ImageOps.exif_transpose(img, in_place=True)
    return img


def read_rgb(path: str | Path) -> np.ndarray:
    """An image as uint8 RGB ``(H, W, 3)``, upright by its EXIF orientation (:func:`oriented`, as the runtime reads
    it); transparent pixels (palette or alpha transparency) become black; 16-bit gray rounded to 8 bits
    (:func:`_eight_bit`), and 16-bit colour (:func:`~vidcolor.io.depth.upright16`, rounded, as the runtime reads it:
    Pillow kept the high byte, 0x10FF as 16, not 17); colours in sRGB, as the models work and as the runtime reads a
    ``--reference`` (:func:`~vidcolor.io.icc.to_srgb`: CMYK through its ICC profile, where Pillow's naive
    ``255 - C - K`` trained on a print photo far too saturated and dark; a Display P3 / Adobe RGB photo through its
    profile or EXIF, which trained on its colours as sRGB's).
    Pillow's errors pass through (``FileNotFoundError``, ``PIL.UnidentifiedImageError``: OSErrors);
    SampleDepthError (a ValueError) for samples :func:`_eight_bit` refuses."""
    img = Image.open(path)
    try:                    # 16-bit colour: decoded once, by OpenCV (tifffile), upright, as the runtime reads it
        whole = upright16(img, path)
    except VidcolorError:   # a 16-bit PNG that OpenCV does not decode: Pillow's reading of it (the high bytes)
        whole = None
    if whole is not None:
        img = to_srgb(Image.fromarray(round16(whole)), img)               # (img's tags: its profile)
    else:
        img.load()
        img = to_srgb(_eight_bit(oriented(img)), img)
    if img.mode in ("P", "PA", "LA", "RGBA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return np.asarray(Image.alpha_composite(black, rgba).convert("RGB"))
    return np.asarray(img.convert("RGB"))


VIDEO_HOLDOUT_EVERY = 2
"""Every 2nd colour clip (sorted by name, from the first) is held back from training (see :func:`split_clips`)."""


def frame_cache() -> Path:
    """Where :func:`video_frames` stores extracted frames: ``frames/`` of :func:`vidcolor.cache.cache_dir`."""
    return cache_dir() / "frames"


FRAME_CACHE_DAYS = 30
"""Extracted frames that no training has used for this many days are removed (:func:`_prune`), as are the temporary
folders of extractions killed that long ago: a clip edited, re-encoded or dropped from the data, or a recipe's
``video_stride`` changed, left its old frames (about 12 MB a minute of 30 fps clip at stride 3) in the cache for
good."""


def split_clips(root: str | Path, every: int = VIDEO_HOLDOUT_EVERY) -> tuple[list[Path], list[Path]]:
    """The colour clips (``*.mp4``, sorted) under ``root`` split by :func:`split_holdout`: whole clips are
    held back (every ``every``-th one, from the first), because the frames of one clip are near copies.
    Returns ``(training clips, held-back clips)``; the colorize benchmark evaluates on the held-back ones."""
    return split_holdout(sorted(Path(root).glob("*.mp4")), every)


def video_frames(clips: list[Path], stride: int = 3, short_side: int = 256) -> list[Path]:
    """Training frames of ``clips``: every ``stride``-th frame, downscaled (INTER_AREA) so the shorter side
    is at most ``short_side`` px and written once as JPEG quality 90 under :func:`frame_cache` (the
    preparation ../shared/data applied to the photos); later calls reuse the files. A clip's frames are written
    to a temporary folder and renamed into place whole (:func:`_extract`), so that runs that start at once (two
    trainings on one machine) never read frames another is still writing, and a run killed half way leaves none.
    Each use marks a clip's folder as used; a call that extracted one removes those no training has used for
    :data:`FRAME_CACHE_DAYS` days (:func:`_prune`), so the cache holds what the recent trainings read, not every
    version of every clip ever extracted.

    Returns:
        paths of the frame JPEGs, clip by clip in frame order.

    Raises:
        VidcolorError: a clip cannot be decoded; no cache folder (:func:`vidcolor.cache.cache_dir`), or one that
            cannot be written.
    """
    out, used, extracted = [], set(), False
    for clip in clips:
        folder = frame_cache() / f"{clip.stem}-{clip.stat().st_size}-s{stride}-{short_side}"
        if not (folder / "done").exists():
            _extract(clip, folder, stride, short_side)
            extracted = True
        else:
            with contextlib.suppress(OSError):      # its last use (another user's cache may be read-only)
                os.utime(folder / "done")
        used.add(folder)
        out += sorted(folder.glob("*.jpg"))
    if extracted:                                   # the cache grew: what is no longer used goes
        _prune(frame_cache(), used)
    return out


def _prune(cache: Path, used: set[Path]) -> None:
    """Remove the folders of ``cache`` (:func:`frame_cache`) but ``used`` that no training has used for
    :data:`FRAME_CACHE_DAYS` days (their ``done``'s time, set at each use by :func:`video_frames`; a folder without one,
    an extraction's temporary folder or half of one, by its own time). What cannot be looked at or removed is let be."""
    limit = time.time() - FRAME_CACHE_DAYS * 86400
    try:
        entries = [e for e in cache.iterdir() if e not in used and e.is_dir() and not e.is_symlink()]
    except OSError:
        return
    for entry in entries:
        try:
            done = entry / "done"
            last = done.stat().st_mtime if done.exists() else entry.stat().st_mtime
        except OSError:
            continue
        if last < limit:
            shutil.rmtree(entry, ignore_errors=True)


def _extract(clip: Path, folder: Path, stride: int, short_side: int) -> None:
    """Write ``clip``'s frames (as :func:`video_frames` says) and an empty ``done`` to a new hidden sibling of
    ``folder``, then rename it to ``folder``. Where another run renamed its own there first, that one is kept and
    this one removed; a ``folder`` without ``done`` (left by a vidcolor that extracted in place, killed half way) is
    replaced. Each run wrote its JPEGs over the same names before: one run could read a frame another was rewriting."""
    import tempfile

    from vidcolor.io import VideoReader

    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    except OSError as exc:
        raise VidcolorError(f"cannot write training frames in {folder.parent} ({exc.strerror or exc}; set "
                            "VIDCOLOR_CACHE to a folder that can be written)") from None
    try:
        with VideoReader(clip) as reader:
            for i, rgb in enumerate(reader):
                if i % stride:
                    continue
                h, w = rgb.shape[:2]
                s = min(1.0, short_side / min(h, w))
                small = cv2.resize(rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
                Image.fromarray(small).save(tmp / f"{i:05d}.jpg", quality=90)
        (tmp / "done").touch()
        os.chmod(tmp, 0o777 & ~umask())         # mkdtemp's 0700 would hide a shared cache from its other users
        for attempt in range(2):
            try:
                os.rename(tmp, folder)          # fails where folder is there and not empty
                return
            except OSError as exc:
                if (folder / "done").exists():  # another run's, whole
                    return
                if attempt:
                    raise VidcolorError(f"cannot write training frames to {folder} ({exc.strerror or exc})") from None
                # half an extraction in place: moved aside whole, then removed, so that the removal never reaches
                # into a folder another run renamed there since the test above
                aside = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old.", dir=folder.parent)) / "old"
                try:
                    os.rename(folder, aside)
                    if (aside / "done").exists():   # whole after all: renamed there by another run since the test
                        os.rename(aside, folder)
                        return
                except OSError:
                    pass
                finally:
                    shutil.rmtree(aside.parent, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class PhotoStream(torch.utils.data.IterableDataset):
    """Base of the endless training streams: a list of photo paths, a crop size and a seed; each
    DataLoader worker draws from its own random generator (seeded by seed, worker id and torch's seed).

    Args:
        paths: training images.
        crop: crop size, pixels.
        seed: random seed.
        p: optional probability of drawing each path (length ``len(paths)``, sums to 1); default uniform.

    Raises:
        ValueError: if ``paths`` is empty or ``p`` does not match it.
    """

    def __init__(self, paths: list[Path], crop: int = 128, seed: int = 0, p: list[float] | None = None):
        super().__init__()
        if not paths:
            raise ValueError("no training images found")
        if p is not None and (len(p) != len(paths) or not np.isclose(sum(p), 1.0)):
            raise ValueError("p must give one probability per path, summing to 1")
        self.paths, self.crop, self.seed, self.p = paths, crop, seed, p

    def rng(self) -> np.random.Generator:
        """This worker's generator, seeded by ``[seed, worker id (0 in the main process), torch.initial_seed()
        mod 2^31]``. ``Trainer.fit`` seeds torch with the recipe's seed, and a resumed run with one of that seed
        and the step it resumes at (:func:`~vidcolor.training.trainer.resume_seed`), so a resume draws new samples."""
        info = torch.utils.data.get_worker_info()
        return np.random.default_rng([self.seed, info.id if info else 0, int(torch.initial_seed() % 2**31)])

    def pick(self, rng: np.random.Generator) -> int:
        """Index of a random training image (uniform, or by ``p``)."""
        return int(rng.choice(len(self.paths), p=self.p)) if self.p is not None else int(rng.integers(len(self.paths)))


class DequantizationPairs(PhotoStream):
    """Endless stream of (coarse, fine, level cue) samples.

    Each image is degraded whole by a freshly sampled :class:`~vidcolor.training.degrade.Degradation`
    (so the palette and level set belong to the image, not the crop), its level cue is taken
    over the whole degraded image, then an aligned random crop (and horizontal flip) is cut.

    Pixel art (``pixel_art[i]`` true: game graphics, emulator frames) is first enlarged by nearest
    neighbour, x1, x2 or x3, or more to cover a crop (an image that needs more than
    :data:`PIXEL_ART_MAX_ENLARGEMENT` is skipped), as such footage is shown; its target is the
    art itself, and ``identity_pixel_art`` of its samples are not quantized at all (natively
    low-palette input, target = input up to the codec). ``identity`` is that share for photos and frames.

    Args:
        paths, crop, seed, p: see :class:`PhotoStream`.
        pixel_art: one flag per path (default: none is pixel art).
        identity, identity_pixel_art: shares of unquantized samples, see
            :func:`~vidcolor.training.degrade.sample_degradation`.
        kinds: the quantizer kinds drawn (``sample_degradation``'s ``kinds``; default all).
        consistency: also yield the consistency stage's terms of each sample
            (:func:`~vidcolor.training.consistency.consistency_terms`, taken on the whole degraded image).

    Yields:
        ``coarse`` uint8 ``(crop, crop, 3)``, ``fine`` uint8 ``(crop, crop, 3)`` RGB, and
        ``cue`` float32 ``(CUE_DIM,)`` from :func:`~vidcolor.cue.level_cue`; with ``consistency`` also the
        terms, float32 ``(crop, crop, TERMS)`` (zeros where the image holds no uniform levels), and whether
        there are any (float32 0 or 1).

    Raises:
        ValueError: as :class:`PhotoStream`, or ``pixel_art`` not one flag per path.
    """

    def __init__(self, paths: list[Path], crop: int = 128, seed: int = 0, p: list[float] | None = None,
                 pixel_art: list[bool] | None = None, identity: float = 0.1, identity_pixel_art: float = 0.35,
                 kinds: tuple[str, ...] = tuple(KIND_SHARES), consistency: bool = False):
        super().__init__(paths, crop, seed, p)
        if pixel_art is not None and len(pixel_art) != len(paths):
            raise ValueError("pixel_art must give one flag per path")
        self.pixel_art = pixel_art or [False] * len(paths)
        self.identity, self.identity_pixel_art = identity, identity_pixel_art
        self.kinds = tuple(kinds)
        self.consistency = consistency

    def __iter__(self):
        rng = self.rng()
        while True:
            i = self.pick(rng)
            fine = read_rgb(self.paths[i])
            if self.pixel_art[i]:
                factor = max(int(rng.choice([1, 2, 2, 3])), -(-self.crop // min(fine.shape[:2])))
                if factor > PIXEL_ART_MAX_ENLARGEMENT:
                    continue
                fine = np.repeat(np.repeat(fine, factor, 0), factor, 1)
            h, w = fine.shape[:2]
            if min(h, w) < self.crop:
                continue
            identity = self.identity_pixel_art if self.pixel_art[i] else self.identity
            coarse = sample_degradation(rng, identity, self.kinds).apply(fine, seed=int(rng.integers(1 << 30)))
            cue = level_cue(coarse)
            y, x = rng.integers(h - self.crop + 1), rng.integers(w - self.crop + 1)
            sl = (slice(y, y + self.crop), slice(x, x + self.crop))
            c, f = coarse[sl], fine[sl]
            flip = rng.random() < 0.5
            if flip:
                c, f = c[:, ::-1], f[:, ::-1]
            if not self.consistency:
                yield np.ascontiguousarray(c), np.ascontiguousarray(f), cue
                continue
            terms = consistency_terms(coarse)
            t = np.zeros((self.crop, self.crop, TERMS), np.float32) if terms is None else terms[sl]
            if flip:
                t = t[:, ::-1]
            yield (np.ascontiguousarray(c), np.ascontiguousarray(f), cue, np.ascontiguousarray(t),
                   np.float32(terms is not None))


class ColorizationCrops(PhotoStream):
    """Endless stream of colour crops for self-supervised colorization (the gray input is their L).

    Each photo is resized so that its shorter side is a random length in ``[crop, 2 * crop]`` (capped
    at its own size), so crops show whole objects and scenes rather than texture, then an aligned random
    ``crop x crop`` window is cut and flipped horizontally half the time.

    Yields:
        uint8 RGB ``(crop, crop, 3)``.
    """

    def scaled_photo(self, rng: np.random.Generator, avoid: int | None = None) -> tuple[int, np.ndarray]:
        """A random training photo (its index and uint8 RGB pixels), its shorter side resized to a random
        length in ``[crop, 2 * crop]`` (capped at its own size); photos smaller than ``crop`` and the
        photo ``avoid`` (when there is another at least ``crop`` px: were it the only one, ``avoid`` was looked
        past forever and the run hung at its first mismatched reference) are skipped."""
        if avoid is not None and getattr(self, "_usable", None) is None:    # counted once, from the headers
            self._usable = 0
            for path in self.paths:
                with Image.open(path) as img:
                    self._usable += min(img.size) >= self.crop
        while True:
            i = self.pick(rng)
            if i == avoid and self._usable > 1:
                continue
            img = Image.fromarray(read_rgb(self.paths[i]))   # as every stream reads (16-bit gray was white)
            short = min(img.size)
            if short < self.crop:
                continue
            target = int(rng.integers(self.crop, min(short, 2 * self.crop) + 1))
            scale = target / short
            img = img.resize((max(self.crop, round(img.size[0] * scale)), max(self.crop, round(img.size[1] * scale))),
                             Image.BICUBIC)
            return i, np.asarray(img)

    def random_crop(self, rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A ``crop x crop`` window of ``rgb`` at a random place, flipped horizontally half the time."""
        h, w = rgb.shape[:2]
        y, x = rng.integers(h - self.crop + 1), rng.integers(w - self.crop + 1)
        out = rgb[y:y + self.crop, x:x + self.crop]
        return np.array(out[:, ::-1] if rng.random() < 0.5 else out)  # a writable copy

    def __iter__(self):
        rng = self.rng()
        while True:
            yield self.random_crop(self.scaled_photo(rng)[1], rng)


class ExemplarPairs(ColorizationCrops):
    """Endless stream of (target, reference) crops for exemplar-guided colorization (self-supervised).

    The reference is another view of the same photo: a crop at another place of a copy rotated by up to
    ``max_rotation`` degrees and scaled by 0.8-1.25 (so the two views overlap only in part and never
    align pixel for pixel), flipped independently. With probability ``mismatch`` the reference is a
    crop of another photo, so that the network also learns to ignore hints that match nothing.

    Yields:
        ``target`` and ``reference``, uint8 RGB ``(crop, crop, 3)``.
    """

    def __init__(self, paths: list[Path], crop: int = 128, seed: int = 0, p: list[float] | None = None,
                 mismatch: float = 0.2, max_rotation: float = 15.0):
        super().__init__(paths, crop, seed, p)
        self.mismatch, self.max_rotation = mismatch, max_rotation

    def __iter__(self):
        rng = self.rng()
        while True:
            index, photo = self.scaled_photo(rng)
            target = self.random_crop(photo, rng)
            if rng.random() < self.mismatch:
                yield target, self.random_crop(self.scaled_photo(rng, avoid=index)[1], rng)
                continue
            h, w = photo.shape[:2]
            m = cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(-self.max_rotation, self.max_rotation),
                                        rng.uniform(0.8, 1.25))
            view = cv2.warpAffine(photo, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
            yield target, self.random_crop(view, rng)
