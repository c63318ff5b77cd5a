"""Quality measures (evaluation only; the runtime path never imports this package).

``image``: per-pixel measures against ground truth; ``video``: temporal consistency (warp error, CDC) and banding (CAMBI);
``features``: distances on pretrained EfficientNet-Lite0 features.
"""
from vidcolor.metrics.image import (ACCURACY_THRESHOLD, ab_histogram_intersection, channel_bias, ciede2000, colourfulness, mae, mse, pixel_accuracy, psnr, ssim)
from vidcolor.metrics.video import (CAMBI_MIN_SIZE, RunningCDC, RunningWarpError, cambi, cdc, flow_pair, optical_flow, pair_flows, warp_error)
from vidcolor.metrics.features import (FEATURE_SIZE, RunningGaussian, frechet_distance, frechet_feature_distance, gaussian_fit, load_encoder, pooled_features)

__all__ = ["ACCURACY_THRESHOLD", "CAMBI_MIN_SIZE", "FEATURE_SIZE", "RunningCDC", "RunningGaussian", "RunningWarpError", "ab_histogram_intersection", "cambi", "cdc", "channel_bias", "ciede2000", "colourfulness", "flow_pair", "frechet_distance", "frechet_feature_distance", "gaussian_fit", "load_encoder", "mae", "mse", "optical_flow", "pair_flows", "pixel_accuracy", "pooled_features", "psnr", "ssim", "warp_error"]
