"""The jobs as a notebook calls them directly: memory bounded whatever the number of frames, devices as torch
writes them (vidcolor.pipeline, vidcolor.engine, vidcolor.device)."""
from __future__ import annotations

import numpy as np
import pytest

from vidcolor.errors import VidcolorError
from vidcolor.pipeline import Colorizer, Dequantizer


def _frames(n: int, h: int = 24, w: int = 32, levels: int = 256) -> np.ndarray:
    rng = np.random.default_rng(0)
    step = 255 // (levels - 1)
    return (rng.integers(0, levels, (n, h, w, 3)) * step).astype(np.uint8)


def _batches_seen(job) -> list[int]:
    """Record the number of frames of each network batch of ``job`` (its ``infer`` stage's input)."""
    seen, infer = [], job.infer

    def counted(batch):
        seen.append(len(batch.feeds["frame"]))
        return infer(batch)

    job.infer = counted
    return seen


def _whole(job, frames: np.ndarray) -> np.ndarray:
    """The job's stages on all ``frames`` as one batch (what a direct call did)."""
    return job.finish(job.infer(job.prepare(frames)))


@pytest.mark.parametrize("kind", ["dequantize", "colorize"])
def test_a_direct_call_runs_in_bounded_batches_with_the_bytes_of_one(kind, tiny_models, tiny_colorizers):
    """Dequantizer(...)(frames) and Colorizer(...)(frames) ran all N frames as one network batch, so peak memory grew
    with N: 64 frames of 320x180 took the colorizer 2.5 GB more than one frame (peak RSS), the dequantizer 0.2 GB.
    The call now runs chunks of the file path's batch size (job_batch_size: 16 here), the output unchanged."""
    def make():
        if kind == "dequantize":
            return Dequantizer(str(tiny_models.lab), device="cpu", consistency=False, backend="torch")
        return Colorizer(str(tiny_colorizers.fcn), device="cpu", backend="torch", render_size=64)

    frames = _frames(40)
    job, reference = make(), make()
    seen = _batches_seen(job)
    out = job(frames)
    assert seen == [16, 16, 8]
    assert out.dtype == np.uint8 and out.shape == frames.shape
    assert np.array_equal(out, _whole(reference, frames))

    seen.clear()                            # predict_lab (the raw L and ab) likewise
    whole = make()
    whole.batch_size = 40
    for got, expected in zip(job.predict_lab(frames), whole.predict_lab(frames)):
        assert got.dtype == np.float32 and np.array_equal(got, expected)
    assert seen == [16, 16, 8]

    job.batch_size = 7                      # a notebook's own bound
    seen.clear()
    job(frames[:20])
    assert seen == [7, 7, 6]
    for bad in (0, 2.5, True):
        job.batch_size = bad
        with pytest.raises(VidcolorError, match="batch size"):
            job(frames[:2])


def test_a_still_called_in_chunks_keeps_its_one_estimate(tiny_models):
    """In stills mode a call is one still: its quantizer is estimated on all its frames, as before the chunks, and
    recorded once (Dequantizer.found)."""
    frames = _frames(20, levels=16)         # 4-bit levels: a uniform quantizer is found
    job, reference = (Dequantizer(str(tiny_models.lab), device="cpu", backend="torch") for _ in range(2))
    for j in (job, reference):
        j.set_stills(True)
        j.batch_size = 6
    seen = _batches_seen(job)
    out = job(frames)
    assert seen == [6, 6, 6, 2]
    assert np.array_equal(out, _whole(reference, frames))
    assert [(f.quantizer, f.frames) for f in job.found] == [(f.quantizer, f.frames) for f in reference.found]
    assert len(job.found) == 1 and job.found[0].frames == 20 and job.found[0].unchanged is None


@pytest.fixture
def gpus(monkeypatch, tmp_path):
    """Simulate a machine with ``n`` CUDA GPUs (0: an NVIDIA driver, but no GPU torch can use): ``gpus(n)``."""
    import torch

    from vidcolor import device

    node = tmp_path / "nvidiactl"
    node.touch()
    monkeypatch.setattr(device, "NVIDIA_NODES", (str(node),))

    def simulate(n: int) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: n > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: n)
    return simulate


