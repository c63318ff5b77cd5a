"""vidcolor.metrics.features: the Frechet formula on known Gaussians, pooled features, the set distance.

A tiny untrained encoder keeps these fast; the pretrained checkpoint is exercised in tests/test_evaluate.py.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from vidcolor.metrics.features import frechet_distance, frechet_feature_distance, gaussian_fit, pooled_features
from vidcolor.models.effnet import EfficientNetLite0Features


@pytest.fixture(scope="module")
def tiny_encoder():
    torch.manual_seed(0)
    return EfficientNetLite0Features(pretrained=False, depth=2).eval()     # 24 channels at stride 4


@pytest.fixture(scope="module")
def frames():
    return np.random.default_rng(0).integers(0, 256, (5, 32, 48, 3), dtype=np.uint8)


def test_frechet_of_equal_gaussians_is_zero():
    s = np.array([[2.0, 0.5], [0.5, 1.0]])
    assert frechet_distance(np.ones(2), s, np.ones(2), s) == pytest.approx(0, abs=1e-9)


def test_frechet_diagonal_covariances():
    # commuting covariances: |dmu|^2 + sum_i (sqrt(a_i) - sqrt(b_i))^2
    d = frechet_distance(np.zeros(2), np.diag([4.0, 1.0]), np.array([3.0, 4.0]), np.diag([1.0, 9.0]))
    assert d == pytest.approx(25 + (2 - 1) ** 2 + (1 - 3) ** 2)
    assert frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([0.0]), np.array([[9.0]])) == \
        pytest.approx(1 + 1)                                            # 1-D: (mu1-mu2)^2 + (s1-s2)^2


def test_frechet_non_commuting_covariances():
    # 2x2: Tr sqrt(M) = sqrt(Tr M + 2 sqrt(det M)) for M = s1 s2 with positive eigenvalues
    s1 = np.array([[2.0, 0.0], [0.0, 1.0]])
    s2 = np.array([[1.0, 0.8], [0.8, 1.0]])
    m = s1 @ s2
    tr_sqrt = np.sqrt(np.trace(m) + 2 * np.sqrt(np.linalg.det(m)))
    mu1, mu2 = np.array([1.0, 2.0]), np.array([0.0, 0.0])
    expected = 5 + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected)
    assert frechet_distance(mu2, s2, mu1, s1) == pytest.approx(expected)   # symmetric


def test_frechet_rejects_shapes():
    with pytest.raises(ValueError):
        frechet_distance(np.zeros(2), np.eye(3), np.zeros(2), np.eye(2))


def test_gaussian_fit():
    f = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 8.0]])
    mu, sigma = gaussian_fit(f)
    np.testing.assert_allclose(mu, [2, 4])
    np.testing.assert_allclose(sigma, np.cov(f.T))
    mu, sigma = gaussian_fit(f[:1])
    np.testing.assert_allclose(sigma, 0)


def test_pooled_features(tiny_encoder, frames):
    f = pooled_features(frames, tiny_encoder, batch_size=2)              # three batches
    assert f.shape == (5, 24) and f.dtype == np.float64
    np.testing.assert_allclose(pooled_features(frames[3], tiny_encoder), f[3:4], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError):
        pooled_features(frames.astype(np.float32), tiny_encoder)


class MeanColour(torch.nn.Module):
    """A stand-in encoder whose pooled feature is the frame's mean normalised colour (3-d)."""

    def forward(self, x):
        return [x]


