"""vidcolor.models: level cue (histogram and level phase), residual U-Net generator, PatchGAN discriminator."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from vidcolor.cue import CUE_DIM, HIST_BINS, PHASE_DIM, PHASE_GAIN, level_cue
from vidcolor.models import PatchGANDiscriminator, UNetGenerator
from vidcolor.models.unet import concat_channels
from vidcolor.training.degrade import quantize_uniform


@pytest.fixture
def frames():
    return np.random.default_rng(0).integers(0, 256, (3, 20, 30, 3), dtype=np.uint8)


# ------------------------------------------------------------------------------------------ level cue


def test_level_cue_shape_and_normalisation(frames):
    cue = level_cue(frames)
    assert cue.shape == (3, CUE_DIM) and cue.dtype == np.float32
    h = cue[:, :3 * HIST_BINS]
    assert (h >= 0).all()
    assert (np.abs(cue[:, 3 * HIST_BINS:]) <= PHASE_GAIN + 1e-5).all()
    sq = (h.reshape(3, 3, 256) ** 2).sum(-1)
    np.testing.assert_allclose(sq, 1.0, atol=1e-5)


def test_level_cue_counts(frames):
    h = level_cue(frames)
    for n in range(3):
        for c in range(3):
            counts = np.bincount(frames[n, ..., c].ravel(), minlength=256)
            np.testing.assert_allclose(h[n, c * 256:(c + 1) * 256] ** 2, counts / (20 * 30), atol=1e-6)


def test_level_cue_single_image(frames):
    one = level_cue(frames[1])
    assert one.shape == (CUE_DIM,)
    np.testing.assert_array_equal(one, level_cue(frames)[1])


def test_level_cue_sees_the_level_set():
    img = np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    h = level_cue(quantize_uniform(img, 3, "floor"))[:3 * HIST_BINS].reshape(3, 256)
    nz = set(np.nonzero(h[0])[0].tolist())
    assert nz <= set(range(0, 256, 32))


def phase(cue: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(R, phi in degrees) per (channel, period) from a single frame's cue."""
    z = cue[3 * HIST_BINS:].reshape(3, 3, 2) / PHASE_GAIN
    return np.hypot(z[..., 0], z[..., 1]), np.degrees(np.arctan2(z[..., 1], z[..., 0]))


@pytest.mark.parametrize("convention, expected", [("floor", 0.0), ("mid", 180.0)])
def test_level_phase_tells_floor_from_mid(convention, expected):
    img = np.random.default_rng(2).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    r, phi = phase(level_cue(quantize_uniform(img, 4, convention)))
    # 4 bits: levels every 16; at periods 8 and 16 the floor levels sit at phase 0 and mid levels (16k + 8)
    # at 0 (period 8) and 180 degrees (period 16)
    np.testing.assert_allclose(r[:, :2], 1.0, atol=1e-6)
    assert np.all(np.abs(phi[:, 0]) < 1e-3)
    assert np.all(np.abs(np.abs(phi[:, 1]) - expected) < 1e-3)


def test_level_phase_is_near_zero_for_natural_and_spread_levels():
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert phase(level_cue(img))[0].max() < 0.1
    spread = quantize_uniform(img, 4, "spread")      # levels 17k, k = 1..14 inside 1..254: 14 of the 16 phases
    assert phase(level_cue(spread))[0][:, :2].max() < 0.2                     # |sum| / 14 = 0.14 at most


def test_level_phase_ignores_black_and_white():
    img = np.zeros((20, 20, 3), np.uint8)
    img[:10] = 255
    img[5, 5] = 8                                                     # a single mid-level pixel
    r, phi = phase(level_cue(img))
    np.testing.assert_allclose(r[:, 1], 1.0, atol=1e-6)               # only level 8 counts
    assert np.all(np.abs(np.abs(phi[:, 1]) - 180) < 1e-3)
    np.testing.assert_array_equal(level_cue(np.zeros((4, 4, 3), np.uint8))[3 * HIST_BINS:], 0)


# -------------------------------------------------------------------------------------------- U-Net


