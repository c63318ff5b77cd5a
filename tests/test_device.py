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