def test_frechet_feature_distance_known_answers(frames):
    enc = MeanColour()
    assert frechet_feature_distance(frames, frames, enc) == pytest.approx(0, abs=1e-9)
    white, black = np.full((1, 8, 8, 3), 255, np.uint8), np.zeros((1, 8, 8, 3), np.uint8)
    # one frame per set: the squared distance of (1, 1, 1) and (-1, -1, -1)
    assert frechet_feature_distance(white, black, enc) == pytest.approx(12)
    # two frames per set, mean colours {-1, 1} vs {-1, m} on every axis (perfectly correlated):
    #   with m = normalised 128 = 0.0039 and J = ones(3, 3): mu 0 vs (m - 1) / 2, covariances 2 J and
    #   v J with v = (m + 1)^2 / 2; Tr sqrt(2 J v J) = 3 sqrt(2 v) since J^2 = 3 J
    a = np.concatenate([black, white])
    b = np.concatenate([black, np.full((1, 8, 8, 3), 128, np.uint8)])
    mid = (128 / 255 - 0.5) / 0.5
    mu_b, var_b = (mid - 1) / 2, (mid + 1) ** 2 / 2
    expected = 3 * (0 - mu_b) ** 2 + 3 * (2 + var_b - 2 * np.sqrt(2 * var_b))
    assert frechet_feature_distance(a, b, enc) == pytest.approx(expected, rel=1e-4)
    assert frechet_feature_distance(b, a, enc) == pytest.approx(expected, rel=1e-4)
    with pytest.raises(ValueError):
        frechet_feature_distance(frames[:0], frames, enc)


def test_frechet_feature_distance_tiny_effnet(tiny_encoder, frames):
    assert frechet_feature_distance(frames, frames, tiny_encoder) == pytest.approx(0, abs=1e-9)
    other = np.full_like(frames, 128)
    other[:, :16] = 30
    assert frechet_feature_distance(frames, other, tiny_encoder) > 0


def test_running_gaussian_equals_gaussian_fit():
    """Features added a batch at a time (eval's 16 frames) fit the Gaussian of all of them, without holding them;
    features far from 0 beside their spread lose nothing (sums about the first vector)."""
    from vidcolor.metrics.features import RunningGaussian

    x = np.random.default_rng(0).normal(1e4, 0.3, (37, 320))
    run = RunningGaussian()
    for i in range(0, 37, 16):
        run.add(x[i:i + 16])
    mu, sigma = run.fit()
    want_mu, want_sigma = gaussian_fit(x)
    np.testing.assert_allclose(mu, want_mu, rtol=1e-12)
    np.testing.assert_allclose(sigma, want_sigma, atol=1e-9 * np.abs(want_sigma).max())
    one = RunningGaussian()
    one.add(x[0])
    np.testing.assert_array_equal(one.fit()[1], np.zeros((320, 320)))
    with pytest.raises(ValueError, match="do not match"):
        one.add(x[:2, :10])
    with pytest.raises(ValueError, match="no features"):
        RunningGaussian().fit()


def test_bad_frames_and_features_are_refused_by_name(tiny_encoder, frames):
    """An empty frame size was OpenCV's resize assertion, N = 0 numpy's 'need at least one array to concatenate', a
    list AttributeError, batch_size 0 range()'s error; gaussian_fit of one vector (D,) gave a scalar mean, of none a
    NaN mean; RunningGaussian.add of none an IndexError."""
    from vidcolor.metrics.features import RunningGaussian

    for bad in (frames[:, :0], frames[:0], list(frames)):
        with pytest.raises(ValueError, match=r"^frames: expected uint8 RGB \(N, H, W, 3\) or \(H, W, 3\), no side "):
            pooled_features(bad, tiny_encoder)
        with pytest.raises(ValueError, match=r"^b_frames: expected uint8 RGB"):
            frechet_feature_distance(frames, bad, tiny_encoder)
    with pytest.raises(ValueError, match=r"^batch_size must be an integer >= 1, got 0$"):
        pooled_features(frames, tiny_encoder, batch_size=0)
    for bad in (np.zeros(5), np.zeros((0, 5))):
        with pytest.raises(ValueError, match=r"^features must be \(N, D\) with N >= 1, got float64"):
            gaussian_fit(bad)
    running = RunningGaussian()
    running.add(np.zeros((0, 5)))                                # nothing added, no error
    assert running.n == 0