def small_unet(**kw) -> UNetGenerator:
    torch.manual_seed(0)
    kwargs = dict(in_channels=3, out_channels=3, ngf=4, depth=3, use_histogram=True)
    kwargs.update(kw)
    return UNetGenerator(**kwargs).eval()


@pytest.mark.parametrize("space_to_depth", [1, 2])
@pytest.mark.parametrize("out_channels", [2, 3])
@pytest.mark.parametrize("hw", [(37, 53), (32, 32), (9, 15)])
def test_unet_output_shape(out_channels, hw, space_to_depth):
    g = small_unet(out_channels=out_channels, space_to_depth=space_to_depth)
    x = torch.randn(2, 3, *hw)
    cue = torch.from_numpy(level_cue(np.random.default_rng(0).integers(0, 256, (2, *hw, 3), dtype=np.uint8)))
    with torch.no_grad():
        y = g(x, cue)
        y_nohist = g(x)
    assert y.shape == (2, out_channels, *hw)
    assert y_nohist.shape == (2, out_channels, *hw)


@pytest.mark.parametrize("space_to_depth", [1, 2])
@pytest.mark.parametrize("out_channels", [2, 3])
@pytest.mark.parametrize("use_histogram", [True, False])
def test_untrained_unet_is_identity_on_corrected_channels(out_channels, use_histogram, space_to_depth):
    g = small_unet(out_channels=out_channels, use_histogram=use_histogram, space_to_depth=space_to_depth)
    x = torch.rand(2, 3, 37, 53) * 2 - 1
    cue = torch.rand(2, CUE_DIM) if use_histogram else None
    with torch.no_grad():
        y = g(x, cue)
    torch.testing.assert_close(y, x[:, -out_channels:], atol=1e-6, rtol=0)


def test_untrained_unet_identity_in_train_mode_too():
    g = small_unet().train()
    x = torch.rand(2, 3, 16, 16)
    torch.testing.assert_close(g(x, torch.rand(2, CUE_DIM)), x, atol=1e-6, rtol=0)


def test_histogram_changes_output_once_offset_is_nonzero():
    g = small_unet()
    x = torch.rand(2, 3, 24, 24)
    h1, h2 = torch.rand(2, CUE_DIM), torch.rand(2, CUE_DIM)
    with torch.no_grad():
        assert torch.equal(g(x, h1), g(x, h2))               # zero-initialised: the cue is silent
        torch.nn.init.normal_(g.offset.weight, 0, 0.5)
        a, b = g(x, h1), g(x, h2)
        assert not torch.allclose(a, b, atol=1e-4)
        # the offset is global: the difference is constant over the image
        d = a - b
        torch.testing.assert_close(d, d[..., :1, :1].expand_as(d), atol=1e-5, rtol=0)
        # without a histogram the offset path is off and the output is the identity again
        torch.testing.assert_close(g(x), x, atol=1e-6, rtol=0)


def test_unet_corrects_once_head_is_nonzero():
    g = small_unet()
    with torch.no_grad():
        torch.nn.init.normal_(g.head[-1].weight, 0, 0.1)
        x = torch.rand(1, 3, 20, 28)
        y = g(x, torch.rand(1, CUE_DIM))
    assert y.shape == x.shape
    assert (y - x).abs().max() > 1e-4


@pytest.mark.parametrize("out_channels", [2, 3])
def test_space_to_depth_corrects_each_pixel_of_a_block_on_its_own(out_channels):
    """With ``space_to_depth=2`` the network runs at half resolution, yet the four pixels of a 2x2 block get
    corrections of their own (pixel_shuffle, not upsampling), each on the channel it belongs to."""
    g = small_unet(out_channels=out_channels, space_to_depth=2)
    assert g.stem[0].in_channels == 12 and g.head[-1].out_channels == 4 * out_channels
    with torch.no_grad():
        torch.nn.init.normal_(g.head[-1].weight, 0, 0.1)
        x = torch.rand(1, 3, 20, 28)
        c = g(x, torch.rand(1, CUE_DIM)) - x[:, -out_channels:]
    blocks = c[0].unfold(1, 2, 2).unfold(2, 2, 2)                  # (C, 10, 14, 2, 2)
    within = (blocks - blocks[..., :1, :1]).abs().amax(dim=(-1, -2))
    assert within.amin() > 1e-4                                    # every block's pixels differ: not upsampled


