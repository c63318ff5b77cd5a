"""vidcolor.training.degrade: uniform and palette quantizers, H.264 round trip, sampled degradations."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import gradient_image, smooth_image
from vidcolor.metrics import psnr
from vidcolor.training.degrade import (FFMPEG_DITHERS, KIND_SHARES, Degradation, apply_palette, h264_roundtrip,
                                       palette_of, quantize_ffmpeg, quantize_palette, quantize_uniform,
                                       sample_degradation)


@pytest.fixture(scope="module")
def ramp():
    """Every level 0..255 in every channel, twice over (rows), plus a smooth 2-D part."""
    v = np.arange(256, dtype=np.uint8)
    rows = np.stack([np.stack([v, v[::-1], np.roll(v, 77)], -1)] * 8)          # (8, 256, 3)
    return np.ascontiguousarray(rows)


@pytest.fixture(scope="module")
def photo():
    return smooth_image(np.random.default_rng(7), 48, 64)


def levels(img: np.ndarray) -> set[int]:
    return set(np.unique(img).tolist())


# ------------------------------------------------------------------------------------------- uniform


@pytest.mark.parametrize("bits", range(1, 8))
def test_floor_is_bit_truncation(ramp, bits):
    out = quantize_uniform(ramp, bits, "floor")
    assert out.dtype == np.uint8 and out.shape == ramp.shape
    step = 2 ** (8 - bits)
    assert all(v % step == 0 for v in levels(out))
    np.testing.assert_array_equal(out, (ramp >> (8 - bits)) << (8 - bits))
    assert len(levels(out)) == 2 ** bits


@pytest.mark.parametrize("bits", range(1, 8))
def test_mid_levels_sit_inside_their_bin(ramp, bits):
    out = quantize_uniform(ramp, bits, "mid")
    step = 2 ** (8 - bits)
    assert len(levels(out)) == 2 ** bits
    np.testing.assert_array_equal(out // step, ramp // step)                 # same bin as the input
    # one value per bin
    for k in range(2 ** bits):
        assert len(levels(out[ramp // step == k])) == 1
    if bits <= 6:                                                            # bin middle, not the floor
        assert all(v % step == step // 2 for v in levels(out))


@pytest.mark.parametrize("bits", range(1, 8))
def test_spread_levels_span_0_to_255(ramp, bits):
    out = quantize_uniform(ramp, bits, "spread")
    n = 2 ** bits - 1
    allowed = {int(round(k * 255 / n)) for k in range(n + 1)}
    got = levels(out)
    assert got <= allowed
    assert 0 in got and 255 in got
    assert len(got) <= 2 ** bits
    # nearest level
    assert np.abs(out.astype(int) - ramp).max() <= int(np.ceil(255 / n / 2))


@pytest.mark.parametrize("convention", ["floor", "mid", "spread"])
def test_dither_changes_output_but_keeps_level_set(convention):
    img = gradient_image(48, 64)
    plain = quantize_uniform(img, 3, convention)
    dith = quantize_uniform(img, 3, convention, dither=True)
    assert dith.shape == img.shape and dith.dtype == np.uint8
    assert (dith != plain).mean() > 0.05
    full = levels(quantize_uniform(np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, -1), 3, convention))
    assert levels(dith) <= full
    # dithering keeps the local mean closer to the source than plain quantization on a smooth ramp
    err_plain = abs(plain.astype(float).mean() - img.astype(float).mean())
    err_dith = abs(dith.astype(float).mean() - img.astype(float).mean())
    assert err_dith < err_plain + 1.0


def test_uniform_rejects_bad_arguments(ramp):
    for bits in (0, 8):
        with pytest.raises(ValueError):
            quantize_uniform(ramp, bits)
    with pytest.raises(ValueError):
        quantize_uniform(ramp, 4, "nearest")


# ------------------------------------------------------------------------------------------- palette


def colours(img: np.ndarray) -> set[tuple[int, ...]]:
    return {tuple(c) for c in img.reshape(-1, 3).tolist()}


@pytest.mark.parametrize("method", ["mediancut", "maxcoverage", "octree", "kmeans"])
@pytest.mark.parametrize("colors", [4, 16])
def test_palette_of_and_apply_palette(photo, method, colors):
    pal = palette_of(photo, colors, method)
    assert pal.dtype == np.uint8 and pal.ndim == 2 and pal.shape[1] == 3
    assert 1 <= len(pal) <= colors
    for dither in (False, True):
        out = apply_palette(photo, pal, dither=dither)
        assert out.shape == photo.shape and out.dtype == np.uint8
        got = colours(out)
        assert got <= colours(pal[None])
        assert len(got) <= colors


def test_apply_palette_picks_nearest_colour():
    pal = np.array([[0, 0, 0], [255, 255, 255], [255, 0, 0]], np.uint8)
    img = np.array([[[10, 10, 10], [240, 250, 245], [200, 30, 20], [100, 100, 100]]], np.uint8)
    out = apply_palette(img, pal)
    np.testing.assert_array_equal(out[0], [[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 0, 0]])


def test_palette_of_kmeans_is_reproducible(photo):
    np.testing.assert_array_equal(palette_of(photo, 8, "kmeans", seed=3), palette_of(photo, 8, "kmeans", seed=3))


def test_quantize_palette_global_limits_colours(photo):
    out = quantize_palette(photo, 8)
    assert out.shape == photo.shape and out.dtype == np.uint8
    assert 2 <= len(colours(out)) <= 8
    assert psnr(out, photo) > 15                                  # still the same picture


def test_quantize_palette_adaptive_uses_a_palette_per_tile():
    rng = np.random.default_rng(3)
    img = np.concatenate([np.concatenate([smooth_image(rng, 24, 32) for _ in range(2)], 1) for _ in range(2)], 0)
    colors = 4
    glob = quantize_palette(img, colors, scope="global")
    adap = quantize_palette(img, colors, scope="adaptive")
    assert adap.shape == img.shape and adap.dtype == np.uint8
    assert len(colours(glob)) <= colors
    for tile in (adap[:24, :32], adap[:24, 32:], adap[24:, :32], adap[24:, 32:]):
        assert len(colours(tile)) <= colors
    assert len(colours(adap)) > colors                            # four palettes together
    assert psnr(adap, img) > psnr(glob, img)


def test_quantize_palette_adaptive_odd_size():
    img = smooth_image(np.random.default_rng(4), 37, 53)
    out = quantize_palette(img, 6, scope="adaptive", method="kmeans")
    assert out.shape == img.shape
    for tile in (out[:18, :26], out[:18, 26:], out[18:, :26], out[18:, 26:]):
        assert len(colours(tile)) <= 6


def test_palette_rejects_unknown_method_or_scope(photo):
    with pytest.raises(ValueError):
        palette_of(photo, 8, "popularity")
    with pytest.raises(ValueError):
        quantize_palette(photo, 8, scope="local")


# ---------------------------------------------------------------------------------------------- H.264


@pytest.mark.parametrize("shape", [(48, 64), (37, 53), (33, 32), (32, 33)])
def test_h264_roundtrip_keeps_shape_and_stays_close(shape):
    img = gradient_image(*shape)
    out = h264_roundtrip(img, crf=18)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert psnr(out, img) > 30
    assert not np.shares_memory(out, img)


def test_h264_roundtrip_is_lossy_and_crf_matters():
    img = smooth_image(np.random.default_rng(5), 48, 64)
    noisy = np.clip(img.astype(int) + np.random.default_rng(6).integers(-20, 21, img.shape), 0, 255).astype(np.uint8)
    fine = h264_roundtrip(noisy, crf=4)
    coarse = h264_roundtrip(noisy, crf=40)
    assert not np.array_equal(coarse, noisy)
    assert psnr(fine, noisy) > psnr(coarse, noisy) + 3


# --------------------------------------------------------------------------------------- degradations


def test_sample_degradation_reproducible():
    a = [sample_degradation(np.random.default_rng(42)) for _ in range(2)]
    assert a[0] == a[1]
    seq1 = [sample_degradation(r) for r in [np.random.default_rng(9)] for _ in range(30)]
    rng = np.random.default_rng(9)
    seq2 = [sample_degradation(rng) for _ in range(30)]
    assert seq1 == seq2
    assert len(set(seq2)) > 10                                    # not a constant


def test_sample_degradation_ranges():
    rng = np.random.default_rng(0)
    draws = [sample_degradation(rng) for _ in range(600)]
    kinds = {d.kind for d in draws}
    assert kinds == {"uniform", "palette", "ffmpeg"}                # no identity unless asked for
    for d in draws:
        assert d.crf is None or 8 <= d.crf <= 24
        if d.kind == "uniform":
            assert 2 <= d.bits <= 6 and d.convention in ("floor", "mid", "spread")
        elif d.kind == "palette":
            assert 4 <= d.colors <= 64 and d.scope in ("global", "adaptive")
            assert d.method in ("mediancut", "kmeans", "maxcoverage", "octree")
        else:
            assert 4 <= d.colors <= 64 and d.stats_mode in ("full", "diff") and d.ffmpeg_dither in FFMPEG_DITHERS
    assert {d.convention for d in draws if d.kind == "uniform"} == {"floor", "mid", "spread"}
    assert {d.method for d in draws if d.kind == "palette"} == {"mediancut", "kmeans", "maxcoverage", "octree"}
    assert {d.ffmpeg_dither for d in draws if d.kind == "ffmpeg"} == set(FFMPEG_DITHERS)
    assert any(d.crf is None for d in draws) and any(d.dither for d in draws)
    assert any(d.scope == "adaptive" for d in draws)
    frac_lossless = np.mean([d.crf is None for d in draws])
    assert 0.1 < frac_lossless < 0.3
    shares = {k: np.mean([d.kind == k for d in draws]) for k in kinds}
    assert 0.3 < shares["uniform"] < 0.5 and 0.15 < shares["ffmpeg"] < 0.35


def test_sample_degradation_identity_share():
    rng = np.random.default_rng(1)
    draws = [sample_degradation(rng, identity=0.35) for _ in range(400)]
    share = np.mean([d.kind == "none" for d in draws])
    assert 0.28 < share < 0.42
    assert any(d.kind == "none" and d.crf is not None for d in draws)   # unquantized but encoded


@pytest.mark.parametrize("kinds", [("uniform",), ("palette", "ffmpeg"), ("uniform", "ffmpeg")])
def test_sample_degradation_draws_only_the_kinds_asked_for(kinds):
    rng = np.random.default_rng(2)
    draws = [sample_degradation(rng, 0.1, kinds) for _ in range(600)]
    assert {d.kind for d in draws} == {"none", *kinds}
    quantized = [d for d in draws if d.kind != "none"]
    for k in kinds:                                                 # the kept kinds' shares, rescaled
        share = np.mean([d.kind == k for d in quantized])
        expected = KIND_SHARES[k] / sum(KIND_SHARES[j] for j in kinds)
        assert abs(share - expected) < 0.07, (k, share, expected)
    if "uniform" in kinds:                                          # every bit depth and convention still drawn
        uniform = [d for d in draws if d.kind == "uniform"]
        assert {d.bits for d in uniform} == {2, 3, 4, 5, 6}
        assert {d.convention for d in uniform} == {"floor", "mid", "spread"}


def test_sample_degradation_with_every_kind_named_is_the_default_draw():
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    assert [sample_degradation(a, 0.1) for _ in range(50)] == \
        [sample_degradation(b, 0.1, ("uniform", "palette", "ffmpeg")) for _ in range(50)]


@pytest.mark.parametrize("kinds", [(), ("uniform", "jpeg")])
def test_sample_degradation_rejects_unknown_kinds(kinds):
    with pytest.raises(ValueError, match="kinds"):
        sample_degradation(np.random.default_rng(0), 0.0, kinds)


def test_identity_degradation_is_the_input_or_its_codec_copy(photo):
    np.testing.assert_array_equal(Degradation("none", crf=None).apply(photo), photo)
    coded = Degradation("none", crf=12).apply(photo)
    assert not np.array_equal(coded, photo) and psnr(coded, photo) > 30       # saturated test colours: 4:2:0 costs most


@pytest.mark.parametrize("dither", FFMPEG_DITHERS)
def test_quantize_ffmpeg_limits_the_palette(photo, dither):
    out = quantize_ffmpeg(photo, 8, dither=dither)
    assert out.shape == photo.shape and out.dtype == np.uint8
    assert len(colours(out)) <= 8
    flat = np.broadcast_to(photo.mean((0, 1)).round().astype(np.uint8), photo.shape)   # one colour
    assert psnr(out, photo) > psnr(flat, photo) + 3                             # 8 colours: about +4.5 dB here


def test_quantize_ffmpeg_one_palette_for_a_clip():
    rng = np.random.default_rng(13)
    clip = np.stack([smooth_image(rng, 24, 32) for _ in range(6)])
    out = quantize_ffmpeg(clip, 8)
    assert out.shape == clip.shape and out.dtype == np.uint8
    assert len(colours(out)) <= 8                                  # one palette shared by every frame
    per_frame = np.stack([quantize_ffmpeg(f, 8) for f in clip])
    assert len(colours(per_frame)) > 8                             # unlike per-frame palettes


def test_quantize_ffmpeg_dither_changes_the_pattern(photo):
    plain = quantize_ffmpeg(photo, 8)
    for dither, share in (("bayer", 0.02), ("floyd_steinberg", 0.1)):   # about 4% and 24% of pixels here
        assert (plain != quantize_ffmpeg(photo, 8, dither=dither)).any(axis=-1).mean() > share


def test_quantize_ffmpeg_reports_ffmpeg_errors(photo):
    with pytest.raises(RuntimeError, match="ffmpeg"):
        quantize_ffmpeg(photo, 8, stats_mode="nonsense")


def test_sampled_degradation_apply_is_reproducible(photo):
    rng = np.random.default_rng(11)
    for _ in range(4):
        d = sample_degradation(rng)
        a, b = d.apply(photo, seed=5), d.apply(photo, seed=5)
        assert a.shape == photo.shape and a.dtype == np.uint8
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("deg", [
    Degradation("uniform", bits=3, convention="mid", crf=None),
    Degradation("uniform", bits=5, convention="spread", dither=True, crf=18),
    Degradation("palette", method="kmeans", colors=8, scope="adaptive", dither=True, crf=None),
    Degradation("palette", method="octree", colors=16, crf=12),
    Degradation("ffmpeg", colors=16, stats_mode="diff", ffmpeg_dither="sierra2_4a", crf=None),
    Degradation("ffmpeg", colors=6, crf=16),
])
@pytest.mark.parametrize("shape", [(48, 64), (37, 53)])
def test_degradation_apply(deg, shape):
    img = smooth_image(np.random.default_rng(8), *shape)
    out = deg.apply(img, seed=1)
    assert out.dtype == np.uint8 and out.shape == img.shape
    assert psnr(out, img) > 15
    if deg.crf is None:                                           # lossless: the quantizer's level set is visible
        if deg.kind == "uniform":
            np.testing.assert_array_equal(out, quantize_uniform(img, deg.bits, deg.convention, deg.dither))
        elif deg.kind == "ffmpeg":
            assert len(colours(out)) <= deg.colors
        else:
            tiles = 4 if deg.scope == "adaptive" else 1
            assert len(colours(out)) <= deg.colors * tiles


# ----------------------------------------------------------------------------------------------- clips


def test_quantize_clip_one_palette_for_the_clip():
    from vidcolor.training.degrade import quantize_clip

    rng = np.random.default_rng(12)
    clip = np.stack([smooth_image(rng, 24, 32) for _ in range(10)])
    out = quantize_clip(clip, "palette", colors=8)
    assert out.shape == clip.shape and out.dtype == np.uint8
    assert len(colours(out)) <= 8                                  # one palette shared by every frame
    per_frame = np.stack([quantize_palette(f, 8) for f in clip])
    assert len(colours(per_frame)) > 8                             # unlike per-frame palettes
    uni = quantize_clip(clip, "uniform", bits=3, convention="spread")
    np.testing.assert_array_equal(uni[4], quantize_uniform(clip[4], 3, "spread"))
