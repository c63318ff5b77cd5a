"""vidcolor: video dequantization and colorization with trained generator networks."""
__version__ = "0.1.0"