def test_space_to_depth_accepts_1_or_2():
    with pytest.raises(ValueError, match="space_to_depth"):
        small_unet(space_to_depth=3)


def test_phase_input_is_silent_until_trained_and_then_used():
    base = small_unet()
    g = small_unet(use_phase=True)
    missing = g.load_state_dict(base.state_dict(), strict=False).missing_keys
    assert missing == ["phase_in.weight"]                  # a model trained without it loads as is
    with torch.no_grad():
        torch.nn.init.normal_(g.offset.weight, 0, 0.5)
        base.offset.weight.copy_(g.offset.weight)
        x, cue = torch.rand(2, 3, 16, 16), torch.rand(2, CUE_DIM)
        torch.testing.assert_close(g(x, cue), base(x, cue))        # zero-initialised phase_in: same output
        other = cue.clone()
        other[:, 3 * HIST_BINS:] = torch.rand(2, PHASE_DIM)
        assert torch.equal(base(x, cue), base(x, other))            # without use_phase the phase is ignored
        torch.nn.init.normal_(g.phase_in.weight, 0, 0.5)
        assert not torch.allclose(g(x, cue), g(x, other), atol=1e-4)


def test_phase_needs_histogram():
    with pytest.raises(ValueError):
        small_unet(use_histogram=False, use_phase=True)


def test_unet_has_gradients_everywhere_needed():
    g = small_unet().train()
    x = torch.rand(2, 3, 16, 16)
    (g(x, torch.rand(2, CUE_DIM)) - 0.5).pow(2).mean().backward()
    assert g.head[-1].weight.grad is not None and g.head[-1].weight.grad.abs().sum() > 0
    assert g.offset.weight.grad is not None and g.offset.weight.grad.abs().sum() > 0
    gp = small_unet(use_phase=True).train()
    with torch.no_grad():
        torch.nn.init.normal_(gp.offset.weight, 0, 0.5)
    (gp(x, torch.rand(2, CUE_DIM)) - 0.5).pow(2).mean().backward()
    assert gp.phase_in.weight.grad.abs().sum() > 0         # zero-initialised, yet it learns


# ------------------------------------------------------------------------------------------ PatchGAN


def test_patchgan_map_shape_256():
    d = PatchGANDiscriminator(in_channels=6, ndf=8, n_layers=3).eval()
    with torch.no_grad():
        y = d(torch.randn(2, 6, 256, 256))
    assert y.shape == (2, 1, 30, 30)


# Worked out by hand: a 4x4 convolution with padding 1 maps n to floor((n - 2) / s) + 1, i.e. n / 2 at
# stride 2 (three times, rounding down) and n - 1 at stride 1 (twice). 64 -> 32 -> 16 -> 8 -> 7 -> 6;
# 96 -> 48 -> 24 -> 12 -> 11 -> 10; 128 -> 64 -> 32 -> 16 -> 15 -> 14; 70 -> 35 -> 17 -> 8 -> 7 -> 6;
# 100 -> 50 -> 25 -> 12 -> 11 -> 10.
@pytest.mark.parametrize("hw,expected", [((64, 64), (6, 6)), ((96, 128), (10, 14)), ((70, 100), (6, 10))])
def test_patchgan_map_shape(hw, expected):
    d = PatchGANDiscriminator(in_channels=6, ndf=4).eval()
    with torch.no_grad():
        y = d(torch.randn(1, 6, *hw))
    assert y.shape == (1, 1, *expected)


def test_patchgan_receptive_field_is_70x70():
    """One score sees a 70x70 input patch: the gradient of a central score is non-zero on exactly that square."""
    d = PatchGANDiscriminator(in_channels=6, ndf=4).double().eval()
    x = torch.randn(1, 6, 128, 128, dtype=torch.float64, requires_grad=True)
    d(x)[0, 0, 7, 7].backward()
    seen = x.grad.abs().sum(dim=(0, 1)) > 0
    rows, cols = seen.any(1).nonzero().ravel(), seen.any(0).nonzero().ravel()
    # back through the layers (first input index = s * first output index - 1): j -> j - 1 -> j - 2 ->
    # 2j - 5 -> 4j - 11 -> 8j - 23, so score 7 starts at row 33 and ends 69 rows further down
    assert (rows.min().item(), rows.max().item()) == (33, 102)
    assert (cols.min().item(), cols.max().item()) == (33, 102)


