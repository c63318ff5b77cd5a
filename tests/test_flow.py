"""vidcolor.flow: DIS optical flow (small frames padded), backward warping, forward-backward occlusion mask."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from vidcolor.flow import consistency_mask, dis_flow, sampling_map, warp

H, W = 64, 96


def texture(seed: int, shape=(H, W)) -> np.ndarray:
    """Smooth random texture, float32 in [25, 75] (an L image)."""
    noise = np.random.default_rng(seed).normal(size=shape).astype(np.float32)
    t = cv2.GaussianBlur(noise, (0, 0), 2.5)
    return 25.0 + 50.0 * (t - t.min()) / (t.max() - t.min())


def shifted_pair(h: int, w: int, dx: int = 3, dy: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Two uint8 ``(h, w)`` crops of one texture with ``first(x) = second(x + (dx, dy))``: the flow
    first -> second is (dx, dy) everywhere."""
    canvas = (texture(0, (200, 240)) * 2.55).astype(np.uint8)
    a = np.ascontiguousarray(canvas[20 + dy:20 + dy + h, 20 + dx:20 + dx + w])
    b = np.ascontiguousarray(canvas[20:20 + h, 20:20 + w])
    return a, b


@pytest.mark.parametrize("shape", [(H, W), (20, 24)])           # (20, 24) is padded before DIS
def test_dis_flow_finds_an_integer_shift(shape):
    a, b = shifted_pair(*shape)                                 # a(x) = b(x + (3, 2))
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    flow = dis_flow(dis, a, b)
    assert flow.shape == (*shape, 2) and flow.dtype == np.float32
    np.testing.assert_allclose(np.median(flow.reshape(-1, 2), axis=0), [3.0, 2.0], atol=0.1)


@pytest.mark.parametrize("shape", [(1, 1), (8, 12), (12, 140), (140, 12)])
def test_dis_flow_on_frames_opencv_cannot_take(shape):
    # OpenCV's DIS segfaults under 32 px high (ULTRAFAST) and raises under 12 wide: dis_flow pads them
    a, b = shifted_pair(*shape)
    flow = dis_flow(cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST), a, b)
    assert flow.shape == (*shape, 2) and flow.dtype == np.float32
    assert flow.flags["C_CONTIGUOUS"] and np.isfinite(flow).all()


def test_sampling_map_is_the_pixel_grid_plus_the_flow():
    flow = np.zeros((3, 4, 2), np.float32)
    grid = sampling_map(flow)
    assert grid.dtype == np.float32 and grid.shape == (3, 4, 2)
    assert grid[2, 3].tolist() == [3.0, 2.0] and grid[0, 1].tolist() == [1.0, 0.0]   # (column, row)
    flow[1, 2] = (0.5, -1.0)
    assert sampling_map(flow)[1, 2].tolist() == [2.5, 0.0]
    assert flow[1, 2].tolist() == [0.5, -1.0]                                        # input not modified


def test_warp_integer_shift_and_consistency_mask():
    img = texture(4)
    flow = np.zeros((H, W, 2), np.float32)
    flow[..., 0], flow[..., 1] = 3.0, 2.0
    np.testing.assert_allclose(warp(img, flow)[:-2, :-3], img[2:, 3:], atol=1e-4)
    img8 = (img * 2.55).astype(np.uint8)
    warped8 = warp(img8, flow)
    assert warped8.dtype == np.uint8
    np.testing.assert_array_equal(warped8[:-2, :-3], img8[2:, 3:])
    np.testing.assert_array_equal(warped8[-1, :-3], img8[-1, 3:])                  # border replicated

    ok = consistency_mask(flow, -flow)
    assert ok.dtype == bool and ok.shape == (H, W)
    assert ok[:-2, :-3].all()
    assert not ok[-2:].any() and not ok[:, -3:].any()   # target out of frame
    assert not consistency_mask(flow, flow).any()      # forward and backward disagree
    assert consistency_mask(np.zeros_like(flow), np.zeros_like(flow)).all()
    with pytest.raises(ValueError):
        consistency_mask(flow, flow[:-1])
    with pytest.raises(ValueError):
        warp(img[:-1], flow)


def test_consistency_mask_tolerance():
    # |w + w'|^2 <= 0.01 (|w|^2 + |w'|^2) + 0.5 with w = (10, 0), w' = (-10 + e, 0): e^2 against
    # 0.01 (100 + (10 - e)^2) + 0.5, i.e. e = 1.4: 1.96 <= 2.24 passes, e = 1.6: 2.56 > 2.21 fails
    flow = np.zeros((H, W, 2), np.float32)
    flow[..., 0] = 10.0
    back = np.zeros_like(flow)
    inside = np.s_[:, :W - 10]
    for e, expected in ((1.4, True), (1.6, False)):
        back[..., 0] = -10.0 + e
        assert (consistency_mask(flow, back)[inside] == expected).all()


def test_flows_of_another_dtype_or_empty_are_refused_by_name():
    """A float64 flow, an int64 or bool image, or an empty flow raised OpenCV's assertion texts (remap's
    'map1.type() == CV_16SC2 ...', 'ifunc != 0', '!_src.empty()')."""
    flow = np.zeros((4, 5, 2), np.float32)
    with pytest.raises(ValueError, match=r"^flow must be float32 \(H, W, 2\), no side empty, got float64 \(4, 5, 2\)$"):
        warp(np.zeros((4, 5), np.float32), flow.astype(np.float64))
    for dtype in (np.int64, bool):
        with pytest.raises(ValueError, match=r"^img must be uint8, uint16, int16, float32 or float64, got"):
            warp(np.zeros((4, 5), dtype), flow)
    with pytest.raises(ValueError, match=r"^flow_back must be float32 \(H, W, 2\), no side empty, got float64"):
        consistency_mask(flow, flow.astype(np.float64))
    with pytest.raises(ValueError, match=r"^flow must be float32 \(H, W, 2\), no side empty, got float32 \(0, 5, 2\)$"):
        consistency_mask(flow[:0], flow[:0])
