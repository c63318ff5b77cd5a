"""Quantizer estimation and consistent reconstruction: a dequantized frame never leaves the observation's cell.

One part per module (nothing is re-exported here: import a name from the module that holds it):

* :mod:`~vidcolor.quantizer.reconstruction`: :class:`~vidcolor.quantizer.reconstruction.Quantizer`, an estimated
  quantizer, and the consistent reconstruction of frames from it (the bins' centres, the band correction, the contour
  estimate, the chroma smoothing, the projection onto the quantization cells);
* :mod:`~vidcolor.quantizer.estimation`: :func:`~vidcolor.quantizer.estimation.estimate`, the quantizer behind decoded
  frames, from the frames themselves;
* :mod:`~vidcolor.quantizer.tracker`: :class:`~vidcolor.quantizer.tracker.QuantizerTracker`, a clip's quantizer,
  estimated at fixed frames of each scene;
* :mod:`~vidcolor.quantizer.levels`: uniform level sets (bit depth and convention) and their fit to a channel;
* :mod:`~vidcolor.quantizer.palette`: palettes recovered by mode seeking, and the nearest palette colour;
* :mod:`~vidcolor.quantizer.graphics`: graphics told apart from quantized footage (flat share, nearest-neighbour
  enlargement, soft black-and-white film);
* :mod:`~vidcolor.quantizer.contours`: the contour estimate's distance tables and weights;
* :mod:`~vidcolor.quantizer.stats`: statistics of the frames that the estimate samples (flat pixels, tiles, neutral
  frames, luma weights).
"""
