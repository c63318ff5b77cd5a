"""Frechet distance between two sets of frames on pooled EfficientNet-Lite0 features.

The construction is that of the Frechet Inception Distance (Heusel et al. 2017, eq. 2): fit a Gaussian
to the deep features of each set and take the Frechet (2-Wasserstein) distance between the two. The
features here are NOT Inception-v3's (those weights cannot be had offline): they are the global-average-
pooled deepest stage (320 channels, stride 32) of the ImageNet-pretrained EfficientNet-Lite0
(:mod:`vidcolor.models.effnet`). The numbers are therefore not comparable with published FID values,
only between runs of this function.

With fewer frames than feature dimensions (320) the covariances are singular and the value depends on
the set size: compare only results computed on sets of the same size.
"""
from __future__ import annotations

import warnings
from typing import Callable

import numpy as np

from vidcolor.arrays import check_rgb, described

__all__ = ["FEATURE_SIZE", "RunningGaussian", "frechet_distance", "frechet_feature_distance", "gaussian_fit",
           "load_encoder", "pooled_features"]

FEATURE_SIZE = 224
"""Frames are resized (cv2.INTER_AREA) to FEATURE_SIZE x FEATURE_SIZE pixels before the encoder."""

Encoder = Callable  # torch module: (N, 3, H, W) float in [-1, 1] -> list of feature maps, the deepest last


def load_encoder(pretrained: bool = True):
    """The pretrained EfficientNet-Lite0 feature extractor in eval mode (a ~20 MB checkpoint load).

    Args:
        pretrained: load the ImageNet checkpoint (False: random weights, for tests).

    Returns:
        :class:`~vidcolor.models.effnet.EfficientNetLite0Features` (all five stages) on the CPU: input
        ``(N, 3, H, W)`` float in [-1, 1], the deepest map 320 channels at stride 32.

    Raises:
        ImportError: the EfficientNet packages are not installed.
    """
    from vidcolor.models.effnet import EfficientNetLite0Features

    return EfficientNetLite0Features(pretrained=pretrained).eval()


def pooled_features(frames: np.ndarray, encoder: Encoder | None = None, batch_size: int = 16,
                    device: str = "cpu") -> np.ndarray:
    """Global-average-pooled deepest-stage features of each frame.

    Each frame is resized to 224x224 (cv2.INTER_AREA), scaled to [0, 1], normalised with
    :func:`~vidcolor.models.effnet.normalize_rgb` and run through ``encoder`` under ``torch.no_grad`` in
    batches of ``batch_size``; the last feature map is averaged over space.

    Args:
        frames: uint8 RGB ``(N, H, W, 3)`` or one frame ``(H, W, 3)``.
        encoder: a module returning a list of feature maps ``(N, C, h, w)``, the deepest last; default
            the pretrained EfficientNet-Lite0 (C = 320), loaded by :func:`load_encoder`.
        batch_size: frames per forward pass.
        device: torch device for the forward passes.

    Returns:
        float64 ``(N, C)``, in the encoder's (unbounded) feature units.

    Raises:
        ValueError: ``frames`` is not uint8 RGB ``(N, H, W, 3)`` or ``(H, W, 3)`` with no side empty (N 0 was
            numpy's 'need at least one array to concatenate', an empty frame size OpenCV's resize assertion), or
            ``batch_size`` is not an integer >= 1.
    """
    import cv2
    import torch

    from vidcolor.models.effnet import normalize_rgb

    check_rgb(frames, (3, 4), "frames")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    frames = frames[None] if frames.ndim == 3 else frames
    encoder = load_encoder() if encoder is None else encoder
    encoder = encoder.to(device).eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(frames), batch_size):
            small = np.stack([cv2.resize(f, (FEATURE_SIZE, FEATURE_SIZE), interpolation=cv2.INTER_AREA)
                              for f in frames[i:i + batch_size]])
            x = torch.from_numpy(small).to(device).permute(0, 3, 1, 2).float() / 255.0
            deepest = encoder(normalize_rgb(x))[-1]
            out.append(deepest.mean(dim=(2, 3)).double().cpu().numpy())
    return np.concatenate(out)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                     eps: float = 1e-6) -> float:
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2) (Heusel et al. 2017, eq. 2).

    ``d^2 = |mu1 - mu2|^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2))``, the squared 2-Wasserstein
    distance between the Gaussians, in squared feature units. The matrix square root is
    ``scipy.linalg.sqrtm``, real part kept; when it is not finite (singular product), ``eps`` is added
    to both diagonals first, as in the reference implementation of FID. Tiny negative results of
    round-off are clipped to 0.

    Args:
        mu1, mu2: means ``(D,)``.
        sigma1, sigma2: covariances ``(D, D)``, symmetric positive semi-definite.
        eps: diagonal offset used only when the square root fails.

    Raises:
        ValueError: shapes do not agree.
    """
    from scipy import linalg

    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    d = mu1.shape[0]
    if mu1.shape != (d,) or mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(f"shapes disagree: mu {mu1.shape}, {mu2.shape}; sigma {sigma1.shape}, {sigma2.shape}")
    with warnings.catch_warnings():  # singular products are expected with fewer samples than dimensions
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma1 @ sigma2)
        if not np.all(np.isfinite(covmean)):
            offset = np.eye(d) * eps
            covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    covmean = np.real(covmean)
    diff = mu1 - mu2
    return float(max(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean), 0.0))


def gaussian_fit(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-likelihood mean ``(D,)`` and unbiased covariance ``(D, D)`` of features ``(N, D)``, N >= 1.

    The Gaussian of Heusel et al. (2017) for eq. 2; the covariance is the zero matrix when N = 1. The
    covariance is float64; the mean has the features' dtype (float64 for :func:`pooled_features`).

    Raises:
        ValueError: ``features`` (an array, or what ``np.asarray`` makes one of) is not 2-d with N >= 1 (one vector
            ``(D,)`` gave a scalar mean and a 0-d covariance, none a NaN mean).
    """
    features = np.asarray(features)
    if features.ndim != 2 or not len(features):
        raise ValueError(f"features must be (N, D) with N >= 1, got {described(features)}")
    mu = features.mean(axis=0)
    if len(features) < 2:
        return mu, np.zeros((features.shape[1], features.shape[1]))
    return mu, np.cov(features, rowvar=False)


