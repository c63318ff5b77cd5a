"""vidcolor.device.parse_device: the one reading of a device's syntax (pick_device, --device, the Ray executor)."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize("given,parsed", [("auto", ("auto", None)), ("cpu", ("cpu", None)), ("cpu:0", ("cpu", 0)),
                                          ("cuda", ("cuda", None)), ("cuda:12", ("cuda", 12)),
                                          ("auto:0", None), ("cuda:01", None), ("CUDA", None), ("cuda:", None),
                                          ("gpu", None), ("mps", None), (" cuda", None), (0, None), (None, None)])
def test_parse_device_reads_what_torch_writes(given, parsed):
    from vidcolor.device import parse_device

    assert parse_device(given) == parsed


def test_parse_device_reads_a_torch_device():
    import torch

    from vidcolor.device import parse_device

    assert [parse_device(torch.device(*a)) for a in (("cuda", 1), ("cpu",), ("meta",))] == [("cuda", 1), ("cpu", None),
                                                                                            None]


@pytest.mark.parametrize("codec, instead", [("h264_nvenc", "libx264"), ("hevc_nvenc", "libx265")])
def test_nvenc_without_an_nvidia_driver_is_refused_before_a_model_loads(tmp_path, monkeypatch, clip, tiny_models,
                                                                        codec, instead):
    """``--codec h264_nvenc`` on a machine without an NVIDIA driver loaded the model, made a frame, then said
    'ffmpeg stopped: h264_nvenc: Cannot load libcuda.so.1'. Now one line before any work, naming the software
    encoder; a machine with the driver's device file and its libcuda passes (both faked here)."""
    import ctypes

    import vidcolor.device as device
    from helpers import assert_one_line_error, invoke_cli, listing

    from vidcolor.api import process
    from vidcolor.errors import VidcolorError

    def fn(frames):
        raise AssertionError("a frame was processed")

    monkeypatch.setattr(device, "NVIDIA_NODES", (str(tmp_path / "nvidiactl"),))
    before = listing(tmp_path)
    res = invoke_cli("dequantize", str(clip), "-o", "out.mp4", "--codec", codec, "--model", tiny_models.lab, "-q",
                     cwd=tmp_path)
    assert_one_line_error(res)
    assert res.stderr == f"vidcolor: error: --codec {codec}: no NVIDIA driver here (NVENC needs one): use --codec {instead}\n"
    assert listing(tmp_path) == before
    (tmp_path / "nvidiactl").touch()                        # the device file, but no libcuda to load

    def no_lib(name, *args, **kwargs):
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(ctypes, "CDLL", no_lib)
    with pytest.raises(VidcolorError, match=f"^codec='{codec}': no NVIDIA driver here"):
        process(clip, tmp_path / "out.mp4", fn, suffix="x", codec=codec)
    monkeypatch.setattr(ctypes, "CDLL", lambda name, *args, **kwargs: object())
    device.check_nvenc(codec)
    device.check_nvenc("libx264")