def test_devices_as_torch_writes_them(gpus):
    """device="cuda:0" (and "cpu:0", "cuda:1", a torch.device) was refused, 'unknown device 'cuda:0' (auto, cpu or
    cuda)', while torch users write them. They are taken where that device exists; where it does not, one line says
    why. auto, cpu and cuda are as they were."""
    import torch

    from vidcolor.device import pick_device

    gpus(2)
    for given, taken in (("auto", "cuda"), ("cpu", "cpu"), ("cuda", "cuda"), ("cpu:0", "cpu"), ("cuda:0", "cuda:0"),
                         ("cuda:1", "cuda:1"), (torch.device("cuda", 1), "cuda:1"), (torch.device("cpu"), "cpu")):
        assert pick_device(given) == taken
    with pytest.raises(VidcolorError, match=r"^device='cuda:2': this machine has 2 CUDA GPUs \(cuda:0 to cuda:1\)$"):
        pick_device("cuda:2")
    gpus(0)
    assert pick_device("auto") == "cpu"
    for given in ("cuda", "cuda:0", torch.device("cuda:0")):
        with pytest.raises(VidcolorError, match=r"^device='cuda(:0)?': no CUDA GPU available") as caught:
            pick_device(given)
        assert "\n" not in str(caught.value)
    for given, said in (("gpu", "unknown device 'gpu'"), ("cuda:x", "unknown device"), ("CUDA", "unknown device"),
                        ("mps", "runs on the CPU or a CUDA GPU"), ("meta", "runs on the CPU or a CUDA GPU"),
                        (0, "must be a str"), (None, "must be a str")):
        with pytest.raises(VidcolorError, match=said):
            pick_device(given)


def test_an_indexed_gpu_reaches_the_engine_as_a_gpu():
    """The engine and the batch size read a cuda:N device as CUDA (fp16 by default, the GPU's pixels a batch, ONNX
    Runtime's CUDA provider on that GPU), not as a CPU."""
    from vidcolor.engine import onnx_providers, resolve_precision
    from vidcolor.pipeline import auto_batch_size

    assert resolve_precision("auto", "cuda:1", "torch") == resolve_precision("auto", "cuda", "torch") == "fp16"
    assert resolve_precision("fp16", "cuda:1", "torch") == "fp16"
    with pytest.raises(VidcolorError):
        resolve_precision("bf16", "cuda:1", "torch")
    assert auto_batch_size(640, 360, "cuda:1") == auto_batch_size(640, 360, "cuda") == 16
    assert onnx_providers("cuda:1") == [("CUDAExecutionProvider", {"device_id": 1}), "CPUExecutionProvider"]
    assert onnx_providers("cuda") == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert onnx_providers("cpu") == ["CPUExecutionProvider"]


def test_a_job_on_cpu_0_runs_and_on_an_absent_gpu_is_refused_in_one_line(tiny_models, gpus):
    frames = _frames(2)
    job = Dequantizer(str(tiny_models.lab), device="cpu:0", consistency=False)
    assert job.device == "cpu" and job.engine.device == "cpu"
    assert np.array_equal(job(frames), Dequantizer(str(tiny_models.lab), device="cpu", consistency=False)(frames))
    gpus(0)
    with pytest.raises(VidcolorError, match=r"^device='cuda:0': no CUDA GPU available"):
        Colorizer(device="cuda:0")
    for cls in (Dequantizer, Colorizer):                # their Raises say so (they named no device error)
        assert "pick_device" in cls.__doc__.split("Raises:")[1]


@pytest.mark.parametrize("tile", [300.5, 512.0, float("nan")])
def test_a_tile_that_is_no_integer_is_refused_when_the_job_is_made(tiny_models, tile):
    """tile=512.0 (a config file's number) was taken, then the first frame above it raised TypeError: 'float' object
    cannot be interpreted as an integer, from the tiles' range() (vidcolor.api.dequantize too; NaN never tiled)."""
    with pytest.raises(VidcolorError, match=r"^tile must be 0 \(off\) or at least 96 pixels, got .* \(an integer is "
                                            r"needed\)$"):
        Dequantizer(str(tiny_models.lab), device="cpu", tile=tile)
    job = Dequantizer(str(tiny_models.lab), device="cpu", consistency=False, tile=np.int64(128), backend="torch")
    assert job(_frames(1, 96, 200)).shape == (1, 96, 200, 3)          # a NumPy integer tiles as before