class RunningGaussian:
    """:func:`gaussian_fit` of features added a batch at a time, in memory that does not grow with their number:
    float64 sums of the features and of their outer products ``(D, D)``, both taken about the first feature
    vector (shifted data: no cancellation when the mean is large beside the spread). Equal to
    :func:`gaussian_fit` of all of them to within float rounding.
    """

    def __init__(self):
        self.n = 0
        """Feature vectors added so far."""
        self._shift = self._s1 = self._s2 = None

    def add(self, features: np.ndarray) -> None:
        """Add feature vectors ``(N, D)`` (or one ``(D,)``), any float dtype; none (N = 0) adds nothing.

        Raises:
            ValueError: ``features`` has more than 2 dims, or D differs from the vectors added before."""
        x = np.atleast_2d(np.asarray(features, np.float64))
        if x.ndim != 2:
            raise ValueError(f"features must be (N, D) or (D,), got {x.shape}")
        if not len(x):                  # was an IndexError (x[0]) before the first vector
            if self._shift is not None and x.shape[1:] != self._shift.shape:
                raise ValueError(f"features {x.shape} do not match the {len(self._shift)}-d ones added before")
            return
        if self._shift is None:
            self._shift = x[0].copy()
            self._s1 = np.zeros_like(self._shift)
            self._s2 = np.zeros((len(self._shift), len(self._shift)))
        if x.shape[1:] != self._shift.shape:
            raise ValueError(f"features {x.shape} do not match the {len(self._shift)}-d ones added before")
        x = x - self._shift
        self._s1 += x.sum(axis=0)
        self._s2 += x.T @ x
        self.n += len(x)

    def fit(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean ``(D,)`` and unbiased covariance ``(D, D)`` (zero for one vector), as :func:`gaussian_fit`.

        Raises:
            ValueError: nothing added."""
        if not self.n:
            raise ValueError("no features added")
        mean = self._s1 / self.n
        if self.n < 2:
            return self._shift + mean, np.zeros_like(self._s2)
        return self._shift + mean, (self._s2 - self.n * np.outer(mean, mean)) / (self.n - 1)


def frechet_feature_distance(a_frames: np.ndarray, b_frames: np.ndarray, encoder: Encoder | None = None,
                             batch_size: int = 16, device: str = "cpu") -> float:
    """Frechet distance between the pooled EfficientNet-Lite0 features of two frame sets (FID-style).

    Not the Inception FID: the construction of Heusel et al. (2017, eq. 2) on the 320-d pooled deepest
    stage of EfficientNet-Lite0 (see the module docstring). 0 for identical sets; larger is further
    apart, in squared feature units. With fewer frames than 320 the covariances are singular and the
    value grows with fewer frames: compare only values computed on sets of the same size. With one frame
    per set it reduces to the squared distance of the two feature vectors.

    Args:
        a_frames, b_frames: uint8 RGB ``(N, H, W, 3)`` (sizes and counts may differ between the sets).
        encoder, batch_size, device: see :func:`pooled_features`; pass an encoder to avoid reloading it.

    Raises:
        ValueError: a set is not uint8 RGB ``(N, H, W, 3)`` (or one frame ``(H, W, 3)``) with no side empty, named (``a_frames``, ``b_frames``),
            before the encoder loads.
    """
    check_rgb(a_frames, (3, 4), "a_frames")           # one frame (H, W, 3) is a set of one, as pooled_features takes
    check_rgb(b_frames, (3, 4), "b_frames")
    encoder = load_encoder() if encoder is None else encoder
    fa = pooled_features(a_frames, encoder, batch_size, device)
    fb = pooled_features(b_frames, encoder, batch_size, device)
    return frechet_distance(*gaussian_fit(fa), *gaussian_fit(fb))