def test_patchgan_score_depends_on_condition_and_candidate():
    """Training feeds ``cat([condition, candidate], 1)``: swapping the condition for another while keeping
    the candidate moves the scores as much as swapping the candidate does (at initialisation the scores
    are nearly the last layer's bias, so the two changes are compared with each other)."""
    torch.manual_seed(0)
    d = PatchGANDiscriminator(in_channels=6, ndf=4).double().eval()
    condition, candidate, other = (torch.randn(1, 3, 64, 64, dtype=torch.float64) for _ in range(3))
    with torch.no_grad():
        base = d(torch.cat([condition, candidate], 1))
        by_condition = (d(torch.cat([other, candidate], 1)) - base).abs().mean().item()
        by_candidate = (d(torch.cat([condition, other], 1)) - base).abs().mean().item()
    assert by_condition > 1e-6 and by_candidate > 1e-6
    assert 0.3 < by_condition / by_candidate < 3


def test_level_cue_refuses_what_is_not_uint8_rgb():
    """Float frames in [0, 1] were binned by OpenCV as if 0..255 (every pixel in level 0 or 1), a gray stack
    (N, H, W) was read as one frame of W channels, an empty side gave NaN: all without an error."""
    frames = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3), np.uint8)
    for bad in (frames / 255.0, frames[..., 0], frames[:, :0]):
        with pytest.raises(ValueError, match=r"^rgb: expected uint8 RGB \(N, H, W, 3\) or \(H, W, 3\), no side empty"):
            level_cue(bad)


@pytest.mark.parametrize("dtype,channels,shape,fast", [
    (torch.bfloat16, 8, (1, 5, 9), True),       # the fast path: 16 bytes a pixel
    (torch.float16, 8, (2, 3, 4), True),
    (torch.float32, 4, (1, 6, 7), True),
    (torch.bfloat16, 8, (1, 1, 1), False),      # size-1 dimensions: strides a dtype view refuses, so torch.cat
    (torch.bfloat16, 16, (1, 4, 4), False),     # wider: torch.cat
])
def test_concat_channels_is_torch_cat(dtype, channels, shape, fast, monkeypatch):
    n, h, w = shape
    a = torch.randn(n, channels, h, w).to(dtype).contiguous(memory_format=torch.channels_last)
    b = torch.randn(n, channels, h, w).to(dtype).contiguous(memory_format=torch.channels_last)
    expected, cat, seen = torch.cat([a, b], 1), torch.cat, []
    monkeypatch.setattr(torch, "cat", lambda tensors, *args, **kw: seen.append(tensors[0].dtype) or cat(tensors, *args,
                                                                                                         **kw))
    with torch.inference_mode():
        y = concat_channels(a, b)
    assert torch.equal(y, expected)
    assert y.is_contiguous(memory_format=torch.channels_last)
    assert seen == [torch.complex128 if fast else dtype]


def test_concat_channels_falls_back_off_the_fast_path():
    """Operands the 16-byte view cannot take (a strided slice, NCHW, a gradient to track) go to torch.cat."""
    a = torch.randn(1, 8, 6, 5).to(torch.bfloat16).contiguous(memory_format=torch.channels_last)[:, :, 1:4]
    b = torch.randn(1, 8, 3, 5).to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        assert torch.equal(concat_channels(a, b), torch.cat([a, b], 1))
        assert torch.equal(concat_channels(a.contiguous(), b.contiguous()), torch.cat([a, b], 1))
    g = torch.randn(1, 8, 3, 5, requires_grad=True)
    h = g.to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
    concat_channels(h, b).float().sum().backward()
    assert torch.equal(g.grad, torch.ones_like(g))
