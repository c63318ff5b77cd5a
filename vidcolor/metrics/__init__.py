"""Quality measures (evaluation only; the runtime path never imports this package).

``image``: per-pixel measures against ground truth; ``video``: temporal consistency (warp error, CDC);
``features``: distances on pretrained EfficientNet-Lite0 features. Each module lists its ``__all__``.
"""
from vidcolor.metrics.features import *  # noqa: F401,F403
from vidcolor.metrics.features import __all__ as _features_all
from vidcolor.metrics.image import *  # noqa: F401,F403
from vidcolor.metrics.image import __all__ as _image_all
from vidcolor.metrics.video import *  # noqa: F401,F403
from vidcolor.metrics.video import __all__ as _video_all

__all__ = list(_image_all) + list(_video_all) + list(_features_all)
