"""Colorization after colour reference images: ``colorize --reference`` in its two modes.

* ``fast`` (:class:`ReferenceColorizer`): the exemplar-guided network of
  :mod:`vidcolor.models.exemplar`, trained once on photos; the references' features are computed once,
  then frames stream through at the automatic colorizer's speed.
* ``internal`` (:class:`InternalColorizer`): the two-image method of seed 002
  (:mod:`vidcolor.internal`), trained at run time on the reference and a key frame, then
  applied to every frame.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import torch

from vidcolor.color import rgb_to_lab, resize_ab
from vidcolor.engine import OUTPUT
from vidcolor.errors import VidcolorError
from vidcolor.io import read_image
from vidcolor.jobs import DEFAULTS
from vidcolor.models.two_image import gray, to_tensor
from vidcolor.pipeline import Batch, Colorizer, LabJob, pick_device
from vidcolor.weights import load_generator, save_generator


def read_references(paths: list[str | Path]) -> list[np.ndarray]:
    """Read reference images as uint8 RGB ``(H, W, 3)``. Raises VidcolorError when one is unreadable
    (the jobs check how many they need)."""
    return [read_image(p)[0] for p in paths]


class ReferenceColorizer(Colorizer):
    """Exemplar-guided colorization (``--reference-mode fast``).

    Each reference is reduced to the render size like the frames (its shorter side ``render_size``), its
    L goes through the same encoder, and its matching descriptors and 8x8-averaged ab are kept; frames
    are then coloured by :class:`~vidcolor.models.exemplar.ExemplarColorizer` with all references'
    positions as candidates (several references simply offer more positions).

    Args:
        references: uint8 RGB images ``(H, W, 3)``, at least one.
        model: registry name or path of a ``colorize-reference`` model (default: colorize-exemplar).
        others: as :class:`~vidcolor.pipeline.Colorizer` (``blur``/``equalize`` apply to references too).
        features: the references' ``(keys, values)`` as :attr:`features` of an earlier instance with the same
            model and options gave them (float32 arrays); then ``references`` may be empty and nothing is
            recomputed (a distributed run computes them once and ships them to its workers).

    Attributes:
        features: ``(keys, values)`` float32 arrays bound to the engine.

    ``__call__(frames uint8 RGB (N, H, W, 3)) -> uint8 RGB (N, H, W, 3)``; the output's L is the input's.

    Raises:
        VidcolorError: no references, a model of another job, bad option values.
    """

    JOB = "colorize-reference"

    def __init__(self, references: list[np.ndarray], model: str = DEFAULTS["colorize-reference"],
                 device: str = "auto", render_size: int = 256, saturation: float | None = None,
                 temperature: float | None = None, blur: bool = False, equalize: bool = False,
                 backend: str = "auto", precision: str = "auto",
                 features: tuple[np.ndarray, np.ndarray] | None = None):
        if not references and features is None:
            raise VidcolorError("--reference: give at least one reference image")
        super().__init__(model, device, render_size, saturation, temperature, blur, equalize, backend, precision)
        if features is not None:
            self.features = features
            self.engine.bind(keys=features[0], values=features[1])
            return
        if self.generator is None:
            raise VidcolorError(f"{model}: the reference mode needs the weight file (its reference encoder), "
                                "not an exported .onnx graph; give the .safetensors with --backend onnxruntime")
        dtype = next(self.generator.parameters()).dtype
        keys, values = [], []
        with torch.inference_mode():
            for ref in references:
                lab = rgb_to_lab(ref)
                L = self.network_input(lab[None, ..., 0])[0]
                ab = cv2.resize(lab[..., 1:], (L.shape[1], L.shape[0]), interpolation=cv2.INTER_AREA)
                L_n = torch.from_numpy(L / 50.0 - 1.0)[None, None].to(self.device, dtype)
                k, v = self.generator.reference(L_n, torch.from_numpy(ab).permute(2, 0, 1)[None].to(self.device, dtype))
                keys.append(k)
                values.append(v)
        self.features = (torch.cat(keys, 1).float().cpu().numpy(), torch.cat(values, 1).float().cpu().numpy())
        self.engine.bind(keys=self.features[0], values=self.features[1])


class InternalColorizer(LabJob):
    """Two-image reference colorization (``--reference-mode internal``, seed 002).

    The per-scale generators are trained on the reference and a key frame -- ``key_frame`` when given,
    else the first frame that arrives, so stdin works -- or loaded from a file saved earlier. Every
    frame is then coloured by the generator pyramid on its gray image (longer side ``settings.size``,
    fixed noise); the output's ab are upsampled to full resolution and joined with the frame's own L.

    Args:
        references: exactly one uint8 RGB ``(H, W, 3)`` image (the method takes one reference), or
            none when ``load_model`` is given.
        device: ``auto``, ``cpu`` or ``cuda`` (training and inference).
        settings: :class:`~vidcolor.internal.TwoImageSettings` (iterations per scale, size).
        load_model: a pair saved by ``save_model`` (then nothing is trained).
        save_model: where to write the trained generators (safetensors) once trained.
        key_frame: uint8 RGB frame to train on instead of the first frame.
        progress: tqdm bars per scale on stderr.

    Raises:
        VidcolorError: not exactly one reference without ``load_model``, a file that is not a saved pair.
    """

    JOB = "colorize-internal"

    def __init__(self, references: list[np.ndarray], device: str = "auto", settings=None,
                 load_model: str | Path | None = None, save_model: str | Path | None = None,
                 key_frame: np.ndarray | None = None, progress: bool = True):
        from vidcolor.internal import TwoImageSettings

        if save_model is not None:       # refused now, not after the training
            if not Path(save_model).resolve().parent.is_dir():
                raise VidcolorError(f"--save-model {save_model}: no such folder")
            try:
                with tempfile.TemporaryFile(dir=Path(save_model).resolve().parent):
                    pass
            except OSError as exc:
                raise VidcolorError(f"--save-model {save_model}: cannot write there ({exc.strerror})") from None
        self.device = pick_device(device)
        self.settings = settings or TwoImageSettings()
        self.save_model, self.progress, self.model = save_model, progress, None
        if load_model is not None:
            self.model, arch = load_generator(str(load_model), self.device)
            if arch.get("job") != self.JOB:
                raise VidcolorError(f"{load_model}: not a model saved by --reference-mode internal --save-model")
            self.settings.size = arch["size"]
        elif len(references) != 1:
            raise VidcolorError("--reference-mode internal takes exactly one --reference (or --load-model)")
        self.reference = references[0] if references else None
        if key_frame is not None and self.model is None:
            self.train(key_frame)

    def train(self, key_frame: np.ndarray) -> None:
        """Train the pair on the reference and ``key_frame`` (uint8 RGB ``(H, W, 3)``); save it if asked."""
        from vidcolor.internal import train_two_image

        if self.progress:
            print(f"vidcolor: internal mode: training on the reference and the key frame, {self.settings.iters} "
                  f"iterations per scale on {self.device} (lower it with --internal-iters)", file=sys.stderr)
        self.model = train_two_image(self.reference, key_frame, self.settings, self.progress, device=self.device)
        if self.save_model is not None:
            self.save(self.save_model)

    def save(self, path: str | Path) -> None:
        """Write the trained generators to ``path`` (safetensors, fp32; ``load_model`` reads them back).

        Raises:
            VidcolorError: nothing trained yet, or the file cannot be written.
        """
        if self.model is None:
            raise VidcolorError("internal mode: nothing trained yet")
        arch = {"family": "two_image", "job": self.JOB, "size": self.settings.size,
                "kwargs": {"scales": len(self.model.generators), "width": self.settings.width,
                           "factor": self.settings.factor}}
        save_generator(self.model, path, arch, half=False)

    def prepare(self, frames: np.ndarray) -> Batch:
        if self.model is None:          # the first frame to arrive is the key frame
            self.train(frames[0])
        return Batch(frames, context={"L": rgb_to_lab(frames)[..., 0]})

    @torch.inference_mode()
    def infer(self, batch: Batch) -> Batch:
        """The trained generator pyramid (torch; trained at run time, so no other engine)."""
        x = torch.cat([gray(to_tensor(f, self.settings.size)) for f in batch.frames]).to(self.device)
        rgb = ((self.model(x) + 1.0) * 127.5 + 0.5).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        batch.outputs = {OUTPUT: rgb}
        return batch

    def lab(self, batch: Batch) -> tuple[np.ndarray, np.ndarray]:
        L = batch.context["L"]
        return L, resize_ab(rgb_to_lab(batch.outputs[OUTPUT])[..., 1:], L.shape[1:])