def test_batched_checks_a_frames_size_before_it_stacks_a_batch():
    """batched() stacked (copied) a batch of frames of any size and left the size check to the job: a frame above
    the limits was copied first, and a plain function given frames got them unchecked."""
    from vidcolor.io.limits import MAX_SIDE
    from vidcolor.pipeline import batched

    calls = []
    frames = batched([np.zeros((1, MAX_SIDE + 1, 3), np.uint8)], lambda x: calls.append(len(x)) or x, 1)
    with pytest.raises(VidcolorError, match=rf"^frame 0: frame size {MAX_SIDE + 1}x1 is too large"):
        next(frames)
    assert calls == []


def test_a_batch_size_is_held_to_the_pixels_of_a_batch(tiny_models, monkeypatch):
    """LabJob.batch_size is checked as batched() checks a batch (check_batch_pixels), on the frames a call
    has."""
    from vidcolor.io import limits

    monkeypatch.setattr(limits, "MAX_PIXELS", 16 * 24 * 32)         # 16 frames of 32x24 at once
    job = Dequantizer(str(tiny_models.lab), device="cpu", consistency=False, backend="torch")
    job.batch_size = 20
    assert job(_frames(16)).shape == (16, 24, 32, 3)                  # 16 frames: one batch of 16
    with pytest.raises(VidcolorError, match="^batch size 17 of 32x24 frames holds more pixels .* at most 16"):
        job(_frames(17))


def test_a_generators_l_is_not_clipped_as_the_docstrings_say(tmp_path):
    """LabJob.lab and Dequantizer.predict_lab said L was in [0, 100]; a LAB model's own L is not clipped (the default
    model gave -1.9 to 101.8 on black and white frames): a model that adds 10 to L gives 110 on white."""
    import torch

    from vidcolor.pipeline import LabJob
    from vidcolor.training.loop import DequantizeRecipe, build_generator
    from vidcolor.weights import save_generator
    from helpers import TINY_GENERATOR

    torch.manual_seed(0)
    gen, arch = build_generator(DequantizeRecipe(mode="lab", generator=dict(TINY_GENERATOR)))
    with torch.no_grad():
        gen.offset.bias.copy_(torch.tensor([0.2, 0.0, 0.0]))        # +10 to L
    save_generator(gen, tmp_path / "bright.safetensors", arch)
    job = Dequantizer(str(tmp_path / "bright.safetensors"), device="cpu", consistency=False, backend="torch")
    L, ab = job.predict_lab(np.full((1, 32, 32, 3), 255, np.uint8))
    assert L.dtype == ab.dtype == np.float32 and L.shape == (1, 32, 32) and ab.shape == (1, 32, 32, 2)
    assert L.max() > 105
    for doc in (LabJob.lab.__doc__, Dequantizer.predict_lab.__doc__):
        assert "not clipped" in doc


def test_a_models_record_does_not_decide_how_far_a_frame_is_padded():
    """An engine padded each frame to 2 ** depth of the weight file's (or .onnx graph's metadata) record: depth 11 put a
    64x48 frame in a 2048x2048 input (50 MB a frame, not 37 KB), depth 40 asked for 2 ** 40 pixels a side. A multiple
    above MAX_STRIDE, or a depth that is no whole number, is refused when the engine is made."""
    from vidcolor.engine import Engine, stride_multiple

    assert stride_multiple({"family": "unet", "kwargs": {"depth": 10}}) == 1024
    assert stride_multiple({"family": "unet", "kwargs": {"depth": 4, "space_to_depth": 2}}) == 32
    for kwargs in ({"depth": 11}, {"depth": 40}, {"depth": 10, "space_to_depth": 2}, {"depth": "5"}, {"depth": 2.5},
                   {"depth": -1}):
        with pytest.raises(VidcolorError, match="would be padded to more than 1024 pixels"):
            Engine({"family": "unet", "kwargs": kwargs})
